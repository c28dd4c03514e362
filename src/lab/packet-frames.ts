// Builds and reads Ethernet frames carrying IPv4/IPv6 and TCP/UDP, with correct checksums,
// for BPF_PROG_TEST_RUN tests of the tc programs; and checks the checksums of a frame the
// program rewrote, computed from scratch (not incrementally, as the program does). Also builds
// the answers a host sends to refuse a frame (a TCP reset, an ICMP port unreachable) as
// expected frames, from the RFCs rather than from the program's code.
import { isIPv4 } from 'node:net';
import { ipFromBytes, ipToBytes } from '../net/ip-address.js';

export interface Flow {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  protocol: 'tcp' | 'udp';
  /** TCP flags byte (SYN 0x02, ACK 0x10, FIN 0x01, RST 0x04). */
  flags?: number;
  /** TCP sequence and acknowledgment numbers (1000 and 0 unless given) and window (65535). */
  seq?: number;
  ack?: number;
  window?: number;
  /** IPv4 options (a multiple of 4 bytes), making the header longer than 20 bytes. */
  ipOptions?: Buffer;
  /** IPv4 only: the more-fragments flag (a first fragment) instead of DF. */
  moreFragments?: boolean;
  /** UDP over IPv4 may carry no checksum (0). */
  noUdpChecksum?: boolean;
  /** IPv4 TTL or IPv6 hop limit (64 unless given). */
  ttl?: number;
  payload?: Buffer;
}

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, ACK: 0x10 } as const;

const IPPROTO = { tcp: 6, udp: 17 } as const;

function onesComplementSum(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2 === 1) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

const checksum = (buf: Buffer, initial = 0): number => ~onesComplementSum(buf, initial) & 0xffff;

function addressBytes(ip: string): Buffer {
  const bytes = Buffer.from(ipToBytes(ip));
  return isIPv4(ip) ? bytes.subarray(12) : bytes;
}

