// The use case, over the ports it declares (ports.ts): inputs → listing → classification → impact
// check → changes → report. Cancellation and the final report live here too, so the entry file
// only wires adapters to this function.

import pLimit from 'p-limit';
import { closestNames } from './closest';
import { baseResult, federationFields, param, projectIdByName, schemeOf } from './endpoint';
import { EntraRun, entraSettingsOf, inspectApps, signInProblem } from './entra';
import { Budget, Classified, classify, newBudget } from './eligibility';
import { ServiceFailure, asFailure, describeFailure, isTokenProblem } from './failures';
import { finishRun } from './finish';
import { ImpactOptions, Limit, applyImpact, assessImpact, impactReader, parseTaskList } from './impact';
import { parseInputs } from './inputs';
import { isGuid, organizationName } from './identity';
import { Action, ConnectionResult, Endpoint, Localize, Message, Options, RunContext, Scheme, changesNothing, msg } from './model';
import { AzureDevOps, Clock, ConnectSettings, EntraPort, EntraSettings, Host } from './ports';
import { IssuerEnv, moveAll } from './issuer';
import { ConnectionRouter, ProjectInfo, ProjectScope, selectProjects } from './projects';
import type { ProjectOutcome } from './report';
import { ConversionRun, Findings, RunShared, initialResults, startConversions } from './schedule';
import { Selection, makeSelection } from './selection';

/** After a cancellation, how long changes already sent may take to answer before the report is written. */
export const CANCEL_GRACE_MS = 5000;

export interface RunPorts {
  host: Host;
  /** Builds the Azure DevOps client once the inputs and the token are known. */
  connect: (settings: ConnectSettings) => AzureDevOps;
  /** Builds the Microsoft Entra client for `entraConnection`, once its settings are validated. */
  connectEntra?: (settings: EntraSettings) => EntraPort;
  clock: Clock;
  /** Aborted when the agent cancels the run (SIGINT / SIGTERM). */
  cancelled: AbortSignal;
}

/** The plan line's message per action, for a real run and a dry run (a report is always a dry run). */
const PLAN: Record<Action, { run: string; dryRun: string }> = {
  convert: { run: 'Plan_convert', dryRun: 'Plan_convert_dryRun' },
  revert: { run: 'Plan_revert', dryRun: 'Plan_revert_dryRun' },
  report: { run: 'Plan_report', dryRun: 'Plan_report' },
  updateIssuer: { run: 'Plan_updateIssuer', dryRun: 'Plan_updateIssuer_dryRun' },
};

