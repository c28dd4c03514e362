// ipBlock rules (cidr minus except, each with its ports) turned into LPM entries whose
// longest-prefix answer is exactly the union of the rules that hold the address.
//
// Why this is exact: every rule's cidr and every except is stored. For an address a whose
// longest stored match is X, the stored prefixes holding a form a chain ending in X, so a rule's
// cidr (or except) holds a exactly when it holds all of X. The set of rules with a in cidr and in
// no except is therefore the same for every address that lands on X, and X's value is that set.
// A naive "except = deny entry" would also hide other rules' allows under the hole; here the
// hole's entry carries what the other rules still allow there. Pure.
import { prefixHolds, type Cidr } from '../../net/cidr.js';

export interface RegionRule<T> {
  cidr: Cidr;
  excepts: readonly Cidr[];
  value: T;
}

export interface Region<T> {
  prefix: Cidr;
  /** The values of the rules that hold every address landing on this prefix; may be empty. */
  values: T[];
}

/** Whether prefix `outer` holds all of prefix `inner`. */
export function prefixContains(outer: Cidr, inner: Cidr): boolean {
  return outer.bits <= inner.bits && prefixHolds(outer, inner.bytes);
}

const prefixId = (c: Cidr): string => `${Buffer.from(c.bytes).toString('hex')}/${c.bits}`;

export function cidrRegions<T>(rules: readonly RegionRule<T>[]): Region<T>[] {
  const stored = new Map<string, Cidr>();
  for (const rule of rules) {
    stored.set(prefixId(rule.cidr), rule.cidr);
    for (const e of rule.excepts) stored.set(prefixId(e), e);
  }
  return [...stored.values()].map((prefix) => ({
    prefix,
    values: rules.filter((r) => prefixContains(r.cidr, prefix) && !r.excepts.some((e) => prefixContains(e, prefix))).map((r) => r.value),
  }));
}
