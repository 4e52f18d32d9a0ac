// Who can convert what (test/emulator/serviceEndpoints.ts, "How a conversion is decided"), driven
// over HTTP against the Azure DevOps emulator with an Entra world's directory attached: the job
// identity has no Entra token, a user's conversion adds the federated credential, an existing
// (propagated) credential makes the conversion synchronous for anyone. Then the agent's
// environment for a connection input as task-lib reads it (test/helpers/agent.ts, harness.ts),
// and the demo seed's Entra section.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEntraWorld, type EntraWorld } from '../emulator/entraWorld';
import { issuerAndSubject } from '../emulator/oidc';
import { loadSeed, startEmulator, type AadSilentFailureDelivery, type Emulator, type Seed } from '../emulator/server';
import type { EntraSeed } from '../emulator/types';
import { identityId } from '../emulator/util';
import { agentConnectionEnv, directoryOf } from '../helpers/agent';
import { PROJECT } from '../helpers/endpoints';
import { Harness } from '../helpers/harness';
import { repoRoot } from '../helpers/localize';
import { ADMIN, ADMIN_PAT, JOB_IDENTITY, JOB_TOKEN, ORG, SeedEndpoint, seed } from '../helpers/seed';

const TENANT = '3f1c6a2e-8d4b-4e0a-9b7c-5a2d1e0f9c31';
const AUD = 'api://AzureADTokenExchange';
const AUTO = { id: '5e0c7a10-0000-4000-8000-00000000a001', app: '5e0c7a10-0000-4000-8000-0000000aa001', obj: '5e0c7a10-0000-4000-8000-0000000ab001' };
const MANUAL = { id: '5e0c7a10-0000-4000-8000-00000000a002', app: '5e0c7a10-0000-4000-8000-0000000aa002', obj: '5e0c7a10-0000-4000-8000-0000000ab002' };
const CONVERT = 'ConvertAuthenticationScheme';
const SILENT = (identity: string) => `Failed to obtain an access token of identity ${identityId(identity)}. AAD returned silent failure.`;

const endpoints = (extra: { auto?: SeedEndpoint['emulator']; manual?: SeedEndpoint['emulator'] } = {}): SeedEndpoint[] => [
  {
    id: AUTO.id,
    name: 'prod-auto',
    parameters: { tenantid: TENANT, serviceprincipalid: AUTO.app, authenticationType: 'spnKey', serviceprincipalkey: null },
    data: { appObjectId: AUTO.obj },
    emulator: extra.auto,
  },
  {
    id: MANUAL.id,
    name: 'prod-manual',
    creationMode: 'Manual',
    parameters: { tenantid: TENANT, serviceprincipalid: MANUAL.app, authenticationType: 'spnKey', serviceprincipalkey: null },
    emulator: extra.manual,
  },
];

/** The Entra section: the two connections' apps; `withFic` names those that already hold their connection's credential. */
function entra(s: Seed, o: { withFic?: string[]; propagationDelayMs?: number } = {}): EntraSeed {
  const app = (x: typeof AUTO, name: string) => {
    const ep = s.endpoints.find((e) => e.id === x.id)!;
    const { issuer, subject } = issuerAndSubject(s, ep);
    return {
      appId: x.app,
      objectId: x.obj,
      displayName: name,
      federatedIdentityCredentials: o.withFic?.includes(x.id) ? [{ name: 'azdo', issuer, subject }] : [],
    };
  };
  return {
    propagationDelayMs: o.propagationDelayMs ?? 0,
    tenants: [{ id: TENANT, displayName: 'Fabrikam', applications: [app(AUTO, 'contoso-Payments-auto'), app(MANUAL, 'manual-app')] }],
  };
}

interface Answer {
  status: number;
  json: any;
}

