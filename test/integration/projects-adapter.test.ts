// ServiceClient.listProjects (the Core API projects listing, docs/service-behaviour.md §20) in
// process: against the emulator's organization (test/emulator/projects.ts, test/helpers/orgSeeds.ts)
// for paging by continuation token and by $skip and for who sees which project, and against a plain
// loopback server for hostile answers (bad entries, a token that loops, garbled pages, refusals).
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_PROJECT_PAGES, PROJECT_PAGE_SIZE, ServiceClient } from '../../tasks/ConvertToWif/src/adapters/serviceClient';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import type { Clock } from '../../tasks/ConvertToWif/src/core/ports';
import { encodeContinuationToken } from '../emulator/projects';
import { startEmulator, type Emulator } from '../emulator/server';
import { PROJECT } from '../helpers/endpoints';
import { COLLECTION_IDENTITY, COLLECTION_TOKEN, JOB_IDENTITY, JOB_TOKEN, orgSeed } from '../helpers/orgSeeds';
import { recordingClock } from '../helpers/memory';

/** The bearer token given to the client of the hostile server: it must appear in no message. */
const HOSTILE_TOKEN = 'hostile-server-token-5f0c21';

const fakeClock = recordingClock;

function client(url: string, token: string, o: { clock?: Clock; debug?: (m: string) => void } = {}): ServiceClient {
  return new ServiceClient({
    collectionUrl: url,
    // The client's project plays no part in the organization-level listing.
    projectId: PROJECT.name,
    token,
    clock: o.clock ?? fakeClock(),
    maxInFlight: 4,
    requestTimeoutMs: 10_000,
    debug: o.debug,
  });
}

async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ServiceError, `not a ServiceError: ${String(e)}`);
    assert.ok(!e.message.includes(HOSTILE_TOKEN) && !e.message.includes(COLLECTION_TOKEN), 'no token in a failure');
    return e;
  }
  assert.fail('the call succeeded');
}

const guid = (n: number) => `7a1b2c3d-0000-4000-8000-${String(n).padStart(12, '0')}`;

interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** A string is sent as is; anything else as JSON. */
  body: unknown;
}

