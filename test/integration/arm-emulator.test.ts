// Drives the Azure Resource Manager emulator (test/emulator/arm.ts) of the Entra world over HTTPS
// with Node's own client: tokens for the ARM resource, the managed-identity listing with paging,
// federated identity credentials (create, update, read, list, delete; the name rule, the limit,
// duplicates), authorization per role, the ARM error shapes, faults, and the managed identities'
// credentials as Directory.isUsable and the token endpoint see them.
import * as assert from 'node:assert/strict';
import { startEntraWorld, type EntraWorld } from '../emulator/entraWorld';
import { entraIssuerAndSubject } from '../emulator/oidc';
import { validateSeed } from '../emulator/seed';
import type { ManagedIdentitySeed, Seed } from '../emulator/types';
import { httpsCall, secretToken, type Answer } from '../helpers/httpsCall';

const TENANT = 'bf59a2f3-9ca6-4909-b842-a0755803cb70';
const OTHER_TENANT = '0d5e3b9c-6f54-4c1d-9a37-1f3c0e0f6a11';
const SUB = '3c1d2e4f-0000-4000-8000-00000000ab01';
const EMPTY_SUB = '3c1d2e4f-0000-4000-8000-00000000ab02';
const FOREIGN_SUB = '3c1d2e4f-0000-4000-8000-00000000ab03';
const WRITER = '6a1f0c2e-4b7d-4e8a-9c3b-2d5e7f9a1c01';
const READER = '6a1f0c2e-4b7d-4e8a-9c3b-2d5e7f9a1c02';
const NOBODY = '6a1f0c2e-4b7d-4e8a-9c3b-2d5e7f9a1c03';
const AUD = 'api://AzureADTokenExchange';
const MI_EP = 'aab2a38a-dceb-4796-8f03-44caf0fb8b01';
const ORG = { name: 'contoso', id: '1cb471ef-cd8d-4af1-a5fa-a9f46b28748e' };

const mi = (i: number, o: Partial<ManagedIdentitySeed> = {}): ManagedIdentitySeed => ({
  subscriptionId: SUB,
  resourceGroup: i < 3 ? 'identities' : 'more-identities',
  name: `mi-${i}`,
  clientId: `9d0e1f2a-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`,
  principalId: `9d0e1f2a-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`,
  writers: [WRITER],
  readers: [READER],
  ...o,
});
const MI0 = mi(0);

function seed(): Seed {
  const ep = {
    id: MI_EP,
    name: 'mi-deploy',
    type: 'azurerm',
    url: 'https://management.azure.com/',
    data: { environment: 'AzureCloud', subscriptionId: SUB },
    authorization: { scheme: 'WorkloadIdentityFederation', parameters: { tenantid: TENANT, serviceprincipalid: MI0.clientId } },
    serviceEndpointProjectReferences: [{ projectReference: { id: 'p1', name: 'Payments' }, name: 'mi-deploy' }],
  };
  return {
    organization: ORG,
    projects: [{ id: 'p1', name: 'Payments' }],
    identities: [{ token: 'job-token', name: 'Payments Build Service (contoso)' }],
    defaultAdministrators: [],
    endpoints: [ep],
    entra: {
      armPageSize: 2,
      tenants: [
        {
          id: TENANT,
          displayName: 'Contoso',
          servicePrincipals: [
            { appId: WRITER, secret: 'writer-secret' },
            { appId: READER, secret: 'reader-secret' },
            { appId: NOBODY, secret: 'nobody-secret' },
          ],
          // mi-4 is visible to nobody but the writer.
          managedIdentities: [mi(0), mi(1), mi(2), mi(3), mi(4, { readers: [] })],
          subscriptions: [EMPTY_SUB],
        },
        {
          id: OTHER_TENANT,
          managedIdentities: [{ ...mi(9), subscriptionId: FOREIGN_SUB, writers: [], readers: [] }],
        },
      ],
    },
  };
}

