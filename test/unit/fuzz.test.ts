// Property tests of the pure core over generated connection lists and inputs (issue 4, "Tests").
//
// Deterministic: every case draws from a small seeded PRNG (mulberry32); a failure names the case
// seed, so it can be replayed with FUZZ_SEED=<seed> (that one case only); FUZZ_CASES=<n> runs more
// cases, FUZZ_ALL=1 lists every failing case instead of the first. No new dependencies.
//
// The fake Azure DevOps below behaves like the emulator (docs/service-behaviour.md §4): a sync conversion answers
// the new scheme, an async one answers InProgress and finishes on the Nth GET, a PUT while one is
// pending answers InProgress again, a PUT for the scheme the connection already has is refused
// with "neither an upgrade or a downgrade"; faults are thrown as ServiceError as the REST adapter
// does (429/5xx/network transient, 4xx not), and a PUT may be applied but lose its answer.
import * as assert from 'node:assert/strict';
import { ConversionBody } from '../../tasks/ConvertToWif/src/core/model';
import { Clock, EndpointPort } from '../../tasks/ConvertToWif/src/core/ports';
import { Findings, startConversions } from '../../tasks/ConvertToWif/src/core/schedule';
import { Classified, classify } from '../../tasks/ConvertToWif/src/core/eligibility';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import { INPUT_NAMES, parseInputs, RawInputs } from '../../tasks/ConvertToWif/src/core/inputs';
import { Action, ConnectionResult, Endpoint, Impact, Message, Options, Scheme, msg } from '../../tasks/ConvertToWif/src/core/model';
import { normalizeEndpoint, normalizeListing } from '../../tasks/ConvertToWif/src/core/normalize';
import { logLines } from '../../tasks/ConvertToWif/src/core/log';
import { buildReport } from '../../tasks/ConvertToWif/src/core/report';
import { decideResult } from '../../tasks/ConvertToWif/src/core/result';
import { renderSummary } from '../../tasks/ConvertToWif/src/core/summary';
import { makeSelection, splitList } from '../../tasks/ConvertToWif/src/core/selection';
import { OTHER_PROJECT, PROJECT, ctx } from '../helpers/endpoints';
import { loc } from '../helpers/localize';

// ---------------------------------------------------------------------------------------------
// A small deterministic generator

class Gen {
  private a: number;
  /** Per-case serial number (ids), so a replayed case generates the same ids. */
  serial = 0;
  constructor(readonly seed: number) {
    this.a = seed >>> 0;
  }
  /** mulberry32 */
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  shuffle<T>(xs: T[]): T[] {
    const out = xs.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
  /** Random casing of a string (the service's casing of keys and values varies). */
  recase(s: string): string {
    const r = this.int(0, 3);
    if (r === 0) return s;
    if (r === 1) return s.toLowerCase();
    if (r === 2) return s.toUpperCase();
    return Array.from(s, (c) => (this.bool() ? c.toUpperCase() : c.toLowerCase())).join('');
  }
}

const BASE_SEED = 0x5eed_2024;
const only = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** FUZZ_ALL=1: run every case and list every failing one (to see all the ways a property fails); FUZZ_CASES=n: n cases per property. */
const collectAll = !!process.env.FUZZ_ALL;
/** Runs `cases` generated cases; on the first failure, throws with the case seed and what was generated. */
function forAll(cases: number, salt: number, body: (g: Gen, describe: (what: unknown) => void) => void | Promise<void>): Promise<void> {
  return (async () => {
    const n = Number(process.env.FUZZ_CASES) > 0 ? Number(process.env.FUZZ_CASES) : cases;
    const seeds = only !== undefined ? [only] : Array.from({ length: n }, (_, i) => (BASE_SEED ^ (salt * 0x9e3779b1)) + i * 7919);
    const failures: Error[] = [];
    for (const seed of seeds) {
      let context: unknown;
      try {
        await body(new Gen(seed >>> 0), (what) => (context = JSON.parse(safeJson(what) || 'null')));
      } catch (err) {
        const e = err as Error;
        const shown = context === undefined ? '' : safeJson(context);
        e.message = `[case seed ${seed >>> 0}; replay with FUZZ_SEED=${seed >>> 0}] ${e.message}${shown ? `\n  generated: ${shown.length > 4000 ? shown.slice(0, 4000) + '…' : shown}` : ''}`;
        if (!collectAll) throw e;
        failures.push(e);
      }
    }
    if (failures.length > 0) throw new Error(`${failures.length} of ${seeds.length} cases failed:\n${failures.map((f) => f.message).join('\n')}`);
  })();
}
const safeJson = (v: unknown): string => {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? 'null' : s;
  } catch {
    return String(v);
  }
};

// ---------------------------------------------------------------------------------------------
// Generated connections

const NAME_PARTS = [
  'prod',
  'Prod',
  'dev',
  'payments-api',
  'Zürich',
  'naïve',
  '日本語',
  '🚀',
  'a b',
  '  lead',
  'x|y',
  '|',
  '*',
  '?',
  '[x]',
  '(y)',
  '{z}',
  '/',
  '\\',
  '.',
  '+',
  '^$',
  "'",
  '"',
  '%s',
  '–',
  'İ',
  'ß',
  'SS',
  'e\u0301',
  ',',
  '\t',
  'ﬁ',
  'ǅ',
  '0',
  '00000000',
];
const PROJECT_IDS = [PROJECT.id, PROJECT.id.toUpperCase(), OTHER_PROJECT.id, '9f9f9f9f-0000-4000-8000-00000000beef', undefined, ''];
const SCHEMES = [
  'ServicePrincipal',
  'serviceprincipal',
  'SERVICEPRINCIPAL',
  'WorkloadIdentityFederation',
  'workloadidentityfederation',
  'ManagedServiceIdentity',
  'PublishProfile',
  'Token',
  '',
  undefined,
];
const ENVIRONMENTS = ['AzureCloud', 'azurecloud', 'AZURECLOUD', 'AzureUSGovernment', 'AzureChinaCloud', 'AzureStack', 'azurestack', '', undefined, null];
const CREATION_MODES = ['Automatic', 'automatic', 'Manual', 'manual', 'MANUAL', '', undefined, null];
const STATES = ['Ready', 'ready', 'InProgress', 'inprogress', 'INPROGRESS', 'Failed', 'failed', '', undefined, 'Unknown'];
const TYPES = ['azurerm', 'azurerm', 'azurerm', 'azurerm', 'AzureRM', 'AZURERM', 'github', 'generic', 'kubernetes', 'azurerm ', ''];
const NOW = new Date('2026-06-01T12:00:00Z');