export async function runTask({ host, connect, connectEntra, clock, cancelled }: RunPorts): Promise<void> {
  const startedAt = new Date(clock.now());
  const parsed = parseInputs(host.rawInputs());
  const organization = host.collectionUri();
  const project = host.project();
  const errors: Message[] = [...parsed.errors];
  if (!organization) errors.push(msg('InputNoOrganization'));
  if (!project.id && !project.name) errors.push(msg('InputNoProject'));
  if (parsed.accessToken) host.secret(parsed.accessToken);
  // entraConnection is checked with the other inputs (revert never needs it: it leaves Entra alone).
  let entraSettings: EntraSettings | undefined;
  const entraId = parsed.options?.action !== 'revert' ? parsed.options?.entraConnection : undefined;
  if (entraId) {
    const agent = { jobToken: host.jobToken(), oidcRequestUri: host.oidcRequestUri(), collectionId: host.collectionId() };
    const checked = entraSettingsOf(entraId, host.agentConnection(entraId), agent, parsed.options!.concurrency);
    if (Array.isArray(checked)) errors.push(...checked);
    else if (!connectEntra) errors.push(msg('InputEntraUnknown', entraId));
    else {
      entraSettings = checked;
      if (checked.credential.kind === 'secret') host.secret(checked.credential.secret);
    }
    if (organization && !organizationName(organization)) errors.push(msg('InputNoOrganization'));
  }
  // updateIssuer computes subjects that name the organization id: without it they would be wrong.
  if (parsed.options?.action === 'updateIssuer' && !isGuid(host.collectionId())) errors.push(msg('InputNoCollectionId', host.collectionId() ?? '(none)'));
  // The report's place is checked before anything is sent: a run must never change connections and then fail to record it.
  const files = parsed.options ? host.prepareOutputFiles(parsed.reportPath) : undefined;
  if (files && !('reportPath' in files)) errors.push(files);
  if (errors.length > 0 || !parsed.options || !organization || !files || !('reportPath' in files)) {
    for (const e of errors) host.error(host.loc(e.key, ...e.args));
    return host.result('Failed', host.loc('ResultBadInput', errors.length));
  }
  const opts = parsed.options;
  const token = parsed.accessToken ?? host.jobToken();
  if (!token) {
    // The inputs were accepted: the report says why nothing was sent.
    const ctx: RunContext = { organization, project: { id: project.id ?? '', name: project.name ?? project.id ?? '' } };
    const end = { action: opts.action, dryRun: opts.dryRun, ctx, startedAt, failure: msg('NoToken'), cancelled: false };
    return finishRun(host, opts, files, end, [], new Date(clock.now()));
  }
  host.secret(token);

  const current = { id: project.id ?? '', name: project.name ?? project.id ?? '' };
  const maxInFlight = opts.concurrency + readConcurrency(opts.concurrency);
  const client = connect({ collectionUrl: organization, projectId: project.id ?? project.name!, token, concurrency: opts.concurrency, maxInFlight });
  const org = opts.projects.length > 0;
  const outcomes: ProjectOutcome[] = [];
  const finals: Array<Promise<void>> = [];
  let failure: Message | undefined;
  let nothingMatched: Message | undefined;
  const whoAmI = once(() => client.whoAmI().catch(() => undefined));
  const env: RunEnv = {
    host,
    opts,
    clock,
    cancelled,
    org,
    organization,
    selection: makeSelection(opts.connections, opts.excludeConnections),
    budget: newBudget(opts),
    router: undefined,
    matched: undefined,
    anySelected: false,
    whoAmI,
    clientFor: (p) =>
      !org || p.id.toLowerCase() === (project.id ?? '').toLowerCase()
        ? client
        : connect({ collectionUrl: organization, projectId: p.id, token, concurrency: opts.concurrency, maxInFlight }),
    entra: entraSettings && connectEntra ? lazySignIn(host, () => connectEntra(entraSettings), entraSettings, organization, cancelled) : undefined,
    issuerState: {},
    fail: (m) => (failure ??= m),
    whenCancelled: untilCancelled(cancelled),
    writes: pLimit(opts.concurrency),
    reads: pLimit(readConcurrency(opts.concurrency)),
    catalogue: {},
  };
  try {
    let scope: ProjectInfo[] = [current];
    if (org) {
      const selected = await projectsOf(client, env);
      if (!selected) return;
      if (selected.nothingMatched) {
        nothingMatched = selected.nothingMatched;
        return;
      }
      scope = selected.projects;
      env.router = new ConnectionRouter(scope, selected.visible);
    }
    outcomes.push(...scope.map((p) => ({ id: p.id, name: p.name, results: [] })));
    // A few projects at a time: while one converts its last connections, the next is listed and
    // starts, so `concurrency` changes stay in flight (env.writes, across projects; the pacer bounds
    // everything in flight) and only the projects in hand are held in memory.
    const window = pLimit(Math.max(2, opts.concurrency));
    // Listed in parallel, but classified in project order: maxConnections is spent, and a shared
    // connection is recorded, the same way in a dry run and in the real run, whatever answers first.
    let previous: Promise<void> = Promise.resolve();
    await Promise.all(
      outcomes.map((o) => {
        let done: () => void = () => undefined;
        const turn = { previous, done: new Promise<void>((resolve) => (done = resolve)) };
        previous = turn.done;
        return window(async () => {
          try {
            const final = await runProject(o, env, { previous: turn.previous, done });
            if (final) finals.push(final);
          } catch (err) {
            // One project's unexpected failure does not stop the others; its connections keep their record.
            o.error = msg('Unexpected', describeFailure(err));
          } finally {
            done();
          }
        });
      }),
    );
    await Promise.all(finals);
    if (env.router) recordOrphans(env.router, outcomes);
    if (org) nothingMatched = emptyOrgSelection(env, outcomes);
    else nothingMatched = env.single ? emptySelection(opts, env.single, current.name) : undefined;
    const unmatched = env.matched?.unmatched ?? [];
    if (org && unmatched.length > 0) host.warning(host.loc('PatternMatchedNothingOrg', someOf(unmatched, host.loc), outcomes.length));
  } catch (err) {
    failure = msg('Unexpected', describeFailure(err));
  } finally {
    // Written whatever happened above, so the record of what was changed is never lost.
    const ctx: RunContext = { organization, project: { id: outcomes[0] && !org ? outcomes[0].id : current.id, name: current.name } };
    finishRun(
      host,
      opts,
      files,
      {
        action: opts.action,
        dryRun: opts.dryRun,
        ctx,
        startedAt,
        failure,
        cancelled: cancelled.aborted,
        nothingMatched,
        projects: outcomes,
        organizationWide: org,
      },
      outcomes.flatMap((o) => o.results),
      new Date(clock.now()),
    );
  }
}

