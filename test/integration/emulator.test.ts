// Drives the loopback emulator (test/emulator/server.ts) through the REAL azure-devops-node-api
// client, so the emulator stays faithful to what the task will actually send and receive.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as path from 'node:path';
import { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import type { ServiceEndpoint } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import { Emulator, Seed, loadSeed, startEmulator } from '../emulator/server';

// build/test/integration -> repo root
const DEMO = path.resolve(__dirname, '../../../test/emulator/seeds/demo.json');
const JOB = 'demo-job-token';
const ADMIN = 'demo-admin-pat';
const CONVERT = 'ConvertAuthenticationScheme';
const DAY = 24 * 60 * 60 * 1000;

function demoSeed(change?: (s: Seed) => void): Seed {
  const seed = loadSeed(DEMO); // a fresh parse: safe to modify
  change?.(seed);
  return seed;
}

function idOf(seed: Seed, name: string): string {
  const ep = seed.endpoints.find((e) => e.name === name);
  assert.ok(ep, `seed has ${name}`);
  return String(ep.id);
}

function client(emu: Emulator, token = JOB): ServiceEndpointApi {
  return new ServiceEndpointApi(emu.url, [new BearerCredentialHandler(token)], { allowRetries: false });
}

/** The minimal conversion body (ref §3): id, type, target scheme, home project reference from the GET. */
function minimalBody(ep: ServiceEndpoint, scheme = 'WorkloadIdentityFederation'): ServiceEndpoint {
  return { id: ep.id, type: ep.type, authorization: { scheme }, serviceEndpointProjectReferences: [ep.serviceEndpointProjectReferences![0]] };
}

async function rejection(p: Promise<unknown>): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to reject');
}

