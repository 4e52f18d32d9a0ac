// `npm run bench`: how fast the PACKAGED task converts many connections (issue 4, "Performance").
//
// Builds and unzips the .vsix, seeds the loopback emulator with N automatic secret-based azurerm
// connections in one project, gives every request a fixed latency, runs the packaged task the way
// the agent does (default concurrency unless --concurrency is given) and prints:
//   wall time, requests sent (total, by method, by kind), PUT count, the sequential floor
//   (PUT count x latency) and wall / floor, the task process's peak RSS, task start (process
//   start to the first request at the emulator) and the core's classification time for 10,000
//   connections, each next to its target with PASS/MISS.
// It reports; it asserts nothing and is never part of `npm test`. Everything stays on 127.0.0.1
// and every step is bounded (the task run is killed after waitTimeoutSeconds + 2 minutes).
//
//   node build/scripts/bench.js [--n 500] [--latency 40] [--concurrency 4] [--async]
//                               [--impact warn|skip|off] [--entra] [--json]
//
// --entra: the job identity (a service identity) with entraConnection, as in the README's
// Permissions: the N automatic connections have app registrations without the federated
// credential, the loopback HTTPS emulators of Entra, Graph and the agent's OIDC endpoint get the
// same latency, and the task adds each credential before its PUT (the Azure DevOps emulator then
// converts synchronously). It prints requests per converted connection by service and the ratio
// of wall time to the sequential floor counted over ALL requests (every request x latency).
//   node build/scripts/bench.js --selection [--json]   (only the selection bench: scripts/bench-selection.ts)
//
// --projects K: the organization-wide run (input `projects: '*'`, every project the identity can
// see). K projects ("Project 001"…, GUID-like ids) and N automatic sync connections spread evenly
// over them, each at home in one project; about 2% are also shared with the next project (home
// first), so the task has to de-duplicate them (with the default skipShared they are skipped).
// The job identity is the collection-scoped one (orgSeeds' COLLECTION_IDENTITY / COLLECTION_TOKEN,
// a 'service' administering every connection); the current project is the first. --impact is
// passed when given, else the task's default applies (printed). It prints the requests by kind
// (project listing pages, connection listings, PUTs, polls, impact reads, other), the request
// budget (ceil(K / 100) project listing pages, the emulator's page, + one connection listing per
// project + N PUTs + polls, + impact reads when the impact check is on), wall time, the
// sequential floor over all requests and over the PUTs alone, the peak RSS, and the report's
// shape (its `projects` array and connection entries), with targets.
// The task run is killed after max(420 s, 3 x latency x (N + 2K)): 20 minutes for 10,000 at 40 ms.
// --start-runs, --async, --entra and --selection do not apply to it.
//   node build/scripts/bench.js --projects 200 --n 10000 --latency 40 [--impact warn|skip|off]
//                               [--concurrency 4] [--json]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { classify } from '../tasks/ConvertToWif/src/core/eligibility';
import { Endpoint } from '../tasks/ConvertToWif/src/core/model';
import { makeSelection } from '../tasks/ConvertToWif/src/core/selection';
import { entraIssuer, entraSubject } from '../tasks/ConvertToWif/src/core/identity';
import { startEntraWorld } from '../test/emulator/entraWorld';
import { DEFAULT_PROJECT_PAGE_SIZE } from '../test/emulator/projects';
import { Emulator, ProjectSeed, RecordedRequest, startEmulator } from '../test/emulator/server';
import { agentConnectionEnv, directoryOf } from '../test/helpers/agent';
import { OTHER_PROJECT, PROJECT, ctx, endpoint, options } from '../test/helpers/endpoints';
import { COLLECTION_IDENTITY, COLLECTION_TOKEN } from '../test/helpers/orgSeeds';
import { RunTaskOptions, TaskRun, runTask } from '../test/helpers/runTask';
import { JOB_TOKEN, ORG, SeedEndpoint, seed } from '../test/helpers/seed';
import { benchSelection, printSelectionBench } from './bench-selection';
import { extractVsix, packageExtension } from './package';

const WAIT_TIMEOUT_SECONDS = 300;
const TARGETS = { ratio: 0.35, rssMb: 120, startMs: 400, classifyMs: 200 };
const CLASSIFY_N = 10_000;
/** --projects: the organization-wide targets. */
const ORG_TARGETS = { ratio: 0.3, putRatio: 0.4, rssMb: 150 };

interface Args {
  n: number;
  latency: number;
  concurrency?: number;
  async: boolean;
  impact?: string;
  json: boolean;
  startRuns: number;
  selection: boolean;
  entra: boolean;
  /** --projects K: the organization-wide bench. */
  projects?: number;
}

