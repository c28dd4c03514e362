// The record of a translated socket with one peer, on the real kernel: kept by socket cookie in
// slb_revnat_sk (preallocated, so a connect allocates nothing), removed when the socket closes,
// and in socket storage only when that map is full. Hundreds of sockets at once, half of them
// connected through the VIP and half straight to a backend's own address:port, which is the
// same address the translated ones really talk to; getpeername() tells them apart.
import t from 'tap';
import { closeFd, openPinned } from '../../src/bpf/bpf-object.js';
import { TypedMap } from '../../src/bpf/typed-map.js';
import { REVNAT_SK_CAPACITY, REVNAT_SK_MAP, socketCookieLayout, sockRevnatLayout } from '../../src/datapath/revnat-maps.js';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import { eventually, KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const VIP = '10.96.0.10';

t.test('records of translated sockets', async (t) => {
  const lab = await KernelLab.create(t, ['be-1'], [8080, 5353]);
  const backend = lab.pod('be-1').ipv4;
  lab.writeServices([
    service('ns', 'web', [VIP], [
      { name: 'http', port: 80, targetPort: 8080 },
      { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' },
    ]),
    endpointSlice('ns', 'web-1', 'web', 'IPv4', [{ name: 'http', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }], [backend]),
  ]);
  const agent = lab.startAgent();
  await agent.nextSync();
  const maps = openPinnedDatapath(lab.bpffs);
  const fd = openPinned(`${lab.bpffs}/maps/${REVNAT_SK_MAP}`);
  t.teardown(() => {
    maps.close();
    closeFd(fd);
  });
  const records = new TypedMap(REVNAT_SK_MAP, fd, socketCookieLayout, sockRevnatLayout);

  t.test('translated and direct sockets side by side: each reports its own peer, and no record outlives its socket', async (t) => {
    const before = maps.maps.counters();
    // Each worker keeps one socket for its requests, so a probe's sockets are open together.
    const tcp = { mode: 'tcp-persistent' as const, count: 600, concurrency: 150, intervalMs: 100, timeoutMs: 10_000 };
    const udp = { mode: 'udp-connected' as const, count: 400, concurrency: 100, intervalMs: 100, timeoutMs: 10_000 };
    const running = Promise.all([
      lab.probe({ ...tcp, host: VIP, port: 80 }),
      lab.probe({ ...tcp, host: backend, port: 8080 }),
      lab.probe({ ...tcp, host: `::ffff:${VIP}`, port: 80, concurrency: 50, count: 200 }),
      lab.probe({ ...tcp, host: `::ffff:${backend}`, port: 8080, concurrency: 50, count: 200 }),
      lab.probe({ ...udp, host: VIP, port: 53 }),
      lab.probe({ ...udp, host: backend, port: 5353 }),
    ]);
    let seen = 0;
    await eventually(
      () => (seen = Math.max(seen, records.count())) >= 200,
      10_000,
      () => `${records.count()} records while the sockets are open`,
    );
    const [viaVip, direct, viaVip6, direct6, udpViaVip, udpDirect] = await running;
    for (const [r, what] of [
      [viaVip, 'TCP'],
      [direct, 'TCP direct'],
      [viaVip6, 'TCP v4-mapped'],
      [direct6, 'TCP v4-mapped direct'],
      [udpViaVip, 'connected UDP'],
      [udpDirect, 'connected UDP direct'],
    ] as const)
      t.same(r.errors, {}, `${what}: no failed request`);
    t.same(viaVip.peers, { [`${VIP}:80`]: 600 }, 'through the VIP: getpeername() is the VIP');
    t.same(direct.peers, { [`${backend}:8080`]: 600 }, 'straight to the backend: its real peer');
    t.same(viaVip6.peers, { [`::ffff:${VIP}:80`]: 200 });
    t.same(direct6.peers, { [`::ffff:${backend}:8080`]: 200 });
    t.same(udpViaVip.peers, { [`${VIP}:53`]: 400 }, 'connected UDP through the VIP: getpeername() and recvfrom() agree on the VIP');
    t.same(udpDirect.peers, { [`${backend}:5353`]: 400 });
    t.comment(`up to ${seen} records at once`);
    await eventually(() => records.count() === 0, 5000, () => `${records.count()} records left after every socket closed`);
    t.pass('every record left with its socket (sock_release)');
    const after = maps.maps.counters();
    t.equal(after.sock_revnat_fallback - before.sock_revnat_fallback, 0n, 'none went to socket storage');
  });

  t.test('with the cookie map full, records go to socket storage and nothing changes for the sockets', async (t) => {
    // Entries of cookies no socket has (real ones count up from 1).
    const fake = (i: number): bigint => (1n << 62n) + BigInt(i);
    const fill = Array.from({ length: REVNAT_SK_CAPACITY }, (_, i) => [{ cookie: fake(i) }, { vip: '10.96.0.99', backend: '10.250.0.1', vip_port: 1, backend_port: 1 }] as const);
    t.teardown(() => records.deleteMany(fill.map(([k]) => k)));
    const written = records.setMany(fill);
    t.notOk(written.error, `the map is full (${records.count()} entries)`);
    const before = maps.maps.counters();
    const tcp = await lab.probe({ mode: 'tcp', host: VIP, port: 80, count: 40 });
    // udp-connected: one socket per worker for all its requests.
    const udp = await lab.probe({ mode: 'udp-connected', host: VIP, port: 53, count: 20, concurrency: 4 });
    const direct = await lab.probe({ mode: 'tcp', host: backend, port: 8080, count: 10 });
    t.same(tcp.peers, { [`${VIP}:80`]: 40 }, 'TCP through the VIP still reports the VIP');
    t.same(udp.peers, { [`${VIP}:53`]: 20 }, 'so does connected UDP');
    t.same(direct.peers, { [`${backend}:8080`]: 10 }, 'and a direct socket its real peer');
    const after = maps.maps.counters();
    t.equal(after.sock_revnat_fallback - before.sock_revnat_fallback, 44n, 'each translated socket (40 TCP, 4 UDP) counted as kept in socket storage');
  });
});
