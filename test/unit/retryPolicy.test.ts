// The one retry policy (src/adapters/retryPolicy.ts) with a fake clock: how many tries, how long each
// wait, the cap of one wait and of all waits, the jitter, and which failures are retried at all.
import * as assert from 'node:assert/strict';
import { RETRY_LIMITS, nextWaitMs, withRetry } from '../../tasks/ConvertToWif/src/adapters/retryPolicy';
import { ServiceError, ServiceFailure } from '../../tasks/ConvertToWif/src/core/failures';
import { Clock } from '../../tasks/ConvertToWif/src/core/ports';

function fakeClock(): Clock & { slept: number[] } {
  let now = 1_000_000;
  const slept: number[] = [];
  return { slept, now: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)), wait: async (ms) => void (now += ms) };
}

/** Runs withRetry over an attempt that fails with `failures` in turn (then succeeds), with Retry-After per failure. */
async function run(
  failures: Array<ServiceFailure & { retryAfter?: number }>,
  o: { idempotent?: boolean; random?: () => number; deadline?: number; signal?: AbortSignal } = {},
) {
  const clock = fakeClock();
  let tries = 0;
  const outcome = await withRetry(
    async () => {
      const f = failures[tries++];
      if (f) throw Object.assign(new ServiceError(f), { retryAfter: f.retryAfter });
      return 'ok';
    },
    {
      what: 'test',
      idempotent: o.idempotent ?? true,
      clock,
      random: o.random ?? (() => 0.5),
      deadline: o.deadline,
      signal: o.signal,
      toFailure: (raw) => raw as ServiceError,
      retryAfterOf: (raw) => (raw as { retryAfter?: number }).retryAfter,
    },
  ).catch((err: unknown) => err as ServiceError);
  return { outcome, tries, slept: clock.slept };
}
const throttled = (retryAfter?: number) => ({ status: 429, message: 'TF400733', retryAfter });

describe('retry policy', () => {
  it('waits exactly Retry-After on a 429 (jitter 0 at random 0.5), then succeeds', async () => {
    const r = await run([throttled(2), throttled(3)]);
    assert.equal(r.outcome, 'ok');
    assert.equal(r.tries, 3);
    assert.deepEqual(r.slept, [2000, 3000]);
  });

  it('gives up after 6 tries of 429, failing with the 429', async () => {
    const r = await run(Array.from({ length: 10 }, () => throttled(1)));
    assert.equal(r.tries, RETRY_LIMITS.max429Tries);
    assert.equal((r.outcome as ServiceError).status, 429);
    assert.equal(r.slept.length, RETRY_LIMITS.max429Tries - 1);
  });

  it('backs off 1 s, 2 s, 4 s… on a 429 without Retry-After', async () => {
    const r = await run([throttled(), throttled(), throttled()]);
    assert.deepEqual(r.slept, [2000, 4000, 8000]);
  });

  it('caps one wait at 30 s, jitter included, and all the waits of one call at 90 s', async () => {
    const one = await run([throttled(600)], { random: () => 0.999 });
    assert.deepEqual(one.slept, [RETRY_LIMITS.maxSingleWaitMs]);
    const many = await run(Array.from({ length: 6 }, () => throttled(25)));
    assert.deepEqual(many.slept, [25000, 25000, 25000], 'a fourth wait would pass 90 s in total');
    assert.equal(many.tries, 4);
    assert.equal((many.outcome as ServiceError).status, 429);
  });

  it('jitters each wait within ±20 %', async () => {
    assert.deepEqual((await run([throttled(10)], { random: () => 0 })).slept, [8000]);
    const high = (await run([throttled(10)], { random: () => 0.9999 })).slept[0];
    assert.ok(high > 11_990 && high < 12_000, String(high));
  });

  it('retries reads (not writes) on 5xx, network errors, timeouts and garbled answers: 0.5 s, 1 s, 2 s, then gives up', async () => {
    for (const f of [
      { status: 503, message: 'x' },
      { message: 'ECONNRESET' },
      { message: 't', timedOut: true },
      { status: 200, message: 'g', garbled: true },
    ]) {
      const read = await run([f, f, f, f, f]);
      assert.deepEqual(read.slept, [500, 1000, 2000], JSON.stringify(f));
      assert.equal(read.tries, 4);
      const write = await run([f], { idempotent: false });
      assert.deepEqual(write.slept, [], `a write is never resent blind: ${JSON.stringify(f)}`);
      assert.equal(write.tries, 1);
    }
    // …but a write is retried on 429: the service did not handle it.
    assert.equal((await run([throttled(1)], { idempotent: false })).outcome, 'ok');
  });

  it('never retries a 4xx, a sign-in page, a redirect, the AAD silent failure or a cancellation', async () => {
    for (const f of [
      { status: 400, message: 'x' },
      { status: 403, message: 'x' },
      { status: 404, message: 'x' },
      { status: 203, message: 'x', signInPage: true },
      { status: 302, message: 'x', redirectTo: 'http://elsewhere' },
      { status: 500, message: 'AAD returned silent failure' },
      { message: 'x', cancelled: true },
    ]) {
      const r = await run([f]);
      assert.equal(r.tries, 1, JSON.stringify(f));
      assert.deepEqual(r.slept, []);
    }
  });

  it('starts no wait that would end after the deadline, and no attempt once cancelled', async () => {
    const late = await run([throttled(5)], { deadline: 1_000_000 + 4000 });
    assert.equal(late.tries, 1);
    assert.equal((late.outcome as ServiceError).status, 429);
    const abort = new AbortController();
    abort.abort();
    const cancelled = await run([], { signal: abort.signal });
    assert.equal(cancelled.tries, 0);
    assert.equal((cancelled.outcome as ServiceError).cancelled, true);
  });

  it('nextWaitMs counts the budget across tries', () => {
    const state = { throttled: 0, transient: 0, waitedMs: 0 };
    const o = { idempotent: true, random: () => 0.5, now: 0 };
    assert.equal(nextWaitMs(new ServiceError({ status: 500, message: '' }), undefined, state, o), 500);
    assert.equal(nextWaitMs(new ServiceError({ status: 429, message: '' }), 10, state, o), 10000);
    assert.deepEqual(state, { throttled: 1, transient: 1, waitedMs: 10500 });
  });
});