/** A plain loopback server answering every request with `answer(query, n)` (n: 0 for the first request); records each request. */
async function hostile(answer: (query: URLSearchParams, n: number) => Reply) {
  const seen: Array<{ path: string; query: URLSearchParams; auth?: string; accept?: string }> = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    seen.push({ path: u.pathname, query: u.searchParams, auth: req.headers.authorization, accept: req.headers.accept });
    req.resume();
    const r = answer(u.searchParams, seen.length - 1);
    const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    res.writeHead(r.status ?? 200, { 'Content-Type': typeof r.body === 'string' ? 'text/plain' : 'application/json', ...r.headers });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/contoso/`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
type Hostile = Awaited<ReturnType<typeof hostile>>;

describe('ServiceClient.listProjects (Core API projects listing)', function () {
  this.timeout(30000);

  describe('against the emulator', () => {
    let emu: Emulator | undefined;
    afterEach(async () => {
      await emu?.close();
      emu = undefined;
    });
    const listing = () => emu!.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/_apis/projects'));

    it('pages through every visible project once (12 projects, pages of 5), stateFilter=wellFormed on every request', async () => {
      const org = orgSeed({ projects: 12, projectPageSize: 5 });
      emu = await startEmulator(org.seed);
      const debug: string[] = [];
      const r = await client(emu.url, COLLECTION_TOKEN, { debug: (m) => debug.push(m) }).listProjects();
      assert.equal(r.malformed, 0);
      assert.equal(r.projects.length, 12);
      assert.deepEqual(
        [...r.projects].sort((a, b) => a.id.localeCompare(b.id)),
        org.projects.map((p) => ({ id: p.id, name: p.name })).sort((a, b) => a.id.localeCompare(b.id)),
        'every project of the organization (the deleted one is still listed), only id and name',
      );
      const gets = listing();
      assert.equal(gets.length, 3, 'pages of 5, 5 and 2');
      assert.deepEqual(
        gets.map((g) => [g.status, g.query.stateFilter, g.query.$top, g.apiVersion, g.identity]),
        Array.from({ length: 3 }, () => [200, 'wellFormed', String(PROJECT_PAGE_SIZE), '7.1', COLLECTION_IDENTITY]),
      );
      assert.equal(gets[0].path, '/contoso/_apis/projects', 'organization-level, not under the client project');
      assert.equal(emu.requests.length, gets.length, 'no other request (no OPTIONS location round trip)');
      for (const line of debug) assert.ok(!line.includes(COLLECTION_TOKEN), line);
    });

    it('the project-scoped job identity sees only its own project; a project hidden from the collection identity is not listed', async () => {
      const org = orgSeed({ projects: 6, projectPageSize: 5 });
      org.seed.projects.find((p) => p.name === 'Team 03')!.hiddenFrom = [COLLECTION_IDENTITY];
      emu = await startEmulator(org.seed);
      const scoped = await client(emu.url, JOB_TOKEN).listProjects();
      assert.deepEqual(scoped, { projects: [{ id: org.home.id, name: 'Payments' }], malformed: 0 });
      assert.deepEqual(
        listing().map((g) => g.identity),
        [JOB_IDENTITY],
      );
      const collection = await client(emu.url, COLLECTION_TOKEN).listProjects();
      assert.deepEqual(collection.projects.map((p) => p.name).sort(), ['Payments', 'Restricted', 'Retired', 'Shared Services', 'Team 04']);
    });

    it('follows x-ms-continuationtoken: later pages ask continuationToken= (URL-encoded) instead of $skip, every project once', async () => {
      const org = orgSeed({ projects: 9, projectPageSize: 4 });
      emu = await startEmulator(org.seed);
      const r = await client(emu.url, COLLECTION_TOKEN).listProjects();
      assert.equal(r.projects.length, 9);
      assert.equal(new Set(r.projects.map((p) => p.id)).size, 9, 'no project twice');
      assert.deepEqual(new Set(r.projects.map((p) => p.name)), new Set(org.projects.map((p) => p.name)));
      const gets = listing();
      // The emulator sends the header while more remain (test/emulator/projects.ts); the pages are 4, 4 and 1.
      assert.deepEqual(
        gets.map((g) => [g.query.$skip, g.query.continuationToken]),
        [
          ['0', undefined],
          [undefined, encodeContinuationToken(4)],
          [undefined, encodeContinuationToken(8)],
        ],
      );
      assert.ok(gets.every((g) => g.status === 200));
    });

    it('a token the service rejects (401) is a ServiceError with the status, sent once', async () => {
      emu = await startEmulator(orgSeed({ projects: 4 }).seed);
      const clock = fakeClock();
      const f = await failure(client(emu.url, 'not-a-seeded-token', { clock }).listProjects());
      assert.equal(f.status, 401);
      assert.equal(listing().length, 1, 'a 401 is not retried');
      assert.equal(clock.sleeps.length, 0);
    });
  });

  describe('against a hostile service', () => {
    let srv: Hostile | undefined;
    afterEach(async () => {
      await srv?.close();
      srv = undefined;
    });

    it('pages by $skip when no token comes: a full page asks for the next, a short page ends the listing', async () => {
      const total = 2 * PROJECT_PAGE_SIZE + 7;
      srv = await hostile((q) => {
        const skip = Number(q.get('$skip'));
        const top = Number(q.get('$top'));
        const value = Array.from({ length: Math.max(0, Math.min(top, total - skip)) }, (_, i) => ({ id: guid(skip + i), name: `P ${skip + i}` }));
        return { body: { count: value.length, value } };
      });
      const r = await client(srv.url, HOSTILE_TOKEN).listProjects();
      assert.equal(r.projects.length, total);
      assert.equal(new Set(r.projects.map((p) => p.id)).size, total);
      assert.deepEqual(
        srv.seen.map((s) => [s.path, s.query.get('stateFilter'), s.query.get('$top'), s.query.get('$skip'), s.query.has('continuationToken')]),
        [0, 100, 200].map((skip) => ['/contoso/_apis/projects', 'wellFormed', '100', String(skip), false]),
      );
      assert.ok(
        srv.seen.every((s) => s.auth === `Bearer ${HOSTILE_TOKEN}` && s.accept === 'application/json;api-version=7.1'),
        'the job token and api-version 7.1 on every page',
      );
    });

    it('bad entries are counted as malformed, duplicates dropped, only id and name kept', async () => {
      const huge = 'x'.repeat(1024 * 1024);
      const entries: unknown[] = [
        { id: guid(1), name: 'Alpha', description: huge, url: huge, nested: { deep: [huge] } },
        { id: 'not-a-guid', name: 'Bad id' },
        { id: guid(2) },
        { id: guid(3), name: '' },
        { id: guid(4), name: 42 },
        { id: guid(5), name: 'n'.repeat(257) },
        { id: 12345, name: 'Numeric id' },
        null,
        'a string',
        [guid(6), 'an array'],
        { id: guid(1).toUpperCase(), name: 'Alpha again (same id, other case)' },
        { id: guid(7), name: ' Beta ' },
        { id: guid(8), name: 'n'.repeat(256) },
        { ID: guid(9), NAME: 'Other casing' },
      ];
      srv = await hostile(() => ({ body: { count: entries.length, value: entries, extra: huge } }));
      const debug: string[] = [];
      const r = await client(srv.url, HOSTILE_TOKEN, { debug: (m) => debug.push(m) }).listProjects();
      assert.deepEqual(r.projects, [
        { id: guid(1), name: 'Alpha' },
        { id: guid(7), name: ' Beta ' },
        { id: guid(8), name: 'n'.repeat(256) },
      ]);
      assert.ok(
        r.projects.every((p) => Object.keys(p).join() === 'id,name'),
        'nothing else of an entry is kept',
      );
      assert.equal(r.malformed, 10);
      assert.equal(srv.seen.length, 1, 'a short page without a token ends the listing');
      assert.ok(
        debug.some((l) => /1 project\(s\) more than once/.test(l)),
        debug.join('\n'),
      );
      for (const line of debug) assert.ok(!line.includes(HOSTILE_TOKEN), line);
    });

    it('a continuation token sent again is a bounded failure, not an endless loop; a token is sent back URL-encoded', async () => {
      const token = 'a+b/c=&d e';
      srv = await hostile((_, n) => ({ headers: { 'x-ms-continuationtoken': token }, body: { count: 1, value: [{ id: guid(n), name: `P ${n}` }] } }));
      const f = await failure(client(srv.url, HOSTILE_TOKEN).listProjects());
      assert.equal(f.garbled, true);
      assert.match(f.message, /projects listing of Azure DevOps did not end after 2 pages: the service sent the same continuation token again/);
      assert.equal(srv.seen.length, 2);
      assert.equal(srv.seen[1].query.get('continuationToken'), token, 'the token exactly as sent');
      assert.equal(srv.seen[1].query.has('$skip'), false);
    });

    it(`a service that never ends its listing (a new token every page) is given up after ${MAX_PROJECT_PAGES} pages`, async () => {
      srv = await hostile((_, n) => ({ headers: { 'x-ms-continuationtoken': `t${n}` }, body: { count: 1, value: [{ id: guid(n), name: `New ${n}` }] } }));
      const f = await failure(client(srv.url, HOSTILE_TOKEN).listProjects());
      assert.equal(f.garbled, true);
      assert.match(f.message, new RegExp(`did not end after ${MAX_PROJECT_PAGES} pages`));
      assert.equal(srv.seen.length, MAX_PROJECT_PAGES);
    });

    it('a page naming only projects already listed (a service that ignores $skip or its token) ends the listing as garbled', async () => {
      const page = Array.from({ length: 100 }, (_, i) => ({ id: guid(i + 1), name: `P ${i}` }));
      srv = await hostile(() => ({ body: { count: page.length, value: page } }));
      const f = await failure(client(srv.url, HOSTILE_TOKEN).listProjects());
      assert.equal(f.garbled, true);
      assert.match(f.message, /did not end after 2 pages: a page named only projects already listed/);
      assert.equal(srv.seen.length, 2);
      assert.deepEqual(
        srv.seen.map((r) => r.query.get('$skip')),
        ['0', '100'],
      );
    });

    it('a continuation token too long to send back is garbled (retried as a read, then thrown)', async () => {
      srv = await hostile(() => ({ headers: { 'x-ms-continuationtoken': 't'.repeat(1001) }, body: { count: 1, value: [{ id: guid(1), name: 'P' }] } }));
      const clock = fakeClock();
      const f = await failure(client(srv.url, HOSTILE_TOKEN, { clock }).listProjects());
      assert.equal(f.garbled, true);
      assert.match(f.message, /continuation token/);
      assert.equal(srv.seen.length, 4, 'one read and its 3 retries');
      assert.equal(clock.sleeps.length, 3);
    });

    const garbled: Array<[string, Reply]> = [
      ['a 200 that is not JSON', { body: 'projects: none today' }],
      ['a JSON envelope without value', { body: { count: 3 } }],
      ['a value that is not a list', { body: { count: 1, value: { id: guid(1), name: 'P' } } }],
      ['a bare list instead of the envelope', { body: [{ id: guid(1), name: 'P' }] }],
      ['JSON null', { body: 'null' }],
    ];
    for (const [what, reply] of garbled) {
      it(`${what}: a garbled ServiceError after the read's retries`, async () => {
        srv = await hostile(() => reply);
        const clock = fakeClock();
        const f = await failure(client(srv.url, HOSTILE_TOKEN, { clock }).listProjects());
        assert.equal(f.garbled, true, f.message);
        assert.equal(f.status, 200);
        assert.equal(srv.seen.length, 4, 'a garbled read is retried 3 times (retryPolicy.ts)');
        assert.equal(clock.sleeps.length, 3);
      });
    }

    it('a 200 HTML page is a sign-in page (http.ts exchange), not retried', async () => {
      srv = await hostile(() => ({ headers: { 'Content-Type': 'text/html' }, body: '<!DOCTYPE html><html><body>Sign in</body></html>' }));
      const f = await failure(client(srv.url, HOSTILE_TOKEN).listProjects());
      assert.equal(f.signInPage, true);
      assert.equal(f.status, 200);
      assert.match(f.message, /HTML page/);
      assert.equal(srv.seen.length, 1);
    });

    for (const status of [401, 403, 404]) {
      it(`a ${status} is a ServiceError with the status and the service's message, not retried`, async () => {
        const message = `TF0000${status}: refused for this identity.`;
        srv = await hostile(() => ({ status, body: { message, typeKey: 'RefusedException' } }));
        const clock = fakeClock();
        const f = await failure(client(srv.url, HOSTILE_TOKEN, { clock }).listProjects());
        assert.equal(f.status, status);
        assert.equal(f.message, message);
        if (status !== 404) assert.equal(f.typeKey, 'RefusedException');
        assert.equal(srv.seen.length, 1);
        assert.equal(clock.sleeps.length, 0);
      });
    }

    it('a failure on a later page stops the listing with that failure (nothing partial returned)', async () => {
      srv = await hostile((_, n) =>
        n === 0
          ? { headers: { 'x-ms-continuationtoken': 'next' }, body: { count: 1, value: [{ id: guid(1), name: 'P' }] } }
          : { status: 403, body: { message: 'Access denied.' } },
      );
      const f = await failure(client(srv.url, HOSTILE_TOKEN).listProjects());
      assert.equal(f.status, 403);
      assert.deepEqual(
        srv.seen.map((s) => s.query.get('continuationToken')),
        [null, 'next'],
      );
    });
  });
});