function genName(g: Gen, taken: string[]): string {
  if (taken.length > 0 && g.bool(0.1)) return g.recase(g.pick(taken)); // same name, other casing
  if (g.bool(0.03)) return '';
  const parts = Array.from({ length: g.int(1, 4) }, () => g.pick(NAME_PARTS));
  return parts.join(g.pick(['', '-', ' ', '_', '.']));
}

function genId(g: Gen): string {
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[g.int(0, 15)]).join('');
  const id = `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${String(++g.serial).padStart(12, '0')}`;
  return g.bool(0.2) ? id.toUpperCase() : id;
}

/** A map with a key under a random casing (the service's casing of data keys varies). */
function put(g: Gen, map: Record<string, string | null | undefined>, key: string, value: string | null | undefined): void {
  if (value === undefined && g.bool(0.5)) return;
  map[g.bool(0.7) ? key : g.recase(key)] = value;
}

function genRefs(g: Gen): Endpoint['serviceEndpointProjectReferences'] {
  const r = g.int(0, 9);
  if (r === 0) return null;
  if (r === 1) return undefined;
  const n = g.pick([0, 1, 1, 1, 1, 2, 2, 3]);
  const homeElsewhere = g.bool(0.2);
  return Array.from({ length: n }, (_, i) => {
    if (g.bool(0.05)) return { projectReference: null };
    const id = i === 0 ? (homeElsewhere ? g.pick(PROJECT_IDS) : g.pick([PROJECT.id, PROJECT.id.toUpperCase()])) : g.pick(PROJECT_IDS);
    const name = id === PROJECT.id || id === PROJECT.id.toUpperCase() ? PROJECT.name : g.pick([OTHER_PROJECT.name, undefined, 'Third | Project']);
    return { projectReference: { id, name }, name: g.bool(0.8) ? 'ref' : undefined, description: g.bool(0.5) ? '' : undefined };
  });
}

function genStatus(g: Gen): Endpoint['operationStatus'] {
  const r = g.int(0, 9);
  if (r === 0) return null;
  if (r === 1) return undefined;
  if (r === 2) return {};
  const state = g.bool(0.6) ? g.pick(['Ready', 'ready']) : g.pick(STATES);
  return { state, statusMessage: g.pick([undefined, '', 'converting_scheme', 'converting_scheme_failed: boom | 42']) };
}

/** Any connection, eligible or not, with fields missing, null or oddly cased. */
function genEndpoint(g: Gen, taken: string[]): Endpoint {
  const data: Record<string, string | null | undefined> = {};
  put(g, data, 'environment', g.pick(ENVIRONMENTS));
  put(g, data, 'creationMode', g.pick(CREATION_MODES));
  put(g, data, 'scopeLevel', g.pick(['Subscription', 'ManagementGroup', 'AzureMLWorkspace', undefined]));
  put(g, data, 'subscriptionName', g.pick(['Sub | One', 'Sub\nTwo', undefined]));
  put(g, data, 'revertSchemeDeadline', g.pick(['2026-06-05T00:00:00Z', '2026-05-01T00:00:00Z', 'not a date', '', undefined, null]));
  const params: Record<string, string | null | undefined> = {};
  put(g, params, 'tenantid', g.pick(['tenant-1', undefined]));
  put(g, params, 'serviceprincipalid', g.pick(['app-1', undefined]));
  put(g, params, 'serviceprincipalkey', null);
  put(
    g,
    params,
    'workloadIdentityFederationIssuer',
    g.pick([undefined, 'https://vstoken.dev.azure.com/org', 'https://login.microsoftonline.com/t/v2.0', 'https://other']),
  );
  put(g, params, 'workloadIdentityFederationSubject', g.pick([undefined, 'sc://o/p/n']));
  const auth = g.int(0, 9);
  const name = genName(g, taken);
  taken.push(name);
  return asListed({
    id: genId(g),
    name,
    type: g.pick(TYPES),
    isShared: g.pick([true, false, undefined]),
    isReady: g.pick([true, true, true, false, undefined]),
    operationStatus: genStatus(g),
    authorization: auth === 0 ? null : auth === 1 ? undefined : auth === 2 ? {} : { scheme: g.pick(SCHEMES), parameters: g.bool(0.1) ? null : params },
    data: g.bool(0.05) ? g.pick([null, undefined]) : data,
    serviceEndpointProjectReferences: genRefs(g),
  });
}

/** A generated service answer as the core gets it: through the adapter's normalisation (keys lower-cased once). */
const asListed = (raw: unknown): Endpoint => normalizeEndpoint(raw)!;

/** A connection the action would change (so conversions actually happen), with some variation. */
function genEligible(g: Gen, action: Action, taken: string[]): Endpoint {
  const name = genName(g, taken);
  taken.push(name);
  const revert = action === 'revert';
  return asListed({
    id: genId(g),
    name,
    type: g.pick(['azurerm', 'AzureRM']),
    isShared: false,
    isReady: true,
    operationStatus: g.pick([{ state: 'Ready', statusMessage: '' }, null, { state: 'ready' }]),
    authorization: {
      scheme: g.recase(revert ? Scheme.WorkloadIdentityFederation : Scheme.ServicePrincipal),
      parameters: {
        tenantid: 'tenant-1',
        serviceprincipalid: 'app-1',
        ...(revert ? { workloadIdentityFederationIssuer: 'https://vstoken.dev.azure.com/org' } : { serviceprincipalkey: null }),
      },
    },
    data: { environment: g.pick(['AzureCloud', 'azurecloud']), creationMode: 'Automatic', ...(revert ? { revertSchemeDeadline: '2026-06-05T00:00:00Z' } : {}) },
    serviceEndpointProjectReferences: g.bool(0.1)
      ? []
      : [{ projectReference: { id: g.pick([PROJECT.id, PROJECT.id.toUpperCase()]), name: PROJECT.name }, name, description: '' }],
  });
}

