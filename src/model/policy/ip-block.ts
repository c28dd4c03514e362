// ipBlock membership: an address is in a block when it is in `cidr` and in none of `except`.
// A prefix only holds addresses of its own family: an IPv6 ::/0 does not hold IPv4 peers (in
// the datapath's 16-byte form it would, as ::ffff:a.b.c.d; the compiler subtracts that range).
// Pure.
import { cidrContains, parseCidr, type Cidr } from '../../net/cidr.js';
import { ipFamily, type IpFamily } from '../../net/ip-address.js';
import type { IpBlock } from '../policy-objects.js';

export interface FamilyCidr extends Cidr {
  family: IpFamily;
}

const parsed = new Map<string, FamilyCidr>();

/** A policy's CIDR text, parsed once (thousands of rules name the same few prefixes). Throws,
 * naming the text, when it is not a prefix: the decoders reject those before they get here. */
export function policyCidr(text: string): FamilyCidr {
  let cidr = parsed.get(text);
  if (!cidr) {
    cidr = { ...parseCidr(text), family: text.includes(':') ? 6 : 4 };
    parsed.set(text, cidr);
  }
  return cidr;
}

export function familyCidrContains(cidr: FamilyCidr, ip: string): boolean {
  return ipFamily(ip) === cidr.family && cidrContains(cidr, ip);
}

export function ipBlockContains(block: IpBlock, ip: string): boolean {
  return familyCidrContains(policyCidr(block.cidr), ip) && !block.except.some((e) => familyCidrContains(policyCidr(e), ip));
}
