// The agent's retry passes: a timer set to the reconciler's earliest due retry (the reconciler
// keeps each failed frontend's backoff; this owns the timer), one log line per pass, and the
// metrics of what is failing. New input needs none of this: a sync re-attempts what it touches.
import type { ReconcileReport, Reconciler } from '../datapath/reconciler.js';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, FAILURE_REASONS } from '../datapath/retry-queue.js';
import type { Clock, ClockTimer } from './agent-clock.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface RetryTimer {
  /** Sets the timer to the earliest due retry (call after every sync); none when nothing is queued. */
  arm(): void;
  stop(): void;
}

/** `active` says whether passes may write (the datapath is installed); `clock` is the
 * reconciler's clock and `random` its jitter; `afterPass` sees each pass's report as a sync's
 * is seen (departed UDP backends). */
export function startRetryTimer(
  reconciler: Reconciler,
  clock: Clock,
  random: () => number,
  active: () => boolean,
  metrics: Metrics,
  log: Logger,
  afterPass: (report: ReconcileReport) => void = () => undefined,
): RetryTimer {
  let timer: ClockTimer | undefined;
  /** Passes in a row that threw: their frontends' retry times did not move, so this backs off. */
  let throws = 0;
  const outcomes = { succeeded: 0, failed: 0 };
  metrics.register({
    name: 'socklb_frontends_failing',
    help: 'Frontends not as desired, by reason; all but unsupported ones are retried with backoff.',
    type: 'gauge',
    read: () => {
      const counts = new Map(FAILURE_REASONS.map((r) => [r, 0]));
      for (const f of reconciler.failures()) counts.set(f.reason, counts.get(f.reason)! + 1);
      return [...counts].map(([reason, value]) => ({ labels: { reason }, value }));
    },
  });
  metrics.register({
    name: 'socklb_retries_total',
    help: 'Retries of failed frontends, by outcome.',
    type: 'counter',
    read: () => Object.entries(outcomes).map(([outcome, value]) => ({ labels: { outcome }, value })),
  });

  const pass = (): void => {
    timer = undefined;
    if (!active()) return;
    const started = process.hrtime.bigint();
    try {
      const r = reconciler.retry();
      afterPass(r);
      outcomes.succeeded += r.succeeded;
      outcomes.failed += r.retried - r.succeeded;
      const failing = reconciler.failures();
      const next = reconciler.nextRetryAt();
      log[failing.length > 0 ? 'warn' : 'info'](
        {
          retried: r.retried,
          succeeded: r.succeeded,
          stillFailing: failing.length,
          nextRetryInMs: next === undefined ? undefined : Math.max(0, next - clock.now()),
          lastError: r.errors[0]?.message,
          mapOperations: r.mapOperations,
          durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'retried failed frontends',
      );
    } catch (err) {
      const retryInMs = backoffDelayMs(DEFAULT_RETRY_POLICY, ++throws, random());
      log.error({ err: (err as Error).message, retryInMs }, 'retry pass failed; the failed frontends stay queued');
      setTimer(retryInMs);
      return;
    }
    throws = 0;
    arm();
  };

  function setTimer(ms: number): void {
    timer?.cancel();
    // At least 1 ms: 0 would be "after this turn", and a due retry is not that urgent.
    timer = clock.setTimeout(pass, Math.max(1, ms));
  }

  function arm(): void {
    const at = reconciler.nextRetryAt();
    if (at !== undefined && active()) setTimer(at - clock.now());
    else {
      timer?.cancel();
      timer = undefined;
    }
  }

  return {
    arm,
    stop() {
      timer?.cancel();
      timer = undefined;
    },
  };
}