/** Pattern inputs as a user types them: names (any casing), wildcards, ids, junk; one per line or comma-separated. */
function genPatterns(g: Gen, endpoints: Endpoint[]): string[] {
  if (g.bool(0.5)) return [];
  const entries = Array.from({ length: g.int(1, 4) }, () => {
    const e = endpoints.length > 0 ? g.pick(endpoints) : undefined;
    const r = g.int(0, 7);
    if (!e || r === 0) return g.pick(['*', '**', '?', '*|*', '[', '(', '\\', 'nothing-matches', '日本*', '*🚀*', '.*', '$^']);
    if (r === 1) return g.recase(e.name);
    if (r === 2) return g.recase(e.id);
    if (r === 3) return `${e.name.slice(0, g.int(0, e.name.length))}*`;
    if (r === 4) return Array.from(e.name, (c) => (g.bool(0.2) ? '?' : c)).join('');
    if (r === 5) return `*${e.name.slice(g.int(0, e.name.length))}`;
    return e.name.replace(/\s+/g, ' ');
  });
  // Through the input parser's splitter, as the task does (a name with a comma or newline is split).
  return splitList(entries.join(g.pick(['\n', ',', '\r\n', ' , '])));
}

function genOptions(g: Gen, endpoints: Endpoint[], o: Partial<Options> = {}): Options {
  return {
    action: g.pick(['convert', 'convert', 'revert', 'report'] as const),
    projects: [],
    connections: genPatterns(g, endpoints),
    excludeConnections: g.bool(0.7) ? [] : genPatterns(g, endpoints),
    skipShared: g.bool(0.7),
    includeManual: g.bool(0.3),
    dryRun: g.bool(0.2),
    maxConnections: g.pick([0, 0, 0, 1, 2, 5, 100]),
    concurrency: g.int(1, 6),
    waitTimeoutSeconds: g.pick([0, 1, 5, 30, 300, 3600]),
    failOnFindings: g.bool(0.3),
    impactCheck: g.pick(['warn', 'skip', 'off'] as const),
    impactDays: 30,
    incompatibleTasks: [],
    ...o,
  };
}

const lower = (s: string | null | undefined) => (s ?? '').toLowerCase();
const isAzureRm = (e: Endpoint) => lower(e.type) === 'azurerm';
const homeId = (e: Endpoint) => (e.serviceEndpointProjectReferences ?? []).find((r) => r?.projectReference?.id)?.projectReference?.id;
const refCount = (e: Endpoint) => (e.serviceEndpointProjectReferences ?? []).filter((r) => r?.projectReference?.id).length;
const renders = (m: Message | undefined, where: string) => {
  if (m) assert.doesNotThrow(() => loc(m.key, ...m.args), `${where}: message ${m.key} is not in task.json`);
};

/** The classification properties; returns the classification. */
function checkClassify(endpoints: Endpoint[], opts: Options, g: Gen): Classified[] {
  const selection = makeSelection(opts.connections, opts.excludeConnections);
  const out = classify(endpoints, opts, ctx, selection, NOW);
  // Every connection in the action's scope gets exactly one decision, the others are dropped: azurerm
  // ones, and for a report also federated ones of any type (the issuer audit); every type for updateIssuer.
  const isWif = (e: Endpoint) => (e.authorization?.scheme ?? '').toLowerCase() === 'workloadidentityfederation';
  const azure = endpoints.filter((e) => opts.action === 'updateIssuer' || isAzureRm(e) || (opts.action === 'report' && isWif(e)));
  assert.equal(out.length, azure.length, 'one decision per connection in scope');
  const ids = out.map((c) => c.endpoint.id);
  assert.equal(new Set(ids).size, ids.length, 'no connection decided twice');
  assert.deepEqual(new Set(ids), new Set(azure.map((e) => e.id)), 'exactly the azurerm connections');
  for (const c of out) assert.ok(azure.includes(c.endpoint), 'the decision refers to the listed object');

  let changes = 0;
  for (const { endpoint: e, decision: d } of out) {
    const where = `${opts.action} ${JSON.stringify(e.name)}`;
    assert.ok(['federated', 'skip', 'change'].includes(d.kind), where);
    if (d.kind === 'skip') {
      assert.ok(d.reason && typeof d.reason.key === 'string', `${where}: a skip has a reason`);
      renders(d.reason, where);
    }
    if (d.kind === 'federated') {
      assert.notEqual(opts.action, 'revert', `${where}: revert never says federated`);
      assert.equal(lower(e.authorization?.scheme), 'workloadidentityfederation', where);
    }
    if (d.kind !== 'change') continue;
    changes++;
    assert.ok(selection.isSelected(e), `${where}: changed but not selected`);
    assert.equal(lower(e.authorization?.scheme), opts.action === 'revert' ? 'workloadidentityfederation' : 'serviceprincipal', `${where}: scheme`);
    const home = homeId(e);
    assert.ok(home === undefined || lower(home) === lower(ctx.project.id), `${where}: homed elsewhere`);
    assert.ok(!(opts.skipShared && (e.isShared === true || refCount(e) > 1)), `${where}: shared while skipShared`);
    assert.ok(
      opts.includeManual || lower(e.data ? Object.entries(e.data).find(([k]) => lower(k) === 'creationmode')?.[1] : '') !== 'manual',
      `${where}: manual`,
    );
    assert.ok(e.isReady !== false && !['inprogress', 'failed'].includes(lower(e.operationStatus?.state)), `${where}: not ready / busy`);
  }
  if (opts.maxConnections > 0 && opts.action !== 'report')
    assert.ok(changes <= opts.maxConnections, `${changes} changes over maxConnections ${opts.maxConnections}`);
  // A stable order: the listing's order does not matter.
  const again = classify(g.shuffle(endpoints), opts, ctx, makeSelection(opts.connections, opts.excludeConnections), NOW);
  assert.deepEqual(
    again.map((c) => [c.endpoint.id, c.decision.kind]),
    out.map((c) => [c.endpoint.id, c.decision.kind]),
    'order and decisions independent of the listing order',
  );
  assert.doesNotThrow(() => selection.unmatched(out.map((c) => c.endpoint)));
  return out;
}