/** What every project of a run shares. */
interface RunEnv {
  host: Host;
  opts: Options;
  clock: Clock;
  cancelled: AbortSignal;
  /** An organization-wide run (`projects` given). */
  org: boolean;
  organization: string;
  selection: Selection;
  /** maxConnections left, across projects. */
  budget: Budget;
  /** Organization-wide: where each connection is handled. */
  router?: ConnectionRouter;
  /** Organization-wide: the `connections` entries not matched yet by any project. */
  matched?: { unmatched: string[] };
  anySelected: boolean;
  /** The single project's classification (for the "nothing matched" message). */
  single?: Classified[];
  whoAmI: () => Promise<string | undefined>;
  clientFor: (p: ProjectOutcome) => AzureDevOps;
  /** One sign-in as entraConnection per run, on first need. */
  entra?: (listed: Endpoint[]) => Promise<EntraRun>;
  /** updateIssuer: what the run learnt about the migration route (closed for the run after a route-wide refusal). */
  issuerState: { migrationUnavailable?: boolean };
  /** A run-wide failure (the first one wins). */
  fail: (m: Message) => void;
  /** Resolves when the run is cancelled (one listener on the signal for the whole run). */
  whenCancelled: Promise<void>;
  /** Changes in flight, all projects together: `concurrency`. */
  writes: Limit;
  /** Reads of the impact check in flight, alongside the changes (readConcurrency). */
  reads: Limit;
  /** The organization's task catalogue, read once per run. */
  catalogue: NonNullable<ImpactOptions['shared']>;
}

/**
 * Reads of the impact check in flight: twice `concurrency` (at most 32), alongside the changes, so a
 * connection's history is read while others convert. The one pacer (adapters/pacer.ts) still halves
 * everything in flight while the service throttles.
 */
export const readConcurrency = (concurrency: number): number => Math.min(32, 2 * concurrency);

/** Who an organization-wide run's job token is when the service does not say (docs/service-behaviour.md §8, §20). */
const COLLECTION_IDENTITY = 'Project Collection Build Service';

/** Up to 10 entries, quoted, and how many more there are. */
function someOf(entries: string[], loc: Localize): string {
  const shown = entries
    .slice(0, 10)
    .map((e) => `'${e}'`)
    .join(', ');
  return entries.length > 10 ? `${shown} ${loc('MoreEntries', entries.length - 10)}` : shown;
}

/** Memoizes a call. */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

