// Conntrack mode on the real kernel: the agent in the node namespace puts the tc programs on
// the pods' interfaces, real connections to a VIP are DNATed per packet and their replies
// reverse-NATed, each flow leaves conntrack entries in socklb's table (and none in the
// kernel's), a port the service does not have is refused (a TCP reset, an ICMP port
// unreachable), pods that appear later are picked up, and a restart in socket mode takes the tc
// programs and the conntrack table away while the services keep working.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { inNetns } from '../../src/bpf/netns.js';
import { closeFd, openPinned } from '../../src/bpf/bpf-object.js';
import { TypedMap } from '../../src/bpf/typed-map.js';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import { CT_DIRECTION, CT_MAP, ctEntryLayout, ctKeyLayout } from '../../src/datapath/ct-map.js';
import { pinName } from '../../src/datapath/map-layouts.js';
import { interfacesWithTcFilters } from '../../src/datapath/tc-datapath.js';
import { runProbe } from '../../src/lab/lab-processes.js';
import { run } from '../../src/lab/command.js';
import { SERVICE_CIDR_V4, SERVICE_CIDR_V6 } from '../../src/lab/pod-network.js';
import { byBackend, eventually, KernelLab } from '../helpers/kernel-lab.js';
import { dualStackSlices, service } from '../helpers/k8s-fixtures.js';

const BACKENDS = ['be-1', 'be-2'];

function ctEntries(bpffs: string): { forward: number; reply: number } {
  const fd = openPinned(join(bpffs, 'maps', pinName(CT_MAP)));
  try {
    const entries = new TypedMap(CT_MAP, fd, ctKeyLayout, ctEntryLayout).entries();
    return { forward: entries.filter(([k]) => k.direction === CT_DIRECTION.forward).length, reply: entries.filter(([k]) => k.direction === CT_DIRECTION.reply).length };
  } finally {
    closeFd(fd);
  }
}

