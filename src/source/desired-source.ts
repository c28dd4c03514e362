// What the agent needs from wherever desired state comes from (a file, the API server).
import type { SourceUpdate } from '../model/desired-tables.js';
import type { Problem } from '../model/problems.js';

export type { SourceUpdate };

export interface DesiredSource {
  /** Begins reading; onChange is called (often, in bursts) whenever an update may be ready. */
  start(onChange: () => void): void;
  stop(): void;
  /** Whether the source has a complete picture yet; until then the datapath keeps what it has. */
  ready(): boolean;
  /** The update to apply now (a table per kind with news), or undefined when there is nothing
   * (or the input is unusable). */
  take(): SourceUpdate | undefined;
  /** Every problem with the current objects. */
  problems(): Problem[];
  /** When the source's complete picture arrived (ms since the epoch), if it can tell. */
  completeSince?(): number | undefined;
}
