// How a conversion (or a revert, the same PUT with the old scheme: docs/service-behaviour.md §5) proceeds
// (docs/service-behaviour.md §4): send the minimal PUT, then either take the service's synchronous answer, or
// wait for the background job by polling the connection.
//
// The ledger always holds the truth as far as the task knows it, so whatever happens to the
// run (a crash, a cancellation), the report written from it says what was changed.

import pLimit from 'p-limit';
import { Classified, creationModeOf, getCI, isSharedEndpoint, projectRefs, schemeOf } from './eligibility';
import { ServiceError, ServiceFailure, explainBackgroundFailure, explainFailure, isAadSilentFailure, isAlreadyOnScheme, isTransient } from './failures';
import type { Impact } from './impact';
import { ConnectionResult, Endpoint, IssuerKind, Options, RunContext, Scheme, changesNothing, msg } from './model';

/** What the core needs from the REST adapter. Both calls throw ServiceError on failure. */
export interface EndpointPort {
  /**
   * GET the connection by id in the current project; null when it does not exist (404). With a
   * deadline (clock time) the call settles by then: past it, it fails as timed out (transient).
   */
  get(id: string, opts?: { deadline?: number }): Promise<Endpoint | null>;
  /** PUT …/endpoints/{id}?operation=ConvertAuthenticationScheme with this body. */
  convert(id: string, body: ConversionBody): Promise<Endpoint>;
  /** Who the token belongs to, to name that identity in permission instructions (optional). */
  whoAmI?(): Promise<string | undefined>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface ConversionBody {
  id: string;
  type: string;
  authorization: { scheme: string };
  serviceEndpointProjectReferences: Array<{ projectReference: { id: string; name?: string }; name: string; description?: string }>;
}

/**
 * The minimal body (docs/service-behaviour.md §4): every field sent must equal the stored value, and resending the
 * whole endpoint fails on re-serialised fields and null secrets; so send only id, type, target
 * scheme and the home project reference copied from the listing.
 */
export function conversionBody(e: Endpoint, targetScheme: string, ctx: RunContext): ConversionBody {
  const ref = (e.serviceEndpointProjectReferences ?? []).find((r) => r?.projectReference?.id);
  const home = ref?.projectReference?.id
    ? { projectReference: { id: ref.projectReference.id, name: ref.projectReference.name }, name: ref.name ?? e.name, description: ref.description }
    : { projectReference: { id: ctx.project.id, name: ctx.project.name }, name: e.name };
  return { id: e.id, type: e.type, authorization: { scheme: targetScheme }, serviceEndpointProjectReferences: [home] };
}

/** Issuer, subject and revert deadline as the service set them (never built by the task). */
export function federationFields(e: Endpoint): Pick<ConnectionResult, 'issuer' | 'subject' | 'revertDeadline' | 'issuerKind'> {
  const issuer = getCI(e.authorization?.parameters, 'workloadIdentityFederationIssuer');
  return {
    issuer,
    subject: getCI(e.authorization?.parameters, 'workloadIdentityFederationSubject'),
    revertDeadline: getCI(e.data, 'revertSchemeDeadline'),
    issuerKind: issuerKind(issuer),
  };
}

const isScheme = (e: Endpoint, s: string) => schemeOf(e).toLowerCase() === s.toLowerCase();
const stateOf = (e: Endpoint) => (e.operationStatus?.state ?? '').toLowerCase();

export function issuerKind(issuer: string | undefined): IssuerKind | undefined {
  if (!issuer) return undefined;
  // The Azure DevOps issuer, also in its older form on app.vstoken.visualstudio.com (docs/service-behaviour.md §7).
  if (/^https:\/\/(vstoken\.dev\.azure\.com|app\.vstoken\.visualstudio\.com)\//i.test(issuer)) return 'azuredevops';
  if (/^https:\/\/login\.microsoftonline\.com\//i.test(issuer)) return 'entra';
  return 'other';
}

const SCOPE_KEYS = [
  'subscriptionId',
  'subscriptionName',
  'managementGroupId',
  'managementGroupName',
  'resourceGroupName',
  'mlWorkspaceName',
  'mlWorkspaceLocation',
];

/** What the connection grants access to (subscription, management group or ML workspace). */
export function scopeOf(e: Endpoint): Record<string, string> {
  const scope: Record<string, string> = { level: getCI(e.data, 'scopeLevel') ?? 'Subscription' };
  for (const k of SCOPE_KEYS) {
    const v = getCI(e.data, k);
    if (v) scope[k] = v;
  }
  return scope;
}

export function baseResult(e: Endpoint): ConnectionResult {
  const refs = projectRefs(e).map((r) => r.projectReference?.name ?? r.projectReference?.id ?? '?');
  const fed = federationFields(e);
  return {
    id: e.id,
    name: e.name,
    scheme: schemeOf(e),
    creationMode: creationModeOf(e),
    isShared: isSharedEndpoint(e),
    selected: true,
    outcome: 'skipped',
    revertDeadline: fed.revertDeadline,
    scope: scopeOf(e),
    homeProject: refs[0],
    sharedWith: refs.slice(1),
  };
}

/**
 * What a dry run can learn without changing anything: the ids of the connections the identity
 * administers (a listing with actionFilter=manage), so the plan can warn about a 403 to come.
 */
export interface DryRunPreview {
  manageable: Set<string>;
  identity?: string;
}

/** What was learnt before anything is sent: the dry-run permission preview and the impact check. */
export interface Findings {
  preview?: DryRunPreview;
  impacts?: Map<string, Impact>;
}

/** The outcome of every connection before anything is sent: skips, federated, planned, and the ones to convert. */
export function initialResults(classified: Classified[], opts: Options, ctx: RunContext, findings: Findings = {}): ConnectionResult[] {
  const { preview, impacts } = findings;
  return classified.map(({ endpoint: e, decision, selected }) => {
    const impact = impacts?.get(e.id);
    const r = { ...baseResult(e), selected, ...(impact ? { impact } : {}) };
    if (decision.kind === 'federated') return { ...r, outcome: 'federated', ...federationFields(e) };
    if (decision.kind === 'skip') return { ...r, outcome: 'skipped', reason: decision.reason };
    if (changesNothing(opts)) {
      const denied = preview && !preview.manageable.has(e.id.toLowerCase());
      const identity = preview?.identity ?? `${ctx.project.name} Build Service`;
      return denied ? { ...r, outcome: 'planned', reason: msg('PlannedNotAdministrator', identity, e.name, ctx.project.name) } : { ...r, outcome: 'planned' };
    }
    return { ...r, outcome: 'skipped', reason: msg('SkipNotAttempted') };
  });
}

type Step =
  | { done: ConnectionResult }
  | { waiting: Endpoint }
  | { failedInBackground: string }
  /** Cancelled: `applied` when an earlier attempt may have reached the service. */
  | { interrupted: { applied: boolean } };

export interface ConversionRun {
  /** One entry per classified connection, updated in place as conversions progress. */
  results: ConnectionResult[];
  /** Stop starting new conversions (cancellation); those in flight finish or stay pending. */
  stop(): void;
  /** Resolves when every conversion has ended or the wait ran out. */
  done: Promise<void>;
}

const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 15000;
const PUT_ATTEMPTS = 3;

/** Starts the action's change for every connection classified `change` (nothing is sent on a dry run or a report). */
export function startConversions(
  classified: Classified[],
  opts: Options,
  ctx: RunContext,
  port: EndpointPort,
  clock: Clock,
  findings: Findings = {},
): ConversionRun {
  const results = initialResults(classified, opts, ctx, findings);
  let stopped = false;
  const limit = pLimit(opts.concurrency);
  const indexOf = new Map(classified.map((c, i) => [c.endpoint.id, i]));
  const target = opts.action === 'revert' ? Scheme.ServicePrincipal : Scheme.WorkloadIdentityFederation;
  const doneOutcome = opts.action === 'revert' ? 'reverted' : 'converted';
  /** Records a final result, replacing what was there (the impact found before the change stays). */
  const put = (e: Endpoint, r: ConnectionResult) => {
    const i = indexOf.get(e.id)!;
    const impact = results[i].impact;
    results[i] = impact ? { ...r, impact } : r;
  };
  /** Marks a connection as in flight / still converting. */
  const pending = (e: Endpoint, reason: ConnectionResult['reason']) => {
    const i = indexOf.get(e.id)!;
    results[i] = { ...results[i], outcome: 'pending', reason };
  };

  /** Reads what the service shows for a connection whose conversion was sent. */
  const interpret = (original: Endpoint, current: Endpoint): Step => {
    const scheme = schemeOf(current) || schemeOf(original);
    const base = { ...baseResult(original), scheme };
    if (isScheme(current, target) && (stateOf(current) === 'ready' || stateOf(current) === '')) {
      return { done: { ...base, outcome: doneOutcome, ...federationFields(current) } };
    }
    if (stateOf(current) === 'failed') return { failedInBackground: current.operationStatus?.statusMessage ?? '' };
    // InProgress (converting_scheme), or not yet visibly changed: the background job decides.
    return { waiting: current };
  };

  let identity: Promise<string | undefined> | undefined;
  const failed = async (e: Endpoint, f: ServiceFailure, background = false): Promise<ConnectionResult> => {
    if ((f.status === 403 || isAadSilentFailure(f)) && !ctx.identity && port.whoAmI) {
      // Looked up once, only when a message needs the name.
      identity ??= port.whoAmI().catch(() => undefined);
      ctx = { ...ctx, identity: await identity };
    }
    let reason = background ? explainBackgroundFailure(f.message, e, ctx) : explainFailure(f, e, ctx);
    if (reason.key === 'FailManualNoCredential') {
      // The service may already know the issuer and subject it expects (docs/service-behaviour.md §17 question 5):
      // if it shows them, name them exactly; otherwise the message says where to read them.
      const current = await port.get(e.id).catch(() => null);
      const { issuer, subject } = current ? federationFields(current) : { issuer: undefined, subject: undefined };
      if (issuer && subject) reason = msg('FailManualNoCredentialKnown', reason.args[0], reason.args[1], issuer, subject);
    }
    return { ...baseResult(e), outcome: 'failed', reason, serviceMessage: f.message || undefined };
  };
  /** Applies a step's result; true when the connection needs no more polling. */
  const settle = async (e: Endpoint, step: Step): Promise<boolean> => {
    if ('done' in step) put(e, step.done);
    else if ('failedInBackground' in step) put(e, await failed(e, { status: 400, message: step.failedInBackground }, true));
    else if ('interrupted' in step) {
      if (step.interrupted.applied) pending(e, msg('PendingInFlight'));
      else put(e, { ...baseResult(e), outcome: 'skipped', reason: msg('SkipNotAttempted') });
    } else return false;
    return true;
  };

  /** Connections whose last PUT failed in a way that may or may not have applied it, with that failure. */
  const unsure = new Map<string, ServiceFailure>();

  const send = async (e: Endpoint): Promise<Step> => {
    const body = conversionBody(e, target, ctx);
    for (let attempt = 1; ; attempt++) {
      try {
        return interpret(e, await port.convert(e.id, body));
      } catch (err) {
        const f = toFailure(err);
        if (f.cancelled) return { interrupted: { applied: attempt > 1 } };
        if (isAlreadyOnScheme(f)) {
          const byOther = await changedByOther(e);
          if (byOther) return { done: byOther };
        }
        if (!isTransient(f)) return { done: await failed(e, f) };
        // The PUT may have been applied although its answer was lost (or was a 5xx): read the
        // connection before anything else, so a change is never sent twice blind, and never
        // reported failed when the service did make it.
        let current: Endpoint | null;
        try {
          current = await port.get(e.id);
        } catch {
          // Cannot tell now: the poll reads it later and decides (applied, or failed with f).
          unsure.set(e.id, f);
          return { waiting: e };
        }
        if (current === null) return { done: await failed(e, { status: 404, message: f.message }) };
        if (isScheme(current, target) || stateOf(current) === 'inprogress') return interpret(e, current);
        if (attempt >= PUT_ATTEMPTS) return { done: await failed(e, f) };
        await clock.sleep(1000 * attempt);
      }
    }
  };

  /**
   * The service refused the change because the connection is already on the target scheme:
   * another run or a person changed it after the listing. Read it back; when it shows the target
   * scheme (and is not busy), that is the outcome the run wanted, not a failure.
   */
  const changedByOther = async (e: Endpoint): Promise<ConnectionResult | undefined> => {
    const current = await port.get(e.id).catch(() => null);
    if (!current || !isScheme(current, target) || !(stateOf(current) === 'ready' || stateOf(current) === '')) return undefined;
    const base = { ...baseResult(e), scheme: schemeOf(current) };
    if (opts.action === 'revert') return { ...base, revertDeadline: undefined, outcome: 'skipped', reason: msg('SkipRevertedByOther') };
    return { ...base, outcome: 'federated', reason: msg('FederatedByOther'), ...federationFields(current) };
  };

  const waiting = new Map<string, Endpoint>(); // id -> original endpoint
  const convertOne = async (e: Endpoint) => {
    if (stopped) return;
    pending(e, msg('PendingInFlight'));
    const step = await send(e);
    if (!(await settle(e, step))) {
      pending(e, msg('PendingBackground'));
      waiting.set(e.id, e);
    }
  };

  const pollAll = async () => {
    const deadline = clock.now() + opts.waitTimeoutSeconds * 1000;
    let interval = POLL_FIRST_MS;
    // Every poll settles by the deadline (the port bounds it, and no retry wait ends after it),
    // so the wait never outlasts waitTimeoutSeconds; a poll cut at the deadline leaves the
    // connection pending. No poll starts at the deadline itself: it would have no time left.
    while (waiting.size > 0 && clock.now() < deadline && !stopped) {
      await clock.sleep(Math.min(interval, deadline - clock.now()));
      if (stopped || clock.now() >= deadline) break;
      interval = Math.min(interval * 2, POLL_MAX_MS);
      await Promise.all(
        [...waiting.values()].map((e) =>
          limit(async () => {
            let current: Endpoint | null;
            try {
              current = await port.get(e.id, { deadline });
            } catch (err) {
              const f = toFailure(err);
              if (isTransient(f) || f.cancelled) return; // try again next round (or stay pending)
              put(e, await failed(e, f));
              waiting.delete(e.id);
              return;
            }
            if (current === null) {
              put(e, { ...baseResult(e), outcome: 'failed', reason: msg('FailDisappeared') });
              waiting.delete(e.id);
              return;
            }
            const step = interpret(e, current);
            const notApplied = 'waiting' in step && unsure.has(e.id) && stateOf(current) !== 'inprogress';
            if (notApplied) {
              // The service shows the connection unchanged and idle: the uncertain PUT did not apply.
              put(e, await failed(e, unsure.get(e.id)!));
              waiting.delete(e.id);
            } else if (await settle(e, step)) waiting.delete(e.id);
          }),
        ),
      );
    }
    for (const e of waiting.values()) pending(e, stopped ? msg('PendingCancelled') : msg('PendingTimeout', opts.waitTimeoutSeconds));
  };

  const toConvert = changesNothing(opts) ? [] : classified.filter((c) => c.decision.kind === 'change').map((c) => c.endpoint);
  const done = (async () => {
    await Promise.all(toConvert.map((e) => limit(() => convertOne(e))));
    await pollAll();
  })();
  return { results, stop: () => (stopped = true), done };
}

export function toFailure(err: unknown): ServiceFailure {
  if (err instanceof ServiceError) return err;
  return { message: err instanceof Error ? err.message : String(err) };
}
