// The REST adapter against a tiny loopback server: what a cancellation does to requests that are
// queued or in flight (reads are given up, a change waiting for a slot is not sent).
import * as assert from 'node:assert/strict';
import * as http from 'http';
import { AddressInfo } from 'net';
import { abortableClock } from '../../tasks/ConvertToWif/src/adapters/clock';
import { ServiceClient } from '../../tasks/ConvertToWif/src/adapters/serviceClient';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';

/** Answers GET at once (saying it delayed us, so the pacer drops to one request in flight), PUT after `putMs`, connectionData never. */
async function server(putMs: number) {
  const seen: string[] = [];
  const srv = http.createServer((req, res) => {
    seen.push(`${req.method} ${(req.url ?? '').split('?')[0]}`);
    req.resume();
    req.on('end', () => {
      if ((req.url ?? '').includes('connectionData')) return; // never answers
      const id = (req.url ?? '').split('/endpoints/')[1]?.split('?')[0] ?? 'x';
      const ep = JSON.stringify({
        id,
        name: id,
        type: 'azurerm',
        authorization: { scheme: 'WorkloadIdentityFederation', parameters: {} },
        isReady: true,
        operationStatus: { state: 'Ready' },
      });
      const reply = () => {
        res.writeHead(200, { 'Content-Type': 'application/json', ...(req.method === 'GET' ? { 'X-RateLimit-Delay': '1' } : {}) });
        res.end(ep);
      };
      if (req.method === 'PUT') setTimeout(reply, putMs);
      else reply();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/org/`;
  return { url, seen, close: () => new Promise<void>((r) => (srv.closeAllConnections(), srv.close(() => r()))) };
}

/** A client of that server, and the controller that cancels its run. */
function clientOf(url: string, extra: { requestTimeoutMs?: number } = {}) {
  const abort = new AbortController();
  const c = new ServiceClient({
    collectionUrl: url,
    projectId: 'p',
    token: 't',
    clock: abortableClock(abort.signal),
    maxInFlight: 2,
    signal: abort.signal,
    ...extra,
  });
  return { c, abort };
}

const body = (id: string) => ({ id, type: 'azurerm', authorization: { scheme: 'WorkloadIdentityFederation' }, serviceEndpointProjectReferences: [] });

describe('service client and cancellation', function () {
  this.timeout(20000);

  it('a change waiting for a free slot is not sent once the run is cancelled; the one in flight finishes', async () => {
    const s = await server(600);
    const { c, abort } = clientOf(s.url);
    try {
      await c.get('first'); // X-RateLimit-Delay: the pacer allows one request in flight now
      const results = ['a', 'b'].map((id) =>
        c.convert(id, body(id)).then(
          () => 'ok',
          (e: ServiceError) => (e.cancelled ? 'cancelled' : e.message),
        ),
      );
      await new Promise((r) => setTimeout(r, 100));
      abort.abort();
      assert.deepEqual(await Promise.all(results), ['ok', 'cancelled']);
      assert.deepEqual(
        s.seen.filter((x) => x.startsWith('PUT')),
        ['PUT /org/_apis/serviceendpoint/endpoints/a'],
      );
    } finally {
      await s.close();
    }
  });

  it('"who am I" in flight is given up when the run is cancelled (it only improves a message)', async () => {
    const s = await server(0);
    const { c, abort } = clientOf(s.url, { requestTimeoutMs: 15000 });
    try {
      const who = c.whoAmI();
      await new Promise((r) => setTimeout(r, 100));
      abort.abort();
      const winner = await Promise.race([who.then(() => 'answered'), new Promise((r) => setTimeout(() => r('still waiting'), 3000))]);
      assert.equal(winner, 'answered', 'whoAmI returned (undefined) soon after the cancellation');
      assert.equal(await who, undefined);
    } finally {
      await s.close();
    }
  });
});