function usage(message: string): never {
  console.error(
    `bench: ${message}\nusage: node build/scripts/bench.js [--n 500] [--latency 40] [--concurrency 1..16] [--async] [--impact warn|skip|off] [--entra] [--start-runs 5] [--json]\n       node build/scripts/bench.js --projects 200 [--n 10000] [--latency 40] [--concurrency 1..16] [--impact warn|skip|off] [--json]\n       node build/scripts/bench.js --selection [--json]`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { n: 500, latency: 40, async: false, json: false, startRuns: 5, selection: false, entra: false };
  const int = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = v !== undefined && /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) usage(`${flag} needs an integer from ${min} to ${max} (got ${v ?? 'nothing'})`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--n':
        a.n = int(flag, value(), 1, 100_000);
        break;
      case '--latency':
        a.latency = int(flag, value(), 0, 10_000);
        break;
      case '--concurrency':
        a.concurrency = int(flag, value(), 1, 16);
        break;
      case '--projects':
        a.projects = int(flag, value(), 1, 5_000);
        break;
      case '--start-runs':
        a.startRuns = int(flag, value(), 0, 50);
        break;
      case '--async':
        a.async = true;
        break;
      case '--selection':
        a.selection = true;
        break;
      case '--entra':
        a.entra = true;
        break;
      case '--json':
        a.json = true;
        break;
      case '--impact': {
        const v = value();
        if (!['warn', 'skip', 'off'].includes(v ?? '')) usage(`--impact is warn, skip or off (got ${v ?? 'nothing'})`);
        a.impact = v;
        break;
      }
      case '--help':
      case '-h':
        return usage('help');
      default:
        usage(`unknown argument ${argv[i]}`);
    }
  }
  if (a.projects !== undefined) {
    const clash = [a.async && '--async', a.entra && '--entra', a.selection && '--selection'].filter(Boolean);
    if (clash.length > 0) usage(`--projects cannot be combined with ${clash.join(', ')}`);
  }
  return a;
}

