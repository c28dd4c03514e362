// NetworkPolicy enforced by tc_policy.bpf.o on the pods' host-side interfaces, with real
// traffic: a compiled policy (the model's compiler, written by syncPolicyTables) lets through
// exactly what it allows, over IPv4 and IPv6, TCP and UDP; replies of allowed flows pass into a
// pod isolated both ways (on their slb_pol_ct entry); pods no policy selects cost no entry; a
// policy change applies to an established connection's next packets; the node reaches an
// isolated pod. The same expectations hold for conntrack mode's translating programs
// (tc_lb.bpf.o), which enforce the same policy with their full conntrack (slb_ct).
import { existsSync, rmSync } from 'node:fs';
import t from 'tap';
import { inNetns } from '../../src/bpf/netns.js';
import { readCounters } from '../../src/datapath/counters-map.js';
import { installPolicyTc } from '../../src/datapath/policy-tc.js';
import { installTcDatapath } from '../../src/datapath/tc-datapath.js';
import { syncPolicyTables } from '../../src/datapath/policy-tables.js';
import { mapDir } from '../../src/datapath/datapath-object.js';
import { detachTcEverywhere } from '../../src/datapath/tc-datapath.js';
import { pinName } from '../../src/datapath/map-layouts.js';
import { COUNTERS_MAP } from '../../src/datapath/counters-map.js';
import { openPinned } from '../../src/bpf/bpf-object.js';
import { runNodeProbe, runProbe, startBackend } from '../../src/lab/lab-processes.js';
import { NODE_V4, NODE_V6, PodNetwork, type Pod } from '../../src/lab/pod-network.js';
import { PolicyCompiler } from '../../src/model/policy/policy-compiler.js';
import type { PolicyCluster } from '../../src/model/policy/policy-cluster.js';
import type { NetworkPolicyRow, PodRow } from '../../src/model/policy-objects.js';
import { labels, policy, rule } from '../model/policy/policy-fixture.js';

const PORT = 8080;
const OTHER_PORT = 9090;

/** The tc objects that enforce policy on the pods' interfaces, by the mode that loads them. */
const OBJECTS = {
  socket: installPolicyTc,
  conntrack: installTcDatapath,
} as const;

