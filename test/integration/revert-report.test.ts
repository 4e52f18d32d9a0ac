// Integration: action revert and action report, run as the agent runs them against the emulator.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import { OTHER_PROJECT, PROJECT } from '../helpers/endpoints';
import { Harness } from '../helpers/harness';
import { SeedEndpoint } from '../helpers/seed';

const DAY = 86_400_000;
const h = new Harness();
const federatedParams = (issuer: string) => ({
  tenantid: 'tenant-1',
  serviceprincipalid: 'app-1',
  workloadIdentityFederationIssuer: issuer,
  workloadIdentityFederationSubject: 'sc://contoso/Payments/x',
});
const ENTRA = 'https://login.microsoftonline.com/tenant-1/v2.0';
const VSTOKEN = 'https://vstoken.dev.azure.com/7a6c1d1e-0000-4000-8000-00000000c0de';

describe('action revert', function () {
  this.timeout(60000);
  afterEach(() => h.close());

  it('reverts a connection converted inside the 7-day window: the secret is back', async () => {
    await h.start([
      { name: 'prod-a', emulator: { conversion: 'sync' } },
      { name: 'prod-b', emulator: { conversion: 'sync' } },
    ]);
    const converted = await h.run({});
    assert.equal(converted.run.variables['convertedCount']?.value, '2');

    const reverted = await h.run({ action: 'revert', connections: 'prod-a' });
    assert.equal(reverted.run.result?.result, 'Succeeded', reverted.run.stdout);
    assert.deepEqual(
      reverted.report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [
        ['prod-a', 'reverted', undefined],
        ['prod-b', 'skipped', 'SkipNotSelected'],
      ],
    );
    assert.deepEqual(
      reverted.putsFor('prod-a').map((r) => r.body),
      [
        {
          id: reverted.byName('prod-a')!.id,
          type: 'azurerm',
          authorization: { scheme: 'ServicePrincipal' },
          serviceEndpointProjectReferences: [{ projectReference: { id: PROJECT.id, name: PROJECT.name }, name: 'prod-a', description: '' }],
        },
      ],
    );
    const stored = reverted.stored('prod-a')!;
    assert.equal(stored.authorization.scheme, 'ServicePrincipal');
    assert.equal((stored as unknown as { emulator: { secret?: string } }).emulator.secret, 'secret-of-prod-a', 'the old secret is restored');
    assert.equal(reverted.byName('prod-a')!.scheme, 'ServicePrincipal');
    assert.equal(reverted.run.variables['revertedCount']?.value, '1');
    // the summary shows the deadline and the time left for the connection not reverted
    const summary = fs.readFileSync(reverted.run.summaryPath!, 'utf8');
    assert.match(summary, /\| prod-b \| WorkloadIdentityFederation \| \d{4}-\d\d-\d\d \d\d:\d\d UTC \(6 d 23 h left\) \|/);
  });

  it('dry run lists what would be reverted and sends no PUT', async () => {
    await h.start([{ name: 'prod-a', emulator: { conversion: 'sync' } }]);
    await h.run({});
    const dry = await h.run({ action: 'revert', dryRun: 'true' });
    assert.equal(dry.puts.length, 0);
    assert.equal(dry.byName('prod-a')!.outcome, 'planned');
    assert.equal(dry.stored('prod-a')!.authorization.scheme, 'WorkloadIdentityFederation');
    assert.match(dry.run.result!.message, /1 connection\(s\) would be reverted/);
  });

  it('after the window: skipped without a request when the deadline has passed, and explained when the service has no recovery data', async () => {
    const past = new Date(Date.now() - 2 * DAY).toISOString();
    const future = new Date(Date.now() + 2 * DAY).toISOString();
    const t = await h.go(
      [
        { name: 'expired', scheme: 'WorkloadIdentityFederation', parameters: federatedParams(ENTRA), data: { revertSchemeDeadline: past } },
        // the service has already dropped the recovery data although the deadline looks open (clock skew, manual cleanup)
        { name: 'no-recovery', scheme: 'WorkloadIdentityFederation', parameters: federatedParams(ENTRA), data: { revertSchemeDeadline: future } },
        { name: 'born-federated', scheme: 'WorkloadIdentityFederation', parameters: federatedParams(ENTRA) },
        { name: 'secret', emulator: { conversion: 'sync' } },
      ],
      { action: 'revert' },
    );
    assert.deepEqual(
      t.report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [
        ['born-federated', 'skipped', 'SkipRevertNoDeadline'],
        ['expired', 'skipped', 'SkipRevertExpired'],
        ['no-recovery', 'failed', 'FailNoRecoveryData'],
        ['secret', 'skipped', 'SkipRevertNotFederated'],
      ],
    );
    assert.deepEqual(
      t.puts.map((r) => (r.body as { id: string }).id),
      [t.byName('no-recovery')!.id],
    );
    assert.match(t.byName('expired')!.reason!, /window closed on .*create a new client secret/);
    assert.match(t.byName('no-recovery')!.serviceMessage!, /no recovery data/);
    assert.equal(t.run.result?.result, 'Failed');
  });

  it('the emulator clock past the deadline: the service refuses, the task says the secret is gone', async () => {
    const emu = await h.start([{ name: 'prod-a', emulator: { conversion: 'sync' } }]);
    await h.run({});
    emu.setClock(() => Date.now() + 8 * DAY);
    const t = await h.run({ action: 'revert' });
    assert.equal(t.byName('prod-a')!.outcome, 'failed');
    assert.equal(t.byName('prod-a')!.reasonCode, 'FailNoRecoveryData');
    assert.equal(t.stored('prod-a')!.authorization.scheme, 'WorkloadIdentityFederation');
  });
});

