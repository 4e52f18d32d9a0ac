// Integration: the compiled task, run as the agent runs it (env vars in, ##vso commands out),
// against the loopback Azure DevOps emulator.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import { OTHER_PROJECT, PROJECT } from '../helpers/endpoints';
import { Harness, allOutput } from '../helpers/harness';
import { ADMIN, ADMIN_PAT, JOB_IDENTITY, JOB_TOKEN, SeedEndpoint } from '../helpers/seed';

const h = new Harness();
const go = h.go.bind(h);

describe('ConvertToWif against the emulator', function () {
  this.timeout(60000);
  afterEach(() => h.close());

  it('converts a synchronous and a background conversion, with issuer, subject and deadline read from the service', async () => {
    const t = await go([
      { name: 'prod-sync', emulator: { conversion: 'sync' } },
      { name: 'prod-async', emulator: { conversion: 'async', completeAfterGets: 2 } },
    ]);
    assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
    for (const name of ['prod-sync', 'prod-async']) {
      const c = t.byName(name)!;
      assert.equal(c.outcome, 'converted', name);
      assert.equal(c.scheme, 'WorkloadIdentityFederation');
      const params = (t.emu.endpoint(c.id) as { authorization: { parameters: Record<string, string> } }).authorization.parameters;
      assert.equal(c.issuer, params['workloadIdentityFederationIssuer']);
      assert.equal(c.subject, params['workloadIdentityFederationSubject']);
      assert.ok(c.revertDeadline && Date.parse(c.revertDeadline) > Date.now() + 6 * 86400_000, c.revertDeadline);
      assert.equal(t.putsFor(name).length, 1, `${name}: exactly one PUT`);
    }
    assert.deepEqual(t.putsFor('prod-sync')[0].body, {
      id: t.byName('prod-sync')!.id,
      type: 'azurerm',
      authorization: { scheme: 'WorkloadIdentityFederation' },
      serviceEndpointProjectReferences: [{ projectReference: { id: PROJECT.id, name: PROJECT.name }, name: 'prod-sync', description: '' }],
    });
    assert.equal(t.report.organization, t.emu.url);
    assert.deepEqual(t.report.project, PROJECT);
    assert.equal(t.run.variables['convertedCount']?.value, '2');
    assert.equal(t.run.variables['failedCount']?.value, '0');
    assert.ok(t.run.summaryPath && fs.readFileSync(t.run.summaryPath, 'utf8').includes('prod-async'));
    // never filtered with actionFilter=manage; failed ones included
    const listing = t.emu.requests.find((r) => r.method === 'GET' && r.path.endsWith('/_apis/serviceendpoint/endpoints'))!;
    assert.equal(listing.query['actionFilter'], undefined);
    assert.equal(listing.query['includeFailed'], 'true');
  });

  it('dry run sends no PUT, plans the eligible connections and changes nothing', async () => {
    const t = await go([{ name: 'a' }, { name: 'b', creationMode: 'Manual' }], { dryRun: 'true' });
    assert.equal(t.run.result?.result, 'Succeeded');
    assert.equal(t.puts.length, 0);
    assert.deepEqual(
      t.report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [
        ['a', 'planned', undefined],
        ['b', 'skipped', 'SkipManual'],
      ],
    );
    assert.equal(t.stored('a')?.authorization.scheme, 'ServicePrincipal');
    assert.equal(t.report.dryRun, true);
    assert.equal(t.run.variables['plannedCount']?.value, '1');
  });

  it('dry run warns about the conversions the identity would be refused (403) before the real run', async () => {
    const t = await go([{ name: 'locked', emulator: { administrators: [ADMIN] } }, { name: 'open' }], { dryRun: 'true' });
    assert.equal(t.puts.length, 0);
    assert.deepEqual(
      t.report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [
        ['locked', 'planned', 'PlannedNotAdministrator'],
        ['open', 'planned', undefined],
      ],
    );
    assert.match(t.byName('locked')!.reason!, new RegExp(`'${JOB_IDENTITY.replace(/[()]/g, '\\$&')}' is not an Administrator of service connection 'locked'`));
    assert.equal(t.run.result?.result, 'SucceededWithIssues');
    assert.ok(
      t.run.warnings.some((w) => w.startsWith("Would convert 'locked', but: Would be refused")),
      t.run.warnings.join('\n'),
    );
  });

  it('selects with patterns and excludes, and lists every azurerm connection once', async () => {
    const t = await go(
      [
        { name: 'prod-api', emulator: { conversion: 'sync' } },
        { name: 'PROD-web', emulator: { conversion: 'sync' } },
        { name: 'prod-legacy' },
        { name: 'dev-1' },
        { name: 'wif', scheme: 'WorkloadIdentityFederation' },
        { name: 'gh', type: 'github' },
      ],
      { connections: 'prod-*\n', excludeConnections: 'prod-leg?cy' },
    );
    assert.deepEqual(
      t.report.connections.map((c) => [c.name, c.outcome]),
      [
        ['dev-1', 'skipped'],
        ['prod-api', 'converted'],
        ['prod-legacy', 'skipped'],
        ['PROD-web', 'converted'],
        ['wif', 'federated'],
      ],
    );
    assert.equal(t.puts.length, 2);
  });

  it('shared connections: skipped by default; with skipShared false, converted from home and never from elsewhere', async () => {
    const eps: SeedEndpoint[] = [
      { name: 'shared-home', projects: [PROJECT, OTHER_PROJECT], emulator: { conversion: 'sync' } },
      { name: 'shared-away', projects: [OTHER_PROJECT, PROJECT], emulator: { conversion: 'sync' } },
    ];
    const first = await go(eps);
    assert.deepEqual(
      first.report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [
        ['shared-away', 'skipped', 'SkipHomedElsewhere'],
        ['shared-home', 'skipped', 'SkipShared'],
      ],
    );
    assert.match(first.byName('shared-away')!.reason!, /Shared from project 'Shared Services'/);
    assert.equal(first.puts.length, 0);
    const second = await go(eps, { skipShared: 'false' });
    assert.deepEqual(
      second.report.connections.map((c) => [c.name, c.outcome]),
      [
        ['shared-away', 'skipped'],
        ['shared-home', 'converted'],
      ],
    );
    assert.equal(second.puts.length, 1);
  });

  it('manual connections: converted when a federated credential exists; otherwise failed with the credential to add', async () => {
    const t = await go(
      [
        { name: 'manual-fic', creationMode: 'Manual', emulator: { federatedCredential: true } },
        { name: 'manual-none', creationMode: 'Manual' },
        { name: 'auto', emulator: { conversion: 'sync' } },
      ],
      { includeManual: 'true' },
    );
    assert.equal(t.byName('manual-fic')!.outcome, 'converted');
    const none = t.byName('manual-none')!;
    assert.equal(none.outcome, 'failed');
    assert.match(none.reasonCode!, /^FailManualNoCredential/);
    assert.match(none.reason!, /Federated credentials > Add credential/);
    assert.match(none.reason!, /api:\/\/AzureADTokenExchange/);
    assert.match(none.serviceMessage!, /no valid configuration exists/);
    assert.equal(t.byName('auto')!.outcome, 'converted', 'a failure does not stop the others');
    assert.equal(t.run.result?.result, 'Failed');
    assert.equal(t.run.variables['failedCount']?.value, '1');
  });

  it('maxConnections changes at most that many and lists the rest as over the limit', async () => {
    const t = await go(
      [
        { name: 'c1', emulator: { conversion: 'sync' } },
        { name: 'c2', emulator: { conversion: 'sync' } },
        { name: 'c3', emulator: { conversion: 'sync' } },
      ],
      { maxConnections: '2' },
    );
    assert.deepEqual(
      t.report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [
        ['c1', 'converted', undefined],
        ['c2', 'converted', undefined],
        ['c3', 'skipped', 'SkipOverLimit'],
      ],
    );
    assert.equal(t.puts.length, 2);
  });

  it('403: names the identity to grant Administrator and where; the other connections still convert', async () => {
    const t = await go([
      { name: 'locked', emulator: { administrators: [ADMIN] } },
      { name: 'open', emulator: { conversion: 'sync' } },
    ]);
    const locked = t.byName('locked')!;
    assert.equal(locked.outcome, 'failed');
    assert.equal(locked.reasonCode, 'FailNotAdministrator');
    assert.match(locked.reason!, new RegExp(`'${JOB_IDENTITY.replace(/[()]/g, '\\$&')}' is not an Administrator of service connection 'locked'`));
    assert.match(locked.serviceMessage!, /You need to be an Administrator/);
    assert.equal(t.byName('open')!.outcome, 'converted');
    assert.ok(
      t.run.errors.some((e) => e.includes("'locked' failed")),
      t.run.errors.join('\n'),
    );
    assert.equal(t.run.result?.result, 'Failed');
  });

  it('401 on the listing fails the task with a token message and sends nothing else', async () => {
    const t = await go([{ name: 'a' }], {}, { token: 'not-a-known-token' });
    assert.equal(t.run.result?.result, 'Failed');
    assert.match(t.run.result.message, /rejected the token/);
    assert.equal(t.puts.length, 0);
  });

  it('a 203 sign-in page is reported as a token problem', async () => {
    const t = await go([{ name: 'a' }], {}, { token: 'not-a-known-token', seed: { badTokenResponse: '203' } });
    assert.equal(t.run.result?.result, 'Failed');
    assert.match(t.run.result.message, /rejected the token/);
  });

  it('accessToken replaces the job token and is never printed', async () => {
    const t = await go([{ name: 'a', emulator: { conversion: 'sync', administrators: [ADMIN] } }], { accessToken: ADMIN_PAT });
    assert.equal(t.byName('a')!.outcome, 'converted');
    assert.ok(t.emu.requests.filter((r) => r.path.includes('serviceendpoint')).every((r) => r.identity === ADMIN || r.method === 'OPTIONS'));
    const out = allOutput(t.run);
    assert.ok(!out.includes(ADMIN_PAT) && !out.includes(JOB_TOKEN), 'no token in output, summary or report');
  });

  it('429 with Retry-After and 5xx bursts are retried; each connection is converted exactly once', async () => {
    const t = await go(
      [
        { name: 'a', emulator: { conversion: 'sync' } },
        { name: 'b', emulator: { conversion: 'sync' } },
      ],
      { concurrency: '1' },
      {
        before: (e) => {
          e.addFault({ method: 'GET', path: '/_apis/serviceendpoint/endpoints', status: 503, body: '{"message":"Service Unavailable"}', count: 2 });
          e.addFault({
            method: 'PUT',
            status: 429,
            headers: { 'Retry-After': '1', 'X-RateLimit-Delay': '1', 'X-RateLimit-Remaining': '0' },
            body: '{"message":"TF400733: The request has been canceled"}',
            count: 1,
          });
        },
      },
    );
    assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
    assert.equal(t.byName('a')!.outcome, 'converted');
    assert.equal(t.byName('b')!.outcome, 'converted');
    assert.equal(t.puts.filter((r) => r.status === 200).length, 2);
    assert.equal(t.puts.filter((r) => r.status === 429).length, 1);
  });

  it('a PUT that keeps failing with 500 fails only that connection, with the service message kept', async () => {
    const t = await go(
      [
        { name: 'a', emulator: { conversion: 'sync' } },
        { name: 'b', emulator: { conversion: 'sync' } },
      ],
      { concurrency: '1' },
      {
        before: (e) => e.addFault({ method: 'PUT', path: /./, status: 500, body: '{"message":"Internal error xyz","typeKey":"InternalException"}', count: 3 }),
      },
    );
    const a = t.byName('a')!;
    assert.equal(a.outcome, 'failed');
    assert.equal(a.reasonCode, 'FailServer');
    assert.equal(a.serviceMessage, 'Internal error xyz');
    assert.equal(t.byName('b')!.outcome, 'converted');
    // three attempts, each followed by a GET that showed the PUT had not been applied
    const forA = t.emu.requests.filter((r) => r.path.endsWith(a.id) || (r.body as { id?: string } | undefined)?.id === a.id).map((r) => r.method);
    assert.deepEqual(forA, ['PUT', 'GET', 'PUT', 'GET', 'PUT', 'GET']);
  });

  it('a background conversion that fails is reported failed, with what to do for the AAD silent failure', async () => {
    const t = await go([
      { name: 'aad', emulator: { conversion: 'aad-silent-failure-async' } },
      { name: 'aad-sync', emulator: { conversion: 'aad-silent-failure' } },
      { name: 'other', emulator: { conversion: 'async-fail' } },
    ]);
    for (const name of ['aad', 'aad-sync']) {
      const c = t.byName(name)!;
      assert.equal(c.outcome, 'failed', name);
      assert.equal(c.reasonCode, 'FailAadSilent', name);
      assert.match(c.reason!, /accessToken/);
      assert.match(c.reason!, new RegExp(JOB_IDENTITY.replace(/[()]/g, '\\$&')));
      assert.match(c.serviceMessage!, /AAD returned silent failure/);
      assert.equal(c.scheme, 'ServicePrincipal');
    }
    assert.equal(t.byName('other')!.reasonCode, 'FailBackground');
    assert.equal(t.putsFor('aad-sync').length, 1, 'the AAD failure is not retried');
    assert.equal(t.run.result?.result, 'Failed');
  });

  it('a background conversion that outlasts waitTimeoutSeconds is pending and the task succeeds with issues', async () => {
    const t = await go(
      [
        { name: 'slow', emulator: { conversion: 'async', completeAfterGets: 1000 } },
        { name: 'fast', emulator: { conversion: 'sync' } },
      ],
      { waitTimeoutSeconds: '2' },
    );
    assert.equal(t.byName('slow')!.outcome, 'pending');
    assert.equal(t.byName('slow')!.reasonCode, 'PendingTimeout');
    assert.equal(t.byName('fast')!.outcome, 'converted');
    assert.equal(t.run.result?.result, 'SucceededWithIssues');
    assert.ok(
      t.run.warnings.some((w) => w.includes("'slow' is pending")),
      t.run.warnings.join('\n'),
    );
    assert.equal(t.report.totals['pending'], 1);
  });

  it('skips not-ready and in-progress connections without sending a PUT', async () => {
    const t = await go([
      { name: 'broken', isReady: false, state: 'Failed', statusMessage: 'Failed to verify' },
      { name: 'busy', state: 'InProgress', statusMessage: 'updating' },
    ]);
    assert.deepEqual(
      t.report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [
        ['broken', 'skipped', 'SkipNotReady'],
        ['busy', 'skipped', 'SkipInProgress'],
      ],
    );
    assert.equal(t.puts.length, 0);
    assert.equal(t.run.result?.result, 'Succeeded');
    assert.match(t.run.result.message, /Nothing to convert/);
  });

  it('handles names with spaces, quotes, pipes and non-ASCII characters', async () => {
    const name = 'Prod – Zürich | "payments" (東京)';
    const t = await go([{ name, emulator: { conversion: 'sync' } }], { connections: 'prod – zürich*' });
    assert.equal(t.byName(name)!.outcome, 'converted');
    const summary = fs.readFileSync(t.run.summaryPath!, 'utf8');
    assert.ok(summary.includes('Prod – Zürich \\| "payments" (東京)'), summary);
  });

  it('says plainly when the project has no Azure Resource Manager connection', async () => {
    const t = await go([{ name: 'gh', type: 'github' }]);
    assert.equal(t.run.result?.result, 'Succeeded');
    assert.match(t.run.result.message, /Nothing to convert/);
    assert.deepEqual(t.report.connections, []);
  });
});
