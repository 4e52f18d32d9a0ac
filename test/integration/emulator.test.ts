// Drives the loopback emulator (test/emulator/server.ts) through the REAL azure-devops-node-api
// client, so the emulator stays faithful to what the task will actually send and receive.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as path from 'node:path';
import { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import { BuildApi } from 'azure-devops-node-api/BuildApi';
import { PipelinesApi } from 'azure-devops-node-api/PipelinesApi';
import { TaskAgentApi } from 'azure-devops-node-api/TaskAgentApi';
import type { TaskAgentApiBase } from 'azure-devops-node-api/TaskAgentApiBase';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import type { ServiceEndpoint } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import { Emulator, Seed, loadSeed, startEmulator } from '../emulator/server';

// build/test/integration -> repo root
const DEMO = path.resolve(__dirname, '../../../test/emulator/seeds/demo.json');
const JOB = 'demo-job-token';
const ADMIN = 'demo-admin-pat';
const CONVERT = 'ConvertAuthenticationScheme';
const DAY = 24 * 60 * 60 * 1000;

/**
 * The demo seed with the conversion modes these tests exercise pinned (sync, and async finished by a
 * background job): they test the conversion mechanics, not who may convert, which the demo leaves
 * to the service's rule (the job identity fails without an existing credential; emulator-realism.test.ts).
 */
const MECHANICS: Record<string, 'sync' | 'async'> = {
  'prod-ledger': 'sync',
  'prod-payments-api': 'async',
  'prod-payments-web': 'async',
  'dev-sandbox': 'async',
  'Prod – Zürich (payments)': 'async',
};

function demoSeed(change?: (s: Seed) => void): Seed {
  const seed = loadSeed(DEMO); // a fresh parse: safe to modify
  for (const e of seed.endpoints) {
    const mode = MECHANICS[String(e.name)];
    if (mode) e.emulator = { ...e.emulator, conversion: mode };
  }
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

/** The minimal conversion body (docs/service-behaviour.md §4): id, type, target scheme, home project reference from the GET. */
function minimalBody(ep: ServiceEndpoint, scheme = 'WorkloadIdentityFederation'): ServiceEndpoint {
  return { id: ep.id, type: ep.type, authorization: { scheme }, serviceEndpointProjectReferences: [ep.serviceEndpointProjectReferences![0]] };
}

async function rejection(p: Promise<unknown>): Promise<any> {
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
    assert.deepEqual(
      e.requests.map((r) => `${r.method} ${r.path}`),
      [
        'OPTIONS /contoso/_apis/serviceendpoint',
        'GET /contoso/Payments/_apis/serviceendpoint/endpoints',
        'GET /contoso/Payments/_apis/serviceendpoint/endpoints', // location data cached after success
      ],
    );
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
    const e = await start(
      demoSeed((s) => {
        s.issuer = 'azuredevops';
      }),
    );
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
    const e = await start(
      demoSeed((s) => {
        s.endpoints.find((x) => x.name === 'dev-sandbox')!.emulator = { conversion: 'aad-silent-failure-async' };
      }),
    );
    const api = client(e);
    const id = idOf(seed, 'dev-sandbox');
    const ep = await api.getServiceEndpointDetails('Payments', id);
    await api.updateServiceEndpoint(minimalBody(ep), id, CONVERT);
    const polled = await api.getServiceEndpointDetails('Payments', id);
    assert.equal(polled.operationStatus!.state, 'Failed');
    assert.match(
      polled.operationStatus!.statusMessage,
      /^converting_scheme_failed: Failed to obtain an access token of identity [0-9a-f-]+\. AAD returned silent failure\.$/,
    );
    assert.equal(polled.isReady, false);
    assert.equal(polled.authorization!.scheme, 'ServicePrincipal');
  });

  it('synchronous AadAccessSilentException is a 500 with typeKey', async () => {
    const e = await start(
      demoSeed((s) => {
        s.endpoints.find((x) => x.name === 'dev-sandbox')!.emulator = { conversion: 'aad-silent-failure' };
      }),
    );
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
    assert.equal(
      err.message,
      'Access denied. Payments Build Service (contoso) needs Administrator permissions on service connection prod-restricted to perform this action. You need to be an Administrator on this service connection.',
    );
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
    assert.match(
      (await rejection(api.updateServiceEndpoint(minimalBody(stack), stack.id!, CONVERT))).message,
      /^Unable to connect to the Azure Stack environment/,
    );
    const badOp = await rejection(api.updateServiceEndpoint(minimalBody(stack), stack.id!, 'Bogus'));
    assert.match(badOp.message, /^Operation 'Bogus' is invalid\. Allowed operation values are/);
    // A PUT 404 does not reject either: RestClient resolves every 404 with a null result.
    const gone = await api.updateServiceEndpoint(minimalBody(stack), '00000000-0000-0000-0000-000000000001', CONVERT);
    assert.equal(gone, null);
    assert.equal(e.requests.at(-1)!.status, 404);

    await e.close();
    const off = await start(
      demoSeed((s) => {
        s.conversionDisabled = true;
      }),
    );
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
    assert.deepEqual(
      e.requests.map((r) => `${r.method} ${r.status}`),
      ['OPTIONS 401'],
    );
  });

  it('203 sign-in page: a fresh client throws "Failed to find api location"; a bootstrapped one resolves null', async () => {
    const e = await start(
      demoSeed((s) => {
        s.badTokenResponse = '203';
      }),
    );
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
    const get = (q: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get(`${e.url}Payments/_apis/serviceendpoint/endpoints?type=azurerm&${q}`, { headers: { Authorization: `Bearer ${JOB}` } }, (res) => {
            res.resume();
            resolve(res.statusCode!);
          })
          .on('error', reject);
      });
    assert.equal(await get('api-version=7.1'), 200);
    assert.equal(await get('api-version=7.2-preview.4'), 200);
    assert.equal(await get('api-version=7.2'), 400);
    assert.equal(await get('api-version=9.0'), 400);
  });
});

