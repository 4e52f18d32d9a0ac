// The Core API projects listing of the emulator (test/emulator/projects.ts) and the organization of
// test/helpers/orgSeeds.ts, driven over HTTP with node's http module: paging by $top/$skip and by
// continuationToken, stateFilter, who sees which project, an unreadable project (403 on its
// connections), a deleted one (404), connections shared across projects.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { CoreApi } from 'azure-devops-node-api/CoreApi';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import { Emulator, Seed, startEmulator } from '../emulator/server';
import { ADMIN_PAT, COLLECTION_IDENTITY, COLLECTION_TOKEN, JOB_IDENTITY, JOB_TOKEN, orgSeed } from '../helpers/orgSeeds';
import { seed as singleProjectSeed } from '../helpers/seed';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

function get(emu: Emulator, relative: string, token?: string, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${emu.url}${relative}`, { method, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
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
    });
    req.on('error', reject);
    req.end();
  });
}

const V = 'api-version=7.1';
const names = (r: Raw) => (r.body.value as Array<{ name: string }>).map((p) => p.name);

describe('Core projects listing and organization seeds (emulator, over HTTP)', function () {
  this.timeout(5000);
  let emu: Emulator | undefined;

  async function start(s: Seed): Promise<Emulator> {
    emu = await startEmulator(s);
    return emu;
  }

  afterEach(async () => {
    await emu?.close();
    emu = undefined;
  });

  it('lists the projects the collection identity sees, with the documented fields', async () => {
    const org = orgSeed({ projects: 6 });
    const e = await start(org.seed);
    const r = await get(e, `_apis/projects?stateFilter=wellFormed&${V}`, COLLECTION_TOKEN);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-ms-continuationtoken'], undefined, 'one page: no continuation token');
    assert.equal(r.body.count, 6);
    assert.deepEqual(names(r), ['Payments', 'Restricted', 'Retired', 'Shared Services', 'Team 03', 'Team 04']);
    const shared = r.body.value.find((p: { name: string }) => p.name === 'Shared Services');
    assert.deepEqual(Object.keys(shared).sort(), ['id', 'lastUpdateTime', 'name', 'revision', 'state', 'url', 'visibility']);
    assert.equal(shared.id, org.shared.id);
    assert.equal(shared.state, 'wellFormed');
    assert.equal(shared.visibility, 'public');
    assert.equal(shared.url, `${e.url}_apis/projects/${org.shared.id}`);
    const one = await get(e, `_apis/projects/${org.shared.id}?${V}`, COLLECTION_TOKEN);
    assert.equal(one.status, 200);
    assert.equal(one.body.name, 'Shared Services');
    assert.equal(e.requests.at(-1)!.identity, COLLECTION_IDENTITY);
  });

  it('pages by $top/$skip, capped by projectPageSize whatever $top asks', async () => {
    const org = orgSeed({ projects: 12, projectPageSize: 5 });
    const e = await start(org.seed);
    const seen: string[] = [];
    const sizes: number[] = [];
    for (let skip = 0; ;) {
      const r = await get(e, `_apis/projects?stateFilter=wellFormed&$top=100&$skip=${skip}&${V}`, COLLECTION_TOKEN);
      assert.equal(r.status, 200);
      sizes.push(r.body.count);
      seen.push(...names(r));
      skip += r.body.count;
      if (r.body.count < 5) {
        assert.equal(r.headers['x-ms-continuationtoken'], undefined, 'the last page has no token');
        break;
      }
    }
    assert.deepEqual(sizes, [5, 5, 2]);
    assert.equal(new Set(seen).size, 12);
    assert.deepEqual(new Set(seen), new Set(org.projects.map((p) => p.name)));
    // A $top below the cap is honoured; a skip past the end is an empty page.
    const small = await get(e, `_apis/projects?$top=3&$skip=4&${V}`, COLLECTION_TOKEN);
    assert.deepEqual(names(small), seen.slice(4, 7));
    assert.ok(small.headers['x-ms-continuationtoken']);
    const past = await get(e, `_apis/projects?$skip=50&${V}`, COLLECTION_TOKEN);
    assert.deepEqual([past.status, past.body.count, past.headers['x-ms-continuationtoken']], [200, 0, undefined]);
    assert.equal((await get(e, `_apis/projects?$top=abc&${V}`, COLLECTION_TOKEN)).status, 400);
  });

  it('pages by continuationToken (the x-ms-continuationtoken header), which replaces $skip', async () => {
    const org = orgSeed({ projects: 9, projectPageSize: 4 });
    const e = await start(org.seed);
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const q = token ? `&continuationToken=${encodeURIComponent(token)}&$skip=999` : '';
      const r = await get(e, `_apis/projects?stateFilter=wellFormed${q}&${V}`, COLLECTION_TOKEN);
      assert.equal(r.status, 200);
      pages.push(names(r));
      token = r.headers['x-ms-continuationtoken'] as string | undefined;
    } while (token);
    assert.deepEqual(
      pages.map((p) => p.length),
      [4, 4, 1],
    );
    assert.equal(new Set(pages.flat()).size, 9);
    const bad = await get(e, `_apis/projects?continuationToken=not-a-token&${V}`, COLLECTION_TOKEN);
    assert.equal(bad.status, 400);
  });

  it('azure-devops-node-api getProjects reaches the route (core area in OPTIONS and ResourceAreas) and sees no token: $top/$skip it is', async () => {
    const org = orgSeed({ projects: 7, projectPageSize: 3 });
    const e = await start(org.seed);
    const core = await get(e, '_apis/core', undefined, 'OPTIONS');
    assert.deepEqual(
      core.body.value.map((l: { id: string }) => l.id),
      ['603fe2ac-9723-48b9-88ad-09305aa6c6e1'],
    );
    assert.ok((await get(e, '_apis/ResourceAreas')).body.value.some((a: { name: string }) => a.name === 'core'));
    const api = new CoreApi(e.url, [new BearerCredentialHandler(COLLECTION_TOKEN)], { allowRetries: false });
    const all: string[] = [];
    for (let skip = 0; ; skip += 3) {
      const page = await api.getProjects(undefined, 3, skip);
      assert.ok(Array.isArray(page), 'node-api returns the value array only (the continuation token is dropped)');
      all.push(...page.map((p) => p.name!));
      if (page.length < 3) break;
    }
    assert.equal(all.length, 7);
    const listing = e.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/_apis/projects'));
    assert.equal(listing[0].apiVersion, '7.2-preview.4');
    assert.deepEqual(
      listing.map((r) => r.query.$skip),
      ['0', '3', '6'],
    );
  });

  it('stateFilter selects by state (default wellFormed; names or numbers; all)', async () => {
    const org = orgSeed({ projects: 5 });
    org.seed.projects.push({ id: '0b1c2d3e-0000-4000-8000-0000000000aa', name: 'Brand New', state: 'createPending' });
    const e = await start(org.seed);
    const list = async (q: string) => names(await get(e, `_apis/projects?${q}${V}`, COLLECTION_TOKEN));
    assert.ok(!(await list('')).includes('Brand New'), 'absent stateFilter = wellFormed');
    assert.ok(!(await list('stateFilter=wellFormed&')).includes('Brand New'));
    assert.deepEqual(await list('stateFilter=createPending&'), ['Brand New']);
    assert.deepEqual(await list('stateFilter=3&'), ['Brand New']);
    assert.equal((await list('stateFilter=All&')).length, 6);
    assert.equal((await list('stateFilter=1&')).length, 5);
    assert.equal((await get(e, `_apis/projects?stateFilter=bogus&${V}`, COLLECTION_TOKEN)).status, 400);
  });

  it('the project-scoped job identity sees only its own project; the collection identity sees all; hiddenFrom hides a project', async () => {
    const org = orgSeed({ projects: 5 });
    org.seed.projects.find((p) => p.name === 'Team 03')!.hiddenFrom = [COLLECTION_IDENTITY];
    const e = await start(org.seed);
    const scoped = await get(e, `_apis/projects?${V}`, JOB_TOKEN);
    assert.deepEqual(names(scoped), ['Payments']);
    assert.equal(e.requests.at(-1)!.identity, JOB_IDENTITY);
    const collection = await get(e, `_apis/projects?${V}`, COLLECTION_TOKEN);
    assert.deepEqual(names(collection), ['Payments', 'Restricted', 'Retired', 'Shared Services']);
    const admin = await get(e, `_apis/projects?${V}`, ADMIN_PAT);
    assert.equal(admin.body.count, 5);

    // An invisible project is 404 on its routes (the service's "does not exist, or you do not have permission").
    for (const [token, project] of [
      [JOB_TOKEN, 'Shared Services'],
      [COLLECTION_TOKEN, 'Team 03'],
    ]) {
      for (const route of [
        `${encodeURIComponent(project)}/_apis/serviceendpoint/endpoints?type=azurerm&${V}`,
        `_apis/projects/${encodeURIComponent(project)}?${V}`,
      ]) {
        const r = await get(e, route, token);
        assert.equal(r.status, 404, route);
        assert.equal(r.body.typeKey, 'ProjectDoesNotExistWithNameException');
        assert.match(r.body.message, /VS800075: .*does not exist, or you do not have permission/);
      }
    }
    assert.equal((await get(e, `Payments/_apis/serviceendpoint/endpoints?${V}`, JOB_TOKEN)).status, 200);
    assert.equal((await get(e, `_apis/projects?${V}`)).status, 401, 'no token');
  });

  it('an unreadable project is listed, but its connections are 403; a deleted one is listed, but 404', async () => {
    const org = orgSeed({ projects: 5 });
    const e = await start(org.seed);
    const listed = names(await get(e, `_apis/projects?${V}`, COLLECTION_TOKEN));
    assert.ok(listed.includes('Restricted') && listed.includes('Retired'));

    const denied = await get(e, `${org.unreadable.id}/_apis/serviceendpoint/endpoints?type=azurerm&includeFailed=true&${V}`, COLLECTION_TOKEN);
    assert.equal(denied.status, 403);
    assert.equal(denied.body.typeKey, 'AccessCheckException');
    assert.ok(denied.body.message.startsWith(`Access denied. ${COLLECTION_IDENTITY} needs View permissions`), denied.body.message);
    assert.match(denied.body.message, /project Restricted/);
    const byId = await get(e, `Restricted/_apis/serviceendpoint/endpoints/${org.connection('restricted-1').id}?${V}`, COLLECTION_TOKEN);
    assert.equal(byId.status, 403);
    assert.equal((await get(e, `_apis/projects/Restricted?${V}`, COLLECTION_TOKEN)).status, 200, 'the project itself is readable');

    for (const route of [
      `${org.deleted.id}/_apis/serviceendpoint/endpoints?type=azurerm&${V}`,
      `Retired/_apis/serviceendpoint/${org.connection('retired-1').id}/executionhistory?${V}`,
      `_apis/projects/${org.deleted.id}?${V}`,
    ]) {
      const r = await get(e, route, COLLECTION_TOKEN);
      assert.equal(r.status, 404, route);
      assert.equal(r.body.typeKey, 'ProjectDoesNotExistWithNameException');
    }
  });

  it('a connection shared across projects is listed in each with the same id, its home project reference first', async () => {
    const org = orgSeed({ projects: 6 });
    const e = await start(org.seed);
    const hub = org.connection('hub');
    assert.equal(hub.home, org.shared);
    const readable = org.projects.filter((p) => !p.unreadable && !p.deleted);
    for (const p of readable) {
      const r = await get(e, `${p.id}/_apis/serviceendpoint/endpoints?type=azurerm&includeFailed=true&${V}`, COLLECTION_TOKEN);
      assert.equal(r.status, 200, p.name);
      const ids = (r.body.value as Array<{ id: string }>).map((x) => x.id).sort();
      assert.deepEqual(
        ids,
        org
          .inProject(p.id)
          .map((c) => c.id)
          .sort(),
        `${p.name} lists exactly the connections referencing it`,
      );
      const listedHub = r.body.value.find((x: { id: string }) => x.id === hub.id);
      assert.ok(listedHub, `${p.name} lists hub`);
      assert.equal(listedHub.isShared, true);
      const refs = listedHub.serviceEndpointProjectReferences.map((x: { projectReference: { id: string } }) => x.projectReference.id);
      assert.equal(refs[0], org.shared.id, 'home first');
      assert.deepEqual(
        refs,
        hub.projects.map((x) => x.id),
      );
    }
    const payments = (await get(e, `Payments/_apis/serviceendpoint/endpoints?${V}`, JOB_TOKEN)).body.value.map((x: { name: string }) => x.name).sort();
    assert.deepEqual(payments, ['hub', 'payments-1', 'payments-2', 'payments-shared', 'restricted-shared', 'retired-shared']);
    // Homes in the unreadable and the deleted project, shared into Payments.
    assert.equal(org.connection('restricted-shared').home, org.unreadable);
    assert.equal(org.connection('retired-shared').home, org.deleted);
  });

  it('existing seeds are unchanged: every identity sees every project', async () => {
    const e = await start(singleProjectSeed([{ name: 'one' }]));
    const r = await get(e, `_apis/projects?${V}`, JOB_TOKEN);
    assert.deepEqual(names(r), ['Payments', 'Shared Services']);
    assert.equal((await get(e, `Shared Services/_apis/serviceendpoint/endpoints?${V}`.replace(' ', '%20'), JOB_TOKEN)).status, 200);
  });

  it('rejects invalid project knobs in a seed', async () => {
    const base = orgSeed({ projects: 4 }).seed;
    const bad = (change: (s: any) => void) => {
      const s = JSON.parse(JSON.stringify(base));
      change(s);
      return startEmulator(s);
    };
    await assert.rejects(
      bad((s) => (s.projectPageSize = 0)),
      /projectPageSize/,
    );
    await assert.rejects(
      bad((s) => (s.projects[0].state = 'gone')),
      /state must be one of/,
    );
    await assert.rejects(
      bad((s) => (s.projects[0].hiddenFrom = 'x')),
      /hiddenFrom/,
    );
    await assert.rejects(
      bad((s) => (s.projects[1].id = s.projects[0].id)),
      /duplicate project id/,
    );
    await assert.rejects(
      bad((s) => (s.identities[0].projects = [1])),
      /projects must be an array/,
    );
  });
});
