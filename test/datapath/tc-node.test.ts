// The node programs (tc_node.bpf.o) on crafted frames (BPF_PROG_TEST_RUN, real kernel, real
// maps), every path compared as a whole output frame, byte for byte, with one built from
// scratch (test/helpers/packets.ts): a tracked flow's packets to a backend on this node
// (destination rewritten) and on another node (destination and source rewritten, sent out of
// the device towards it), the replies of both (the frontend given back; the client too for a
// source-NATed one), over TCP and UDP, IPv4 and IPv6; what the programs leave alone, each with
// the counters it moves: traffic to addresses and ports no north-south frontend has, a cluster
// IP reached from outside, an externalTrafficPolicy Local frontend; a frontend without endpoints
// answered with a reset; a new flow whose route lookup fails dropped. New flows that find their
// route are tc-node-new-flows.test.ts's (run from a lab node namespace's device).
import t, { type Test } from 'tap';
import { CT_DIRECTION, CT_STATE, CT_VERDICT, ctNow, type CtKey } from '../../src/datapath/ct-map.js';
import { NodeTc, type NodeTcComponent } from '../../src/datapath/node-tc.js';
import type { NodeCtEntry } from '../../src/datapath/node-ct-map.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { openPinnedDatapath, uninstallSockDatapath } from '../../src/datapath/sock-datapath.js';
import { LabRun } from '../../src/lab/lab-run.js';
import type { DesiredService } from '../../src/model/desired-services.js';
import { testRunPacket } from '../../src/bpf/prog-test-run.js';
import { countedBy, expectFrame, expectPassed, TC_ACT_REDIRECT, TC_ACT_SHOT, TC_ACT_UNSPEC } from '../helpers/frame-run.js';
import { buildFrame, expectedReset, parseFrame, TCP, type Flow } from '../../src/lab/packet-frames.js';

const run = LabRun.begin();
const bpffs = run.bpffs('test');
const node: NodeTcComponent = NodeTc.install(bpffs, { devices: [] });
const lb = openPinnedDatapath(bpffs);
t.teardown(() => {
  lb.close();
  node.close();
  uninstallSockDatapath(bpffs);
  run.end();
});

const NODE = { v4: '198.18.0.1', v6: 'fd00:e0::1' };
const CLIENT = { v4: '198.18.0.2', v6: 'fd00:e0::2' };
/** The node's address towards another node, where source-NATed flows leave from. */
const NODE_OUT = { v4: '198.18.1.1', v6: 'fd00:e1::1' };
const external = (address: string, port: number, protocol: 'TCP' | 'UDP', backends: DesiredService['backends'], extra: Partial<DesiredService> = {}): DesiredService => ({
  owner: `ns/np-${port}`,
  frontend: { address, port, protocol },
  backends,
  reach: 'external',
  ...extra,
});
Reconciler.adopt(lb.maps).apply([
  external(NODE.v4, 30080, 'TCP', [{ address: '10.244.0.21', port: 8080 }]),
  external(NODE.v4, 30053, 'UDP', [{ address: '10.244.0.22', port: 5353 }]),
  external(NODE.v6, 30080, 'TCP', [{ address: 'fd00:244::21', port: 8080 }]),
  external(NODE.v4, 30082, 'TCP', [{ address: '10.244.0.21', port: 8080 }], { externalPolicyLocal: true }),
  external(NODE.v4, 30083, 'TCP', []),
  // externalTrafficPolicy Local with its local-scope twin (this node's endpoints), as the agent
  // writes them while NodeTc runs: one with a local endpoint, one without.
  external(
    NODE.v4,
    30085,
    'TCP',
    [
      { address: '10.244.0.21', port: 8080 },
      { address: '10.244.1.10', port: 8080 },
    ],
    { externalPolicyLocal: true },
  ),
  {
    ...external(NODE.v4, 30085, 'TCP', [{ address: '10.244.0.21', port: 8080 }], { externalPolicyLocal: true }),
    frontend: { address: NODE.v4, port: 30085, protocol: 'TCP', scope: 'local' },
  },
  external(NODE.v4, 30087, 'TCP', [{ address: '10.244.1.10', port: 8080 }], { externalPolicyLocal: true }),
  { ...external(NODE.v4, 30087, 'TCP', [], { externalPolicyLocal: true }), frontend: { address: NODE.v4, port: 30087, protocol: 'TCP', scope: 'local' } },
  { owner: 'ns/web', frontend: { address: '10.96.0.10', port: 80, protocol: 'TCP' }, backends: [{ address: '10.244.0.21', port: 8080 }] },
]);