describe('Azure DevOps service-endpoint emulator (through azure-devops-node-api)', function () {
  this.timeout(5000);
  let emu: Emulator | undefined;
  let seed: Seed;

  async function start(s: Seed = demoSeed()): Promise<Emulator> {
    seed = s;
    emu = await startEmulator(s);
    return emu;
  }

  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it('bootstraps with one OPTIONS for location data, then sends the real request (api-version in Accept)', async () => {
    const e = await start();
    const api = client(e);
    await api.getServiceEndpoints('Payments', 'azurerm');
    await api.getServiceEndpoints('Payments', 'azurerm');
    assert.deepEqual(e.requests.map((r) => `${r.method} ${r.path}`), [
      'OPTIONS /contoso/_apis/serviceendpoint',
      'GET /contoso/Payments/_apis/serviceendpoint/endpoints',
      'GET /contoso/Payments/_apis/serviceendpoint/endpoints', // location data cached after success
    ]);
    assert.equal(e.requests[1].apiVersion, '7.2-preview.4');
    assert.deepEqual(e.requests[1].query, { type: 'azurerm' });
    assert.equal(e.requests[1].identity, 'Payments Build Service (contoso)');
  });

  it('lists azurerm endpoints like the service: includeFailed, null secrets, no emulator knobs, no other types', async () => {
    const e = await start();
    const api = client(e);
    const all = await api.getServiceEndpoints('Payments', 'azurerm', undefined, undefined, undefined, true);
    const names = all.map((x) => x.name);
    assert.ok(names.includes('broken-connection'));
    assert.ok(names.includes('Prod – Zürich (payments)'));
    assert.ok(!names.includes('github-payments'));
    assert.equal(all.length, seed.endpoints.filter((x) => x.type === 'azurerm').length);
    for (const ep of all) {
      assert.equal((ep as Record<string, unknown>).emulator, undefined);
      const params = ep.authorization?.parameters ?? {};
      if ('serviceprincipalkey' in params) assert.equal(params.serviceprincipalkey, null);
    }
    const ready = await api.getServiceEndpoints('payments', 'AzureRM'); // project name and type: case-insensitive
    assert.ok(!ready.some((x) => x.name === 'broken-connection'), 'isReady false is omitted without includeFailed');
    const spn = await api.getServiceEndpoints(seed.projects[0].id, 'azurerm', ['ServicePrincipal'], undefined, undefined, true);
    assert.ok(spn.every((x) => x.authorization?.scheme === 'ServicePrincipal'));
    assert.ok(spn.length > 5);
    const shared = await api.getServiceEndpoints('Shared Services', 'azurerm');
    assert.deepEqual(shared.map((x) => x.name).sort(), ['shared-from-platform-team', 'shared-platform']);
    const unknown = await api.getServiceEndpoints('No Such Project', 'azurerm');
    assert.equal(unknown, null, 'a 404 (unknown project) resolves null');
  });

  it('actionFilter=2 (Manage) hides the connections the caller does not administer', async () => {
    const e = await start();
    const manage = 2; // ServiceEndpointActionFilter.Manage: the client sends the number
    const forJob = await client(e).getServiceEndpoints('Payments', 'azurerm', undefined, undefined, undefined, true, undefined, manage);
    assert.ok(!forJob.some((x) => x.name === 'prod-restricted'));
    const forAdmin = await client(e, ADMIN).getServiceEndpoints('Payments', 'azurerm', undefined, undefined, undefined, true, undefined, manage);
    assert.ok(forAdmin.some((x) => x.name === 'prod-restricted'));
    assert.equal(e.requests.at(-1)!.query.actionFilter, '2');
  });

  it('GET by id returns the endpoint; an unknown id is a 404 that the client resolves to null', async () => {
    const e = await start();
    const api = client(e);
    const ep = await api.getServiceEndpointDetails('Payments', idOf(seed, 'dev-sandbox'));
    assert.equal(ep.name, 'dev-sandbox');
    const missing = await api.getServiceEndpointDetails('Payments', '00000000-0000-0000-0000-000000000000');
    assert.equal(missing, null);
    assert.equal(e.requests.at(-1)!.status, 404);
  });

  it('converts synchronously: 200 with WIF, issuer/subject and a 7-day revert deadline', async () => {
    const now = Date.parse('2025-03-01T10:00:00Z');
    const e = await start();
    e.setClock(() => now);
    const api = client(e);
    const ep = await api.getServiceEndpointDetails('Payments', idOf(seed, 'prod-ledger'));
    const out = await api.updateServiceEndpoint(minimalBody(ep), ep.id!, CONVERT);
    const put = e.requests.at(-1)!;
    assert.equal(put.method, 'PUT');
    assert.equal(put.path, `/contoso/_apis/serviceendpoint/endpoints/${ep.id}`); // org-level route
    assert.deepEqual(put.query, { operation: CONVERT });
    assert.equal(put.status, 200);
    assert.equal(out.authorization!.scheme, 'WorkloadIdentityFederation');
    const p = out.authorization!.parameters!;
    const tenant = ep.authorization!.parameters!.tenantid;
    assert.equal(p.workloadIdentityFederationIssuer, `https://login.microsoftonline.com/${tenant}/v2.0`);
    assert.match(p.workloadIdentityFederationSubject, new RegExp(`^/eid1/c/pub/t/[\\w-]+/a/[\\w-]+/sc/${seed.organization.id}/${ep.id}$`));
    assert.ok(!('serviceprincipalkey' in p) && !('authenticationType' in p));
    assert.equal(out.data!.revertSchemeDeadline, new Date(now + 7 * DAY).toISOString());
    assert.deepEqual(out.operationStatus, { state: 'Ready', statusMessage: '' });
    assert.equal((e.endpoint(ep.id!)!.emulator as { recovery?: { secret?: string } }).recovery?.secret, 'Lg9Q~demo.ledger.secret');
  });

  it('uses the Azure DevOps issuer when the seed says so', async () => {
    const e = await start(demoSeed((s) => { s.issuer = 'azuredevops'; }));
    const api = client(e);
    const ep = await api.getServiceEndpointDetails('Payments', idOf(seed, 'manual-with-fic')); // Manual + FIC: sync
    const out = await api.updateServiceEndpoint(minimalBody(ep), ep.id!, CONVERT);
    assert.equal(out.authorization!.parameters!.workloadIdentityFederationIssuer, `https://vstoken.dev.azure.com/${seed.organization.id}`);
    assert.equal(out.authorization!.parameters!.workloadIdentityFederationSubject, 'sc://contoso/Payments/manual-with-fic');
  });

  it('converts asynchronously: 202 unchanged + InProgress, a retry is 202 again, completes after N GETs', async () => {
    const e = await start();
    const api = client(e);
    const id = idOf(seed, 'prod-payments-api'); // completeAfterGets: 2
    const ep = await api.getServiceEndpointDetails('Payments', id);
    const accepted = await api.updateServiceEndpoint(minimalBody(ep), id, CONVERT);
    assert.equal(e.requests.at(-1)!.status, 202);
    assert.equal(accepted.authorization!.scheme, 'ServicePrincipal');
    assert.deepEqual(accepted.operationStatus, { state: 'InProgress', statusMessage: 'converting_scheme' });
    const again = await api.updateServiceEndpoint(minimalBody(ep), id, CONVERT);
    assert.equal(e.requests.at(-1)!.status, 202);
    assert.equal(again.operationStatus!.state, 'InProgress');
    const listed = await api.getServiceEndpoints('Payments', 'azurerm', undefined, [id]);
    assert.equal(listed[0].operationStatus!.state, 'InProgress', 'listing does not advance the job');
    const poll1 = await api.getServiceEndpointDetails('Payments', id);
    assert.equal(poll1.operationStatus!.state, 'InProgress');
    const poll2 = await api.getServiceEndpointDetails('Payments', id);
    assert.equal(poll2.authorization!.scheme, 'WorkloadIdentityFederation');
    assert.deepEqual(poll2.operationStatus, { state: 'Ready', statusMessage: '' });
    assert.equal(poll2.isReady, true);
    assert.ok(poll2.data!.revertSchemeDeadline);
  });

  it('async failures end as Failed/converting_scheme_failed with the scheme unchanged', async () => {
    const e = await start(demoSeed((s) => {
      s.endpoints.find((x) => x.name === 'dev-sandbox')!.emulator = { conversion: 'aad-silent-failure-async' };
    }));
    const api = client(e);
    const id = idOf(seed, 'dev-sandbox');
    const ep = await api.getServiceEndpointDetails('Payments', id);
    await api.updateServiceEndpoint(minimalBody(ep), id, CONVERT);
    const polled = await api.getServiceEndpointDetails('Payments', id);
    assert.equal(polled.operationStatus!.state, 'Failed');
    assert.match(polled.operationStatus!.statusMessage!, /^converting_scheme_failed: Failed to obtain an access token of identity [0-9a-f-]+\. AAD returned silent failure\.$/);
    assert.equal(polled.isReady, false);
    assert.equal(polled.authorization!.scheme, 'ServicePrincipal');
  });

  it('synchronous AadAccessSilentException is a 500 with typeKey', async () => {
    const e = await start(demoSeed((s) => {
      s.endpoints.find((x) => x.name === 'dev-sandbox')!.emulator = { conversion: 'aad-silent-failure' };
    }));
    const api = client(e);
    const ep = await api.getServiceEndpointDetails('Payments', idOf(seed, 'dev-sandbox'));
    const err = await rejection(api.updateServiceEndpoint(minimalBody(ep), ep.id!, CONVERT));
    assert.equal(err.statusCode, 500);
    assert.equal(err.result.typeKey, 'AadAccessSilentException');
    assert.match(err.message, /AAD returned silent failure/);
  });

  it('resending the whole endpoint is a 400 "Properties cannot be changed" (null secret compared)', async () => {
    const e = await start();
    const api = client(e);
    const ep = await api.getServiceEndpointDetails('Payments', idOf(seed, 'prod-ledger'));
    const full = { ...ep, authorization: { ...ep.authorization, scheme: 'WorkloadIdentityFederation' } };
    const err = await rejection(api.updateServiceEndpoint(full, ep.id!, CONVERT));
    assert.equal(err.statusCode, 400);
    assert.match(err.message, /^Properties cannot be changed during service connection upgrade\. Only the authentication scheme can be changed\.$/);
    assert.equal(err.responseHeaders['x-emulator-detail'], 'authorization.parameters.serviceprincipalkey');
    assert.deepEqual(Object.keys(err.result).sort(), ['$id', 'errorCode', 'eventId', 'innerException', 'message', 'typeKey', 'typeName']);
    const renamed = { ...minimalBody(ep), name: 'renamed' };
    assert.equal((await rejection(api.updateServiceEndpoint(renamed, ep.id!, CONVERT))).statusCode, 400);
    assert.equal(e.endpoint(ep.id!)!.name, 'prod-ledger');
  });

  it('403 names the identity and the connection when the caller is not an Administrator', async () => {
    const e = await start();
    const api = client(e);
    const ep = await api.getServiceEndpointDetails('Payments', idOf(seed, 'prod-restricted'));
    const err = await rejection(api.updateServiceEndpoint(minimalBody(ep), ep.id!, CONVERT));
    assert.equal(err.statusCode, 403);
    assert.equal(err.message, 'Access denied. Payments Build Service (contoso) needs Administrator permissions on service connection prod-restricted to perform this action. You need to be an Administrator on this service connection.');
  });

  it('refuses a shared connection from a non-home project, Manual without FIC, MSI, AzureStack and a disabled org', async () => {
    const e = await start();
    const api = client(e);
    const get = (name: string) => api.getServiceEndpointDetails('Payments', idOf(seed, name));

    const shared = await get('shared-from-platform-team'); // home = Shared Services
    const payRef = shared.serviceEndpointProjectReferences!.find((r) => r.projectReference!.name === 'Payments')!;
    const fromPayments = { ...minimalBody(shared), serviceEndpointProjectReferences: [payRef] };
    const err1 = await rejection(api.updateServiceEndpoint(fromPayments, shared.id!, CONVERT));
    assert.equal(err1.statusCode, 400);
    assert.match(err1.message, /home project 'Shared Services'/);

    const manual = await get('legacy-manual-app');
    const err2 = await rejection(api.updateServiceEndpoint(minimalBody(manual), manual.id!, CONVERT));
    assert.equal(err2.statusCode, 400);
    assert.match(err2.message, /could not be upgraded.*no valid configuration exists/);

    const msi = await get('aks-msi');
    assert.match((await rejection(api.updateServiceEndpoint(minimalBody(msi), msi.id!, CONVERT))).message, /neither an upgrade or a downgrade/);
    const wif = await get('already-federated');
    assert.match((await rejection(api.updateServiceEndpoint(minimalBody(wif), wif.id!, CONVERT))).message, /neither an upgrade or a downgrade/);
    const stack = await get('azurestack-lab');
    assert.match((await rejection(api.updateServiceEndpoint(minimalBody(stack), stack.id!, CONVERT))).message, /^Unable to connect to the Azure Stack environment/);
    const badOp = await rejection(api.updateServiceEndpoint(minimalBody(stack), stack.id!, 'Bogus'));
    assert.match(badOp.message, /^Operation 'Bogus' is invalid\. Allowed operation values are/);
    // A PUT 404 does not reject either: RestClient resolves every 404 with a null result.
    const gone = await api.updateServiceEndpoint(minimalBody(stack), '00000000-0000-0000-0000-000000000001', CONVERT);
    assert.equal(gone, null);
    assert.equal(e.requests.at(-1)!.status, 404);

    await e.close();
    const off = await start(demoSeed((s) => { s.conversionDisabled = true; }));
    const api2 = client(off);
    const ledger = await api2.getServiceEndpointDetails('Payments', idOf(seed, 'prod-ledger'));
    const err3 = await rejection(api2.updateServiceEndpoint(minimalBody(ledger), ledger.id!, CONVERT));
    assert.equal(err3.statusCode, 400);
    assert.match(err3.message, /^Operation 'ConvertAuthenticationScheme' is invalid\. Allowed operation values are/);
  });

  it('reverts inside the 7-day window (secret back) and refuses after it ("no recovery data")', async () => {
    let now = Date.parse('2025-03-01T10:00:00Z');
    const e = await start();
    e.setClock(() => now);
    const api = client(e);
    const id = idOf(seed, 'prod-ledger');
    const before = e.endpoint(id)!;
    const ep = await api.getServiceEndpointDetails('Payments', id);
    const wif = await api.updateServiceEndpoint(minimalBody(ep), id, CONVERT);
    now += 6 * DAY;
    const back = await api.updateServiceEndpoint(minimalBody(wif, 'ServicePrincipal'), id, CONVERT);
    assert.equal(back.authorization!.scheme, 'ServicePrincipal');
    assert.deepEqual(back.authorization!.parameters, ep.authorization!.parameters);
    assert.equal(back.data!.revertSchemeDeadline, undefined);
    assert.deepEqual(e.endpoint(id), before, 'stored state (secret included) is restored');

    const again = await api.updateServiceEndpoint(minimalBody(back), id, CONVERT);
    now += 7 * DAY + 1;
    const err = await rejection(api.updateServiceEndpoint(minimalBody(again, 'ServicePrincipal'), id, CONVERT));
    assert.equal(err.statusCode, 400);
    assert.match(err.message, /could not be downgraded .*no recovery data exist for this endpoint/);
  });

  it('answers a bad token with 401 (the client rejects on the location OPTIONS)', async () => {
    const e = await start();
    const err = await rejection(client(e, 'expired-token').getServiceEndpoints('Payments', 'azurerm'));
    assert.equal(err.statusCode, 401);
    assert.deepEqual(e.requests.map((r) => `${r.method} ${r.status}`), ['OPTIONS 401']);
  });

  it('203 sign-in page: a fresh client throws "Failed to find api location"; a bootstrapped one resolves null', async () => {
    const e = await start(demoSeed((s) => { s.badTokenResponse = '203'; }));
    // Fresh client: the OPTIONS answer is HTML, RestClient leaves result null, VsoClient finds no
    // location and throws a plain Error (no statusCode).
    const err = await rejection(client(e, 'expired-token').getServiceEndpoints('Payments', 'azurerm'));
    assert.match(err.message, /^Failed to find api location for area: serviceendpoint id: e85f1c62-adfc-4b74-b618-11a150fb195e$/);
    assert.equal(err.statusCode, undefined);
    assert.equal(e.requests[0].status, 203);

    // Location data already cached (token expired mid-run): 203 HTML on the data call resolves null.
    const api = client(e);
    await api.getServiceEndpoints('Payments', 'azurerm');
    e.addFault({ method: 'GET', path: '/endpoints', status: 203, headers: { 'Content-Type': 'text/html' }, body: '<html><title>Sign In</title></html>' });
    assert.equal(await api.getServiceEndpoints('Payments', 'azurerm'), null);
  });

  it('a 429 fault carries Retry-After / X-RateLimit-* into err.rateLimit and err.responseHeaders', async () => {
    const e = await start();
    const api = client(e);
    e.addFault({ method: 'GET', path: /\/endpoints$/, status: 429, headers: { 'Retry-After': '3', 'X-RateLimit-Delay': '1.5', 'X-RateLimit-Remaining': '0' } });
    const err = await rejection(api.getServiceEndpoints('Payments', 'azurerm'));
    assert.equal(err.statusCode, 429);
    assert.match(err.message, /^TF400733/);
    assert.deepEqual(err.rateLimit, { retryAfter: 3, delay: 1.5, remaining: 0 });
    assert.equal(err.responseHeaders['retry-after'], '3');
    assert.ok(Array.isArray(await api.getServiceEndpoints('Payments', 'azurerm')), 'fault consumed once');
  });

  it('a reset fault is a network error; apply-then-reset applies the PUT and loses the answer', async () => {
    const e = await start();
    const api = client(e);
    const id = idOf(seed, 'prod-ledger');
    const ep = await api.getServiceEndpointDetails('Payments', id);
    e.addFault({ method: 'GET', path: id, kind: 'reset' });
    const err = await rejection(api.getServiceEndpointDetails('Payments', id));
    assert.equal(err.statusCode, undefined);
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(e.requests.at(-1)!.status, 0);

    e.addFault({ method: 'PUT', kind: 'apply-then-reset' });
    const lost = await rejection(api.updateServiceEndpoint(minimalBody(ep), id, CONVERT));
    assert.equal(lost.statusCode, undefined);
    assert.equal((e.endpoint(id)!.authorization as { scheme: string }).scheme, 'WorkloadIdentityFederation');
    assert.deepEqual(e.requests.at(-1)!.body, JSON.parse(JSON.stringify(minimalBody(ep))));
  });

  it('concurrent first calls each send their own OPTIONS (location data is cached only after success)', async () => {
    const e = await start();
    e.setLatencyMs(20);
    const api = client(e);
    await Promise.all([api.getServiceEndpoints('Payments'), api.getServiceEndpoints('Payments'), api.getServiceEndpoints('Payments')]);
    assert.equal(e.requests.filter((r) => r.method === 'OPTIONS').length, 3);
  });

  it('checks api-version like the service (query or Accept; preview flag required above 7.1)', async () => {
    const e = await start();
    const get = (q: string) => new Promise<number>((resolve, reject) => {
      http.get(`${e.url}Payments/_apis/serviceendpoint/endpoints?type=azurerm&${q}`, { headers: { Authorization: `Bearer ${JOB}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      }).on('error', reject);
    });
    assert.equal(await get('api-version=7.1'), 200);
    assert.equal(await get('api-version=7.2-preview.4'), 200);
    assert.equal(await get('api-version=7.2'), 400);
    assert.equal(await get('api-version=9.0'), 400);
  });
});
