// The addresses of this network namespace's interfaces: node addresses that no cluster IP may
// take, known even when no Node object says so (the services file rarely has one).
// Loopback and link-local addresses are left out: no cluster IP passes their class check anyway.
import { networkInterfaces } from 'node:os';
import { unusableAddressClass } from '../net/address-class.js';
import { canonicalIp } from '../net/ip-address.js';

export function localInterfaceAddresses(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (unusableAddressClass(a.address) === undefined) out.add(canonicalIp(a.address));
  }
  return [...out].sort();
}