for (const [mode, install] of Object.entries(OBJECTS)) t.test(`NetworkPolicy at tc on the pods’ interfaces, ${mode} mode`, async (t) => {
  const net = PodNetwork.create('bridge');
  const bpffs = net.labRun.bpffs('test');
  let tc: ReturnType<typeof install> | undefined;
  t.teardown(async () => {
    inNetns(net.nodeNetnsPath, () => detachTcEverywhere());
    tc?.close();
    if (existsSync(bpffs)) rmSync(bpffs, { recursive: true, force: true });
    await net.destroy();
  });
  const pods: Record<string, Pod> = {};
  for (const name of ['web', 'db', 'other', 'open']) pods[name] = net.addPod(name);
  for (const name of ['db', 'open', 'web']) await startBackend(net, name, [PORT, OTHER_PORT]);
  const row = (name: string, app: string): PodRow => ({ namespace: 'ns', name, nodeName: 'node-a', labels: { app }, ips: [pods[name]!.ipv4, pods[name]!.ipv6], namedPorts: [] });
  const rows = [row('web', 'web'), row('db', 'db'), row('other', 'other'), row('open', 'open')];
  const cluster = (policies: NetworkPolicyRow[]): PolicyCluster => ({
    pods: rows,
    namespaces: [{ name: 'ns', labels: { 'kubernetes.io/metadata.name': 'ns' } }],
    policies,
    localNode: { name: 'node-a', addresses: [NODE_V4, NODE_V6] },
  });
  // db takes TCP 8080 from web only; web may send only to db (and is isolated for ingress
  // too, with no ingress rule: only replies may come in).
  const dbIngress = policy('ns', 'db-from-web', { podSelector: labels({ app: 'db' }), ingress: [rule([{ podSelector: labels({ app: 'web' }) }], [{ protocol: 'TCP', port: PORT }])] });
  const webLocked = policy('ns', 'web-egress-db', {
    podSelector: labels({ app: 'web' }),
    types: ['Ingress', 'Egress'],
    egress: [rule([{ podSelector: labels({ app: 'db' }) }])],
  });
  const compiler = new PolicyCompiler();
  tc = install({ bpffs });
  const policyTc = tc;
  inNetns(net.nodeNetnsPath, () => {
    for (let host = 10; host < 14; host++) policyTc.attach(`veth${host}`);
  });
  syncPolicyTables(tc.policy, compiler.compile(cluster([dbIngress, webLocked]), { localOnly: true }));

  const tcp = async (from: string, to: string, port = PORT, host = pods[to]!.ipv4, mode: 'tcp' | 'udp' = 'tcp') =>
    (await runProbe(net, from, { mode, host, port, count: 3, timeoutMs: 700 })).ok;
  t.equal(await tcp('web', 'db'), 3, 'web → db:8080 allowed (both policies), replies back into the isolated web pass');
  t.equal(await tcp('web', 'db', PORT, pods.db!.ipv6), 3, '... over IPv6 too');
  t.equal(await tcp('other', 'db'), 0, 'other → db:8080 denied by db’s ingress');
  t.equal(await tcp('web', 'db', OTHER_PORT), 0, 'web → db:9090: web’s egress allows it, db’s ingress does not');
  t.equal(await tcp('web', 'open'), 0, 'web → open denied by web’s egress');
  t.equal(await tcp('open', 'web'), 0, 'open → web denied: web is isolated for ingress with no rule');
  t.equal(await tcp('other', 'open'), 3, 'pods no policy selects talk freely');
  t.equal(await tcp('web', 'db', PORT, pods.db!.ipv4, 'udp'), 0, 'UDP to db:8080 denied (the rule is TCP)');

  const counters = (): Record<string, bigint> => readCounters(openPinned(`${mapDir(bpffs)}/${pinName(COUNTERS_MAP)}`));
  const c = counters();
  t.ok(c.policy_denied_egress! > 0n && c.policy_denied_ingress! > 0n, `drops counted by direction: egress ${c.policy_denied_egress}, ingress ${c.policy_denied_ingress}`);
  const entries = tc.ct.entries();
  t.ok(entries.length > 0, `allowed flows of isolated pods have reply entries (${entries.length})`);
  const addressesInEntries = new Set(entries.flatMap(([k]) => [k.src, k.dst]));
  t.notOk(addressesInEntries.has(pods.other!.ipv4) || addressesInEntries.has(pods.open!.ipv4), 'no entry for a flow of pods no policy selects (other → open)');

  // The node itself reaches an isolated pod (kubelet probes), from its own address: db's
  // ingress names no node, web's none at all.
  for (const to of ['db', 'web']) t.equal((await runNodeProbe(net, { mode: 'tcp', host: pods[to]!.ipv4, port: PORT, count: 3, timeoutMs: 700 })).ok, 3, `node → ${to} allowed`);

  // A policy change applies to new flows at once: db now takes 9090 from web as well.
  const dbWider = policy('ns', 'db-from-web', { podSelector: labels({ app: 'db' }), ingress: [rule([{ podSelector: labels({ app: 'web' }) }], [{ protocol: 'TCP', port: PORT }, { protocol: 'TCP', port: OTHER_PORT }])] });
  syncPolicyTables(tc.policy, compiler.compile(cluster([dbWider, webLocked]), { localOnly: true }));
  t.equal(await tcp('web', 'db', OTHER_PORT), 3, 'after the change web → db:9090 is allowed');
  // ... and the policies gone, everything is open again.
  syncPolicyTables(tc.policy, compiler.compile(cluster([]), { localOnly: true }));
  t.equal(await tcp('other', 'db'), 3, 'without policies other → db is allowed');
  t.equal(await tcp('open', 'web'), 3, '... and open → web');
});