let world: EntraWorld;
const SECRETS: Record<string, string> = { [WRITER]: 'writer-secret', [READER]: 'reader-secret', [NOBODY]: 'nobody-secret' };
const armToken = (client: string, scope = `${world.armUrl}.default`) => secretToken(world.authorityUrl, world.caPem, TENANT, client, SECRETS[client], scope);

const V = 'api-version=2023-01-31';
const miPath = (m: Pick<ManagedIdentitySeed, 'subscriptionId' | 'resourceGroup' | 'name'> = MI0) =>
  `subscriptions/${m.subscriptionId}/resourceGroups/${m.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${m.name}`;
const ficPath = (name: string, m = MI0) => `${miPath(m)}/federatedIdentityCredentials/${name}?${V}`;
const listPath = (sub = SUB) => `subscriptions/${sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?${V}`;

function arm(at: string | undefined, pathOrUrl: string, method = 'GET', body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = at ? { Authorization: `Bearer ${at}` } : {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const url = pathOrUrl.startsWith('https://') ? pathOrUrl : `${world.armUrl}${pathOrUrl}`;
  return httpsCall(url, world.caPem, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

const fic = (subject: string, issuer = 'https://login.microsoftonline.com/t/v2.0') => ({ properties: { issuer, subject, audiences: [AUD] } });

function armCode(a: Answer, status: number, code: string): void {
  assert.equal(a.status, status, a.text);
  assert.equal(a.json?.error?.code, code, a.text);
  assert.equal(typeof a.json.error.message, 'string');
}

describe('Azure Resource Manager emulator (managed identities, HTTPS, test CA)', function () {
  this.timeout(20000);
  beforeEach(async () => {
    world = await startEntraWorld(seed());
  });
  afterEach(async () => {
    await world.close();
  });

  it('is its own HTTPS host; the token endpoint issues ARM tokens for {armUrl}.default and management.azure.com', async () => {
    assert.match(world.armUrl, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(new Set([world.armUrl, world.graphUrl, world.authorityUrl]).size, 3);
    const own = await armToken(WRITER);
    assert.equal(world.directory.token(own)?.resource, 'arm');
    const pub = await armToken(WRITER, 'https://management.azure.com/.default');
    assert.equal(world.directory.token(pub)?.resource, 'arm');
    assert.equal((await arm(pub, listPath())).status, 200, 'any ARM token is accepted');
    assert.ok(world.hosts.arm.requests.length === 1 && world.hosts.arm.requests[0].status === 200);
  });

  it('lists the identities of a subscription in pages: nextLink absolute on the same host with $skiptoken, only what the caller may read', async () => {
    const at = await armToken(WRITER);
    const seen: string[] = [];
    let next: string | undefined = listPath();
    const links: string[] = [];
    while (next) {
      const page = await arm(at, next);
      assert.equal(page.status, 200, page.text);
      assert.ok(page.json.value.length <= 2);
      seen.push(...page.json.value.map((v: { name: string }) => v.name));
      next = page.json.nextLink;
      if (next) links.push(next);
    }
    assert.deepEqual(seen, ['mi-0', 'mi-1', 'mi-2', 'mi-3', 'mi-4']);
    assert.equal(links.length, 2);
    for (const l of links) {
      const u = new URL(l);
      assert.equal(`${u.origin}/`, world.armUrl);
      assert.equal(u.searchParams.get('api-version'), '2023-01-31');
      assert.ok(u.searchParams.get('$skiptoken'));
    }
    const first = (await arm(at, listPath())).json.value[0];
    assert.deepEqual(first, {
      id: `/subscriptions/${SUB}/resourcegroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi-0`,
      name: 'mi-0',
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      location: 'westeurope',
      tags: {},
      properties: { tenantId: TENANT, principalId: MI0.principalId, clientId: MI0.clientId },
    });
    // The id as listed is the path of the identity (case-insensitive resourcegroups).
    const got = await arm(at, `${first.id.slice(1)}?${V}`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.properties.clientId, MI0.clientId);
    // A reader sees the four it reads; $top narrows the page.
    const r = await arm(await armToken(READER), `${listPath()}&$top=10`);
    assert.equal(r.json.value.length, 2, 'armPageSize still caps the page');
    assert.equal(r.json.value[0].name, 'mi-0');
    // No role on any identity of the subscription: 403; an empty subscription lists nothing.
    const none = await arm(await armToken(NOBODY), listPath());
    armCode(none, 403, 'AuthorizationFailed');
    assert.match(none.json.error.message, /'Microsoft\.ManagedIdentity\/userAssignedIdentities\/read' over scope '\/subscriptions\/3c1d2e4f/);
    assert.deepEqual((await arm(at, listPath(EMPTY_SUB))).json, { value: [] });
    armCode(await arm(at, `${listPath()}&$skiptoken=!!`), 400, 'InvalidSkipToken');
  });

  it('PUT creates (201) then updates (200); GET, list and DELETE (200, then 204); GET of a missing one 404', async () => {
    const at = await armToken(WRITER);
    const created = await arm(at, ficPath('ConvertToWif-entra'), 'PUT', fic('s1'));
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json, {
      id: `/subscriptions/${SUB}/resourcegroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi-0/federatedIdentityCredentials/ConvertToWif-entra`,
      name: 'ConvertToWif-entra',
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials',
      properties: { issuer: 'https://login.microsoftonline.com/t/v2.0', subject: 's1', audiences: [AUD] },
    });
    const again = await arm(at, ficPath('ConvertToWif-entra'), 'PUT', fic('s1'));
    assert.equal(again.status, 200, 'the same PUT again is an update');
    const changed = await arm(at, ficPath('ConvertToWif-entra'), 'PUT', fic('s2'));
    assert.equal(changed.status, 200);
    assert.equal(changed.json.properties.subject, 's2');
    assert.equal((await arm(at, ficPath('ConvertToWif-entra'))).json.properties.subject, 's2');
    const list = await arm(at, `${miPath()}/federatedIdentityCredentials?${V}`);
    assert.deepEqual(
      list.json.value.map((f: { name: string }) => f.name),
      ['ConvertToWif-entra'],
    );
    assert.equal(world.managedIdentity(MI0.clientId)?.federatedIdentityCredentials.length, 1);
    assert.equal((await arm(at, ficPath('ConvertToWif-entra'), 'DELETE')).status, 200);
    assert.equal((await arm(at, ficPath('ConvertToWif-entra'), 'DELETE')).status, 204);
    armCode(await arm(at, ficPath('ConvertToWif-entra')), 404, 'ResourceNotFound');
    // The credentials list pages like the identities.
    for (const n of ['f1', 'f2', 'f3'].map((x) => `${x}-name`)) assert.equal((await arm(at, ficPath(n), 'PUT', fic(n))).status, 201);
    const p1 = await arm(at, `${miPath()}/federatedIdentityCredentials?${V}`);
    assert.equal(p1.json.value.length, 2);
    const p2 = await arm(at, p1.json.nextLink);
    assert.deepEqual(
      p2.json.value.map((f: { name: string }) => f.name),
      ['f3-name'],
    );
    assert.equal(p2.json.nextLink, undefined);
  });

  it('the name rule, the body, the limit of 20 and issuer + subject unique per identity', async () => {
    const at = await armToken(WRITER);
    for (const bad of ['ab', '-abc', '_abc', 'a.bc', 'a'.repeat(121), 'with space']) {
      const r = await arm(at, ficPath(encodeURIComponent(bad)), 'PUT', fic(`s-${bad}`));
      armCode(r, 400, 'BadRequest');
      assert.match(r.json.error.message, /\^\[a-zA-Z0-9\]\{1\}\[a-zA-Z0-9-_\]\{2,119\}\$/);
    }
    assert.equal((await arm(at, ficPath('a'.repeat(120)), 'PUT', fic('long'))).status, 201);
    assert.equal((await arm(at, ficPath('a-_'), 'PUT', fic('short'))).status, 201);
    armCode(await arm(at, ficPath('nobody'), 'PUT', { issuer: 'https://x', subject: 's' }), 400, 'BadRequest');
    armCode(await arm(at, ficPath('nobody'), 'PUT', fic('s', 'http://plain')), 400, 'BadRequest');
    armCode(await arm(at, ficPath('nobody'), 'PUT', { properties: { issuer: 'https://x', subject: 's', audiences: [] } }), 400, 'BadRequest');

    const dup = await arm(at, ficPath('other-name'), 'PUT', fic('long'));
    armCode(dup, 409, 'Conflict');
    assert.match(dup.json.error.message, /issuer .* and subject 'long' already exists .*name 'a{120}'/);
    // Updating one to the issuer + subject of another is the same conflict.
    armCode(await arm(at, ficPath('a-_'), 'PUT', fic('long')), 409, 'Conflict');

    for (let i = 3; i <= 20; i++) assert.equal((await arm(at, ficPath(`n${i}-x`), 'PUT', fic(`n${i}`))).status, 201);
    const full = await arm(at, ficPath('n21-x'), 'PUT', fic('n21'));
    armCode(full, 400, 'BadRequest');
    assert.match(full.json.error.message, /maximum number of federated identity credentials \(20\)/);
    assert.equal((await arm(at, ficPath('n20-x'), 'PUT', fic('n20-changed'))).status, 200, 'an update at the limit is fine');
    assert.equal(world.managedIdentity(MI0.clientId)?.federatedIdentityCredentials.length, 20);
  });

  it('authorization per role: Reader reads but may not write (403 naming the write action); no role 403; 404s; wrong tenant 401', async () => {
    const writer = await armToken(WRITER);
    const reader = await armToken(READER);
    const nobody = await armToken(NOBODY);
    assert.equal((await arm(writer, ficPath('seeded'), 'PUT', fic('x'))).status, 201);
    assert.equal((await arm(reader, ficPath('seeded'))).status, 200);
    assert.equal((await arm(reader, `${miPath()}/federatedIdentityCredentials?${V}`)).status, 200);
    const denied = await arm(reader, ficPath('mine'), 'PUT', fic('y'));
    armCode(denied, 403, 'AuthorizationFailed');
    assert.equal(
      denied.json.error.message,
      `The client '${READER}' with object id '${world.directory.client(world.directory.tenant(TENANT)!, READER)!.objectId}' does not have authorization to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write' over scope '/subscriptions/${SUB}/resourcegroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi-0/federatedIdentityCredentials/mine' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
    const del = await arm(reader, ficPath('seeded'), 'DELETE');
    armCode(del, 403, 'AuthorizationFailed');
    assert.match(del.json.error.message, /federatedIdentityCredentials\/delete/);
    armCode(await arm(nobody, ficPath('seeded')), 403, 'AuthorizationFailed');
    armCode(await arm(nobody, `${miPath()}?${V}`), 403, 'AuthorizationFailed');
    armCode(await arm(reader, `${miPath(mi(4))}?${V}`), 403, 'AuthorizationFailed');
    assert.equal(world.managedIdentity(MI0.clientId)?.federatedIdentityCredentials.length, 1, 'nothing written by the refused calls');

    armCode(await arm(writer, ficPath('x', { ...MI0, name: 'missing' }), 'PUT', fic('z')), 404, 'ResourceNotFound');
    armCode(await arm(writer, ficPath('x', { ...MI0, resourceGroup: 'no-such-rg' })), 404, 'ResourceGroupNotFound');
    armCode(await arm(writer, listPath('3c1d2e4f-0000-4000-8000-0000000000ff')), 404, 'SubscriptionNotFound');
    armCode(await arm(writer, listPath(FOREIGN_SUB)), 401, 'InvalidAuthenticationTokenTenant');
  });

  it('authentication and api-version as ARM answers them', async () => {
    const www = (a: Answer) => assert.match(String(a.headers['www-authenticate']), /^Bearer /);
    let a = await arm(undefined, listPath());
    armCode(a, 401, 'AuthenticationFailed');
    www(a);
    armCode(await arm('not-a-token', listPath()), 401, 'InvalidAuthenticationToken');
    const graph = await secretToken(world.authorityUrl, world.caPem, TENANT, WRITER, 'writer-secret', `${world.graphUrl}.default`);
    armCode(await arm(graph, listPath()), 401, 'InvalidAuthenticationTokenAudience');
    const ado = await secretToken(world.authorityUrl, world.caPem, TENANT, WRITER, 'writer-secret', '499b84ac-1321-427f-aa17-267ca6975798/.default');
    armCode(await arm(ado, listPath()), 401, 'InvalidAuthenticationTokenAudience');
    const at = await armToken(WRITER);
    const later = Date.now() + 2 * 3600_000;
    world.setClock(() => later);
    armCode(await arm(at, listPath()), 401, 'ExpiredAuthenticationToken');
    world.setClock(Date.now);

    a = await arm(at, listPath().replace(`?${V}`, ''));
    armCode(a, 400, 'MissingApiVersionParameter');
    armCode(await arm(at, listPath().replace('2023-01-31', '2099-01-01')), 400, 'NoRegisteredProviderFound');
    armCode(await arm(at, listPath().replace('2023-01-31', 'latest')), 400, 'InvalidApiVersionParameter');
    armCode(await arm(at, `${miPath()}/federatedIdentityCredentials/x`, 'PUT', fic('q')), 400, 'MissingApiVersionParameter');
    armCode(await arm(at, `subscriptions/${SUB}/resourceGroups?${V}`), 404, 'NotFound');
    armCode(await arm(at, listPath(), 'POST', {}), 405, 'MethodNotAllowed');
  });

  it('faults through the shared machinery: 429 with Retry-After, 503, reset; all recorded', async () => {
    const at = await armToken(WRITER);
    world.hosts.arm.addFault({ method: 'PUT', path: '/federatedIdentityCredentials/', status: 429, headers: { 'Retry-After': '7' } });
    const r = await arm(at, ficPath('throttled'), 'PUT', fic('t'));
    armCode(r, 429, 'TooManyRequests');
    assert.equal(r.headers['retry-after'], '7');
    assert.equal(world.managedIdentity(MI0.clientId)?.federatedIdentityCredentials.length, 0, 'a throttled PUT writes nothing');
    world.hosts.arm.addFault({ status: 429 });
    assert.equal((await arm(at, listPath())).headers['retry-after'], '1');
    world.hosts.arm.addFault({ status: 503 });
    armCode(await arm(at, listPath()), 503, 'ServiceUnavailable');
    world.hosts.arm.addFault({ status: 500 });
    armCode(await arm(at, listPath()), 500, 'InternalServerError');
    world.hosts.arm.addFault({ kind: 'reset' });
    await assert.rejects(arm(at, listPath()));
    world.hosts.arm.addFault({ kind: 'apply-then-reset', method: 'PUT' });
    await assert.rejects(arm(at, ficPath('lost-answer'), 'PUT', fic('l')));
    assert.equal(world.managedIdentity(MI0.clientId)?.federatedIdentityCredentials[0]?.name, 'lost-answer', 'applied, answer lost');
    assert.equal((await arm(at, ficPath('lost-answer'), 'PUT', fic('l'))).status, 200, 'a retried PUT is an update');
    const recorded = world.hosts.arm.requests.map((q) => q.fault ?? q.status);
    assert.deepEqual(recorded, ['respond', 'respond', 'respond', 'respond', 'reset', 'apply-then-reset', 200]);
    assert.deepEqual(world.hosts.arm.requests.at(-1)?.body, fic('l'));
    assert.match(String(world.hosts.arm.requests[0].path), /federatedIdentityCredentials\/throttled$/);
  });

  it('concurrent writes on one identity: 409 inside armConcurrentWriteWindowMs, fine on another identity or later', async () => {
    await world.close();
    const s = seed();
    s.entra!.armConcurrentWriteWindowMs = 1000;
    world = await startEntraWorld(s);
    let now = Date.now();
    world.setClock(() => now);
    const at = await armToken(WRITER);
    assert.equal((await arm(at, ficPath('first'), 'PUT', fic('1'))).status, 201);
    armCode(await arm(at, ficPath('second'), 'PUT', fic('2')), 409, 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity');
    assert.equal((await arm(at, ficPath('second', mi(1)), 'PUT', fic('2'))).status, 201);
    now += 1000;
    assert.equal((await arm(at, ficPath('second'), 'PUT', fic('2'))).status, 201);
  });

  it("a managed identity's credentials count for isUsable and the token endpoint, after the propagation delay", async () => {
    await world.close();
    const s = seed();
    s.entra!.propagationDelayMs = 60_000;
    world = await startEntraWorld(s);
    let now = Date.now();
    world.setClock(() => now);
    const { issuer, subject } = entraIssuerAndSubject(s, s.endpoints[0]);
    assert.equal(world.isUsable(MI0.clientId, issuer, subject), false);
    const at = await armToken(WRITER);
    assert.equal((await arm(at, ficPath('entra-issuer'), 'PUT', fic(subject, issuer))).status, 201);
    assert.equal(world.isUsable(MI0.clientId, issuer, subject), false, 'not yet propagated');
    const exchange = async () => {
      const o = await httpsCall(`${world.oidcRequestUri}?api-version=7.1&serviceConnectionId=${MI_EP}`, world.caPem, {
        method: 'POST',
        headers: { Authorization: 'Bearer job-token', 'Content-Type': 'application/json' },
        body: '{}',
      });
      assert.equal(o.status, 200, `the OIDC endpoint serves a connection backed by a managed identity: ${o.text}`);
      return httpsCall(`${world.authorityUrl}${TENANT}/oauth2/v2.0/token`, world.caPem, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: MI0.clientId,
          scope: `${world.armUrl}.default`,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: o.json.oidcToken,
        }).toString(),
      });
    };
    assert.deepEqual((await exchange()).json.error_codes, [70021]);
    now += 60_000;
    assert.equal(world.isUsable(MI0.clientId, issuer, subject), true);
    assert.equal(world.isUsable(MI0.clientId, issuer, 'other'), false);
    const ok = await exchange();
    assert.equal(ok.status, 200, ok.text);
    assert.equal(world.directory.token(ok.json.access_token)?.clientId, MI0.clientId);
    // A managed identity has no secret.
    const secret = await httpsCall(`${world.authorityUrl}${TENANT}/oauth2/v2.0/token`, world.caPem, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: MI0.clientId, scope: `${world.armUrl}.default`, client_secret: 'x' }).toString(),
    });
    assert.equal(secret.status, 401);
  });

  it('seed validation: managed identities need their ids, unique names and client ids, valid credential names; armPageSize', () => {
    const check = (change: (s: Seed) => void, message: RegExp) => {
      const s = seed();
      change(s);
      assert.throws(() => validateSeed(s, 'test'), message);
    };
    check((s) => delete (s.entra!.tenants[0].managedIdentities![0] as Partial<ManagedIdentitySeed>).clientId, /managed identity "mi-0" needs clientId/);
    check((s) => s.entra!.tenants[0].managedIdentities!.push(mi(0, { clientId: 'another' })), /seeded twice/);
    check((s) => s.entra!.tenants[0].managedIdentities!.push(mi(7, { clientId: MI0.clientId })), /already an application's or another identity's/);
    check(
      (s) => (s.entra!.tenants[0].managedIdentities![0].federatedIdentityCredentials = [{ name: 'x', issuer: 'https://i', subject: 's' }]),
      /does not match/,
    );
    check((s) => (s.entra!.armPageSize = 0), /armPageSize must be a positive integer/);
    check((s) => s.entra!.tenants[1].managedIdentities!.push(mi(8)), /belongs to tenant/);
    check((s) => (s.migration = 'sometimes' as never), /migration must be one of/);
    assert.doesNotThrow(() => validateSeed(seed(), 'test'));
  });
});
