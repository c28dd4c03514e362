// The node programs' new flows on crafted frames, in a lab node namespace whose routes decide
// where each backend is (BPF_PROG_TEST_RUN from that namespace, the frame on the device ext0 it
// came in by): a backend on this node (a pod behind the node's bridge) gets the flow with the
// client's address; a backend the node routes out of ext1 (another node's pod) gets it
// source-NATed to the node's ext1 address and a port of the source NAT's range, and its reply is
// turned back to the client; a backend behind an unreachable route is dropped. Each output frame is
// compared whole, byte for byte, with one built from scratch, and each flow's two entries are
// checked. (tc-node.test.ts covers the packets of tracked flows; the kernel lab the traffic.)
import t from 'tap';
import { inNetns } from '../../src/bpf/netns.js';
import { testRunPacket, type TestRunResult } from '../../src/bpf/prog-test-run.js';
import { interfaceIndex } from '../../src/bpf/tc-attach.js';
import { CT_DIRECTION, CT_VERDICT, type CtKey } from '../../src/datapath/ct-map.js';
import { NODE_SNAT_PORTS } from '../../src/datapath/node-ct-map.js';
import { NodeTc } from '../../src/datapath/node-tc.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { openPinnedDatapath, uninstallSockDatapath } from '../../src/datapath/sock-datapath.js';
import { run } from '../../src/lab/command.js';
import { PodNetwork } from '../../src/lab/pod-network.js';
import type { DesiredService } from '../../src/model/desired-services.js';
import { countedBy, expectFrame, TC_ACT_REDIRECT, TC_ACT_SHOT, TC_ACT_UNSPEC } from '../helpers/frame-run.js';
import { buildFrame, TCP, type Flow } from '../../src/lab/packet-frames.js';

const net = PodNetwork.create();
const bpffs = net.labRun.bpffs('test');
const pod = net.addPod('be-1');
const world = net.addOutside('world');
const REMOTE = { v4: '10.244.1.10', v6: 'fd00:244:1::10' };
const peer = net.addOutside('peer', { addresses: [`${REMOTE.v4}/32`, `${REMOTE.v6}/128`], routedToIt: ['10.244.1.0/24', 'fd00:244:1::/64'] });
const node = NodeTc.install(bpffs, { devices: ['ext*'] });
const lb = openPinnedDatapath(bpffs);
t.teardown(async () => {
  lb.close();
  node.close();
  uninstallSockDatapath(bpffs);
  await net.destroy();
});
// A route that refuses: the node's answer for a backend it must not reach.
run('ip', ['-n', net.nodeNetns, 'route', 'add', 'unreachable', '10.99.0.0/24']);
// The scan the agent runs: the devices' addresses into slb_node_devices, the programs onto them.
inNetns(net.nodeNetnsPath, () => node.sync());
const ext0 = inNetns(net.nodeNetnsPath, () => interfaceIndex(world.device));
const ext1 = inNetns(net.nodeNetnsPath, () => interfaceIndex(peer.device));

const frontend = (address: string, port: number, backend: { address: string; port: number }): DesiredService => ({
  owner: `ns/np-${port}`,
  frontend: { address, port, protocol: 'TCP' },
  backends: [backend],
  reach: 'external',
});
Reconciler.adopt(lb.maps).apply([
  frontend(world.nodeIpv4, 30080, { address: pod.ipv4, port: 8080 }),
  frontend(world.nodeIpv6, 30080, { address: pod.ipv6, port: 8080 }),
  frontend(world.nodeIpv4, 30081, { address: REMOTE.v4, port: 8080 }),
  frontend(world.nodeIpv6, 30081, { address: REMOTE.v6, port: 8080 }),
  frontend(world.nodeIpv4, 30084, { address: '10.99.0.1', port: 8080 }),
]);

const fromWorld = node.programFds.get('slb_node_from_world')!;
const onExt0 = { ifindex: ext0, ingressIfindex: ext0 };
const onExt1 = { ifindex: ext1, ingressIfindex: ext1 };
const key = (f: Flow, direction: number): CtKey => ({ src: f.src, dst: f.dst, sport: f.sport, dport: f.dport, protocol: 6, direction });
/** A frame in through a device of the lab's node namespace, where the route lookups happen. */
const inNode = <T>(fn: () => T): T => inNetns(net.nodeNetnsPath, fn);