function pseudoHeader(src: Buffer, dst: Buffer, protocol: number, length: number): Buffer {
  if (src.length === 4) {
    const p = Buffer.alloc(12);
    src.copy(p, 0);
    dst.copy(p, 4);
    p[9] = protocol;
    p.writeUInt16BE(length, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  src.copy(p, 0);
  dst.copy(p, 16);
  p.writeUInt32BE(length, 32);
  p[39] = protocol;
  return p;
}

function l4Segment(f: Flow, src: Buffer, dst: Buffer): Buffer {
  const payload = f.payload ?? Buffer.from('ping');
  const header = Buffer.alloc(f.protocol === 'tcp' ? 20 : 8);
  header.writeUInt16BE(f.sport, 0);
  header.writeUInt16BE(f.dport, 2);
  if (f.protocol === 'tcp') {
    header.writeUInt32BE(f.seq ?? 1000, 4);
    header.writeUInt32BE(f.ack ?? 0, 8);
    header[12] = 5 << 4;
    header[13] = f.flags ?? TCP.ACK;
    header.writeUInt16BE(f.window ?? 65535, 14);
  } else {
    header.writeUInt16BE(8 + payload.length, 4);
  }
  const segment = Buffer.concat([header, payload]);
  if (f.protocol === 'udp' && f.noUdpChecksum) return segment;
  const csumOff = f.protocol === 'tcp' ? 16 : 6;
  let c = checksum(segment, onesComplementSum(pseudoHeader(src, dst, IPPROTO[f.protocol], segment.length)));
  if (f.protocol === 'udp' && c === 0) c = 0xffff;
  segment.writeUInt16BE(c, csumOff);
  return segment;
}

const MAC_A = [2, 0, 0, 0, 0, 1];
const MAC_B = [2, 0, 0, 0, 0, 2];
/** The MACs buildFrame puts on a frame: destination MAC_A (the client's next hop) and source
 * MAC_B (the client), swapped for a reply. */
export const FRAME_MACS = { gateway: '02:00:00:00:00:01', client: '02:00:00:00:00:02' } as const;

function ethernet(v4: boolean, reply: boolean): Buffer {
  const eth = Buffer.alloc(14);
  Buffer.from(reply ? [...MAC_B, ...MAC_A] : [...MAC_A, ...MAC_B]).copy(eth);
  eth.writeUInt16BE(v4 ? 0x0800 : 0x86dd, 12);
  return eth;
}

/** An IP header (TTL 64; IPv4: DF or MF, id 0) for a payload of l4Length bytes. */
function ipHeader(src: Buffer, dst: Buffer, protocol: number, l4Length: number, options: Buffer = Buffer.alloc(0), moreFragments = false, ttl = 64): Buffer {
  if (src.length === 4) {
    const ip = Buffer.alloc(20 + options.length);
    ip[0] = 0x40 | (ip.length / 4);
    ip.writeUInt16BE(ip.length + l4Length, 2);
    ip.writeUInt16BE(moreFragments ? 0x2000 : 0x4000, 6); // MF or DF
    ip[8] = ttl;
    ip[9] = protocol;
    src.copy(ip, 12);
    dst.copy(ip, 16);
    options.copy(ip, 20);
    ip.writeUInt16BE(checksum(ip), 10);
    return ip;
  }
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(l4Length, 4);
  ip[6] = protocol;
  ip[7] = ttl;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  return ip;
}

/** An Ethernet frame for the flow, every checksum right. `reply` swaps the MAC addresses, as
 * a frame sent back to where f came from has them. */
export function buildFrame(f: Flow, opts: { reply?: boolean } = {}): Buffer {
  const src = addressBytes(f.src);
  const dst = addressBytes(f.dst);
  const l4 = l4Segment(f, src, dst);
  return Buffer.concat([ethernet(src.length === 4, opts.reply ?? false), ipHeader(src, dst, IPPROTO[f.protocol], l4.length, f.ipOptions, f.moreFragments, f.ttl), l4]);
}

/** The frame with other Ethernet addresses (as 02:00:00:00:00:0c): what a sender on another
 * port of the bridge, or a packet handed straight to a pod, carries. */
export function withMacs(frame: Buffer, dst: string, src: string): Buffer {
  const out = Buffer.from(frame);
  Buffer.from(dst.split(':').map((b) => Number.parseInt(b, 16))).copy(out, 0);
  Buffer.from(src.split(':').map((b) => Number.parseInt(b, 16))).copy(out, 6);
  return out;
}

/** f's frame with only the first l4Bytes of its TCP/UDP header and data, the IP header saying
 * so (its length fields and checksum right): a packet a broken or hostile sender cut short. */
export function truncatedFrame(f: Flow, l4Bytes: number): Buffer {
  const full = buildFrame(f);
  const src = addressBytes(f.src);
  const ipLen = src.length === 4 ? 20 + (f.ipOptions?.length ?? 0) : 40;
  const l4 = full.subarray(14 + ipLen, 14 + ipLen + l4Bytes);
  return Buffer.concat([full.subarray(0, 14), ipHeader(src, addressBytes(f.dst), IPPROTO[f.protocol], l4.length, f.ipOptions, f.moreFragments, f.ttl), l4]);
}

/** The reset a host with nothing on f's port answers f's segment with (RFC 9293 3.10.7.1):
 * from f's destination, SEQ = f's ACK if it has one, else RST|ACK acknowledging f. */
export function expectedReset(f: Flow): Buffer {
  const flags = f.flags ?? TCP.ACK;
  const acked = (f.payload ?? Buffer.from('ping')).length + (flags & TCP.SYN ? 1 : 0) + (flags & TCP.FIN ? 1 : 0);
  const answer: Flow =
    flags & TCP.ACK
      ? { src: f.dst, dst: f.src, sport: f.dport, dport: f.sport, protocol: 'tcp', flags: TCP.RST, seq: f.ack ?? 0, ack: 0, window: 0, payload: Buffer.alloc(0) }
      : {
          src: f.dst,
          dst: f.src,
          sport: f.dport,
          dport: f.sport,
          protocol: 'tcp',
          flags: TCP.RST | TCP.ACK,
          seq: 0,
          ack: ((f.seq ?? 1000) + acked) >>> 0,
          window: 0,
          payload: Buffer.alloc(0),
        };
  return buildFrame(answer, { reply: true });
}

/** The port unreachable a host answers a UDP frame with, from its destination: ICMP type 3
 * code 3 (RFC 792) or ICMPv6 type 1 code 4 (RFC 4443), quoting the frame's IP header and the 8
 * bytes after it. */
export function expectedPortUnreachable(frame: Buffer): Buffer {
  const v4 = frame.readUInt16BE(12) === 0x0800;
  const ipLen = v4 ? (frame[14]! & 0x0f) * 4 : 40;
  const ip = frame.subarray(14, 14 + ipLen);
  const src = Buffer.from(v4 ? ip.subarray(12, 16) : ip.subarray(8, 24));
  const dst = Buffer.from(v4 ? ip.subarray(16, 20) : ip.subarray(24, 40));
  const icmp = Buffer.concat([Buffer.from([v4 ? 3 : 1, v4 ? 3 : 4, 0, 0, 0, 0, 0, 0]), frame.subarray(14, 14 + ipLen + 8)]);
  const protocol = v4 ? 1 : 58;
  icmp.writeUInt16BE(v4 ? checksum(icmp) : checksum(icmp, onesComplementSum(pseudoHeader(dst, src, protocol, icmp.length))), 2);
  return Buffer.concat([ethernet(v4, true), ipHeader(dst, src, protocol, icmp.length), icmp]);
}

export interface ParsedFrame {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** Each checksum recomputed from scratch matches the one in the frame. */
  ipChecksumOk: boolean;
  l4ChecksumOk: boolean;
  l4Checksum: number;
  payload: Buffer;
}

function formatAddress(b: Buffer): string {
  return b.length === 4 ? [...b].join('.') : ipFromBytes(b);
}

export function parseFrame(frame: Buffer): ParsedFrame {
  const v4 = frame.readUInt16BE(12) === 0x0800;
  const ipLen = v4 ? (frame[14]! & 0x0f) * 4 : 40;
  const ip = frame.subarray(14, 14 + ipLen);
  const l4 = frame.subarray(14 + ipLen);
  const src = v4 ? ip.subarray(12, 16) : ip.subarray(8, 24);
  const dst = v4 ? ip.subarray(16, 20) : ip.subarray(24, 40);
  const protocol = v4 ? ip[9]! : ip[6]!;
  const csumOff = protocol === 6 ? 16 : 6;
  const l4Checksum = l4.readUInt16BE(csumOff);
  const l4ChecksumOk = (protocol === 17 && v4 && l4Checksum === 0) || onesComplementSum(l4, onesComplementSum(pseudoHeader(src, dst, protocol, l4.length))) === 0xffff;
  return {
    src: formatAddress(Buffer.from(src)),
    dst: formatAddress(Buffer.from(dst)),
    sport: l4.readUInt16BE(0),
    dport: l4.readUInt16BE(2),
    ipChecksumOk: !v4 || onesComplementSum(ip) === 0xffff,
    l4ChecksumOk,
    l4Checksum,
    payload: Buffer.from(l4.subarray(protocol === 6 ? 20 : 8)),
  };
}