const fromWorld = node.programFds.get('slb_node_from_world')!;
const toWorld = node.programFds.get('slb_node_to_world')!;
const counters = lb.maps.counters;
const proto = (f: Flow): number => (f.protocol === 'tcp' ? 6 : 17);
const key = (f: Flow, direction: number): CtKey => ({ src: f.src, dst: f.dst, sport: f.sport, dport: f.dport, protocol: proto(f), direction });
const NO_SNAT = { address: '::', port: 0, ifindex: 0 };

/** Seeds the entry a flow's first packet would have made (what the kernel lab makes for real). */
function seed(f: Flow, direction: number, verdict: number, nat: { address: string; port: number }, snat: NodeCtEntry['snat'] = NO_SNAT): void {
  node.ct.set(key(f, direction), { ct: { expires: ctNow() + 60, state: 0, verdict, nat: { ...nat, backend_id: 1 } }, snat });
}

const checked = (t: Test, frame: Buffer, what: string): void => {
  t.match(parseFrame(frame), { ipChecksumOk: true, l4ChecksumOk: true }, `${what}: checksums right`);
};

t.test("a tracked flow to a backend on this node: the destination rewritten, the client's address kept", async (t) => {
  for (const [v, protocol, dport, backend] of [
    ['v4', 'tcp', 30080, { address: '10.244.0.21', port: 8080 }],
    ['v4', 'udp', 30053, { address: '10.244.0.22', port: 5353 }],
    ['v6', 'tcp', 30080, { address: 'fd00:244::21', port: 8080 }],
  ] as const) {
    const f: Flow = { src: CLIENT[v], dst: NODE[v], sport: 40000, dport, protocol, flags: TCP.ACK, payload: Buffer.from('GET /') };
    seed(f, CT_DIRECTION.forward, CT_VERDICT.dnat, backend);
    const what = `${protocol} over ${v}`;
    const out = expectFrame(t, what, fromWorld, buildFrame(f), TC_ACT_UNSPEC, buildFrame({ ...f, dst: backend.address, dport: backend.port }));
    checked(t, out, what);
    if (protocol === 'tcp') t.equal(node.ct.get(key(f, CT_DIRECTION.forward))!.ct.state, CT_STATE.established, `${what}: the entry follows the packet`);

    // The backend's reply leaves by the node's device with the frontend as its source.
    const reply: Flow = { src: backend.address, dst: f.src, sport: backend.port, dport: f.sport, protocol, flags: TCP.ACK, payload: Buffer.from('200') };
    seed(reply, CT_DIRECTION.reply, CT_VERDICT.revnat, { address: f.dst, port: f.dport });
    const back = expectFrame(t, `${what}: reply`, toWorld, buildFrame(reply), TC_ACT_UNSPEC, buildFrame({ ...reply, src: f.dst, sport: f.dport }));
    checked(t, back, `${what}: reply`);
  }
});

