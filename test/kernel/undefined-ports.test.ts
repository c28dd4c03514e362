// Socket mode on the real kernel: a service address refuses, at connect() or sendto(), every
// port and protocol no service defines on it, as kube-proxy's nftables mode rejects them.
// Without that, such a connect leaves untranslated: in this lab the service range is a
// blackhole (a timeout), on a node it may reach whatever holds the address, as here a pod
// that also holds an address which is a service's cluster IP.
// Twice: without --service-cidrs (the programs ask slb_vips first for every address) and with
// them (inside the ranges the frontend is looked up first, service_ranges_map.h): the verdicts
// must not differ.
import t, { type Test } from 'tap';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import { run } from '../../src/lab/command.js';
import type { ProbeRequest } from '../../src/lab/probe-client.js';
import { SERVICE_CIDR_V4, SERVICE_CIDR_V6 } from '../../src/lab/pod-network.js';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { dualStackSlices, service, type PortSpec } from '../helpers/k8s-fixtures.js';

const BACKENDS = ['be-1', 'be-2'];
/** Addresses in the service range that pod be-2 also holds, routed to it by the node. */
const HELD = ['10.96.0.77', 'fd00:96::77'];
/** Refusals happen in the connect()/sendto() call: far below any timeout. */
const AT_ONCE_MS = 1000;

