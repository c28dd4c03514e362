// Codec for bpf/include/frontends_map.h: one entry per Service VIP, port and protocol.
import { be16, defineStruct, lbAddress, padding, u16, u32, u8 } from '../bpf/struct-layout.js';

export const FRONTENDS_MAP = 'slb_frontends';

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export interface FrontendKey {
  address: string;
  port: number;
  protocol: number; // IPPROTO_TCP or IPPROTO_UDP
}

export interface FrontendValue {
  service_id: number;
  backend_count: number;
  generation: number;
  flags: number;
  affinity_timeout: number;
}

export const frontendKeyLayout = defineStruct<FrontendKey>('frontend_key', [
  ['address', lbAddress],
  ['port', be16],
  ['protocol', u8],
  ['pad', padding(1)],
]);

export const frontendValueLayout = defineStruct<FrontendValue>('frontend_value', [
  ['service_id', u32],
  ['backend_count', u16],
  ['generation', u8],
  ['flags', u8],
  ['affinity_timeout', u32],
]);

/** Upper bound of backend_count (a __u16). */
export const MAX_BACKENDS_PER_FRONTEND = 0xffff;
