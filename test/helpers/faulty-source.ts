// A desired-state source for the agent whose failures a test schedules: take() throws (the
// update stays queued, as a source whose read failed keeps its input), and the source stops
// being ready for a while (a relist) and, like the real sources, says so when it is ready
// again. Updates pushed while the agent does not take them are merged, as the real sources
// coalesce what arrives between two syncs.
import type { Problem } from '../../src/model/problems.js';
import { mergeUpdates } from '../../src/model/desired-tables.js';
import type { DesiredSource, SourceUpdate } from '../../src/source/desired-source.js';

export class FaultySource implements DesiredSource {
  private queued: SourceUpdate | undefined;
  private onChange: () => void = () => undefined;
  private isReady = true;
  /** take() calls left that throw. */
  takeFailures = 0;
  /** take() calls that threw. */
  injected = 0;

  start(onChange: () => void): void {
    this.onChange = onChange;
  }

  stop(): void {
    this.onChange = () => undefined;
  }

  ready(): boolean {
    return this.isReady;
  }

  take(): SourceUpdate | undefined {
    if (this.takeFailures > 0) {
      this.takeFailures--;
      this.injected++;
      throw new Error('the source could not read its input (injected)');
    }
    const update = this.queued;
    this.queued = undefined;
    return update;
  }

  problems(): Problem[] {
    return [];
  }

  push(update: SourceUpdate): void {
    this.queued = this.queued ? mergeUpdates(this.queued, update) : update;
    this.onChange();
  }

  setReady(ready: boolean): void {
    const was = this.isReady;
    this.isReady = ready;
    if (ready && !was) this.onChange();
  }
}
