// Addresses no Service may claim and no endpoint may be: a cluster IP is captured for every
// process in the balanced cgroup (by default the whole node), so programming 127.0.0.1 or
// 169.254.169.254 would send the node's own loopback or metadata traffic to a service, and an
// endpoint of 127.0.0.1 would send a VIP to each client's own loopback. The API server refuses
// most of these (ValidateEndpointIP, the service CIDR allocator); a services file must too.
// Pure.
import { ipToBytes, isV4Mapped } from './ip-address.js';

export type UnusableAddressClass = 'unspecified' | 'loopback' | 'link-local' | 'multicast' | 'broadcast';

/** Why an address cannot be a cluster IP or an endpoint, or undefined when it can. v4-mapped
 * IPv6 text (::ffff:127.0.0.1) is judged as the IPv4 address it stands for. */
export function unusableAddressClass(text: string): UnusableAddressClass | undefined {
  const b = ipToBytes(text);
  if (isV4Mapped(b)) {
    const [a, second] = [b[12]!, b[13]!];
    if (a === 0) return 'unspecified'; // 0.0.0.0/8: "this network", never a destination
    if (a === 127) return 'loopback';
    if (a === 169 && second === 254) return 'link-local';
    if (a >= 224 && a <= 239) return 'multicast';
    if (a === 255 && b[13] === 255 && b[14] === 255 && b[15] === 255) return 'broadcast';
    return undefined;
  }
  if (b.every((x) => x === 0)) return 'unspecified';
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback';
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return 'link-local';
  if (b[0] === 0xff) return 'multicast';
  return undefined;
}

const CLASS_TEXT: Record<UnusableAddressClass, string> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  'link-local': 'a link-local address',
  multicast: 'a multicast address',
  broadcast: 'the broadcast address',
};

/** "a loopback address", for messages. */
export function describeAddressClass(c: UnusableAddressClass): string {
  return CLASS_TEXT[c];
}
