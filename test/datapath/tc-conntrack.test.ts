// The conntrack-mode tc programs on crafted packets (BPF_PROG_TEST_RUN, real kernel, real
// maps): DNAT of a new flow and its two conntrack entries, established packets, reverse NAT of
// replies, checksums recomputed from scratch after every rewrite, UDP with and without a
// checksum, IPv6, TCP lifetimes through FIN and RST, expiry and garbage collection, what the
// programs leave alone, the answers that refuse a service address's undefined ports (a TCP
// reset, an ICMP port unreachable), drops for no backend and for a conntrack insert the table
// refuses, each with its reason counted. Every path compares the whole output frame, byte for
// byte, with one built independently (test/helpers/packets.ts). The conntrack settings are
// build-time ones: a second build of the same program (dist/bpf/test/tc_lb_test_ct.bpf.o: a
// 3-entry table that refuses when full, lifetimes of seconds) shows they take effect.
import t, { type Test } from 'tap';
import { testRunPacket } from '../../src/bpf/prog-test-run.js';
import { join } from 'node:path';
import { collectExpiredFlows } from '../../src/datapath/ct-gc.js';
import { CT_DIRECTION, CT_STATE, CT_VERDICT, ctNow, type CtEntry, type CtKey } from '../../src/datapath/ct-map.js';
import type { CounterName } from '../../src/datapath/counters-map.js';
import { PACKAGE_ROOT } from '../../src/install-paths.js';
import { Reconciler } from '../../src/datapath/reconciler.js';
import { uninstallSockDatapath } from '../../src/datapath/sock-datapath.js';
import { installTcDatapath, type TcDatapath } from '../../src/datapath/tc-datapath.js';
import type { DesiredService } from '../../src/model/desired-services.js';
import { LabRun } from '../../src/lab/lab-run.js';
import { HAIRPIN_ADDRESS } from '../../src/datapath/hairpin-address.js';
import { countedBy, expectFrame, TC_ACT_REDIRECT, TC_ACT_SHOT, TC_ACT_UNSPEC } from '../helpers/frame-run.js';
import { buildFrame, expectedPortUnreachable, expectedReset, FRAME_MACS, parseFrame, TCP, truncatedFrame, withMacs, type Flow } from '../../src/lab/packet-frames.js';

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
/** Nanoseconds from now until the entry expires (its expiry is in whole seconds). */
const lifetimeNs = (e: CtEntry): bigint => BigInt(e.expires) * SECOND - monotonicNs();

function ctKey(f: Flow, direction: number): CtKey {
  return { src: f.src, dst: f.dst, sport: f.sport, dport: f.dport, protocol: f.protocol === 'tcp' ? 6 : 17, direction };
}

/** Runs f's frame through the program and checks it was dropped untouched, counted under
 * exactly these reasons. */
function expectDropped(t: Test, what: string, fd: number, f: Flow, reasons: Partial<Record<CounterName, bigint>>, counters = dp.maps.counters): void {
  const frame = buildFrame(f);
  t.same(
    countedBy(counters, () => expectFrame(t, what, fd, frame, TC_ACT_SHOT, frame)),
    reasons,
    `${what}: dropped untouched, counted as ${Object.keys(reasons).join(' and ')} only`,
  );
}

