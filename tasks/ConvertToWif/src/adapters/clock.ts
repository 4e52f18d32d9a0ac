// Real time for the core's Clock port: sleeps end at once when the run is cancelled (no retry or poll
// outlives a cancellation); `wait` does not (the grace period for requests in flight).

import { Clock } from '../core/ports';

export function abortableClock(signal: AbortSignal): Clock {
  return {
    now: () => Date.now(),
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done);
      }),
    wait: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  };
}
