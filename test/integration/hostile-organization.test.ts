// Hostile answers to organization-wide runs (input `projects`) of the PACKAGED task against the
// loopback emulator, with a hostile HTTP proxy in front of it (127.0.0.1 only) that can rewrite or
// replace any answer, hold back answers, and measure the conversion PUTs in flight. Written as an
// adversarial try of 1.4.0; the scenarios that found defects (a token cut at a message's length
// limit, a connection naming no home project, a flood of warnings) stay as regression tests.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { Report } from '../../tasks/ConvertToWif/src/core/report';
import { Emulator, Seed, startEmulator } from '../emulator/server';
import { allOutput } from '../helpers/harness';
import { COLLECTION_IDENTITY, COLLECTION_TOKEN, ORG, orgSeed } from '../helpers/orgSeeds';
import { packagedEntry } from '../helpers/packaged';
import { PROJECT } from '../helpers/endpoints';
import { runTask, TaskRun } from '../helpers/runTask';
import { SeedEndpoint, seed } from '../helpers/seed';

type Answer = { status: number; headers?: Record<string, string>; body: string };
interface Hook {
  /** Answer instead of the emulator. */
  intercept?: (method: string, path: string, query: URLSearchParams, n: number) => Answer | undefined;
  /** Rewrite the emulator's answer body. */
  rewrite?: (method: string, path: string, query: URLSearchParams, status: number, body: string) => string | undefined;
  /** Hold the answer this many ms (after the emulator applied the request). */
  holdMs?: (method: string, path: string) => number;
}