t.test('a tracked flow to a backend on another node: source-NATed to the node and sent out towards it, one hop less (TTL, hop limit); its replies turned back, one hop less too', async (t) => {
  for (const [v, backend] of [
    ['v4', { address: '10.244.1.10', port: 8080 }],
    ['v6', { address: 'fd00:244:1::10', port: 8080 }],
  ] as const) {
    const f: Flow = { src: CLIENT[v], dst: NODE[v], sport: 40001, dport: 30080, protocol: 'tcp', flags: TCP.ACK, payload: Buffer.from('GET /') };
    const snatPort = 61234;
    seed(f, CT_DIRECTION.forward, CT_VERDICT.dnat | CT_VERDICT.snat, backend, { address: NODE_OUT[v], port: snatPort, ifindex: 1 });
    const out = expectFrame(
      t,
      `${v}: forward`,
      fromWorld,
      buildFrame(f),
      TC_ACT_REDIRECT,
      buildFrame({ ...f, src: NODE_OUT[v], sport: snatPort, dst: backend.address, dport: backend.port, ttl: 63 }),
    );
    checked(t, out, `${v}: forward`);

    const reply: Flow = { src: backend.address, dst: NODE_OUT[v], sport: backend.port, dport: snatPort, protocol: 'tcp', flags: TCP.ACK, payload: Buffer.from('200') };
    seed(reply, CT_DIRECTION.reply, CT_VERDICT.revnat | CT_VERDICT.rev_snat, { address: f.dst, port: f.dport }, { address: f.src, port: f.sport, ifindex: 1 });
    const back = expectFrame(t, `${v}: reply`, fromWorld, buildFrame(reply), TC_ACT_REDIRECT, buildFrame({ ...reply, src: f.dst, sport: f.dport, dst: f.src, dport: f.sport, ttl: 63 }));
    checked(t, back, `${v}: reply`);
    expectPassed(t, `${v}: the same reply tuple leaving the node is not turned (its flow's replies come in)`, toWorld, reply, counters);

    // A packet whose TTL runs out here is dropped, as a router drops it (NodeTc sends these
    // packets on itself, past the stack's forwarding), counted; a TTL of 2 still goes, as 1.
    for (const [dir, packet, fd] of [
      ['forward', f, fromWorld],
      ['reply', reply, fromWorld],
    ] as const) {
      for (const ttl of [1, 0]) {
        const r = countedBy(counters, () => t.equal(testRunPacket(fd, buildFrame({ ...packet, ttl }), `ttl ${ttl}`).retval, TC_ACT_SHOT, `${v} ${dir}, TTL ${ttl}: dropped`));
        t.same(r, { node_ttl_exceeded: 1n }, `${v} ${dir}, TTL ${ttl}: counted as node_ttl_exceeded, nothing else`);
      }
      const last = testRunPacket(fd, buildFrame({ ...packet, ttl: 2 }), 'ttl 2');
      t.equal(last.retval, TC_ACT_REDIRECT, `${v} ${dir}, TTL 2: sent on`);
      t.equal(last.packet[v === 'v4' ? 14 + 8 : 14 + 7], 1, `${v} ${dir}, TTL 2: leaves with 1`);
      checked(t, last.packet, `${v} ${dir}, TTL 2`);
    }
  }
});

t.test("a tracked flow to a backend on this node keeps its TTL here: the node's stack forwards it and takes the hop", async (t) => {
  const f: Flow = { src: CLIENT.v4, dst: NODE.v4, sport: 40002, dport: 30080, protocol: 'tcp', flags: TCP.ACK, ttl: 1 };
  const backend = { address: '10.244.0.21', port: 8080 };
  seed(f, CT_DIRECTION.forward, CT_VERDICT.dnat, backend);
  expectFrame(t, 'TTL 1 to a local backend', fromWorld, buildFrame(f), TC_ACT_UNSPEC, buildFrame({ ...f, dst: backend.address, dport: backend.port }));
});

