// The Entra adapter (src/adapters/entraClient.ts) against the Entra, Graph and OIDC emulators over
// HTTPS. The client trusts the test CA through its own `cert` option (typed-rest-client gives it
// to the agent of each request): nothing process-wide changes, certificate checks stay on.
import * as assert from 'node:assert/strict';
import { EntraClient } from '../../tasks/ConvertToWif/src/adapters/entraClient';
import { Pacer } from '../../tasks/ConvertToWif/src/adapters/pacer';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import type { Clock, EntraSettings } from '../../tasks/ConvertToWif/src/core/ports';
import { startEntraWorld, type EntraWorld } from '../emulator/entraWorld';
import type { Seed } from '../emulator/types';
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
import { otherHost } from '../helpers/otherHost';
import { recordingClock } from '../helpers/memory';

const JOB = 'job-token-0123456789';
const seed = (): Seed => entraTestSeed(JOB);

/** A clock whose sleeps end at once and are recorded (the retry waits are asserted, not waited). */
const fakeClock = recordingClock;

let world: EntraWorld;
/** Every value any client masked, and every failure any client threw: no failure may carry one. */
let masked: Set<string>;
let failures: ServiceError[];

type Who = 'wif' | 'all' | 'none' | { clientId: string; secret?: string; connectionId?: string };

function client(who: Who, extra: { clock?: Clock; pacer?: Pacer; signal?: AbortSignal; debug?: (m: string) => void } = {}) {
  const w = typeof who === 'string' ? undefined : who;
  const clientId = who === 'wif' ? OWNED_CLIENT : who === 'all' ? ALL_CLIENT : who === 'none' ? NONE_CLIENT : w!.clientId;
  const credential: EntraSettings['credential'] =
    who === 'wif' || (w && w.secret === undefined)
      ? { kind: 'federation', oidcRequestUri: world.oidcRequestUri, jobToken: JOB }
      : { kind: 'secret', secret: who === 'all' ? 'all-secret' : who === 'none' ? 'none-secret' : w!.secret! };
  const settings: EntraSettings = {
    connectionId: w?.connectionId ?? (who === 'wif' ? WIF_EP : SECRET_EP),
    tenantId: TENANT,
    clientId,
    credential,
    authorityUrl: world.authorityUrl,
    graphUrl: world.graphUrl,
    armUrl: world.armUrl,
    concurrency: 4,
  };
  const clock = extra.clock ?? fakeClock();
  return new EntraClient({
    settings,
    clock,
    pacer: extra.pacer,
    signal: extra.signal,
    secret: (v) => masked.add(v),
    cert: { caFile: world.caFile },
    debug: extra.debug,
    requestTimeoutMs: 10_000,
  });
}

/** The ServiceError a call rejects with (recorded for the no-secret check). */
async function failure(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ServiceError, `not a ServiceError: ${String(e)}`);
    failures.push(e);
    return e;
  }
  assert.fail('the call succeeded');
}

const fic = (name: string, subject = `sub-${name}`) => ({ name, issuer: 'https://vstoken.dev.azure.com/org', subject, audiences: [AUD] });
const graphRequests = () => world.hosts.graph.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
const accessTokens = () => [...masked].filter((v) => world.directory.token(v));