/** Report, summary, log lines and result never throw, and the totals add up. */
function checkReport(results: ConnectionResult[], opts: Options, g: Gen, extra: { cancelled?: boolean } = {}): void {
  const failure = g.bool(0.1) ? msg('Unexpected', 'boom | \n x') : undefined;
  const report = buildReport(
    { action: opts.action, dryRun: opts.dryRun, ctx, startedAt: NOW, finishedAt: new Date(NOW.getTime() + g.int(0, 1e9)), failure, ...extra },
    results,
    loc,
  );
  assert.equal(report.connections.length, results.length, 'one report entry per connection');
  assert.equal(
    Object.values(report.totals).reduce((a, b) => a + b, 0),
    results.length,
    'totals add up to the number of connections',
  );
  const a = report.audit;
  assert.equal(a.onSecrets + a.federatedRetiringIssuer + a.federatedEntraIssuer + a.federatedOtherIssuer + a.otherSchemes, results.length, 'audit adds up');
  const md = renderSummary(report, loc);
  assert.equal(typeof md, 'string');
  assert.ok(Array.isArray(logLines(report, loc, opts.failOnFindings)));
  const result = decideResult(report, opts.failOnFindings);
  renders(result.message, 'task result');
  JSON.parse(JSON.stringify(report));
}

// ---------------------------------------------------------------------------------------------
// The fake service and clock

/** Instant clock: sleep advances `now`. */
function fakeClock(): Clock {
  let now = NOW.getTime();
  return { now: () => now, sleep: async (ms) => void (now += Math.max(0, ms)), wait: async (ms) => void (now += Math.max(0, ms)) };
}

type Mode = 'sync' | 'async' | 'async-fail' | 'async-never' | 'reject-403' | 'reject-400-manual' | 'reject-401' | 'reject-404' | 'aad-500' | 'gone';
/** One PUT attempt that does not simply succeed: `applied` means the change was made and only the answer was lost. */
interface PutFault {
  applied: boolean;
  error: 'network' | 429 | 500 | 503 | 504;
}
interface Behaviour {
  mode: Mode;
  /** GETs before an async job finishes (the Nth GET sees the result). */
  polls: number;
  /** Faults of the first PUT attempts, in order. */
  putFaults: PutFault[];
  /** Transient failures of the next GETs. */
  getFaults: number;
}

interface Conn {
  original: Endpoint;
  behaviour: Behaviour;
  scheme: string;
  state: 'Ready' | 'InProgress' | 'Failed';
  statusMessage: string;
  pendingGets: number;
  pendingTarget?: string;
  gone: boolean;
  /** What the service last showed the task (the answer of a PUT or GET). */
  lastShown?: Endpoint;
  calls: string[];
  puts: number;
  /** The service accepted a conversion PUT (applied it, or started its background job). */
  accepted: boolean;
}

const transientError = (kind: PutFault['error']) =>
  kind === 'network'
    ? new ServiceError({ message: 'ECONNRESET: socket hang up' })
    : new ServiceError({ status: kind, message: kind === 429 ? 'TF400733: Request was blocked' : `HTTP ${kind}` });

function genBehaviour(g: Gen): Behaviour {
  const mode = g.pick<Mode>([
    'sync',
    'sync',
    'sync',
    'async',
    'async',
    'async',
    'async-fail',
    'async-never',
    'reject-403',
    'reject-400-manual',
    'reject-401',
    'reject-404',
    'aad-500',
    'gone',
  ]);
  // A refused request (429, 5xx, a connection that failed) changed nothing; an applied one lost its answer (reset, gateway timeout).
  const putFaults = g.bool(0.6)
    ? []
    : Array.from({ length: g.int(1, 4) }, (): PutFault =>
        g.bool(0.35)
          ? { applied: true, error: g.pick(['network', 'network', 504] as const) }
          : { applied: false, error: g.pick(['network', 429, 500, 503] as const) },
      );
  return { mode, polls: g.int(1, 6), putFaults, getFaults: g.bool(0.75) ? 0 : g.int(1, 3) };
}

class FakeService implements EndpointPort {
  readonly conns = new Map<string, Conn>();
  putsInFlight = 0;
  callsInFlight = 0;
  peakPuts = 0;
  peakCalls = 0;
  cancelled = false;
  totalCalls = 0;
  onCall?: (n: number) => void;

  constructor(
    private readonly g: Gen,
    endpoints: Endpoint[],
    behaviours: Map<string, Behaviour>,
  ) {
    for (const e of endpoints) {
      const behaviour = behaviours.get(e.id) ?? { mode: 'sync', polls: 1, putFaults: [], getFaults: 0 };
      this.conns.set(e.id, {
        original: e,
        behaviour,
        scheme: e.authorization?.scheme ?? '',
        state: 'Ready',
        statusMessage: '',
        pendingGets: 0,
        gone: false,
        calls: [],
        puts: 0,
        accepted: false,
      });
    }
  }

  private view(c: Conn): Endpoint {
    const wif = lower(c.scheme) === 'workloadidentityfederation';
    return asListed({
      ...c.original,
      isReady: c.state !== 'Failed',
      operationStatus: { state: c.state, statusMessage: c.statusMessage },
      authorization: {
        scheme: c.scheme,
        parameters: {
          tenantid: 'tenant-1',
          serviceprincipalid: 'app-1',
          ...(wif
            ? {
                workloadIdentityFederationIssuer: 'https://login.microsoftonline.com/tenant-1/v2.0',
                workloadIdentityFederationSubject: `/eid1/c/pub/t/x/sc/${c.original.id}`,
              }
            : {}),
        },
      },
      data: { ...(c.original.data ?? {}), ...(wif ? { revertSchemeDeadline: '2026-06-08T12:00:00Z' } : {}) },
    });
  }

