// Paces requests to Azure DevOps: at most `max` in flight, fewer while the service signals that
// it is throttling this identity (docs/service-behaviour.md §10: a 429, X-RateLimit-Delay when it
// starts delaying requests, X-RateLimit-Remaining near 0), so the task slows down instead of
// hammering a shared request budget. It never waits itself: the retry policy (retryPolicy.ts) is
// the one owner of the Retry-After wait.

export interface RateLimitSignal {
  /** Seconds the service asks to wait (Retry-After) or says it delayed us (X-RateLimit-Delay). */
  delaySeconds?: number;
  remaining?: number;
  limit?: number;
}

/** Consecutive unthrottled answers before one more request may be in flight again. */
const CALM_TO_GROW = 10;

export class Pacer {
  private limit: number;
  private active = 0;
  private readonly queue: Array<() => void> = [];
  private calm = 0;

  constructor(
    private readonly max: number,
    private readonly onChange?: (limit: number) => void,
  ) {
    this.limit = max;
  }

  get inFlightLimit(): number {
    return this.limit;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.queue.push(resolve)); // the slot is handed over by release()
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Reads the service's rate-limit headers of an answer (or of a 429) and adapts. */
  observe(signal: RateLimitSignal | undefined, throttled: boolean): void {
    const delay = signal?.delaySeconds ?? 0;
    const nearlyOut = signal?.remaining !== undefined && signal.remaining <= Math.max(1, (signal.limit ?? 0) * 0.05);
    if (throttled || delay > 0 || nearlyOut) {
      this.limit = Math.max(1, Math.floor(this.limit / 2));
      this.calm = 0;
      this.onChange?.(this.limit);
    } else if (this.limit < this.max && ++this.calm >= CALM_TO_GROW) {
      this.limit++;
      this.calm = 0;
      this.onChange?.(this.limit);
      this.drain();
    }
  }

  private release(): void {
    this.active--;
    this.drain();
  }

  private drain(): void {
    while (this.active < this.limit && this.queue.length > 0) {
      this.active++;
      this.queue.shift()!();
    }
  }
}
