// Time as the agent sees it: the clock its timers run on and the time they compare with,
// passed in so that a test drives the agent's syncs, retries and checks deterministically
// (test/helpers/manual-clock.ts) while production uses Node's timers.
export interface ClockTimer {
  cancel(): void;
}

export interface Clock {
  /** ms since the epoch. */
  now(): number;
  /** Runs fn once after ms; 0 means after the current turn of the event loop (where a burst of events has arrived). */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  setInterval(fn: () => void, ms: number): ClockTimer;
}

/** Node's timers. Those with a delay do not keep the process alive: the agent's sources and its
 * ops server do, and a test that stops them expects the process to be able to exit. */
export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    if (ms <= 0) {
      const immediate = setImmediate(fn);
      return { cancel: () => clearImmediate(immediate) };
    }
    const timeout = setTimeout(fn, ms).unref();
    return { cancel: () => clearTimeout(timeout) };
  },
  setInterval(fn, ms) {
    const interval = setInterval(fn, ms).unref();
    return { cancel: () => clearInterval(interval) };
  },
};
