// Integration: the compiled task against an emulator that throttles, fails, drops connections,
// answers slowly or with malformed bodies. Each test checks the final state in the emulator
// (which connections changed, each exactly once), the report and the task result.
import * as assert from 'node:assert/strict';
import { Emulator } from '../emulator/server';
import { Harness } from '../helpers/harness';
import { SeedEndpoint } from '../helpers/seed';

const h = new Harness();
const sync = (name: string): SeedEndpoint => ({ name, emulator: { conversion: 'sync' } });
const LIST = /\/_apis\/serviceendpoint\/endpoints$/;

/** Every connection's scheme as the emulator stores it, and how many PUTs the emulator applied to each. */
function truth(emu: Emulator, ids: string[]) {
  return ids.map((id) => ({
    scheme: (emu.endpoint(id) as { authorization: { scheme: string } }).authorization.scheme,
    applied: emu.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(id) && r.status >= 200 && r.status < 300).length,
  }));
}

describe('faults', function () {
  this.timeout(90000);
  afterEach(() => h.close());

  it('429 storm with Retry-After and X-RateLimit headers: every connection converted exactly once', async () => {
    const t = await h.go(
      ['a', 'b', 'c', 'd', 'e', 'f'].map(sync),
      {},
      {
        before: (e) => {
          e.addFault({ method: 'GET', path: LIST, status: 429, headers: { 'Retry-After': '1' }, count: 2 });
          e.addFault({
            method: 'PUT',
            status: 429,
            headers: {
              'Retry-After': '1',
              'X-RateLimit-Resource': 'ServiceEndpoints',
              'X-RateLimit-Delay': '1',
              'X-RateLimit-Limit': '200',
              'X-RateLimit-Remaining': '0',
            },
            count: 5,
          });
        },
      },
    );
    assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
    const ids = t.report.connections.map((c) => c.id);
    assert.deepEqual(
      truth(t.emu, ids),
      ids.map(() => ({ scheme: 'WorkloadIdentityFederation', applied: 1 })),
    );
    assert.equal(t.puts.filter((r) => r.status === 429).length, 5);
    assert.ok(t.report.connections.every((c) => c.outcome === 'converted'));
  });

  it('500/503 bursts on reads and writes are absorbed; nothing is converted twice', async () => {
    const t = await h.go(
      ['a', 'b', 'c'].map(sync),
      { concurrency: '1' },
      {
        before: (e) => {
          e.addFault({ method: 'GET', path: LIST, status: 503, body: '{"message":"Service Unavailable"}', count: 2 });
          e.addFault({ method: 'PUT', status: 500, body: '{"message":"transient"}', count: 2 });
          e.addFault({ method: 'GET', path: /endpoints\/[0-9a-f-]{36}$/, status: 503, count: 1 });
        },
      },
    );
    assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
    const ids = t.report.connections.map((c) => c.id);
    assert.deepEqual(
      truth(t.emu, ids),
      ids.map(() => ({ scheme: 'WorkloadIdentityFederation', applied: 1 })),
    );
  });

  it('connection resets: on the listing (retried) and on a PUT that was not applied (looked at, then resent)', async () => {
    const t = await h.go(
      ['a', 'b'].map(sync),
      { concurrency: '1' },
      {
        before: (e) => {
          e.addFault({ method: 'GET', path: LIST, kind: 'reset', count: 2 });
          e.addFault({ method: 'PUT', kind: 'reset', count: 1 });
        },
      },
    );
    assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
    const a = t.byName('a')!;
    assert.deepEqual(
      t.requests.filter((r) => r.path.endsWith(a.id)).map((r) => [r.method, r.status]),
      [
        ['PUT', 0],
        ['GET', 200],
        ['PUT', 200],
      ],
    );
    assert.deepEqual(truth(t.emu, [a.id, t.byName('b')!.id]), [
      { scheme: 'WorkloadIdentityFederation', applied: 1 },
      { scheme: 'WorkloadIdentityFederation', applied: 1 },
    ]);
  });

  it('a PUT applied whose answer is lost is never sent again: the task reads the connection instead', async () => {
    const t = await h.go(
      [sync('sync-lost'), { name: 'async-lost', emulator: { conversion: 'async', completeAfterGets: 2 } }],
      { concurrency: '1' },
      {
        before: (e) => e.addFault({ method: 'PUT', kind: 'apply-then-reset', count: 2 }),
      },
    );
    assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
    for (const name of ['sync-lost', 'async-lost']) {
      const c = t.byName(name)!;
      assert.equal(c.outcome, 'converted', name);
      assert.equal(t.putsFor(name).length, 1, `${name}: one PUT, never resent`);
      assert.equal(t.stored(name)!.authorization.scheme, 'WorkloadIdentityFederation');
      assert.ok(c.issuer && c.subject && c.revertDeadline, 'read back from the service');
    }
  });

  it('slow answers only make the run slower', async () => {
    const t = await h.go(
      ['a', 'b', 'c', 'd'].map(sync),
      {},
      {
        before: (e) => {
          e.addFault({ method: 'PUT', kind: 'delay', delayMs: 1500, count: 2 });
          e.addFault({ method: 'GET', path: LIST, kind: 'delay', delayMs: 1000, count: 1 });
        },
      },
    );
    assert.equal(t.run.result?.result, 'Succeeded');
    assert.deepEqual(t.report.totals['converted'], 4);
    assert.equal(t.puts.length, 4);
  });

  it('malformed answers: an HTML listing fails clearly; odd key casing and entries without id are handled', async () => {
    const html = await h.go(
      [sync('a')],
      {},
      {
        before: (e) =>
          e.addFault({ method: 'GET', path: LIST, status: 200, headers: { 'Content-Type': 'text/html' }, body: '<html><body>Sign in</body></html>' }),
      },
    );
    assert.equal(html.run.result?.result, 'Failed');
    assert.match(html.run.result.message, /rejected the token .*sign-in page/);
    assert.equal(html.puts.length, 0);
    assert.ok(html.report.error, 'the report is still written, with the error');

    const odd = JSON.stringify({
      count: 3,
      value: [
        {
          ID: '11111111-0000-4000-8000-000000000001',
          NAME: 'odd-casing',
          Type: 'AzureRM',
          IsReady: 'true',
          Authorization: { Scheme: 'ServicePrincipal', Parameters: { TenantId: 't', ServicePrincipalId: 'a' } },
          Data: { CreationMode: 'Manual', Environment: 'AzureCloud' },
          ServiceEndpointProjectReferences: [{ ProjectReference: { Id: '0b1c2d3e-0000-4000-8000-000000000001', Name: 'Payments' }, Name: 'odd-casing' }],
        },
        { name: 'no-id' },
        'not an object',
      ],
    });
    const t = await h.go(
      [sync('a')],
      {},
      { before: (e) => e.addFault({ method: 'GET', path: LIST, status: 200, headers: { 'Content-Type': 'application/json' }, body: odd }) },
    );
    assert.deepEqual(
      t.report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [['odd-casing', 'skipped', 'SkipManual']],
    );
    assert.ok(
      t.run.warnings.some((w) => w.startsWith('2 entr(ies) of the service')),
      t.run.warnings.join('\n'),
    );

    // An empty 200 says nothing about the PUT: the task reads the connection (unchanged here, the
    // fault answered instead of the service) and only then sends it again.
    const empty = await h.go([sync('a')], {}, { before: (e) => e.addFault({ method: 'PUT', status: 200, body: '' }) });
    const a = empty.byName('a')!;
    assert.equal(a.outcome, 'converted');
    assert.deepEqual(
      empty.requests.filter((r) => r.path.endsWith(a.id)).map((r) => r.method),
      ['PUT', 'GET', 'PUT'],
    );
    assert.equal(empty.stored('a')!.authorization.scheme, 'WorkloadIdentityFederation');
  });

  it('cancellation: stops starting conversions, keeps what was done, writes the report and ends', async () => {
    const emu = await h.start(['a', 'b', 'c', 'd', 'e', 'f'].map(sync));
    emu.addFault({ method: 'PUT', kind: 'delay', delayMs: 800, count: 6 });
    const t = await h.run({ concurrency: '1' }, { signalAfterMs: { signal: 'SIGINT', afterMs: 1300 } });
    assert.equal(t.run.result?.result, 'Cancelled', t.run.stdout);
    assert.equal(t.report.cancelled, true);
    const outcomes = t.report.connections.map((c) => c.outcome);
    assert.ok(outcomes.includes('converted') && outcomes.includes('skipped'), outcomes.join());
    for (const c of t.report.connections) {
      const stored = (emu.endpoint(c.id) as { authorization: { scheme: string } }).authorization.scheme;
      if (c.outcome === 'converted') assert.equal(stored, 'WorkloadIdentityFederation', c.name);
      if (c.outcome === 'skipped') {
        assert.equal(c.reasonCode, 'SkipNotAttempted');
        assert.equal(stored, 'ServicePrincipal', `${c.name}: reported not attempted, so it must be unchanged`);
      }
    }
    assert.ok(t.puts.length < 6, 'stopped starting new conversions');
  });

  it('cancellation during the impact check: nothing is sent, every connection is listed as not attempted', async () => {
    const emu = await h.start(
      ['a', 'b'].map((n) => ({
        ...sync(n),
        emulator: { conversion: 'sync', executions: [{ planType: 'Build', definitionId: 1, definitionName: 'p', runId: 1, startTime: '-1d' }] },
      })),
    );
    emu.addFault({ method: 'GET', path: /executionhistory$/, kind: 'delay', delayMs: 1500, count: 2 });
    const t = await h.run({}, { signalAfterMs: { signal: 'SIGTERM', afterMs: 600 } });
    assert.equal(t.run.result?.result, 'Cancelled', t.run.stdout);
    assert.equal(t.puts.length, 0);
    assert.deepEqual(
      t.report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [
        ['a', 'skipped', 'SkipNotAttempted'],
        ['b', 'skipped', 'SkipNotAttempted'],
      ],
    );
  });
});
