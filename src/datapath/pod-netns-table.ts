// Which pod each network namespace of the cgroup's processes belongs to (pod-namespaces.ts
// scans them), written to slb_pol_netns for the socket hooks' egress check. A namespace is a
// pod's when the addresses it holds are that pod's, and only one pod's, as the compiled policy
// knows them (endpoints by pod IP); only pods isolated for egress get an entry, as only they
// have anything to check. A namespace that matches no pod (the node's own, a pod of another
// node, a process that left) gets none: its sockets proceed and tc judges their packets.
import { canonicalIp, ipFamily } from '../net/ip-address.js';
import type { EndpointEntry } from '../model/policy/policy-compiler.js';
import { ENDPOINT_EGRESS_ISOLATED } from '../model/policy/policy-keys.js';
import type { NamespaceAddresses } from './pod-namespaces.js';
import { NO_ADDRESS, type PodNetnsEntry, type PodNetnsMaps } from './pod-netns-map.js';

/** The entries the scanned namespaces ask for, by cookie. */
export function podNetnsEntries(namespaces: readonly NamespaceAddresses[], endpoints: ReadonlyMap<string, EndpointEntry>): Map<bigint, PodNetnsEntry> {
  const out = new Map<bigint, PodNetnsEntry>();
  for (const ns of namespaces) {
    const own = ns.addresses.map(canonicalIp).filter((a) => endpoints.has(a));
    const pods = new Set(own.map((a) => endpoints.get(a)!.pod));
    if (pods.size !== 1) continue;
    if (!(endpoints.get(own[0]!)!.flags & ENDPOINT_EGRESS_ISOLATED)) continue;
    out.set(ns.cookie, {
      v4: own.find((a) => ipFamily(a) === 4) ?? NO_ADDRESS,
      v6: own.find((a) => ipFamily(a) === 6) ?? NO_ADDRESS,
    });
  }
  return out;
}

export interface PodNetnsReport {
  /** Entries the map holds now. */
  identified: number;
  written: number;
  removed: number;
}

const same = (a: PodNetnsEntry, b: PodNetnsEntry): boolean => a.v4 === b.v4 && a.v6 === b.v6;

/** Makes slb_pol_netns equal `desired`: the count the hooks test first is written last, so a
 * reader that sees it finds the entries it counts (a stale count only costs a lookup). */
export function syncPodNetns(maps: PodNetnsMaps, desired: ReadonlyMap<bigint, PodNetnsEntry>): PodNetnsReport {
  const report: PodNetnsReport = { identified: desired.size, written: 0, removed: 0 };
  const present = new Map(maps.netns.entries().map(([k, v]) => [k.cookie, v]));
  for (const [cookie, entry] of desired) {
    const now = present.get(cookie);
    if (now && same(now, entry)) continue;
    maps.netns.set({ cookie }, entry);
    report.written++;
  }
  for (const cookie of present.keys()) if (!desired.has(cookie) && maps.netns.delete({ cookie })) report.removed++;
  if (maps.state.get({ index: 0 })?.netns_pods !== desired.size) maps.state.set({ index: 0 }, { netns_pods: desired.size });
  return report;
}
