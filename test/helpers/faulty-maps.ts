// Fault injection around any map (a MemoryMap or a real TypedMap): a plan decides, per
// operation, whether it fails, and for batches how many elements go through before the
// failure, as the kernel's batch operations stop part-way. Iteration can fail too. With the
// plan cleared, the map behaves as the one it wraps.
import type { BatchResult, KeyValueMap } from '../../src/bpf/typed-map.js';
import type { DatapathMaps } from '../../src/datapath/datapath-maps.js';
import { mapError } from './memory-maps.js';

export type MapOperation = 'set' | 'delete' | 'setMany' | 'deleteMany' | 'entries';

/** What a failing operation does: the error it raises, and for a batch how many of its elements are done first. */
export interface Fault {
  error: Error;
  /** Batches only: elements written (deleted) before the failing one; clamped below the batch's
   * size, since a batch that fails has an element that failed. */
  done?: number;
}

/** Decides the fate of one operation: undefined lets it through. */
export type FaultPlan = (map: string, op: MapOperation, size: number) => Fault | undefined;

export const ENOMEM = (what: string): Error => mapError(`${what}: Cannot allocate memory (ENOMEM)`, 12);

export class FaultyMap<K, V> implements KeyValueMap<K, V> {
  /** Operations that failed because of the plan. */
  injected = 0;

  constructor(
    readonly name: string,
    private readonly inner: KeyValueMap<K, V>,
    public plan: FaultPlan | undefined = undefined,
  ) {}

  get(key: K): V | undefined {
    return this.inner.get(key);
  }

  set(key: K, value: V): void {
    this.fail('set', 1);
    this.inner.set(key, value);
  }

  delete(key: K): boolean {
    this.fail('delete', 1);
    return this.inner.delete(key);
  }

  entries(): [K, V][] {
    this.fail('entries', 0);
    return this.inner.entries();
  }

  setMany(entries: readonly (readonly [K, V])[]): BatchResult {
    const fault = this.fault('setMany', entries.length);
    if (!fault) return this.inner.setMany(entries);
    return this.partial(this.inner.setMany(entries.slice(0, fault.done)), fault);
  }

  deleteMany(keys: readonly K[]): BatchResult {
    const fault = this.fault('deleteMany', keys.length);
    if (!fault) return this.inner.deleteMany(keys);
    return this.partial(this.inner.deleteMany(keys.slice(0, fault.done)), fault);
  }

  private fault(op: MapOperation, size: number): (Fault & { done: number }) | undefined {
    // An empty batch makes no system call, so nothing can fail it.
    if (size === 0 && op !== 'entries') return undefined;
    const f = this.plan?.(this.name, op, size);
    if (!f) return undefined;
    this.injected++;
    return { ...f, done: Math.max(0, Math.min(size - 1, f.done ?? 0)) };
  }

  private fail(op: MapOperation, size: number): void {
    const f = this.fault(op, size);
    if (f) throw f.error;
  }

  /** The inner batch's own failure wins: it stopped earlier than the injected one. */
  private partial(r: BatchResult, fault: Fault & { done: number }): BatchResult {
    return r.error ? r : { done: r.done, error: fault.error };
  }
}

export interface FaultyMaps extends DatapathMaps {
  /** Sets the plan of every map at once; undefined clears it. */
  setPlan(plan: FaultPlan | undefined): void;
  /** Operations failed by the plan so far, over all maps. */
  injected(): number;
}

/** The datapath maps, each behind a FaultyMap with the same plan. */
export function faultyMaps(inner: DatapathMaps): FaultyMaps {
  const wrap = <K, V>(name: string, m: KeyValueMap<K, V>): FaultyMap<K, V> => new FaultyMap(name, m);
  const maps = {
    frontends: wrap('frontends', inner.frontends),
    backends: wrap('backends', inner.backends),
    slots: wrap('slots', inner.slots),
    affinityMatch: wrap('affinityMatch', inner.affinityMatch),
    vips: wrap('vips', inner.vips),
  };
  const all = Object.values(maps) as FaultyMap<unknown, unknown>[];
  return {
    ...maps,
    counters: () => inner.counters(),
    setPlan(plan) {
      for (const m of all) m.plan = plan;
    },
    injected: () => all.reduce((n, m) => n + m.injected, 0),
  };
}
