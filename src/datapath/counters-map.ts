// The event counters of bpf/include/counters_map.h, by name. Order follows enum counter_id.
import { readPerCpuU64Sums } from '../bpf/percpu-array.js';

export const COUNTERS_MAP = 'slb_counters';

export const COUNTER_NAMES = [
  'translated',
  'no_backend',
  'revnat',
  'slot_retry',
  'ct_created',
  'ct_failed',
  'port_refused',
  'udp_sock_destroyed',
  'udp_revnat_created',
  'udp_revnat_removed',
  'udp_revnat_untracked',
] as const;
export type CounterName = (typeof COUNTER_NAMES)[number];

export function readCounters(fd: number): Record<CounterName, bigint> {
  const sums = readPerCpuU64Sums(fd, COUNTER_NAMES.length, COUNTERS_MAP);
  return Object.fromEntries(COUNTER_NAMES.map((name, i) => [name, sums[i]!])) as Record<CounterName, bigint>;
}
