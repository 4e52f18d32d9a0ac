// The issuer migration route of the Azure DevOps emulator (test/emulator/migration.ts) and the
// federated connections of every type (test/helpers/issuerSeeds.ts), over HTTP against the
// emulator with an Entra world attached: each mode, the Entra-token-only authentication, the
// switched connection read back with its Entra issuer, subject and IssuerType, and the listing of
// every type when the client names none.
import * as assert from 'node:assert/strict';
import { startEntraWorld, type EntraWorld } from '../emulator/entraWorld';
import { startEmulator, type Emulator, type MigrationMode, type Seed } from '../emulator/server';
import { directoryOf } from '../helpers/agent';
import { PROJECT } from '../helpers/endpoints';
import { httpsCall, secretToken } from '../helpers/httpsCall';
import { MIG, azureDevOpsIssuer, azureDevOpsSubject, entraIssuer, issuerMigrationSeed } from '../helpers/issuerSeeds';
import { ADMIN_PAT, JOB_TOKEN, ORG } from '../helpers/seed';

const ADO_SCOPE = '499b84ac-1321-427f-aa17-267ca6975798/.default';
const ROUTE = '_apis/public/serviceendpoint/externalfederatedcredentialmigration?api-version=7.2-preview.1';

let emu: Emulator;
let world: EntraWorld;

async function start(s: Seed, attach = true): Promise<void> {
  emu = await startEmulator(s);
  world = await startEntraWorld(s, { azureDevOps: emu });
  if (attach) emu.attachDirectory(directoryOf(world));
}

const token = (scope = ADO_SCOPE) => secretToken(world.authorityUrl, world.caPem, MIG.TENANT, MIG.MIGRATOR.clientId, MIG.MIGRATOR.secret, scope);

