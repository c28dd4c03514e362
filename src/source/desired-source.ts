// What the agent needs from wherever desired state comes from (a file, the API server).
import { frontendId, type DesiredService } from '../model/desired-services.js';
import type { DesiredChanges } from '../model/service-index.js';
import type { Problem } from '../model/problems.js';

export type SourceUpdate =
  /** The whole desired state: the maps are made equal to it. */
  | { kind: 'full'; services: DesiredService[] }
  /** Only what changed since the last update. */
  | { kind: 'delta'; changes: DesiredChanges };

export interface DesiredSource {
  /** Begins reading; onChange is called (often, in bursts) whenever an update may be ready. */
  start(onChange: () => void): void;
  stop(): void;
  /** Whether the source has a complete picture yet; until then the datapath keeps what it has. */
  ready(): boolean;
  /** The update to apply now, or undefined when there is nothing (or the input is unusable). */
  take(): SourceUpdate | undefined;
  /** Every problem with the current objects. */
  problems(): Problem[];
  /** When the source's complete picture arrived (ms since the epoch), if it can tell. */
  completeSince?(): number | undefined;
}

/** One update with the effect of `a` then `b`: what an agent applies when `a` could not be
 * applied (its sync threw) before `b` was taken. */
export function mergeUpdates(a: SourceUpdate, b: SourceUpdate): SourceUpdate {
  // A whole state says everything; what came before it no longer matters.
  if (b.kind === 'full') return b;
  const upserts = new Map((a.kind === 'full' ? a.services : a.changes.upserts).map((s) => [frontendId(s.frontend), s]));
  const removals = new Set(a.kind === 'full' ? [] : a.changes.removals);
  for (const fid of b.changes.removals) {
    upserts.delete(fid);
    removals.add(fid);
  }
  for (const s of b.changes.upserts) {
    const fid = frontendId(s.frontend);
    upserts.set(fid, s);
    removals.delete(fid);
  }
  if (a.kind === 'full') return { kind: 'full', services: [...upserts.values()] };
  return { kind: 'delta', changes: { upserts: [...upserts.values()], removals: [...removals] } };
}