/** Organization-wide: the projects the identity can see, and those `projects` selects; undefined when the run cannot go on. */
async function projectsOf(client: AzureDevOps, env: RunEnv): Promise<ProjectScope | undefined> {
  const { host, opts } = env;
  if (!client.listProjects) {
    env.fail(msg('ProjectsListFailed', 'this client cannot list projects'));
    return undefined;
  }
  let listed: Awaited<ReturnType<NonNullable<AzureDevOps['listProjects']>>>;
  try {
    listed = await client.listProjects();
  } catch (err) {
    const f = asFailure(err);
    if (f.cancelled || env.cancelled.aborted) return undefined;
    env.fail(msg(isTokenProblem(f) ? 'ProjectsListTokenRejected' : 'ProjectsListFailed', f.message));
    return undefined;
  }
  if (listed.malformed > 0) host.warning(host.loc('ProjectsListingMalformed', listed.malformed));
  const scope = selectProjects(listed.projects, opts.projects);
  const who = (await env.whoAmI()) ?? host.loc('TheJobIdentity');
  // One warning, whatever the number of entries (a pasted list of 10,000 names must not flood the log).
  if (scope.unmatched.length > 0) host.warning(host.loc('ProjectPatternMatchedNothing', someOf(scope.unmatched, host.loc), who, listed.projects.length));
  // A wildcard that finds one project: the usual sign of a job token limited to its own project.
  if (listed.projects.length === 1 && opts.projects.some((p) => /[*?]/.test(p))) host.warning(host.loc('ProjectsOnlyCurrent', who, listed.projects[0].name));
  if (!scope.nothingMatched) host.info(host.loc('PlanOrganization', scope.projects.length, listed.projects.length, who));
  env.matched = { unmatched: [...new Set(opts.connections)] };
  return scope;
}

/**
 * One project: list its connections, classify them, check their use, and change those to change.
 * Resolves once every change of the project was sent (its slot can go to the next project) with
 * the promise of the rest: the background jobs it waits for, or the grace period after a cancellation.
 */
