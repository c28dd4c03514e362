// A clock for the agent (src/cli/agent-clock.ts) that moves only when a test says so, running
// the timers that fall due on the way in time order (ties in the order they were set), so a
// test drives syncs, retries and checks without waiting and without races.
import type { Clock, ClockTimer } from '../../src/cli/agent-clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  every: number | undefined;
}

export class ManualClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms, undefined);
  }

  setInterval(fn: () => void, ms: number): ClockTimer {
    return this.add(fn, ms, Math.max(1, ms));
  }

  /** Timers set and not yet run or cancelled. */
  get timers(): number {
    return this.pending.size;
  }

  /** Moves time forward by ms, running every timer due by then (and those they set that are due too). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: [number, Pending] | undefined;
      for (const entry of this.pending) if (entry[1].at <= end && (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq))) next = entry;
      if (!next) break;
      const [id, timer] = next;
      this.time = timer.at;
      if (timer.every === undefined) this.pending.delete(id);
      else timer.at += timer.every;
      timer.fn();
    }
    this.time = end;
  }

  private add(fn: () => void, ms: number, every: number | undefined): ClockTimer {
    const id = this.seq++;
    this.pending.set(id, { at: this.time + Math.max(0, ms), seq: id, fn, every });
    return { cancel: () => void this.pending.delete(id) };
  }
}
