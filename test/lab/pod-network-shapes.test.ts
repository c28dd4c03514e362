// The lab's pod-network shapes on the real kernel: pods reach each other over IPv4 and IPv6 in
// each, through the node's L3 where the shape routes (routed: a /32 and /128 route per pod to
// its host-side veth) and never through it where it does not (macvlan), and a service address
// nothing translates goes nowhere (the node blackholes it) in every shape.
import t from 'tap';
import { run } from '../../src/lab/command.js';
import { runProbe, startBackend } from '../../src/lab/lab-processes.js';
import { POD_NETWORK_SHAPES, PodNetwork } from '../../src/lab/pod-network.js';

for (const shape of POD_NETWORK_SHAPES) {
  t.test(`pod network: ${shape}`, async (t) => {
    const net = PodNetwork.create(shape);
    t.teardown(() => net.destroy());
    net.addPod('client');
    const be = net.addPod('be-1');
    await startBackend(net, 'be-1', [8080]);
    for (const host of [be.ipv4, be.ipv6]) {
      const r = await runProbe(net, 'client', { mode: 'tcp', host, port: 8080, count: 5, timeoutMs: 2000 });
      t.equal(r.ok, 5, `client → be-1 at ${host}: ${JSON.stringify(r.errors)}`);
    }
    const vip = await runProbe(net, 'client', { mode: 'tcp', host: '10.96.0.10', port: 80, count: 1, timeoutMs: 500 });
    t.same(vip.errors, { ETIMEDOUT: 1 }, 'an untranslated service address is dropped in the node namespace');

    const routes = run('ip', ['-n', net.nodeNetns, 'route', 'show']);
    const routes6 = run('ip', ['-n', net.nodeNetns, '-6', 'route', 'show']);
    const hostIf = net.hostInterface('be-1');
    if (shape === 'routed') {
      t.match(routes, new RegExp(`^${be.ipv4.replaceAll('.', '\\.')} dev ${hostIf} `, 'm'), 'a /32 route per pod to its host-side veth');
      t.match(routes6, new RegExp(`^${be.ipv6} dev ${hostIf} `, 'm'), 'and a /128 one');
      t.match(run('ip', ['-n', be.netns, 'addr', 'show', 'eth0']), new RegExp(`inet ${be.ipv4.replaceAll('.', '\\.')}/32`), 'the pod holds a /32');
    }
    if (shape === 'macvlan') {
      t.equal(hostIf, undefined, 'a MacVlan pod has no interface in the node namespace');
      t.match(run('ip', ['-n', be.netns, '-d', 'link', 'show', 'eth0']), /macvlan mode bridge/, "the pod's interface is a MacVlan");
      // Pod to pod traffic stays below the node's L3: forwarding off changes nothing.
      run('ip', ['netns', 'exec', net.nodeNetns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
      const r = await runProbe(net, 'client', { mode: 'tcp', host: be.ipv4, port: 8080, count: 5, timeoutMs: 2000 });
      t.equal(r.ok, 5, 'pod to pod without the node forwarding');
    } else {
      t.match(hostIf, /^veth\d+$/);
      t.match(run('ip', ['-n', net.nodeNetns, 'link', 'show', hostIf!]), /state UP/, 'the host-side veth is up');
    }
  });
}