// ---------------------------------------------------------------------------------------------
// Impact check: execution history, build timelines, pipeline preview and the task catalogue,
// through the same node-api clients the task uses.

function endpoints(emu: Emulator, token = JOB): ServiceEndpointApi {
  return new ServiceEndpointApi(emu.url, [new BearerCredentialHandler(token)], { allowRetries: false });
}
function builds(emu: Emulator, token = JOB): BuildApi {
  return new BuildApi(emu.url, [new BearerCredentialHandler(token)], { allowRetries: false });
}
function pipelines(emu: Emulator, token = JOB): PipelinesApi {
  return new PipelinesApi(emu.url, [new BearerCredentialHandler(token)], { allowRetries: false });
}
/** TaskAgentApi (its getTaskDefinitions wrapper runs), typed as the base whose parameters are optional. */
function taskAgent(emu: Emulator, token = JOB): TaskAgentApiBase {
  return new TaskAgentApi(emu.url, [new BearerCredentialHandler(token)], { allowRetries: false });
}

/** A raw request (no node-api), to see statuses, headers and bodies the clients hide. */
function raw(emu: Emulator, method: string, relative: string, o: { token?: string; body?: unknown } = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }>((resolve, reject) => {
    const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = http.request(
      `${emu.url}${relative}`,
      {
        method,
        headers: {
          ...(o.token ? { Authorization: `Bearer ${o.token}` } : {}),
          ...(payload ? { 'Content-Type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode!, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('impact-check routes of the emulator (through azure-devops-node-api)', function () {
  this.timeout(5000);
  let emu: Emulator | undefined;
  let seed: Seed;
  const NOW = Date.parse('2026-03-01T12:00:00Z');

  async function start(s: Seed = demoSeed(), relativeTo = NOW): Promise<Emulator> {
    seed = s;
    emu = await startEmulator(s, { relativeTo });
    return emu;
  }
  const seen = (e: Emulator) => e.requests.map((r) => `${r.method} ${r.path}`);

  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it('execution history: newest first, 3 pages by top; node-api returns an array with a string continuationToken', async () => {
    const e = await start();
    const api = endpoints(e);
    const id = idOf(seed, 'prod-payments-api'); // 6 executions
    const p1 = await api.getServiceEndpointExecutionRecords('Payments', id, 2);
    assert.ok(Array.isArray(p1), 'the {count, value} envelope is unwrapped to value');
    assert.equal(p1.length, 2);
    assert.equal(typeof p1.continuationToken, 'string', 'copied from the X-MS-ContinuationToken header, a string');
    assert.match(p1.continuationToken!, /^\d+$/);
    // node-api types the token it sends as a number but puts whatever it is given in the query.
    const p2 = await api.getServiceEndpointExecutionRecords('Payments', id, 2, p1.continuationToken as unknown as number);
    const p3 = await api.getServiceEndpointExecutionRecords('Payments', id, 2, p2.continuationToken as unknown as number);
    assert.equal(p2.length, 2);
    assert.equal(p3.length, 2);
    assert.equal(p3.continuationToken, undefined, 'last page: no header, no property');
    assert.ok(!('continuationToken' in p3));

    assert.deepEqual(seen(e), [
      'OPTIONS /contoso/_apis/serviceendpoint',
      ...Array(3).fill(`GET /contoso/Payments/_apis/serviceendpoint/${id}/executionhistory`),
    ]);
    assert.deepEqual(
      e.requests.slice(1).map((r) => r.query),
      [{ top: '2' }, { top: '2', continuationToken: p1.continuationToken }, { top: '2', continuationToken: p2.continuationToken }],
    );
    assert.ok(e.requests.slice(1).every((r) => r.apiVersion === '7.2-preview.1'));

    const all = [...p1, ...p2, ...p3];
    assert.deepEqual(
      all.map((r) => r.data!.owner!.id),
      [4711, 4698, 4693, 4671, 4655, 4602],
    );
    assert.deepEqual(
      all.map((r) => r.data!.definition!.id),
      [41, 41, 44, 41, 41, 41],
    );
    const starts = all.map((r) => r.data!.startTime!);
    assert.ok(
      starts.every((d) => d instanceof Date),
      'node-api turns startTime/finishTime into Dates',
    );
    assert.deepEqual(
      starts.map((d) => d.getTime()),
      [2, 6, 9, 17, 26, 41].map((days) => NOW - days * DAY),
      'relative seed times ("-2d")',
    );
    const first = all[0];
    assert.equal(first.endpointId, id);
    assert.equal(first.data!.planType, 'Build');
    assert.equal(first.data!.definition!.name, 'payments-api-deploy');
    assert.equal(first.data!.finishTime!.getTime(), NOW - 2870 * 60_000);
    assert.match(first.data!.owner!._links.web.href, /\/_build\/results\?buildId=4711$/);
    // result is an enum: node-api maps "succeeded" -> 0 (falsy!), "failed" -> 2.
    assert.equal(first.data!.result, 0);
    assert.equal(all.find((r) => r.data!.owner!.id === 4671)!.data!.result, 2);
    assert.ok(
      all.every((r, i) => i === 0 || r.data!.id! < all[i - 1].data!.id!),
      'record ids fall as the pages go back in time',
    );
  });

  it('the raw answer: {count, value} and the X-MS-ContinuationToken header; a bad token value is a 400', async () => {
    const e = await start();
    const id = idOf(seed, 'prod-payments-api');
    const page = await raw(e, 'GET', `Payments/_apis/serviceendpoint/${id}/executionhistory?top=4&api-version=7.1-preview.1`, { token: JOB });
    assert.equal(page.status, 200);
    assert.equal(page.body.count, 4);
    assert.equal(page.body.value.length, 4);
    assert.deepEqual(Object.keys(page.body.value[0]), ['data', 'endpointId']);
    assert.equal(page.body.value[0].data.result, 'succeeded');
    assert.match(String(page.headers['x-ms-continuationtoken']), /^\d+$/);
    const rest = await raw(
      e,
      'GET',
      `Payments/_apis/serviceendpoint/${id}/executionhistory?continuationToken=${String(page.headers['x-ms-continuationtoken'])}`,
      { token: JOB },
    );
    assert.deepEqual(
      rest.body.value.map((r: { data: { owner: { id: number } } }) => r.data.owner.id),
      [4655, 4602],
    );
    assert.equal(rest.headers['x-ms-continuationtoken'], undefined);
    const bad = await raw(e, 'GET', `Payments/_apis/serviceendpoint/${id}/executionhistory?continuationToken=abc`, { token: JOB });
    assert.equal(bad.status, 400);
    const released = await raw(e, 'GET', `Payments/_apis/serviceendpoint/${id}/executionhistory?api-version=7.1`, { token: JOB });
    assert.equal(released.status, 400, 'preview-only resource: 7.1 without -preview is refused');
    assert.equal(released.body.typeKey, 'VssInvalidPreviewVersionException');
  });

  it('executionPageSize caps the page whatever top says; the default page is 50; no history is an empty page', async () => {
    const e = await start(
      demoSeed((s) => {
        s.executionPageSize = 2;
        const ep = s.endpoints.find((x) => x.name === 'prod-ledger')!;
        ep.emulator!.executions = Array.from({ length: 60 }, (_, i) => ({
          planType: 'Build' as const,
          definitionId: 43,
          definitionName: 'ledger-nightly',
          runId: 5000 + i,
          startTime: `-${i + 1}h`,
        }));
      }),
    );
    const api = endpoints(e);
    const id = idOf(seed, 'prod-payments-api');
    const pages: number[] = [];
    let token: string | undefined;
    do {
      const page = await api.getServiceEndpointExecutionRecords('Payments', id, 100, token as unknown as number);
      pages.push(page.length);
      token = page.continuationToken;
    } while (token);
    assert.deepEqual(pages, [2, 2, 2]);

    await e.close();
    const e2 = await start(
      demoSeed((s) => {
        s.endpoints.find((x) => x.name === 'prod-ledger')!.emulator!.executions = Array.from({ length: 60 }, (_, i) => ({
          planType: 'Build' as const,
          definitionId: 43,
          definitionName: 'ledger-nightly',
          runId: 5000 + i,
          startTime: `-${i + 1}h`,
        }));
      }),
    );
    const api2 = endpoints(e2);
    const first = await api2.getServiceEndpointExecutionRecords('Payments', idOf(seed, 'prod-ledger'));
    assert.equal(first.length, 50);
    assert.deepEqual(
      first.slice(0, 2).map((r) => r.data!.owner!.id),
      [5000, 5001],
    );
    const second = await api2.getServiceEndpointExecutionRecords(
      'Payments',
      idOf(seed, 'prod-ledger'),
      undefined,
      first.continuationToken as unknown as number,
    );
    assert.equal(second.length, 10);
    assert.equal(second.continuationToken, undefined);
    const none = await api2.getServiceEndpointExecutionRecords('Payments', idOf(seed, 'legacy-manual-app'));
    assert.deepEqual([...none], []);
    assert.equal(none.continuationToken, undefined);
  });

  it('demo connections: a release-only connection, one unused for 90 days; unknown or unshared connection and unknown project resolve null (404)', async () => {
    const e = await start();
    const api = endpoints(e);
    const sandbox = await api.getServiceEndpointExecutionRecords('Payments', idOf(seed, 'dev-sandbox'));
    assert.deepEqual(
      sandbox.map((r) => [r.data!.planType, r.data!.definition!.name, r.data!.owner!.id, r.data!.owner!.name]),
      [
        ['Release', 'sandbox-release', 212, 'Release-212'],
        ['Release', 'sandbox-release', 209, 'Release-209'],
      ],
    );
    const zurich = await api.getServiceEndpointExecutionRecords('Payments', idOf(seed, 'Prod – Zürich (payments)'));
    assert.equal(zurich.length, 1);
    assert.equal(zurich[0].data!.startTime!.getTime(), NOW - 90 * DAY);
    assert.equal(loadSeed(DEMO).endpoints.find((x) => x.name === 'dev-sandbox')!.emulator!.executions![0].startTime, '-5d', 'loadSeed keeps relative times');

    assert.equal(await api.getServiceEndpointExecutionRecords('Payments', '00000000-0000-0000-0000-000000000000'), null);
    assert.equal(e.requests.at(-1)!.status, 404);
    assert.equal(await api.getServiceEndpointExecutionRecords('Shared Services', idOf(seed, 'prod-ledger')), null, 'not shared with that project');
    assert.equal(await api.getServiceEndpointExecutionRecords('No Such Project', idOf(seed, 'prod-ledger')), null);
    const body = await raw(e, 'GET', `Payments/_apis/serviceendpoint/00000000-0000-0000-0000-000000000000/executionhistory`, { token: JOB });
    assert.equal(body.body.typeKey, 'ServiceEndpointNotFoundException');
  });

  it('build timeline: Stage/Phase/Job/Task records with task references; an unknown build resolves null (404 BuildNotFoundException)', async () => {
    const e = await start();
    const api = builds(e);
    const t = await api.getBuildTimeline('Payments', 4711);
    assert.deepEqual(seen(e), ['OPTIONS /contoso/_apis/build', 'GET /contoso/Payments/_apis/build/builds/4711/Timeline']);
    assert.equal(e.requests[1].apiVersion, '7.2-preview.3');
    assert.deepEqual(e.requests[1].query, {});
    assert.match(t.id!, /^[0-9a-f-]{36}$/);
    assert.equal(typeof t.changeId, 'number');
    const records = t.records!;
    assert.deepEqual([...new Set(records.map((r) => r.type))], ['Stage', 'Phase', 'Job', 'Task']);
    const tasks = records.filter((r) => r.task).map((r) => `${r.task!.name}@${r.task!.version}`);
    assert.deepEqual(tasks, ['Checkout@1.0.0', 'AzureCLI@2.265.0', 'Checkout@1.0.0', 'AzureFileCopy@5.259.0', 'AzureCLI@2.265.0']);
    const copy = records.find((r) => r.task?.name === 'AzureFileCopy')!;
    assert.equal(copy.task!.id, 'eb72cb01-a7e5-427b-a8a1-1b31ccac8a43');
    const job = records.find((r) => r.id === copy.parentId)!;
    assert.equal(job.type, 'Job');
    assert.equal(job.name, 'Deploy to production');
    assert.equal(records.find((r) => r.id === job.parentId)!.type, 'Phase');
    // state and result are enums: completed -> 2, succeeded -> 0; times are Dates.
    assert.ok(records.every((r) => Number(r.state) === 2 && Number(r.result) === 0 && r.startTime instanceof Date));

    assert.equal(await api.getBuildTimeline('Payments', 9999), null);
    const missing = await raw(e, 'GET', 'Payments/_apis/build/builds/9999/Timeline', { token: JOB });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.typeKey, 'BuildNotFoundException');
    assert.equal(missing.body.message, 'The requested build 9999 could not be found.');
    assert.ok((await api.getBuildTimeline('Payments', 4711, t.id)).records, 'the timeline id route works too');
  });

  it('pipeline preview: 200 {finalYaml} (POST body recorded), 403 throws, classic pipeline 400 throws, unknown 404 resolves null', async () => {
    const e = await start();
    const api = pipelines(e);
    const run = await api.preview({ previewRun: true }, 'Payments', 42);
    assert.deepEqual(seen(e), ['OPTIONS /contoso/_apis/pipelines', 'POST /contoso/Payments/_apis/pipelines/42/preview']);
    assert.equal(e.requests[1].apiVersion, '7.2-preview.1');
    assert.deepEqual(e.requests[1].body, { previewRun: true });
    assert.deepEqual(Object.keys(run), ['finalYaml']);
    assert.match(run.finalYaml!, /addSpnToEnvironment: true/);
    assert.match(run.finalYaml!, /\$servicePrincipalKey/);
    assert.match(run.finalYaml!, /- task: ContosoConfigPush@1/);
    const override = await api.preview({ previewRun: true, yamlOverride: 'steps:\n- script: echo hi\n' }, 'Payments', 41);
    assert.equal(override.finalYaml, 'steps:\n- script: echo hi\n');

    const denied = await rejection(api.preview({ previewRun: true }, 'Payments', 43));
    assert.equal(denied.statusCode, 403);
    assert.match(
      denied.message,
      /^TF215106: Access denied\. Payments Build Service \(contoso\) needs Edit build pipeline permissions for build pipeline ledger-nightly/,
    );
    assert.equal(denied.result.typeKey, 'AccessDeniedException');
    const classic = await rejection(api.preview({ previewRun: true }, 'Payments', 44));
    assert.equal(classic.statusCode, 400);
    assert.match(classic.message, /is not a YAML pipeline/);
    assert.equal(classic.result.typeKey, 'PipelineValidationException');
    assert.equal(await api.preview({ previewRun: true }, 'Payments', 999), null);
    assert.equal(e.requests.at(-1)!.status, 404);
    assert.equal((await raw(e, 'GET', 'Payments/_apis/pipelines/42/preview', { token: JOB })).status, 405);
  });

  it('task definitions: the seed catalogue (Marketplace task with contributionIdentifier), or the default Microsoft set', async () => {
    const e = await start();
    const api = taskAgent(e);
    const defs = await api.getTaskDefinitions();
    assert.deepEqual(seen(e), ['OPTIONS /contoso/_apis/distributedtask', 'GET /contoso/_apis/distributedtask/tasks'], 'one OPTIONS, org-level route');
    assert.equal(e.requests[1].apiVersion, '7.2-preview.1');
    const contoso = defs.find((d) => d.name === 'ContosoConfigPush')!;
    assert.equal(contoso.author, 'Contoso Tools');
    assert.equal(contoso.contributionIdentifier, 'contoso.tools');
    assert.deepEqual(contoso.version, { major: 1, minor: 4, patch: 2, isTest: false });
    const one = await api.getTaskDefinitions('EB72CB01-A7E5-427B-A8A1-1B31CCAC8A43');
    assert.deepEqual(
      one.map((d) => `${d.name}@${d.version!.major}`),
      ['AzureFileCopy@5', 'AzureFileCopy@6'],
    );
    // a plain GET with a released api-version, as the task sends it
    const plain = await raw(e, 'GET', '_apis/distributedtask/tasks?api-version=7.1', { token: JOB });
    assert.equal(plain.status, 200);
    assert.equal(plain.body.count, defs.length);

    await e.close();
    const e2 = await start(
      demoSeed((s) => {
        delete s.taskDefinitions;
      }),
    );
    const defaults = await taskAgent(e2).getTaskDefinitions();
    assert.deepEqual(
      defaults.map((d) => `${d.name}@${d.version!.major}`),
      [
        'AzureCLI@2',
        'AzurePowerShell@5',
        'AzureFileCopy@5',
        'AzureFileCopy@6',
        'AzureRmWebAppDeployment@4',
        'AzureResourceManagerTemplateDeployment@3',
        'CmdLine@2',
        'Bash@3',
      ],
    );
    assert.ok(defaults.every((d) => d.author === 'Microsoft Corporation' && d.serverOwned === true && d.contributionIdentifier === undefined));
  });

  it('new areas answer OPTIONS (ResourceAreas too); every impact route needs a known identity', async () => {
    const e = await start();
    const ids = async (area: string) => ((await raw(e, 'OPTIONS', `_apis/${area}`)).body.value as Array<{ id: string }>).map((l) => l.id);
    assert.ok((await ids('serviceendpoint')).includes('10a16738-9299-4cd1-9a81-fd23ad6200d0'));
    assert.deepEqual(await ids('build'), ['8baac422-4c6e-4de5-8532-db96d92acffa']);
    assert.deepEqual(await ids('pipelines'), ['53df2d18-29ea-46a9-bee0-933540f80abf']);
    assert.deepEqual(await ids('distributedtask'), ['60aac929-f0cd-4bc8-9ce4-6b30e8f1b1bd']);
    const areas = (await raw(e, 'GET', '_apis/ResourceAreas')).body.value.map((a: { name: string }) => a.name);
    assert.deepEqual(areas.sort(), ['build', 'core', 'distributedtask', 'pipelines', 'serviceendpoint']);

    const id = idOf(seed, 'prod-payments-api');
    for (const [method, route] of [
      ['GET', `Payments/_apis/serviceendpoint/${id}/executionhistory`],
      ['GET', 'Payments/_apis/build/builds/4711/Timeline'],
      ['POST', 'Payments/_apis/pipelines/41/preview'],
      ['GET', '_apis/distributedtask/tasks'],
    ]) {
      assert.equal((await raw(e, method, route, { body: method === 'POST' ? {} : undefined })).status, 401, `${method} ${route} without a token`);
      assert.equal((await raw(e, method, route, { token: 'expired-token', body: method === 'POST' ? {} : undefined })).status, 401);
    }
    for (const call of [
      () => endpoints(e, 'expired-token').getServiceEndpointExecutionRecords('Payments', id),
      () => builds(e, 'expired-token').getBuildTimeline('Payments', 4711),
      () => pipelines(e, 'expired-token').preview({ previewRun: true }, 'Payments', 41),
      () => taskAgent(e, 'expired-token').getTaskDefinitions(),
    ]) {
      assert.equal((await rejection(call())).statusCode, 401, 'a fresh client rejects on the location OPTIONS');
    }
  });
});
