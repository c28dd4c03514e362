// NetworkPolicy in conntrack mode's tc programs on crafted packets (BPF_PROG_TEST_RUN, real
// kernel, real maps, the policy compiled by the model's compiler and written by
// syncPolicyTables): a new service flow is judged on the backend chosen for it, the client's
// egress and the backend's ingress (the backend's own interface hooks are skipped by the
// redirect into it), before any conntrack entry exists; its replies pass on the reply entry
// (CT_F_POLICY_ALLOWED) into a client isolated for ingress; the original direction is judged
// again on every packet; traffic between pods that is no service's gets socket mode's policy
// with its reply entries in slb_ct. Every verdict is checked on the whole output frame.
import t, { type Test } from 'tap';
import { testRunPacket } from '../../src/bpf/prog-test-run.js';
import { CT_DIRECTION, CT_VERDICT, type CtKey } from '../../src/datapath/ct-map.js';
import type { CounterName } from '../../src/datapath/counters-map.js';
import { syncPolicyTables } from '../../src/datapath/policy-tables.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { uninstallSockDatapath } from '../../src/datapath/sock-datapath.js';
import { installTcDatapath } from '../../src/datapath/tc-datapath.js';
import { LabRun } from '../../src/lab/lab-run.js';
import type { NetworkPolicyRow, PodRow } from '../../src/model/policy-objects.js';
import { PolicyCompiler } from '../../src/model/policy/policy-compiler.js';
import { countedBy as countedByIn, expectFrame as expectFrameIn, TC_ACT_REDIRECT, TC_ACT_SHOT, TC_ACT_UNSPEC } from '../helpers/frame-run.js';
import { buildFrame, FRAME_MACS, TCP, withMacs, type Flow } from '../../src/lab/packet-frames.js';
import { labels, policy, rule } from '../model/policy/policy-fixture.js';


const run = LabRun.begin();
const bpffs = run.bpffs('test');
const dp = installTcDatapath({ bpffs });
t.teardown(() => {
  dp.close();
  uninstallSockDatapath(bpffs);
  run.end();
});

const IP = { client: '10.244.0.10', other: '10.244.0.11', web: '10.244.0.21', db: '10.244.0.23' } as const;
const WEB_VIP = '10.96.0.10';
const DB_VIP = '10.96.0.13';
Reconciler.adopt(dp.maps).apply([
  { owner: 'ns/web:http', frontend: { address: WEB_VIP, port: 80, protocol: 'TCP' }, backends: [{ address: IP.web, port: 8080 }] },
  { owner: 'ns/db:http', frontend: { address: DB_VIP, port: 80, protocol: 'TCP' }, backends: [{ address: IP.db, port: 8080 }] },
]);

const pods: PodRow[] = Object.entries(IP).map(([name, ip]) => ({ namespace: 'ns', name, nodeName: 'node-a', labels: { app: name }, ips: [ip], namedPorts: [] }));
const compiler = new PolicyCompiler();
function enforce(policies: NetworkPolicyRow[]): void {
  const cluster = { pods, namespaces: [{ name: 'ns', labels: { 'kubernetes.io/metadata.name': 'ns' } }], policies, localNode: { name: 'node-a', addresses: ['192.168.0.1'] } };
  syncPolicyTables(dp.policy, compiler.compile(cluster, { localOnly: true }));
}
// web takes TCP 8080 from client only; client may send only to web, and takes nothing in
// (isolated for ingress with no rule: only replies may reach it).
const webFromClient = policy('ns', 'web-from-client', { podSelector: labels({ app: 'web' }), ingress: [rule([{ podSelector: labels({ app: 'client' }) }], [{ protocol: 'TCP', port: 8080 }])] });
const clientLocked = policy('ns', 'client-to-web', { podSelector: labels({ app: 'client' }), types: ['Ingress', 'Egress'], egress: [rule([{ podSelector: labels({ app: 'web' }) }])] });
enforce([webFromClient, clientLocked]);

const fromPod = dp.programFds.get('slb_tc_from_pod')!;
const toPod = dp.programFds.get('slb_tc_to_pod')!;
/** BPF_PROG_TEST_RUN runs on the loopback device: the interface the programs learn a pod on. */
const TEST_RUN_IFINDEX = 1;
const WEB_MAC = '02:00:00:00:00:0c';

