// The maps the reconciler and the CLI work with, typed by their codecs.
import { readCounters, COUNTERS_MAP, type CounterName } from './counters-map.js';
import {
  BACKENDS_MAP,
  SLOTS_MAP,
  backendKeyLayout,
  backendValueLayout,
  slotKeyLayout,
  slotValueLayout,
  type BackendKey,
  type BackendValue,
  type SlotKey,
  type SlotValue,
} from './backends-map.js';
import { FRONTENDS_MAP, frontendKeyLayout, frontendValueLayout, type FrontendKey, type FrontendValue } from './frontends-map.js';
import { TypedMap, type KeyValueMap } from '../bpf/typed-map.js';
import { AFFINITY_MATCH_MAP, affinityMatchKeyLayout, affinityMatchValueLayout, type AffinityMatchKey } from './affinity-maps.js';
import { VIPS_MAP, vipKeyLayout, vipValueLayout, type VipKey, type VipValue } from './vips-map.js';

export interface DatapathMaps {
  frontends: KeyValueMap<FrontendKey, FrontendValue>;
  backends: KeyValueMap<BackendKey, BackendValue>;
  slots: KeyValueMap<SlotKey, SlotValue>;
  affinityMatch: KeyValueMap<AffinityMatchKey, { present: number }>;
  vips: KeyValueMap<VipKey, VipValue>;
  counters(): Record<CounterName, bigint>;
}

/** max_entries of the maps the agent writes, as bpf/include/*.h declare them (checked against BTF by test/bpf/btf-layouts.test.ts). */
export const MAP_CAPACITY = { frontends: 65536, backends: 262144, slots: 524288, affinityMatch: 262144, vips: 65536 } as const;
/** The maps the agent writes, by the names its metrics and logs use (socklb_map_entries and
 * socklb_map_capacity carry exactly these labels). */
export type WrittenMap = keyof typeof MAP_CAPACITY;
export const WRITTEN_MAPS = Object.keys(MAP_CAPACITY) as WrittenMap[];
export const MAP_NAME_OF = { frontends: FRONTENDS_MAP, backends: BACKENDS_MAP, slots: SLOTS_MAP, affinityMatch: AFFINITY_MATCH_MAP, vips: VIPS_MAP } as const;

/** The map names a datapath object must provide; the loader and `service list` open these. */
export const DATAPATH_MAP_NAMES = [FRONTENDS_MAP, BACKENDS_MAP, SLOTS_MAP, AFFINITY_MATCH_MAP, VIPS_MAP, COUNTERS_MAP] as const;

export function datapathMaps(fds: ReadonlyMap<string, number>): DatapathMaps {
  const fd = (name: string): number => {
    const value = fds.get(name);
    if (value === undefined) throw new Error(`the BPF object has no map named ${name}; rebuild with npm run build`);
    return value;
  };
  const countersFd = fd(COUNTERS_MAP);
  return {
    frontends: new TypedMap(FRONTENDS_MAP, fd(FRONTENDS_MAP), frontendKeyLayout, frontendValueLayout),
    backends: new TypedMap(BACKENDS_MAP, fd(BACKENDS_MAP), backendKeyLayout, backendValueLayout),
    slots: new TypedMap(SLOTS_MAP, fd(SLOTS_MAP), slotKeyLayout, slotValueLayout),
    affinityMatch: new TypedMap(AFFINITY_MATCH_MAP, fd(AFFINITY_MATCH_MAP), affinityMatchKeyLayout, affinityMatchValueLayout),
    vips: new TypedMap(VIPS_MAP, fd(VIPS_MAP), vipKeyLayout, vipValueLayout),
    counters: () => readCounters(countersFd),
  };
}
