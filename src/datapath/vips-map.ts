// Codec for bpf/include/vips_map.h: the service addresses the programs look up first. The key
// is a bare struct lb_address, whose one member is `words`: here the address as text.
import { defineStruct, lbAddress, u32 } from '../bpf/struct-layout.js';

export const VIPS_MAP = 'slb_vips';

export interface VipKey {
  words: string;
}

export interface VipValue {
  /** None defined yet: always 0. */
  flags: number;
}

export const vipKeyLayout = defineStruct<VipKey>('lb_address', [['words', lbAddress]]);

export const vipValueLayout = defineStruct<VipValue>('vip_value', [['flags', u32]]);

/** The value every address gets while no flag is defined. */
export const PLAIN_VIP: VipValue = { flags: 0 };
