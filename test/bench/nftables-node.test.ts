// kube-proxy's nftables mode carrying real traffic in the lab: a client pod connecting to a VIP
// is DNATed by the node namespace's table to the backend pods, and with the mode switched off
// the VIP is not translated at all. (kube-proxy rejects a VIP without endpoints in the forward
// hook; the lab blackholes the service range at routing, before that hook, so that reject is
// checked on the ruleset in kube-proxy-nftables.test.ts, not here.)
import t from 'tap';
import { installNftablesMode } from '../../src/bench/baselines/nftables-node.js';
import type { DesiredService } from '../../src/model/desired-services.js';
import { labScriptPath } from '../../src/install-paths.js';
import { startBackend, waitForLine } from '../../src/lab/lab-processes.js';
import { PodNetwork } from '../../src/lab/pod-network.js';
import type { ProbeRequest, ProbeResult } from '../../src/lab/probe-client.js';

const VIP = '10.96.0.10';

t.test('a client pod reaches the backends through the VIP only while nftables mode is on', async (t) => {
  const net = PodNetwork.create();
  t.teardown(async () => {
    const problems = await net.destroy();
    if (problems.length > 0) throw new Error(`clean-up: ${problems.join('; ')}`);
  });
  net.addPod('client');
  const backends = [net.addPod('be-1'), net.addPod('be-2')];
  for (const b of backends) await startBackend(net, b.name, [8080]);
  const services: DesiredService[] = [
    ...Array.from({ length: 50 }, (_, i) => ({
      owner: `bench/filler-${i}:http`,
      frontend: { address: `10.96.128.${i}`, port: 80, protocol: 'TCP' as const },
      backends: [{ address: `10.245.0.${i}`, port: 8080 }],
    })),
    { owner: 'lab/web:http', frontend: { address: VIP, port: 80, protocol: 'TCP' }, backends: backends.map((b) => ({ address: b.ipv4, port: 8080 })) },
    { owner: 'lab/web:udp', frontend: { address: VIP, port: 80, protocol: 'UDP' }, backends: backends.map((b) => ({ address: b.ipv4, port: 8080 })) },
    { owner: 'lab/empty:http', frontend: { address: '10.96.0.11', port: 80, protocol: 'TCP' }, backends: [] },
  ];
  const mode = installNftablesMode(net, services);
  t.equal(mode.serviceElements, 52);

  // Outside the run's cgroup: nothing of socklb's sees these sockets, only the node's netfilter.
  const probe = async (req: ProbeRequest): Promise<ProbeResult> => {
    const child = net.spawn('client', process.execPath, [labScriptPath('probe-client'), JSON.stringify(req)], { inCgroup: false });
    return JSON.parse(await waitForLine(child, /^\{/, 30_000, 'probe client')) as ProbeResult;
  };

  mode.enable(true);
  const tcp = await probe({ mode: 'tcp', host: VIP, port: 80, count: 60, timeoutMs: 2000 });
  t.equal(tcp.ok, 60, `every connection answered (errors: ${JSON.stringify(tcp.errors)})`);
  t.same(Object.keys(tcp.replies).sort(), ['be-1:8080', 'be-2:8080'], 'numgen spreads connections over both endpoints');
  t.same(Object.keys(tcp.peers), [`${VIP}:80`], 'the client only ever sees the VIP: the reply is un-DNATed');
  const udp = await probe({ mode: 'udp', host: VIP, port: 80, count: 10, timeoutMs: 2000 });
  t.equal(udp.ok, 10, `UDP through the VIP (errors: ${JSON.stringify(udp.errors)})`);

  mode.enable(false);
  const off = await probe({ mode: 'tcp', host: VIP, port: 80, count: 2, timeoutMs: 700 });
  t.equal(off.ok, 0, 'off: the VIP is not translated (the node blackholes the service range)');
  t.same(off.errors, { ETIMEDOUT: 2 });

  mode.enable(true);
  const again = await probe({ mode: 'tcp', host: VIP, port: 80, count: 5, timeoutMs: 2000 });
  t.equal(again.ok, 5, 'on again: translated again');
});
