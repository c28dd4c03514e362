// Makes the policy maps (policy-maps.ts) equal a compiled policy (src/model/policy/
// policy-compiler.ts): what changed is written, what is no longer compiled is deleted, in an
// order that never denies traffic both the old and the new tables allow:
//   1. new and changed rule, CIDR-class and ipcache entries (an allow exists before anything
//      can need it; identities are stable across compiles, so an entry keeps its meaning);
//   2. endpoints (isolation flags, identities): a pod becomes isolated only once its allows
//      are in place;
//   3. endpoints that went, then the rule, class and ipcache entries nothing compiles any more.
// Replaced values are written in place, so a reader sees the old or the new value, never none.
// LPM tries have no batch operations: entries are written one by one.
import type { KeyValueMap } from '../bpf/typed-map.js';
import { TypedMap } from '../bpf/typed-map.js';
import type { StructLayout } from '../bpf/struct-layout.js';
import type { CompiledPolicy } from '../model/policy/policy-compiler.js';
import {
  POLICY_CIDR_MAP,
  POLICY_ENDPOINTS_MAP,
  POLICY_IPCACHE_MAP,
  POLICY_RULES_MAP,
  lpmKeyBytes,
  policyAddressLayout,
  policyCidrKeyLayout,
  policyCidrValueLayout,
  policyEndpointLayout,
  policyIpcacheLayout,
  policyRuleKeyLayout,
  policyRuleValueLayout,
  type PolicyCidrKey,
  type PolicyEndpoint,
  type PolicyIpcacheEntry,
  type PolicyRuleKey,
} from './policy-maps.js';

type Address = { words: string };

export interface PolicyMaps {
  endpoints: KeyValueMap<Address, PolicyEndpoint>;
  ipcache: KeyValueMap<Address, PolicyIpcacheEntry>;
  rules: KeyValueMap<PolicyRuleKey, { allowed: number }>;
  cidr: KeyValueMap<PolicyCidrKey, { cidr_class: number }>;
}

/** The policy maps of a loaded object, by its map fds. */
export function openPolicyMaps(mapFd: (name: string) => number): PolicyMaps {
  return {
    endpoints: new TypedMap(POLICY_ENDPOINTS_MAP, mapFd(POLICY_ENDPOINTS_MAP), policyAddressLayout, policyEndpointLayout),
    ipcache: new TypedMap(POLICY_IPCACHE_MAP, mapFd(POLICY_IPCACHE_MAP), policyAddressLayout, policyIpcacheLayout),
    rules: new TypedMap(POLICY_RULES_MAP, mapFd(POLICY_RULES_MAP), policyRuleKeyLayout, policyRuleValueLayout),
    cidr: new TypedMap(POLICY_CIDR_MAP, mapFd(POLICY_CIDR_MAP), policyCidrKeyLayout, policyCidrValueLayout),
  };
}

/** One map's desired content, keyed by the key's encoded bytes (what makes two keys equal). */
interface Table<K, V> {
  map: KeyValueMap<K, V>;
  keyLayout: StructLayout<K>;
  valueLayout: StructLayout<V>;
  desired: Map<string, [K, V]>;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function table<K, V>(map: KeyValueMap<K, V>, keyLayout: StructLayout<K>, valueLayout: StructLayout<V>, entries: Iterable<[K, V]>): Table<K, V> {
  const desired = new Map<string, [K, V]>();
  for (const [k, v] of entries) desired.set(hex(keyLayout.encode(k)), [k, v]);
  return { map, keyLayout, valueLayout, desired };
}

export interface PolicySyncReport {
  written: number;
  deleted: number;
}

/** What `compiled` asks of each map, as entries. */
export function desiredPolicyTables(maps: PolicyMaps, compiled: CompiledPolicy) {
  const ruleKey = (prefixLen: number, key: Uint8Array): PolicyRuleKey => policyRuleKeyLayout.decode(lpmKeyBytes(prefixLen, key, policyRuleKeyLayout.size));
  const cidrKey = (prefixLen: number, key: Uint8Array): PolicyCidrKey => policyCidrKeyLayout.decode(lpmKeyBytes(prefixLen, key, policyCidrKeyLayout.size));
  return {
    rules: table(maps.rules, policyRuleKeyLayout, policyRuleValueLayout, [...compiled.policy.entries()].map((e) => [ruleKey(e.prefixLen, e.key), { allowed: 1 }] as [PolicyRuleKey, { allowed: number }])),
    cidr: table(maps.cidr, policyCidrKeyLayout, policyCidrValueLayout, [...compiled.cidr.entries()].map((e) => [cidrKey(e.prefixLen, e.key), { cidr_class: e.value }] as [PolicyCidrKey, { cidr_class: number }])),
    ipcache: table(maps.ipcache, policyAddressLayout, policyIpcacheLayout, [...compiled.ipcache].map(([ip, identity]) => [{ words: ip }, { identity }] as [Address, PolicyIpcacheEntry])),
    endpoints: table(
      maps.endpoints,
      policyAddressLayout,
      policyEndpointLayout,
      [...compiled.endpoints].map(([ip, e]) => [{ words: ip }, { identity: e.identity, flags: e.flags }] as [Address, PolicyEndpoint]),
    ),
  };
}

/** Writes what differs and returns the keys (encoded) the map holds that are not desired. */
function writeChanged<K, V>(t: Table<K, V>, report: PolicySyncReport): K[] {
  const stale: K[] = [];
  const present = new Map<string, Uint8Array>();
  for (const [k, v] of t.map.entries()) {
    const id = hex(t.keyLayout.encode(k));
    if (t.desired.has(id)) present.set(id, t.valueLayout.encode(v));
    else stale.push(k);
  }
  for (const [id, [k, v]] of t.desired) {
    const now = present.get(id);
    if (now && hex(now) === hex(t.valueLayout.encode(v))) continue;
    t.map.set(k, v);
    report.written++;
  }
  return stale;
}

function deleteAll<K>(map: KeyValueMap<K, unknown>, keys: readonly K[], report: PolicySyncReport): void {
  for (const k of keys) if (map.delete(k)) report.deleted++;
}

export function syncPolicyTables(maps: PolicyMaps, compiled: CompiledPolicy): PolicySyncReport {
  const report: PolicySyncReport = { written: 0, deleted: 0 };
  const t = desiredPolicyTables(maps, compiled);
  const staleRules = writeChanged(t.rules, report);
  const staleCidr = writeChanged(t.cidr, report);
  const staleIpcache = writeChanged(t.ipcache, report);
  const staleEndpoints = writeChanged(t.endpoints, report);
  deleteAll(maps.endpoints, staleEndpoints, report);
  deleteAll(maps.ipcache, staleIpcache, report);
  deleteAll(maps.cidr, staleCidr, report);
  deleteAll(maps.rules, staleRules, report);
  return report;
}
