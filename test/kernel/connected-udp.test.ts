// Connected UDP sockets when their backend leaves the service: socklb destroys the sockets it
// connected through a (VIP, backend) pair that is gone, so a client that reconnects on an error
// (as resolvers do) moves to a live backend; sockets it did not translate are left alone.
import t, { type Test } from 'tap';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import type { ProbeRequest } from '../../src/lab/probe-client.js';
import { KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const VIP = '10.96.0.53';
const REQUESTS_EVERY_MS = 20;

t.test('connected UDP sockets follow their service', async (t) => {
  const lab = await KernelLab.create(t, ['be-a', 'be-b'], [5353]);
  const dns = service('ns', 'dns', [VIP], [{ port: 53, targetPort: 5353, protocol: 'UDP' }]);
  const endpoints = (...pods: string[]): unknown[] => [dns, endpointSlice('ns', 'dns-1', 'dns', 'IPv4', [{ port: 5353, protocol: 'UDP' }], pods.map((p) => lab.pod(p).ipv4))];
  lab.writeServices(endpoints('be-a'));
  const agent = lab.startAgent();
  await agent.nextSync();
  const maps = openPinnedDatapath(lab.bpffs);
  t.teardown(() => maps.close());

  /** A resolver-like client on one socket with a fixed source port, sending every 20 ms. */
  const resolver = (sourcePort: number, host = VIP, port = 53): ProbeRequest => ({
    mode: 'udp-connected',
    host,
    port,
    sourcePort,
    count: 1_000_000,
    intervalMs: REQUESTS_EVERY_MS,
    durationMs: 3000,
    timeoutMs: 200,
  });

  /** Starts the client, waits until it is connected to be-a, switches the service to be-b. */
  const switchWhileConnected = async (t: Test, sourcePort: number, beforeSwitch?: () => Promise<void>) => {
    const destroyed = maps.maps.counters().udp_sock_destroyed;
    const running = lab.probe(resolver(sourcePort));
    t.equal(await lab.udpPeerOf('client', sourcePort), `${lab.pod('be-a').ipv4}:5353`, 'the client is connected to be-a');
    await new Promise((r) => setTimeout(r, 300));
    await beforeSwitch?.();
    const synced = agent.nextSync();
    const written = Date.now();
    lab.writeServices(endpoints('be-b'));
    await synced;
    const r = await running;
    return { r, written, destroyed: maps.maps.counters().udp_sock_destroyed - destroyed };
  };

  t.test('the backend leaves the service while its server keeps answering', async (t) => {
    const logged = agent.logs.length;
    const { r, written, destroyed } = await switchWhileConnected(t, 40001);
    const a = r.replyTimes['be-a:5353'];
    const b = r.replyTimes['be-b:5353'];
    t.ok(a, 'be-a answered before the change');
    if (!t.ok(b, `the client reached be-b (replies ${JSON.stringify(r.replies)}, errors ${JSON.stringify(r.errors)})`)) return;
    t.comment(`first reply from be-b ${b.first - written} ms after the services file changed`);
    t.ok(b.first - written < 2000, 'within 2 s of the change');
    t.ok(a!.last < b.first, 'nothing from be-a once be-b answered');
    t.same(r.peers, { [`${VIP}:53`]: r.ok }, 'getpeername and recvfrom report the VIP throughout');
    t.equal(destroyed, 1n, 'one socket destroyed (counter udp_sock_destroyed)');
    t.equal(r.reconnects, 1, 'the client reconnected once');
    const line = await agent.waitForLog((l) => l.msg === 'destroyed connected UDP sockets whose backend left', 5000, logged);
    t.match(line, { destroyed: 1, pairs: 1 });
    t.comment(`the pass took ${(line.durationMs as number).toFixed(1)} ms over ${line.namespaces as number} network namespaces`);
  });

  t.test('a socket connected straight to the backend is not destroyed', async (t) => {
    lab.writeServices(endpoints('be-a'));
    await agent.nextSync();
    const direct = lab.probe(resolver(40002, lab.pod('be-a').ipv4, 5353));
    await lab.udpPeerOf('client', 40002);
    const { r: translated, destroyed } = await switchWhileConnected(t, 40003);
    const r = await direct;
    t.ok(translated.replyTimes['be-b:5353'], 'the translated socket moved to be-b');
    t.equal(destroyed, 1n, 'only the translated socket was destroyed');
    t.same(r.errors, {}, 'the direct socket saw no error');
    t.equal(r.reconnects, 0);
    t.same(Object.keys(r.replies), ['be-a:5353'], 'and kept talking to be-a');
  });

  t.test('the backend pod goes away', async (t) => {
    lab.writeServices(endpoints('be-a'));
    await agent.nextSync();
    const { r, written, destroyed } = await switchWhileConnected(t, 40004, async () => {
      await lab.removePod('be-a');
      await new Promise((r) => setTimeout(r, 300));
    });
    const b = r.replyTimes['be-b:5353'];
    if (!t.ok(b, `the client reached be-b (replies ${JSON.stringify(r.replies)}, errors ${JSON.stringify(r.errors)})`)) return;
    t.comment(`first reply from be-b ${b.first - written} ms after the services file changed (be-a's pod was gone for 300 ms before)`);
    t.ok(b.first - written < 2000, 'within 2 s of the change');
    t.ok(r.errors.ETIMEDOUT! > 0, 'requests timed out while be-a was gone and still the backend');
    t.equal(destroyed, 1n);
  });
});
