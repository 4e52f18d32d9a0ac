import * as assert from 'node:assert/strict';
import { Pacer } from '../../tasks/ConvertToWif/src/adapters/pacer';
const tick = () => new Promise((r) => setImmediate(r));

describe('pacer (requests in flight under throttling)', () => {
  it('never has more than the limit in flight', async () => {
    const p = new Pacer(3);
    let inFlight = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        p.run(async () => {
          peak = Math.max(peak, ++inFlight);
          await tick();
          inFlight--;
        }),
      ),
    );
    assert.equal(peak, 3);
  });

  it('halves the limit when the service throttles, then recovers; it never waits itself (the retry policy owns Retry-After)', async () => {
    const changes: number[] = [];
    const p = new Pacer(8, (n) => changes.push(n));
    p.observe({ delaySeconds: 2 }, true);
    assert.equal(p.inFlightLimit, 4);
    assert.equal(await p.run(async () => 'ran'), 'ran');
    p.observe({ remaining: 3, limit: 200 }, false); // nearly out of budget
    assert.equal(p.inFlightLimit, 2);
    for (let i = 0; i < 10; i++) p.observe({ remaining: 150, limit: 200 }, false);
    assert.equal(p.inFlightLimit, 3);
    assert.deepEqual(changes, [4, 2, 3]);
  });

  it('does not go below one request in flight', () => {
    const p = new Pacer(2);
    for (let i = 0; i < 5; i++) p.observe(undefined, true);
    assert.equal(p.inFlightLimit, 1);
  });
});