  private async enter(kind: 'put' | 'get'): Promise<void> {
    this.totalCalls++;
    this.onCall?.(this.totalCalls);
    if (kind === 'put') this.peakPuts = Math.max(this.peakPuts, ++this.putsInFlight);
    this.peakCalls = Math.max(this.peakCalls, ++this.callsInFlight);
    // Let other conversions run meanwhile, so overlap (and any excess of it) shows.
    for (let i = this.g.int(0, 4); i > 0; i--) await Promise.resolve();
  }
  private leave(kind: 'put' | 'get'): void {
    if (kind === 'put') this.putsInFlight--;
    this.callsInFlight--;
  }

  async get(id: string): Promise<Endpoint | null> {
    const c = this.conns.get(id);
    assert.ok(c, `GET of an unknown connection ${id}`);
    await this.enter('get');
    try {
      if (this.cancelled) {
        c.calls.push('GET-cancelled');
        throw new ServiceError({ message: 'The run was cancelled before this request was sent.', cancelled: true });
      }
      if (c.behaviour.getFaults > 0) {
        c.behaviour.getFaults--;
        c.calls.push('GET-failed');
        throw transientError(this.g.pick(['network', 429, 500, 503] as const));
      }
      c.calls.push('GET');
      if (c.gone) return null;
      if (c.state === 'InProgress' && c.pendingTarget !== undefined && c.behaviour.mode !== 'async-never' && ++c.pendingGets >= c.behaviour.polls) {
        if (c.behaviour.mode === 'async-fail') {
          c.state = 'Failed';
          c.statusMessage = 'converting_scheme_failed: Failed to add a federated identity credential | Insufficient privileges.';
        } else {
          c.scheme = c.pendingTarget;
          c.state = 'Ready';
          c.statusMessage = '';
        }
        c.pendingTarget = undefined;
      }
      c.lastShown = this.view(c);
      return c.lastShown;
    } finally {
      this.leave('get');
    }
  }

  async convert(id: string, body: ConversionBody): Promise<Endpoint> {
    const c = this.conns.get(id);
    assert.ok(c, `PUT of an unknown connection ${id}`);
    await this.enter('put');
    try {
      if (this.cancelled) {
        c.calls.push('PUT-cancelled');
        throw new ServiceError({ message: 'The run was cancelled before this request was sent.', cancelled: true });
      }
      c.calls.push('PUT');
      c.puts++;
      assert.equal(body.id, id, 'the body names the connection');
      const ref = body.serviceEndpointProjectReferences[0]?.projectReference?.id;
      assert.equal(lower(ref), lower(homeId(c.original) ?? ctx.project.id), 'the body carries the home project');
      const fault = c.behaviour.putFaults.shift();
      if (fault && !fault.applied) throw transientError(fault.error);
      const answer = this.apply(c, body.authorization.scheme);
      if (fault?.applied) throw transientError(fault.error); // applied, answer lost
      c.lastShown = answer;
      return answer;
    } finally {
      this.leave('put');
    }
  }

  /** What the service does with a conversion PUT (docs/service-behaviour.md §4, as the emulator does it). */
  private apply(c: Conn, target: string): Endpoint {
    const name = c.original.name;
    if (c.gone) throw new ServiceError({ status: 404, message: `Service connection ${c.original.id} not found.` });
    if (c.state === 'InProgress' && c.pendingTarget !== undefined) return this.view(c); // 202 again while pending
    if (lower(c.scheme) === lower(target)) {
      throw new ServiceError({
        status: 400,
        message: `Changing the authentication scheme of service connection ${name} from '${c.scheme}' to '${target}' is neither an upgrade or a downgrade.`,
      });
    }
    switch (c.behaviour.mode) {
      case 'reject-403':
        throw new ServiceError({ status: 403, message: 'Access denied. You need to be an Administrator on this service connection.' });
      case 'reject-400-manual':
        throw new ServiceError({ status: 400, message: 'The service principal could not be configured automatically, and no valid configuration exists.' });
      case 'reject-401':
        throw new ServiceError({ status: 401, message: 'TF400813: not authorized' });
      case 'reject-404':
        throw new ServiceError({ status: 404, message: 'not found' });
      case 'aad-500':
        throw new ServiceError({
          status: 500,
          message: 'Failed to obtain an access token of identity x. AAD returned silent failure.',
          typeKey: 'AadAccessSilentException',
        });
      case 'gone':
        c.accepted = true;
        c.gone = true; // deleted by someone else meanwhile: accepted, then it disappears
        c.state = 'InProgress';
        c.pendingTarget = target;
        return this.view(c);
      case 'sync':
        c.accepted = true;
        c.scheme = target;
        c.state = 'Ready';
        c.statusMessage = '';
        return this.view(c);
      default:
        c.accepted = true;
        c.state = 'InProgress';
        c.statusMessage = 'converting_scheme';
        c.pendingTarget = target;
        c.pendingGets = 0;
        return this.view(c);
    }
  }

  async whoAmI(): Promise<string | undefined> {
    return 'Payments Build Service (contoso)';
  }
}

interface ConversionCase {
  opts: Options;
  classified: Classified[];
  service: FakeService;
  results: ConnectionResult[];
  stopAt?: number;
}

