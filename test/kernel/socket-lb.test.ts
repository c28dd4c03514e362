// The socket hooks on the real kernel: real sockets in network namespaces, the agent CLI
// fed a services file, and servers that say who answered.
import t from 'tap';
import { byBackend, KernelLab } from '../helpers/kernel-lab.js';
import { dualStackSlices, endpointSlice, service } from '../helpers/k8s-fixtures.js';

const BACKENDS = ['be-1', 'be-2', 'be-3'];

t.test('socket load balancing', async (t) => {
  const lab = await KernelLab.create(t, BACKENDS, [8080, 9090, 5353]);
  lab.writeServices([
    service(
      'ns',
      'web',
      ['10.96.0.10', 'fd00:96::10'],
      [
        { name: 'http', port: 80, targetPort: 'http-alt' },
        { name: 'admin', port: 81, targetPort: 9090 },
        { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' },
      ],
    ),
    ...dualStackSlices(
      'ns',
      'web',
      [
        { name: 'http', port: 8080 },
        { name: 'admin', port: 9090 },
        { name: 'dns', port: 5353, protocol: 'UDP' },
      ],
      BACKENDS.map((b) => lab.pod(b)),
    ),
    service('ns', 'empty', ['10.96.0.20', 'fd00:96::20'], [{ port: 80 }, { port: 53, protocol: 'UDP', name: 'dns' }]),
    endpointSlice('ns', 'empty-1', 'empty', 'IPv4', [{ port: 80 }], [{ address: lab.pod(BACKENDS[0]!).ipv4, ready: false, serving: false }]),
  ]);
  const agent = lab.startAgent();
  const synced = await agent.nextSync();
  t.match(synced, { frontendsAdded: 10, errors: 0 }, 'ten frontends: 3 ports x 2 families for web, 2 x 2 for empty');

  t.test('TCP connections to a VIP spread over the three backends', async (t) => {
    const r = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 80, count: 300, concurrency: 4 });
    t.equal(r.ok, 300, `all 300 connections answered (errors: ${JSON.stringify(r.errors)})`);
    const spread = byBackend(r);
    t.same(Object.keys(spread).sort(), BACKENDS);
    for (const b of BACKENDS) t.ok(spread[b]! >= 45, `${b} got ${spread[b]} of 300 (at least 15%)`);
    t.same(
      Object.keys(r.replies).map((x) => x.split(':')[1]),
      ['8080', '8080', '8080'],
      'to the named targetPort',
    );
    t.same(r.peers, { '10.96.0.10:80': 300 }, 'getpeername() reports the VIP, not the backend');
  });

  t.test('several ports: each goes to its own target port', async (t) => {
    const r = await lab.probe({ mode: 'tcp', host: '10.96.0.10', port: 81, count: 30 });
    t.equal(r.ok, 30);
    t.same([...new Set(Object.keys(r.replies).map((x) => x.split(':')[1]))], ['9090']);
  });

  t.test('unconnected UDP: sendto(VIP) reaches a backend and recvfrom reports the VIP', async (t) => {
    const r = await lab.probe({ mode: 'udp', host: '10.96.0.10', port: 53, count: 60 });
    t.equal(r.ok, 60, `errors: ${JSON.stringify(r.errors)}`);
    t.same(r.peers, { '10.96.0.10:53': 60 });
    t.ok(Object.keys(byBackend(r)).length >= 2, 'datagrams are balanced');
    t.same([...new Set(Object.keys(r.replies).map((x) => x.split(':')[1]))], ['5353']);
  });

  t.test('connected UDP: one backend per socket, getpeername and recv report the VIP', async (t) => {
    const r = await lab.probe({ mode: 'udp-connected', host: '10.96.0.10', port: 53, count: 40, concurrency: 4 });
    t.equal(r.ok, 40, `errors: ${JSON.stringify(r.errors)}`);
    t.same(r.peers, { '10.96.0.10:53': 40 });
  });

  t.test('IPv6', async (t) => {
    const tcp = await lab.probe({ mode: 'tcp', host: 'fd00:96::10', port: 80, count: 60, concurrency: 2 });
    t.equal(tcp.ok, 60);
    t.same(Object.keys(byBackend(tcp)).sort(), BACKENDS);
    t.same(tcp.peers, { 'fd00:96::10:80': 60 });
    const udp = await lab.probe({ mode: 'udp', host: 'fd00:96::10', port: 53, count: 20 });
    t.same(udp.peers, { 'fd00:96::10:53': 20 });
    const connected = await lab.probe({ mode: 'udp-connected', host: 'fd00:96::10', port: 53, count: 10 });
    t.same(connected.peers, { 'fd00:96::10:53': 10 });
  });

  t.test('an IPv4 service reached from IPv6 sockets through v4-mapped addresses', async (t) => {
    const tcp = await lab.probe({ mode: 'tcp', host: '::ffff:10.96.0.10', port: 80, count: 60, concurrency: 2 });
    t.equal(tcp.ok, 60);
    t.same(Object.keys(byBackend(tcp)).sort(), BACKENDS);
    t.same(tcp.peers, { '::ffff:10.96.0.10:80': 60 });
    const udp = await lab.probe({ mode: 'udp', host: '::ffff:10.96.0.10', port: 53, count: 20 });
    t.same(udp.peers, { '::ffff:10.96.0.10:53': 20 });
  });

  t.test('a service without usable endpoints refuses at once (ECONNREFUSED), it never hangs', async (t) => {
    for (const host of ['10.96.0.20', 'fd00:96::20']) {
      const r = await lab.probe({ mode: 'tcp', host, port: 80, count: 5, timeoutMs: 3000 });
      t.same(r.errors, { ECONNREFUSED: 5 }, `TCP to ${host}`);
      t.ok(r.elapsedMs < 1000, `5 refusals took ${r.elapsedMs} ms (an untranslated VIP would hang: its route is a blackhole)`);
      const u = await lab.probe({ mode: 'udp', host, port: 53, count: 2, timeoutMs: 3000 });
      t.same(u.errors, { ECONNREFUSED: 2 }, `UDP sendto ${host}`);
    }
  });

  t.test('an address that is no service is left alone', async (t) => {
    const r = await lab.probe({ mode: 'tcp', host: lab.pod('be-2').ipv4, port: 8080, count: 5 });
    t.same(byBackend(r), { 'be-2': 5 });
    t.same(r.peers, { [`${lab.pod('be-2').ipv4}:8080`]: 5 });
  });
});
