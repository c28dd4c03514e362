// What the agent needs from wherever desired state comes from (a file, the API server).
import type { DesiredService } from '../datapath/desired-state.js';
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
