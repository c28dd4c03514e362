// The UDP reverse state on the real kernel: an unconnected socket's LRU entries leave with the
// socket, a connected socket's VIP cannot be evicted, and the LRU map's fill and evictions are
// metrics.
import t from 'tap';
import { openPinned, closeFd } from '../../src/bpf/bpf-object.js';
import { TypedMap } from '../../src/bpf/typed-map.js';
import { UDP_REVNAT_CAPACITY, UDP_REVNAT_MAP, revnatValueLayout, udpRevnatKeyLayout, type UdpRevnatKey } from '../../src/datapath/revnat-maps.js';
import { openPinnedDatapath } from '../../src/datapath/sock-datapath.js';
import { eventually, KernelLab } from '../helpers/kernel-lab.js';
import { endpointSlice, service } from '../helpers/k8s-fixtures.js';

const VIP = '10.96.0.53';
/** Services of one endpoint each, on ports nothing listens on: targets for filling the map with real entries. */
const SPRAY_SERVICES = 1200;
const sprayVip = (i: number): string => `10.96.${1 + Math.floor(i / 200)}.${1 + (i % 200)}`;

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name} in:\n${text}`);
  return Number(line.split(' ')[1]);
}

t.test('the UDP reverse map', async (t) => {
  const lab = await KernelLab.create(t, ['be-a', 'be-b'], [5353]);
  const a = lab.pod('be-a').ipv4;
  const udp = (port: number, targetPort: number) => [{ port, targetPort, protocol: 'UDP' as const }];
  lab.writeServices([
    service('ns', 'dns', [VIP], udp(53, 5353)),
    endpointSlice('ns', 'dns-1', 'dns', 'IPv4', [{ port: 5353, protocol: 'UDP' }], [a, lab.pod('be-b').ipv4]),
    ...Array.from({ length: SPRAY_SERVICES }, (_, i) => [
      service('ns', `spray-${i}`, [sprayVip(i)], udp(53, 20000 + i)),
      endpointSlice('ns', `spray-${i}-1`, `spray-${i}`, 'IPv4', [{ port: 20000 + i, protocol: 'UDP' }], [a]),
    ]).flat(),
  ]);
  const agent = lab.startAgent();
  await agent.nextSync(30_000);
  const maps = openPinnedDatapath(lab.bpffs);
  const revnatFd = openPinned(`${lab.bpffs}/maps/${UDP_REVNAT_MAP}`);
  t.teardown(() => {
    maps.close();
    closeFd(revnatFd);
  });
  const revnat = new TypedMap(UDP_REVNAT_MAP, revnatFd, udpRevnatKeyLayout, revnatValueLayout);

  t.test("an unconnected socket's entries leave with it", async (t) => {
    const before = maps.maps.counters();
    const running = lab.probe({ mode: 'udp', host: VIP, port: 53, count: 1_000_000, intervalMs: 20, durationMs: 1500, concurrency: 2 });
    await eventually(() => revnat.count() >= 2, 5000, () => `${revnat.count()} entries while the sockets send`);
    t.same([...new Set(revnat.entries().map(([, v]) => `${v.address}:${v.port}`))], [`${VIP}:53`], 'entries map backends to the VIP');
    const r = await running;
    t.ok(r.ok > 20, `${r.ok} exchanges`);
    t.same(r.peers, { [`${VIP}:53`]: r.ok });
    t.equal(revnat.count(), 0, 'no entry is left once the sockets closed');
    const after = maps.maps.counters();
    const created = after.udp_revnat_created - before.udp_revnat_created;
    t.ok(created >= 2n && created <= 4n, `${created} entries created: one per socket and backend`);
    t.equal(after.udp_revnat_removed - before.udp_revnat_removed, created, 'each removed by the sock_release hook');
  });

  t.test('a connected socket keeps its VIP outside the LRU map, and reports it after the map was filled by others', async (t) => {
    const running = lab.probe({ mode: 'udp-connected', host: VIP, port: 53, sourcePort: 41001, count: 100, intervalMs: 2000, durationMs: 7000, timeoutMs: 1000 });
    await lab.udpPeerOf('client', 41001);
    // In the LRU map an idle socket's entry can be evicted by other sockets' entries; in its
    // socket storage it cannot. (This kernel's LRU protects a recently used entry well: neither
    // the fill below nor a million real exchanges on both CPUs evicted one in trials, so the
    // placement is what this test can check for sure.)
    t.same(
      revnat.entries().filter(([, v]) => v.address === VIP),
      [],
      'no entry of the connected socket in slb_udp_revnat',
    );
    // Other sockets' entries (cookies no socket has), more than the map holds: written in
    // batches, as 400,000 DNS lookups of other sockets would have left them.
    const started = Date.now();
    const fill: [UdpRevnatKey, { address: string; port: number }][] = Array.from({ length: UDP_REVNAT_CAPACITY + 40_000 }, (_, i) => [
      { cookie: (1n << 62n) + BigInt(i), address: `10.250.${(i >> 8) & 255}.${i & 255}`, port: 53 },
      { address: '10.96.0.99', port: 53 },
    ]);
    const written = revnat.setMany(fill);
    t.comment(`${written.done} entries written in ${Date.now() - started} ms; ${revnat.count()} in the map`);
    t.notOk(written.error, 'the fill went in');
    const r = await running;
    t.ok(r.ok >= 3, `${r.ok} exchanges, before and after the fill`);
    t.same(r.peers, { [`${VIP}:53`]: r.ok }, 'getpeername and recvfrom report the VIP throughout');
    revnat.deleteMany(revnat.entries().flatMap(([k]) => (k.cookie >= 1n << 62n ? [k] : [])));
  });

  t.test('fill level and evictions are metrics', async (t) => {
    const serving = await agent.waitForLog((l) => l.msg === 'serving /healthz, /readyz and /metrics');
    const before = maps.maps.counters();
    const sockets = Math.ceil((UDP_REVNAT_CAPACITY + 40_000) / SPRAY_SERVICES);
    const r = await lab.probe({ mode: 'udp-spray', host: '', hosts: Array.from({ length: SPRAY_SERVICES }, (_, i) => sprayVip(i)), port: 53, count: sockets });
    t.comment(`${r.ok} datagrams from ${sockets} sockets in ${r.elapsedMs} ms`);
    t.same(r.errors, {});
    const after = maps.maps.counters();
    t.equal(after.udp_revnat_created - before.udp_revnat_created, BigInt(r.ok), 'one entry per socket and backend');
    t.equal(after.udp_revnat_untracked - before.udp_revnat_untracked, BigInt(r.ok - 16 * sockets), 'beyond 16 per socket, left to the LRU');
    const text = await (await fetch(`http://${serving.address as string}/metrics`)).text();
    const live = revnat.count();
    t.equal(metricValue(text, 'socklb_udp_revnat_entries'), live, `${live} entries`);
    t.equal(metricValue(text, 'socklb_udp_revnat_capacity'), UDP_REVNAT_CAPACITY);
    const evictions = metricValue(text, 'socklb_udp_revnat_evictions_total');
    t.equal(evictions, Number(after.udp_revnat_created - after.udp_revnat_removed) - live, `${evictions} evictions: created - removed - live`);
    t.ok(evictions >= r.ok - UDP_REVNAT_CAPACITY - 16 * sockets, 'at least what did not fit');
    t.match(text, /socklb_datapath_events_total\{event="udp_revnat_created"\} \d+/);
  });
});