for (const ranges of [false, true]) t.test(`ports a service does not define (${ranges ? 'with' : 'without'} --service-cidrs)`, async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080, 5353]);
  const holder = lab.pod('be-2');
  for (const [address, via] of [
    [HELD[0]!, holder.ipv4],
    [HELD[1]!, holder.ipv6],
  ] as const) {
    const family = address.includes(':') ? ['-6'] : [];
    run('ip', ['-n', holder.netns, ...family, 'addr', 'add', address, 'dev', 'eth0', ...(family.length ? ['nodad'] : [])]);
    run('ip', ['-n', lab.net.nodeNetns, ...family, 'route', 'add', address, 'via', via]);
  }
  const webPorts: PortSpec[] = [
    { name: 'http', port: 80, targetPort: 8080 },
    { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' },
    { name: 'dns-alt', port: 54, targetPort: 5353, protocol: 'UDP' },
  ];
  const web = (ports: PortSpec[]): Record<string, unknown>[] => [
    service('ns', 'web', ['10.96.0.10', 'fd00:96::10'], ports),
    ...dualStackSlices(
      'ns',
      'web',
      ports.map((p) => ({ name: p.name, port: p.targetPort as number, protocol: p.protocol })),
      [lab.pod('be-1')],
    ),
  ];
  const held = [service('ns', 'held', HELD, [{ name: 'http', port: 80, targetPort: 8080 }]), ...dualStackSlices('ns', 'held', [{ name: 'http', port: 8080 }], [lab.pod('be-1')])];
  lab.writeServices([...web(webPorts), ...held]);
  const agent = lab.startAgent(['--services', lab.servicesFile, ...(ranges ? ['--service-cidrs', [SERVICE_CIDR_V4, SERVICE_CIDR_V6].join(',')] : [])]);
  t.match(await agent.nextSync(), { frontendsAdded: 8, errors: 0, vips: 4 });
  const dp = openPinnedDatapath(lab.bpffs);
  t.teardown(() => dp.close());
  const refused = (): bigint => dp.maps.counters().port_refused;

  /** Runs the probe, expects every request refused well within AT_ONCE_MS, counted by the programs. */
  const expectRefused = async (t: Test, req: ProbeRequest, what: string): Promise<void> => {
    const before = refused();
    const r = await lab.probe({ timeoutMs: 1500, ...req });
    t.same(r.errors, { ECONNREFUSED: req.count }, `${what}: ECONNREFUSED`);
    t.ok(r.elapsedMs < AT_ONCE_MS, `${what}: ${req.count} refused in ${r.elapsedMs} ms (${(r.elapsedMs / req.count).toFixed(1)} ms each)`);
    t.equal(refused() - before, BigInt(req.count), `${what}: counted as port_refused`);
  };

  t.test('TCP to a port the service does not define is refused at once', async (t) => {
    for (const host of ['10.96.0.10', 'fd00:96::10', '::ffff:10.96.0.10']) {
      await expectRefused(t, { mode: 'tcp', host, port: 9999, count: 10 }, `connect ${host}:9999`);
      await expectRefused(t, { mode: 'tcp', host, port: 53, count: 3 }, `connect ${host}:53, a port the service has for UDP only`);
    }
  });

  t.test('UDP to a port the service does not define is refused at sendto and connect', async (t) => {
    for (const host of ['10.96.0.10', 'fd00:96::10', '::ffff:10.96.0.10']) {
      await expectRefused(t, { mode: 'udp', host, port: 9999, count: 5 }, `sendto ${host}:9999`);
      await expectRefused(t, { mode: 'udp-connected', host, port: 9999, count: 3 }, `UDP connect ${host}:9999`);
      await expectRefused(t, { mode: 'udp', host, port: 80, count: 3 }, `sendto ${host}:80, a port the service has for TCP only`);
    }
  });

  t.test('the ports the service defines work as before', async (t) => {
    for (const host of ['10.96.0.10', 'fd00:96::10']) {
      const tcp = await lab.probe({ mode: 'tcp', host, port: 80, count: 20 });
      t.same(byBackend(tcp), { 'be-1': 20 }, `TCP ${host}:80 (errors: ${JSON.stringify(tcp.errors)})`);
      for (const port of [53, 54]) {
        const udp = await lab.probe({ mode: 'udp', host, port, count: 10 });
        t.same(byBackend(udp), { 'be-1': 10 }, `UDP ${host}:${port} (errors: ${JSON.stringify(udp.errors)})`);
      }
    }
  });

  t.test('a service address a pod also holds: only its service ports are reached', async (t) => {
    for (const host of HELD) {
      await expectRefused(t, { mode: 'tcp', host, port: 8080, count: 5 }, `connect ${host}:8080 (be-2 listens there)`);
      t.same(byBackend(await lab.probe({ mode: 'tcp', host, port: 80, count: 5 })), { 'be-1': 5 }, `${host}:80 goes to the service's endpoint`);
    }
  });

  t.test('a UDP port removed from the service is refused afterwards', async (t) => {
    const synced = agent.nextSync();
    lab.writeServices([...web(webPorts.filter((p) => p.port !== 54)), ...held]);
    t.match(await synced, { frontendsRemoved: 2, errors: 0 });
    for (const host of ['10.96.0.10', 'fd00:96::10']) {
      await expectRefused(t, { mode: 'udp', host, port: 54, count: 5 }, `sendto ${host}:54 after its removal`);
      t.same(byBackend(await lab.probe({ mode: 'udp', host, port: 53, count: 10 })), { 'be-1': 10 }, `UDP ${host}:53 still served`);
    }
  });

  t.test('an address whose last service is removed is left alone again', async (t) => {
    const synced = agent.nextSync();
    lab.writeServices(web(webPorts));
    t.match(await synced, { frontendsRemoved: 2, errors: 0, vips: 2 });
    for (const host of HELD) {
      const before = refused();
      const r = await lab.probe({ mode: 'tcp', host, port: 8080, count: 5 });
      t.same(byBackend(r), { 'be-2': 5 }, `connect ${host}:8080 reaches the pod that holds the address (errors: ${JSON.stringify(r.errors)})`);
      t.same(r.peers, { [`${host}:8080`]: 5 }, 'untranslated');
      t.equal(refused() - before, 0n);
    }
    const plain = await lab.probe({ mode: 'tcp', host: holder.ipv4, port: 8080, count: 5 });
    t.same(byBackend(plain), { 'be-2': 5 }, "and a pod's own address, which never was a service, is untouched too");
  });
});
