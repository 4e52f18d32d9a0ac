// The adapters of the issuer move, in process against the emulators: EntraClient's Azure Resource
// Manager calls (user-assigned managed identities and their federated credentials, test/emulator/arm.ts)
// and its Azure DevOps token, and ServiceClient's listing of every type and the migration request
// (test/emulator/migration.ts) with the Entra token as its only credential. HTTPS hosts are trusted
// through the clients' own `cert: { caFile }` option; the Azure DevOps emulator is plain HTTP.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EntraClient } from '../../tasks/ConvertToWif/src/adapters/entraClient';
import { Pacer } from '../../tasks/ConvertToWif/src/adapters/pacer';
import { ServiceClient } from '../../tasks/ConvertToWif/src/adapters/serviceClient';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import type { Clock, EntraSettings } from '../../tasks/ConvertToWif/src/core/ports';
import { startEntraWorld, type EntraWorld } from '../emulator/entraWorld';
import { startEmulator, type Emulator, type MigrationMode, type Seed } from '../emulator/server';
import { directoryOf } from '../helpers/agent';
import { PROJECT } from '../helpers/endpoints';
import { AUDIENCE, MIG, azureDevOpsIssuer, entraIssuer, issuerMigrationSeed } from '../helpers/issuerSeeds';
import { otherHost } from '../helpers/otherHost';
import { JOB_IDENTITY, JOB_TOKEN, ORG } from '../helpers/seed';
import { recordingClock } from '../helpers/memory';

const SUB = MIG.SUBSCRIPTION;
const OTHER_SUB = '3c1d2e4f-0000-4000-8000-00000000ab09';
const UNKNOWN_SUB = '3c1d2e4f-0000-4000-8000-00000000ab0f';
const miId = (m: { subscriptionId: string; resourceGroup: string; name: string }) =>
  `/subscriptions/${m.subscriptionId}/resourcegroups/${m.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${m.name}`;
const extraMi = (i: number, o: { subscriptionId?: string; readers?: string[] } = {}) => ({
  subscriptionId: o.subscriptionId ?? SUB,
  resourceGroup: 'more',
  name: `extra-mi-${i}`,
  clientId: `9d0e1f2a-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`,
  principalId: `9d0e1f2a-0000-4000-8000-0000000002${String(i).padStart(2, '0')}`,
  readers: o.readers ?? [MIG.MIGRATOR.clientId],
});

/** The ready world, with ARM pages of one identity, three more identities in the subscription, and a subscription whose identities the migrator may not read. */
function worldSeed(migration: MigrationMode = 'switches'): Seed {
  const s = issuerMigrationSeed({ migration });
  s.entra!.armPageSize = 1;
  s.entra!.tenants[0].managedIdentities!.push(extraMi(1), extraMi(2), extraMi(3), extraMi(9, { subscriptionId: OTHER_SUB, readers: [] }));
  return s;
}

const fakeClock = recordingClock;

let world: EntraWorld;
/** Whether this test started a world (afterEach closes it). */
let started = false;
let emu: Emulator | undefined;
let masked: Set<string>;
let failures: ServiceError[];

async function start(s: Seed, withAzureDevOps = false): Promise<void> {
  if (withAzureDevOps) {
    emu = await startEmulator(s);
    world = await startEntraWorld(s, { azureDevOps: emu });
    emu.attachDirectory(directoryOf(world));
  } else world = await startEntraWorld(s);
  started = true;
}

function entra(extra: { clock?: Clock; pacer?: Pacer; debug?: (m: string) => void } = {}): EntraClient {
  const settings: EntraSettings = {
    connectionId: 'c0000000-0000-4000-8000-0000000000ff',
    tenantId: MIG.TENANT,
    clientId: MIG.MIGRATOR.clientId,
    credential: { kind: 'secret', secret: MIG.MIGRATOR.secret },
    authorityUrl: world.authorityUrl,
    graphUrl: world.graphUrl,
    armUrl: world.armUrl,
    concurrency: 4,
  };
  return new EntraClient({
    settings,
    clock: extra.clock ?? fakeClock(),
    pacer: extra.pacer,
    secret: (v) => masked.add(v),
    cert: { caFile: world.caFile },
    debug: extra.debug,
    requestTimeoutMs: 10_000,
  });
}