const ctKey = (f: Flow, direction: number): CtKey => ({ src: f.src, dst: f.dst, sport: f.sport, dport: f.dport, protocol: f.protocol === 'tcp' ? 6 : 17, direction });
const reverse = (f: Flow, flags: number = TCP.SYN | TCP.ACK): Flow => ({ src: f.dst, dst: f.src, sport: f.dport, dport: f.sport, protocol: f.protocol, flags });

const countedBy = (fn: () => void): Partial<Record<CounterName, bigint>> => countedByIn(dp.maps.counters, fn);
const expectFrame = (t: Test, what: string, fd: number, input: Buffer, verdict: number, expected: Buffer): void => void expectFrameIn(t, what, fd, input, verdict, expected);

function expectDropped(t: Test, what: string, fd: number, f: Flow, reason: CounterName): void {
  const frame = buildFrame(f);
  t.same(
    countedBy(() => expectFrame(t, what, fd, frame, TC_ACT_SHOT, frame)),
    { [reason]: 1n },
    `${what}: dropped untouched, counted as ${reason} only`,
  );
}

t.test('a new service flow to a backend isolated for ingress: denied for a client its policy does not name', async (t) => {
  const syn: Flow = { src: IP.other, dst: WEB_VIP, sport: 41000, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  expectDropped(t, 'other → web VIP', fromPod, syn, 'policy_denied_ingress');
  t.equal(dp.ct.get(ctKey(syn, CT_DIRECTION.forward)), undefined, 'no forward entry');
  t.equal(dp.ct.get(ctKey(reverse({ ...syn, dst: IP.web, dport: 8080 }), CT_DIRECTION.reply)), undefined, 'no reply entry');
});

t.test('an allowed service flow: translated and redirected as without policy; its replies pass into the isolated client', async (t) => {
  const syn: Flow = { src: IP.client, dst: WEB_VIP, sport: 41001, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  const toWeb = (f: Flow): Flow => ({ ...f, dst: IP.web, dport: 8080 });
  t.same(
    countedBy(() => expectFrame(t, 'client → web VIP, SYN', fromPod, buildFrame(syn), TC_ACT_UNSPEC, buildFrame(toWeb(syn)))),
    { translated: 1n, ct_created: 1n, policy_allowed_egress: 1n, policy_allowed_ingress: 1n },
    'counted as a translated flow, allowed by the client’s egress and web’s ingress (both isolated), and nothing else',
  );
  const answer = reverse(toWeb(syn));
  t.match(dp.ct.get(ctKey(answer, CT_DIRECTION.reply)), { verdict: CT_VERDICT.revnat | CT_VERDICT.policy_allowed }, 'the reply entry says the policy allowed the flow');
  // web answers from its own interface (it is isolated for ingress only: its egress is open);
  // the client, isolated for ingress, gets it: a reply.
  const fromVip: Flow = { ...answer, src: WEB_VIP, sport: 80 };
  t.same(
    countedBy(() =>
      expectFrame(t, 'the answer, from web', fromPod, withMacs(buildFrame(answer), FRAME_MACS.client, WEB_MAC), TC_ACT_REDIRECT, withMacs(buildFrame(fromVip), FRAME_MACS.client, FRAME_MACS.gateway)),
    ),
    {},
    'passed, counted as nothing',
  );
  // The client's next packets go straight into web's pod: its ingress judged here, before the redirect.
  const next: Flow = { ...syn, flags: TCP.ACK, payload: Buffer.from('GET /') };
  expectFrame(t, 'the next packet', fromPod, buildFrame(next), TC_ACT_REDIRECT, withMacs(buildFrame(toWeb(next)), WEB_MAC, FRAME_MACS.gateway));
  // A reply that took the node's path after its source became the VIP again (its client's
  // link unknown) still passes into the client's interface, on the flow's forward entry.
  expectFrame(t, 'a reply from the VIP on the node’s path', toPod, buildFrame({ ...fromVip, flags: TCP.ACK }), TC_ACT_UNSPEC, buildFrame({ ...fromVip, flags: TCP.ACK }));
  // Not so a packet from the VIP that answers no flow.
  expectDropped(t, 'a packet from the VIP no flow of the client has', toPod, { ...fromVip, dport: 41999, flags: TCP.ACK }, 'policy_denied_ingress');
  t.match(dp.podLinks.get({ words: IP.web }), { ifindex: TEST_RUN_IFINDEX, mac: WEB_MAC });
});

t.test('an egress-isolated client: a service flow to a backend its policy does not name is denied', async (t) => {
  const syn: Flow = { src: IP.client, dst: DB_VIP, sport: 41002, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  expectDropped(t, 'client → db VIP', fromPod, syn, 'policy_denied_egress');
  t.equal(dp.ct.get(ctKey(syn, CT_DIRECTION.forward)), undefined, 'no forward entry');
  const open: Flow = { ...syn, src: IP.other, sport: 41003 };
  expectFrame(t, 'other (no policy selects it) → db VIP', fromPod, buildFrame(open), TC_ACT_UNSPEC, buildFrame({ ...open, dst: IP.db, dport: 8080 }));
});

t.test('the original direction is judged on every packet: an established flow meets a new policy at once', async (t) => {
  enforce([]);
  const syn: Flow = { src: IP.other, dst: WEB_VIP, sport: 41004, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  const toWeb = (f: Flow): Flow => ({ ...f, dst: IP.web, dport: 8080 });
  const dropLink = (): void => {
    if (dp.podLinks.get({ words: IP.web })) dp.podLinks.delete({ words: IP.web });
  };
  dropLink();
  expectFrame(t, 'other → web VIP without policy', fromPod, buildFrame(syn), TC_ACT_UNSPEC, buildFrame(toWeb(syn)));
  const reply = reverse(toWeb(syn));
  t.match(dp.ct.get(ctKey(reply, CT_DIRECTION.reply)), { verdict: CT_VERDICT.revnat | CT_VERDICT.policy_allowed });
  enforce([webFromClient, clientLocked]);
  expectDropped(t, 'its next packet, web now isolated', fromPod, { ...syn, flags: TCP.ACK }, 'policy_denied_ingress');
  // Replies are not judged again (as in Cilium): the flow was allowed when it began.
  // (Into the client's pod, whose link its first packet taught.)
  expectFrame(t, 'web’s reply', fromPod, buildFrame(reply), TC_ACT_REDIRECT, withMacs(buildFrame({ ...reply, src: WEB_VIP, sport: 80 }), FRAME_MACS.client, FRAME_MACS.gateway));
});

t.test('traffic between pods that is no service’s: socket mode’s policy, its reply entries in slb_ct', async (t) => {
  const toWeb: Flow = { src: IP.client, dst: IP.web, sport: 41005, dport: 8080, protocol: 'tcp', flags: TCP.SYN };
  t.same(
    countedBy(() => expectFrame(t, 'client → web directly', fromPod, buildFrame(toWeb), TC_ACT_UNSPEC, buildFrame(toWeb))),
    { policy_ct_created: 1n, policy_allowed_egress: 1n },
    'allowed by the client’s egress (counted once, on the SYN); the client is isolated for ingress, so the replies get an entry',
  );
  t.match(dp.ct.get(ctKey(reverse(toWeb), CT_DIRECTION.reply)), { verdict: CT_VERDICT.policy_allowed }, 'a policy-only entry');
  expectFrame(t, 'web’s reply leaves web', fromPod, buildFrame(reverse(toWeb)), TC_ACT_UNSPEC, buildFrame(reverse(toWeb)));
  expectFrame(t, 'web’s reply reaches the isolated client', toPod, buildFrame(reverse(toWeb)), TC_ACT_UNSPEC, buildFrame(reverse(toWeb)));
  expectFrame(t, 'web’s ingress takes it too', toPod, buildFrame(toWeb), TC_ACT_UNSPEC, buildFrame(toWeb));
  expectDropped(t, 'client → other directly', fromPod, { ...toWeb, dst: IP.other }, 'policy_denied_egress');
  expectDropped(t, 'other → client directly', toPod, { src: IP.other, dst: IP.client, sport: 41006, dport: 8080, protocol: 'tcp', flags: TCP.SYN }, 'policy_denied_ingress');
  expectDropped(t, 'other → web on 8080 directly', toPod, { src: IP.other, dst: IP.web, sport: 41007, dport: 8080, protocol: 'tcp', flags: TCP.SYN }, 'policy_denied_ingress');
  const free: Flow = { src: IP.other, dst: IP.db, sport: 41008, dport: 8080, protocol: 'udp' };
  t.same(
    countedBy(() => {
      expectFrame(t, 'other → db (no policy selects either)', fromPod, buildFrame(free), TC_ACT_UNSPEC, buildFrame(free));
      expectFrame(t, '... and into db', toPod, buildFrame(free), TC_ACT_UNSPEC, buildFrame(free));
    }),
    {},
    'counted as nothing',
  );
  t.equal(dp.ct.get(ctKey(reverse(free), CT_DIRECTION.reply)), undefined, 'and tracked nowhere');
});
