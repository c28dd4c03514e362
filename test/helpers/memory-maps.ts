// In-memory stand-ins for the datapath maps, for the reconciler's unit tests. Keys and values
// go through the real codecs, so equal-in-C keys are equal here too. A hook runs after every
// operation, which lets tests check what a concurrent BPF lookup would see at each step.
// Faults are injected as the kernel would raise them: a capacity (max_entries) past which a new
// key fails with E2BIG, and per-key write or delete failures.
import { COUNTER_NAMES, type CounterName } from '../../src/datapath/counters-map.js';
import { affinityMatchKeyLayout, affinityMatchValueLayout, type AffinityMatchKey } from '../../src/datapath/affinity-maps.js';
import type { StructLayout } from '../../src/bpf/struct-layout.js';
import type { BatchResult, KeyValueMap } from '../../src/bpf/typed-map.js';
import {
  backendKeyLayout,
  backendValueLayout,
  slotKeyLayout,
  slotValueLayout,
  type BackendKey,
  type BackendValue,
  type SlotKey,
  type SlotValue,
} from '../../src/datapath/backends-map.js';
import type { DatapathMaps } from '../../src/datapath/datapath-maps.js';
import { frontendKeyId, frontendKeyLayout, frontendValueLayout, type FrontendKey, type FrontendValue } from '../../src/datapath/frontends-map.js';
import { backendKey, frontendId, type DesiredService } from '../../src/model/desired-services.js';
import { vipKeyLayout, vipValueLayout, type VipKey, type VipValue } from '../../src/datapath/vips-map.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** An error shaped as BpfError's: message and errno. */
export function mapError(message: string, errno: number): Error {
  return Object.assign(new Error(message), { errno });
}

const E2BIG = 7;

export class MemoryMap<K, V> implements KeyValueMap<K, V> {
  readonly data = new Map<string, Uint8Array>();
  /** Throws the returned error instead of writing when it returns one. */
  failWrite: ((key: K) => Error | undefined) | undefined;
  /** Throws the returned error instead of deleting when it returns one. */
  failDelete: ((key: K) => Error | undefined) | undefined;
  /** max_entries: a write of a new key into a map holding this many fails with E2BIG. */
  capacity: number | undefined;
  afterOp: (() => void) | undefined;
  writes = 0;

  constructor(
    readonly keyLayout: StructLayout<K>,
    readonly valueLayout: StructLayout<V>,
  ) {}

  get(key: K): V | undefined {
    const v = this.data.get(hex(this.keyLayout.encode(key)));
    return v && this.valueLayout.decode(v);
  }

  set(key: K, value: V): void {
    const err = this.failWrite?.(key);
    if (err) throw err;
    const k = hex(this.keyLayout.encode(key));
    if (this.capacity !== undefined && this.data.size >= this.capacity && !this.data.has(k)) throw mapError('update of a map: Argument list too long (E2BIG)', E2BIG);
    this.data.set(k, this.valueLayout.encode(value));
    this.writes++;
    this.afterOp?.();
  }

  delete(key: K): boolean {
    const err = this.failDelete?.(key);
    if (err) throw err;
    const had = this.data.delete(hex(this.keyLayout.encode(key)));
    this.writes++;
    this.afterOp?.();
    return had;
  }

  // Batches behave as the kernel's generic batch ops: in order, stopping at the first failure.
  setMany(entries: readonly (readonly [K, V])[]): BatchResult {
    for (let i = 0; i < entries.length; i++) {
      try {
        this.set(entries[i]![0], entries[i]![1]);
      } catch (err) {
        return { done: i, error: err as Error };
      }
    }
    return { done: entries.length };
  }

  deleteMany(keys: readonly K[]): BatchResult {
    for (let i = 0; i < keys.length; i++) {
      try {
        if (!this.delete(keys[i]!)) return { done: i, error: mapError('No such file or directory (ENOENT)', 2) };
      } catch (err) {
        return { done: i, error: err as Error };
      }
    }
    return { done: keys.length };
  }

  entries(): [K, V][] {
    return [...this.data].map(([k, v]) => [this.keyLayout.decode(Buffer.from(k, 'hex')), this.valueLayout.decode(v)]);
  }
}

export interface MemoryMaps extends DatapathMaps {
  frontends: MemoryMap<FrontendKey, FrontendValue>;
  backends: MemoryMap<BackendKey, BackendValue>;
  slots: MemoryMap<SlotKey, SlotValue>;
  affinityMatch: MemoryMap<AffinityMatchKey, { present: number }>;
  vips: MemoryMap<VipKey, VipValue>;
  onEveryOp(fn: (() => void) | undefined): void;
  operations(): number;
}

export function memoryMaps(): MemoryMaps {
  const frontends = new MemoryMap(frontendKeyLayout, frontendValueLayout);
  const backends = new MemoryMap(backendKeyLayout, backendValueLayout);
  const slots = new MemoryMap(slotKeyLayout, slotValueLayout);
  const affinityMatch = new MemoryMap(affinityMatchKeyLayout, affinityMatchValueLayout);
  const vips = new MemoryMap(vipKeyLayout, vipValueLayout);
  const all = [frontends, backends, slots, affinityMatch, vips];
  return {
    frontends,
    backends,
    slots,
    affinityMatch,
    vips,
    counters: () => Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0n])) as Record<CounterName, bigint>,
    onEveryOp(fn) {
      for (const map of all) map.afterOp = fn;
    },
    operations: () => all.reduce((sum, map) => sum + map.writes, 0),
  };
}

/** What a BPF lookup (without its retry) sees for every frontend: "id -> backends" or "broken". */
export function lookupView(maps: DatapathMaps): Map<string, string[] | 'broken'> {
  const out = new Map<string, string[] | 'broken'>();
  for (const [key, value] of maps.frontends.entries()) {
    const id = frontendKeyId(key);
    const list: string[] = [];
    let broken = false;
    for (let slot = 0; slot < value.backend_count; slot++) {
      // The programs take the backend from its slot; the backends map must agree with it.
      const s = maps.slots.get({ service_id: value.service_id, slot, generation: value.generation });
      const b = s && maps.backends.get({ backend_id: s.backend_id });
      if (!s || !b || backendKey(b) !== backendKey(s)) broken = true;
      else list.push(backendKey(s));
    }
    out.set(id, broken ? 'broken' : list.sort());
  }
  return out;
}

/** Frontends ("VIP|port|PROTO") whose address a BPF lookup would not find in the VIP map: to
 * the programs such a frontend does not exist. */
export function frontendsWithoutVip(maps: DatapathMaps): string[] {
  return maps.frontends
    .entries()
    .filter(([key]) => !maps.vips.get({ words: key.address }))
    .map(([key]) => frontendKeyId(key));
}

/** The same view computed from desired services, for comparison. */
export function desiredView(services: readonly DesiredService[]): Map<string, string[]> {
  return new Map(services.map((s) => [frontendId(s.frontend), s.backends.map(backendKey).sort()]));
}

/** Membership pairs a lookup would find, as "VIP|port|PROTO -> address|port", for frontends
 * with affinity: a remembered backend in this set is reused. */
export function affinityMembers(maps: DatapathMaps): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of maps.frontends.entries()) {
    if (v.affinity_timeout === 0) continue;
    for (const [mk] of maps.affinityMatch.entries()) {
      if (mk.service_id !== v.service_id) continue;
      const b = maps.backends.get({ backend_id: mk.backend_id });
      if (b) out.add(`${frontendKeyId(k)} -> ${backendKey(b)}`);
    }
  }
  return out;
}
