// Codec for bpf/include/ct_map.h: the tc conntrack table (two entries per tracked flow), and
// the lifetimes the programs give entries, for GC and for reading the table.
import { be16, defineStruct, lbAddress, padding, u32, u64, u8 } from '../bpf/struct-layout.js';

export const CT_MAP = 'slb_ct';
/** max_entries of slb_ct (checked against BTF). */
export const CT_CAPACITY = 262144;

export const CT_DIRECTION = { forward: 0, reply: 1 } as const;
export const CT_FLAGS = { established: 1, closing: 2 } as const;

export interface CtKey {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  protocol: number;
  direction: number;
}

export interface CtEntry {
  nat_address: string;
  nat_port: number;
  flags: number;
  backend_id: number;
  /** CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns) after which the entry is dead. */
  expires_ns: bigint;
}

export const ctKeyLayout = defineStruct<CtKey>('ct_key', [
  ['src', lbAddress],
  ['dst', lbAddress],
  ['sport', be16],
  ['dport', be16],
  ['protocol', u8],
  ['direction', u8],
  ['pad', padding(2)],
]);

export const ctEntryLayout = defineStruct<CtEntry>('ct_entry', [
  ['nat_address', lbAddress],
  ['nat_port', be16],
  ['flags', u8],
  ['pad', padding(1)],
  ['backend_id', u32],
  ['expires_ns', u64],
]);