async function runProject(o: ProjectOutcome, env: RunEnv, turn: { previous: Promise<void>; done: () => void }): Promise<Promise<void> | undefined> {
  const { host, opts, clock, cancelled } = env;
  if (cancelled.aborted) {
    o.error = msg('ProjectNotRead');
    o.unread = true;
    return undefined;
  }
  const client = env.clientFor(o);
  let listing: Awaited<ReturnType<AzureDevOps['list']>>;
  try {
    // The issuer retirement concerns federated connections of every type, not only azurerm.
    listing = await client.list(opts.action === 'updateIssuer' || opts.action === 'report' ? { allTypes: true } : undefined);
  } catch (err) {
    const f = asFailure(err);
    o.unread = true;
    if (f.cancelled || cancelled.aborted) {
      o.error = msg('ProjectNotRead');
      return undefined;
    }
    if (!env.org) {
      // One project: nothing can be done without its connections.
      env.fail(msg(isTokenProblem(f) ? 'ListTokenRejected' : f.status === 403 ? 'ListForbidden' : 'ListFailed', o.name, f.message));
      return undefined;
    }
    o.error = projectProblem(f, o.name, (await env.whoAmI()) ?? host.loc('TheJobIdentity'));
    host.warning(host.loc(o.error.key, ...o.error.args));
    return undefined;
  }
  if (listing.malformed > 0) host.warning(host.loc('ListingMalformed', listing.malformed));
  if (!o.id) o.id = projectIdByName(listing.endpoints, o.name) ?? '';
  // Organization-wide, the token is the collection's: name it (asked once per run) rather than "{project} Build Service".
  const identity = env.org ? ((await env.whoAmI()) ?? COLLECTION_IDENTITY) : undefined;
  const ctx: RunContext = { organization: env.organization, project: { id: o.id, name: o.name }, ...(identity ? { identity } : {}) };

  await turn.previous;
  let classified = classify(listing.endpoints, opts, ctx, env.selection, new Date(clock.now()), env.budget);
  if (env.router) classified = routeAll(classified, o, env.router);
  else env.single = classified;
  // The next project may classify now (its changes overlap this project's).
  turn.done();
  // Recorded at once (as "not attempted" where a change is due), so a failure later in this project loses no connection.
  o.results = initialResults(classified, opts, ctx);
  const unmatchedHere = env.selection.unmatched(classified.map((c) => c.endpoint));
  // Organization-wide, an entry is worth a warning only when no project matched it (said once, at the end).
  if (env.matched) env.matched.unmatched = env.matched.unmatched.filter((p) => unmatchedHere.includes(p));
  else for (const pattern of unmatchedHere) host.warning(host.loc('PatternMatchedNothing', pattern));
  if (classified.some((c) => c.selected)) env.anySelected = true;
  const changing = classified.filter((c) => c.decision.kind === 'change').map((c) => c.endpoint.id);
  const plan = PLAN[opts.action];
  if (!env.org || changing.length > 0) host.info(host.loc(opts.dryRun ? plan.dryRun : plan.run, o.name, classified.length, changing.length));

  const findings: Findings = {};
  let impactGate: RunShared['impact'];
  if (opts.impactCheck !== 'off' && opts.action !== 'revert' && opts.action !== 'updateIssuer' && changing.length > 0) {
    host.info(host.loc('ImpactChecking', changing.length, opts.impactDays));
    const userList = parseTaskList(opts.incompatibleTasks).match;
    const impactOptions: ImpactOptions = {
      days: opts.impactDays,
      now: new Date(clock.now()),
      concurrency: opts.concurrency,
      userList,
      limit: env.reads,
      shared: env.catalogue,
    };
    if (changesNothing(opts)) {
      findings.impacts = await assessImpact(changing, client, impactOptions);
      // A check cut short by a cancellation says nothing about the pipelines: those connections are "not attempted".
      if (!cancelled.aborted) classified = applyImpact(classified, findings.impacts, opts.impactCheck);
    } else {
      // A real run reads each connection's use just before its change, while others convert (no phase barrier).
      impactGate = { read: impactReader(client, impactOptions), mode: opts.impactCheck };
    }
  }
  if (changesNothing(opts) && changing.length > 0 && !cancelled.aborted)
    findings.preview = await previewPermissions(host, client, env, opts.action === 'updateIssuer' || opts.action === 'report');
  if (opts.action === 'revert' && opts.entraConnection && changing.length > 0) host.info(host.loc('RevertLeavesCredentials'));
  // One sign-in as entraConnection per run, when some connection needs Entra.
  let entra: EntraRun | undefined;
  const targets = entraTargets(classified, opts);
  const moving = opts.action === 'updateIssuer' && changing.length > 0;
  if (env.entra && !cancelled.aborted && (targets.length > 0 || moving)) {
    entra = await env.entra(listing.endpoints);
    if (changesNothing(opts) && targets.length > 0 && !cancelled.aborted) {
      host.info(host.loc('EntraInspecting', targets.length, entra.who));
      findings.apps = await inspectApps(targets, entra, ctx, opts.action === 'report', opts.concurrency);
    }
  }
  if (opts.action === 'updateIssuer') {
    const moved = initialResults(classified, opts, ctx, findings);
    o.results = moved;
    const issuerEnv = issuerEnvOf(env, {
      client,
      entra,
      ctx,
      dryRun: opts.dryRun,
      organizationId: host.collectionId() ?? '',
      organizationName: organizationName(env.organization) ?? '',
      clock,
    });
    await moveIssuers(classified, moved, issuerEnv, env.writes, cancelled);
    return undefined;
  }
  // Cancelled during the impact check: nothing starts (each connection is then "not attempted").
  const conversion = startConversions(classified, opts, ctx, client, clock, findings, cancelled, changesNothing(opts) ? undefined : entra, {
    limit: env.writes,
    impact: impactGate,
  });
  o.results = conversion.results;
  // Made before the wait below, so a failure while the changes run is caught here (and the report still written).
  const final = untilDoneOrCancelled(conversion, clock, env.whenCancelled).catch((err: unknown) => {
    o.error ??= msg('Unexpected', describeFailure(err));
  });
  await Promise.race([conversion.sent.catch(() => undefined), env.whenCancelled]);
  return final;
}

/** The updateIssuer environment of one project; whether the migration route is closed is known run-wide. */
function issuerEnvOf(env: RunEnv, base: Omit<IssuerEnv, 'migrationUnavailable' | 'cancelled' | 'waitTimeoutMs'>): IssuerEnv {
  const issuerEnv: IssuerEnv = { ...base, cancelled: env.cancelled, waitTimeoutMs: env.opts.waitTimeoutSeconds * 1000 };
  Object.defineProperty(issuerEnv, 'migrationUnavailable', {
    get: () => env.issuerState.migrationUnavailable,
    set: (v: boolean | undefined) => (env.issuerState.migrationUnavailable = v),
    enumerable: true,
  });
  return issuerEnv;
}

/**
 * Organization-wide: each listed connection is kept where it is handled. One shared from a
 * selected home project is dropped here (its home project handles it); one whose home project is
 * not selected is left alone with that reason.
 */
