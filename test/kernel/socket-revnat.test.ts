// The record of a translated socket with one peer, on the real kernel: kept in its slot of
// slb_revnat_sk (an array indexed by socket cookie, so a connect allocates nothing), the slot
// freed when the socket closes, and the record in socket storage only when another socket holds
// the slot. Hundreds of sockets at once, half of them
// connected through the VIP and half straight to a backend's own address:port, which is the
// same address the translated ones really talk to; getpeername() tells them apart.
import t from 'tap';
import { closeFd, openPinned } from '../../src/bpf/bpf-object.js';
import { TypedMap } from '../../src/bpf/typed-map.js';
import { REVNAT_SK_MAP, REVNAT_SK_SLOTS, slotIndexLayout, sockRevnatSlotLayout } from '../../src/datapath/revnat-maps.js';
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
  const slots = new TypedMap(REVNAT_SK_MAP, fd, slotIndexLayout, sockRevnatSlotLayout);
  const claimed = (): number => slots.entries().filter(([, v]) => v.cookie !== 0n).length;

  t.test('translated and direct sockets side by side: each reports its own peer, and no record outlives its socket', async (t) => {
    const before = maps.maps.counters();
    // Each worker keeps one socket for all its requests, so a probe's sockets are open together
    // for the whole run (a request every 200 ms for 4 s).
    const run = { count: 1_000_000, durationMs: 4000, intervalMs: 200, timeoutMs: 3000 };
    const probes = [
      { what: 'TCP through the VIP', mode: 'tcp-persistent', host: VIP, port: 80, concurrency: 150, peer: `${VIP}:80` },
      { what: 'TCP straight to the backend', mode: 'tcp-persistent', host: backend, port: 8080, concurrency: 150, peer: `${backend}:8080` },
      { what: 'TCP v4-mapped through the VIP', mode: 'tcp-persistent', host: `::ffff:${VIP}`, port: 80, concurrency: 50, peer: `::ffff:${VIP}:80` },
      { what: 'TCP v4-mapped straight to the backend', mode: 'tcp-persistent', host: `::ffff:${backend}`, port: 8080, concurrency: 50, peer: `::ffff:${backend}:8080` },
      { what: 'connected UDP through the VIP', mode: 'udp-connected', host: VIP, port: 53, concurrency: 30, peer: `${VIP}:53` },
      { what: 'connected UDP straight to the backend', mode: 'udp-connected', host: backend, port: 5353, concurrency: 30, peer: `${backend}:5353` },
    ] as const;
    const running = Promise.all(probes.map(({ what: _, peer: __, ...p }) => lab.probe({ ...run, ...p })));
    let seen = 0;
    await eventually(
      () => (seen = Math.max(seen, claimed())) >= 200,
      8000,
      () => `${claimed()} slots claimed while the sockets are open`,
    );
    const results = await running;
    probes.forEach(({ what, peer }, i) => {
      const r = results[i]!;
      t.ok(r.ok >= 2 * probes[i]!.concurrency, `${what}: ${r.ok} requests (errors ${JSON.stringify(r.errors)})`);
      // A UDP request lost under load is retried on a fresh socket, which is no harm here.
      t.same(Object.keys(r.peers), [peer], `${what}: every socket reports ${peer} as its peer`);
    });
    t.comment(`up to ${seen} slots claimed at once`);
    await eventually(() => claimed() === 0, 5000, () => `${claimed()} slots still claimed after every socket closed`);
    t.pass('every slot was freed with its socket (sock_release)');
    const after = maps.maps.counters();
    t.equal(after.sock_revnat_fallback - before.sock_revnat_fallback, 0n, 'none went to socket storage');
  });

  t.test('with every slot held by another socket, records go to socket storage and nothing changes for the sockets', async (t) => {
    // Cookies no socket has (real ones count up from 1) in every slot.
    const rec = { vip: '10.96.0.99', backend: '10.250.0.1', vip_port: 1, backend_port: 1 };
    const fill = (cookie: (i: number) => bigint) => Array.from({ length: REVNAT_SK_SLOTS }, (_, i) => [{ index: i }, { cookie: cookie(i), rec }] as const);
    t.teardown(() => slots.setMany(fill(() => 0n)));
    const written = slots.setMany(fill((i) => (1n << 62n) + BigInt(i)));
    t.notOk(written.error, `every slot is held (${claimed()})`);
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
    t.equal(claimed(), REVNAT_SK_SLOTS, 'and no socket freed a slot it did not hold');
  });
});
