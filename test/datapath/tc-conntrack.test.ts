// The conntrack-mode tc programs on crafted packets (BPF_PROG_TEST_RUN, real kernel, real
// maps): DNAT of a new flow and its two conntrack entries, reverse NAT of replies, checksums
// recomputed from scratch after every rewrite, UDP with and without a checksum, IPv6, TCP
// lifetimes, expiry, what the programs leave alone, and the answers that refuse a service
// address's undefined ports (a TCP reset, an ICMP port unreachable), compared byte for byte
// with frames built from the RFCs.
import t, { type Test } from 'tap';
import { testRunPacket } from '../../src/bpf/prog-test-run.js';
import { collectExpiredFlows } from '../../src/datapath/ct-gc.js';
import { CT_DIRECTION, CT_FLAGS, type CtKey } from '../../src/datapath/ct-map.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { uninstallSockDatapath } from '../../src/datapath/sock-datapath.js';
import { installTcDatapath, type TcDatapath } from '../../src/datapath/tc-datapath.js';
import type { DesiredService } from '../../src/model/desired-services.js';
import { LabRun } from '../../src/lab/lab-run.js';
import { buildFrame, expectedPortUnreachable, expectedReset, parseFrame, TCP, type Flow } from '../helpers/packets.js';

const TC_ACT_UNSPEC = -1;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const SECOND = 1_000_000_000n;

const run = LabRun.begin();
const bpffs = run.bpffs('test');
const dp: TcDatapath = installTcDatapath({ bpffs });
t.teardown(() => {
  dp.close();
  uninstallSockDatapath(bpffs);
  run.end();
});

const services: DesiredService[] = [
  { owner: 'ns/web:http', frontend: { address: '10.96.0.10', port: 80, protocol: 'TCP' }, backends: [{ address: '10.244.0.21', port: 8080 }] },
  { owner: 'ns/dns:dns', frontend: { address: '10.96.0.11', port: 53, protocol: 'UDP' }, backends: [{ address: '10.244.0.22', port: 5353 }] },
  { owner: 'ns/v6:http', frontend: { address: 'fd00:96::10', port: 80, protocol: 'TCP' }, backends: [{ address: 'fd00:244::21', port: 8080 }] },
  { owner: 'ns/empty:http', frontend: { address: '10.96.0.12', port: 80, protocol: 'TCP' }, backends: [] },
];
Reconciler.adopt(dp.maps).apply(services);

const fromPod = dp.programFds.get('slb_tc_from_pod')!;
const toPod = dp.programFds.get('slb_tc_to_pod')!;
const send = (fd: number, f: Flow) => testRunPacket(fd, buildFrame(f), 'tc program');
const monotonicNs = (): bigint => process.hrtime.bigint();

function ctKey(f: Flow, direction: number): CtKey {
  return { src: f.src, dst: f.dst, sport: f.sport, dport: f.dport, protocol: f.protocol === 'tcp' ? 6 : 17, direction };
}