function routeAll(classified: Classified[], o: ProjectOutcome, router: ConnectionRouter): Classified[] {
  const kept: Classified[] = [];
  for (const c of classified) {
    const route = router.route(c, o);
    if (route.kind === 'nohome') kept.push(c.decision.kind === 'change' ? { ...c, decision: { kind: 'skip', reason: msg('SkipNoHomeProject') } } : c);
    else if (route.kind === 'here') kept.push(c);
    else if (route.kind === 'outside') {
      const leftAlone = c.decision.kind === 'skip' && c.decision.reason.key === 'SkipHomedElsewhere';
      const reason = route.visible ? msg('SkipHomeNotSelected', route.home.name) : msg('SkipHomeNotVisible', route.home.name);
      kept.push(leftAlone ? { ...c, decision: { kind: 'skip', reason } } : c);
    }
  }
  return kept;
}

/** Connections whose home project never listed them (it could not be read): recorded once, in the first project that listed them. */
function recordOrphans(router: ConnectionRouter, outcomes: ProjectOutcome[]): void {
  const byId = new Map(outcomes.map((o) => [o.id.toLowerCase(), o]));
  for (const { seenIn, home, classified: c } of router.orphans()) {
    const target = byId.get(seenIn.id.toLowerCase());
    const homeOutcome = byId.get(home.id.toLowerCase());
    if (!target) continue;
    const base = { ...baseResult(c.endpoint), selected: c.selected };
    // A federated one keeps its issuer (the audit counts it); any other is left alone with the reason.
    target.results.push(
      c.decision.kind === 'federated'
        ? { ...base, outcome: 'federated', ...federationFields(c.endpoint) }
        : { ...base, outcome: 'skipped', reason: msg(homeOutcome?.unread ? 'SkipHomeUnread' : 'SkipHomeNotListed', home.name) },
    );
  }
}

/** Organization-wide: the run's "nothing matched" message when `connections` / `excludeConnections` selected nothing in any project. */
function emptyOrgSelection(env: RunEnv, outcomes: ProjectOutcome[]): Message | undefined {
  const { opts } = env;
  if (env.anySelected || (opts.connections.length === 0 && opts.excludeConnections.length === 0)) return undefined;
  const read = outcomes.filter((o) => !o.error).length;
  return msg('NothingMatchedOrg', [...opts.connections, ...opts.excludeConnections.map((x) => `-${x}`)].join(', ') || '*', read);
}

/** Why a project's connections could not be read, and what to grant. */
function projectProblem(f: ServiceFailure, name: string, who: string): Message {
  if (isTokenProblem(f)) return msg('ProjectTokenRejected', name, f.message);
  if (f.status === 403) return msg('ProjectForbidden', name, f.message, who);
  if (f.status === 404) return msg('ProjectNotFound', name, f.message, who);
  return msg('ProjectReadFailed', name, f.message);
}

/** The one sign-in as entraConnection, on first need; the listing at hand names the connection in messages. */
function lazySignIn(
  host: Pick<Host, 'loc' | 'collectionId'>,
  port: () => EntraPort,
  s: EntraSettings,
  organization: string,
  cancelled: AbortSignal,
): (listed: Endpoint[]) => Promise<EntraRun> {
  let run: Promise<EntraRun> | undefined;
  return (listed) => (run ??= signIn(host, port(), s, listed, organization, cancelled));
}

const untilCancelled = (cancelled: AbortSignal): Promise<void> =>
  new Promise<void>((resolve) => {
    if (cancelled.aborted) resolve();
    else cancelled.addEventListener('abort', () => resolve(), { once: true });
  });

/**
 * The connections whose app the Entra step looks at: those to convert, and with `action: report`
 * also the federated ones (their apps' leftover secrets are a finding).
 */
function entraTargets(classified: Classified[], opts: Options): Array<{ endpoint: Endpoint; converting: boolean }> {
  // revert never uses Entra; updateIssuer signs in and reads the identities itself (core/issuer.ts).
  if (opts.action === 'revert' || opts.action === 'updateIssuer') return [];
  return classified
    .filter((c) => c.decision.kind === 'change' || (opts.action === 'report' && c.decision.kind === 'federated' && param(c.endpoint, 'serviceprincipalid')))
    .filter((c) => c.decision.kind === 'change' || schemeOf(c.endpoint).toLowerCase() === Scheme.WorkloadIdentityFederation.toLowerCase())
    .map((c) => ({ endpoint: c.endpoint, converting: c.decision.kind === 'change' }));
}

