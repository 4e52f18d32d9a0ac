// Drives the Entra, Graph and OIDC emulators (test/emulator/entraWorld.ts) over HTTPS with Node's
// own client, trusting only the CA made at test start (certificate checks stay on).
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import { startEntraWorld, type EntraWorld } from '../emulator/entraWorld';
import { issuerAndSubject } from '../emulator/oidc';
import type { Seed } from '../emulator/types';
import { type Answer, httpsCall } from '../helpers/httpsCall';
import {
  TENANT,
  OWNED_CLIENT,
  ALL_CLIENT,
  NONE_CLIENT,
  OWNED_APP,
  OTHER_APP,
  FOREIGN_APP,
  WIF_EP,
  SECRET_EP,
  AUD,
  entraTestSeed,
} from '../helpers/entraFixture';

const JOB = 'job-token';
const seed = (): Seed => entraTestSeed(JOB);

let world: EntraWorld;

/** Node's https to the world's hosts, trusting only its CA. */
const call = (url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) => httpsCall(url, world.caPem, init);

function token(tenant: string, form: Record<string, string>): Promise<Answer> {
  return call(`${world.authorityUrl}${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...form }).toString(),
  });
}

async function oidcToken(connectionId: string, bearer = JOB): Promise<Answer> {
  return call(`${world.oidcRequestUri}?api-version=7.1&serviceConnectionId=${connectionId}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${bearer}`, 'Content-Type': 'application/json' },
    body: '{}',
  });
}

const graphScope = () => `${world.graphUrl}.default`;

async function graphToken(client: 'owned' | 'all' | 'none'): Promise<string> {
  let a: Answer;
  if (client === 'owned') {
    const assertion = (await oidcToken(WIF_EP)).json.oidcToken as string;
    a = await token(TENANT, {
      client_id: OWNED_CLIENT,
      scope: graphScope(),
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
  } else a = await token(TENANT, { client_id: client === 'all' ? ALL_CLIENT : NONE_CLIENT, scope: graphScope(), client_secret: `${client}-secret` });
  assert.equal(a.status, 200, a.text);
  return a.json.access_token as string;
}

function graph(at: string | undefined, path: string, method = 'GET', body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = at ? { Authorization: `Bearer ${at}` } : {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return call(`${world.graphUrl}v1.0/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

const fic = (name: string, subject = `sub-${name}`) => ({ name, issuer: 'https://vstoken.dev.azure.com/org', subject, audiences: [AUD] });

function aadCode(a: Answer, code: number): void {
  assert.deepEqual(a.json.error_codes, [code], a.text);
  assert.match(a.json.error_description, new RegExp(`^AADSTS${code}: `));
  for (const k of ['error', 'timestamp', 'trace_id', 'correlation_id']) assert.equal(typeof a.json[k], 'string', k);
}

describe('Entra, Graph and OIDC emulators (HTTPS, test CA)', function () {
  this.timeout(20000);
  beforeEach(async () => {
    world = await startEntraWorld(seed());
  });
  afterEach(async () => {
    await world.close();
  });

  it('serves each host on its own HTTPS port, refuses plain HTTP and untrusted clients', async () => {
    const urls = [world.authorityUrl, world.graphUrl, new URL(world.oidcRequestUri).origin + '/'];
    assert.equal(new Set(urls).size, 3);
    for (const u of urls) assert.match(u, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const plain = world.graphUrl.replace('https:', 'http:') + 'v1.0/applications';
    await assert.rejects(
      new Promise((resolve, reject) => http.get(plain, resolve).on('error', reject)),
      (e: NodeJS.ErrnoException) => ['ECONNRESET', 'EPIPE'].includes(e.code ?? '') || /socket hang up/.test(e.message),
    );
    // Without the CA the certificate is not trusted.
    await assert.rejects(new Promise((resolve, reject) => https.get(world.graphUrl, resolve).on('error', reject)), (e: NodeJS.ErrnoException) =>
      /certificate|self.signed|UNABLE_TO_GET_ISSUER/i.test(`${e.code} ${e.message}`),
    );
  });

  it('a spawned process trusts the CA through NODE_EXTRA_CA_CERTS', async () => {
    const script = `fetch(${JSON.stringify(world.graphUrl + 'v1.0/applications/x')}).then(r => console.log(r.status), e => { console.log('ERR', e.cause?.code ?? e.message); })`;
    const run = (env: NodeJS.ProcessEnv) =>
      new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['-e', script], { env }, (e, out) => (e ? reject(new Error(e.message)) : resolve(out.trim()))),
      );
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    assert.equal(await run({ ...env, NODE_EXTRA_CA_CERTS: world.caFile }), '401');
    assert.match(await run(env), /^ERR /);
  });

  it('token exchange with a client secret and with an assertion from the OIDC endpoint', async () => {
    const s = await token(TENANT, { client_id: ALL_CLIENT, scope: 'https://graph.microsoft.com/.default', client_secret: 'all-secret' });
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.token_type, 'Bearer');
    assert.ok(s.json.expires_in > 0);
    assert.equal(world.directory.token(s.json.access_token)?.clientId, ALL_CLIENT);
    assert.deepEqual(world.directory.token(s.json.access_token)?.roles, ['Application.ReadWrite.All']);

    const o = await oidcToken(WIF_EP);
    assert.equal(o.status, 200, o.text);
    const [, payload] = (o.json.oidcToken as string).split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    assert.equal(claims.iss, `https://login.microsoftonline.com/${TENANT}/v2.0`);
    assert.match(claims.sub, /^\/eid1\/c\/pub\/t\/86JZv6acCUm4QqB1WAPLcA\/a\/rISbSSETf0KqFyZ8ppdXmA\/sc\/1cb471ef-cd8d-4af1-a5fa-a9f46b28748e\/aab2a38a-/);
    assert.equal(claims.aud, AUD);
    const a = await token(TENANT, {
      client_id: OWNED_CLIENT,
      scope: 'https://management.azure.com/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: o.json.oidcToken,
    });
    assert.equal(a.status, 200, a.text);
    assert.equal(world.directory.token(a.json.access_token)?.resource, 'arm');
    assert.ok(world.hosts.entra.requests.some((r) => (r.body as Record<string, string>)?.client_assertion === o.json.oidcToken));
  });

  it('the OIDC endpoint: Azure DevOps issuer subject, unknown or unreferenced connection 404, bad job token 401', async () => {
    const s = seed();
    s.issuer = 'azuredevops';
    await world.close();
    world = await startEntraWorld(s);
    const o = await oidcToken(WIF_EP);
    const claims = JSON.parse(Buffer.from((o.json.oidcToken as string).split('.')[1], 'base64url').toString());
    assert.equal(claims.iss, 'https://vstoken.dev.azure.com/1cb471ef-cd8d-4af1-a5fa-a9f46b28748e');
    assert.equal(claims.sub, 'sc://contoso/Payments/entra-admin');
    assert.equal((await oidcToken('00000000-0000-0000-0000-000000000000')).status, 404);
    assert.equal((await oidcToken(WIF_EP, 'wrong')).status, 401);
    await world.close();
    s.entra!.taskInputConnections = [SECRET_EP];
    world = await startEntraWorld(s);
    assert.equal((await oidcToken(WIF_EP)).status, 404);
    assert.equal((await oidcToken(SECRET_EP)).status, 200);
  });

  it('AADSTS errors: unknown client, unknown tenant, bad secret, no matching credential, expired assertion, bad scope', async () => {
    const bearer = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
    let a = await token(TENANT, { client_id: '99999999-0000-4000-8000-000000000000', scope: graphScope(), client_secret: 'x' });
    assert.equal(a.status, 400);
    assert.equal(a.json.error, 'unauthorized_client');
    aadCode(a, 700016);
    a = await token('99999999-0000-4000-8000-000000000000', { client_id: ALL_CLIENT, scope: graphScope(), client_secret: 'all-secret' });
    aadCode(a, 90002);
    a = await token(TENANT, { client_id: ALL_CLIENT, scope: graphScope(), client_secret: 'wrong' });
    assert.equal(a.status, 401);
    aadCode(a, 7000215);
    // A well-signed assertion whose subject has no federated credential on the client.
    a = await token(TENANT, {
      client_id: OWNED_CLIENT,
      scope: graphScope(),
      client_assertion_type: bearer,
      client_assertion: world.oidc.mint({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, sub: 'sc://contoso/Payments/other' }),
    });
    aadCode(a, 70021);
    assert.match(a.json.error_description, /Assertion Subject: 'sc:\/\/contoso\/Payments\/other'/);
    // The assertion from the OIDC endpoint, 20 minutes later.
    const assertion = (await oidcToken(WIF_EP)).json.oidcToken as string;
    const later = Date.now() + 20 * 60_000;
    world.setClock(() => later);
    a = await token(TENANT, { client_id: OWNED_CLIENT, scope: graphScope(), client_assertion_type: bearer, client_assertion: assertion });
    aadCode(a, 700024);
    world.setClock(Date.now);
    a = await token(TENANT, { client_id: OWNED_CLIENT, scope: graphScope(), client_assertion_type: bearer, client_assertion: 'not.a.jwt!' });
    aadCode(a, 50027);
    a = await token(TENANT, { client_id: ALL_CLIENT, scope: 'https://graph.microsoft.com/User.Read', client_secret: 'all-secret' });
    aadCode(a, 1002012);
  });

  it('Graph with Application.ReadWrite.All: read by appId with $select, list, add, delete', async () => {
    const at = await graphToken('all');
    const r = await graph(at, `applications(appId='${OTHER_APP.appId}')?$select=id,appId,displayName,signInAudience`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      { id: r.json.id, appId: r.json.appId, displayName: r.json.displayName, signInAudience: r.json.signInAudience },
      { id: OTHER_APP.objectId, appId: OTHER_APP.appId, displayName: 'not-owned', signInAudience: 'AzureADMyOrg' },
    );
    assert.equal(r.json.passwordCredentials, undefined);
    const c = await graph(at, `applications/${OWNED_APP.objectId}?$select=passwordCredentials,keyCredentials`);
    assert.equal(c.json.passwordCredentials[0].endDateTime, '2027-01-01T00:00:00Z');
    assert.deepEqual(c.json.keyCredentials, []);
    assert.equal((await graph(at, `applications/${OTHER_APP.objectId}?$select=nope`)).status, 400);

    const created = await graph(at, `applications/${OTHER_APP.objectId}/federatedIdentityCredentials`, 'POST', fic('ConvertToWif-x-azdo'));
    assert.equal(created.status, 201, created.text);
    assert.match(String(created.headers.location), new RegExp(`/federatedIdentityCredentials/${created.json.id}$`));
    const list = await graph(at, `applications/${OTHER_APP.objectId}/federatedIdentityCredentials`);
    assert.deepEqual(
      list.json.value.map((f: { name: string }) => f.name),
      ['ConvertToWif-x-azdo'],
    );
    assert.equal(world.app(OTHER_APP.appId)?.federatedIdentityCredentials.length, 1);
    const del = await graph(at, `applications/${OTHER_APP.objectId}/federatedIdentityCredentials/${created.json.id}`, 'DELETE');
    assert.equal(del.status, 204);
    assert.equal(world.app(OTHER_APP.appId)?.federatedIdentityCredentials.length, 0);
    assert.equal((await graph(at, `applications/${OTHER_APP.objectId}/federatedIdentityCredentials/${created.json.id}`, 'DELETE')).status, 404);
  });

  it('Graph with Application.ReadWrite.OwnedBy: the owned app yes, another app 403; no permission 403', async () => {
    const at = await graphToken('owned');
    assert.equal((await graph(at, `applications(appId='${OWNED_APP.appId}')`)).status, 200);
    const add = await graph(at, `applications/${OWNED_APP.objectId}/federatedIdentityCredentials`, 'POST', fic('owned'));
    assert.equal(add.status, 201, add.text);
    const denied = await graph(at, `applications/${OTHER_APP.objectId}/federatedIdentityCredentials`, 'POST', fic('other'));
    assert.equal(denied.status, 403);
    assert.deepEqual(
      { code: denied.json.error.code, message: denied.json.error.message },
      {
        code: 'Authorization_RequestDenied',
        message: 'Insufficient privileges to complete the operation.',
      },
    );
    assert.equal((await graph(await graphToken('none'), `applications(appId='${OWNED_APP.appId}')`)).status, 403);
  });

  it('Graph 401 (no token, not a Graph token), 404 (app of another tenant, unknown), 409/400 duplicates, the 20 limit, 120-character names', async () => {
    assert.equal((await graph(undefined, `applications(appId='${OWNED_APP.appId}')`)).status, 401);
    const arm = await token(TENANT, { client_id: ALL_CLIENT, scope: 'https://management.azure.com/.default', client_secret: 'all-secret' });
    const notGraph = await graph(arm.json.access_token, `applications(appId='${OWNED_APP.appId}')`);
    assert.equal(notGraph.status, 401);
    assert.equal(notGraph.json.error.code, 'InvalidAuthenticationToken');
    const at = await graphToken('all');
    const foreign = await graph(at, `applications(appId='${FOREIGN_APP}')`);
    assert.equal(foreign.status, 404);
    assert.equal(foreign.json.error.code, 'Request_ResourceNotFound');
    assert.equal((await graph(at, 'applications/00000000-0000-4000-8000-000000000000/federatedIdentityCredentials')).status, 404);

    const path = `applications/${OTHER_APP.objectId}/federatedIdentityCredentials`;
    assert.equal((await graph(at, path, 'POST', fic('a'.repeat(121)))).status, 400);
    assert.equal((await graph(at, path, 'POST', fic('a'.repeat(120)))).status, 201);
    const sameName = await graph(at, path, 'POST', fic('a'.repeat(120), 'another-subject'));
    assert.equal(sameName.status, 409);
    assert.equal(sameName.json.error.code, 'Request_MultipleObjectsWithSameKeyValue');
    const samePair = await graph(at, path, 'POST', fic('other-name', `sub-${'a'.repeat(120)}`));
    assert.equal(samePair.status, 400);
    assert.match(samePair.json.error.message, /issuer .* and subject .* already exists/);
    for (let i = 1; i < 20; i++) assert.equal((await graph(at, path, 'POST', fic(`n${i}`))).status, 201);
    const full = await graph(at, path, 'POST', fic('n20'));
    assert.equal(full.status, 400);
    assert.match(full.json.error.message, /maximum number of federated identity credentials \(20\)/);
    assert.equal(world.app(OTHER_APP.appId)?.federatedIdentityCredentials.length, 20);
  });

  it('a new credential becomes usable after the propagation delay, for isUsable and for the token endpoint', async () => {
    const s = seed();
    s.entra!.propagationDelayMs = 60_000;
    // The WIF client's own app is seeded without credentials: the token endpoint matches its app's.
    s.entra!.tenants[0].applications!.push({ appId: OWNED_CLIENT, objectId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee', displayName: 'entra-admin' });
    await world.close();
    world = await startEntraWorld(s);
    let now = Date.now();
    world.setClock(() => now);
    const at = await graphToken('all');
    const own = issuerAndSubject(s, s.endpoints[0]);
    const add = await graph(at, `applications(appId='${OWNED_CLIENT}')/federatedIdentityCredentials`, 'POST', {
      name: 'entra',
      issuer: own.issuer,
      subject: own.subject,
      audiences: [AUD],
    });
    assert.equal(add.status, 201, add.text);
    assert.equal(world.isUsable(OWNED_CLIENT, own.issuer, own.subject), false);
    const exchange = async () =>
      token(TENANT, {
        client_id: OWNED_CLIENT,
        scope: graphScope(),
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: (await oidcToken(WIF_EP)).json.oidcToken,
      });
    aadCode(await exchange(), 70021);
    now += 60_000;
    assert.equal(world.isUsable(OWNED_CLIENT, own.issuer, own.subject), true);
    assert.equal(world.isUsable(OWNED_CLIENT, own.issuer, 'other'), false);
    assert.equal((await exchange()).status, 200);
  });

  it('faults through the shared machinery: Graph 429 with Retry-After, 503, reset; Entra 5xx in its shape', async () => {
    const at = await graphToken('all');
    world.hosts.graph.addFault({ status: 429, headers: { 'Retry-After': '7' }, path: '/federatedIdentityCredentials' });
    const r = await graph(at, `applications/${OTHER_APP.objectId}/federatedIdentityCredentials`);
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '7');
    assert.equal(r.json.error.code, 'TooManyRequests');
    world.hosts.graph.addFault({ status: 429 });
    assert.equal((await graph(at, `applications/${OTHER_APP.objectId}`)).headers['retry-after'], '1');
    world.hosts.graph.addFault({ status: 503 });
    assert.equal((await graph(at, `applications/${OTHER_APP.objectId}`)).json.error.code, 'serviceNotAvailable');
    world.hosts.graph.addFault({ kind: 'reset' });
    await assert.rejects(graph(at, `applications/${OTHER_APP.objectId}`));
    assert.equal((await graph(at, `applications/${OTHER_APP.objectId}`)).status, 200);
    world.hosts.entra.addFault({ status: 500 });
    const e = await token(TENANT, { client_id: ALL_CLIENT, scope: graphScope(), client_secret: 'all-secret' });
    assert.equal(e.status, 500);
    aadCode(e, 90033);
    assert.deepEqual(
      world.hosts.graph.requests.map((q) => q.fault ?? q.status),
      ['respond', 'respond', 'respond', 'reset', 200],
    );
  });
});
