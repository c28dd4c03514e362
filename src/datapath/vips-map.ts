// Codec for bpf/include/vips_map.h: the service addresses the programs look up first. The key
// is a bare struct lb_address, whose one member is `words`: here the address as text.
import { defineStruct, lbAddress, u32 } from '../bpf/struct-layout.js';

export const VIPS_MAP = 'slb_vips';

export interface VipKey {
  words: string;
}

export interface VipValue {
  /** VIP_FLAGS bits. */
  flags: number;
}

/** vip_value.flags (vips_map.h). */
export const VIP_FLAGS = {
  /** No cluster IP frontend is on the address: ports no frontend has pass, not refused. */
  otherPortsPass: 1,
} as const;

export const vipKeyLayout = defineStruct<VipKey>('lb_address', [['words', lbAddress]]);

export const vipValueLayout = defineStruct<VipValue>('vip_value', [['flags', u32]]);

/** A cluster IP's value: its other ports are refused. */
export const PLAIN_VIP: VipValue = { flags: 0 };