describe('action report', function () {
  this.timeout(60000);
  afterEach(() => h.close());

  const project: SeedEndpoint[] = [
    { name: 'sub-secret', emulator: { conversion: 'sync' } },
    { name: 'mg-secret', data: { scopeLevel: 'ManagementGroup', managementGroupId: 'mg-platform', managementGroupName: 'Platform' } },
    { name: 'ml-manual', creationMode: 'Manual', data: { scopeLevel: 'AzureMLWorkspace', resourceGroupName: 'rg-ml', mlWorkspaceName: 'ws-fraud' } },
    { name: 'shared-3', projects: [PROJECT, OTHER_PROJECT, { id: '0b1c2d3e-0000-4000-8000-000000000003', name: 'Data' }] },
    { name: 'old-issuer', scheme: 'WorkloadIdentityFederation', parameters: federatedParams(VSTOKEN) },
    { name: 'entra', scheme: 'WorkloadIdentityFederation', parameters: federatedParams(ENTRA) },
    { name: 'msi', scheme: 'ManagedServiceIdentity' },
  ];

  it('audits every connection, changes nothing, and succeeds with one warning per finding', async () => {
    const t = await h.go(project, { action: 'report', maxConnections: '1' });
    assert.equal(t.puts.length, 0);
    assert.equal(t.run.result?.result, 'Succeeded');
    assert.deepEqual(t.report.audit, { onSecrets: 4, federatedRetiringIssuer: 1, federatedEntraIssuer: 1, federatedOtherIssuer: 0, otherSchemes: 1 });
    const by = (n: string) => t.byName(n)!;
    assert.equal(by('sub-secret').outcome, 'planned');
    assert.equal(by('mg-secret').outcome, 'planned', 'maxConnections does not apply to a report');
    assert.deepEqual(by('mg-secret').scope, {
      level: 'ManagementGroup',
      subscriptionId: 'sub-1',
      subscriptionName: 'Sub One',
      managementGroupId: 'mg-platform',
      managementGroupName: 'Platform',
    });
    assert.equal(by('ml-manual').reasonCode, 'SkipManual');
    assert.equal(by('ml-manual').scope!['mlWorkspaceName'], 'ws-fraud');
    assert.deepEqual([by('shared-3').homeProject, by('shared-3').sharedWith], ['Payments', ['Shared Services', 'Data']]);
    assert.equal(by('old-issuer').issuerKind, 'azuredevops');
    assert.ok((by('old-issuer').issuerDaysLeft ?? 0) > 0);
    assert.equal(by('entra').issuerKind, 'entra');
    assert.equal(t.run.warnings.filter((w) => w.includes('still uses a client secret')).length, 4);
    assert.equal(t.run.warnings.filter((w) => w.startsWith("'old-issuer': On the Azure DevOps issuer")).length, 1);
    const summary = fs.readFileSync(t.run.summaryPath!, 'utf8');
    assert.match(
      summary.split('\n')[2],
      /^\*\*4 on a client secret\*\* · 1 federated on the retiring Azure DevOps issuer · 1 federated on the Microsoft Entra issuer$/,
    );
    assert.match(summary, /\| ml-manual \| ML workspace ws-fraud \(rg-ml\) \| Payments \|/);
    assert.equal(t.run.summaryTitle, 'ConvertToWif report: project Payments');
    assert.match(summary, /\| shared-3 \| Subscription Sub One \| Payments \| Shared Services, Data \|/);
  });

  it('with failOnFindings fails while a secret remains or a connection is on the retiring issuer, and passes once the project is clean', async () => {
    const dirty = await h.go(project, { action: 'report', failOnFindings: 'true' });
    assert.equal(dirty.run.result?.result, 'Failed');
    assert.match(dirty.run.result.message, /4 selected connection\(s\) still use a client secret and 1 are still on the Azure DevOps issuer/);
    assert.equal(dirty.run.errors.filter((e) => e.includes('still uses a client secret')).length, 4);

    // Still red with no secret left while a connection is on the Azure DevOps issuer (retired 2027-07-01).
    const retiring = await h.go(project.slice(4), { action: 'report', failOnFindings: 'true' });
    assert.equal(retiring.run.result?.result, 'Failed');
    assert.match(retiring.run.result.message, /0 selected connection\(s\) still use a client secret and 1 are still on the Azure DevOps issuer/);

    const clean = await h.go(project.slice(5), { action: 'report', failOnFindings: 'true' });
    assert.equal(clean.run.result?.result, 'Succeeded');
  });

  it('a project without Azure Resource Manager connections says so', async () => {
    const t = await h.go([{ name: 'gh', type: 'github' }], { action: 'report', failOnFindings: 'true' });
    assert.equal(t.run.result?.result, 'Succeeded');
    assert.deepEqual(t.report.connections, []);
    assert.match(fs.readFileSync(t.run.summaryPath!, 'utf8'), /has no Azure Resource Manager service connections/);
  });
});
