// Reads what the maps hold now, grouped the way the reconciler thinks: each frontend with the
// slots of its live generation and of the spare one. Used when an agent adopts pinned maps
// and by `socklb service list`.
import type { BackendValue, SlotKey } from './backends-map.js';
import type { DatapathMaps } from './datapath-maps.js';
import type { FrontendKey, FrontendValue } from './frontends-map.js';

export interface ProgrammedFrontend {
  key: FrontendKey;
  value: FrontendValue;
  /** Backend ids of the live generation by slot; a hole means a slot is missing. */
  active: (number | undefined)[];
  /** Backend ids left in the spare generation by the previous update. */
  spare: (number | undefined)[];
}

export interface MapSnapshot {
  frontends: ProgrammedFrontend[];
  backends: Map<number, BackendValue>;
  /** Slots of service ids no frontend refers to: left by an interrupted update. */
  orphanSlots: SlotKey[];
}

export function readSnapshot(maps: DatapathMaps): MapSnapshot {
  const backends = new Map(maps.backends.entries().map(([k, v]) => [k.backend_id, v] as const));
  const slotsByService = new Map<number, [(number | undefined)[], (number | undefined)[]]>();
  for (const [key, value] of maps.slots.entries()) {
    let gens = slotsByService.get(key.service_id);
    if (!gens) slotsByService.set(key.service_id, (gens = [[], []]));
    // A slot whose copy of its backend is not the backend its id names is as good as missing:
    // the programs would send connections to the copy.
    const backend = backends.get(value.backend_id);
    const faithful = backend !== undefined && backend.address === value.address && backend.port === value.port;
    gens[key.generation & 1]![key.slot] = faithful ? value.backend_id : undefined;
  }
  const frontends: ProgrammedFrontend[] = [];
  const referenced = new Set<number>();
  for (const [key, value] of maps.frontends.entries()) {
    const gens = slotsByService.get(value.service_id) ?? [[], []];
    const live = gens[value.generation & 1]!;
    const active = Array.from({ length: value.backend_count }, (_, i) => live[i]);
    frontends.push({ key, value, active, spare: gens[(value.generation & 1) ^ 1]! });
    referenced.add(value.service_id);
  }
  const orphanSlots: SlotKey[] = [];
  for (const [serviceId, gens] of slotsByService) {
    if (referenced.has(serviceId)) continue;
    gens.forEach((ids, generation) => ids.forEach((_, slot) => orphanSlots.push({ service_id: serviceId, slot, generation })));
  }
  return { frontends, backends, orphanSlots };
}