/** Generates a connection list, behaviours and options, and runs startConversions to the end. */
async function runConversionCase(g: Gen, describe: (what: unknown) => void): Promise<ConversionCase> {
  const action = g.pick(['convert', 'convert', 'convert', 'revert', 'report'] as const);
  const taken: string[] = [];
  const endpoints = Array.from({ length: g.int(0, 18) }, () => (g.bool(0.75) ? genEligible(g, action, taken) : genEndpoint(g, taken)));
  const opts = genOptions(g, endpoints, { action, dryRun: g.bool(0.15), connections: g.bool(0.85) ? [] : genPatterns(g, endpoints), excludeConnections: [] });
  const classified = classify(endpoints, opts, ctx, makeSelection(opts.connections, opts.excludeConnections), NOW);
  const behaviours = new Map(endpoints.map((e) => [e.id, genBehaviour(g)]));
  const service = new FakeService(g, endpoints, behaviours);
  const findings: Findings = {};
  if (g.bool(0.2)) findings.impacts = new Map(classified.filter(() => g.bool(0.5)).map((c) => [c.endpoint.id, genImpact(g)]));
  const stopAt = g.bool(0.15) ? g.int(1, 12) : undefined;
  describe({
    action: opts.action,
    dryRun: opts.dryRun,
    concurrency: opts.concurrency,
    waitTimeoutSeconds: opts.waitTimeoutSeconds,
    maxConnections: opts.maxConnections,
    stopAt,
    connections: classified.map((c) => ({ id: c.endpoint.id, name: c.endpoint.name, decision: c.decision.kind, behaviour: behaviours.get(c.endpoint.id) })),
  });
  const run = startConversions(classified, opts, ctx, service, fakeClock(), findings);
  if (stopAt !== undefined) {
    // A cancellation: the core stops starting conversions, and the adapter sends nothing more.
    service.onCall = (n) => {
      if (n >= stopAt && !service.cancelled) {
        service.cancelled = true;
        run.stop();
      }
    };
  }
  await run.done;
  return { opts, classified, service, results: run.results, stopAt };
}

function genImpact(g: Gen): Impact {
  return {
    days: 30,
    pipelines: Array.from({ length: g.int(0, 2) }, (_, i) => ({
      id: i + 1,
      name: g.pick(['build | main', 'deploy\nprod', 'ok']),
      type: g.pick(['Build', 'Release'] as const),
      runId: 100 + i,
      lastUsed: g.pick([undefined, '2026-05-30T10:00:00Z']),
      tasks: ['AzureCLI@2'],
      flags: g.bool(0.5) ? [{ task: 'AzureFileCopy@4', severity: 'breaks' as const, why: msg('AzureFileCopyOld', 'AzureFileCopy@4') }] : [],
    })),
    partial: g.bool(0.3) ? [msg('ImpactNoHistory', 'HTTP 500: x')] : [],
  };
}

const isTarget = (scheme: string | undefined, action: Action) => lower(scheme) === (action === 'revert' ? 'serviceprincipal' : 'workloadidentityfederation');

// ---------------------------------------------------------------------------------------------

