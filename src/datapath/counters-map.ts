// The counters of bpf/include/counters_map.h, one per reason code of bpf/include/reasons.h
// (enum slb_reason), by name: the name is the C code without REASON_, in lower case, and its
// index is the code (checked against BTF). Names are the `event` label of
// socklb_datapath_events_total, so they are only ever appended.
import { readPerCpuU64Sums } from '../bpf/percpu-array.js';
import type { EnumMirror } from '../bpf/struct-layout.js';

export const COUNTERS_MAP = 'slb_counters';

export const COUNTER_NAMES = [
  'translated',
  'no_backend',
  'revnat',
  'slot_retry',
  'ct_created',
  /** The sum of ct_insert_failed, ct_reply_insert_failed, nat_failed and revnat_failed. */
  'ct_failed',
  'port_refused',
  'udp_sock_destroyed',
  'udp_revnat_created',
  'udp_revnat_removed',
  'udp_revnat_untracked',
  'ct_insert_failed',
  'ct_reply_insert_failed',
  'nat_failed',
  'revnat_failed',
  'refusal_failed',
  'refusal_not_sent',
  'invalid_packet',
  'ip_fragment',
  'ct_expired',
  'policy_denied_egress',
  'policy_denied_ingress',
  'policy_ct_created',
  'policy_ct_failed',
  'sock_revnat_fallback',
  'policy_refused_egress',
  'policy_allowed_egress',
  'policy_allowed_ingress',
  'node_translated',
  'node_snat',
  'node_snat_no_port',
  'node_no_route',
  'node_no_snat_address',
  'node_local_policy_passed',
  'node_ttl_exceeded',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

/** enum slb_reason, REASON_MAX included. */
export const REASON_ENUM: EnumMirror = {
  cName: 'slb_reason',
  prefix: 'REASON_',
  members: { ...Object.fromEntries(COUNTER_NAMES.map((name, code) => [name, code])), max: COUNTER_NAMES.length },
};

export function readCounters(fd: number): Record<CounterName, bigint> {
  const sums = readPerCpuU64Sums(fd, COUNTER_NAMES.length, COUNTERS_MAP);
  return Object.fromEntries(COUNTER_NAMES.map((name, i) => [name, sums[i]!])) as Record<CounterName, bigint>;
}
