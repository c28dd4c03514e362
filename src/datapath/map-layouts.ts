// Versioned pinned state: each map's pin name carries its layout version, as Cilium's
// cilium_lb4_services_v2 does: a layout's first version is the plain name (what socklb has
// always pinned), version N > 1 is NAME_vN. A change to a map's key, value, type, size or
// meaning bumps its version here, so an agent never reuses a pin of another layout.
// test/bpf/map-layout-versions.test.ts fails when a layout BTF can see changed at the same
// version; a change of meaning alone (same types) needs its bump by hand.
//
// An upgrade builds the new maps beside the old ones while the old programs keep running on
// theirs, fills them, and only then swaps the programs over (one link update or filter
// replacement per hook): no connection sees a half-filled map, and nobody has to run
// `socklb uninstall`. Before an object is loaded (prepareUpgrade):
//   - a pin at a map's name whose definition does not fit (a socklb from before versioned
//     names, or a version that was not bumped) is set aside as NAME_replaced;
//   - when any of the maps the reconciler writes is new in this way (its pin absent while an
//     older version's is there, or set aside), all of them are set aside and built anew: the
//     old programs must go on reading one consistent set of frontends, slots and backends,
//     which the reconciler would otherwise change under them;
//   - other maps (per-socket and per-flow state, counters) of a new layout start empty.
// While set-aside or older-version pins exist an upgrade is pending (also after a crash
// half-way): the datapath attaches its programs after the first full sync, then removes them.
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pinnedMapDef, type MapDef } from '../bpf/bpf-object.js';
import { AFFINITY_MATCH_MAP } from './affinity-maps.js';
import { BACKENDS_MAP, SLOTS_MAP } from './backends-map.js';
import { FRONTENDS_MAP } from './frontends-map.js';
import { VIPS_MAP } from './vips-map.js';

/** Layout versions of the maps whose layout changed since pins were first named; every other map is at version 1. */
export const MAP_LAYOUT_VERSIONS: Readonly<Record<string, number>> = {
  // 2: the generic conntrack entry (state, expiry in seconds, verdict bits, NAT data apart):
  // the same key and value sizes as version 1, a different meaning, so only the name tells.
  slb_ct: 2,
  // 2: indexed by enum slb_reason (bpf/include/reasons.h), 20 entries instead of 11.
  // 3: 25 entries (the NetworkPolicy reasons and sock_revnat_fallback).
  // 4: 26 entries (policy_refused_egress), then 28 (the policy's allowed flows; set aside by size).
  // 5: 34 entries (the node programs' reasons).
  slb_counters: 6,
  // 2: a slot carries its backend's address and port (one lookup fewer per new connection).
  slb_slots: 2,
};

/** The maps the reconciler writes, which must change layout together (see above). */
const RECONCILED_MAPS: ReadonlySet<string> = new Set([FRONTENDS_MAP, BACKENDS_MAP, SLOTS_MAP, VIPS_MAP, AFFINITY_MATCH_MAP]);

// bpffs refuses names with a dot (reserved by the kernel), hence no extension.
const SET_ASIDE = '_replaced';

type Versions = Readonly<Record<string, number>>;

const versionedName = (name: string, v: number): string => (v === 1 ? name : `${name}_v${v}`);

/** The pin file name of a map at this socklb's layout. */
export function pinName(name: string, versions: Versions = MAP_LAYOUT_VERSIONS): string {
  return versionedName(name, versions[name] ?? 1);
}

/** Pins in dir that hold an older layout of a map (of those named, default: every versioned
 * one) or were set aside: what an upgrade removes once it is done. */
export function stalePins(dir: string, mapNames: Iterable<string> = Object.keys(MAP_LAYOUT_VERSIONS), versions: Versions = MAP_LAYOUT_VERSIONS): string[] {
  if (!existsSync(dir)) return [];
  const older = new Set<string>();
  for (const name of mapNames) for (let v = 1; v < (versions[name] ?? 1); v++) older.add(versionedName(name, v));
  return readdirSync(dir)
    .filter((p) => p.endsWith(SET_ASIDE) || older.has(p))
    .sort();
}

const fits = (a: MapDef, b: MapDef): boolean => a.type === b.type && a.keySize === b.keySize && a.valueSize === b.valueSize && a.maxEntries === b.maxEntries && a.flags === b.flags;

/** Sets aside what the object's maps cannot reuse (see above); returns the pins it set aside. */
export function prepareUpgrade(dir: string, defs: readonly MapDef[]): string[] {
  const setAside: string[] = [];
  const aside = (pin: string): void => {
    // A set-aside pin of an earlier attempt is older still: nothing reads it but old programs.
    if (existsSync(join(dir, pin + SET_ASIDE))) rmSync(join(dir, pin + SET_ASIDE));
    renameSync(join(dir, pin), join(dir, pin + SET_ASIDE));
    setAside.push(pin);
  };
  let reconciledAnew = false;
  for (const def of defs) {
    const pin = pinName(def.name);
    const present = existsSync(join(dir, pin));
    const misfit = present && !fits(pinnedMapDef(join(dir, pin)), def);
    if (misfit) aside(pin);
    const olderThere = stalePins(dir, [def.name]).some((p) => !p.endsWith(SET_ASIDE));
    if (RECONCILED_MAPS.has(def.name) && (misfit || (!present && olderThere))) reconciledAnew = true;
  }
  if (reconciledAnew) {
    for (const def of defs) if (RECONCILED_MAPS.has(def.name) && existsSync(join(dir, pinName(def.name)))) aside(pinName(def.name));
  }
  return setAside;
}

/** Removes the pins an upgrade left (call once the new programs are attached); returns them. */
export function removeStalePins(dir: string): string[] {
  const stale = stalePins(dir);
  for (const pin of stale) rmSync(join(dir, pin));
  return stale;
}