/**
 * Signs in as entraConnection once for the run. A failure is not the end of the run: each
 * connection that needs Entra then fails (or, in a dry run, is foreseen to fail) with the reason,
 * and nothing is sent for it.
 */
async function signIn(
  host: Pick<Host, 'loc' | 'collectionId'>,
  port: EntraPort,
  s: EntraSettings,
  listed: Endpoint[],
  organization: string,
  cancelled: AbortSignal,
): Promise<EntraRun> {
  const name = listed.find((e) => e.id.toLowerCase() === s.connectionId.toLowerCase())?.name;
  const who = name ? host.loc('EntraWhoNamed', name, s.clientId) : host.loc('EntraWho', s.clientId);
  const run: EntraRun = { port, settings: s, who, organizationId: host.collectionId() ?? '', organizationName: organizationName(organization) ?? '' };
  try {
    await port.signIn();
  } catch (err) {
    const f = asFailure(err);
    // Each connection that needed it then says why (one error line each, as for any failure).
    run.signInFailure = cancelled.aborted || f.cancelled ? { reason: msg('SkipNotAttempted') } : signInProblem(f, run);
  }
  return run;
}

/** updateIssuer: each connection to move, `concurrency` at a time; its entry is replaced the moment it ends. */
async function moveIssuers(classified: Classified[], results: ConnectionResult[], env: IssuerEnv, limit: Limit, cancelled: AbortSignal): Promise<void> {
  const index = new Map(results.map((r, i) => [r.id, i]));
  const toMove = classified.filter((c) => c.decision.kind === 'change').map((c) => c.endpoint);
  await moveAll(toMove, env, limit, cancelled, (e, r) => {
    const i = index.get(e.id)!;
    results[i] = { ...r, selected: results[i].selected };
  });
}

/**
 * Waits for the changes to end. Once cancelled (before they started, or while they run) nothing new
 * starts, and what was sent gets CANCEL_GRACE_MS to answer before the report is written.
 */
async function untilDoneOrCancelled(run: ConversionRun, clock: Clock, cancel: Promise<void>): Promise<void> {
  await Promise.race([
    run.done,
    cancel.then(() => {
      run.stop();
      return Promise.race([run.done, clock.wait(CANCEL_GRACE_MS)]);
    }),
  ]);
}

/**
 * A dry run (and a report) also lists the connections the identity administers, so the plan can say
 * which conversions would be refused (403) before anyone runs the real thing. Best effort.
 */
async function previewPermissions(host: Host, client: AzureDevOps, env: Pick<RunEnv, 'whoAmI'>, allTypes: boolean): Promise<Findings['preview']> {
  try {
    return { manageable: await client.manageableIds(allTypes ? { allTypes } : undefined), identity: await env.whoAmI() };
  } catch (err) {
    host.debug(`permission preview skipped: ${describeFailure(err)}`);
    return undefined;
  }
}

/** When `connections` / `excludeConnections` leave nothing selected: what was asked, and the names closest to it. */
function emptySelection(opts: Options, classified: Classified[], project: string): Message | undefined {
  if (classified.some((c) => c.selected) || (opts.connections.length === 0 && opts.excludeConnections.length === 0)) return undefined;
  const names = classified.map((c) => c.endpoint.name);
  const list = (xs: string[]) => xs.map((x) => `'${x}'`).join(', ');
  const included = makeSelection(opts.connections, []);
  const matched = classified.filter((c) => included.isSelected(c.endpoint)).map((c) => c.endpoint.name);
  if (matched.length > 0)
    return msg(
      'NothingLeftAfterExclude',
      opts.connections.join(', ') || '*',
      matched.length,
      project,
      opts.excludeConnections.join(', '),
      list(closestNames([], matched)),
    );
  return msg('NothingMatched', project, opts.connections.join(', '), names.length, names.length ? list(closestNames(opts.connections, names)) : '-');
}