t.test("a reset closes both of a flow's entries, whichever side sends it (a source NAT's port is free 10 s later, not hours)", async (t) => {
  const closingS = (k: CtKey): number => node.ct.get(k)!.ct.expires - ctNow();
  for (const [what, snat] of [
    ['local', undefined],
    ['source-NATed', { address: NODE_OUT.v4, port: 61500, ifindex: 1 }],
  ] as const) {
    for (const [i, resetter] of (['client', 'backend'] as const).entries()) {
      const backend = snat ? { address: '10.244.1.10', port: 8080 } : { address: '10.244.0.21', port: 8080 };
      const f: Flow = { src: CLIENT.v4, dst: NODE.v4, sport: 40500 + i + (snat ? 10 : 0), dport: 30080, protocol: 'tcp', flags: TCP.ACK };
      const port = snat ? snat.port + i : 0;
      const reply: Flow = { src: backend.address, dst: snat ? snat.address : f.src, sport: 8080, dport: snat ? port : f.sport, protocol: 'tcp', flags: TCP.ACK };
      seed(f, CT_DIRECTION.forward, CT_VERDICT.dnat | (snat ? CT_VERDICT.snat : 0), backend, snat ? { ...snat, port } : NO_SNAT);
      seed(
        reply,
        CT_DIRECTION.reply,
        CT_VERDICT.revnat | (snat ? CT_VERDICT.rev_snat : 0),
        { address: f.dst, port: f.dport },
        snat ? { address: f.src, port: f.sport, ifindex: 1 } : NO_SNAT,
      );
      for (const k of [key(f, CT_DIRECTION.forward), key(reply, CT_DIRECTION.reply)])
        node.ct.set(k, { ...node.ct.get(k)!, ct: { ...node.ct.get(k)!.ct, state: CT_STATE.established, expires: ctNow() + 21600 } });
      if (resetter === 'client') testRunPacket(fromWorld, buildFrame({ ...f, flags: TCP.RST }), 'client RST');
      else testRunPacket(snat ? fromWorld : toWorld, buildFrame({ ...reply, flags: TCP.RST }), 'backend RST');
      for (const [dir, k] of [
        ['forward', key(f, CT_DIRECTION.forward)],
        ['reply', key(reply, CT_DIRECTION.reply)],
      ] as const) {
        t.ok(closingS(k) <= 10, `${what}, reset by the ${resetter}: the ${dir} entry closes (${closingS(k)} s left)`);
        t.equal(node.ct.get(k)!.ct.state & CT_STATE.closing, CT_STATE.closing);
      }
    }
  }
});

t.test("a SYN on a closing flow's tuple (a client port used again) starts the flow afresh: both old entries go", async (t) => {
  const backend = { address: '10.244.0.21', port: 8080 };
  const f: Flow = { src: CLIENT.v4, dst: NODE.v4, sport: 40600, dport: 30080, protocol: 'tcp', flags: TCP.ACK };
  const reply: Flow = { src: backend.address, dst: f.src, sport: 8080, dport: f.sport, protocol: 'tcp', flags: TCP.ACK };
  seed(f, CT_DIRECTION.forward, CT_VERDICT.dnat, backend);
  seed(reply, CT_DIRECTION.reply, CT_VERDICT.revnat, { address: f.dst, port: f.dport });
  testRunPacket(fromWorld, buildFrame({ ...f, flags: TCP.RST }), 'client RST');
  t.equal(node.ct.get(key(f, CT_DIRECTION.forward))!.ct.state & CT_STATE.closing, CT_STATE.closing, 'closing after the reset');
  // A new SYN from the same port: the old entries are forgotten and the flow made anew, which
  // here (no ingress device to route from) ends at the route lookup: nothing of the old flow stays.
  testRunPacket(fromWorld, buildFrame({ ...f, flags: TCP.SYN }), 'SYN again');
  t.equal(node.ct.get(key(f, CT_DIRECTION.forward)), undefined, 'the old forward entry is gone');
  t.equal(node.ct.get(key(reply, CT_DIRECTION.reply)), undefined, 'and its reply entry');
  // A SYN on a flow that is not closing (a retransmitted one) keeps it.
  seed(f, CT_DIRECTION.forward, CT_VERDICT.dnat, backend);
  expectFrame(t, 'a retransmitted SYN', fromWorld, buildFrame({ ...f, flags: TCP.SYN }), TC_ACT_UNSPEC, buildFrame({ ...f, flags: TCP.SYN, dst: backend.address, dport: 8080 }));
});

