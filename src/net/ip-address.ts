// IP addresses as the datapath stores them: 16 bytes, IPv4 in its v4-mapped form (::ffff:a.b.c.d).
// Pure functions with no I/O, used by every layer, so they live below all of them.
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

/** Returns 4 or 6 for a valid address in canonical or non-canonical text form, else undefined. */
export function ipFamily(text: string): IpFamily | undefined {
  if (isIPv4(text)) return 4;
  if (isIPv6(text)) return 6;
  return undefined;
}

// A digit loop rather than split/Number: tens of thousands of endpoint addresses are
// encoded on every cold sync. Only called on text that passed isIPv4.
function parseIPv4(text: string, out: DataView, offset: number): void {
  let octet = 0;
  let at = offset;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      out.setUint8(at++, octet);
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  out.setUint8(at, octet);
}

/** 16 bytes in network order; IPv4 becomes ::ffff:a.b.c.d. Throws on an invalid address. */
export function ipToBytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  writeIpBytes(text, new DataView(out.buffer), 0);
  return out;
}

/** Writes the 16 bytes of ipToBytes into a view at offset, without allocating for IPv4. */
export function writeIpBytes(text: string, out: DataView, offset: number): void {
  const family = ipFamily(text);
  if (family === undefined) throw new Error(`"${text}" is not an IPv4 or IPv6 address`);
  if (family === 4) {
    out.setUint32(offset, 0);
    out.setUint32(offset + 4, 0);
    out.setUint32(offset + 8, 0xffff);
    parseIPv4(text, out, offset + 12);
    return;
  }
  const bytes = ipv6ToBytes(text);
  for (let i = 0; i < 16; i++) out.setUint8(offset + i, bytes[i]!);
}

function ipv6ToBytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let body = text;
  const zone = body.indexOf('%');
  if (zone >= 0) body = body.slice(0, zone);
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two groups.
  let tail: Uint8Array | undefined;
  const lastColon = body.lastIndexOf(':');
  if (body.includes('.', lastColon)) {
    tail = new Uint8Array(4);
    parseIPv4(body.slice(lastColon + 1), new DataView(tail.buffer), 0);
    body = body.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = body.includes('::') ? body.split('::') : [body, undefined];
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest ? rest.split(':') : [];
  const zeros = rest === undefined ? 0 : 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...restGroups];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

export function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** Canonical text: dotted quad for v4-mapped bytes, RFC 5952 compressed form for IPv6. */
export function ipFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`an address needs 16 bytes, got ${bytes.length}`);
  if (isV4Mapped(bytes)) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!);
  // The longest run of two or more zero groups is written as "::" (first one on a tie).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** The canonical text of any valid address, so equal addresses compare equal as strings. */
export function canonicalIp(text: string): string {
  // A valid dotted quad is already canonical (isIPv4 rejects leading zeros); a fast path,
  // since services files hold tens of thousands of endpoint addresses.
  if (isIPv4(text)) return text;
  return ipFromBytes(ipToBytes(text));
}

/** host:port with brackets around IPv6, as users read and type it. */
export function formatHostPort(address: string, port: number): string {
  return ipFamily(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}