t.test('conntrack mode', async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080, 5353]);
  const ports = [
    { name: 'http', port: 80, targetPort: 8080 },
    { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' as const },
  ];
  const slicePorts = [
    { name: 'http', port: 8080 },
    { name: 'dns', port: 5353, protocol: 'UDP' as const },
  ];
  lab.writeServices([
    service('ns', 'web', ['10.96.0.10', 'fd00:96::10'], ports),
    ...dualStackSlices(
      'ns',
      'web',
      slicePorts,
      BACKENDS.map((b) => lab.pod(b)),
    ),
  ]);
  // Told the service CIDRs: packets to them go straight to the flow and frontend lookups.
  const agent = lab.startAgent(['--services', lab.servicesFile, '--service-cidrs', [SERVICE_CIDR_V4, SERVICE_CIDR_V6].join(',')], { mode: 'conntrack', inNodeNetns: true });
  const installed = await agent.waitForLog((l) => l.msg === 'datapath installed');
  t.match(installed, { mode: 'conntrack' });
  t.equal((installed.attached as string[]).length, 3, 'on the host side of the three pods');
  await agent.nextSync();

  t.test('TCP over IPv4 and IPv6: balanced per connection, replies carry the VIP', async (t) => {
    for (const host of ['10.96.0.10', 'fd00:96::10']) {
      const r = await lab.probe({ mode: 'tcp', host, port: 80, count: 200, concurrency: 4 });
      t.equal(r.ok, 200, `${host}: all answered (errors ${JSON.stringify(r.errors)})`);
      const spread = byBackend(r);
      for (const b of BACKENDS) t.ok((spread[b] ?? 0) >= 40, `${host}: ${b} got ${spread[b]}`);
      t.same(Object.keys(r.peers), [`${host}:80`], 'getpeername says VIP: the SYN-ACK came back reverse-NATed');
    }
  });

  t.test('UDP: answers come from the VIP', async (t) => {
    const r = await lab.probe({ mode: 'udp', host: '10.96.0.10', port: 53, count: 100, concurrency: 2 });
    t.equal(r.ok, 100, JSON.stringify(r.errors));
    t.same(Object.keys(r.peers), ['10.96.0.10:53']);
  });

  t.test("every flow is in socklb's conntrack table, none in the kernel's", async (t) => {
    const ct = ctEntries(lab.bpffs);
    // 400 TCP connections closed less than 10 s ago, plus the UDP flows (one per worker).
    t.ok(ct.forward >= 400, `forward entries: ${ct.forward}`);
    t.equal(ct.reply, ct.forward, 'one reply entry per flow');
    const kernel = run('ip', ['netns', 'exec', lab.net.nodeNetns, 'cat', '/proc/sys/net/netfilter/nf_conntrack_count']).trim();
    t.equal(kernel, '0', 'the node kernel tracked nothing');
    t.same(lab.listLinks(), [], 'no socket programs are attached');
  });

  t.test('a port the service does not have: TCP connects are reset, connected UDP is refused, at once', async (t) => {
    const dp = openPinnedDatapath(lab.bpffs);
    t.teardown(() => dp.close());
    const before = dp.maps.counters().port_refused;
    for (const host of ['10.96.0.10', 'fd00:96::10']) {
      // Without the answer, the SYN would go on to the node's blackhole route: a 3 s timeout.
      const tcp = await lab.probe({ mode: 'tcp', host, port: 9999, count: 5, timeoutMs: 3000 });
      t.same(tcp.errors, { ECONNREFUSED: 5 }, `TCP ${host}:9999: the client's connect() failed with ECONNREFUSED (a reset)`);
      t.ok(tcp.elapsedMs < 1000, `5 connects refused in ${tcp.elapsedMs} ms`);
      // The ICMP error reaches a connected socket, whose next recv fails (an unconnected
      // socket's kernel ignores it, as with any host's port unreachable).
      const udp = await lab.probe({ mode: 'udp-connected', host, port: 9999, count: 3, timeoutMs: 3000 });
      t.same(udp.errors, { ECONNREFUSED: 3 }, `UDP ${host}:9999: recv failed with ECONNREFUSED (a port unreachable)`);
      t.ok(udp.elapsedMs < 1000, `3 datagrams refused in ${udp.elapsedMs} ms`);
      const tcpOnUdpPort = await lab.probe({ mode: 'tcp', host, port: 53, count: 2, timeoutMs: 3000 });
      t.same(tcpOnUdpPort.errors, { ECONNREFUSED: 2 }, `TCP ${host}:53, a port the service has for UDP only`);
    }
    t.equal(dp.maps.counters().port_refused - before, 2n * (5n + 3n + 2n), 'each refused packet counted as port_refused');
  });

  t.test('an address in the service CIDR that no service has passes untranslated', async (t) => {
    const dp = openPinnedDatapath(lab.bpffs);
    t.teardown(() => dp.close());
    const holder = lab.pod('be-2');
    for (const [address, via] of [
      ['10.96.0.77', holder.ipv4],
      ['fd00:96::77', holder.ipv6],
    ] as const) {
      const family = address.includes(':') ? ['-6'] : [];
      run('ip', ['-n', holder.netns, ...family, 'addr', 'add', address, 'dev', 'eth0', ...(family.length ? ['nodad'] : [])]);
      run('ip', ['-n', lab.net.nodeNetns, ...family, 'route', 'add', address, 'via', via]);
      const before = dp.maps.counters().port_refused;
      const r = await lab.probe({ mode: 'tcp', host: address, port: 8080, count: 5, timeoutMs: 3000 });
      t.same(byBackend(r), { 'be-2': 5 }, `connect ${address}:8080 reaches the pod that holds it (errors: ${JSON.stringify(r.errors)})`);
      t.same(r.peers, { [`${address}:8080`]: 5 }, 'untranslated');
      t.equal(dp.maps.counters().port_refused - before, 0n, 'not refused');
    }
  });

  t.test('a pod created after the agent started is picked up', async (t) => {
    lab.net.addPod('late');
    const picked = await agent.waitForLog((l) => l.msg === 'pod interfaces changed', 10_000);
    t.equal((picked.attached as string[]).length, 1);
    const r = await runProbe(lab.net, 'late', { mode: 'tcp', host: '10.96.0.10', port: 80, count: 20 });
    t.equal(r.ok, 20);
  });

  t.test('a restart in socket mode removes the tc programs and the conntrack table', async (t) => {
    await agent.stop();
    // Where the pods' interfaces are, as the DaemonSet's agent (hostNetwork) would be.
    const socket = lab.startAgent(undefined, { mode: 'socket', inNodeNetns: true });
    t.match(await socket.waitForLog((l) => l.msg === 'datapath installed'), { mode: 'socket' });
    t.equal(inNetns(lab.net.nodeNetnsPath, () => interfacesWithTcFilters()).length, 0, 'no interface keeps a socklb filter');
    t.notOk(existsSync(join(lab.bpffs, 'maps', pinName(CT_MAP))), 'the conntrack table is unpinned');
    await eventually(
      () => socket.logs.some((l) => l.msg === 'synced'),
      10_000,
      () => 'first sync',
    );
    const r = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 50 });
    t.equal(r.ok, 50, 'the services work on');
    t.same(r.peers, { '10.96.0.10:80': 50 });
  });
});
