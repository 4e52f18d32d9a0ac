// Issue "the second wave": `action: updateIssuer` from the PACKAGED task, run as the agent runs it,
// against the Azure DevOps emulator (connections of several types on the Azure DevOps issuer, the
// migration route in each mode) and the HTTPS emulators of Entra, Graph, ARM (user-assigned managed
// identities) and the agent's OIDC endpoint (test/helpers/issuerSeeds.ts describes the world).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { MigrationMode } from '../emulator/types';
import type { AgentConnection } from '../helpers/agent';
import { Harness, allOutput } from '../helpers/harness';
import { MIG, azureDevOpsIssuer, entraIssuer, issuerMigrationEndpoints, issuerMigrationSeed } from '../helpers/issuerSeeds';
import { runtimes } from '../helpers/nodes';
import { packagedEntry } from '../helpers/packaged';

const ENTRA_ID = 'e17a0000-0000-4000-8000-00000000e17b';
const INPUT = { action: 'updateIssuer', entraConnection: ENTRA_ID };

/** The migrator as entraConnection: a secret-based connection whose ARM URL is the emulator's. */
const migrator = (h: Harness): AgentConnection => ({
  id: ENTRA_ID,
  scheme: 'ServicePrincipal',
  tenantId: MIG.TENANT,
  clientId: MIG.MIGRATOR.clientId,
  secret: MIG.MIGRATOR.secret,
  url: h.world!.armUrl,
});

async function world(h: Harness, migration: MigrationMode = 'switches') {
  const s = issuerMigrationSeed({ migration });
  await h.start(issuerMigrationEndpoints(), { migration: s.migration, entra: s.entra });
}

const writes = (h: Harness) => ({
  graph: h.world!.hosts.graph.requests.filter((r) => r.method !== 'GET').length,
  arm: h.world!.hosts.arm.requests.filter((r) => r.method !== 'GET').length,
  migration: h.emu!.requests.filter((r) => /externalfederatedcredentialmigration/i.test(r.path)).length,
  puts: h.emu!.requests.filter((r) => r.method === 'PUT').length,
});

for (const rt of runtimes()) {
  describe(`updateIssuer (packaged task, ${rt.label})`, function () {
    this.timeout(120_000);
    const h = new Harness();
    let entry: string;
    before(async () => {
      entry = await packagedEntry();
    });
    afterEach(() => h.close());

    it('moves apps (any connection type) and a managed identity, hands off the one it may not write, leaves the rest with the reason', async () => {
      await world(h);
      const t = await h.run(INPUT, { connection: migrator(h), entry, node: rt.path });
      const o = (name: string) => [t.byName(name)?.outcome, t.byName(name)?.reasonCode].filter(Boolean).join(':');
      assert.deepEqual(
        {
          docker: o('acr-push'),
          ext: o('contoso-cloud-old'),
          extNew: o('contoso-cloud-new'),
          mi: o('mi-deploy'),
          locked: o('mi-locked'),
          aws: o('aws-deploy'),
        },
        {
          docker: 'updated',
          ext: 'updated',
          extNew: 'skipped:SkipIssuerAlreadyEntra',
          mi: 'updated',
          locked: 'handoff:HandoffManagedIdentityDenied',
          aws: 'skipped:SkipIssuerNotEntraIdentity',
        },
        t.run.stdout,
      );
      const docker = t.byName('acr-push')!;
      const target = entraIssuer(MIG.TENANT, MIG.EP.DOCKER);
      assert.equal(docker.issuer, target.issuer, 'the issuer as read back');
      assert.equal(docker.subject, target.subject);
      assert.equal(docker.matchesTarget, true);
      assert.equal(docker.type, 'dockerregistry');
      // The old credential stays on every identity (pipelines in flight still use it).
      const app = h.world!.app(MIG.APP_DOCKER.appId)!;
      assert.deepEqual(app.federatedIdentityCredentials.map((f) => f.issuer).sort(), [azureDevOpsIssuer(), target.issuer].sort());
      assert.equal(writes(h).puts, 0, 'no conversion PUT');
      // The hand-off pack names the locked identity and its exact command.
      const pack = fs.readFileSync(t.run.variables['handoffPath'].value, 'utf8');
      assert.match(
        pack,
        /az identity federated-credential create --name 'ConvertToWif-c0000000-0000-4000-8000-000000000d05-entra' --identity-name 'locked-mi' --resource-group 'identities'/,
      );
      assert.ok(!pack.includes(MIG.MIGRATOR.secret));
      assert.equal(t.byName('mi-locked')!.handoff?.identityKind, 'managedIdentity');
      assert.equal(t.run.result?.result, 'SucceededWithIssues');
      assert.equal(t.run.variables['updatedCount']?.value, '3');
      assert.equal(t.run.variables['handoffCount']?.value, '1');
      assert.ok(!allOutput(t.run).includes(MIG.MIGRATOR.secret), 'the secret never appears');
    });
  });
}

