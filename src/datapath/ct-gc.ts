// Garbage collection of the tc conntrack table: deletes entries past their expiry. The
// programs already ignore (and delete) a dead entry they meet; this removes the ones no packet
// comes back for, so the table holds live flows and its size is a true count of them.
import type { KeyValueMap } from '../bpf/typed-map.js';
import { CT_DIRECTION, type CtEntry, type CtKey } from './ct-map.js';

const ENOENT = 2;

export interface CtGcResult {
  /** Entries that were live after the pass. */
  live: number;
  /** Tracked flows (forward entries) among them. */
  liveFlows: number;
  expired: number;
  durationMs: number;
}

/** nowNs: CLOCK_MONOTONIC nanoseconds, the programs' clock (process.hrtime.bigint() on Linux). */
export function collectExpiredFlows(ct: KeyValueMap<CtKey, CtEntry>, nowNs: bigint = process.hrtime.bigint()): CtGcResult {
  const started = performance.now();
  const dead: CtKey[] = [];
  let live = 0;
  let liveFlows = 0;
  for (const [key, entry] of ct.entries()) {
    if (entry.expires_ns <= nowNs) {
      dead.push(key);
      continue;
    }
    live++;
    if (key.direction === CT_DIRECTION.forward) liveFlows++;
  }
  // An entry that vanished meanwhile (deleted by a packet, evicted by the LRU) stops a batch
  // delete with ENOENT; the batch goes on after it.
  let expired = 0;
  let rest = dead;
  while (rest.length > 0) {
    const r = ct.deleteMany(rest);
    expired += r.done;
    if (r.error && (r.error as { errno?: number }).errno !== ENOENT) throw r.error;
    rest = rest.slice(r.done + (r.error ? 1 : 0));
  }
  return { live, liveFlows, expired, durationMs: performance.now() - started };
}
