// Garbage collection of the tc conntrack table: deletes entries past their expiry. The
// programs already ignore (and delete) a dead entry they meet; this removes the ones no packet
// comes back for, so the table holds live flows and its size is a true count of them.
import type { KeyValueMap } from '../bpf/typed-map.js';
import { deleteAll } from './batched-writes.js';
import { CT_DIRECTION, ctNow, type CtEntry, type CtKey } from './ct-map.js';

export interface CtGcResult {
  /** Entries that were live after the pass. */
  live: number;
  /** Tracked flows (forward entries) among them. */
  liveFlows: number;
  expired: number;
  durationMs: number;
}

/** nowS: the programs' clock (ctNow). An entry that vanished meanwhile (deleted by a packet,
 * evicted by the LRU) is simply gone; any other failure is thrown once the pass has deleted
 * what it could. */
export function collectExpiredFlows<V = CtEntry>(
  ct: KeyValueMap<CtKey, V>,
  nowS: number = ctNow(),
  expiresOf: (entry: V) => number = (entry) => (entry as CtEntry).expires,
): CtGcResult {
  const started = performance.now();
  const dead: { key: CtKey; tag: undefined }[] = [];
  let live = 0;
  let liveFlows = 0;
  for (const [key, entry] of ct.entries()) {
    if (expiresOf(entry) <= nowS) {
      dead.push({ key, tag: undefined });
      continue;
    }
    live++;
    if (key.direction === CT_DIRECTION.forward) liveFlows++;
  }
  const failures: Error[] = [];
  const expired = deleteAll(ct, dead, (_, err) => failures.push(err));
  if (failures.length > 0) throw new Error(`conntrack GC: ${failures.length} expired entries could not be deleted: ${failures[0]!.message}`, { cause: failures[0] });
  return { live, liveFlows, expired, durationMs: performance.now() - started };
}