describe('fuzz: the core over generated connections and inputs', function () {
  this.timeout(20000);

  it('input parsing never throws: options or named errors, never both', () =>
    forAll(300, 1, (g, describe) => {
      const junk = () =>
        g.pick([
          '',
          ' ',
          'true',
          'FALSE',
          'yes',
          '0',
          '4',
          '17',
          '-1',
          '1e3',
          '０',
          'convert',
          'Revert',
          'REPORT',
          'delete',
          'a\u0000b',
          'x'.repeat(g.int(0, 500)),
          'a,b\nc',
          ' t o k ',
          'tok',
          '\t',
        ]);
      const keys = INPUT_NAMES;
      const raw: RawInputs = Object.fromEntries(keys.filter(() => g.bool(0.6)).map((k) => [k, junk()]));
      describe(raw);
      const parsed = parseInputs(raw);
      assert.equal(parsed.options === undefined, parsed.errors.length > 0, 'options exactly when there is no error');
      for (const e of parsed.errors) renders(e, 'input error');
      if (parsed.options) {
        assert.ok(parsed.options.concurrency >= 1 && parsed.options.concurrency <= 16);
        assert.ok(Number.isSafeInteger(parsed.options.maxConnections) && parsed.options.maxConnections >= 0);
        assert.ok(['convert', 'revert', 'report'].includes(parsed.options.action));
      }
      if (parsed.accessToken !== undefined) assert.doesNotMatch(parsed.accessToken, /\s/);
    }));

  it('classify never throws and gives every azurerm connection exactly one decision', () =>
    forAll(400, 2, (g, describe) => {
      const taken: string[] = [];
      const endpoints = Array.from({ length: g.int(0, 40) }, () => genEndpoint(g, taken));
      const opts = genOptions(g, endpoints);
      describe({ opts, endpoints });
      const classified = checkClassify(endpoints, opts, g);
      // With no pattern and no limit, a convert decision depends on the connection alone.
      if (opts.action === 'convert' && opts.connections.length === 0 && opts.excludeConnections.length === 0 && opts.maxConnections === 0) {
        for (const c of classified) {
          const [alone] = classify([c.endpoint], opts, ctx, makeSelection([], []), NOW);
          assert.deepEqual(alone.decision, c.decision, `decision of ${JSON.stringify(c.endpoint.name)} depends on the other connections`);
        }
      }
      checkReport(
        startConversions(classified, { ...opts, dryRun: true }, ctx, { get: () => assert.fail('GET'), convert: () => assert.fail('PUT') }, fakeClock()).results,
        { ...opts, dryRun: true },
        g,
      );
    }));

  it('listings with odd key casing, string booleans and garbage entries normalise without throwing', () =>
    forAll(200, 3, (g, describe) => {
      const taken: string[] = [];
      const recaseKeys = (v: unknown, depth: number): unknown => {
        if (Array.isArray(v)) return v.map((x) => recaseKeys(x, depth + 1));
        if (v === null || typeof v !== 'object')
          return typeof v === 'boolean' && g.bool(0.3) ? g.pick([String(v), String(v) === 'true' ? 'True' : 'False']) : v;
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [g.bool(0.3) ? g.recase(k) : k, recaseKeys(x, depth + 1)]));
      };
      const raw: unknown[] = Array.from({ length: g.int(0, 25) }, () => {
        if (g.bool(0.08)) return g.pick([null, 42, 'text', [], {}, { name: 'no id' }, { id: '' }, { id: 7, name: 8 }]);
        return recaseKeys(JSON.parse(JSON.stringify(genEndpoint(g, taken))), 0);
      });
      describe(raw);
      const { endpoints, malformed, duplicates } = normalizeListing(raw);
      assert.equal(endpoints.length + malformed + duplicates, raw.length, 'every entry is kept or counted');
      for (const e of endpoints) assert.equal(typeof e.name, 'string');
      const unique = [...new Map(endpoints.map((e) => [e.id, e])).values()];
      checkClassify(unique, genOptions(g, unique), g);
    }));

  it('startConversions: one result per connection, sends nothing on a dry run, converts only what the service showed converted, bounded PUTs and concurrency', async () => {
    const seen = { outcomes: new Set<string>(), fullConcurrency: 0, retried: 0, stopped: 0 };
    await forAll(300, 4, async (g, describe) => {
      const { opts, classified, service, results, stopAt } = await runConversionCase(g, describe);
      for (const r of results) seen.outcomes.add(r.outcome);
      if (opts.concurrency > 1 && service.peakPuts === opts.concurrency) seen.fullConcurrency++;
      if ([...service.conns.values()].some((c) => c.puts > 1)) seen.retried++;
      if (stopAt !== undefined && service.cancelled) seen.stopped++;
      // exactly one result per classified connection, same ids, same order
      assert.equal(results.length, classified.length, 'one result per connection');
      assert.deepEqual(
        results.map((r) => r.id),
        classified.map((c) => c.endpoint.id),
        'results are the classified connections',
      );
      const done = opts.action === 'revert' ? 'reverted' : 'converted';
      const calls = [...service.conns.values()].reduce((n, c) => n + c.calls.length, 0);
      if (opts.dryRun || opts.action === 'report') {
        assert.equal(calls, 0, 'a dry run or a report sends nothing');
        assert.ok(
          results.every((r) => r.outcome !== 'converted' && r.outcome !== 'reverted' && r.outcome !== 'failed' && r.outcome !== 'pending'),
          'a dry run changes nothing',
        );
      }
      assert.ok(service.peakPuts <= opts.concurrency, `${service.peakPuts} PUTs in flight with concurrency ${opts.concurrency}`);
      assert.ok(service.peakCalls <= opts.concurrency, `${service.peakCalls} requests in flight with concurrency ${opts.concurrency}`);
      classified.forEach((c, i) => {
        const r = results[i];
        const conn = service.conns.get(c.endpoint.id)!;
        const where = `${JSON.stringify(c.endpoint.name)} (${conn.behaviour.mode}, calls ${conn.calls.join(' ')})`;
        renders(r.reason, where);
        assert.ok(conn.puts <= 3, `${where}: ${conn.puts} PUTs`);
        if (c.decision.kind !== 'change') {
          assert.equal(conn.calls.length, 0, `${where}: a connection not to change is never sent`);
          assert.equal(r.outcome, c.decision.kind === 'federated' ? 'federated' : 'skipped', where);
          return;
        }
        if (opts.dryRun || opts.action === 'report') {
          assert.equal(r.outcome, 'planned', where);
          return;
        }
        if (r.outcome === 'converted' || r.outcome === 'reverted') {
          assert.equal(r.outcome, done, where);
          const shown = conn.lastShown;
          assert.ok(
            shown && isTarget(shown.authorization?.scheme, opts.action) && lower(shown.operationStatus?.state) === 'ready',
            `${where}: ${r.outcome} but the service last showed ${safeJson(shown?.operationStatus)} ${shown?.authorization?.scheme}`,
          );
        }
        if (stopAt === undefined) {
          assert.ok([done, 'failed', 'pending'].includes(r.outcome), `${where}: ended ${r.outcome}`);
          if (r.outcome === 'pending') assert.equal(r.reason?.key, 'PendingTimeout', where);
        } else if (r.outcome === 'skipped') {
          assert.equal(r.reason?.key, 'SkipNotAttempted', where);
        }
      });
      checkReport(results, opts, g, { cancelled: stopAt !== undefined });
    });
    if (only === undefined) {
      // The generator reaches what the properties are about (guards against a degenerate generator).
      for (const o of ['converted', 'reverted', 'failed', 'pending', 'planned', 'skipped', 'federated']) assert.ok(seen.outcomes.has(o), `no case ended ${o}`);
      assert.ok(seen.fullConcurrency > 10 && seen.retried > 10 && seen.stopped > 5, JSON.stringify({ ...seen, outcomes: [...seen.outcomes] }));
    }
  });

  // Issue 4: "a PUT that timed out or lost its connection is followed by a GET of the connection
  // before any retry, so a conversion is never sent twice blind"; "never lose track of what it changed".
  it('startConversions: never resends a PUT without having read the connection since the last one', () =>
    forAll(300, 4, async (g, describe) => {
      const { classified, service, results } = await runConversionCase(g, describe);
      classified.forEach((c, i) => {
        const r = results[i];
        const conn = service.conns.get(c.endpoint.id)!;
        const where = `${JSON.stringify(c.endpoint.name)} (${conn.behaviour.mode}; calls: ${conn.calls.join(' ')}; outcome ${r.outcome} ${r.reason?.key ?? ''})`;
        // between two PUTs of one connection, a GET that answered
        const seq = conn.calls.filter((x) => x === 'PUT' || x === 'GET');
        for (let k = 1; k < seq.length; k++)
          assert.ok(!(seq[k] === 'PUT' && seq[k - 1] === 'PUT'), `${where}: PUT resent without reading the connection first`);
      });
    }));

  it('startConversions: never reports a connection whose change the service accepted as failed or not attempted', () =>
    forAll(300, 4, async (g, describe) => {
      const { classified, service, results } = await runConversionCase(g, describe);
      classified.forEach((c, i) => {
        const r = results[i];
        const conn = service.conns.get(c.endpoint.id)!;
        const where = `${JSON.stringify(c.endpoint.name)} (${conn.behaviour.mode}; calls: ${conn.calls.join(' ')}; outcome ${r.outcome} ${r.reason?.key ?? ''})`;
        // a connection whose change the service accepted (done, or still running in the background)
        // is reported as changed or pending, never failed or not attempted
        if (conn.accepted && !conn.gone && conn.state !== 'Failed') {
          assert.ok(
            ['converted', 'reverted', 'pending'].includes(r.outcome),
            `${where}: the service accepted the change (now ${conn.scheme}, ${conn.state}) but the result says ${r.outcome} ${r.reason?.key ?? ''}`,
          );
        }
      });
    }));

  // Minimal reproductions of what the two properties above found (src/core/conversion.ts, send()).
  describe('found by the fuzz: a conversion the service applied is reported as failed', () => {
    const endpointX = (): Endpoint => genEligible(new Gen(1), 'convert', []);
    const federated = (e: Endpoint): Endpoint => ({
      ...e,
      authorization: { scheme: 'WorkloadIdentityFederation', parameters: {} },
      operationStatus: { state: 'Ready', statusMessage: '' },
    });
    const go = async (e: Endpoint, port: EndpointPort) => {
      const opts: Options = {
        ...genOptions(new Gen(2), []),
        action: 'convert',
        dryRun: false,
        connections: [],
        excludeConnections: [],
        maxConnections: 0,
        skipShared: true,
        includeManual: false,
      };
      const run = startConversions(classify([e], opts, ctx, makeSelection([], []), NOW), opts, ctx, port, fakeClock());
      await run.done;
      return run.results[0];
    };

    it('the answer of the third (last) PUT attempt is lost: the core gives up without reading the connection', async () => {
      const e = endpointX();
      let converted = false;
      const calls: string[] = [];
      const port: EndpointPort = {
        get: async () => (calls.push('GET'), converted ? federated(e) : e),
        convert: async () => {
          calls.push('PUT');
          if (calls.filter((c) => c === 'PUT').length < 3) throw new ServiceError({ status: 503, message: 'Service Unavailable' }); // refused, nothing changed
          converted = true; // the third is applied …
          throw new ServiceError({ message: 'ECONNRESET: socket hang up' }); // … and its answer lost
        },
      };
      const r = await go(e, port);
      assert.equal(r.outcome, 'converted', `calls ${calls.join(' ')}; outcome ${r.outcome} ${r.reason?.key ?? ''}`);
    });

    it('the GET after a lost PUT answer fails too: the PUT is resent blind and the service refuses it as already converted', async () => {
      const e = endpointX();
      let converted = false;
      const calls: string[] = [];
      const port: EndpointPort = {
        get: async () => {
          calls.push('GET');
          if (calls.filter((c) => c === 'GET').length === 1) throw new ServiceError({ message: 'ECONNRESET: socket hang up' }); // the network is still flaky
          return converted ? federated(e) : e;
        },
        convert: async () => {
          calls.push('PUT');
          if (converted)
            throw new ServiceError({
              status: 400,
              message: `Changing the authentication scheme of service connection x from 'WorkloadIdentityFederation' to 'WorkloadIdentityFederation' is neither an upgrade or a downgrade.`,
            });
          converted = true; // applied (sync) …
          throw new ServiceError({ message: 'ECONNRESET: socket hang up' }); // … answer lost
        },
      };
      const r = await go(e, port);
      assert.equal(r.outcome, 'converted', `calls ${calls.join(' ')}; outcome ${r.outcome} ${r.reason?.key ?? ''}`);
      assert.equal(calls.filter((c) => c === 'PUT').length, 1, `a PUT was resent without a GET that answered in between: ${calls.join(' ')}`);
    });
  });

  it('report: buildReport, renderSummary, logLines and decideResult never throw and the totals add up', () =>
    forAll(300, 5, (g, describe) => {
      const outcomes = ['converted', 'reverted', 'skipped', 'failed', 'pending', 'planned', 'federated'] as const;
      const keys = ['SkipShared', 'FailBusy', 'PendingTimeout', 'FailServer', 'SkipOverLimit', 'FederatedRetiringIssuer', 'PlannedNotAdministrator'];
      const taken: string[] = [];
      const results: ConnectionResult[] = Array.from({ length: g.int(0, 30) }, () => {
        const name = genName(g, taken);
        taken.push(name);
        const reasonKey = g.bool(0.5) ? g.pick(keys) : undefined;
        return {
          id: genId(g),
          name,
          scheme: g.pick(SCHEMES) ?? '',
          creationMode: g.pick(['Automatic', 'Manual', '']),
          selected: g.bool(0.8),
          isShared: g.bool(0.2),
          outcome: g.pick(outcomes),
          reason: reasonKey ? msg(reasonKey, ...Array.from({ length: 4 }, () => g.pick(['a | b', 'x\ny', 3, '%s', '']))) : undefined,
          serviceMessage: g.pick([undefined, 'line one\nline | two', '`tick`', '']),
          issuer: g.pick([undefined, 'https://vstoken.dev.azure.com/org', 'https://login.microsoftonline.com/t/v2.0']),
          issuerKind: g.pick([undefined, 'azuredevops', 'entra', 'other'] as const),
          subject: g.pick([undefined, 'sc://o/p/n', '`x`|y']),
          revertDeadline: g.pick([undefined, '2026-06-05T00:00:00Z', 'garbage', '']),
          scope: g.pick<Record<string, string> | undefined>([
            undefined,
            { level: 'Subscription', subscriptionName: 'S | 1' },
            { level: 'ManagementGroup' },
            { level: 'AzureMLWorkspace', mlWorkspaceName: 'w' },
            {},
          ]),
          homeProject: g.pick([undefined, 'Payments', '']),
          sharedWith: g.pick([undefined, [], ['A | B', 'C']]),
          impact: g.bool(0.2) ? genImpact(g) : undefined,
        };
      });
      const opts = genOptions(g, []);
      describe({ opts, results });
      checkReport(results, opts, g, { cancelled: g.bool(0.1) });
    }));
});
