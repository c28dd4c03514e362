// Frontends whose last write failed, each with why, how many attempts and when it is tried
// again, so the reconciler converges by itself: a failure is retried with exponential backoff
// until it succeeds, whether or not new input arrives. A new desired state for a failed
// frontend replaces what its retry would write; a success forgets it. This is also the status
// a frontend has while it is not as desired (reason, attempts, last error).
import type { DesiredService } from '../model/desired-services.js';

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
}

/** A map full for a moment (another writer's removals still pending) costs a tenth of a
 * second; a lasting problem costs two attempts a minute per frontend. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { initialMs: 100, maxMs: 30_000 };

/** Time and chance, passed in so that tests drive the backoff deterministically. */
export interface RetryTiming {
  /** ms since the epoch. */
  now(): number;
  /** In [0, 1): the jitter. */
  random(): number;
  policy?: RetryPolicy;
}

export const SYSTEM_TIMING: RetryTiming = { now: () => Date.now(), random: () => Math.random() };

/** The wait before attempt `failures + 1`: doubling from initialMs to maxMs, times a jitter
 * factor in [0.8, 1.2) drawn from `random`. */
export function backoffDelayMs(policy: RetryPolicy, failures: number, random: number): number {
  const delay = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(delay * (0.8 + random * 0.4));
}

/** Why a frontend is not as desired:
 *   map_full     a map had no room (E2BIG); retried, and removals elsewhere make room;
 *   map_error    another map operation failed; retried;
 *   unsupported  socklb cannot program this input (too many endpoints, ids exhausted); not
 *                retried until the input changes. */
export type FailureReason = 'map_full' | 'map_error' | 'unsupported';

export const FAILURE_REASONS: readonly FailureReason[] = ['map_full', 'map_error', 'unsupported'];

const E2BIG = 7;

/** The reason for a failed map operation, from its errno. */
export function mapFailureReason(err: Error): FailureReason {
  return (err as { errno?: number }).errno === E2BIG ? 'map_full' : 'map_error';
}

export interface FailedAttempt {
  frontend: string;
  owner: string;
  /** What a retry makes true: the desired service, or undefined for a removal. */
  want: DesiredService | undefined;
  reason: FailureReason;
  message: string;
}

export interface FrontendFailure extends FailedAttempt {
  /** Failed attempts since the frontend last matched what is desired. */
  attempts: number;
  /** When the next retry is due (ms since the epoch); undefined: not until the input changes. */
  retryAt: number | undefined;
}

export class RetryQueue {
  private readonly failures = new Map<string, FrontendFailure>();
  private readonly policy: RetryPolicy;
  private jitter = 0.5;
  private passStart = 0;

  constructor(private readonly timing: RetryTiming) {
    this.policy = timing.policy ?? DEFAULT_RETRY_POLICY;
  }

  /** Starts a pass (a sync or a retry): its failures share one start time and one jitter
   * draw, so frontends that failed together (with as many attempts) are retried together, in
   * one batch of writes and one log line, instead of being scattered over as many passes as
   * the pass had steps or frontends. */
  startPass(): void {
    this.passStart = this.timing.now();
    this.jitter = this.timing.random();
  }

  failed(attempt: FailedAttempt): void {
    const attempts = (this.failures.get(attempt.frontend)?.attempts ?? 0) + 1;
    const retryAt = attempt.reason === 'unsupported' ? undefined : this.passStart + backoffDelayMs(this.policy, attempts, this.jitter);
    this.failures.set(attempt.frontend, { ...attempt, attempts, retryAt });
  }

  succeeded(frontend: string): void {
    this.failures.delete(frontend);
  }

  /** Forgets failures for which `keep` says no (frontends no longer desired and never programmed). */
  retain(keep: (frontend: string) => boolean): void {
    for (const fid of this.failures.keys()) if (!keep(fid)) this.failures.delete(fid);
  }

  /** The failures whose retry is due now. */
  due(): FrontendFailure[] {
    const now = this.timing.now();
    return [...this.failures.values()].filter((f) => f.retryAt !== undefined && f.retryAt <= now);
  }

  /** When the earliest retry is due, or undefined when none is queued. */
  nextRetryAt(): number | undefined {
    let next: number | undefined;
    for (const f of this.failures.values()) if (f.retryAt !== undefined && (next === undefined || f.retryAt < next)) next = f.retryAt;
    return next;
  }

  get(frontend: string): FrontendFailure | undefined {
    return this.failures.get(frontend);
  }

  list(): FrontendFailure[] {
    return [...this.failures.values()];
  }

  get size(): number {
    return this.failures.size;
  }
}