function azureDevOps(url: string, clock: Clock = fakeClock(), debug?: (m: string) => void): ServiceClient {
  return new ServiceClient({ collectionUrl: url, projectId: PROJECT.name, token: JOB_TOKEN, clock, maxInFlight: 4, requestTimeoutMs: 10_000, debug });
}

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

const armRequests = () => world.hosts.arm.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
const tokenScopes = () => world.hosts.entra.requests.map((r) => (r.body as Record<string, string>).scope);
const input = (name: string) => `sc://${ORG.name}/${PROJECT.name}/${name}`;

describe('issuer-move adapters: ARM through EntraClient, the migration request through ServiceClient', function () {
  this.timeout(30000);
  beforeEach(() => {
    masked = new Set();
    failures = [];
    emu = undefined;
    started = false;
  });
  afterEach(async () => {
    await emu?.close();
    if (started) await world.close();
    for (const f of failures) for (const m of masked) assert.ok(!f.message.includes(m), `a failure's message carries a masked value: ${f.message}`);
  });

  describe('Azure Resource Manager', () => {
    beforeEach(() => start(worldSeed()));

    it('findManagedIdentity: across pages by client id (any case), one ARM token for the run; not found → null', async () => {
      const c = entra();
      const found = await c.findManagedIdentity(SUB.toUpperCase(), extraMi(3).clientId.toUpperCase());
      assert.deepEqual(found, {
        resourceId: miId(extraMi(3)),
        subscriptionId: SUB,
        resourceGroup: 'more',
        name: 'extra-mi-3',
        clientId: extraMi(3).clientId,
        principalId: extraMi(3).principalId,
        tenantId: MIG.TENANT,
      });
      const pages = world.hosts.arm.requests;
      assert.equal(pages.length, 5, 'five pages of one identity: the fifth holds it');
      assert.ok(pages.slice(1).every((r) => r.query.$skiptoken && r.query['api-version'] === '2023-01-31'));
      assert.equal(await c.findManagedIdentity(SUB, '9d0e1f2a-0000-4000-8000-00000000ffff'), null);
      assert.equal(world.hosts.arm.requests.length, 10, 'every page read before "none"');
      assert.equal((await c.findManagedIdentity(SUB, MIG.MI_WRITABLE.clientId))?.name, 'deploy-mi');
      await c.managedIdentityCredentials(found.resourceId);
      assert.deepEqual(tokenScopes(), [`${world.armUrl}.default`], 'one ARM token, no Graph token');
      assert.equal([...masked].filter((v) => world.directory.token(v)?.resource === 'arm').length, 1, 'the ARM token is masked');
      await assert.rejects(c.findManagedIdentity('not-a-guid', MIG.MI_WRITABLE.clientId), RangeError);
      await assert.rejects(c.findManagedIdentity(SUB, "x'/../.."), RangeError);
    });

    it('findManagedIdentity: 403 AuthorizationFailed and 404 SubscriptionNotFound throw with ARM code and service arm', async () => {
      const c = entra();
      const denied = await failure(c.findManagedIdentity(OTHER_SUB, extraMi(9).clientId));
      assert.deepEqual([denied.service, denied.status, denied.code], ['arm', 403, 'AuthorizationFailed']);
      assert.match(denied.message, /does not have authorization to perform action/);
      const missing = await failure(c.findManagedIdentity(UNKNOWN_SUB, extraMi(9).clientId));
      assert.deepEqual([missing.service, missing.status, missing.code], ['arm', 404, 'SubscriptionNotFound']);
      assert.equal(world.hosts.arm.requests.length, 2, 'a 4xx is not retried');
    });

    it('credentials: list, PUT 201 then 200 (same name and body), bad name and bad resource id refused before sending, 403 and 404 with codes', async () => {
      const c = entra();
      const id = miId(MIG.MI_WRITABLE);
      const before = await c.managedIdentityCredentials(id);
      assert.deepEqual(
        before.map((f) => [f.id, f.name, f.issuer, f.audiences]),
        [[`${id}/federatedIdentityCredentials/azdo-issuer`, 'azdo-issuer', azureDevOpsIssuer(), [AUDIENCE]]],
      );
      const target = entraIssuer(MIG.TENANT, MIG.EP.MI);
      const credential = { name: 'ConvertToWif-entra', ...target, audiences: [AUDIENCE] };
      const created = await c.putManagedIdentityCredential(id, credential);
      assert.deepEqual(created, { id: `${id}/federatedIdentityCredentials/ConvertToWif-entra`, ...credential });
      assert.deepEqual(await c.putManagedIdentityCredential(id, credential), created);
      assert.deepEqual(armRequests().slice(-2), [
        `PUT ${id}/federatedIdentityCredentials/ConvertToWif-entra 201`,
        `PUT ${id}/federatedIdentityCredentials/ConvertToWif-entra 200`,
      ]);
      assert.deepEqual(world.hosts.arm.requests.at(-1)!.body, { properties: { issuer: target.issuer, subject: target.subject, audiences: [AUDIENCE] } });
      assert.equal(world.isUsable(MIG.MI_WRITABLE.clientId, target.issuer, target.subject), true);
      assert.equal((await c.managedIdentityCredentials(id)).length, 2);

      const n = world.hosts.arm.requests.length;
      for (const name of ['ab', 'has space', '-leading', 'x'.repeat(121), '../../x']) {
        await assert.rejects(c.putManagedIdentityCredential(id, { ...credential, name }), RangeError, name);
      }
      for (const bad of [
        `${id}/../../other`,
        `${id}?x=1`,
        id.replace('Microsoft.ManagedIdentity', 'Microsoft.Compute'),
        id.replace(SUB, 'not-a-subscription'),
        id.slice(1),
      ]) {
        await assert.rejects(c.managedIdentityCredentials(bad), RangeError, bad);
        await assert.rejects(c.putManagedIdentityCredential(bad, credential), RangeError, bad);
      }
      assert.equal(world.hosts.arm.requests.length, n, 'nothing sent');

      const locked = await failure(c.putManagedIdentityCredential(miId(MIG.MI_READONLY), credential));
      assert.deepEqual([locked.service, locked.status, locked.code], ['arm', 403, 'AuthorizationFailed']);
      assert.match(locked.message, /federatedIdentityCredentials\/write/);
      const gone = await failure(c.managedIdentityCredentials(miId({ ...MIG.MI_WRITABLE, name: 'no-such-mi' })));
      assert.deepEqual([gone.status, gone.code], [404, 'ResourceNotFound']);
      const noGroup = await failure(c.putManagedIdentityCredential(miId({ ...MIG.MI_WRITABLE, resourceGroup: 'nowhere' }), credential));
      assert.deepEqual([noGroup.status, noGroup.code], [404, 'ResourceGroupNotFound']);
    });

    it('429 with Retry-After honoured and the shared pacer slowed; the idempotent PUT is resent on a 5xx, a 4xx is not', async () => {
      const clock = fakeClock();
      const pacer = new Pacer(4);
      const c = entra({ clock, pacer });
      world.hosts.arm.addFault({ status: 429, headers: { 'Retry-After': '3' }, method: 'GET' });
      assert.equal((await c.findManagedIdentity(SUB, MIG.MI_WRITABLE.clientId))?.name, 'deploy-mi');
      assert.equal(clock.sleeps.length, 1);
      assert.ok(clock.sleeps[0] >= 3000 * 0.8 && clock.sleeps[0] <= 3000 * 1.2, String(clock.sleeps[0]));
      assert.equal(pacer.inFlightLimit, 2);
      const id = miId(MIG.MI_WRITABLE);
      const credential = { name: 'after-503', issuer: 'https://login.microsoftonline.com/t/v2.0', subject: 's1', audiences: [AUDIENCE] };
      world.hosts.arm.addFault({ status: 503, method: 'PUT' });
      await c.putManagedIdentityCredential(id, credential);
      assert.equal(clock.sleeps.length, 2);
      assert.deepEqual(
        world.hosts.arm.requests.filter((r) => r.method === 'PUT').map((r) => r.status),
        [503, 201],
      );
      // A duplicate issuer + subject under another name: 409 Conflict, not resent.
      const dup = await failure(c.putManagedIdentityCredential(id, { ...credential, name: 'twin' }));
      assert.deepEqual([dup.status, dup.code], [409, 'Conflict']);
      assert.equal(clock.sleeps.length, 2);
    });

    it('a next page on another origin or another list is not read, and the token goes nowhere else; a redirect is refused', async () => {
      const other = await otherHost();
      try {
        const c = entra();
        const list = `/subscriptions/${SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`;
        world.hosts.arm.addFault({ status: 200, path: list, body: JSON.stringify({ value: [], nextLink: `${other.origin}${list}?api-version=2023-01-31` }) });
        const e = await failure(c.findManagedIdentity(SUB, MIG.MI_WRITABLE.clientId));
        assert.equal(e.service, 'arm');
        assert.match(e.message, /not of the same list/);
        world.hosts.arm.addFault({
          status: 200,
          path: list,
          body: JSON.stringify({ value: [], nextLink: `${world.armUrl}subscriptions/${OTHER_SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities` }),
        });
        assert.match((await failure(c.findManagedIdentity(SUB, MIG.MI_WRITABLE.clientId))).message, /not of the same list/);
        world.hosts.arm.addFault({ status: 307, headers: { Location: `${other.origin}${list}` } });
        const r = await failure(c.findManagedIdentity(SUB, MIG.MI_WRITABLE.clientId));
        assert.deepEqual([r.service, r.redirectTo], ['arm', other.origin]);
        assert.equal(other.hits(), 0);
        assert.equal(other.sawAuthorization(), false);
      } finally {
        await other.close();
      }
    });

    it('hostile answers: not JSON, an identity without a usable id, unreadable entries, huge strings', async () => {
      const clock = fakeClock();
      const c = entra({ clock });
      world.hosts.arm.addFault({ status: 200, body: 'hello', count: 4 });
      const e = await failure(c.findManagedIdentity(SUB, MIG.MI_WRITABLE.clientId));
      assert.deepEqual([e.service, e.garbled], ['arm', true]);
      assert.equal(clock.sleeps.length, 3, 'a read is retried on a garbled answer');
      const entry = (o: Record<string, unknown>) => JSON.stringify({ value: [o] });
      world.hosts.arm.addFault({
        status: 200,
        body: entry({ id: '/subscriptions/x/../../../evil', properties: { clientId: MIG.MI_WRITABLE.clientId } }),
        count: 4,
      });
      assert.equal((await failure(c.findManagedIdentity(SUB, MIG.MI_WRITABLE.clientId))).garbled, true, 'the match has no usable resource id');
      world.hosts.arm.addFault({ status: 200, body: entry({ id: 7, properties: { clientId: ['x'] } }), count: 4 });
      assert.equal((await failure(c.findManagedIdentity(SUB, MIG.MI_WRITABLE.clientId))).garbled, true, 'an unreadable entry may be the one asked for');
      world.hosts.arm.addFault({
        status: 200,
        path: '/federatedIdentityCredentials',
        body: entry({
          id: 'i'.repeat(100_000),
          name: 'n'.repeat(100_000),
          properties: { issuer: 'https://x/', subject: 's'.repeat(100_000), audiences: [1, AUDIENCE] },
        }),
      });
      const [f] = await c.managedIdentityCredentials(miId(MIG.MI_WRITABLE));
      assert.deepEqual([f.id.length, f.name.length, f.subject.length, f.audiences], [1000, 200, 1000, [AUDIENCE]]);
    });
  });

  describe('Azure DevOps: listing every type and the migration request', () => {
    it('the Entra token for Azure DevOps moves the connection (200); read back on the Entra issuer; each token only where it belongs', async () => {
      await start(worldSeed(), true);
      const e = entra();
      const ado = azureDevOps(emu!.url);
      const app = await e.findApp(MIG.APP_DOCKER.appId);
      const target = entraIssuer(MIG.TENANT, MIG.EP.DOCKER);
      await e.addCredential(app!.objectId, { name: 'ConvertToWif-entra', ...target, audiences: [AUDIENCE] });
      const bearer = await e.azureDevOpsToken();
      assert.ok(masked.has(bearer), 'masked by EntraClient');
      assert.equal(tokenScopes().at(-1), '499b84ac-1321-427f-aa17-267ca6975798/.default');
      assert.deepEqual(await ado.requestIssuerMigration(input('acr-push'), bearer), { status: 200 });
      const read = (await ado.get(MIG.EP.DOCKER))?.authorization?.parameters ?? {};
      assert.deepEqual(
        [read.workloadidentityfederationissuer, read.workloadidentityfederationsubject, read.workloadidentityfederationissuertype],
        [target.issuer, target.subject, 'EntraID'],
      );
      await ado.list({ allTypes: true });
      const recs = emu!.requests;
      const migration = recs.filter((r) => r.path.endsWith('/externalfederatedcredentialmigration'));
      assert.equal(migration.length, 1);
      assert.equal(migration[0].identity, `Entra ${MIG.MIGRATOR.clientId} (tenant ${MIG.TENANT})`, 'the emulator saw the Entra token, not the job token');
      assert.equal(migration[0].apiVersion, '7.2-preview.1');
      assert.deepEqual(migration[0].body, { serviceConnectionInput: input('acr-push') });
      const others = recs.filter((r) => !migration.includes(r));
      assert.ok(others.length >= 2);
      assert.ok(
        others.every((r) => r.identity === JOB_IDENTITY),
        'every other route got the job token',
      );
    });

    it('raw headers: one Authorization on the migration request (the Entra token), the job token on the others', async () => {
      const seen: Array<{ path: string; auth: string[] }> = [];
      const server = http.createServer((req, res) => {
        const auth: string[] = [];
        for (let i = 0; i < req.rawHeaders.length; i += 2) if (/^authorization$/i.test(req.rawHeaders[i])) auth.push(req.rawHeaders[i + 1]);
        seen.push({ path: (req.url ?? '').split('?')[0], auth });
        req.resume();
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"count":0,"value":[]}');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const ado = azureDevOps(`http://127.0.0.1:${(server.address() as AddressInfo).port}/contoso/`);
        await ado.list();
        assert.deepEqual(await ado.requestIssuerMigration(input('acr-push'), 'entra.token.value'), { status: 200 });
        await ado.manageableIds({ allTypes: true });
        assert.deepEqual(seen, [
          { path: `/contoso/${PROJECT.name}/_apis/serviceendpoint/endpoints`, auth: [`Bearer ${JOB_TOKEN}`] },
          { path: '/contoso/_apis/public/serviceendpoint/externalfederatedcredentialmigration', auth: ['Bearer entra.token.value'] },
          { path: `/contoso/${PROJECT.name}/_apis/serviceendpoint/endpoints`, auth: [`Bearer ${JOB_TOKEN}`] },
        ]);
        await assert.rejects(ado.requestIssuerMigration(input('acr-push'), 'two words'), RangeError);
        await assert.rejects(ado.requestIssuerMigration(input('acr-push'), 'x\r\nX-Evil: 1'), RangeError);
        assert.equal(seen.length, 3);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });

    for (const mode of ['404', '403', '500'] as MigrationMode[]) {
      it(`migration '${mode}': throws with the status and the service's message, sent once, nothing changed`, async () => {
        await start(worldSeed(mode), true);
        const clock = fakeClock();
        const ado = azureDevOps(emu!.url, clock);
        const bearer = await entra().azureDevOpsToken();
        const f = await failure(ado.requestIssuerMigration(input('acr-push'), bearer));
        assert.equal(f.status, Number(mode));
        assert.equal(f.service, undefined, 'an Azure DevOps failure');
        assert.equal(f.typeKey, { '404': 'NotFoundException', '403': 'AccessCheckException', '500': 'InternalServerError' }[mode as '404' | '403' | '500']);
        assert.ok(f.message.length > 0 && !/^HTTP \d+$/.test(f.message), f.message);
        assert.equal(emu!.requests.filter((r) => r.path.endsWith('/externalfederatedcredentialmigration')).length, 1, 'not retried');
        assert.equal(clock.sleeps.length, 0);
        assert.equal((emu!.endpoint(MIG.EP.DOCKER)!.authorization as any).parameters.workloadIdentityFederationIssuer, azureDevOpsIssuer());
      });
    }

    it('migration: a 429 is waited out and resent; the job token is refused (401); an echoed Entra token is scrubbed', async () => {
      await start(worldSeed(), true);
      const clock = fakeClock();
      const debug: string[] = [];
      const ado = azureDevOps(emu!.url, clock, (m) => debug.push(m));
      const e = entra();
      const bearer = await e.azureDevOpsToken();
      emu!.addFault({ path: '/externalfederatedcredentialmigration', status: 429, headers: { 'Retry-After': '2' } });
      // Without the Entra credential on the app the route answers 400 (AADSTS700211): a failure, not retried.
      const refused = await failure(ado.requestIssuerMigration(input('acr-push'), bearer));
      assert.equal(refused.status, 400);
      assert.match(refused.message, /AADSTS700211/);
      assert.equal(clock.sleeps.length, 1);
      assert.ok(clock.sleeps[0] >= 1600 && clock.sleeps[0] <= 2400, String(clock.sleeps[0]));
      assert.deepEqual(
        emu!.requests.filter((r) => r.path.endsWith('/externalfederatedcredentialmigration')).map((r) => r.status),
        [429, 400],
      );
      assert.equal((await failure(ado.requestIssuerMigration(input('acr-push'), JOB_TOKEN))).status, 401, 'the job token opens nothing there');
      emu!.addFault({
        path: '/externalfederatedcredentialmigration',
        status: 429,
        headers: { 'Retry-After': '0' },
        body: JSON.stringify({ message: `slow down ${bearer}` }),
      });
      emu!.addFault({ path: '/externalfederatedcredentialmigration', status: 400, body: JSON.stringify({ message: `bad token ${bearer}!` }) });
      const echoed = await failure(ado.requestIssuerMigration(input('acr-push'), bearer));
      assert.equal(echoed.message, 'bad token ***!');
      for (const line of debug) assert.ok(!line.includes(bearer), line);
      assert.ok(debug.some((l) => l.includes('slow down ***')));
    });

    it('list and manageableIds with allTypes name no type (every connection type); without it only azurerm', async () => {
      await start(worldSeed(), true);
      const ado = azureDevOps(emu!.url);
      const all = await ado.list({ allTypes: true });
      const types = Object.fromEntries(all.endpoints.map((x) => [x.name, x.type]));
      assert.deepEqual(types, {
        'acr-push': 'dockerregistry',
        'contoso-cloud-old': 'contoso-cloud',
        'contoso-cloud-new': 'contoso-cloud',
        'mi-deploy': 'azurerm',
        'mi-locked': 'azurerm',
        'aws-deploy': 'AWS',
      });
      assert.equal(all.malformed, 0);
      const azurerm = await ado.list();
      assert.deepEqual(azurerm.endpoints.map((x) => x.name).sort(), ['mi-deploy', 'mi-locked']);
      const manageable = await ado.manageableIds({ allTypes: true });
      assert.ok(manageable.has(MIG.EP.DOCKER) && manageable.has(MIG.EP.AWS), [...manageable].join());
      assert.ok(!(await ado.manageableIds()).has(MIG.EP.DOCKER));
      const queries = emu!.requests.filter((r) => r.path.endsWith('/serviceendpoint/endpoints')).map((r) => r.query);
      assert.deepEqual(
        queries.map((q) => [q.type, q.includeFailed, q.actionFilter]),
        [
          [undefined, 'true', undefined],
          ['azurerm', 'true', undefined],
          [undefined, 'true', 'manage'],
          ['azurerm', 'true', 'manage'],
        ],
      );
    });
  });
});
