// The socket hooks' egress check with the agent (--network-policy): a pod isolated for egress
// whose connect or sendto its policy denies fails at once with EPERM, through a VIP (judged on
// the backend the hook chose) and directly, while what the policy allows connects. The agent
// knows the pod by the network namespace of a process of the run's cgroup (a long-running one
// stands for the pod's container); with the agent stopped the pinned entry keeps the check,
// and a pod with no entry (the agent could not identify it) is still denied by tc: its
// connection times out. A namespace whose processes are gone loses its entry at the next scan.
import { existsSync } from 'node:fs';
import t from 'tap';
import { openPinned } from '../../src/bpf/bpf-object.js';
import { TypedMap } from '../../src/bpf/typed-map.js';
import { COUNTERS_MAP, readCounters } from '../../src/datapath/counters-map.js';
import { mapDir } from '../../src/datapath/datapath-object.js';
import { pinName } from '../../src/datapath/map-layouts.js';
import { POD_NETNS_MAP, podNetnsEntryLayout, podNetnsKeyLayout } from '../../src/datapath/pod-netns-map.js';
import type { ProbeRequest, ProbeResult } from '../../src/lab/probe-client.js';
import { runProbe } from '../../src/lab/lab-processes.js';
import { KernelLab } from '../helpers/kernel-lab.js';
import { webService } from '../helpers/k8s-fixtures.js';

const DB_VIP = '10.96.0.60';
const OPEN_VIP = '10.96.0.61';
const PORT = 8080;

