// Codecs for bpf/include/affinity_maps.h: per-client backend memory (written by the programs)
// and the (service, backend) membership the programs check before reusing a remembered backend.
import { defineStruct, padding, presenceValueLayout, u32, u64 } from '../bpf/struct-layout.js';

export const AFFINITY_MAP = 'slb_affinity';
export const AFFINITY_MATCH_MAP = 'slb_affinity_match';

export interface AffinityKey {
  netns_cookie: bigint;
  service_id: number;
}

export interface AffinityValue {
  last_used_ns: bigint;
  backend_id: number;
}

export interface AffinityMatchKey {
  service_id: number;
  backend_id: number;
}

export const affinityKeyLayout = defineStruct<AffinityKey>('affinity_key', [
  ['netns_cookie', u64],
  ['service_id', u32],
  ['pad', padding(4)],
]);

export const affinityValueLayout = defineStruct<AffinityValue>('affinity_value', [
  ['last_used_ns', u64],
  ['backend_id', u32],
  ['pad', padding(4)],
]);

export const affinityMatchKeyLayout = defineStruct<AffinityMatchKey>('affinity_match_key', [
  ['service_id', u32],
  ['backend_id', u32],
]);

/** The match map's value is a __u8 flag; presence is what counts. */
export const affinityMatchValueLayout = presenceValueLayout;