t.test('a new TCP flow to a VIP: DNAT to the backend, two conntrack entries, valid checksums', async (t) => {
  const syn: Flow = { src: '10.244.0.10', dst: '10.96.0.10', sport: 40000, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  const before = dp.maps.counters();
  const toBackend = (f: Flow): Flow => ({ ...f, dst: '10.244.0.21', dport: 8080 });
  let out!: Buffer;
  t.same(
    countedBy(dp.maps.counters, () => (out = expectFrame(t, 'SYN', fromPod, buildFrame(syn), TC_ACT_UNSPEC, buildFrame(toBackend(syn))))),
    { translated: 1n, ct_created: 1n },
    'counted as a translated flow and nothing else',
  );
  t.match(parseFrame(out), { src: '10.244.0.10', sport: 40000, dst: '10.244.0.21', dport: 8080, ipChecksumOk: true, l4ChecksumOk: true });
  const forward = dp.ct.get(ctKey(syn, CT_DIRECTION.forward));
  t.match(forward, { nat: { address: '10.244.0.21', port: 8080 }, state: 0, verdict: CT_VERDICT.dnat });
  const lifetime = lifetimeNs(forward!);
  t.ok(lifetime > 55n * SECOND && lifetime <= 60n * SECOND, 'a handshake gets the 60 s opening lifetime');
  const reply = dp.ct.get({ src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40000, protocol: 6, direction: CT_DIRECTION.reply });
  t.match(reply, { nat: { address: '10.96.0.10', port: 80, backend_id: forward!.nat.backend_id }, state: 0, verdict: CT_VERDICT.revnat | CT_VERDICT.policy_allowed });
  const after = dp.maps.counters();
  t.equal(after.ct_created - before.ct_created, 1n);
  t.equal(after.translated - before.translated, 1n);

  // The SYN-ACK from the backend leaves towards the client with the VIP as its source.
  const synAckFlow: Flow = { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40000, protocol: 'tcp', flags: TCP.SYN | TCP.ACK };
  const synAck = expectFrame(t, 'SYN-ACK', toPod, buildFrame(synAckFlow), TC_ACT_UNSPEC, buildFrame({ ...synAckFlow, src: '10.96.0.10', sport: 80 }));
  t.match(parseFrame(synAck), { src: '10.96.0.10', sport: 80, dst: '10.244.0.10', dport: 40000, ipChecksumOk: true, l4ChecksumOk: true });
  t.equal(
    dp.ct.get({ src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40000, protocol: 6, direction: CT_DIRECTION.reply })!.state,
    0,
    'a SYN-ACK is still the handshake',
  );

  // Later packets of the flow follow the entry (no new selection) and mark it established.
  const request: Flow = { ...syn, flags: TCP.ACK, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') };
  const ack = expectFrame(t, 'an established packet with data', fromPod, buildFrame(request), TC_ACT_UNSPEC, buildFrame(toBackend(request)));
  t.match(parseFrame(ack), { dst: '10.244.0.21', dport: 8080, l4ChecksumOk: true, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
  const established = dp.ct.get(ctKey(syn, CT_DIRECTION.forward))!;
  t.equal(established.state, CT_STATE.established);
  t.ok(lifetimeNs(established) > 3600n * SECOND, 'an established flow lives for hours');
  t.equal(dp.maps.counters().ct_created - after.ct_created, 0n, 'no second flow');

  // A FIN shortens the direction's lifetime to the closing one.
  const fin: Flow = { ...syn, flags: TCP.FIN | TCP.ACK };
  expectFrame(t, 'FIN', fromPod, buildFrame(fin), TC_ACT_UNSPEC, buildFrame(toBackend(fin)));
  const closing = dp.ct.get(ctKey(syn, CT_DIRECTION.forward))!;
  t.equal(closing.state, CT_STATE.established | CT_STATE.closing);
  t.ok(lifetimeNs(closing) <= 10n * SECOND, 'closing: 10 s');
  // The backend's FIN-ACK closes the reply direction, still reverse-NATed.
  const finAck: Flow = { ...synAckFlow, flags: TCP.FIN | TCP.ACK };
  expectFrame(t, 'FIN-ACK reply', toPod, buildFrame(finAck), TC_ACT_UNSPEC, buildFrame({ ...finAck, src: '10.96.0.10', sport: 80 }));
  const replyClosing = dp.ct.get({ src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40000, protocol: 6, direction: CT_DIRECTION.reply })!;
  t.equal(replyClosing.state, CT_STATE.established | CT_STATE.closing);
  t.ok(lifetimeNs(replyClosing) <= 10n * SECOND, 'reply closing: 10 s');
});

t.test('a reset closes a direction at once: the 10 s closing lifetime, still translated', async (t) => {
  const syn: Flow = { src: '10.244.0.10', dst: '10.96.0.10', sport: 40030, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  send(fromPod, syn);
  const rstReply: Flow = { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40030, protocol: 'tcp', flags: TCP.RST | TCP.ACK, payload: Buffer.alloc(0) };
  expectFrame(t, 'the backend resets the handshake', toPod, buildFrame(rstReply), TC_ACT_UNSPEC, buildFrame({ ...rstReply, src: '10.96.0.10', sport: 80 }));
  const reply = dp.ct.get({ ...ctKey(rstReply, CT_DIRECTION.reply) })!;
  t.equal(reply.state, CT_STATE.established | CT_STATE.closing, 'a RST without SYN: past the handshake, closing');
  t.ok(lifetimeNs(reply) <= 10n * SECOND && lifetimeNs(reply) > 8n * SECOND, 'closing: 10 s');
  const rst: Flow = { ...syn, flags: TCP.RST, payload: Buffer.alloc(0) };
  expectFrame(t, 'the client resets', fromPod, buildFrame(rst), TC_ACT_UNSPEC, buildFrame({ ...rst, dst: '10.244.0.21', dport: 8080 }));
  t.equal(dp.ct.get(ctKey(syn, CT_DIRECTION.forward))!.state, CT_STATE.established | CT_STATE.closing);
});

t.test("a reset closes both of a flow's entries, whichever side sends it (the other side's entry would otherwise live for hours)", async (t) => {
  for (const [i, resetter] of (['client', 'backend'] as const).entries()) {
    const syn: Flow = { src: '10.244.0.10', dst: '10.96.0.10', sport: 40040 + i, dport: 80, protocol: 'tcp', flags: TCP.SYN };
    send(fromPod, syn);
    const replyKey = { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: syn.sport, protocol: 6, direction: CT_DIRECTION.reply };
    // Both directions established first.
    send(fromPod, { ...syn, flags: TCP.ACK });
    send(toPod, { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: syn.sport, protocol: 'tcp', flags: TCP.ACK });
    t.ok(lifetimeNs(dp.ct.get(replyKey)!) > 3600n * SECOND, `${resetter}: established both ways`);
    if (resetter === 'client') send(fromPod, { ...syn, flags: TCP.RST, payload: Buffer.alloc(0) });
    else send(toPod, { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: syn.sport, protocol: 'tcp', flags: TCP.RST, payload: Buffer.alloc(0) });
    for (const [dir, entry] of [
      ['forward', dp.ct.get(ctKey(syn, CT_DIRECTION.forward))!],
      ['reply', dp.ct.get(replyKey)!],
    ] as const) {
      t.ok(lifetimeNs(entry) <= 10n * SECOND, `reset by the ${resetter}: the ${dir} entry closes (10 s)`);
      t.equal(entry.state & CT_STATE.closing, CT_STATE.closing);
    }
  }
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
  const before = dp.maps.counters();
  t.equal(send(fromPod, { src: '10.244.0.10', dst: '10.96.0.10', sport: 40003, dport: 81, protocol: 'tcp', flags: TCP.RST }).retval, TC_ACT_SHOT);
  const after = dp.maps.counters();
  t.equal(after.port_refused - before.port_refused, 1n);
  t.equal(after.refusal_not_sent - before.refusal_not_sent, 1n, 'and counted as not answered');
  t.equal(after.refusal_failed - before.refusal_failed, 0n, 'which is no failure');
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
  expectDropped(t, 'no backend', fromPod, f, { no_backend: 1n });
});

/** The frame with an IPv4 header length field of 16 bytes (below the minimum 20). */
function shortIhl(frame: Buffer): Buffer {
  const out = Buffer.from(frame);
  out[14] = 0x44;
  return out;
}

t.test('packets the programs cannot read pass untouched, counted by why', async (t) => {
  const toVip: Flow = { src: '10.244.0.10', dst: '10.96.0.11', sport: 50100, dport: 53, protocol: 'udp' };
  const cases: [string, Buffer, CounterName][] = [
    ['an IPv4 header length below 20 bytes', shortIhl(buildFrame(toVip)), 'invalid_packet'],
    ['a TCP header cut before its flags', truncatedFrame({ ...toVip, protocol: 'tcp', dport: 80, flags: TCP.SYN }, 8), 'invalid_packet'],
    ['an IPv6 UDP header cut before its ports', truncatedFrame({ ...toVip, src: 'fd00:244::10', dst: 'fd00:96::10' }, 2), 'invalid_packet'],
    ['a first IPv4 fragment to a VIP', buildFrame({ ...toVip, moreFragments: true }), 'ip_fragment'],
  ];
  for (const [what, frame, reason] of cases) {
    for (const [fd, direction] of [
      [fromPod, 'from pod'],
      [toPod, 'to pod'],
    ] as const) {
      t.same(
        countedBy(dp.maps.counters, () => expectFrame(t, `${what} (${direction})`, fd, frame, TC_ACT_UNSPEC, frame)),
        { [reason]: 1n },
        `${what} (${direction}): ${reason}`,
      );
    }
  }
  t.equal(dp.ct.get(ctKey(toVip, CT_DIRECTION.forward)), undefined, 'nothing tracked');
});

t.test('a rewrite that fails drops the packet as nat_failed or revnat_failed (and ct_failed)', async (t) => {
  // A UDP datagram cut after its ports: enough to track, too short for the checksum fix.
  const q: Flow = { src: '10.244.0.10', dst: '10.96.0.11', sport: 50200, dport: 53, protocol: 'udp' };
  const cut = truncatedFrame(q, 4);
  t.same(
    countedBy(dp.maps.counters, () => t.equal(testRunPacket(fromPod, cut, 'from pod').retval, TC_ACT_SHOT, 'dropped')),
    { translated: 1n, ct_created: 1n, ct_failed: 1n, nat_failed: 1n },
    'the flow was tracked, its packet could not be rewritten',
  );
  expectFrame(t, 'the next whole datagram of the flow', fromPod, buildFrame(q), TC_ACT_UNSPEC, buildFrame({ ...q, dst: '10.244.0.22', dport: 5353 }));
  const answer: Flow = { src: '10.244.0.22', dst: '10.244.0.10', sport: 5353, dport: 50200, protocol: 'udp' };
  t.same(
    countedBy(dp.maps.counters, () => t.equal(testRunPacket(toPod, truncatedFrame(answer, 4), 'to pod').retval, TC_ACT_SHOT, 'dropped')),
    { ct_failed: 1n, revnat_failed: 1n },
    'a reply cut short',
  );
  expectFrame(t, 'a whole reply', toPod, buildFrame(answer), TC_ACT_UNSPEC, buildFrame({ ...answer, src: '10.96.0.11', sport: 53 }));
});

t.test('UDP: DNAT and reverse NAT, with a checksum and without one', async (t) => {
  for (const noUdpChecksum of [false, true]) {
    const q: Flow = { src: '10.244.0.10', dst: '10.96.0.11', sport: noUdpChecksum ? 50001 : 50000, dport: 53, protocol: 'udp', noUdpChecksum };
    const what = `checksum ${noUdpChecksum ? 'none' : 'set'}`;
    const out = parseFrame(expectFrame(t, `query (${what})`, fromPod, buildFrame(q), TC_ACT_UNSPEC, buildFrame({ ...q, dst: '10.244.0.22', dport: 5353 })));
    t.match(out, { dst: '10.244.0.22', dport: 5353, ipChecksumOk: true, l4ChecksumOk: true }, `query (${what})`);
    if (noUdpChecksum) t.equal(out.l4Checksum, 0, 'no checksum stays no checksum');
    const entry = dp.ct.get(ctKey(q, CT_DIRECTION.forward))!;
    const lifetime = lifetimeNs(entry);
    t.ok(lifetime > 55n * SECOND && lifetime <= 60n * SECOND, 'UDP: 60 s idle timeout');
    t.equal(entry.state, 0, 'UDP has no state');
    const answerFlow: Flow = { src: '10.244.0.22', dst: '10.244.0.10', sport: 5353, dport: q.sport, protocol: 'udp', noUdpChecksum };
    const answer = parseFrame(expectFrame(t, `answer (${what})`, toPod, buildFrame(answerFlow), TC_ACT_UNSPEC, buildFrame({ ...answerFlow, src: '10.96.0.11', sport: 53 })));
    t.match(answer, { src: '10.96.0.11', sport: 53, ipChecksumOk: true, l4ChecksumOk: true }, 'answer comes from the VIP');
  }
});

t.test('IPv6: DNAT and reverse NAT with the pseudo-header checksum fixed', async (t) => {
  const syn: Flow = { src: 'fd00:244::10', dst: 'fd00:96::10', sport: 40010, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  t.match(parseFrame(expectFrame(t, 'SYN', fromPod, buildFrame(syn), TC_ACT_UNSPEC, buildFrame({ ...syn, dst: 'fd00:244::21', dport: 8080 }))), {
    dst: 'fd00:244::21',
    dport: 8080,
    l4ChecksumOk: true,
  });
  const synAck: Flow = { src: 'fd00:244::21', dst: 'fd00:244::10', sport: 8080, dport: 40010, protocol: 'tcp', flags: TCP.SYN | TCP.ACK };
  t.match(parseFrame(expectFrame(t, 'SYN-ACK', toPod, buildFrame(synAck), TC_ACT_UNSPEC, buildFrame({ ...synAck, src: 'fd00:96::10', sport: 80 }))), {
    src: 'fd00:96::10',
    sport: 80,
    l4ChecksumOk: true,
  });
  const data: Flow = { ...syn, flags: TCP.ACK, payload: Buffer.alloc(100, 9) };
  expectFrame(t, 'established', fromPod, buildFrame(data), TC_ACT_UNSPEC, buildFrame({ ...data, dst: 'fd00:244::21', dport: 8080 }));
  const q: Flow = { src: 'fd00:244::10', dst: 'fd00:96::10', sport: 50300, dport: 53, protocol: 'udp' };
  Reconciler.adopt(dp.maps).apply([
    ...services,
    { owner: 'ns/v6dns:dns', frontend: { address: 'fd00:96::10', port: 53, protocol: 'UDP' }, backends: [{ address: 'fd00:244::22', port: 5353 }] },
  ]);
  t.teardown(() => Reconciler.adopt(dp.maps).apply(services));
  expectFrame(t, 'UDP query', fromPod, buildFrame(q), TC_ACT_UNSPEC, buildFrame({ ...q, dst: 'fd00:244::22', dport: 5353 }));
  const a: Flow = { src: 'fd00:244::22', dst: 'fd00:244::10', sport: 5353, dport: 50300, protocol: 'udp' };
  expectFrame(t, 'UDP answer', toPod, buildFrame(a), TC_ACT_UNSPEC, buildFrame({ ...a, src: 'fd00:96::10', sport: 53 }));
});

t.test('an expired entry is dead: replies pass untouched and the next packet starts a new flow', async (t) => {
  const syn: Flow = { src: '10.244.0.10', dst: '10.96.0.10', sport: 40020, dport: 80, protocol: 'tcp', flags: TCP.SYN };
  send(fromPod, syn);
  const replyKey: CtKey = { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40020, protocol: 6, direction: CT_DIRECTION.reply };
  const past = ctNow() - 1;
  dp.ct.set(replyKey, { ...dp.ct.get(replyKey)!, expires: past });
  const reply = buildFrame({ src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 40020, protocol: 'tcp' });
  t.same(testRunPacket(toPod, reply, 'to pod').packet, reply, 'expired reply entry: no reverse NAT');
  t.equal(dp.ct.get(replyKey), undefined, 'and the program deleted it');

  const forwardKey = ctKey(syn, CT_DIRECTION.forward);
  dp.ct.set(forwardKey, { ...dp.ct.get(forwardKey)!, expires: past });
  const created = dp.maps.counters().ct_created;
  t.match(parseFrame(send(fromPod, { ...syn, flags: TCP.ACK }).packet), { dst: '10.244.0.21' }, 'still balanced');
  t.equal(dp.maps.counters().ct_created - created, 1n, 'as a new flow');
  t.ok(BigInt(dp.ct.get(forwardKey)!.expires) * SECOND > monotonicNs());
  // An entry that expires exactly now is dead (expiry is the first dead second).
  dp.ct.set(forwardKey, { ...dp.ct.get(forwardKey)!, expires: ctNow() });
  t.same(
    countedBy(dp.maps.counters, () => send(fromPod, { ...syn, flags: TCP.ACK })),
    { translated: 1n, ct_created: 1n, ct_expired: 1n },
    'an entry at its expiry starts a new flow',
  );
});

t.test('garbage collection deletes expired entries and counts live flows', async (t) => {
  const now = ctNow();
  const base = { nat: { address: '10.244.0.21', port: 8080, backend_id: 1 }, state: 0, verdict: CT_VERDICT.dnat };
  const key = (sport: number, direction: number): CtKey => ({ src: '10.244.0.99', dst: '10.96.0.10', sport, dport: 80, protocol: 6, direction });
  for (let i = 0; i < 50; i++) {
    dp.ct.set(key(60000 + i, CT_DIRECTION.forward), { ...base, expires: i < 30 ? now - 1 : now + 60 });
    dp.ct.set(key(60000 + i, CT_DIRECTION.reply), { ...base, expires: i < 30 ? now - 1 : now + 60 });
  }
  const liveBefore = dp.ct.entries().filter(([, e]) => e.expires > now).length;
  const r = collectExpiredFlows(dp.ct, now);
  t.ok(r.expired >= 60, `the 60 dead test entries went (and any earlier dead ones): ${r.expired}`);
  t.equal(r.live, liveBefore, 'every live entry stays');
  t.equal(dp.ct.get(key(60000, CT_DIRECTION.forward)), undefined);
  t.ok(dp.ct.get(key(60049, CT_DIRECTION.reply)));
  t.ok(
    dp.ct.entries().every(([, e]) => e.expires > now),
    'nothing dead is left',
  );
  t.equal(r.liveFlows, dp.ct.entries().filter(([k]) => k.direction === CT_DIRECTION.forward).length);
});

/** BPF_PROG_TEST_RUN runs a tc program on the loopback device: the interface the programs learn a pod on. */
const TEST_RUN_IFINDEX = 1;
const BACKEND_MAC = '02:00:00:00:00:0c';

t.test('pods seen on their interfaces: translated packets go straight into the pod, with its MAC', async (t) => {
  const cases: [string, Flow, { address: string; port: number }][] = [
    ['TCP over IPv4', { src: '10.244.0.10', dst: '10.96.0.10', sport: 40500, dport: 80, protocol: 'tcp', flags: TCP.SYN }, { address: '10.244.0.21', port: 8080 }],
    ['UDP over IPv4', { src: '10.244.0.10', dst: '10.96.0.11', sport: 50500, dport: 53, protocol: 'udp' }, { address: '10.244.0.22', port: 5353 }],
    ['TCP over IPv6', { src: 'fd00:244::10', dst: 'fd00:96::10', sport: 40500, dport: 80, protocol: 'tcp', flags: TCP.SYN }, { address: 'fd00:244::21', port: 8080 }],
  ];
  for (const [what, first, backend] of cases) {
    t.test(what, async (t) => {
      const backendKey = { words: backend.address };
      if (dp.podLinks.get(backendKey)) dp.podLinks.delete(backendKey);
      const toBackend = (f: Flow): Flow => ({ ...f, dst: backend.address, dport: backend.port });
      // The first packet: the backend's pod has sent nothing yet, so it goes the node's way.
      expectFrame(t, 'the first packet', fromPod, buildFrame(first), TC_ACT_UNSPEC, buildFrame(toBackend(first)));
      t.match(dp.podLinks.get({ words: first.src }), { ifindex: TEST_RUN_IFINDEX, mac: FRAME_MACS.client, gateway_mac: FRAME_MACS.gateway }, 'the client is learned from it');
      t.ok(Math.abs(dp.podLinks.get({ words: first.src })!.seen - ctNow()) <= 1, 'seen now');

      // The backend answers on its own interface, to the client's MAC (they share the bridge).
      const answer: Flow = { src: backend.address, dst: first.src, sport: backend.port, dport: first.sport, protocol: first.protocol, flags: TCP.SYN | TCP.ACK };
      const fromVip: Flow = { ...answer, src: first.dst, sport: first.dport };
      t.same(
        countedBy(dp.maps.counters, () =>
          expectFrame(
            t,
            'the answer, from the backend pod',
            fromPod,
            withMacs(buildFrame(answer), FRAME_MACS.client, BACKEND_MAC),
            TC_ACT_REDIRECT,
            // From the service address, to the client's MAC from the MAC it sent the service traffic to.
            withMacs(buildFrame(fromVip), FRAME_MACS.client, FRAME_MACS.gateway),
          ),
        ),
        {},
        'counted as nothing new',
      );
      t.match(dp.podLinks.get(backendKey), { ifindex: TEST_RUN_IFINDEX, mac: BACKEND_MAC, gateway_mac: '00:00:00:00:00:00' }, 'the backend is learned from its answer');
      const replyEntry = dp.ct.get(ctKey(answer, CT_DIRECTION.reply))!;
      if (first.protocol === 'tcp') t.equal(replyEntry.state, 0, 'the reply entry followed the answer');

      // From now on the client's packets go straight to the backend's pod.
      const next: Flow = { ...first, flags: TCP.ACK, payload: Buffer.from('GET /') };
      expectFrame(t, 'the next packet', fromPod, buildFrame(next), TC_ACT_REDIRECT, withMacs(buildFrame(toBackend(next)), BACKEND_MAC, FRAME_MACS.gateway));
      if (first.protocol === 'tcp') t.equal(dp.ct.get(ctKey(first, CT_DIRECTION.forward))!.state, CT_STATE.established, 'the forward entry followed it');

      // An entry no packet confirmed for POD_LINK_LIFETIME (10 s) is not trusted: the node's way again.
      dp.podLinks.set(backendKey, { ...dp.podLinks.get(backendKey)!, seen: ctNow() - 10 });
      expectFrame(t, 'a packet after the backend fell silent', fromPod, buildFrame(next), TC_ACT_UNSPEC, buildFrame(toBackend(next)));
      dp.podLinks.set(backendKey, { ...dp.podLinks.get(backendKey)!, seen: ctNow() - 9 });
      expectFrame(t, 'one within the lifetime', fromPod, buildFrame(next), TC_ACT_REDIRECT, withMacs(buildFrame(toBackend(next)), BACKEND_MAC, FRAME_MACS.gateway));
    });
  }

  t.test("a reply whose client is not known goes the node's way, already from the service address", async (t) => {
    const syn: Flow = { src: '10.244.0.10', dst: '10.96.0.10', sport: 40600, dport: 80, protocol: 'tcp', flags: TCP.SYN };
    send(fromPod, syn);
    dp.podLinks.delete({ words: syn.src });
    const answer: Flow = { src: '10.244.0.21', dst: syn.src, sport: 8080, dport: syn.sport, protocol: 'tcp', flags: TCP.SYN | TCP.ACK };
    const out = expectFrame(
      t,
      'the answer',
      fromPod,
      withMacs(buildFrame(answer), FRAME_MACS.client, BACKEND_MAC),
      TC_ACT_UNSPEC,
      withMacs(buildFrame({ ...answer, src: syn.dst, sport: syn.dport }), FRAME_MACS.client, BACKEND_MAC),
    );
    // On the client's interface it is no reply of a tracked flow any more: passed on unchanged, not translated twice.
    expectFrame(t, 'the same packet leaving towards the client', toPod, out, TC_ACT_UNSPEC, out);
  });

  t.test('a long flow keeps confirming its client: with each write of its entry (about once a second)', async (t) => {
    const syn: Flow = { src: '10.244.0.10', dst: '10.96.0.10', sport: 40800, dport: 80, protocol: 'tcp', flags: TCP.SYN };
    send(fromPod, syn);
    const client = { words: syn.src };
    dp.podLinks.set(client, { ...dp.podLinks.get(client)!, seen: ctNow() - 8 });
    const forward = ctKey(syn, CT_DIRECTION.forward);
    // An expiry due in a second: the next packet's lifetime moves it, so the entry is written.
    dp.ct.set(forward, { ...dp.ct.get(forward)!, state: CT_STATE.established, expires: ctNow() + 1 });
    send(fromPod, { ...syn, flags: TCP.ACK });
    t.ok(ctNow() - dp.podLinks.get(client)!.seen <= 1, 'the client is confirmed again');
  });

  t.test("traffic between pods that is no service's is not learned", async (t) => {
    const f: Flow = { src: '10.244.0.77', dst: '10.244.0.30', sport: 40700, dport: 80, protocol: 'tcp', flags: TCP.SYN };
    expectFrame(t, 'pod to pod', fromPod, buildFrame(f), TC_ACT_UNSPEC, buildFrame(f));
    t.equal(dp.podLinks.get({ words: f.src }), undefined);
  });
});

t.test('a second build with other conntrack settings (a 3-entry table that refuses, lifetimes of seconds)', async (t) => {
  const small: TcDatapath = installTcDatapath({ bpffs: `${bpffs}-smallct`, objectPath: join(PACKAGE_ROOT, 'dist', 'bpf', 'test', 'tc_lb_test_ct.bpf.o') });
  t.teardown(() => {
    small.close();
    uninstallSockDatapath(`${bpffs}-smallct`);
  });
  Reconciler.adopt(small.maps).apply(services);
  const from = small.programFds.get('slb_tc_from_pod')!;
  const to = small.programFds.get('slb_tc_to_pod')!;
  const counters = () => small.maps.counters();
  const clear = () => {
    const keys = small.ct.entries().map(([k]) => k);
    if (keys.length) small.ct.deleteMany(keys);
  };
  const client = (sport: number): Flow => ({ src: '10.244.0.10', dst: '10.96.0.10', sport, dport: 80, protocol: 'tcp', flags: TCP.SYN });
  const dnat = (f: Flow): Flow => ({ ...f, dst: '10.244.0.21', dport: 8080 });

  t.test('the lifetimes built in are the ones entries get', async (t) => {
    clear();
    const syn = client(41000);
    send(from, syn);
    const opening = lifetimeNs(small.ct.get(ctKey(syn, CT_DIRECTION.forward))!);
    t.ok(opening > 3n * SECOND && opening <= 5n * SECOND, `opening: 5 s (${opening} ns)`);
    send(from, { ...syn, flags: TCP.ACK });
    const established = lifetimeNs(small.ct.get(ctKey(syn, CT_DIRECTION.forward))!);
    t.ok(established > 5n * SECOND && established <= 7n * SECOND, `established: 7 s (${established} ns)`);
    send(from, { ...syn, flags: TCP.FIN | TCP.ACK });
    const closing = lifetimeNs(small.ct.get(ctKey(syn, CT_DIRECTION.forward))!);
    t.ok(closing > 1n * SECOND && closing <= 3n * SECOND, `closing: 3 s (${closing} ns)`);
  });

  t.test('a reply entry the table refuses: the flow is dropped whole, counted ct_reply_insert_failed', async (t) => {
    clear();
    const first = client(41100);
    expectFrame(t, 'the first flow', from, buildFrame(first), TC_ACT_UNSPEC, buildFrame(dnat(first)));
    t.equal(small.ct.entries().length, 2, 'its two entries');
    // Room for one entry: the second flow's forward entry fits, its reply entry does not.
    const second = client(41101);
    expectDropped(t, 'the second flow', from, second, { ct_failed: 1n, ct_reply_insert_failed: 1n }, counters);
    t.equal(small.ct.get(ctKey(second, CT_DIRECTION.forward)), undefined, 'its forward entry was taken back');
    t.equal(small.ct.entries().length, 2, 'the first flow alone is tracked');
  });

  t.test('a forward entry the table refuses: dropped, counted ct_insert_failed; tracked flows go on', async (t) => {
    clear();
    const first = client(41200);
    send(from, first);
    small.ct.set(ctKey(client(41299), CT_DIRECTION.reply), {
      expires: ctNow() + 60,
      state: 0,
      verdict: CT_VERDICT.revnat,
      nat: { address: '10.96.0.10', port: 80, backend_id: 0 },
    });
    t.equal(small.ct.entries().length, 3, 'the table is full');
    const third = client(41201);
    expectDropped(t, 'a new flow', from, third, { ct_failed: 1n, ct_insert_failed: 1n }, counters);
    const ack: Flow = { ...first, flags: TCP.ACK };
    t.same(
      countedBy(counters, () => expectFrame(t, 'the tracked flow', from, buildFrame(ack), TC_ACT_UNSPEC, buildFrame(dnat(ack)))),
      {},
      'translated from its entry',
    );
    const reply: Flow = { src: '10.244.0.21', dst: '10.244.0.10', sport: 8080, dport: 41200, protocol: 'tcp', flags: TCP.ACK };
    expectFrame(t, 'its reply', to, buildFrame(reply), TC_ACT_UNSPEC, buildFrame({ ...reply, src: '10.96.0.10', sport: 80 }));
  });

  t.test('a flow idle past its lifetime expires by itself: replies pass untouched, GC removes the rest', async (t) => {
    clear();
    const q: Flow = { src: '10.244.0.10', dst: '10.96.0.11', sport: 50400, dport: 53, protocol: 'udp' };
    expectFrame(t, 'query', from, buildFrame(q), TC_ACT_UNSPEC, buildFrame({ ...q, dst: '10.244.0.22', dport: 5353 }));
    const a: Flow = { src: '10.244.0.22', dst: '10.244.0.10', sport: 5353, dport: 50400, protocol: 'udp' };
    expectFrame(t, 'answer within the lifetime', to, buildFrame(a), TC_ACT_UNSPEC, buildFrame({ ...a, src: '10.96.0.11', sport: 53 }));
    const expires = small.ct.get(ctKey(q, CT_DIRECTION.forward))!.expires;
    t.ok(expires - ctNow() <= 1, 'UDP: 1 s');
    // Wait (bounded) for the programs' clock to reach the expiry.
    const deadline = Date.now() + 3000;
    while (ctNow() < expires && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    t.ok(ctNow() >= expires, 'the lifetime has passed');
    t.same(
      countedBy(counters, () => expectFrame(t, 'a late answer', to, buildFrame(a), TC_ACT_UNSPEC, buildFrame(a))),
      { ct_expired: 1n },
      'not reverse-NATed: its entry was dead, and is deleted',
    );
    t.equal(small.ct.get(ctKey(a, CT_DIRECTION.reply)), undefined);
    t.ok(small.ct.get(ctKey(q, CT_DIRECTION.forward)), 'the forward entry no packet came back for is still there');
    const r = collectExpiredFlows(small.ct);
    t.match(r, { expired: 1, live: 0, liveFlows: 0 }, 'until garbage collection');
    t.same(small.ct.entries(), [], 'the table is empty');
  });
});

t.test('hairpin: a pod balanced to itself gets the hairpin source, its answer comes back from the service address; no policy judges it', async (t) => {
  for (const [v, client, vip] of [
    ['v4', '10.244.0.21', '10.96.0.10'],
    ['v6', 'fd00:244::21', 'fd00:96::10'],
  ] as const) {
    const hairpin = HAIRPIN_ADDRESS[v];
    const syn: Flow = { src: client, dst: vip, sport: 40900, dport: 80, protocol: 'tcp', flags: TCP.SYN };
    // The pod is the service's only backend: DNAT to itself, and the source made the hairpin
    // address (or its stack would answer itself past the programs); the same packet teaches the
    // pod's link, so it goes straight back into the pod.
    const toItself: Flow = { ...syn, src: hairpin, dst: client, dport: 8080 };
    t.same(
      countedBy(dp.maps.counters, () => expectFrame(t, `${v} SYN`, fromPod, buildFrame(syn), TC_ACT_REDIRECT, withMacs(buildFrame(toItself), FRAME_MACS.client, FRAME_MACS.gateway))),
      { translated: 1n, ct_created: 1n },
      `${v}: a translated flow, no policy counted`,
    );
    t.match(dp.ct.get(ctKey(syn, CT_DIRECTION.forward)), { nat: { address: client, port: 8080 }, verdict: CT_VERDICT.dnat | CT_VERDICT.snat }, `${v}: the forward entry says source NAT`);
    const answer: Flow = { src: client, dst: hairpin, sport: 8080, dport: 40900, protocol: 'tcp', flags: TCP.SYN | TCP.ACK };
    t.match(
      dp.ct.get(ctKey(answer, CT_DIRECTION.reply)),
      { nat: { address: vip, port: 80 }, verdict: CT_VERDICT.revnat | CT_VERDICT.policy_allowed | CT_VERDICT.rev_snat },
      `${v}: the reply entry is keyed by the hairpin address`,
    );
    // The pod answers the hairpin address through its route to the node: from the VIP, to itself.
    const fromVip: Flow = { src: vip, dst: client, sport: 80, dport: 40900, protocol: 'tcp', flags: TCP.SYN | TCP.ACK };
    const back = expectFrame(t, `${v} answer`, fromPod, buildFrame(answer), TC_ACT_REDIRECT, withMacs(buildFrame(fromVip), FRAME_MACS.client, FRAME_MACS.gateway));
    t.match(parseFrame(back), { ipChecksumOk: true, l4ChecksumOk: true }, `${v}: checksums right`);
    // The next packet keeps both translations; a reset from the client closes the reply entry too.
    const next: Flow = { ...syn, flags: TCP.ACK, payload: Buffer.from('GET /') };
    expectFrame(t, `${v} next`, fromPod, buildFrame(next), TC_ACT_REDIRECT, withMacs(buildFrame({ ...next, src: hairpin, dst: client, dport: 8080 }), FRAME_MACS.client, FRAME_MACS.gateway));
    send(fromPod, { ...syn, flags: TCP.RST | TCP.ACK });
    t.equal(dp.ct.get(ctKey(answer, CT_DIRECTION.reply))!.state & CT_STATE.closing, CT_STATE.closing, `${v}: the client's reset closes the reply entry`);
    // A reset from the pod as the backend closes the forward entry (a second flow).
    const syn2: Flow = { ...syn, sport: 40901 };
    send(fromPod, syn2);
    send(fromPod, { ...answer, dport: 40901, flags: TCP.RST | TCP.ACK });
    t.equal(dp.ct.get(ctKey(syn2, CT_DIRECTION.forward))!.state & CT_STATE.closing, CT_STATE.closing, `${v}: the backend's reset closes the forward entry`);
  }
});