describe('updateIssuer: the route refused, no entraConnection, dry run, idempotence, throttling, the weekly check (packaged task)', function () {
  this.timeout(120_000);
  const h = new Harness();
  let entry: string;
  before(async () => {
    entry = await packagedEntry();
  });
  afterEach(() => h.close());

  for (const mode of ['404', '403', '500'] as const) {
    it(`the migration route answers ${mode}: the credentials are in place and each connection is prepared, with the link to press Update`, async () => {
      await world(h, mode);
      // One at a time, so what the route answered first decides whether it is asked again.
      const t = await h.run({ ...INPUT, concurrency: '1' }, { connection: migrator(h), entry });
      const docker = t.byName('acr-push')!;
      assert.equal(docker.outcome, 'prepared', JSON.stringify(docker));
      assert.match(docker.reason!, /Press Update on the connection.*_settings\/adminservices\?resourceId=c0000000-0000-4000-8000-000000000d01/);
      assert.ok(h.world!.isUsable(MIG.APP_DOCKER.appId, entraIssuer(MIG.TENANT, MIG.EP.DOCKER).issuer, entraIssuer(MIG.TENANT, MIG.EP.DOCKER).subject));
      // Never a loop: a 404 (no such route) is asked once per run; any other refusal once per connection (3 get that far).
      assert.equal(writes(h).migration, mode === '404' ? 1 : 3);
      assert.match(fs.readFileSync(t.run.variables['handoffPath'].value, 'utf8'), /acr-push/);
    });
  }

  it('without entraConnection every candidate is a handoff, with both commands when the identity kind is unknown; nothing is written anywhere', async () => {
    await world(h);
    const t = await h.run({ action: 'updateIssuer' }, { entry });
    for (const name of ['acr-push', 'contoso-cloud-old', 'mi-deploy', 'mi-locked']) assert.equal(t.byName(name)?.outcome, 'handoff', name);
    assert.deepEqual(writes(h), { graph: 0, arm: 0, migration: 0, puts: 0 });
    const pack = fs.readFileSync(t.run.variables['handoffPath'].value, 'utf8');
    assert.match(pack, /az ad app federated-credential create --id '45c3d574-2826-4bae-9c76-622d41c02101'/);
    assert.match(pack, /az identity federated-credential create/);
  });

  it('a dry run writes nowhere (no Graph or ARM write, no migration request)', async () => {
    await world(h);
    const t = await h.run({ ...INPUT, dryRun: 'true' }, { connection: migrator(h), entry });
    assert.equal(t.byName('acr-push')?.outcome, 'planned');
    assert.equal(t.byName('acr-push')?.reasonCode, 'PlannedIssuerAdd');
    assert.deepEqual(writes(h), { graph: 0, arm: 0, migration: 0, puts: 0 });
  });

  it('a second run changes nothing: the moved connections are on the Entra issuer', async () => {
    await world(h);
    await h.run(INPUT, { connection: migrator(h), entry });
    const before = writes(h);
    const again = await h.run(INPUT, { connection: migrator(h), entry });
    assert.equal(again.byName('acr-push')?.reasonCode, 'SkipIssuerAlreadyEntra');
    assert.equal(again.byName('mi-deploy')?.reasonCode, 'SkipIssuerAlreadyEntra');
    const after = writes(h);
    assert.equal(after.graph, before.graph);
    assert.equal(after.arm - before.arm <= 1, true, 'at most the locked identity is tried again');
  });

  it('throttling on Graph and ARM (429 with Retry-After) is waited out', async () => {
    await world(h);
    h.world!.hosts.graph.addFault({ status: 429, headers: { 'Retry-After': '1' }, count: 1 });
    h.world!.hosts.arm.addFault({ status: 429, headers: { 'Retry-After': '1' }, count: 1 });
    const t = await h.run(INPUT, { connection: migrator(h), entry });
    assert.equal(t.byName('acr-push')?.outcome, 'updated');
    assert.equal(t.byName('mi-deploy')?.outcome, 'updated');
  });

  it('the weekly check: a report with failOnFindings is red while a connection of any type is on the Azure DevOps issuer', async () => {
    await world(h);
    const t = await h.run({ action: 'report', failOnFindings: 'true' }, { entry });
    assert.equal(t.run.result?.result, 'Failed');
    assert.match(t.run.result.message, /on the Azure DevOps issuer/);
    const docker = t.byName('acr-push')!;
    assert.equal(docker.issuerKind, 'azuredevops');
    assert.ok((docker.issuerDaysLeft ?? 0) > 0);
    assert.equal(docker.type, 'dockerregistry');
  });
});
