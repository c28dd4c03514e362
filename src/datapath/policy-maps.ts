// Codecs for bpf/include/policy_maps.h: the compiled NetworkPolicy tables (src/model/policy/
// policy-compiler.ts) as the programs look them up (bpf/include/policy_verdict.h). The LPM keys
// are the model's key bytes (policy-keys.ts) behind the trie's prefix length; these layouts
// name their fields so the BTF test can hold both sides to one definition.
import { be16, be32, byteArray, defineStruct, lbAddress, padding, u32, u8 } from '../bpf/struct-layout.js';

export const POLICY_ENDPOINTS_MAP = 'slb_pol_endpoints';
export const POLICY_IPCACHE_MAP = 'slb_pol_ipcache';
export const POLICY_RULES_MAP = 'slb_pol_policy';
export const POLICY_CIDR_MAP = 'slb_pol_cidr';
/** The lightweight conntrack of isolated pods' flows (ct-map.ts's key and entry). */
export const POLICY_CT_MAP = 'slb_pol_ct';

/** Every map of the policy tc object that socklb pins for NetworkPolicy alone. */
export const POLICY_MAPS = ['slb_pol_endpoints', 'slb_pol_ipcache', 'slb_pol_policy', 'slb_pol_cidr', 'slb_pol_ct'] as const;

export const POLICY_CAPACITY = { endpoints: 16384, ipcache: 262144, rules: 262144, cidr: 65536, ct: 262144 } as const;

export interface PolicyEndpoint {
  identity: number;
  flags: number;
}

export interface PolicyIpcacheEntry {
  identity: number;
}

export interface PolicyRuleKey {
  prefixlen: number;
  subject: number;
  peer: number;
  direction: number;
  protocol: number;
  port: number;
}

export interface PolicyCidrKey {
  prefixlen: number;
  subject: number;
  direction: number;
  address: Uint8Array;
}

export const policyAddressLayout = defineStruct<{ words: string }>('lb_address', [['words', lbAddress]]);
export const policyEndpointLayout = defineStruct<PolicyEndpoint>('pol_endpoint', [
  ['identity', u32],
  ['flags', u32],
]);
export const policyIpcacheLayout = defineStruct<PolicyIpcacheEntry>('pol_ipcache_entry', [['identity', u32]]);
export const policyRuleKeyLayout = defineStruct<PolicyRuleKey>('pol_policy_key', [
  ['prefixlen', u32],
  ['subject', be32],
  ['peer', be32],
  ['direction', u8],
  ['protocol', u8],
  ['port', be16],
]);
export const policyRuleValueLayout = defineStruct<{ allowed: number }>('pol_policy_value', [['allowed', u32]]);
export const policyCidrKeyLayout = defineStruct<PolicyCidrKey>('pol_cidr_key', [
  ['prefixlen', u32],
  ['subject', be32],
  ['direction', u8],
  ['address', byteArray(16)],
  ['pad', padding(3)],
]);
export const policyCidrValueLayout = defineStruct<{ cidr_class: number }>('pol_cidr_value', [['cidr_class', u32]]);

/** A trie key from the model's key bytes (policy-keys.ts: the same fields after the prefix). */
export function lpmKeyBytes(prefixLen: number, modelKey: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  u32.write(new DataView(out.buffer), 0, prefixLen);
  out.set(modelKey, 4);
  return out;
}
