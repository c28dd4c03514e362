// A local pod's interface, found through the node namespace's routes, neighbours and bridge
// forwarding entries (rtnetlink), on each of the lab's pod-network shapes, for IPv4 and IPv6.
import t from 'tap';
import { inNetns } from '../../src/bpf/netns.js';
import { listLinks } from '../../src/bpf/rtnetlink.js';
import { podInterfaceOf } from '../../src/datapath/pod-interface-of.js';
import { runNodeProbe, startBackend } from '../../src/lab/lab-processes.js';
import { PodNetwork } from '../../src/lab/pod-network.js';

/** A few TCP connections from the node namespace itself, so the node resolves the pod's MAC. */
async function nodeConnects(net: PodNetwork, host: string): Promise<void> {
  const r = await runNodeProbe(net, { mode: 'tcp', host, port: 8080, count: 2, timeoutMs: 2000 });
  if (r.ok !== 2) throw new Error(`the node could not reach ${host}: ${JSON.stringify(r.errors)}`);
}

const inNode = <T>(net: PodNetwork, fn: () => T): T => inNetns(net.nodeNetnsPath, fn);

t.test('routed veths: the veth the /32 and /128 routes go out through', async (t) => {
  const net = PodNetwork.create('routed');
  t.teardown(() => net.destroy());
  const a = net.addPod('a');
  const b = net.addPod('b');
  for (const [pod, name] of [
    [a, 'a'],
    [b, 'b'],
  ] as const) {
    for (const ip of [pod.ipv4, pod.ipv6]) t.same(inNode(net, () => podInterfaceOf(ip)), { interface: net.hostInterface(name) }, `${name} at ${ip}`);
  }
  const links = inNode(net, () => listLinks());
  t.ok(
    links.some((l) => l.name === net.hostInterface('a') && l.kind === 'veth'),
    'links come with their kind',
  );
});

t.test('a bridge: the port whose forwarding entry holds the pod’s MAC, once the node knows it', async (t) => {
  const net = PodNetwork.create('bridge');
  t.teardown(() => net.destroy());
  net.addPod('a');
  const b = net.addPod('b');
  await startBackend(net, 'b', [8080]);
  for (const ip of [b.ipv4, b.ipv6]) {
    const before = inNode(net, () => podInterfaceOf(ip));
    t.match(before, { problem: /behind bridge br0, and the node has no neighbour entry for it yet/, retry: true }, `${ip} before the node talked to it`);
    await nodeConnects(net, ip);
    t.same(inNode(net, () => podInterfaceOf(ip)), { interface: net.hostInterface('b') }, `${ip} after`);
  }
  const links = inNode(net, () => listLinks());
  const br = links.find((l) => l.name === 'br0')!;
  t.equal(br.kind, 'bridge');
  t.equal(links.find((l) => l.name === net.hostInterface('b'))!.master, br.index, 'ports name their bridge');
});

t.test('MacVlan pods and unrouted addresses have no interface of their own', async (t) => {
  const net = PodNetwork.create('macvlan');
  t.teardown(() => net.destroy());
  const a = net.addPod('a');
  for (const ip of [a.ipv4, a.ipv6])
    t.match(inNode(net, () => podInterfaceOf(ip)), { problem: /through mvnode \(macvlan\), which is not the pod's own interface/, retry: false }, ip);
  t.match(inNode(net, () => podInterfaceOf('10.96.0.10')), { problem: /routes 10\.96\.0\.10 as blackhole/, retry: false }, 'a blackholed address');
  t.match(inNode(net, () => podInterfaceOf('192.0.2.1')), { problem: /./ }, 'an address with no route at all');
});