t.test("a new flow to a backend on this node: DNAT only, the client's address kept", async (t) => {
  for (const v of ['v4', 'v6'] as const) {
    const client = v === 'v4' ? world.ipv4 : world.ipv6;
    const backend = v === 'v4' ? pod.ipv4 : pod.ipv6;
    const syn: Flow = { src: client, dst: v === 'v4' ? world.nodeIpv4 : world.nodeIpv6, sport: 41000, dport: 30080, protocol: 'tcp', flags: TCP.SYN };
    t.same(
      countedBy(lb.maps.counters, () =>
        inNode(() => expectFrame(t, `${v} SYN`, fromWorld, buildFrame(syn), TC_ACT_UNSPEC, buildFrame({ ...syn, dst: backend, dport: 8080 }), onExt0)),
      ),
      { node_translated: 1n },
      `${v}: counted as translated at the node only`,
    );
    t.match(node.ct.get(key(syn, CT_DIRECTION.forward)), { ct: { verdict: CT_VERDICT.dnat, nat: { address: backend, port: 8080 } } });
    t.match(node.ct.get({ src: backend, dst: client, sport: 8080, dport: 41000, protocol: 6, direction: CT_DIRECTION.reply }), {
      ct: { verdict: CT_VERDICT.revnat, nat: { address: syn.dst, port: 30080 } },
    });
  }
});

t.test("a new flow to another node's backend: source-NATed to the node's address towards it, its reply turned back", async (t) => {
  for (const v of ['v4', 'v6'] as const) {
    const client = v === 'v4' ? world.ipv4 : world.ipv6;
    const nodeOut = v === 'v4' ? peer.nodeIpv4 : peer.nodeIpv6;
    const backend = REMOTE[v];
    const syn: Flow = { src: client, dst: v === 'v4' ? world.nodeIpv4 : world.nodeIpv6, sport: 41001, dport: 30081, protocol: 'tcp', flags: TCP.SYN };
    // Run first, compared once the port it took is known.
    let out!: TestRunResult;
    t.same(
      countedBy(lb.maps.counters, () => (out = inNode(() => testRunPacket(fromWorld, buildFrame(syn), `${v} SYN`, onExt0)))),
      { node_translated: 1n, node_snat: 1n },
      `${v}: counted as translated and source-NATed`,
    );
    t.equal(out.retval, TC_ACT_REDIRECT, `${v}: sent out towards the backend`);
    const forward = node.ct.get(key(syn, CT_DIRECTION.forward))!;
    t.match(forward, { ct: { verdict: CT_VERDICT.dnat | CT_VERDICT.snat, nat: { address: backend, port: 8080 } }, snat: { address: nodeOut, ifindex: ext1 } });
    const port = forward.snat.port;
    t.ok(port >= NODE_SNAT_PORTS.min && port <= NODE_SNAT_PORTS.max, `${v}: port ${port} of the source NAT's range`);
    t.same(out.packet, buildFrame({ ...syn, src: nodeOut, sport: port, dst: backend, dport: 8080, ttl: 63 }), `${v}: the whole frame (one hop less)`);
    const reply = node.ct.get({ src: backend, dst: nodeOut, sport: 8080, dport: port, protocol: 6, direction: CT_DIRECTION.reply })!;
    t.match(reply, { ct: { verdict: CT_VERDICT.revnat | CT_VERDICT.rev_snat, nat: { address: syn.dst, port: 30081 } }, snat: { address: client, port: 41001, ifindex: ext0 } });

    const synAck: Flow = { src: backend, dst: nodeOut, sport: 8080, dport: port, protocol: 'tcp', flags: TCP.SYN | TCP.ACK };
    inNode(() =>
      expectFrame(t, `${v} SYN-ACK`, fromWorld, buildFrame(synAck), TC_ACT_REDIRECT, buildFrame({ ...synAck, src: syn.dst, sport: 30081, dst: client, dport: 41001, ttl: 63 }), onExt1),
    );
  }
});

t.test('a new flow to a backend behind a route that refuses (unreachable) is dropped, counted, not tracked', async (t) => {
  const syn: Flow = { src: world.ipv4, dst: world.nodeIpv4, sport: 41002, dport: 30084, protocol: 'tcp', flags: TCP.SYN };
  const frame = buildFrame(syn);
  t.same(
    countedBy(lb.maps.counters, () => inNode(() => expectFrame(t, 'SYN', fromWorld, frame, TC_ACT_SHOT, frame, onExt0))),
    { node_no_route: 1n },
  );
  t.equal(node.ct.get(key(syn, CT_DIRECTION.forward)), undefined);
});
