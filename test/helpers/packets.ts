// Builds and reads Ethernet frames carrying IPv4/IPv6 and TCP/UDP, with correct checksums,
// for BPF_PROG_TEST_RUN tests of the tc programs; and checks the checksums of a frame the
// program rewrote, computed from scratch (not incrementally, as the program does).
import { isIPv4 } from 'node:net';
import { ipFromBytes, ipToBytes } from '../../src/net/ip-address.js';

export interface Flow {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  protocol: 'tcp' | 'udp';
  /** TCP flags byte (SYN 0x02, ACK 0x10, FIN 0x01, RST 0x04). */
  flags?: number;
  /** UDP over IPv4 may carry no checksum (0). */
  noUdpChecksum?: boolean;
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
    header.writeUInt32BE(1000, 4);
    header[12] = 5 << 4;
    header[13] = f.flags ?? TCP.ACK;
    header.writeUInt16BE(65535, 14);
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

/** An Ethernet frame for the flow, every checksum right. */
export function buildFrame(f: Flow): Buffer {
  const src = addressBytes(f.src);
  const dst = addressBytes(f.dst);
  const v4 = src.length === 4;
  const eth = Buffer.alloc(14);
  Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]).copy(eth);
  eth.writeUInt16BE(v4 ? 0x0800 : 0x86dd, 12);
  const l4 = l4Segment(f, src, dst);
  let ip: Buffer;
  if (v4) {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + l4.length, 2);
    ip.writeUInt16BE(0x4000, 6); // DF
    ip[8] = 64;
    ip[9] = IPPROTO[f.protocol];
    src.copy(ip, 12);
    dst.copy(ip, 16);
    ip.writeUInt16BE(checksum(ip), 10);
  } else {
    ip = Buffer.alloc(40);
    ip.writeUInt32BE(0x60000000, 0);
    ip.writeUInt16BE(l4.length, 4);
    ip[6] = IPPROTO[f.protocol];
    ip[7] = 64;
    src.copy(ip, 8);
    dst.copy(ip, 24);
  }
  return Buffer.concat([eth, ip, l4]);
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