/** runTask, removing its temp directory when it fails (a timeout kills the task and rejects). */
async function runTaskCleanly(o: RunTaskOptions): Promise<TaskRun> {
  try {
    return await runTask(o);
  } catch (err) {
    const dir = (err as { tempDir?: string })?.tempDir;
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** "converted 9800, skipped 200": the outcomes a report counted. */
const outcomesText = (totals: Record<string, number> | undefined): string =>
  Object.entries(totals ?? {})
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '(no report)';

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Timestamps every request the emulator records, without changing the emulator: its `requests`
 * array is public and it appends with push(), so the array's own push is wrapped.
 */
function timestampRequests(emu: Emulator): number[] {
  const times: number[] = [];
  const arr = emu.requests;
  const push = arr.push;
  arr.push = function (this: RecordedRequest[], ...items: RecordedRequest[]): number {
    const now = Date.now();
    for (let i = 0; i < items.length; i++) times.push(now);
    return push.apply(this, items);
  };
  return times;
}

/** A preload (`node --require`) that writes the process's peak RSS when it exits. */
function writeRssPreload(dir: string): { preload: string; out: string } {
  const preload = path.join(dir, 'rss-preload.js');
  const out = path.join(dir, 'rss.json');
  fs.writeFileSync(
    preload,
    `'use strict';\nprocess.on('exit', () => {\n  try { require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS })); } catch (e) { /* best effort */ }\n});\n`,
  );
  return { preload, out };
}

/**
 * Runs the packaged task once under the RSS preload: the run, when it started, its wall time and the
 * task process's peak RSS (KB; NaN when the preload wrote nothing).
 */
async function measuredRun(work: string, o: RunTaskOptions): Promise<{ run: TaskRun; t0: number; wallMs: number; maxRssKb: number }> {
  const rss = writeRssPreload(work);
  const t0 = Date.now();
  const run = await runTaskCleanly({ ...o, env: { ...o.env, NODE_OPTIONS: `--require "${rss.preload}"` } });
  const wallMs = Date.now() - t0;
  const maxRssKb = fs.existsSync(rss.out) ? (JSON.parse(fs.readFileSync(rss.out, 'utf8')) as { maxRssKb: number }).maxRssKb : NaN;
  return { run, t0, wallMs, maxRssKb };
}

/** The inputs of every measured run: the wait, the report file, and concurrency / impactCheck only when given. */
function benchInputs(args: Args, work: string, extra: Record<string, string> = {}): Record<string, string> {
  const inputs: Record<string, string> = { waitTimeoutSeconds: String(WAIT_TIMEOUT_SECONDS), reportPath: path.join(work, 'report.json'), ...extra };
  if (args.concurrency !== undefined) inputs.concurrency = String(args.concurrency);
  if (args.impact !== undefined) inputs.impactCheck = args.impact;
  return inputs;
}

/** What kind of call a recorded request was (by route). */
function kindOf(r: RecordedRequest): string {
  const p = r.path.toLowerCase();
  if (r.method === 'OPTIONS') return 'OPTIONS (location)';
  if (/\/_apis\/resourceareas/.test(p)) return 'GET resourceAreas';
  if (/\/_apis\/connectiondata/.test(p)) return 'GET connectionData';
  if (/\/_apis\/serviceendpoint\/endpoints\/[^/]+$/.test(p)) return `${r.method} endpoint by id`;
  if (/\/_apis\/serviceendpoint\/endpoints$/.test(p)) return `${r.method} endpoint listing`;
  if (/\/_apis\/serviceendpoint\/[^/]+\/executionhistory/.test(p)) return `${r.method} execution history`;
  if (/\/_apis\/distributedtask\/tasks/.test(p)) return `${r.method} task catalogue`;
  if (/\/_apis\/build\/builds\//.test(p)) return `${r.method} build timeline`;
  if (/\/_apis\/pipelines\//.test(p)) return `${r.method} pipeline preview`;
  return `${r.method} other`;
}

const countBy = <T>(xs: T[], key: (x: T) => string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
};

/** The core alone: classify() over 10,000 connections, a realistic mix, median of several runs. */
function benchClassify(): { n: number; runs: number[]; medianMs: number; withPatternsMedianMs: number; decisions: Record<string, number> } {
  const schemes = ['ServicePrincipal', 'ServicePrincipal', 'ServicePrincipal', 'WorkloadIdentityFederation', 'ManagedServiceIdentity', 'PublishProfile'];
  const list: Endpoint[] = Array.from({ length: CLASSIFY_N }, (_, i) =>
    endpoint({
      name: `${['prod', 'dev', 'test', 'shared'][i % 4]}-app-${String(i).padStart(5, '0')}${i % 97 === 0 ? '-legacy' : ''}`,
      scheme: schemes[i % schemes.length],
      creationMode: i % 11 === 0 ? 'Manual' : 'Automatic',
      environment: i % 53 === 0 ? 'AzureUSGovernment' : 'AzureCloud',
      projects: i % 29 === 0 ? [PROJECT, OTHER_PROJECT] : i % 31 === 0 ? [OTHER_PROJECT, PROJECT] : [PROJECT],
      state: i % 37 === 0 ? 'Failed' : 'Ready',
      isReady: i % 37 !== 0,
    }),
  );
  // The service lists connections in its own order, not by name: shuffle (deterministically) so
  // the sort in classify() does the work it does on a real listing.
  let state = 0x2545f491;
  const rand = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  const opts = options();
  const time = (include: string[], exclude: string[]): number => {
    const t0 = process.hrtime.bigint();
    classify(list, opts, ctx, makeSelection(include, exclude));
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  time([], []); // warm-up (JIT), not counted
  const runs = Array.from({ length: 7 }, () => time([], []));
  const patterned = Array.from({ length: 5 }, () => time(['prod-*', 'dev-app-0?1??', 'shared-*'], ['*-legacy', 'prod-app-00001']));
  const decisions = countBy(classify(list, opts, ctx, makeSelection([], [])), (c) =>
    c.decision.kind === 'skip' ? `skip:${c.decision.reason.key}` : c.decision.kind,
  );
  return { n: CLASSIFY_N, runs, medianMs: median(runs), withPatternsMedianMs: median(patterned), decisions };
}

/** Process start to the first request, for a tiny run (one connection, dry run): median of a few cold starts. */
async function benchStart(entry: string, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const emu = await startEmulator(seed([{ name: 'start-probe', emulator: { conversion: 'sync' } }]));
    const times = timestampRequests(emu);
    try {
      const t0 = Date.now();
      const run = await runTaskCleanly({
        entry,
        inputs: { dryRun: 'true', impactCheck: 'off' },
        collectionUri: emu.url,
        projectId: PROJECT.id,
        projectName: PROJECT.name,
        jobToken: JOB_TOKEN,
        timeoutMs: 30_000,
      });
      fs.rmSync(run.tempDir, { recursive: true, force: true });
      if (times.length > 0) out.push(times[0] - t0);
    } finally {
      await emu.close();
    }
  }
  return out;
}

const BENCH_TENANT = '9d3f2b1a-6c5e-4f70-8a9b-0c1d2e3f4a5b';
const BENCH_ENTRA_ID = 'e17a0000-0000-4000-8000-00000000e17a';
const BENCH_ENTRA_CLIENT = 'e17ac11e-0000-4000-8000-00000000c11e';
const benchGuid = (prefix: string, i: number) => `${prefix}-0000-4000-8000-${String(i).padStart(12, '0')}`;

/**
 * --entra: N automatic connections whose apps lack the credential, the entraConnection (federated,
 * its service principal owns every app), and the Entra world's seed; latency on every host.
 */
async function benchEntra(args: Args, entry: string, work: string, log: (s: string) => void): Promise<void> {
  const specs: SeedEndpoint[] = Array.from({ length: args.n }, (_, i) => ({
    id: benchGuid('c0000000', i),
    name: `bench-${String(i).padStart(5, '0')}`,
    creationMode: 'Automatic',
    parameters: { tenantid: BENCH_TENANT, serviceprincipalid: benchGuid('a0000000', i), authenticationType: 'spnKey', serviceprincipalkey: null },
  }));
  const adminSubject = entraSubject(BENCH_TENANT, ORG.id, BENCH_ENTRA_ID)!;
  specs.push({
    id: BENCH_ENTRA_ID,
    name: 'entra-admin',
    scheme: 'WorkloadIdentityFederation',
    parameters: {
      tenantid: BENCH_TENANT,
      serviceprincipalid: BENCH_ENTRA_CLIENT,
      workloadIdentityFederationIssuer: entraIssuer(BENCH_TENANT),
      workloadIdentityFederationSubject: adminSubject,
    },
  });
  const s = seed(specs, {
    entra: {
      taskInputConnections: [BENCH_ENTRA_ID],
      tenants: [
        {
          id: BENCH_TENANT,
          applications: Array.from({ length: args.n }, (_, i) => ({
            appId: benchGuid('a0000000', i),
            objectId: benchGuid('0b000000', i),
            displayName: `bench-app-${i}`,
            owners: [BENCH_ENTRA_CLIENT],
          })),
          servicePrincipals: [
            {
              appId: BENCH_ENTRA_CLIENT,
              permissions: ['Application.ReadWrite.OwnedBy'],
              federatedIdentityCredentials: [{ name: 'pipeline', issuer: entraIssuer(BENCH_TENANT), subject: adminSubject }],
            },
          ],
        },
      ],
    },
  });
  const emu = await startEmulator(s, { latencyMs: args.latency });
  const world = await startEntraWorld(s, { azureDevOps: emu });
  emu.attachDirectory(directoryOf(world));
  for (const h of Object.values(world.hosts)) h.latencyMs = args.latency;
  let run: TaskRun | undefined;
  try {
    // Without the impact check unless asked: this mode measures the Entra step.
    const inputs = benchInputs(args, work, { entraConnection: BENCH_ENTRA_ID, impactCheck: args.impact ?? 'off' });
    const env = agentConnectionEnv({ id: BENCH_ENTRA_ID, scheme: 'WorkloadIdentityFederation', tenantId: BENCH_TENANT, clientId: BENCH_ENTRA_CLIENT }, world, {
      organizationId: ORG.id,
    });
    log(`bench: running the packaged task with entraConnection against ${args.n} automatic connections, ${args.latency} ms per request on every host…`);
    const measured = await measuredRun(work, {
      entry,
      inputs,
      env,
      collectionUri: emu.url,
      projectId: PROJECT.id,
      projectName: PROJECT.name,
      jobToken: JOB_TOKEN,
      timeoutMs: (WAIT_TIMEOUT_SECONDS + 120) * 1000,
    });
    run = measured.run;
    const { wallMs, maxRssKb } = measured;
    const ado = emu.requests;
    const graph = world.hosts.graph.requests;
    const report = run.report as { totals?: Record<string, number> } | undefined;
    const converted = report?.totals?.converted ?? 0;
    const all = ado.length + graph.length + world.hosts.entra.requests.length + world.hosts.oidc.requests.length;
    const floorMs = all * args.latency;
    const perConnection = (xs: number) => (converted > 0 ? xs / converted : NaN);
    const result = {
      n: args.n,
      latencyMs: args.latency,
      concurrency: args.concurrency ?? 'default',
      impactCheck: inputs.impactCheck,
      taskResult: run.result?.result ?? '(none)',
      totals: report?.totals,
      wallMs,
      requests: {
        total: all,
        azureDevOps: countBy(ado, kindOf),
        graph: countBy(graph, (r) => `${r.method} ${/federatedIdentityCredentials/i.test(r.path) ? 'federatedIdentityCredentials' : 'application'}`),
        entraToken: world.hosts.entra.requests.length,
        oidc: world.hosts.oidc.requests.length,
      },
      perConvertedConnection: {
        graph: perConnection(graph.length),
        puts: perConnection(ado.filter((r) => r.method === 'PUT').length),
        getsById: perConnection(ado.filter((r) => r.method === 'GET' && /endpoints\/[^/]+$/i.test(r.path)).length),
      },
      sequentialFloorAllRequestsMs: floorMs,
      ratio: wallMs / floorMs,
      peakRssMb: maxRssKb / 1024,
    };
    const targets = {
      graphPerConnection: { target: '<= 5', pass: result.perConvertedConnection.graph <= 5 },
      putPerConnection: { target: '<= 1', pass: result.perConvertedConnection.puts <= 1 },
      getPerConnection: { target: '<= 1', pass: result.perConvertedConnection.getsById <= 1 },
      tokenCalls: { target: 'once per run', pass: result.requests.entraToken === 1 && result.requests.oidc === 1 },
      ratio: { target: '<= 0.35', pass: result.ratio <= 0.35 },
    };
    if (args.json) return void console.log(JSON.stringify({ ...result, targets }, null, 2));
    const pf = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    console.log(
      `ConvertToWif bench --entra: N=${args.n}, latency ${args.latency} ms on every host, concurrency ${result.concurrency}, impactCheck ${inputs.impactCheck}`,
    );
    console.log(`task result: ${result.taskResult}; converted ${converted} of ${args.n}`);
    if (converted !== args.n) console.log(`WARNING: ${converted} of ${args.n} converted: the figures below do not measure a full run.`);
    const rows: Array<[string, string, string, string]> = [
      ['wall time (task process)', `${(wallMs / 1000).toFixed(2)} s`, '', ''],
      ['requests, all hosts', String(all), '', ''],
      ...Object.entries(result.requests.azureDevOps).map(([k, v]): [string, string, string, string] => [`  Azure DevOps ${k}`, String(v), '', '']),
      ...Object.entries(result.requests.graph).map(([k, v]): [string, string, string, string] => [`  Graph ${k}`, String(v), '', '']),
      [
        '  Entra token calls / agent OIDC calls',
        `${result.requests.entraToken} / ${result.requests.oidc}`,
        targets.tokenCalls.target,
        pf(targets.tokenCalls.pass),
      ],
      [
        'Graph requests per converted connection',
        result.perConvertedConnection.graph.toFixed(2),
        targets.graphPerConnection.target,
        pf(targets.graphPerConnection.pass),
      ],
      ['PUTs per converted connection', result.perConvertedConnection.puts.toFixed(2), targets.putPerConnection.target, pf(targets.putPerConnection.pass)],
      [
        'GETs by id per converted connection',
        result.perConvertedConnection.getsById.toFixed(2),
        targets.getPerConnection.target,
        pf(targets.getPerConnection.pass),
      ],
      ['sequential floor (all requests x latency)', `${(floorMs / 1000).toFixed(2)} s`, '', ''],
      ['ratio wall / floor', result.ratio.toFixed(3), targets.ratio.target, pf(targets.ratio.pass)],
      ['peak RSS (task process)', `${result.peakRssMb.toFixed(1)} MB`, '', ''],
    ];
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
    console.log('');
    for (const r of rows) console.log(`${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2].padEnd(w[2])}  ${r[3]}`.trimEnd());
  } finally {
    if (run) fs.rmSync(run.tempDir, { recursive: true, force: true });
    await world.close();
    await emu.close();
  }
}

/** What kind of call a recorded request was, for --projects (the kinds of its request budget). */
function orgKindOf(r: RecordedRequest): 'project listing pages' | 'connection listings' | 'PUTs' | 'polls' | 'impact reads' | 'other' {
  const p = r.path.toLowerCase();
  if (r.method === 'GET' && /^\/[^/]+\/_apis\/projects$/.test(p)) return 'project listing pages';
  if (r.method === 'GET' && /^\/[^/]+\/[^/]+\/_apis\/serviceendpoint\/endpoints$/.test(p)) return 'connection listings';
  if (r.method === 'PUT') return 'PUTs';
  if (r.method === 'GET' && /\/_apis\/serviceendpoint\/endpoints\/[^/]+$/.test(p)) return 'polls';
  if (
    r.method === 'GET' &&
    (/\/_apis\/serviceendpoint\/[^/]+\/executionhistory/.test(p) ||
      /\/_apis\/build\/builds\/[^/]+\/timeline/.test(p) ||
      /\/_apis\/distributedtask\/tasks/.test(p))
  )
    return 'impact reads';
  if (r.method === 'POST' && /\/_apis\/pipelines\/[^/]+\/preview/.test(p)) return 'impact reads';
  return 'other';
}

const ORG_KINDS = ['project listing pages', 'connection listings', 'PUTs', 'polls', 'impact reads', 'other'] as const;

/** The default of a task input, from the packaged task.json. */
function taskInputDefault(entry: string, name: string): string | undefined {
  const file = path.join(path.dirname(entry), 'task.json');
  const task = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as { inputs?: Array<{ name: string; defaultValue?: string }> };
  return task.inputs?.find((i) => i.name === name)?.defaultValue;
}

/** The report's shape for an organization-wide run: its `projects` array and its connection entries. */
function orgReportShape(report: unknown): {
  projects?: number;
  projectsWithError?: number;
  connectionEntries?: number;
  nestedConnectionEntries?: number;
  uniqueConnectionIds: number;
} {
  const r = (report ?? {}) as { projects?: unknown; connections?: unknown };
  const projects = Array.isArray(r.projects) ? (r.projects as Array<Record<string, unknown> | null>) : undefined;
  const top = Array.isArray(r.connections) ? (r.connections as Array<{ id?: unknown }>) : undefined;
  const nestedLists = (projects ?? []).map((p) => p?.connections).filter((c): c is Array<{ id?: unknown }> => Array.isArray(c));
  const nested = nestedLists.flat();
  const ids = new Set([...(top ?? []), ...nested].map((c) => (typeof c?.id === 'string' ? c.id.toLowerCase() : '')).filter((id) => id !== ''));
  return {
    projects: projects?.length,
    projectsWithError: projects?.filter((p) => p !== null && typeof p === 'object' && p.error !== undefined && p.error !== null).length,
    connectionEntries: top?.length,
    nestedConnectionEntries: nestedLists.length > 0 ? nested.length : undefined,
    uniqueConnectionIds: ids.size,
  };
}

/**
 * --projects K: the organization-wide run. K projects, N automatic sync connections spread evenly
 * over them (each at home in one; every 50th also shared with the next project), the
 * collection-scoped job identity, input `projects: '*'`, the current project the first.
 */
async function benchProjects(args: Args, k: number, entry: string, work: string, log: (s: string) => void): Promise<void> {
  const width = Math.max(3, String(k).length);
  const projects: ProjectSeed[] = Array.from({ length: k }, (_, j) => ({
    id: benchGuid('b0000000', j + 1),
    name: `Project ${String(j + 1).padStart(width, '0')}`,
  }));
  const ref = (p: ProjectSeed) => ({ id: p.id, name: p.name });
  let shared = 0;
  const specs: SeedEndpoint[] = Array.from({ length: args.n }, (_, i) => {
    const home = Math.floor((i * k) / args.n);
    const refs = [projects[home]];
    if (k > 1 && i % 50 === 25) {
      refs.push(projects[(home + 1) % k]);
      shared++;
    }
    return {
      id: benchGuid('c0000000', i),
      name: `bench-${String(i).padStart(5, '0')}`,
      creationMode: 'Automatic',
      projects: refs.map(ref),
      emulator: { conversion: 'sync' },
    };
  });
  const s = seed(specs, {
    projects,
    identities: [{ token: COLLECTION_TOKEN, name: COLLECTION_IDENTITY, kind: 'service' }],
    defaultAdministrators: [COLLECTION_IDENTITY],
  });
  const emu = await startEmulator(s, { latencyMs: args.latency });
  const taskDefault = taskInputDefault(entry, 'impactCheck') ?? '(none)';
  const impactCheck = args.impact ?? taskDefault;
  const impactOn = impactCheck !== 'off';
  const current = projects[0];
  const timeoutMs = Math.max((WAIT_TIMEOUT_SECONDS + 120) * 1000, 3 * args.latency * (args.n + 2 * k));
  let run: TaskRun | undefined;
  try {
    const inputs = benchInputs(args, work, { action: 'convert', projects: '*' });
    log(
      `bench: running the packaged task organization-wide (projects: '*') over ${k} projects and ${args.n} sync connections (${shared} shared), ${args.latency} ms per request, concurrency ${args.concurrency ?? '(default)'}, impactCheck ${impactCheck}${args.impact === undefined ? ' (task default)' : ''}, killed after ${Math.round(timeoutMs / 1000)} s…`,
    );
    const measured = await measuredRun(work, {
      entry,
      inputs,
      collectionUri: emu.url,
      projectId: current.id,
      projectName: current.name,
      jobToken: COLLECTION_TOKEN,
      timeoutMs,
    });
    run = measured.run;
    const { wallMs, maxRssKb } = measured;
    const requests = emu.requests.slice();

    const byKind = Object.fromEntries(ORG_KINDS.map((kind) => [kind, 0])) as Record<(typeof ORG_KINDS)[number], number>;
    for (const r of requests) byKind[orgKindOf(r)]++;
    const otherDetail = countBy(
      requests.filter((r) => orgKindOf(r) === 'other'),
      kindOf,
    );
    const listedProjects = new Set(requests.filter((r) => orgKindOf(r) === 'connection listings').map((r) => r.path.split('/')[2].toLowerCase())).size;
    const listingPagesAllowed = Math.max(1, Math.ceil(k / DEFAULT_PROJECT_PAGE_SIZE));
    const allowed = listingPagesAllowed + k + args.n + byKind.polls + (impactOn ? byKind['impact reads'] : 0);
    const floorMs = requests.length * args.latency;
    const ratio = floorMs > 0 ? wallMs / floorMs : NaN;
    const putFloorMs = byKind.PUTs * args.latency;
    const putRatio = putFloorMs > 0 ? wallMs / putFloorMs : NaN;
    const peakRssMb = maxRssKb / 1024;
    const report = run.report as { totals?: Record<string, number> } | undefined;
    const shape = orgReportShape(run.report);
    const result = {
      projects: k,
      n: args.n,
      sharedConnections: shared,
      latencyMs: args.latency,
      concurrency: args.concurrency ?? 'default',
      impactCheck,
      impactCheckSource: args.impact === undefined ? 'the task default, input not set' : '--impact',
      conversion: 'sync',
      currentProject: current,
      taskResult: run.result?.result ?? '(none)',
      exitCode: run.code,
      totals: report?.totals,
      wallMs,
      requests: {
        total: requests.length,
        byKind,
        otherByRoute: otherDetail,
        projectsWithConnectionListing: listedProjects,
        errors: requests.filter((r) => r.status >= 400 || r.status === 0).length,
      },
      budget: {
        listingPages: listingPagesAllowed,
        listingsPerProject: k,
        puts: args.n,
        polls: byKind.polls,
        impactReads: impactOn ? byKind['impact reads'] : 0,
        allowed,
      },
      sequentialFloorAllRequestsMs: floorMs,
      ratio,
      sequentialFloorPutsMs: putFloorMs,
      putRatio,
      peakRssMb,
      reportShape: { ...shape, expectedUniqueConnections: args.n },
      targets: {
        requests: { target: `<= ${allowed}`, value: requests.length, pass: requests.length <= allowed },
        ratio: { target: `<= ${ORG_TARGETS.ratio}`, value: ratio, pass: ratio <= ORG_TARGETS.ratio },
        ...(impactOn ? { putRatio: { target: `<= ${ORG_TARGETS.putRatio}`, value: putRatio, pass: putRatio <= ORG_TARGETS.putRatio } } : {}),
        peakRss: { target: `<= ${ORG_TARGETS.rssMb} MB`, value: peakRssMb, pass: peakRssMb <= ORG_TARGETS.rssMb },
      },
    };
    if (args.json) return void console.log(JSON.stringify(result, null, 2));

    const pf = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    const t = result.targets;
    const b = result.budget;
    const row = (a: string, v: string, target = '', verdict = ''): [string, string, string, string] => [a, v, target, verdict];
    const eq = (x: number | undefined) => (x === undefined ? '(absent)' : `${x} ${x === args.n ? '=' : '!='} ${args.n} unique`);
    const rows: Array<[string, string, string, string]> = [
      row('wall time (task process)', `${(wallMs / 1000).toFixed(2)} s`),
      row('requests sent', String(requests.length), t.requests.target, pf(t.requests.pass)),
      ...ORG_KINDS.map((kind) => row(`  ${kind}`, String(byKind[kind]))),
      ...Object.entries(otherDetail).map(([kind, v]) => row(`    ${kind}`, String(v))),
      row('  answered >= 400 / reset', String(result.requests.errors)),
      row('projects with a connection listing', `${listedProjects} of ${k}`),
      row('sequential floor (all requests x latency)', `${(floorMs / 1000).toFixed(2)} s`),
      row('ratio wall / floor', ratio.toFixed(3), t.ratio.target, pf(t.ratio.pass)),
      row('PUT-only floor (PUTs x latency)', `${(putFloorMs / 1000).toFixed(2)} s`),
      t.putRatio
        ? row('ratio wall / PUT-only floor', putRatio.toFixed(3), t.putRatio.target, pf(t.putRatio.pass))
        : row('ratio wall / PUT-only floor', putRatio.toFixed(3)),
      row('peak RSS (task process)', `${peakRssMb.toFixed(1)} MB`, t.peakRss.target, pf(t.peakRss.pass)),
      row('report: projects[]', shape.projects === undefined ? '(absent)' : `${shape.projects} (${shape.projectsWithError} with error)`),
      row('report: connections[]', eq(shape.connectionEntries)),
      ...(shape.nestedConnectionEntries !== undefined ? [row('report: projects[].connections[]', eq(shape.nestedConnectionEntries))] : []),
      row('report: unique connection ids', eq(shape.uniqueConnectionIds)),
    ];
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
    console.log(
      `ConvertToWif bench --projects: K=${k} projects, N=${args.n} sync connections (${shared} shared with a second project), latency ${args.latency} ms, concurrency ${result.concurrency}, impactCheck ${impactCheck} (${result.impactCheckSource})`,
    );
    console.log(`job identity ${COLLECTION_IDENTITY} (collection-scoped); current project ${current.name}; input projects: '*'`);
    console.log(`task result: ${result.taskResult} (exit ${run.code}); outcomes: ${outcomesText(report?.totals)}`);
    const converted = report?.totals?.converted ?? 0;
    if (converted < args.n - shared)
      console.log(
        `WARNING: ${converted} converted, ${args.n - shared} expected (the ${shared} shared with a second project are skipped with skipShared): the figures below do not measure a full organization-wide run.`,
      );
    console.log('');
    for (const r of rows) console.log(`${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2].padEnd(w[2])}  ${r[3]}`.trimEnd());
    console.log('');
    console.log(
      `budget: allowed = ${b.listingPages} listing page(s) + ${b.listingsPerProject} listings (one per project) + ${b.puts} PUTs + ${b.polls} polls${
        impactOn ? ` + ${b.impactReads} impact reads` : ''
      } = ${allowed}; requests ${requests.length} ${t.requests.pass ? '<=' : '>'} ${allowed}: ${pf(t.requests.pass)}`,
    );
  } finally {
    if (run) fs.rmSync(run.tempDir, { recursive: true, force: true });
    await emu.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.selection) return printSelectionBench(benchSelection(), args.json);
  const log = args.json ? () => undefined : (s: string) => console.error(s);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-bench-'));
  let emu: Emulator | undefined;
  let run: TaskRun | undefined;
  try {
    log('bench: packaging the extension…');
    const pkg = await packageExtension({ outDir: path.join(work, 'out'), quiet: true });
    await extractVsix(pkg.vsixPath, path.join(work, 'vsix'));
    const entry = path.join(work, 'vsix', 'tasks', 'ConvertToWif', 'index.js');
    if (!fs.existsSync(entry)) throw new Error(`the VSIX has no ${path.relative(work, entry)}`);
    if (args.entra) return await benchEntra(args, entry, work, log);
    if (args.projects !== undefined) return await benchProjects(args, args.projects, entry, work, log);

    const mode = args.async ? 'async' : 'sync';
    const specs: SeedEndpoint[] = Array.from({ length: args.n }, (_, i) => ({
      name: `bench-${String(i).padStart(5, '0')}`,
      creationMode: 'Automatic',
      emulator: { conversion: mode },
    }));
    emu = await startEmulator(seed(specs), { latencyMs: args.latency });
    const times = timestampRequests(emu);

    const inputs = benchInputs(args, work);
    log(
      `bench: running the packaged task against ${args.n} ${mode} connections, ${args.latency} ms per request, concurrency ${args.concurrency ?? '(default)'}, impactCheck ${args.impact ?? '(default)'}…`,
    );
    const measured = await measuredRun(work, {
      entry,
      inputs,
      collectionUri: emu.url,
      projectId: PROJECT.id,
      projectName: PROJECT.name,
      jobToken: JOB_TOKEN,
      timeoutMs: (WAIT_TIMEOUT_SECONDS + 120) * 1000,
    });
    run = measured.run;
    const { wallMs, maxRssKb } = measured;
    const requests = emu.requests.slice();
    const startMs = times.length > 0 ? times[0] - measured.t0 : NaN;
    await emu.close();
    emu = undefined;

    log('bench: task start (cold starts, 1 connection)…');
    const starts = await benchStart(entry, args.startRuns);
    log('bench: classifying 10,000 connections in the core…');
    const cls = benchClassify();

    const puts = requests.filter((r) => r.method === 'PUT').length;
    const floorMs = puts * args.latency;
    const ratio = floorMs > 0 ? wallMs / floorMs : NaN;
    // Polls the emulator needs: an async conversion completes on the first GET after its PUT.
    const pollsNeeded = args.async ? args.n : 0;
    const requestBudget = args.n + 2 + pollsNeeded;
    const report = run.report as { totals?: Record<string, number> } | undefined;
    const result = {
      n: args.n,
      latencyMs: args.latency,
      concurrency: args.concurrency ?? 'default',
      impactCheck: args.impact ?? 'default',
      conversion: mode,
      vsixBytes: pkg.bytes,
      taskResult: run.result?.result ?? '(none)',
      exitCode: run.code,
      totals: report?.totals,
      wallMs,
      requests: {
        total: requests.length,
        byMethod: countBy(requests, (r) => r.method),
        byKind: countBy(requests, kindOf),
        errors: requests.filter((r) => r.status >= 400 || r.status === 0).length,
      },
      puts,
      sequentialFloorMs: floorMs,
      ratio,
      /** Requests the run kept in flight on average: requests x latency / wall. */
      effectiveParallelism: (requests.length * args.latency) / wallMs,
      peakRssMb: maxRssKb / 1024,
      startMs,
      startColdMs: { runs: starts, median: median(starts) },
      classify: cls,
      targets: {
        ratio: { target: `<= ${TARGETS.ratio}`, value: ratio, pass: ratio <= TARGETS.ratio },
        requests: { target: `<= N + 2 + polls = ${requestBudget}`, value: requests.length, pass: requests.length <= requestBudget },
        peakRss: { target: `< ${TARGETS.rssMb} MB`, value: maxRssKb / 1024, pass: maxRssKb / 1024 < TARGETS.rssMb },
        start: { target: `< ${TARGETS.startMs} ms`, value: startMs, pass: startMs < TARGETS.startMs },
        ...(starts.length > 0 ? { startCold: { target: `< ${TARGETS.startMs} ms`, value: median(starts), pass: median(starts) < TARGETS.startMs } } : {}),
        classify10k: { target: `< ${TARGETS.classifyMs} ms`, value: cls.medianMs, pass: cls.medianMs < TARGETS.classifyMs },
      },
    };

    if (args.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const pf = (ok: boolean) => (ok ? 'PASS' : 'MISS');
    const rows: Array<[string, string, string, string]> = [
      ['wall time (task process)', `${(wallMs / 1000).toFixed(2)} s`, '', ''],
      ['requests sent', `${requests.length}`, result.targets.requests.target, pf(result.targets.requests.pass)],
      [
        '  by method',
        Object.entries(result.requests.byMethod)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
        '',
        '',
      ],
      ...Object.entries(result.requests.byKind).map(([k, v]): [string, string, string, string] => [`  ${k}`, String(v), '', '']),
      ['  answered >= 400 / reset', String(result.requests.errors), '', ''],
      ['PUT count', `${puts}`, '', ''],
      ['sequential floor (PUTs x latency)', `${(floorMs / 1000).toFixed(2)} s`, '', ''],
      ['ratio wall / floor', ratio.toFixed(3), result.targets.ratio.target, pf(result.targets.ratio.pass)],
      ['effective parallelism', result.effectiveParallelism.toFixed(2), '', ''],
      ['peak RSS (task process)', `${(maxRssKb / 1024).toFixed(1)} MB`, result.targets.peakRss.target, pf(result.targets.peakRss.pass)],
      ['task start, this run', `${startMs} ms`, result.targets.start.target, pf(result.targets.start.pass)],
      ...(starts.length > 0
        ? [
            [
              `task start, median of ${starts.length} cold runs`,
              `${median(starts)} ms (${starts.join(', ')})`,
              result.targets.startCold!.target,
              pf(result.targets.startCold!.pass),
            ] as [string, string, string, string],
          ]
        : []),
      [
        `classify ${CLASSIFY_N.toLocaleString('en')} (median of ${cls.runs.length})`,
        `${cls.medianMs.toFixed(1)} ms`,
        result.targets.classify10k.target,
        pf(result.targets.classify10k.pass),
      ],
      ['  with 3 include + 2 exclude patterns', `${cls.withPatternsMedianMs.toFixed(1)} ms`, '', ''],
    ];
    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
    console.log(
      `ConvertToWif bench: N=${args.n}, ${mode} conversions, latency ${args.latency} ms, concurrency ${args.concurrency ?? 'default'}, impactCheck ${args.impact ?? 'default'}, VSIX ${(pkg.bytes / 1024).toFixed(1)} KiB`,
    );
    console.log(`task result: ${result.taskResult} (exit ${run.code}); outcomes: ${outcomesText(report?.totals)}`);
    if ((report?.totals?.converted ?? 0) !== args.n)
      console.log(`WARNING: ${report?.totals?.converted ?? 0} of ${args.n} connections converted: the figures below do not measure a full run.`);
    console.log('');
    for (const r of rows) console.log(`${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2].padEnd(w[2])}  ${r[3]}`.trimEnd());
  } finally {
    await emu?.close();
    if (run) fs.rmSync(run.tempDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench: FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
