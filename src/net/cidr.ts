// CIDR prefixes (10.96.0.0/12, fd00:96::/108) and membership, on the datapath's 16-byte form:
// an IPv4 prefix becomes its v4-mapped /96+n, so one comparison serves both families. Pure.
import { canonicalIp, ipFamily, ipToBytes } from './ip-address.js';

export interface Cidr {
  /** As the user wrote it, canonicalised: "10.96.0.0/12". */
  text: string;
  bytes: Uint8Array;
  /** Prefix length in the 128-bit space (an IPv4 /12 is 108). */
  bits: number;
}

/** Parses "a.b.c.d/n" or "x::/n"; throws an error that says what is wrong and what to write. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = ipFamily(address);
  const lenText = slash < 0 ? '' : text.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  const len = /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if (family === undefined || !(len >= 0 && len <= max)) {
    throw new Error(`"${text}" is not a CIDR prefix; write an address and a prefix length, e.g. 10.96.0.0/12 or fd00:96::/108`);
  }
  const bytes = ipToBytes(address);
  const bits = family === 4 ? 96 + len : len;
  // Host bits are cleared, as Kubernetes' --service-cluster-ip-range does.
  for (let i = 0; i < 16; i++) bytes[i]! &= prefixByteMask(bits, i);
  return { text: `${canonicalIp(ipFromPrefix(bytes, family))}/${len}`, bytes, bits };
}

function ipFromPrefix(bytes: Uint8Array, family: 4 | 6): string {
  if (family === 4) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

/** A comma-separated list, as the --service-cidrs flag takes it. */
export function parseCidrList(text: string): Cidr[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(parseCidr);
}

/** The mask of byte i (0..15) of a prefix `bits` long in the 16-byte form: the bits of that
 * byte the prefix covers. */
export function prefixByteMask(bits: number, i: number): number {
  const keep = Math.max(0, Math.min(8, bits - i * 8));
  return (0xff << (8 - keep)) & 0xff;
}

/** Whether an address in the 16-byte form lies in the prefix. */
export function prefixHolds(cidr: Cidr, bytes: Uint8Array): boolean {
  for (let i = 0; i * 8 < cidr.bits; i++) if ((bytes[i]! & prefixByteMask(cidr.bits, i)) !== cidr.bytes[i]) return false;
  return true;
}

export function cidrContains(cidr: Cidr, address: string): boolean {
  return prefixHolds(cidr, ipToBytes(address));
}
