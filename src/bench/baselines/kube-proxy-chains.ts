// Chain names exactly as kube-proxy's iptables mode derives them (pkg/proxy/iptables):
// "KUBE-SVC-" / "KUBE-SEP-" + the first 16 characters of base32(sha256(...)), so the baseline
// rule set has kube-proxy's names, lengths and ordering. Pure.
import { createHash } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function hash16(s: string): string {
  return base32(createHash('sha256').update(s).digest()).slice(0, 16);
}

/** servicePortName is kube-proxy's ServicePortName.String(): "ns/name:port", or "ns/name" for an unnamed port. */
export function serviceChain(servicePortName: string, protocol: string): string {
  return `KUBE-SVC-${hash16(servicePortName + protocol.toLowerCase())}`;
}

/** endpoint is "ip:port" ("[ip]:port" for IPv6), as kube-proxy formats it. */
export function endpointChain(servicePortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${hash16(servicePortName + protocol.toLowerCase() + endpoint)}`;
}