function call(emu: Emulator, method: string, relative: string, token: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      new URL(relative, emu.url),
      {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json;api-version=7.1',
          ...(payload ? { 'Content-Type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const get = (emu: Emulator, id: string, token = JOB_TOKEN) => call(emu, 'GET', `${PROJECT.name}/_apis/serviceendpoint/endpoints/${id}`, token);

/** GET, then the minimal conversion PUT (docs/service-behaviour.md §4). */
async function convert(emu: Emulator, id: string, token: string): Promise<Answer> {
  const ep = (await get(emu, id, token)).json;
  const body = {
    id: ep.id,
    type: ep.type,
    authorization: { scheme: 'WorkloadIdentityFederation' },
    serviceEndpointProjectReferences: [ep.serviceEndpointProjectReferences[0]],
  };
  return call(emu, 'PUT', `_apis/serviceendpoint/endpoints/${id}?operation=${CONVERT}`, token, body);
}

describe('Azure DevOps emulator: who converts (directory attached)', function () {
  this.timeout(30000);
  let emu: Emulator | undefined;
  let world: EntraWorld | undefined;

  /** Both emulators, the directory attached; `s` is the seed both start from. */
  async function start(s: Seed, o: { withFic?: string[]; propagationDelayMs?: number } = {}): Promise<{ emu: Emulator; world: EntraWorld }> {
    s.entra = entra(s, o);
    emu = await startEmulator(s);
    world = await startEntraWorld(s, { azureDevOps: emu });
    emu.attachDirectory(directoryOf(world));
    return { emu, world };
  }

  afterEach(async () => {
    await Promise.all([emu?.close(), world?.close()]);
    emu = world = undefined;
  });

  const deliveries: Array<{ seedLevel?: AadSilentFailureDelivery; endpointLevel?: AadSilentFailureDelivery; status: number }> = [
    { status: 500 }, // default 'sync-500'
    { seedLevel: 'sync-400', status: 400 },
    { seedLevel: 'async', status: 202 },
    { seedLevel: 'sync-400', endpointLevel: 'sync-500', status: 500 },
    { endpointLevel: 'async', status: 202 },
  ];
  for (const d of deliveries) {
    it(`job identity, Automatic, no credential: the AAD silent failure (seed ${d.seedLevel ?? 'default'}, endpoint ${d.endpointLevel ?? 'default'} -> ${d.status})`, async () => {
      const s = seed(
        endpoints({ auto: d.endpointLevel ? { aadSilentFailure: d.endpointLevel } : undefined }),
        d.seedLevel ? { aadSilentFailure: d.seedLevel } : {},
      );
      const { emu, world } = await start(s);
      const put = await convert(emu, AUTO.id, JOB_TOKEN);
      assert.equal(put.status, d.status);
      let stored: any;
      if (d.status === 202) {
        assert.deepEqual(put.json.operationStatus, { state: 'InProgress', statusMessage: 'converting_scheme' });
        stored = (await get(emu, AUTO.id)).json; // the background job's step
        assert.equal(stored.operationStatus.statusMessage, `converting_scheme_failed: ${SILENT(JOB_IDENTITY)}`);
      } else {
        assert.equal(put.json.typeKey, 'AadAccessSilentException');
        assert.equal(put.json.message, SILENT(JOB_IDENTITY));
        stored = (await get(emu, AUTO.id)).json;
        assert.equal(stored.operationStatus.statusMessage, `converting_scheme_failed: ${SILENT(JOB_IDENTITY)}`);
      }
      // Left as the service leaves it: failed, not ready, still the secret scheme; nothing added in Entra.
      assert.equal(stored.operationStatus.state, 'Failed');
      assert.equal(stored.isReady, false);
      assert.equal(stored.authorization.scheme, 'ServicePrincipal');
      assert.deepEqual(world.app(AUTO.app)!.federatedIdentityCredentials, []);
    });
  }

  it("a user's conversion (PAT): 202, and the background job adds the federated credential to the app", async () => {
    const s = seed(endpoints());
    const { emu, world } = await start(s);
    const put = await convert(emu, AUTO.id, ADMIN_PAT);
    assert.equal(put.status, 202);
    assert.equal(world.app(AUTO.app)!.federatedIdentityCredentials.length, 0, 'not before the job runs');
    const done = (await get(emu, AUTO.id, ADMIN_PAT)).json;
    assert.equal(done.authorization.scheme, 'WorkloadIdentityFederation');
    assert.deepEqual(done.operationStatus, { state: 'Ready', statusMessage: '' });
    const { workloadIdentityFederationIssuer: issuer, workloadIdentityFederationSubject: subject } = done.authorization.parameters;
    assert.deepEqual(issuerAndSubject(s, s.endpoints[0]), { issuer: `https://login.microsoftonline.com/${TENANT}/v2.0`, subject }, 'one implementation');
    const fics = world.app(AUTO.app)!.federatedIdentityCredentials;
    assert.equal(fics.length, 1);
    assert.deepEqual(
      { ...fics[0], id: typeof fics[0].id, addedAt: fics[0].addedAt > 0 },
      {
        id: 'string',
        name: AUTO.id,
        issuer,
        subject,
        audiences: [AUD],
        description: `Federation for Service Connection prod-auto in ${emu.url}Payments/_settings/adminservices?resourceId=${AUTO.id}`,
        addedAt: true,
      },
    );
    assert.ok(world.isUsable(AUTO.app, issuer, subject));
    // A Manual connection without a credential is refused for a user too: nothing to configure automatically.
    const manual = await convert(emu, MANUAL.id, ADMIN_PAT);
    assert.equal(manual.status, 400);
    assert.match(manual.json.message, /could not be upgraded to use workload identity federation.*no valid configuration exists/);
  });

  it('the credential already exists: 200 at once for Automatic and Manual, for the job identity too, nothing added', async () => {
    const s = seed(endpoints());
    const { emu, world } = await start(s, { withFic: [AUTO.id, MANUAL.id] });
    for (const x of [AUTO, MANUAL]) {
      const put = await convert(emu, x.id, JOB_TOKEN);
      assert.equal(put.status, 200, JSON.stringify(put.json));
      assert.equal(put.json.authorization.scheme, 'WorkloadIdentityFederation');
      assert.equal(world.app(x.app)!.federatedIdentityCredentials.length, 1);
    }
  });

  it('Azure DevOps issuer: the credential it looks for is vstoken + sc://', async () => {
    const s = seed(endpoints(), { issuer: 'azuredevops' });
    const { emu, world } = await start(s, { withFic: [MANUAL.id] });
    assert.equal(world.app(MANUAL.app)!.federatedIdentityCredentials[0].subject, `sc://${ORG.name}/Payments/prod-manual`);
    const put = await convert(emu, MANUAL.id, JOB_TOKEN);
    assert.equal(put.status, 200);
    assert.equal(put.json.authorization.parameters.workloadIdentityFederationIssuer, `https://vstoken.dev.azure.com/${ORG.id}`);
  });

  it('a credential added but not yet propagated counts as missing; once it has, the retried PUT converts (200)', async () => {
    let now = Date.parse('2025-06-01T08:00:00Z');
    const s = seed(endpoints());
    const { emu, world } = await start(s, { propagationDelayMs: 60_000 });
    world.setClock(() => now);
    const directory = directoryOf(world);
    for (const x of [AUTO, MANUAL]) {
      const { issuer, subject } = issuerAndSubject(
        s,
        s.endpoints.find((e) => e.id === x.id)!,
      );
      assert.equal(directory.addCredential!(x.app, { name: 'by-hand', issuer, subject, audiences: [AUD], description: '' }), true);
    }
    const auto1 = await convert(emu, AUTO.id, JOB_TOKEN);
    assert.equal(auto1.status, 500);
    assert.equal(auto1.json.typeKey, 'AadAccessSilentException');
    const manual1 = await convert(emu, MANUAL.id, JOB_TOKEN);
    assert.equal(manual1.status, 400);
    assert.match(manual1.json.message, /no valid configuration exists/);
    assert.equal((await get(emu, AUTO.id)).json.operationStatus.state, 'Failed');

    now += 60_000;
    for (const x of [AUTO, MANUAL]) {
      const retry = await convert(emu, x.id, JOB_TOKEN);
      assert.equal(retry.status, 200, JSON.stringify(retry.json));
      assert.equal(retry.json.isReady, true);
      assert.deepEqual(retry.json.operationStatus, { state: 'Ready', statusMessage: '' });
      assert.equal(world.app(x.app)!.federatedIdentityCredentials.length, 1, 'no second credential');
    }
  });

  it("explicit conversion modes still override: 'async' for the job identity succeeds and adds the credential; 'sync' without one converts", async () => {
    const s = seed(endpoints({ auto: { conversion: 'async' }, manual: { conversion: 'sync' } }));
    const { emu, world } = await start(s);
    assert.equal((await convert(emu, AUTO.id, JOB_TOKEN)).status, 202);
    assert.equal((await get(emu, AUTO.id)).json.authorization.scheme, 'WorkloadIdentityFederation');
    assert.equal(world.app(AUTO.app)!.federatedIdentityCredentials.length, 1);
    assert.equal((await convert(emu, MANUAL.id, JOB_TOKEN)).status, 200);
  });

  it('without a directory, emulator.federatedCredential says whether the credential exists', async () => {
    emu = await startEmulator(seed(endpoints({ auto: { federatedCredential: true }, manual: { federatedCredential: true } })));
    assert.equal((await convert(emu, AUTO.id, JOB_TOKEN)).status, 200);
    assert.equal((await convert(emu, MANUAL.id, JOB_TOKEN)).status, 200);
    await emu.close();
    emu = await startEmulator(seed(endpoints()));
    assert.equal((await convert(emu, AUTO.id, JOB_TOKEN)).status, 500);
    assert.equal((await convert(emu, AUTO.id, ADMIN_PAT)).status, 202, `${ADMIN} (a user) gets the background conversion after the failure`);
  });

  it('seed checks: identity kind and aadSilentFailure values', async () => {
    const bad1 = seed([]);
    (bad1.identities[0] as { kind?: string }).kind = 'robot';
    await assert.rejects(startEmulator(bad1), /kind must be 'user' or 'service'/);
    await assert.rejects(startEmulator(seed([], { aadSilentFailure: 'later' as AadSilentFailureDelivery })), /aadSilentFailure must be one of/);
    await assert.rejects(
      startEmulator(seed(endpoints({ auto: { aadSilentFailure: 'x' as AadSilentFailureDelivery } }))),
      /emulator\.aadSilentFailure must be one of/,
    );
  });
});

// ---------------------------------------------------------------------------------------------

/** Prints what task-lib reads for the `entraConnection` input, and asks the OIDC endpoint for a token of it. */
const PROBE = `(() => {
const tl = require(${JSON.stringify(path.join(repoRoot, 'node_modules', 'azure-pipelines-task-lib', 'task'))});
const https = require('https');
const id = tl.getInput('entraConnection', true);
const out = {
  id,
  auth: tl.getEndpointAuthorization(id, true),
  scheme: tl.getEndpointAuthorizationScheme(id, true),
  tenantid: tl.getEndpointAuthorizationParameter(id, 'tenantid', true),
  serviceprincipalid: tl.getEndpointAuthorizationParameter(id, 'serviceprincipalid', true),
  serviceprincipalkey: tl.getEndpointAuthorizationParameter(id, 'serviceprincipalkey', true) ?? null,
  schemeUpper: tl.getEndpointAuthorizationScheme(id.toUpperCase(), true) ?? null,
  authority: tl.getEndpointDataParameter(id, 'environmentAuthorityUrl', true),
  graph: tl.getEndpointDataParameter(id, 'microsoftGraphUrl', true),
  subscriptionId: tl.getEndpointDataParameter(id, 'subscriptionId', true) ?? null,
  url: tl.getEndpointUrl(id, true),
  collectionId: tl.getVariable('System.CollectionId'),
  oidcRequestUri: tl.getVariable('System.OidcRequestUri'),
};
// runTask sets the job token as ENDPOINT_AUTH_SYSTEMVSSCONNECTION (JSON) only.
const job = tl.getEndpointAuthorization('SYSTEMVSSCONNECTION', true).parameters.AccessToken;
if (!out.oidcRequestUri) {
  console.log('PROBE ' + JSON.stringify(out));
  return;
}
const req = https.request(out.oidcRequestUri + '?api-version=7.1&serviceConnectionId=' + id, { method: 'POST', headers: { Authorization: 'Bearer ' + job, 'Content-Type': 'application/json' } }, (res) => {
  let text = '';
  res.on('data', (c) => (text += c));
  res.on('end', () => {
    out.oidcStatus = res.statusCode;
    const t = res.statusCode === 200 ? JSON.parse(text).oidcToken : '';
    out.oidcClaims = t ? JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString()) : null;
    console.log('PROBE ' + JSON.stringify(out));
  });
});
req.on('error', (e) => console.log('PROBE ' + JSON.stringify({ ...out, oidcError: String(e) })));
req.end('{}');
})();
`;

function probeOutput(stdout: string): any {
  const line = stdout.split('\n').find((l) => l.startsWith('PROBE '));
  assert.ok(line, stdout);
  return JSON.parse(line.slice('PROBE '.length));
}

describe('agent environment for a connection input (test/helpers/agent.ts, Harness)', function () {
  this.timeout(30000);
  const h = new Harness();
  let probe = '';
  before(() => {
    probe = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-probe-')), 'probe.js');
    fs.writeFileSync(probe, PROBE);
  });
  after(async () => {
    await h.close();
    fs.rmSync(path.dirname(probe), { recursive: true, force: true });
  });

  it('names the variables as task-lib reads them (id as the input holds it; keys upper-cased)', () => {
    const env = agentConnectionEnv(
      {
        id: 'ABCDEF01-0000-4000-8000-000000000001',
        scheme: 'ServicePrincipal',
        tenantId: 't',
        clientId: 'c',
        secret: 's',
        data: { subscriptionId: 'sub', 'a.b c': 'x' },
      },
      undefined,
      { organizationId: ORG.id },
    );
    const id = 'abcdef01-0000-4000-8000-000000000001';
    assert.equal(env.INPUT_ENTRACONNECTION, id);
    assert.deepEqual(JSON.parse(env[`ENDPOINT_AUTH_${id}`]), {
      parameters: { tenantid: 't', serviceprincipalid: 'c', authenticationType: 'spnKey', serviceprincipalkey: 's' },
      scheme: 'ServicePrincipal',
    });
    assert.equal(env[`ENDPOINT_AUTH_SCHEME_${id}`], 'ServicePrincipal');
    assert.equal(env[`ENDPOINT_AUTH_PARAMETER_${id}_SERVICEPRINCIPALKEY`], 's');
    assert.equal(env[`ENDPOINT_AUTH_PARAMETER_${id}_AUTHENTICATIONTYPE`], 'spnKey');
    assert.equal(env[`ENDPOINT_DATA_${id}_SUBSCRIPTIONID`], 'sub');
    assert.equal(env[`ENDPOINT_DATA_${id}_A_B_C`], 'x');
    assert.equal(env[`ENDPOINT_DATA_${id}_ENVIRONMENT`], 'AzureCloud');
    assert.equal(env[`ENDPOINT_URL_${id}`], 'https://management.azure.com/');
    assert.equal(env.SYSTEM_COLLECTIONID, ORG.id);
    assert.equal(env.SYSTEM_OIDCREQUESTURI, undefined, 'no world, no OIDC endpoint');
  });

  it('through the Harness with an Entra world: task-lib reads the connection, the CA is trusted, the OIDC endpoint issues its token', async () => {
    const s = seed(endpoints());
    const admin = { id: '5e0c7a10-0000-4000-8000-00000000a0ad', app: '5e0c7a10-0000-4000-8000-0000000aa0ad' };
    const adminEp: SeedEndpoint = {
      id: admin.id,
      name: 'entra-admin',
      scheme: 'WorkloadIdentityFederation',
      creationMode: 'Manual',
      parameters: { tenantid: TENANT, serviceprincipalid: admin.app },
    };
    const own = issuerAndSubject(s, seed([adminEp]).endpoints[0]); // what the service assigned when it was federated
    adminEp.parameters = { ...adminEp.parameters, workloadIdentityFederationIssuer: own.issuer, workloadIdentityFederationSubject: own.subject };
    const e = entra(s);
    e.tenants[0].servicePrincipals = [
      {
        appId: admin.app,
        displayName: 'ConvertToWif Entra admin',
        permissions: ['Application.ReadWrite.OwnedBy'],
        federatedIdentityCredentials: [{ name: 'azdo', ...own }],
      },
    ];
    e.taskInputConnections = [admin.id];
    const emu = await h.start([...endpoints(), adminEp], { entra: e });
    assert.ok(h.world, 'an Entra world beside the emulator');
    const t = await h.run(
      {},
      {
        entry: probe,
        connection: { id: admin.id, scheme: 'WorkloadIdentityFederation', tenantId: TENANT, clientId: admin.app, data: { subscriptionId: 'sub-1' } },
      },
    );
    const out = probeOutput(t.run.stdout);
    assert.deepEqual(
      { ...out, oidcClaims: undefined },
      {
        id: admin.id,
        auth: { parameters: { tenantid: TENANT, serviceprincipalid: admin.app }, scheme: 'WorkloadIdentityFederation' },
        scheme: 'WorkloadIdentityFederation',
        tenantid: TENANT,
        serviceprincipalid: admin.app,
        serviceprincipalkey: null,
        schemeUpper: 'WorkloadIdentityFederation', // ENDPOINT_AUTH_* are looked up case-insensitively
        authority: h.world.authorityUrl,
        graph: h.world.graphUrl,
        subscriptionId: 'sub-1',
        url: 'https://management.azure.com/',
        collectionId: ORG.id,
        oidcRequestUri: h.world.oidcRequestUri,
        oidcStatus: 200,
        oidcClaims: undefined,
      },
    );
    assert.equal(out.oidcClaims.iss, own.issuer);
    assert.equal(out.oidcClaims.sub, own.subject);
    assert.equal(out.oidcClaims.aud, AUD);
    // The emulator's directory is the world's: a user's conversion lands in it.
    assert.equal((await convert(emu, AUTO.id, ADMIN_PAT)).status, 202);
    await get(emu, AUTO.id, ADMIN_PAT);
    assert.equal(h.world.app(AUTO.app)!.federatedIdentityCredentials.length, 1);
  });

  it('a Harness run always gets SYSTEM_COLLECTIONID, without an Entra world too', async () => {
    await h.start(endpoints());
    assert.equal(h.world, undefined);
    const t = await h.run(
      {},
      { entry: probe, env: agentConnectionEnv({ id: AUTO.id, scheme: 'ServicePrincipal', tenantId: TENANT, clientId: AUTO.app, secret: 'shh' }) },
    );
    const out = probeOutput(t.run.stdout);
    assert.equal(out.collectionId, ORG.id);
    assert.equal(out.serviceprincipalkey, 'shh');
    assert.equal(out.oidcRequestUri, undefined);
  });
});

// ---------------------------------------------------------------------------------------------

describe('demo seed: the Entra section', function () {
  this.timeout(30000);
  const DEMO = path.join(repoRoot, 'test', 'emulator', 'seeds', 'demo.json');
  let emu: Emulator | undefined;
  let world: EntraWorld | undefined;
  after(async () => {
    await Promise.all([emu?.close(), world?.close()]);
  });

  it('loads into both emulators; every Automatic and Manual connection has its app, owned by the Entra admin, whose token exchange works', async () => {
    const s = loadSeed(DEMO);
    const e = (emu = await startEmulator(s));
    const w = (world = await startEntraWorld(s, { azureDevOps: e }));
    e.attachDirectory(directoryOf(w));
    const admin = s.endpoints.find((e) => e.name === 'entra-admin')!;
    const adminId = String(admin.id);
    const adminClient = String((admin.authorization as any).parameters.serviceprincipalid);
    assert.equal((admin.authorization as any).scheme, 'WorkloadIdentityFederation');
    assert.deepEqual(s.entra!.taskInputConnections, [adminId]);
    const sp = s.entra!.tenants[0].servicePrincipals!.find((p) => p.appId === adminClient)!;
    assert.equal(sp.displayName, 'ConvertToWif Entra admin');
    assert.deepEqual(sp.permissions, ['Application.ReadWrite.OwnedBy']);
    assert.deepEqual(
      s.identities.map((i) => [i.name, i.kind]),
      [
        ['Payments Build Service (contoso)', 'service'],
        ['Ada Admin', 'user'],
      ],
    );

    let apps = 0;
    for (const ep of s.endpoints) {
      const params = (ep.authorization as any)?.parameters ?? {};
      const data = (ep.data ?? {}) as Record<string, string>;
      if (ep.type !== 'azurerm' || !params.serviceprincipalid || ep === admin || !['Automatic', 'Manual'].includes(data.creationMode)) continue;
      const app = w.app(params.serviceprincipalid);
      assert.ok(app, `an app for ${String(ep.name)}`);
      if (data.appObjectId) assert.equal(app.objectId, data.appObjectId, String(ep.name));
      assert.deepEqual(app.owners, [adminClient], String(ep.name));
      apps++;
      if ((ep.authorization as any).scheme === 'WorkloadIdentityFederation' || ep.name === 'manual-with-fic') {
        const { issuer, subject } = issuerAndSubject(s, ep);
        assert.ok(w.isUsable(params.serviceprincipalid, issuer, subject), `${String(ep.name)} holds its credential`);
      }
    }
    assert.ok(apps >= 12, `apps: ${apps}`);

    // The OIDC endpoint's token for entra-admin is accepted by the token endpoint (its credential matches).
    const job = s.identities[0].token;
    const oidc = await post(
      w,
      `${w.oidcRequestUri}?api-version=7.1&serviceConnectionId=${adminId}`,
      { Authorization: `Bearer ${job}`, 'Content-Type': 'application/json' },
      '{}',
    );
    assert.equal(oidc.status, 200, oidc.text);
    const exchange = await post(
      w,
      `${w.authorityUrl}${String((admin.authorization as any).parameters.tenantid)}/oauth2/v2.0/token`,
      { 'Content-Type': 'application/x-www-form-urlencoded' },
      new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: adminClient,
        scope: `${w.graphUrl}.default`,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: JSON.parse(oidc.text).oidcToken,
      }).toString(),
    );
    assert.equal(exchange.status, 200, exchange.text);
    // Only task inputs get tokens.
    const other = await post(
      w,
      `${w.oidcRequestUri}?api-version=7.1&serviceConnectionId=${s.endpoints[0].id as string}`,
      { Authorization: `Bearer ${job}` },
      '{}',
    );
    assert.equal(other.status, 404);

    // With the directory attached the demo's Manual connection that holds its credential converts at once, for the job identity.
    const manualWithFic = String(s.endpoints.find((e) => e.name === 'manual-with-fic')!.id);
    assert.equal((await convert(e, manualWithFic, job)).status, 200);
    const legacy = String(s.endpoints.find((e) => e.name === 'legacy-manual-app')!.id);
    assert.equal((await convert(e, legacy, job)).status, 400);
  });
});

function post(world: EntraWorld, url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', headers, ca: world.caPem }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