t.test('a new TCP flow to a VIP: DNAT to the backend, two conntrack entries, valid checksums', async (t) => {
  const syn: Flow = { src: '10.244.0.10', dst: '10.96.0.10', sport: 40000, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  const before = dp.maps.counters();
  const r = send(fromPod, syn);
  t.equal(r.retval, TC_ACT_UNSPEC, 'passed on');
  const out = parseFrame(r.packet);
  t.match(out, { src: '10.244.0.10', sport: 40000, dst: '10.244.0.21', dport: 8080, ipChecksumOk: true, l4ChecksumOk: true });
  const forward = dp.ct.get(ctKey(syn, CT_DIRECTION.forward));
  t.match(forward, { nat_address: '10.244.0.21', nat_port: 8080, flags: 0 });
  const lifetime = forward!.expires_ns - monotonicNs();
  t.ok(lifetime > 55n * SECOND && lifetime <= 60n * SECOND, 'a handshake gets the 60 s opening lifetime');
  const reply = dp.ct.get({ src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40000, protocol: 6, direction: CT_DIRECTION.reply });
  t.match(reply, { nat_address: '10.96.0.10', nat_port: 80 });
  const after = dp.maps.counters();
  t.equal(after.ct_created - before.ct_created, 1n);
  t.equal(after.translated - before.translated, 1n);

  // The SYN-ACK from the backend leaves towards the client with the VIP as its source.
  const synAck = send(toPod, { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40000, protocol: 'tcp', flags: TCP.SYN | TCP.ACK });
  t.match(parseFrame(synAck.packet), { src: '10.96.0.10', sport: 80, dst: '10.244.0.10', dport: 40000, ipChecksumOk: true, l4ChecksumOk: true });

  // Later packets of the flow follow the entry (no new selection) and mark it established.
  const ack = send(fromPod, { ...syn, flags: TCP.ACK, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
  t.match(parseFrame(ack.packet), { dst: '10.244.0.21', dport: 8080, l4ChecksumOk: true, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
  const established = dp.ct.get(ctKey(syn, CT_DIRECTION.forward))!;
  t.equal(established.flags, CT_FLAGS.established);
  t.ok(established.expires_ns - monotonicNs() > 3600n * SECOND, 'an established flow lives for hours');
  t.equal(dp.maps.counters().ct_created - after.ct_created, 0n, 'no second flow');

  // A FIN shortens the direction's lifetime to the closing one.
  send(fromPod, { ...syn, flags: TCP.FIN | TCP.ACK });
  const closing = dp.ct.get(ctKey(syn, CT_DIRECTION.forward))!;
  t.equal(closing.flags, CT_FLAGS.established | CT_FLAGS.closing);
  t.ok(closing.expires_ns - monotonicNs() <= 10n * SECOND, 'closing: 10 s');
});

t.test('replies of flows without an entry, and traffic to non-services, pass untouched', async (t) => {
  const stray: Flow = { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 41000, protocol: 'tcp' };
  const frame = buildFrame(stray);
  t.same(testRunPacket(toPod, frame, 'to pod').packet, frame, 'no conntrack entry: unchanged');
  const plain = buildFrame({ src: '10.244.0.10', dst: '10.244.0.30', sport: 40001, dport: 80, protocol: 'tcp', flags: TCP.SYN });
  const r = testRunPacket(fromPod, plain, 'from pod');
  t.equal(r.retval, TC_ACT_UNSPEC);
  t.same(r.packet, plain, 'pod-to-pod: unchanged');
  t.equal(dp.ct.get(ctKey({ src: '10.244.0.10', dst: '10.244.0.30', sport: 40001, dport: 80, protocol: 'tcp' }, CT_DIRECTION.forward)), undefined, 'and not tracked');
});

/** Runs f's frame through from-pod and checks it came back as `answer`, counted, untracked. */
function checkRefused(t: Test, what: string, f: Flow, answer: (frame: Buffer) => Buffer): void {
  const before = dp.maps.counters();
  const frame = buildFrame(f);
  const r = testRunPacket(fromPod, frame, 'from pod');
  t.equal(r.retval, TC_ACT_REDIRECT, `${what}: sent back out of the interface it came in on`);
  t.same(r.packet, answer(frame), `${what}: the whole answer frame`);
  const after = dp.maps.counters();
  t.equal(after.port_refused - before.port_refused, 1n, `${what}: counted as port_refused`);
  t.equal(after.translated - before.translated, 0n);
  t.equal(dp.ct.get(ctKey(f, CT_DIRECTION.forward)), undefined, `${what}: not tracked`);
}

t.test('a service address on a port no service has: TCP is reset', async (t) => {
  const client = { src: '10.244.0.10', sport: 40002, protocol: 'tcp' as const };
  const cases: [string, Flow][] = [
    ['a SYN: RST|ACK acknowledging it (the sequence number wraps)', { ...client, dst: '10.96.0.10', dport: 81, flags: TCP.SYN, seq: 0xfffffffd }],
    [
      'a segment with ACK and data: RST with its ACK as SEQ, the data cut off',
      { ...client, dst: '10.96.0.10', dport: 81, flags: TCP.ACK, seq: 7, ack: 123456789, payload: Buffer.alloc(300, 1) },
    ],
    ['a FIN without ACK: the FIN is acknowledged too', { ...client, dst: '10.96.0.10', dport: 81, flags: TCP.FIN }],
    ['a port the address has for UDP only', { ...client, dst: '10.96.0.11', dport: 53, flags: TCP.SYN }],
    ['IPv4 options: the answer has a plain header', { ...client, dst: '10.96.0.10', dport: 81, flags: TCP.SYN, ipOptions: Buffer.from([1, 1, 1, 0]) }],
    ['IPv6', { src: 'fd00:244::10', sport: 40002, protocol: 'tcp', dst: 'fd00:96::10', dport: 443, flags: TCP.SYN }],
  ];
  for (const [what, f] of cases) checkRefused(t, what, f, () => expectedReset(f));
});

t.test('a reset to an undefined port is not answered', async (t) => {
  const before = dp.maps.counters().port_refused;
  t.equal(send(fromPod, { src: '10.244.0.10', dst: '10.96.0.10', sport: 40003, dport: 81, protocol: 'tcp', flags: TCP.RST }).retval, TC_ACT_SHOT);
  t.equal(dp.maps.counters().port_refused - before, 1n);
});

t.test('a service address on a port no service has: UDP gets an ICMP port unreachable', async (t) => {
  const client = { src: '10.244.0.10', sport: 50010, protocol: 'udp' as const };
  const cases: [string, Flow][] = [
    ['a short datagram (the answer is longer)', { ...client, dst: '10.96.0.11', dport: 54 }],
    ['a long datagram (the answer quotes 8 bytes of it)', { ...client, dst: '10.96.0.11', dport: 54, payload: Buffer.alloc(1200, 7) }],
    ['no UDP checksum', { ...client, dst: '10.96.0.11', dport: 54, noUdpChecksum: true }],
    ['a port the address has for TCP only', { ...client, dst: '10.96.0.10', dport: 80 }],
    ['IPv4 options: quoted with the header', { ...client, dst: '10.96.0.11', dport: 54, ipOptions: Buffer.from([1, 1, 1, 1, 1, 1, 1, 0]) }],
    ['IPv6: ICMPv6 with its pseudo-header checksum', { src: 'fd00:244::10', sport: 50010, protocol: 'udp', dst: 'fd00:96::10', dport: 53 }],
  ];
  for (const [what, f] of cases) checkRefused(t, what, f, expectedPortUnreachable);
});

t.test('a service without endpoints drops the packet and tracks nothing', async (t) => {
  const f: Flow = { src: '10.244.0.10', dst: '10.96.0.12', sport: 40003, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  const before = dp.maps.counters().no_backend;
  t.equal(send(fromPod, f).retval, TC_ACT_SHOT);
  t.equal(dp.maps.counters().no_backend - before, 1n);
  t.equal(dp.ct.get(ctKey(f, CT_DIRECTION.forward)), undefined);
});

t.test('UDP: DNAT and reverse NAT, with a checksum and without one', async (t) => {
  for (const noUdpChecksum of [false, true]) {
    const q: Flow = { src: '10.244.0.10', dst: '10.96.0.11', sport: noUdpChecksum ? 50001 : 50000, dport: 53, protocol: 'udp', noUdpChecksum };
    const out = parseFrame(send(fromPod, q).packet);
    t.match(out, { dst: '10.244.0.22', dport: 5353, ipChecksumOk: true, l4ChecksumOk: true }, `query (checksum ${noUdpChecksum ? 'none' : 'set'})`);
    if (noUdpChecksum) t.equal(out.l4Checksum, 0, 'no checksum stays no checksum');
    const entry = dp.ct.get(ctKey(q, CT_DIRECTION.forward))!;
    const lifetime = entry.expires_ns - monotonicNs();
    t.ok(lifetime > 55n * SECOND && lifetime <= 60n * SECOND, 'UDP: 60 s idle timeout');
    const answer = parseFrame(send(toPod, { src: '10.244.0.22', dst: '10.244.0.10', sport: 5353, dport: q.sport, protocol: 'udp', noUdpChecksum }).packet);
    t.match(answer, { src: '10.96.0.11', sport: 53, ipChecksumOk: true, l4ChecksumOk: true }, 'answer comes from the VIP');
  }
});

t.test('IPv6: DNAT and reverse NAT with the pseudo-header checksum fixed', async (t) => {
  const syn: Flow = { src: 'fd00:244::10', dst: 'fd00:96::10', sport: 40010, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  t.match(parseFrame(send(fromPod, syn).packet), { dst: 'fd00:244::21', dport: 8080, l4ChecksumOk: true });
  const reply = send(toPod, { src: 'fd00:244::21', dst: 'fd00:244::10', sport: 8080, dport: 40010, protocol: 'tcp', flags: TCP.SYN | TCP.ACK });
  t.match(parseFrame(reply.packet), { src: 'fd00:96::10', sport: 80, l4ChecksumOk: true });
});

t.test('an expired entry is dead: replies pass untouched and the next packet starts a new flow', async (t) => {
  const syn: Flow = { src: '10.244.0.10', dst: '10.96.0.10', sport: 40020, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  send(fromPod, syn);
  const replyKey: CtKey = { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40020, protocol: 6, direction: CT_DIRECTION.reply };
  const past = monotonicNs() - SECOND;
  dp.ct.set(replyKey, { ...dp.ct.get(replyKey)!, expires_ns: past });
  const reply = buildFrame({ src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40020, protocol: 'tcp' });
  t.same(testRunPacket(toPod, reply, 'to pod').packet, reply, 'expired reply entry: no reverse NAT');
  t.equal(dp.ct.get(replyKey), undefined, 'and the program deleted it');

  const forwardKey = ctKey(syn, CT_DIRECTION.forward);
  dp.ct.set(forwardKey, { ...dp.ct.get(forwardKey)!, expires_ns: past });
  const created = dp.maps.counters().ct_created;
  t.match(parseFrame(send(fromPod, { ...syn, flags: TCP.ACK }).packet), { dst: '10.244.0.21' }, 'still balanced');
  t.equal(dp.maps.counters().ct_created - created, 1n, 'as a new flow');
  t.ok(dp.ct.get(forwardKey)!.expires_ns > monotonicNs());
});

t.test('garbage collection deletes expired entries and counts live flows', async (t) => {
  const now = monotonicNs();
  const base = { nat_address: '10.244.0.21', nat_port: 8080, flags: 0, backend_id: 1 };
  const key = (sport: number, direction: number): CtKey => ({ src: '10.244.0.99', dst: '10.96.0.10', sport, dport: 80, protocol: 6, direction });
  for (let i = 0; i < 50; i++) {
    dp.ct.set(key(60000 + i, CT_DIRECTION.forward), { ...base, expires_ns: i < 30 ? now - SECOND : now + 60n * SECOND });
    dp.ct.set(key(60000 + i, CT_DIRECTION.reply), { ...base, expires_ns: i < 30 ? now - SECOND : now + 60n * SECOND });
  }
  const liveBefore = dp.ct.entries().filter(([, e]) => e.expires_ns > now).length;
  const r = collectExpiredFlows(dp.ct, now);
  t.ok(r.expired >= 60, `the 60 dead test entries went (and any earlier dead ones): ${r.expired}`);
  t.equal(r.live, liveBefore, 'every live entry stays');
  t.equal(dp.ct.get(key(60000, CT_DIRECTION.forward)), undefined);
  t.ok(dp.ct.get(key(60049, CT_DIRECTION.reply)));
  t.ok(
    dp.ct.entries().every(([, e]) => e.expires_ns > now),
    'nothing dead is left',
  );
  t.equal(r.liveFlows, dp.ct.entries().filter(([k]) => k.direction === CT_DIRECTION.forward).length);
});