describe('ServiceClient.forProject (one client per project of an organization-wide run)', () => {
  let server: http.Server | undefined;
  afterEach(
    () =>
      new Promise<void>((r) => {
        if (!server) return r();
        server.closeAllConnections();
        server.close(() => r());
        server = undefined;
      }),
  );

  it("routes to the other project's URL with the same token, over the same kept-alive connection", async () => {
    const seen: Array<{ path: string; auth?: string; port: number }> = [];
    server = http.createServer((req, res) => {
      seen.push({ path: new URL(req.url ?? '/', 'http://127.0.0.1').pathname, auth: req.headers.authorization, port: req.socket.remotePort ?? 0 });
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ count: 0, value: [] }));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/contoso/`;
    const first = client(url, HOSTILE_TOKEN);
    const other = first.forProject(guid(2));
    await first.list();
    await other.list();
    await other.list();
    assert.deepEqual(
      seen.map((s) => s.path),
      [
        `/contoso/${encodeURIComponent(PROJECT.name)}/_apis/serviceendpoint/endpoints`,
        `/contoso/${guid(2)}/_apis/serviceendpoint/endpoints`,
        `/contoso/${guid(2)}/_apis/serviceendpoint/endpoints`,
      ],
    );
    assert.ok(
      seen.every((s) => s.auth === `Bearer ${HOSTILE_TOKEN}`),
      'the same token on every project',
    );
    // typed-rest-client without keepAlive opens a new connection (and agent) per request.
    assert.equal(new Set(seen.map((s) => s.port)).size, 1, `requests came over ${new Set(seen.map((s) => s.port)).size} connections`);
  });
});
