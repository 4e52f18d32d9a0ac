// The one retry policy for every call to Azure DevOps, and the only place that waits for
// Retry-After (the pacer only lowers the requests in flight). docs/service-behaviour.md §10, §11:
// node-api retries neither a 429 nor a PUT, so the task does.
//
//  - 429: wait Retry-After / X-RateLimit-Delay (else 1 s, 2 s, 4 s, …), at most 6 tries;
//  - reads (idempotent): 5xx, network errors, timeouts and answers cut off / not JSON back off
//    0.5 s, 1 s, 2 s (3 retries); a write is never resent here: the core reads it back first;
//  - every other failure (4xx, a sign-in page, a redirect, a cancellation) is not retried;
//  - one wait is at most 30 s (jitter included), all the waits of one call at most 90 s, and no
//    wait ends after the call's deadline.

import { ServiceError, isTransient } from '../core/failures';
import { Clock } from '../core/ports';

export const RETRY_LIMITS = {
  max429Tries: 6,
  maxTransientRetries: 3,
  /** One wait never exceeds this, whatever Retry-After says (the service delays up to ~30 s). */
  maxSingleWaitMs: 30_000,
  /** All the waiting for one call: past this budget the call fails (and says why) rather than stall the run. */
  maxTotalWaitMs: 90_000,
  /** Each wait is multiplied by a factor in [1 - jitter, 1 + jitter). */
  jitter: 0.2,
} as const;

export interface RetryOptions {
  /** What the call does, for the debug log. */
  what: string;
  /** Reads may be retried on transient failures; writes only on 429. */
  idempotent: boolean;
  clock: Clock;
  /** [0, 1); Math.random by default. */
  random?: () => number;
  /** Aborted: no attempt starts any more. */
  signal?: AbortSignal;
  /** Clock time after which no wait may end. */
  deadline?: number;
  /** What an attempt threw, as a ServiceError. */
  toFailure(raw: unknown): ServiceError;
  /** Seconds the service asked to wait (Retry-After / X-RateLimit-Delay) in what an attempt threw. */
  retryAfterOf(raw: unknown): number | undefined;
  debug?(message: string): void;
}

/** The wait before the next try, or undefined when the failure is final. Pure: tested on its own. */
export function nextWaitMs(
  failure: ServiceError,
  retryAfterSeconds: number | undefined,
  state: { throttled: number; transient: number; waitedMs: number },
  o: Pick<RetryOptions, 'idempotent'> & { random: () => number; now: number; deadline?: number },
): number | undefined {
  let base: number | undefined;
  if (failure.status === 429) {
    if (++state.throttled >= RETRY_LIMITS.max429Tries) return undefined;
    base =
      retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) && retryAfterSeconds >= 0 ? retryAfterSeconds * 1000 : 1000 * 2 ** state.throttled;
  } else if (o.idempotent && isTransient(failure)) {
    if (++state.transient > RETRY_LIMITS.maxTransientRetries) return undefined;
    base = 500 * 2 ** (state.transient - 1);
  } else return undefined;
  const wait = Math.min(RETRY_LIMITS.maxSingleWaitMs, base * (1 - RETRY_LIMITS.jitter + o.random() * 2 * RETRY_LIMITS.jitter));
  if (state.waitedMs + wait > RETRY_LIMITS.maxTotalWaitMs) return undefined;
  if (o.deadline !== undefined && o.now + wait >= o.deadline) return undefined;
  state.waitedMs += wait;
  return wait;
}

/** Runs `attempt` until it succeeds or the policy gives up; throws the last failure as a ServiceError. */
export async function withRetry<T>(attempt: () => Promise<T>, o: RetryOptions): Promise<T> {
  const state = { throttled: 0, transient: 0, waitedMs: 0 };
  for (;;) {
    if (o.signal?.aborted) throw new ServiceError({ message: 'The run was cancelled before this request was sent.', cancelled: true });
    try {
      return await attempt();
    } catch (raw) {
      const failure = o.toFailure(raw);
      const wait = nextWaitMs(failure, o.retryAfterOf(raw), state, {
        idempotent: o.idempotent,
        random: o.random ?? Math.random,
        now: o.clock.now(),
        deadline: o.deadline,
      });
      if (wait === undefined) throw failure;
      o.debug?.(`${o.what}: ${failure.status ?? 'network error'} (${failure.message}); retrying in ${Math.round(wait)} ms`);
      await o.clock.sleep(wait);
    }
  }
}
