// Codec for bpf/include/ct_map.h: the tc conntrack table (two entries per tracked flow), its
// enums, and the clock its entries expire on, for GC and for reading the table.
import { be16, defineStruct, lbAddress, padding, structField, u32, u8, type EnumMirror } from '../bpf/struct-layout.js';

export const CT_MAP = 'slb_ct';
/** max_entries of slb_ct (checked against BTF). */
export const CT_CAPACITY = 262144;

export const CT_DIRECTION = { forward: 0, reply: 1 } as const;
/** enum ct_state: a direction's TCP phase. */
export const CT_STATE = { established: 1, closing: 2 } as const;
/** enum ct_verdict: what a direction's packets need. */
export const CT_VERDICT = { dnat: 1, revnat: 2, rev_snat: 4, policy_allowed: 8, snat: 16 } as const;

export const CT_ENUMS: readonly EnumMirror[] = [
  { cName: 'ct_direction', prefix: 'CT_DIR_', members: CT_DIRECTION },
  { cName: 'ct_state', prefix: 'CT_S_', members: CT_STATE },
  { cName: 'ct_verdict', prefix: 'CT_F_', members: CT_VERDICT },
];

export interface CtKey {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  protocol: number;
  direction: number;
}

export interface CtNat {
  /** forward: the backend; reply: the service address. */
  address: string;
  port: number;
  backend_id: number;
}

export interface CtEntry {
  /** CLOCK_MONOTONIC seconds (ctNow) from which the entry is dead. */
  expires: number;
  state: number;
  verdict: number;
  nat: CtNat;
}

/** The programs' clock in their unit: CLOCK_MONOTONIC (bpf_ktime_get_ns, and
 * process.hrtime on Linux) in whole seconds. */
export function ctNow(nowNs: bigint = process.hrtime.bigint()): number {
  return Number(nowNs / 1_000_000_000n);
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

export const ctNatLayout = defineStruct<CtNat>('ct_nat', [
  ['address', lbAddress],
  ['port', be16],
  ['pad', padding(2)],
  ['backend_id', u32],
]);

export const ctEntryLayout = defineStruct<CtEntry>('ct_entry', [
  ['expires', u32],
  ['state', u8],
  ['verdict', u8],
  ['pad', padding(2)],
  ['nat', structField(ctNatLayout)],
]);