t.test('an egress-isolated pod’s denied connections fail with EPERM at connect', async (t) => {
  const lab = await KernelLab.create(t, ['db', 'open'], [PORT]);
  const pod = (name: string, app: string): Record<string, unknown> => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: 'ns', name, labels: { app } },
    spec: { nodeName: 'node-a', containers: [{ name: 'c' }] },
    status: { podIP: lab.pod(name).ipv4, podIPs: [{ ip: lab.pod(name).ipv4 }, { ip: lab.pod(name).ipv6 }] },
  });
  // client may only reach db on 8080, over TCP and UDP.
  const clientToDb = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: 'ns', name: 'client-to-db' },
    spec: {
      podSelector: { matchLabels: { app: 'client' } },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ podSelector: { matchLabels: { app: 'db' } } }],
          ports: [
            { protocol: 'TCP', port: PORT },
            { protocol: 'UDP', port: PORT },
          ],
        },
      ],
    },
  };
  lab.writeServices([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } },
    pod('client', 'client'),
    pod('db', 'db'),
    pod('open', 'open'),
    ...webService('ns', 'db', DB_VIP, 80, PORT, [lab.pod('db').ipv4]),
    ...webService('ns', 'open', OPEN_VIP, 80, PORT, [lab.pod('open').ipv4]),
    clientToDb,
  ]);
  // The client pod's container: a process of the cgroup in its namespace for the whole test.
  let container = lab.net.spawn('client', 'sleep', ['600'], { inCgroup: true });
  const flags = ['--services', lab.servicesFile, '--network-policy', '--node-name', 'node-a'];
  let agent = lab.startAgent(flags, { inNodeNetns: true });
  await agent.waitForLog((l) => l.msg === 'pod namespaces identified' && l.identified === 1, 15_000);

  const counters = (): Record<string, bigint> => readCounters(openPinned(`${mapDir(lab.bpffs)}/${pinName(COUNTERS_MAP)}`));
  const probe = (from: string, req: Partial<ProbeRequest> & { host: string; port: number }): Promise<ProbeResult> =>
    runProbe(lab.net, from, { mode: 'tcp', count: 3, timeoutMs: 3000, ...req });
  /** All of count attempts failed with EPERM, well before the probe's own timeout. */
  const refused = (r: ProbeResult, what: string): void => {
    t.same(r.errors, { EPERM: 3 }, `${what}: EPERM every time (${JSON.stringify(r.errors)})`);
    t.ok(r.elapsedMs < 1500, `${what}: three attempts in ${r.elapsedMs} ms, no timeout waited for`);
  };

  const before = counters();
  t.equal((await probe('client', { host: DB_VIP, port: 80 })).ok, 3, 'client → db VIP → db:8080: allowed');
  t.equal((await probe('client', { host: lab.pod('db').ipv4, port: PORT })).ok, 3, 'client → db:8080 directly: allowed');
  t.equal((await probe('client', { host: lab.pod('db').ipv6, port: PORT })).ok, 3, 'client → db:8080 over IPv6: allowed');
  t.equal((await probe('client', { mode: 'udp', host: lab.pod('db').ipv4, port: PORT })).ok, 3, 'client → db:8080/UDP sendto: allowed');
  refused(await probe('client', { host: OPEN_VIP, port: 80 }), 'client → open VIP → open:8080');
  refused(await probe('client', { host: lab.pod('open').ipv4, port: PORT }), 'client → open:8080 directly');
  refused(await probe('client', { host: lab.pod('open').ipv6, port: PORT }), 'client → open:8080 over IPv6');
  refused(await probe('client', { mode: 'udp', host: lab.pod('open').ipv4, port: PORT }), 'client → open:8080/UDP sendto');
  refused(await probe('client', { mode: 'udp-connected', host: lab.pod('open').ipv4, port: PORT }), 'client → open:8080/UDP connect');
  t.equal((await probe('open', { host: lab.pod('db').ipv4, port: PORT })).ok, 3, 'open (no policy selects it) → db: allowed');
  const after = counters();
  t.equal(after.policy_refused_egress! - before.policy_refused_egress!, 15n, 'each refusal counted as policy_refused_egress');
  t.equal(after.policy_denied_egress, before.policy_denied_egress, 'no packet of a refused connection reached tc');

  // The agent stopped: the pinned entry keeps the check.
  await agent.stop();
  refused(await probe('client', { host: lab.pod('open').ipv4, port: PORT }), 'agent stopped: client → open');
  // A pod the agent could not identify: its entry gone, tc still denies; the client times out.
  const netns = new TypedMap(POD_NETNS_MAP, openPinned(`${mapDir(lab.bpffs)}/${pinName(POD_NETNS_MAP)}`), podNetnsKeyLayout, podNetnsEntryLayout);
  const entries = netns.entries();
  t.same(
    entries.map(([, v]) => v),
    [{ v4: lab.pod('client').ipv4, v6: lab.pod('client').ipv6 }],
    'one entry, the client pod’s addresses',
  );
  for (const [k] of entries) netns.delete(k);
  const deniedAtTc = counters().policy_denied_egress!;
  const unknown = await probe('client', { host: lab.pod('open').ipv4, port: PORT, count: 1, timeoutMs: 700 });
  t.same(unknown.errors, { ETIMEDOUT: 1 }, 'no entry: the connection times out');
  t.ok(counters().policy_denied_egress! > deniedAtTc, 'its packets dropped at tc (policy_denied_egress)');
  t.equal((await probe('client', { host: DB_VIP, port: 80, count: 1 })).ok, 1, '... and what the policy allows still passes');

  // A new agent identifies the pod again; once its process is gone the entry goes.
  agent = lab.startAgent(flags, { inNodeNetns: true });
  await agent.waitForLog((l) => l.msg === 'pod namespaces identified' && l.identified === 1, 15_000);
  t.equal(netns.entries().length, 1, 'the new agent identified the client pod');
  const exited = new Promise((resolve) => container.once('exit', resolve));
  container.kill();
  await exited;
  await agent.waitForLog((l) => l.msg === 'pod namespaces identified' && l.identified === 0 && Number(l.removed) >= 1, 15_000);
  t.equal(netns.entries().length, 0, 'a namespace without processes loses its entry');
  container = lab.net.spawn('client', 'sleep', ['600'], { inCgroup: true });
  await agent.waitForLog((l) => l.msg === 'pod namespaces identified' && l.identified === 1, 15_000, agent.logs.length);
  refused(await probe('client', { host: lab.pod('open').ipv4, port: PORT }), 'a new process in the pod: identified again, refused');

  // An agent without --network-policy: the plain socket programs, and no policy pins left.
  await agent.stop();
  const plain = lab.startAgent(['--services', lab.servicesFile], { inNodeNetns: true });
  await plain.waitForLog((l) => l.msg === 'ready: the first full sync is in the maps', 15_000);
  t.notOk(existsSync(`${mapDir(lab.bpffs)}/${pinName(POD_NETNS_MAP)}`), 'slb_pol_netns unpinned');
  t.equal((await probe('client', { host: OPEN_VIP, port: 80 })).ok, 3, 'client → open VIP: connects without the policy');
});