async function ado(bearer: string | undefined, path: string, method = 'GET', body?: unknown): Promise<{ status: number; json: any; text: string }> {
  const headers: Record<string, string> = bearer ? { Authorization: `Bearer ${bearer}` } : {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${emu.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text };
}

const migrate = (bearer: string | undefined, name: string, route = ROUTE) =>
  ado(bearer, route, 'POST', { serviceConnectionInput: `sc://${ORG.name}/${PROJECT.name}/${name}` });
const params = (id: string) => (emu.endpoint(id)!.authorization as { parameters: Record<string, string> }).parameters;
const getById = async (bearer: string, id: string) =>
  (await ado(bearer, `${encodeURIComponent(PROJECT.name)}/_apis/serviceendpoint/endpoints/${id}?api-version=7.1`)).json;

/** Adds the Entra credential of a connection to its identity, the way the task would: Graph for an app, ARM for a managed identity. */
async function addEntraCredential(
  epId: string,
  identity: { appObjectId?: string; mi?: { subscriptionId: string; resourceGroup: string; name: string } },
): Promise<number> {
  const f = entraIssuer(MIG.TENANT, epId);
  if (identity.appObjectId) {
    const at = await token(`${world.graphUrl}.default`);
    const r = await httpsCall(`${world.graphUrl}v1.0/applications/${identity.appObjectId}/federatedIdentityCredentials`, world.caPem, {
      method: 'POST',
      headers: { Authorization: `Bearer ${at}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'ConvertToWif-entra', ...f, audiences: ['api://AzureADTokenExchange'] }),
    });
    return r.status;
  }
  const m = identity.mi!;
  const at = await token(`${world.armUrl}.default`);
  const r = await httpsCall(
    `${world.armUrl}subscriptions/${m.subscriptionId}/resourceGroups/${m.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${m.name}/federatedIdentityCredentials/ConvertToWif-entra?api-version=2023-01-31`,
    world.caPem,
    {
      method: 'PUT',
      headers: { Authorization: `Bearer ${at}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ properties: { ...f, audiences: ['api://AzureADTokenExchange'] } }),
    },
  );
  return r.status;
}

describe('issuer migration route and WIF connections of every type (Azure DevOps emulator + Entra world)', function () {
  this.timeout(20000);
  afterEach(async () => {
    await emu?.close();
    await world?.close();
  });

  it('lists connections of every type without type=, one type with it; each keeps its issuer, subject and IssuerType', async () => {
    await start(issuerMigrationSeed());
    const all = await ado(JOB_TOKEN, `${encodeURIComponent(PROJECT.name)}/_apis/serviceendpoint/endpoints?includeFailed=true&api-version=7.1`);
    assert.equal(all.status, 200, all.text);
    const byName: Record<string, any> = Object.fromEntries(all.json.value.map((e: any) => [e.name, e]));
    assert.deepEqual(Object.fromEntries(Object.entries(byName).map(([n, e]: [string, any]) => [n, e.type])), {
      'acr-push': 'dockerregistry',
      'contoso-cloud-old': 'contoso-cloud',
      'contoso-cloud-new': 'contoso-cloud',
      'mi-deploy': 'azurerm',
      'mi-locked': 'azurerm',
      'aws-deploy': 'AWS',
    });
    for (const e of Object.values(byName)) assert.equal(e.authorization.scheme, 'WorkloadIdentityFederation');
    const docker = byName['acr-push'].authorization.parameters;
    assert.equal(docker.workloadIdentityFederationIssuer, `https://vstoken.dev.azure.com/${ORG.id}`);
    assert.equal(docker.workloadIdentityFederationSubject, `sc://${ORG.name}/${PROJECT.name}/acr-push`);
    assert.equal(docker.workloadIdentityFederationIssuerType, undefined);
    const fresh = byName['contoso-cloud-new'].authorization.parameters;
    assert.equal(fresh.workloadIdentityFederationIssuer, `https://login.microsoftonline.com/${MIG.TENANT}/v2.0`);
    assert.match(fresh.workloadIdentityFederationSubject, new RegExp(`^/eid1/c/pub/t/[A-Za-z0-9_-]+/a/rISbSSETf0KqFyZ8ppdXmA/sc/${ORG.id}/${MIG.EP.EXT_NEW}$`));
    assert.equal(fresh.workloadIdentityFederationIssuerType, 'EntraID');
    const aws = byName['aws-deploy'].authorization.parameters;
    assert.equal(aws.tenantid, undefined);
    assert.equal(aws.serviceprincipalid, undefined);
    assert.equal(byName['mi-deploy'].authorization.parameters.serviceprincipalid, MIG.MI_WRITABLE.clientId);
    assert.equal(byName['mi-deploy'].data.subscriptionId, MIG.SUBSCRIPTION);

    const docker1 = await ado(JOB_TOKEN, `${encodeURIComponent(PROJECT.name)}/_apis/serviceendpoint/endpoints?type=dockerregistry&api-version=7.1`);
    assert.deepEqual(
      docker1.json.value.map((e: any) => e.name),
      ['acr-push'],
    );
    const ext = await ado(
      JOB_TOKEN,
      `${encodeURIComponent(PROJECT.name)}/_apis/serviceendpoint/endpoints?type=contoso-cloud&authSchemes=WorkloadIdentityFederation&api-version=7.1`,
    );
    assert.deepEqual(ext.json.value.map((e: any) => e.name).sort(), ['contoso-cloud-new', 'contoso-cloud-old']);
    // The identities hold the credential of their current issuer: jobs run today.
    assert.equal(world.isUsable(MIG.APP_DOCKER.appId, azureDevOpsIssuer(), azureDevOpsSubject('acr-push')), true);
    assert.equal(world.isUsable(MIG.MI_WRITABLE.clientId, azureDevOpsIssuer(), azureDevOpsSubject('mi-deploy')), true);
  });

  it("'switches': 400 (AADSTS700211) until the identity holds the Entra credential, then 200 and the connection reads back on the Entra issuer", async () => {
    await start(issuerMigrationSeed());
    const at = await token();
    const target = entraIssuer(MIG.TENANT, MIG.EP.DOCKER);
    const before = await migrate(at, 'acr-push');
    assert.equal(before.status, 400, before.text);
    assert.match(before.json.message, /AADSTS700211/);
    assert.ok(before.json.message.includes(target.issuer) && before.json.message.includes(target.subject), before.json.message);
    assert.equal(params(MIG.EP.DOCKER).workloadIdentityFederationIssuer, azureDevOpsIssuer(), 'nothing changed');

    assert.equal(await addEntraCredential(MIG.EP.DOCKER, { appObjectId: MIG.APP_DOCKER.objectId }), 201);
    const ok = await migrate(at, 'acr-push');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.id, MIG.EP.DOCKER);
    assert.equal(ok.json.authorization.parameters.workloadIdentityFederationIssuerType, 'EntraID');
    const read = await getById(JOB_TOKEN, MIG.EP.DOCKER);
    assert.deepEqual(
      {
        issuer: read.authorization.parameters.workloadIdentityFederationIssuer,
        subject: read.authorization.parameters.workloadIdentityFederationSubject,
        type: read.authorization.parameters.workloadIdentityFederationIssuerType,
      },
      { ...target, type: 'EntraID' },
    );
    assert.equal(read.authorization.parameters.loginServer, 'contosoacr.azurecr.io', 'other parameters kept');
    // Jobs now get Entra-issued ID tokens for it.
    const oidc = await httpsCall(`${world.oidcRequestUri}?api-version=7.1&serviceConnectionId=${MIG.EP.DOCKER}`, world.caPem, {
      method: 'POST',
      headers: { Authorization: `Bearer ${JOB_TOKEN}`, 'Content-Type': 'application/json' },
      body: '{}',
    });
    const claims = JSON.parse(Buffer.from(String(oidc.json?.oidcToken).split('.')[1], 'base64url').toString());
    assert.deepEqual({ iss: claims.iss, sub: claims.sub }, { iss: target.issuer, sub: target.subject });
    // Again: idempotent, still 200.
    assert.equal((await migrate(at, 'acr-push')).status, 200);
    // Recorded like every route, with the Entra caller.
    const recs = emu.requests.filter((r) => r.path.endsWith('/externalfederatedcredentialmigration'));
    assert.deepEqual(
      recs.map((r) => r.status),
      [400, 200, 200],
    );
    assert.equal(recs[0].identity, `Entra ${MIG.MIGRATOR.clientId} (tenant ${MIG.TENANT})`);
    assert.equal(recs[0].apiVersion, '7.2-preview.1');
    assert.deepEqual(recs[0].body, { serviceConnectionInput: `sc://${ORG.name}/${PROJECT.name}/acr-push` });
  });

  it("'switches' for a managed identity (credential added through ARM), an extension type, already-Entra, AWS, unknown, bad requests", async () => {
    await start(issuerMigrationSeed());
    const at = await token();
    assert.equal((await migrate(at, 'mi-deploy')).status, 400);
    assert.equal(await addEntraCredential(MIG.EP.MI, { mi: MIG.MI_WRITABLE }), 201);
    const mi = await migrate(at, 'mi-deploy');
    assert.equal(mi.status, 200, mi.text);
    assert.equal(params(MIG.EP.MI).workloadIdentityFederationIssuer, entraIssuer(MIG.TENANT, MIG.EP.MI).issuer);
    // The read-only identity cannot receive it through ARM (403), so it stays.
    assert.equal(await addEntraCredential(MIG.EP.MI_READONLY, { mi: MIG.MI_READONLY }), 403);
    assert.equal((await migrate(at, 'mi-locked')).status, 400);

    assert.equal(await addEntraCredential(MIG.EP.EXT_OLD, { appObjectId: MIG.APP_EXT.objectId }), 201);
    assert.equal((await migrate(at, 'contoso-cloud-old')).status, 200);
    assert.equal(params(MIG.EP.EXT_OLD).workloadIdentityFederationIssuerType, 'EntraID');
    const already = await migrate(at, 'contoso-cloud-new');
    assert.equal(already.status, 200, 'already on the Entra issuer: nothing to do');

    const aws = await migrate(at, 'aws-deploy');
    assert.equal(aws.status, 400);
    assert.match(aws.json.message, /not backed by a Microsoft Entra identity/);
    assert.equal(params(MIG.EP.AWS).workloadIdentityFederationIssuer, azureDevOpsIssuer());

    assert.equal((await migrate(at, 'no-such-connection')).status, 404);
    assert.equal((await ado(at, ROUTE, 'POST', { serviceConnectionInput: `sc://fabrikam/${PROJECT.name}/acr-push` })).status, 404);
    assert.equal((await ado(at, ROUTE, 'POST', {})).status, 400);
    assert.equal((await ado(at, ROUTE, 'POST', 'not json')).status, 400);
    assert.equal((await ado(at, ROUTE.replace('7.2-preview.1', '7.2'), 'POST', {})).json.typeKey, 'VssInvalidPreviewVersionException');
    assert.equal((await ado(at, ROUTE, 'GET')).status, 405);
  });

  for (const mode of ['404', '403', '500'] as MigrationMode[]) {
    it(`'${mode}': the route answers ${mode} and changes nothing, even when the credential exists`, async () => {
      await start(issuerMigrationSeed({ migration: mode }));
      assert.equal(await addEntraCredential(MIG.EP.DOCKER, { appObjectId: MIG.APP_DOCKER.objectId }), 201);
      const r = await migrate(await token(), 'acr-push');
      assert.equal(r.status, Number(mode), r.text);
      const typeKey = { '404': 'NotFoundException', '403': 'AccessCheckException', '500': 'InternalServerError' }[mode as '404' | '403' | '500'];
      assert.equal(r.json.typeKey, typeKey);
      assert.equal(params(MIG.EP.DOCKER).workloadIdentityFederationIssuer, azureDevOpsIssuer());
      assert.equal(params(MIG.EP.DOCKER).workloadIdentityFederationIssuerType, undefined);
    });
  }

  it("the default is '404'; a connection's emulator.migration overrides the seed's mode", async () => {
    const s = issuerMigrationSeed();
    delete s.migration;
    await start(s);
    assert.equal((await migrate(await token(), 'acr-push')).status, 404);
    await emu.close();
    await world.close();
    const t = issuerMigrationSeed({ migration: '404' });
    t.endpoints.find((e) => e.id === MIG.EP.DOCKER)!.emulator!.migration = 'switches';
    t.endpoints.find((e) => e.id === MIG.EP.EXT_OLD)!.emulator!.migration = '500';
    await start(t);
    assert.equal(await addEntraCredential(MIG.EP.DOCKER, { appObjectId: MIG.APP_DOCKER.objectId }), 201);
    const at = await token();
    assert.equal((await migrate(at, 'acr-push')).status, 200);
    assert.equal((await migrate(at, 'contoso-cloud-old')).status, 500);
    assert.equal((await migrate(at, 'mi-deploy')).status, 404);
  });

  it('takes only an Entra token for Azure DevOps, and only on this route: PAT, job token, Graph or ARM token, expired, no directory → 401', async () => {
    await start(issuerMigrationSeed());
    assert.equal(await addEntraCredential(MIG.EP.DOCKER, { appObjectId: MIG.APP_DOCKER.objectId }), 201);
    for (const bearer of [ADMIN_PAT, JOB_TOKEN, undefined, 'garbage', await token(`${world.graphUrl}.default`), await token(`${world.armUrl}.default`)]) {
      const r = await migrate(bearer, 'acr-push');
      assert.equal(r.status, 401, `${bearer}: ${r.text}`);
      assert.equal(r.json.typeKey, 'UnauthorizedRequestException');
    }
    const at = await token();
    // The Entra token opens no other route.
    assert.equal((await ado(at, `${encodeURIComponent(PROJECT.name)}/_apis/serviceendpoint/endpoints?api-version=7.1`)).status, 401);
    assert.equal((await ado(at, `_apis/connectionData`)).status, 401);
    // Expired (directory clock).
    const later = Date.now() + 2 * 3600_000;
    world.setClock(() => later);
    assert.equal((await migrate(at, 'acr-push')).status, 401);
    world.setClock(Date.now);
    // Without an attached directory no Entra token is known.
    emu.attachDirectory(undefined);
    assert.equal((await migrate(at, 'acr-push')).status, 401);
    emu.attachDirectory(directoryOf(world));
    assert.equal((await migrate(at, 'acr-push')).status, 200);
    assert.equal(params(MIG.EP.DOCKER).workloadIdentityFederationIssuerType, 'EntraID');
    // Faults apply to this route as to every other.
    emu.addFault({ path: '/externalfederatedcredentialmigration', status: 429, headers: { 'Retry-After': '2' } });
    const throttled = await migrate(at, 'acr-push');
    assert.equal(throttled.status, 429);
    assert.equal(emu.requests.at(-1)?.fault, 'respond');
  });
});