/** A transparent proxy in front of the emulator. */
class HostileProxy {
  url = '';
  private server!: http.Server;
  hook: Hook = {};
  inFlightPuts = 0;
  maxInFlightPuts = 0;
  private counts = new Map<string, number>();
  private sockets = new Set<import('node:net').Socket>();
  constructor(private readonly target: URL) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const port = (this.server.address() as { port: number }).port;
    this.url = `http://127.0.0.1:${port}${this.target.pathname}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const u = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(u.pathname);
    const method = (req.method ?? 'GET').toUpperCase();
    const key = `${method} ${path}`;
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    const isPut = method === 'PUT';
    if (isPut) {
      this.inFlightPuts++;
      this.maxInFlightPuts = Math.max(this.maxInFlightPuts, this.inFlightPuts);
    }
    try {
      const own = this.hook.intercept?.(method, path, u.searchParams, n);
      let answer: Answer;
      if (own) answer = own;
      else {
        answer = await new Promise<Answer>((resolve, reject) => {
          const headers = { ...req.headers, host: this.target.host };
          const out = http.request({ host: this.target.hostname, port: this.target.port, method, path: req.url, headers, agent: false }, (r) => {
            const body: Buffer[] = [];
            r.on('data', (d: Buffer) => body.push(d));
            r.on('end', () => {
              const h: Record<string, string> = {};
              for (const [k, v] of Object.entries(r.headers))
                if (typeof v === 'string' && !['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(k)) h[k] = v;
              resolve({ status: r.statusCode ?? 502, headers: h, body: Buffer.concat(body).toString('utf8') });
            });
            r.on('error', reject);
          });
          out.on('error', reject);
          out.end(Buffer.concat(chunks));
        });
        const rewritten = this.hook.rewrite?.(method, path, u.searchParams, answer.status, answer.body);
        if (rewritten !== undefined) answer.body = rewritten;
      }
      const hold = this.hook.holdMs?.(method, path) ?? 0;
      if (hold) await new Promise((r) => setTimeout(r, hold));
      if (res.destroyed) return;
      const headers = { 'Content-Type': 'application/json; charset=utf-8', ...(answer.headers ?? {}) };
      res.writeHead(answer.status, { ...headers, 'Content-Length': String(Buffer.byteLength(answer.body)) });
      res.end(answer.body);
    } catch {
      res.destroy();
    } finally {
      if (isPut) this.inFlightPuts--;
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const COLLECTION_ID = ORG.id;
const json = (v: unknown) => JSON.stringify(v);
const projectsPath = (p: string) => p === '/contoso/_apis/projects';
const listingOf = (p: string, projectId: string) => p === `/contoso/${projectId}/_apis/serviceendpoint/endpoints`;
const gid = (n: number, prefix = '0b1c2d3e-0000-4000-9000-') => `${prefix}${String(n).padStart(12, '0')}`;

interface Ctx {
  emu: Emulator;
  proxy: HostileProxy;
}
const open: Ctx[] = [];
const temps: string[] = [];
async function world(s: Seed, latencyMs = 0): Promise<Ctx> {
  const emu = await startEmulator(s, { latencyMs });
  const proxy = new HostileProxy(new URL(emu.url));
  await proxy.start();
  const c = { emu, proxy };
  open.push(c);
  return c;
}

let entry: string;
async function run(
  c: Ctx,
  inputs: Record<string, string>,
  o: { token?: string; signalAfterMs?: { signal: NodeJS.Signals; afterMs: number }; timeoutMs?: number } = {},
) {
  const first = c.emu.requests.length;
  const r: TaskRun = await runTask({
    entry,
    inputs: { waitTimeoutSeconds: '20', ...inputs },
    collectionUri: c.proxy.url,
    projectId: PROJECT.id,
    projectName: PROJECT.name,
    jobToken: o.token ?? COLLECTION_TOKEN,
    env: { SYSTEM_COLLECTIONID: COLLECTION_ID },
    signalAfterMs: o.signalAfterMs,
    timeoutMs: o.timeoutMs ?? 110_000,
  });
  temps.push(r.tempDir);
  const report = r.report as Report | undefined;
  const requests = c.emu.requests.slice(first);
  const puts = requests.filter((q) => q.method === 'PUT');
  const summary = r.summaryPath && fs.existsSync(r.summaryPath) ? fs.readFileSync(r.summaryPath, 'utf8') : '';
  return {
    run: r,
    report,
    requests,
    puts,
    summary,
    byName: (n: string) => report?.connections.find((x) => x.name === n),
    putIds: puts.map((p) => String((p.body as { id?: string })?.id).toLowerCase()),
  };
}

/** A simple organization: the collection identity administers everything. */
function simpleSeed(projects: Array<{ id: string; name: string; hiddenFrom?: string[] }>, endpoints: SeedEndpoint[], extra: Partial<Seed> = {}): Seed {
  return seed(
    endpoints.map((e) => ({ ...e, emulator: { federatedCredential: true, ...(e.emulator ?? {}) } })),
    {
      projects,
      identities: [{ token: COLLECTION_TOKEN, name: COLLECTION_IDENTITY, kind: 'service' }],
      defaultAdministrators: [COLLECTION_IDENTITY],
      ...extra,
    },
  );
}

/** No substring of the token of 12 or more characters anywhere the task wrote. */
function assertNoTokenFragment(r: TaskRun, token = COLLECTION_TOKEN): void {
  const out = allOutput(r);
  const summary = r.summaryPath && fs.existsSync(r.summaryPath) ? fs.readFileSync(r.summaryPath, 'utf8') : '';
  const where = (f: string) =>
    [
      ['stdout', r.stdout.replace(/##vso\[task\.setsecret\][^\n]*/g, '')],
      ['stderr', r.stderr],
      ['summary', summary],
      ['report', JSON.stringify(r.report ?? {})],
    ]
      .filter(([, v]) => v.includes(f))
      .map(([k]) => k)
      .join(',');
  for (let len = 12; len <= token.length; len++)
    for (let i = 0; i + len <= token.length; i++) {
      const frag = token.slice(i, i + len);
      assert.ok(
        !out.includes(frag),
        `a fragment of the token (${len} chars, '${frag}') was printed in [${where(frag)}]: …${out.slice(Math.max(0, out.indexOf(frag) - 80), out.indexOf(frag) + len + 20)}…`,
      );
    }
}

describe('ADVERSARIAL organization-wide runs (packaged task, hostile proxy)', function () {
  this.timeout(240_000);
  before(async () => {
    entry = await packagedEntry();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) {
      await c.proxy.close();
      await c.emu.close();
    }
    for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true });
  });

  // ---------------------------------------------------------------------------------------------
  it('S01 hostile project names (##vso, line breaks, HTML, markdown, 256 chars) never become commands or markup', async () => {
    const names = [
      'Evil ##vso[task.setvariable variable=pwnedProject]1',
      'Line\n##vso[task.complete result=Failed;]owned',
      'CR\r##vso[task.setvariable variable=pwnedCr]1',
      '<img src=x onerror=alert(1)> | `tick` *bold* [link](http://evil.example)',
      'L'.repeat(256),
    ];
    const projects = [{ ...PROJECT }, ...names.map((name, i) => ({ id: gid(i + 10), name }))];
    const eps: SeedEndpoint[] = projects.map((p, i) => ({
      id: gid(i + 1, '0e0a0000-0000-4000-9000-'),
      name: `conn-${i}`,
      projects: [{ id: p.id, name: p.name }],
    }));
    const c = await world(simpleSeed(projects, eps));
    const t = await run(c, { projects: '*' });
    assert.equal(t.run.variables['pwnedProject'], undefined, 'injected variable');
    assert.equal(t.run.variables['pwnedCr'], undefined, 'injected variable (CR)');
    assert.equal(t.run.result?.result, 'Succeeded', `${t.run.result?.message}\n${t.run.stdout.slice(-3000)}`);
    for (const line of t.run.stdout.split('\n')) {
      const at = line.indexOf('##vso[');
      if (at >= 0)
        assert.ok(!/pwned|owned/.test(line.slice(at, at + 60)) || line.includes('##vso[task.debug'), `a line the agent would act on: ${line.slice(0, 200)}`);
    }
    assert.ok(!/<img/i.test(t.summary), 'raw <img in the summary');
    assert.equal(t.report!.projects.length, projects.length);
    for (const n of names)
      assert.ok(
        t.report!.projects.some((p) => p.name === n),
        `report keeps name ${JSON.stringify(n.slice(0, 40))}`,
      );
    for (let i = 0; i < eps.length; i++) assert.equal(t.byName(`conn-${i}`)?.outcome, 'converted', `conn-${i}`);
    assert.equal(t.puts.length, eps.length);
  });

  // ---------------------------------------------------------------------------------------------
  it('S02 the projects listing names one project twice (same id, other case, other names): listed and converted once', async () => {
    const org = orgSeed({ emulator: { federatedCredential: true } });
    const c = await world(org.seed);
    c.proxy.hook.rewrite = (m, p, _q, status, body) => {
      if (m !== 'GET' || !projectsPath(p) || status !== 200) return undefined;
      const b = JSON.parse(body) as { value: Array<{ id: string; name: string }>; count: number };
      b.value.push({ ...b.value[0], name: 'Impostor' }, { ...b.value[0], id: b.value[0].id.toUpperCase(), name: 'Impostor 2' });
      b.count = b.value.length;
      return json(b);
    };
    const t = await run(c, { projects: '*', skipShared: 'false' });
    const ids = t.report!.projects.map((p) => p.id.toLowerCase());
    assert.equal(new Set(ids).size, ids.length, `a project twice in the report: ${json(t.report!.projects.map((p) => p.name))}`);
    assert.ok(!t.report!.projects.some((p) => /Impostor/.test(p.name)), 'an impostor name was used');
    assert.equal(new Set(t.putIds).size, t.putIds.length, 'a connection was PUT twice');
    const listings = t.requests.filter((r) => r.method === 'GET' && /\/_apis\/serviceendpoint\/endpoints$/.test(r.path) && !r.query['actionFilter']);
    const perProject = new Map<string, number>();
    for (const l of listings) perProject.set(l.path.split('/')[2].toLowerCase(), (perProject.get(l.path.split('/')[2].toLowerCase()) ?? 0) + 1);
    for (const [p, n] of perProject) assert.ok(n <= 1, `project ${p} listed ${n} times`);
  });

  // ---------------------------------------------------------------------------------------------
  it('S03 project ids that are not GUIDs (path traversal, plain text) are never put in a URL', async () => {
    const org = orgSeed({ emulator: { federatedCredential: true } });
    const c = await world(org.seed);
    c.proxy.hook.rewrite = (m, p, _q, status, body) => {
      if (m !== 'GET' || !projectsPath(p) || status !== 200) return undefined;
      const b = JSON.parse(body) as { value: Array<Record<string, unknown>> };
      b.value.push({ id: '../../_apis/projects', name: 'Traversal' }, { id: 'not-a-guid', name: 'NotGuid' }, { id: gid(99), name: 123 }, null as never);
      return json(b);
    };
    const t = await run(c, { projects: '*' });
    assert.ok(!t.requests.some((r) => /Traversal|not-a-guid|_apis\/projects\/_apis/.test(r.path)), 'a malformed id reached a URL');
    assert.ok(
      t.run.warnings.some((w) => /malformed|could not be read|not valid|4/i.test(w)),
      `no warning about malformed projects: ${json(t.run.warnings)}`,
    );
    assert.notEqual(t.run.result?.result, 'Failed', t.run.result?.message);
  });

  // ---------------------------------------------------------------------------------------------
  it('S04 a continuation token that loops: the run ends (Failed, report written, no PUT) in bounded time', async () => {
    const org = orgSeed({ emulator: { federatedCredential: true } });
    const c = await world(org.seed);
    let n = 0;
    c.proxy.hook.intercept = (m, p) => {
      if (m !== 'GET' || !projectsPath(p)) return undefined;
      n++;
      // A new token every time, A/B alternating, each page with a different (fake) project: only a repeat can catch it.
      return {
        status: 200,
        headers: { 'x-ms-continuationtoken': n % 2 ? 'tokA' : 'tokB' },
        body: json({ count: 1, value: [{ id: gid(1000 + n), name: `Loop ${n}` }] }),
      };
    };
    // Bounded by the count of pages read (below), not by time.
    const t = await run(c, { projects: '*' });
    assert.equal(t.run.result?.result, 'Failed', t.run.result?.message);
    assert.match(t.run.result.message, /did not end|continuation/i);
    assert.equal(t.puts.length, 0);
    assert.ok(t.report, 'no report');
    assert.ok(n <= 5, `${n} pages read`);
  });

  // ---------------------------------------------------------------------------------------------
  // ---------------------------------------------------------------------------------------------
  // ---------------------------------------------------------------------------------------------
  it('S07 a 203 HTML sign-in page on the projects listing: Failed as a token problem, not "garbled"', async () => {
    const org = orgSeed({ emulator: { federatedCredential: true } });
    const c = await world(org.seed);
    c.emu.addFault({ method: 'GET', path: '/contoso/_apis/projects', kind: 'sign-in', count: 20 });
    const t = await run(c, { projects: '*' });
    assert.equal(t.run.result?.result, 'Failed', t.run.result?.message);
    assert.match(t.run.result.message, /token|sign-in|sign in/i);
    assert.equal(t.puts.length, 0);
    assert.ok(t.report);
  });

  // ---------------------------------------------------------------------------------------------
  for (const variant of ['text body, token across the 500-char cut', 'JSON message, token across the 2000-char cut'] as const) {
    it(`S08 one project's listing fails (500, persists) echoing the token (${variant}): others go on, no token fragment anywhere`, async () => {
      const org = orgSeed({ emulator: { federatedCredential: true } });
      const c = await world(org.seed);
      const team = org.projects.find((p) => p.name === 'Team 03')!;
      const L = COLLECTION_TOKEN.length;
      const body = variant.startsWith('text')
        ? 'x'.repeat(500 - L + 3) + COLLECTION_TOKEN
        : variant.includes('cut')
          ? json({ message: 'y'.repeat(2000 - L + 3) + COLLECTION_TOKEN, typeKey: 'Boom' })
          : json({ message: `Bearer ${COLLECTION_TOKEN} rejected`, typeKey: 'Boom' });
      const headers: Record<string, string> = variant.startsWith('text') ? { 'Content-Type': 'text/plain' } : {};
      c.proxy.hook.intercept = (m, p) => (m === 'GET' && listingOf(p, team.id) ? { status: 500, headers, body } : undefined);
      const t = await run(c, { projects: '*' });
      const tr = t.report!.projects.find((p) => p.name === 'Team 03')!;
      assert.ok(tr.errorCode, `Team 03 has no error: ${json(tr)}`);
      assert.equal(t.run.result?.result, 'SucceededWithIssues', t.run.result?.message);
      assert.equal(t.byName('payments-1')?.outcome, 'converted');
      assert.equal(t.byName('team-04-1')?.outcome, 'converted');
      assertNoTokenFragment(t.run);
    });
  }

  // ---------------------------------------------------------------------------------------------
  it('S09 a connection homed in a project the identity cannot see: skipped (home not visible), never PUT', async () => {
    const ghost = { id: gid(77), name: 'Ghost', hiddenFrom: [COLLECTION_IDENTITY] };
    const projects = [{ ...PROJECT }, { id: gid(78), name: 'Beta' }, ghost];
    const eps: SeedEndpoint[] = [
      {
        id: gid(1, '0e0a0000-0000-4000-9000-'),
        name: 'ghost-shared',
        projects: [
          { id: ghost.id, name: ghost.name },
          { id: PROJECT.id, name: PROJECT.name },
          { id: gid(78), name: 'Beta' },
        ],
      },
      { id: gid(2, '0e0a0000-0000-4000-9000-'), name: 'own', projects: [{ id: PROJECT.id, name: PROJECT.name }] },
    ];
    const c = await world(simpleSeed(projects, eps));
    const t = await run(c, { projects: '*', skipShared: 'false' });
    assert.equal(t.byName('ghost-shared')?.outcome, 'skipped');
    assert.equal(t.byName('ghost-shared')?.reasonCode, 'SkipHomeNotVisible');
    assert.equal(t.report!.connections.filter((x) => x.name === 'ghost-shared').length, 1);
    assert.deepEqual(t.putIds, [gid(2, '0e0a0000-0000-4000-9000-')]);
  });

  // ---------------------------------------------------------------------------------------------
  it('S10 empty / malformed project references on a shared connection: at most one PUT, reported once, others unharmed', async () => {
    const A = { id: gid(1), name: 'Alpha' };
    const B = { id: gid(2), name: 'Beta' };
    const projects = [{ ...PROJECT }, A, B];
    const id1 = gid(1, '0e0a0000-0000-4000-9000-');
    const id2 = gid(2, '0e0a0000-0000-4000-9000-');
    const eps: SeedEndpoint[] = [
      { id: id1, name: 'empty-refs', projects: [A, B, { ...PROJECT }] },
      { id: id2, name: 'bad-refs', projects: [A, B] },
      { id: gid(3, '0e0a0000-0000-4000-9000-'), name: 'fine', projects: [{ ...PROJECT }] },
    ];
    const c = await world(simpleSeed(projects, eps));
    c.proxy.hook.rewrite = (m, p, _q, status, body) => {
      if (m !== 'GET' || !/serviceendpoint\/endpoints$/.test(p) || status !== 200) return undefined;
      const b = JSON.parse(body) as { value: Array<Record<string, unknown>> };
      for (const e of b.value) {
        if (e.id === id1) e.serviceEndpointProjectReferences = [];
        if (e.id === id2) e.serviceEndpointProjectReferences = [{ projectReference: null }, { projectReference: { id: 123 } }, 'x'];
      }
      return json(b);
    };
    const t = await run(c, { projects: '*', skipShared: 'false' });
    for (const n of ['empty-refs', 'bad-refs']) {
      assert.equal(
        t.report!.connections.filter((x) => x.name === n).length,
        1,
        `${n} reported ${t.report!.connections.filter((x) => x.name === n).length} times`,
      );
    }
    assert.equal(new Set(t.putIds).size, t.putIds.length, `a PUT twice: ${json(t.putIds)}`);
    assert.equal(t.byName('fine')?.outcome, 'converted');
    assert.notEqual(t.run.result?.result, 'Failed', t.run.result?.message);
    // With no usable home project, the task cannot know the home: it must not convert it as if it were "here".
    const put = t.puts.find((q) => String((q.body as { id: string }).id).toLowerCase() === id1);
    const stored = c.emu.endpoint(id1) as { serviceEndpointProjectReferences: Array<{ projectReference: { id: string } }> };
    assert.ok(
      !put,
      `empty-refs was converted from ${t.byName('empty-refs')?.project?.name} with PUT refs ${json((put?.body as { serviceEndpointProjectReferences?: unknown })?.serviceEndpointProjectReferences)}; stored refs now ${json(stored.serviceEndpointProjectReferences.map((r) => r.projectReference.id))}; bad-refs: ${t.byName('bad-refs')?.outcome}/${t.byName('bad-refs')?.reasonCode}`,
    );
  });

  // ---------------------------------------------------------------------------------------------
  for (const variant of ['each project claims to be home', 'each project names the other as home'] as const) {
    it(`S11 the same connection with conflicting references in two projects (${variant}): never PUT twice or from a non-home project`, async () => {
      const A = { id: gid(1), name: 'Alpha' };
      const B = { id: gid(2), name: 'Beta' };
      const id = gid(9, '0e0a0000-0000-4000-9000-');
      const eps: SeedEndpoint[] = [{ id, name: 'contested', projects: [A, B] }];
      const c = await world(simpleSeed([{ ...PROJECT }, A, B], eps));
      c.proxy.hook.rewrite = (m, p, _q, status, body) => {
        if (m !== 'GET' || status !== 200) return undefined;
        const inB = listingOf(p, B.id);
        const inA = listingOf(p, A.id);
        if (!inA && !inB) return undefined;
        const b = JSON.parse(body) as { value: Array<{ serviceEndpointProjectReferences: unknown[] }> };
        for (const e of b.value) {
          const refs = e.serviceEndpointProjectReferences;
          if (variant === 'each project claims to be home' && inB) e.serviceEndpointProjectReferences = [refs[1], refs[0]];
          if (variant === 'each project names the other as home' && inA) e.serviceEndpointProjectReferences = [refs[1], refs[0]];
        }
        return json(b);
      };
      const t = await run(c, { projects: '*', skipShared: 'false' });
      assert.ok(t.puts.length <= 1, `${t.puts.length} PUTs`);
      assert.equal(t.report!.connections.filter((x) => x.id.toLowerCase() === id).length, 1);
      for (const put of t.puts) {
        const refs = (put.body as { serviceEndpointProjectReferences: Array<{ projectReference: { id: string } }> }).serviceEndpointProjectReferences;
        assert.equal(refs[0].projectReference.id, A.id, 'PUT with a non-home first reference');
      }
      // What the stored connection says after the run: still homed in Alpha, still shared with Beta.
      const stored = c.emu.endpoint(id) as { serviceEndpointProjectReferences: Array<{ projectReference: { id: string } }> };
      assert.deepEqual(
        stored.serviceEndpointProjectReferences.map((r) => r.projectReference.id),
        [A.id, B.id],
      );
    });
  }

  // ---------------------------------------------------------------------------------------------
  // ---------------------------------------------------------------------------------------------
  for (const signal of ['SIGTERM'] as const) {
    it(`S13 ${signal} mid-run across projects: Cancelled, report written, every applied PUT recorded as converted/pending`, async () => {
      const org = orgSeed({ projects: 8, perProject: 4, emulator: { federatedCredential: true, conversion: 'sync' } });
      const c = await world(org.seed, 50);
      c.proxy.hook.holdMs = (m) => (m === 'PUT' ? 500 : 0);
      const t = await run(c, { projects: '*', concurrency: '2', impactCheck: 'off' }, { signalAfterMs: { signal, afterMs: 2500 } });
      assert.equal(t.run.result?.result, 'Cancelled', t.run.result?.message);
      assert.ok(t.report, 'no report');
      assert.equal(t.report.cancelled, true);
      const applied = t.puts.filter((p) => p.status >= 200 && p.status < 300);
      assert.ok(applied.length > 0 && applied.length < 30, `cancel landed at a bad moment: ${applied.length} PUTs applied`);
      for (const p of applied) {
        const idp = String((p.body as { id: string }).id).toLowerCase();
        const r = t.report.connections.find((x) => x.id.toLowerCase() === idp);
        assert.ok(r, `applied PUT ${idp} missing from the report`);
        assert.ok(['converted', 'pending'].includes(r.outcome), `applied PUT ${r.name} reported ${r.outcome}/${r.reasonCode}`);
      }
      // Every connection whose stored scheme is now WIF is said to be so.
      for (const conn of org.connections) {
        const stored = c.emu.endpoint(conn.id) as { authorization: { scheme: string } };
        if (stored.authorization.scheme !== 'WorkloadIdentityFederation') continue;
        const r = t.report.connections.find((x) => x.id.toLowerCase() === conn.id.toLowerCase());
        assert.ok(r && ['converted', 'pending'].includes(r.outcome), `${conn.name} converted but reported ${r?.outcome}`);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  it('S14 maxConnections: 3 across projects: at most 3 PUTs; the dry run plans exactly what the real run converts', async () => {
    const mk = () => orgSeed({ projects: 6, perProject: 3, emulator: { federatedCredential: true } });
    const c1 = await world(mk().seed, 20);
    const dry = await run(c1, { projects: '*', maxConnections: '3', dryRun: 'true', skipShared: 'false', concurrency: '4' });
    assert.equal(dry.puts.length, 0);
    const planned = dry
      .report!.connections.filter((x) => x.outcome === 'planned')
      .map((x) => x.name)
      .sort();
    const c2 = await world(mk().seed, 20);
    const real = await run(c2, { projects: '*', maxConnections: '3', skipShared: 'false', concurrency: '4' });
    assert.ok(real.puts.length <= 3, `${real.puts.length} PUTs`);
    const converted = real
      .report!.connections.filter((x) => x.outcome === 'converted')
      .map((x) => x.name)
      .sort();
    assert.equal(planned.length, 3, json(planned));
    assert.deepEqual(converted, planned);
  });

  // ---------------------------------------------------------------------------------------------
  it('S15 projects input edge cases: only separators, * with names, trailing space, upper-case id', async () => {
    const org = orgSeed({ emulator: { federatedCredential: true } });
    const c = await world(org.seed);
    const dry = (projects: string) => run(c, { projects, dryRun: 'true', skipShared: 'false' });

    const seps = await dry(' , ,\n \t, ');
    assert.notEqual(seps.run.result?.result, undefined, 'no result');
    // Either an input error or the current project only; never organization-wide.
    assert.ok(
      seps.run.result!.result === 'Failed' || !seps.report?.organizationWide,
      `separators only: ${seps.run.result?.result} orgWide=${seps.report?.organizationWide}`,
    );

    const starNames = await dry('*, Payments, payments');
    assert.equal(starNames.report!.projects.length, 6);
    assert.equal(new Set(starNames.report!.projects.map((p) => p.id)).size, 6);

    const trailing = await dry('Payments ');
    assert.deepEqual(
      trailing.report!.projects.map((p) => p.name),
      ['Payments'],
    );
    assert.equal(trailing.run.warnings.filter((w) => /matched no|matches no/i.test(w)).length, 0, json(trailing.run.warnings));

    const upper = await dry(org.shared.id.toUpperCase());
    assert.deepEqual(
      upper.report!.projects.map((p) => p.name),
      ['Shared Services'],
    );
  });

  it('S16 10,000 projects entries that match nothing: one warning names the first ten and counts the rest', async () => {
    const org = orgSeed({ emulator: { federatedCredential: true } });
    const c = await world(org.seed);
    const entries = Array.from({ length: 10_000 }, (_, i) => `nomatch-${i}`).concat('Payments');
    const t = await run(c, { projects: entries.join('\n'), dryRun: 'true' });
    assert.ok(t.run.result?.result, 'no result');
    assert.deepEqual(
      t.report?.projects?.map((p) => p.name),
      ['Payments'],
      `${t.run.result?.result}: ${t.run.result?.message?.slice(0, 300)}`,
    );
    const unmatched = t.run.warnings.filter((w) => w.includes('matched no project'));
    assert.equal(unmatched.length, 1, `${t.run.warnings.length} warnings (${(Buffer.byteLength(t.run.stdout) / 1e6).toFixed(1)} MB of stdout)`);
    assert.match(unmatched[0], /'nomatch-0', 'nomatch-1', .*'nomatch-9' \(and 9990 more\)/);
    assert.ok(!unmatched[0].includes('nomatch-10'));
  });

  // ---------------------------------------------------------------------------------------------
});
