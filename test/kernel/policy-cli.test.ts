// The NetworkPolicy verbs and metrics against an agent enforcing policy on real traffic:
// `policy check` answers, from the same services file, what the kernel did to each flow;
// `policy list` shows the isolation and rules of this node's pods; `ct list` shows the reply
// entries of the allowed flows into isolated pods' isolated ingress, and only those; the
// metrics count the drops by direction, the tracked flows, the table's fill and what the
// policy write put in the maps.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import t from 'tap';
import type { ListedFlowTable } from '../../src/cli/ct-list.js';
import type { PolicyCheck, PolicyListing } from '../../src/cli/policy-show.js';
import { CLI_PATH } from '../../src/install-paths.js';
import { runProbe } from '../../src/lab/lab-processes.js';
import { eventually, KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service, toYaml } from '../helpers/k8s-fixtures.js';

const VIP = '10.96.0.60';
const PORT = 8080;

const socklb = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** A sample's value in Prometheus text ("name{labels} value"); undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('policy check, policy list, ct list and the policy metrics beside real traffic', async (t) => {
  const lab = await KernelLab.create(t, ['db', 'open'], [PORT]);
  const pod = (name: string): Record<string, unknown> => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: 'ns', name, labels: { app: name } },
    spec: { nodeName: 'node-a', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: PORT }] }] },
    status: { podIP: lab.pod(name).ipv4, podIPs: [{ ip: lab.pod(name).ipv4 }] },
  });
  const policy = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'ns', name },
    spec,
  });
  const app = (name: string) => ({ matchLabels: { app: name } });
  lab.writeServices([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } },
    pod('client'),
    pod('db'),
    pod('open'),
    service('ns', 'db', [VIP], [{ port: 80, targetPort: PORT }]),
    endpointSlice('ns', 'db-1', 'db', 'IPv4', [{ port: PORT }], [lab.pod('db').ipv4]),
    // db takes anything from client; client is isolated both ways and may send to db only, so
    // its allowed flows need reply entries (the replies come in through its isolated ingress).
    policy('db-from-client', { podSelector: app('db'), ingress: [{ from: [{ podSelector: app('client') }] }] }),
    policy('client-to-db', { podSelector: app('client'), policyTypes: ['Ingress', 'Egress'], egress: [{ to: [{ podSelector: app('db') }] }] }),
  ]);
  const agent = lab.startAgent(['--services', lab.servicesFile, '--network-policy', '--node-name', 'node-a'], { inNodeNetns: true });
  const ops = (await agent.waitForLog((l) => l.msg === 'serving /healthz, /readyz and /metrics')).address as string;
  await agent.waitForLog((l) => l.msg === 'network policy written', 15_000);

  const probe = async (from: string, host: string, mode: 'tcp' | 'udp', port = PORT): Promise<number> =>
    (await runProbe(lab.net, from, { mode, host, port, count: 3, timeoutMs: 700 })).ok;
  // Each flow: what the kernel did, and what `policy check` says of the same pods and port.
  const flows: [string, string, 'tcp' | 'udp', number][] = [
    ['client', 'db', 'tcp', await probe('client', VIP, 'tcp', 80)],
    ['client', 'db', 'udp', await probe('client', lab.pod('db').ipv4, 'udp')],
    ['open', 'db', 'tcp', await probe('open', VIP, 'tcp', 80)],
    ['client', 'open', 'tcp', await probe('client', lab.pod('open').ipv4, 'tcp')],
    ['open', 'client', 'udp', await probe('open', lab.pod('client').ipv4, 'udp')],
    ['db', 'open', 'tcp', await probe('db', lab.pod('open').ipv4, 'tcp')],
  ];
  t.same(
    flows.map(([, , , ok]) => ok),
    [3, 3, 0, 0, 0, 3],
    'the kernel: client reaches db (through the VIP too), open does not reach db, client reaches nothing else and nothing reaches it, db → open is open',
  );
  // Read at once: a closed TCP flow's entry lives 10 s (and GC passes every 10 s), so client's
  // TCP flows to db are made again just before.
  t.equal(await probe('client', VIP, 'tcp', 80), 3);
  const tables = JSON.parse(socklb('ct', 'list', '--bpffs', lab.bpffs, '--json').stdout) as ListedFlowTable[];
  // The policy object carries conntrack.h's slb_ct too; in socket mode nothing writes it.
  t.ok(
    tables.every((x) => x.map === 'slb_pol_ct' || x.flows.length === 0),
    `listed: ${tables.map((x) => `${x.map} (${x.flows.length})`).join(', ')}`,
  );
  const entries = tables.find((x) => x.map === 'slb_pol_ct')!.flows;
  const client = lab.pod('client').ipv4;
  const db = lab.pod('db').ipv4;
  const open = lab.pod('open').ipv4;
  t.ok(entries.length >= 2, `reply entries for client's allowed flows (${entries.length})`);
  const into = (to: string, from: string, protocol: string) => entries.some((f) => f.src === from && f.dst === to && f.protocol === protocol);
  t.ok(
    entries.every((f) => f.dst === client || f.dst === db),
    'every entry is for replies into a pod isolated for ingress (client or db); none into open, which no policy selects',
  );
  t.ok(into(client, db, 'TCP') && into(client, db, 'UDP'), 'client’s flows to db have entries for db’s replies');
  t.notOk(into(db, client, 'UDP'), 'db’s UDP replies to client are known as replies: they open no flow, so client’s next datagrams meet db’s policy again');
  t.ok(into(db, open, 'TCP'), 'db’s own connection to open has its entry (db is isolated for ingress)');
  t.ok(
    entries.every((f) => f.direction === 'reply' && f.verdict.includes('policy_allowed')),
    'every entry is a reply entry, marked allowed',
  );
  // The probes' connections are closed: their entries are past the handshake and closing,
  // with the short closing lifetime (10 s), shown dead until a GC pass takes them.
  t.ok(
    entries.filter((f) => f.protocol === 'TCP').every((f) => f.state === 'established,closing' && f.expiresInS <= 10),
    'closed TCP flows: established,closing, at most 10 s left',
  );
  t.ok(
    entries.some((f) => f.protocol === 'UDP' && f.expiresInS > 45),
    'a UDP flow’s entry lives its 60 s',
  );
  // Listed again, in text: closed TCP flows' entries may have expired since the JSON listing.
  const text = socklb('ct', 'list', '--bpffs', lab.bpffs).stdout;
  const listed = Number(/^slb_pol_ct: (\d+) entries/.exec(text)?.[1]);
  t.ok(listed > 0 && listed <= entries.length, `the count first (${listed})`);
  t.match(
    text,
    new RegExp(`^slb_pol_ct: ${listed} entries\\n(  (TCP|UDP) \\S+ → \\S+ reply  \\S+  (expires in \\d+ s|expired \\d+ s ago)  policy_allowed\\n){${listed}}`),
    'one line per entry, after the count',
  );

  for (const [from, to, mode, ok] of flows) {
    const r = socklb('policy', 'check', '--services', lab.servicesFile, '--node-name', 'node-a', '--from', `ns/${from}`, '--to', `ns/${to}`, '--port', `${PORT}/${mode}`, '--json');
    const check = JSON.parse(r.stdout) as PolicyCheck;
    t.equal(check.verdict.allowed, ok > 0, `policy check ns/${from} → ns/${to} ${PORT}/${mode}: ${check.verdict.allowed ? 'allow' : 'deny'}, as the kernel did`);
    t.equal(r.status, ok > 0 ? 0 : 3, '... and its exit status says so');
  }
  const denied = socklb('policy', 'check', '--services', lab.servicesFile, '--from', 'ns/open', '--to', 'ns/db', '--port', String(PORT));
  t.match(denied.stdout, /^DENY  ns\/open \(.*\) → ns\/db \(.*\).*\n.*\n  ingress of ns\/db: DENIED, isolated by ns\/db-from-client/, 'the text names the isolating policy');

  const listing = JSON.parse(socklb('policy', 'list', '--services', lab.servicesFile, '--node-name', 'node-a', '--json').stdout) as PolicyListing;
  t.match(listing, {
    node: 'node-a',
    pods: [
      {
        pod: 'ns/client',
        identity: Number,
        ingress: { isolated: true, policies: ['ns/client-to-db'], rules: [] },
        egress: { isolated: true, rules: [{ policy: 'ns/client-to-db', peers: ['pods app=db in namespace ns'] }] },
      },
      { pod: 'ns/db', ingress: { isolated: true, rules: [{ policy: 'ns/db-from-client', ports: ['all ports and protocols'] }] }, egress: { isolated: false } },
      { pod: 'ns/open', ingress: { isolated: false }, egress: { isolated: false } },
    ],
  });
  t.equal(new Set(listing.pods.map((p) => p.identity)).size, 3, 'three identities (three label sets)');
  // Beside the model, what the agent wrote into the pinned endpoints.
  const withMaps = JSON.parse(socklb('policy', 'list', '--services', lab.servicesFile, '--node-name', 'node-a', '--bpffs', lab.bpffs, '--json').stdout) as PolicyListing;
  t.match(
    withMaps.pods.map((p) => [p.pod, p.programmed, p.programmedAsModel]),
    [
      ['ns/client', { identity: Number, ingressIsolated: true, egressIsolated: true }, true],
      ['ns/db', { ingressIsolated: true, egressIsolated: false }, true],
      ['ns/open', { ingressIsolated: false, egressIsolated: false }, true],
    ],
    'the maps isolate as the model does',
  );
  // A cluster the agent has not written (these pods without the policies): the listing says
  // the maps differ.
  const other = `${lab.servicesFile}.unwritten.yaml`;
  writeFileSync(other, toYaml([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } }, pod('client'), pod('db'), pod('open')]));
  const stale = socklb('policy', 'list', '--services', other, '--node-name', 'node-a', '--bpffs', lab.bpffs);
  t.match(stale.stdout, /^ns\/client .*\(maps: identity \d+, isolation differs from this model: the agent has not written the current policy\)$/m);
  t.match(stale.stdout, /^ns\/open .*\(maps: identity \d+\)$/m, 'the open pod is as the maps say');
  t.equal(
    socklb('policy', 'list', '--services', lab.servicesFile, '--node-name', 'node-b').stdout,
    'no pod runs on node node-b (spec.nodeName)\n',
    'another node has none of them',
  );

  const scrape = (): string =>
    execFileSync(
      'nsenter',
      [`--net=${lab.net.nodeNetnsPath}`, process.execPath, '-e', `fetch('http://${ops}/metrics').then((r) => r.text()).then((s) => process.stdout.write(s))`],
      {
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
  let metrics = scrape();
  t.ok(sample(metrics, 'socklb_policy_denied_total{direction="ingress"}')! >= 1, 'open → db dropped at db’s ingress, counted');
  // The socket hooks refuse it at connect once the agent has identified client's namespace;
  // until then tc drops it. Either is counted.
  t.ok(
    sample(metrics, 'socklb_policy_denied_total{direction="egress"}')! + sample(metrics, 'socklb_policy_refused_total{direction="egress"}')! >= 1,
    'client → open denied by client’s egress (at connect, or at tc), counted',
  );
  t.ok(sample(metrics, 'socklb_policy_allowed_flows_total{entry="created"}')! >= entries.length, 'the tracked allowed flows counted');
  t.ok(sample(metrics, 'socklb_policy_allowed_total{direction="ingress"}')! >= 3, 'client → db allowed into db (isolated for ingress), counted once a flow');
  t.ok(sample(metrics, 'socklb_policy_allowed_total{direction="egress"}')! >= 3, 'client → db allowed out of client (isolated for egress), counted once a flow');
  t.equal(sample(metrics, 'socklb_policy_allowed_flows_total{entry="failed"}'), 0);
  t.equal(sample(metrics, 'socklb_policy_programmed{kind="endpoints"}'), 3, 'three local pod addresses written');
  t.equal(sample(metrics, 'socklb_policy_programmed{kind="identities"}'), 3);
  t.ok(sample(metrics, 'socklb_policy_programmed{kind="rules"}')! > 0, 'rule entries written');
  t.ok(sample(metrics, 'socklb_policy_writes_total{outcome="succeeded"}')! >= 1);
  t.equal(sample(metrics, 'socklb_conntrack_capacity{map="slb_pol_ct"}'), 262144);
  // The table's fill is counted by the GC pass (every 10 s).
  await eventually(
    () => {
      metrics = scrape();
      return sample(metrics, 'socklb_conntrack_entries{map="slb_pol_ct",kind="entries"}')! >= 1;
    },
    15_000,
    () =>
      metrics
        .split('\n')
        .filter((l) => l.startsWith('socklb_conntrack'))
        .join('; '),
  );
  t.pass(`slb_pol_ct entries after GC: ${sample(metrics, 'socklb_conntrack_entries{map="slb_pol_ct",kind="entries"}')}`);
});
