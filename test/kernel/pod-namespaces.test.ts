// The agent's map from a socket's network namespace cookie to the pod it belongs to: every
// namespace of the cgroup's processes with the cookie the socket programs see (checked against
// the cookie slb_connect4 wrote into the session-affinity map for the client's connection) and
// the pod's addresses.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openPinned } from '../../src/bpf/bpf-object.js';
import { TypedMap } from '../../src/bpf/typed-map.js';
import { AFFINITY_MAP, affinityKeyLayout, affinityValueLayout } from '../../src/datapath/affinity-maps.js';
import { mapDir } from '../../src/datapath/datapath-object.js';
import { pinName } from '../../src/datapath/map-layouts.js';
import { scanPodNamespaces } from '../../src/datapath/pod-namespaces.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { SocketHooks, type SocketHooksComponent } from '../../src/datapath/socket-hooks.js';
import { uninstallSockDatapath } from '../../src/datapath/sock-datapath.js';
import { runProbe, startBackend } from '../../src/lab/lab-processes.js';
import { PodNetwork } from '../../src/lab/pod-network.js';

t.test('pod network namespaces: cookies as the socket programs see them, and the pods’ addresses', async (t) => {
  const net = PodNetwork.create();
  const bpffs = net.labRun.bpffs('test');
  let hooks: SocketHooksComponent | undefined;
  t.teardown(async () => {
    hooks?.close();
    if (existsSync(bpffs)) uninstallSockDatapath(bpffs);
    await net.destroy();
  });
  const client = net.addPod('client');
  const other = net.addPod('other');
  const be = net.addPod('be-1');
  await startBackend(net, 'be-1', [8080]);
  // Long-lived processes of two pods in the run's cgroup, as a pod's containers are.
  for (const pod of ['client', 'other']) net.spawn(pod, 'sleep', ['60'], { inCgroup: true });
  await new Promise((r) => setTimeout(r, 200));

  const scan = scanPodNamespaces(net.cgroup.path);
  t.same(scan.unreadable, []);
  const byAddress = new Map(scan.namespaces.flatMap((ns) => ns.addresses.map((a) => [a, ns] as const)));
  for (const pod of [client, other]) {
    const ns = byAddress.get(pod.ipv4);
    t.ok(ns, `${pod.name}'s namespace found by its IPv4 address`);
    t.same(ns?.addresses.sort(), [pod.ipv4, pod.ipv6].sort(), `${pod.name}: global addresses only (no lo, no link-local)`);
  }
  t.equal(scan.namespaces.length, 2, 'one entry per namespace, not per process');
  t.not(byAddress.get(client.ipv4)?.cookie, byAddress.get(other.ipv4)?.cookie, 'cookies differ between namespaces');
  t.notOk(byAddress.has(be.ipv4), 'a pod with no process in the cgroup is not listed');

  // The cookie the socket programs see: a session-affinity entry is keyed by the client's.
  hooks = SocketHooks.install(bpffs, { cgroup: net.cgroup.path });
  const report = Reconciler.adopt(hooks.maps).apply([
    { frontend: { address: '10.96.0.40', port: 80, protocol: 'TCP' }, backends: [{ address: be.ipv4, port: 8080 }], owner: 'ns/sticky:http', affinityTimeoutSeconds: 60 },
  ]);
  t.same(report.errors, []);
  hooks.attach();
  t.equal((await runProbe(net, 'client', { mode: 'tcp', host: '10.96.0.40', port: 80, count: 3 })).ok, 3);
  const affinity = new TypedMap(AFFINITY_MAP, openPinned(join(mapDir(bpffs), pinName(AFFINITY_MAP))), affinityKeyLayout, affinityValueLayout);
  t.same(
    affinity.entries().map(([k]) => k.netns_cookie),
    [byAddress.get(client.ipv4)!.cookie],
    "slb_connect4 keyed the client's affinity by the cookie the scan read for the client's namespace",
  );
});