t.test('what the node programs leave alone', async (t) => {
  const c = { src: CLIENT.v4, sport: 40100, protocol: 'tcp' as const, flags: TCP.SYN };
  expectPassed(t, 'an address no service has', fromWorld, { ...c, dst: '198.18.0.99', dport: 30080 }, counters);
  expectPassed(t, "a port of the node's that no NodePort has", fromWorld, { ...c, dst: NODE.v4, dport: 22 }, counters);
  expectPassed(t, 'a cluster IP reached from outside', fromWorld, { ...c, dst: '10.96.0.10', dport: 80 }, counters);
  expectPassed(t, "a source-NAT port of the node's without a flow", fromWorld, { ...c, dst: NODE.v4, dport: 61000 }, counters);
  expectPassed(t, 'externalTrafficPolicy Local without its local-scope twin (an agent that does not write them)', fromWorld, { ...c, dst: NODE.v4, dport: 30082 }, counters, {
    node_local_policy_passed: 1n,
  });
  expectPassed(
    t,
    'a packet leaving the node that answers no tracked flow',
    toWorld,
    { src: '10.244.0.21', dst: CLIENT.v4, sport: 8080, dport: 40100, protocol: 'tcp', flags: TCP.ACK },
    counters,
  );
  t.equal(node.ct.get(key({ ...c, dst: NODE.v4, dport: 30082 }, CT_DIRECTION.forward)), undefined, 'none of them tracked');
});

t.test("externalTrafficPolicy Local: a new flow takes this node's endpoint from the twin, with the client's address; none there: dropped", async (t) => {
  const syn: Flow = { src: CLIENT.v4, dst: NODE.v4, sport: 40400, dport: 30085, protocol: 'tcp', flags: TCP.SYN };
  t.same(
    countedBy(counters, () => expectFrame(t, 'SYN', fromWorld, buildFrame(syn), TC_ACT_UNSPEC, buildFrame({ ...syn, dst: '10.244.0.21', dport: 8080 }))),
    { node_translated: 1n },
    "translated, never source-NATed, with no route lookup (the endpoint is this node's)",
  );
  t.match(node.ct.get(key(syn, CT_DIRECTION.forward)), { ct: { verdict: CT_VERDICT.dnat, nat: { address: '10.244.0.21', port: 8080 } } });
  const none: Flow = { ...syn, sport: 40401, dport: 30087 };
  const frame = buildFrame(none);
  t.same(
    countedBy(counters, () => expectFrame(t, 'SYN to a service without a local endpoint', fromWorld, frame, TC_ACT_SHOT, frame)),
    { no_backend: 1n },
    'dropped, counted as no_backend, not refused: a load balancer health-checks the node out',
  );
});

t.test('a NodePort without endpoints: the client gets a reset at once', async (t) => {
  const f: Flow = { src: CLIENT.v4, dst: NODE.v4, sport: 40200, dport: 30083, protocol: 'tcp', flags: TCP.SYN };
  t.same(
    countedBy(counters, () => expectFrame(t, 'SYN', fromWorld, buildFrame(f), TC_ACT_REDIRECT, expectedReset(f))),
    { no_backend: 1n },
    'counted as no_backend only',
  );
});

t.test('a new flow whose route lookup fails is dropped, counted, not tracked', async (t) => {
  // A test run's packet has no ingress device here: the lookup fails, as a refusing route's
  // does (tc-node-new-flows.test.ts).
  const f: Flow = { src: CLIENT.v4, dst: NODE.v4, sport: 40300, dport: 30080, protocol: 'tcp', flags: TCP.SYN };
  const frame = buildFrame(f);
  t.same(
    countedBy(counters, () => expectFrame(t, 'SYN', fromWorld, frame, TC_ACT_SHOT, frame)),
    { node_no_route: 1n },
    'counted as node_no_route only',
  );
  t.equal(node.ct.get(key(f, CT_DIRECTION.forward)), undefined);
});