describe('Entra client against the Entra, Graph and OIDC emulators', function () {
  this.timeout(30000);
  beforeEach(async () => {
    world = await startEntraWorld(seed());
    masked = new Set();
    failures = [];
  });
  afterEach(async () => {
    await world.close();
    for (const f of failures) for (const m of masked) assert.ok(!f.message.includes(m), `a failure's message carries a masked value: ${f.message}`);
  });

  it('federation: an ID token from the OIDC endpoint exchanged as an assertion; one sign-in for many calls; both tokens masked', async () => {
    const debug: string[] = [];
    const c = client('wif', { debug: (m) => debug.push(m) });
    await c.signIn();
    assert.ok(await c.findApp(OWNED_APP.appId));
    await c.credentials(OWNED_APP.objectId);
    await c.signIn();
    await Promise.all([c.findApp(OWNED_APP.appId), c.credentials(OWNED_APP.objectId)]);
    assert.equal(world.hosts.oidc.requests.length, 1);
    assert.equal(world.hosts.entra.requests.length, 1);
    const o = world.hosts.oidc.requests[0];
    assert.equal(o.method, 'POST');
    assert.deepEqual(o.query, { 'api-version': '7.1', serviceConnectionId: WIF_EP });
    const form = world.hosts.entra.requests[0].body as Record<string, string>;
    assert.equal(form.client_assertion_type, 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    assert.equal(form.client_id, OWNED_CLIENT);
    assert.equal(form.scope, `${world.graphUrl}.default`);
    assert.equal(form.client_secret, undefined);
    assert.ok(masked.has(form.client_assertion), 'the ID token is masked');
    assert.equal(accessTokens().length, 1, 'the access token is masked');
    assert.ok(masked.has(JOB));
    for (const line of debug) for (const m of masked) assert.ok(!line.includes(m), line);
  });

  it('secret: client_secret in the form, the secret and the token masked; renewed within 5 minutes of expiry', async () => {
    const clock = fakeClock();
    const c = client('all', { clock });
    await c.signIn();
    const form = world.hosts.entra.requests[0].body as Record<string, string>;
    assert.equal(form.client_secret, 'all-secret');
    assert.equal(form.client_assertion, undefined);
    assert.equal(world.hosts.oidc.requests.length, 0);
    assert.ok(masked.has('all-secret'));
    assert.equal(accessTokens().length, 1);
    clock.advance((3599 - 301) * 1000);
    await c.signIn();
    assert.equal(world.hosts.entra.requests.length, 1);
    clock.advance(2000);
    await c.findApp(OTHER_APP.appId);
    assert.equal(world.hosts.entra.requests.length, 2, 'a token within 5 minutes of its expiry is fetched again');
    assert.equal(accessTokens().length, 2);
  });

  it('a token per resource (Graph, ARM, Azure DevOps) from one ID token while it is valid; each cached and masked', async () => {
    const clock = fakeClock();
    const debug: string[] = [];
    const c = client('wif', { clock, debug: (m) => debug.push(m) });
    await c.signIn();
    const ado = await c.azureDevOpsToken();
    await c.signIn();
    assert.equal(await c.azureDevOpsToken(), ado, 'cached');
    assert.equal(world.directory.token(ado)?.resource, 'azuredevops');
    const scopes = () => world.hosts.entra.requests.map((r) => (r.body as Record<string, string>).scope);
    assert.deepEqual(scopes(), [`${world.graphUrl}.default`, '499b84ac-1321-427f-aa17-267ca6975798/.default']);
    assert.equal(world.hosts.oidc.requests.length, 1, 'one ID token for both exchanges');
    const forms = world.hosts.entra.requests.map((r) => r.body as Record<string, string>);
    assert.equal(forms[0].client_assertion, forms[1].client_assertion);
    // The ID token lives 600 s: past 540 s it is asked for again; the access tokens stay cached.
    clock.advance(541_000);
    assert.equal(await c.azureDevOpsToken(), ado);
    // An ARM token, then ARM's answer for a subscription this world does not have: thrown with ARM's code.
    const e = await failure(c.findManagedIdentity('3c1d2e4f-0000-4000-8000-00000000ab01', OWNED_CLIENT));
    assert.deepEqual([e.service, e.status, e.code], ['arm', 404, 'SubscriptionNotFound']);
    assert.deepEqual(scopes().at(-1), `${world.armUrl}.default`);
    assert.equal(world.hosts.oidc.requests.length, 2, 'a new ID token once the old one is near its expiry');
    assert.notEqual((world.hosts.entra.requests.at(-1)!.body as Record<string, string>).client_assertion, forms[0].client_assertion);
    assert.equal(accessTokens().length, 3, 'every access token masked');
    for (const line of debug) for (const m of masked) assert.ok(!line.includes(m), line);
    assert.ok(debug.some((l) => /the Azure DevOps token is valid for 3599 s/.test(l)));
  });

  it('a reused ID token that Entra finds expired (AADSTS700024) is replaced once, fresh', async () => {
    const c = client('wif');
    await c.signIn();
    // Entra's clock runs 20 minutes ahead: the ID token the client still holds for valid is not.
    const ahead = Date.now() + 20 * 60_000;
    world.setClock(() => ahead);
    const t = await c.azureDevOpsToken();
    assert.equal(world.directory.token(t)?.resource, 'azuredevops');
    assert.equal(world.hosts.oidc.requests.length, 2);
    assert.deepEqual(
      world.hosts.entra.requests.map((r) => r.status),
      [200, 400, 200],
    );
    // A secret client never asks the agent for an ID token.
    await client('all').azureDevOpsToken();
    assert.equal(world.hosts.oidc.requests.length, 2);
  });

  it('AADSTS errors: the code, the status and the first line of the description, not retried', async () => {
    const cases: Array<[Who, number, string]> = [
      [{ clientId: '99999999-0000-4000-8000-000000000000', secret: 'whatever-secret' }, 400, 'AADSTS700016'],
      [{ clientId: ALL_CLIENT, secret: 'wrong-secret' }, 401, 'AADSTS7000215'],
      // A federated sign-in of a client without a federated credential for the connection.
      [{ clientId: ALL_CLIENT, connectionId: SECRET_EP }, 400, 'AADSTS70021'],
    ];
    for (const [who, status, code] of cases) {
      const before = world.hosts.entra.requests.length;
      const e = await failure(client(who).signIn());
      assert.equal(e.service, 'entra');
      assert.equal(e.status, status);
      assert.equal(e.code, code);
      assert.ok(e.message.startsWith(`${code}: `), e.message);
      assert.doesNotMatch(e.message, /Trace ID|Correlation ID|Timestamp/);
      assert.equal(world.hosts.entra.requests.length, before + 1, 'a 4xx is not retried');
    }
    // A code only in the description; a description that echoes the secret.
    world.hosts.entra.addFault({
      status: 401,
      body: JSON.stringify({
        error: 'invalid_client',
        error_description: "AADSTS7000222: The secret 'all-secret' expired.\r\nTrace ID: x\r\nCorrelation ID: y",
      }),
    });
    const e = await failure(client('all').signIn());
    assert.equal(e.code, 'AADSTS7000222');
    assert.equal(e.message, "AADSTS7000222: The secret '***' expired.");
  });

  it('a 5xx of the token endpoint is retried; the OIDC endpoint answering 404 is a failure of service oidc', async () => {
    const clock = fakeClock();
    world.hosts.entra.addFault({ status: 503 });
    await client('all', { clock }).signIn();
    assert.equal(world.hosts.entra.requests.length, 2);
    assert.equal(clock.sleeps.length, 1);

    const e = await failure(client({ clientId: OWNED_CLIENT, connectionId: '00000000-0000-4000-8000-000000000000' }).signIn());
    assert.equal(e.service, 'oidc');
    assert.equal(e.status, 404);
    assert.match(e.message, /not an input of this task/);
    assert.equal(world.hosts.oidc.requests.length, 1);
    assert.equal(world.hosts.entra.requests.length, 2, 'no token request without an ID token');
    world.hosts.oidc.addFault({ status: 500, count: 2 });
    await client('wif', { clock }).signIn();
    assert.equal(world.hosts.oidc.requests.length, 4, 'the OIDC request is retried on a 5xx');
  });

  it('findApp: found, 404 → null, withSecrets, a client id that is not a GUID', async () => {
    const c = client('all');
    assert.deepEqual(await c.findApp(OTHER_APP.appId.toUpperCase()), {
      objectId: OTHER_APP.objectId,
      appId: OTHER_APP.appId,
      displayName: 'not-owned',
      signInAudience: 'AzureADMyOrg',
    });
    assert.equal(await c.findApp(FOREIGN_APP), null);
    const app = await c.findApp(OWNED_APP.appId, { withSecrets: true });
    assert.deepEqual(app?.secrets, [{ kind: 'secret', keyId: 'k1', displayName: 'old', hint: 'abc', endDateTime: '2027-01-01T00:00:00Z' }]);
    const q = world.hosts.graph.requests.at(-1)!;
    assert.equal(q.path, `/v1.0/applications(appId='${OWNED_APP.appId}')`);
    assert.equal(q.query.$select, 'id,appId,displayName,signInAudience,passwordCredentials,keyCredentials');
    const n = world.hosts.graph.requests.length;
    await assert.rejects(c.findApp("x')/../../me"), RangeError);
    assert.equal(world.hosts.graph.requests.length, n);
  });

  it('credentials: list, add (201), duplicate name 409, duplicate issuer and subject 400, the limit of 20, remove incl. 404', async () => {
    const c = client('all');
    const id = OTHER_APP.objectId;
    assert.deepEqual(await c.credentials(id), []);
    const added = await c.addCredential(id, { ...fic('first'), description: 'by the task' });
    assert.deepEqual({ ...added, id: 'x' }, { id: 'x', ...fic('first') });
    assert.deepEqual(
      (await c.credentials(id)).map((f) => f.name),
      ['first'],
    );
    const dupName = await failure(c.addCredential(id, fic('first', 'other-subject')));
    assert.deepEqual([dupName.service, dupName.status, dupName.code], ['graph', 409, 'Request_MultipleObjectsWithSameKeyValue']);
    const dupPair = await failure(c.addCredential(id, fic('second', 'sub-first')));
    assert.deepEqual([dupPair.status, dupPair.code], [400, 'Request_BadRequest']);
    assert.match(dupPair.message, /already exists/);
    for (let i = 1; i < 20; i++) await c.addCredential(id, fic(`n${i}`));
    const full = await failure(c.addCredential(id, fic('n20')));
    assert.equal(full.status, 400);
    assert.match(full.message, /maximum number of federated identity credentials \(20\)/);
    assert.equal(world.hosts.graph.requests.filter((r) => r.method === 'POST').length, 23, 'no failed POST is resent');
    await c.removeCredential(id, added.id);
    await c.removeCredential(id, added.id);
    assert.deepEqual(graphRequests().slice(-2), [
      `DELETE /v1.0/applications/${id}/federatedIdentityCredentials/${added.id} 204`,
      `DELETE /v1.0/applications/${id}/federatedIdentityCredentials/${added.id} 404`,
    ]);
    assert.equal((await c.credentials(id)).length, 19);
    const gone = await failure(c.credentials('00000000-0000-4000-8000-000000000000'));
    assert.equal(gone.status, 404);
  });

  it('Graph 403 → Authorization_RequestDenied; OwnedBy may change its own app only', async () => {
    const e = await failure(client('none').findApp(OWNED_APP.appId));
    assert.deepEqual(
      [e.service, e.status, e.code, e.message],
      ['graph', 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'],
    );
    const owned = client('wif');
    await owned.addCredential(OWNED_APP.objectId, fic('mine'));
    assert.equal((await failure(owned.addCredential(OTHER_APP.objectId, fic('theirs')))).code, 'Authorization_RequestDenied');
  });

  it('Graph 429: Retry-After honoured through the retry policy, the shared pacer slowed; a POST is resent on 429 only', async () => {
    const clock = fakeClock();
    const pacer = new Pacer(4);
    const c = client('all', { clock, pacer });
    world.hosts.graph.addFault({ status: 429, headers: { 'Retry-After': '7' }, path: '/federatedIdentityCredentials', method: 'GET' });
    assert.deepEqual(await c.credentials(OTHER_APP.objectId), []);
    assert.equal(clock.sleeps.length, 1);
    assert.ok(clock.sleeps[0] >= 7000 * 0.8 && clock.sleeps[0] <= 7000 * 1.2, String(clock.sleeps[0]));
    assert.equal(pacer.inFlightLimit, 2, 'the pacer shared with Azure DevOps halved');
    world.hosts.graph.addFault({ status: 429, method: 'POST' });
    await c.addCredential(OTHER_APP.objectId, fic('after-429'));
    assert.equal(clock.sleeps.length, 2);
    world.hosts.graph.addFault({ status: 503, method: 'POST' });
    const e = await failure(c.addCredential(OTHER_APP.objectId, fic('after-503')));
    assert.equal(e.status, 503);
    assert.equal(clock.sleeps.length, 2, 'a write is not resent on a 5xx');
    world.hosts.graph.addFault({ status: 503, method: 'GET' });
    await c.findApp(OTHER_APP.appId);
    assert.equal(clock.sleeps.length, 3, 'a read is');
  });

  it('Graph 401: the token is dropped and fetched again once in the run, then the failure stands', async () => {
    const c = client('all');
    world.hosts.graph.addFault({ status: 401 });
    assert.ok(await c.findApp(OTHER_APP.appId));
    assert.equal(world.hosts.entra.requests.length, 2);
    world.hosts.graph.addFault({ status: 401, count: 5 });
    const e = await failure(c.findApp(OTHER_APP.appId));
    assert.equal(e.status, 401);
    assert.equal(world.hosts.entra.requests.length, 2, 'no second new sign-in');
    assert.equal(world.hosts.graph.requests.length, 3);
  });

  it('a redirect is refused and the token goes nowhere else; a next page on another origin is not read', async () => {
    const other = await otherHost();
    try {
      const c = client('all');
      world.hosts.graph.addFault({ status: 302, headers: { Location: `${other.origin}/v1.0/applications` } });
      const e = await failure(c.findApp(OTHER_APP.appId));
      assert.equal(e.redirectTo, other.origin);
      assert.equal(e.service, 'graph');
      world.hosts.graph.addFault({
        status: 200,
        path: '/federatedIdentityCredentials',
        body: JSON.stringify({ value: [], '@odata.nextLink': `${other.origin}/v1.0/applications/x/federatedIdentityCredentials?$skiptoken=1` }),
      });
      const n = await failure(c.credentials(OTHER_APP.objectId));
      assert.match(n.message, /not of the same list/);
      assert.equal(other.hits(), 0);
      assert.equal(other.sawAuthorization(), false);
      // A next page on Graph's own origin is followed.
      world.hosts.graph.addFault({
        status: 200,
        path: '/federatedIdentityCredentials',
        body: JSON.stringify({ value: [], '@odata.nextLink': `${world.graphUrl}v1.0/applications/${OTHER_APP.objectId}/federatedIdentityCredentials` }),
      });
      assert.deepEqual(await c.credentials(OTHER_APP.objectId), []);
    } finally {
      await other.close();
    }
  });

  it('a cancelled run sends no new request', async () => {
    const abort = new AbortController();
    const c = client('all', { signal: abort.signal });
    await c.signIn();
    abort.abort();
    const e = await failure(c.findApp(OTHER_APP.appId));
    assert.equal(e.cancelled, true);
    assert.equal((await failure(c.addCredential(OTHER_APP.objectId, fic('late')))).cancelled, true);
    assert.equal(world.hosts.graph.requests.length, 0);
    const fresh = client('wif', { signal: abort.signal });
    assert.equal((await failure(fresh.signIn())).cancelled, true);
    assert.equal(world.hosts.oidc.requests.length, 0);
  });

  it('hostile answers: not JSON, wrong types, huge strings, an answer without a token → garbled (reads retried)', async () => {
    const clock = fakeClock();
    const c = client('all', { clock });
    world.hosts.graph.addFault({ status: 200, body: 'hello', count: 4 });
    const e = await failure(c.findApp(OTHER_APP.appId));
    assert.equal(e.garbled, true);
    assert.equal(e.service, 'graph');
    assert.equal(clock.sleeps.length, 3, 'a read is retried on a garbled answer');
    world.hosts.graph.addFault({ status: 200, body: JSON.stringify({ id: 5, appId: [] }), count: 4 });
    assert.equal((await failure(c.findApp(OTHER_APP.appId))).garbled, true);
    world.hosts.graph.addFault({ status: 200, body: JSON.stringify({ id: OTHER_APP.objectId, appId: OWNED_APP.appId }), count: 4 });
    assert.equal((await failure(c.findApp(OTHER_APP.appId))).garbled, true, 'another app than the one asked for');
    world.hosts.graph.addFault({
      status: 200,
      body: JSON.stringify({ id: OTHER_APP.objectId, appId: OTHER_APP.appId, displayName: 'x'.repeat(100_000), signInAudience: 7 }),
    });
    const big = await c.findApp(OTHER_APP.appId);
    assert.equal(big?.displayName.length, 256);
    assert.equal(big?.signInAudience, undefined);
    world.hosts.graph.addFault({ status: 200, body: JSON.stringify({ value: [{ id: 'a', name: 3 }] }), count: 4 });
    assert.equal((await failure(c.credentials(OTHER_APP.objectId))).garbled, true);
    world.hosts.graph.addFault({ status: 201, method: 'POST', body: '{"value":1}' });
    const w = await failure(c.addCredential(OTHER_APP.objectId, fic('garbled')));
    assert.equal(w.garbled, true);
    assert.equal(world.hosts.graph.requests.filter((r) => r.method === 'POST').length, 1, 'a garbled answer to a write is not resent');

    world.hosts.entra.addFault({ status: 200, body: JSON.stringify({ access_token: 'has a space', expires_in: 'soon' }), count: 4 });
    const t = await failure(client('all', { clock }).signIn());
    assert.deepEqual([t.service, t.garbled], ['entra', true]);
    world.hosts.oidc.addFault({ status: 200, body: '<html>hi</html>', count: 4 });
    assert.equal((await failure(client('wif', { clock }).signIn())).service, 'oidc');
  });
});
