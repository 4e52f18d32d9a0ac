// The use case, over the ports it declares (ports.ts): inputs → listing → classification → impact
// check → changes → report. Cancellation and the final report live here too, so the entry file
// only wires adapters to this function.

import { closestNames } from './closest';
import { param, projectIdByName, schemeOf } from './endpoint';
import { EntraRun, entraSettingsOf, inspectApps, signInProblem } from './entra';
import { Classified, classify } from './eligibility';
import { asFailure, describeFailure, isTokenProblem } from './failures';
import { finishRun } from './finish';
import { applyImpact, assessImpact, parseTaskList } from './impact';
import { parseInputs } from './inputs';
import { isGuid, organizationName } from './identity';
import { Action, ConnectionResult, Endpoint, Message, Options, RunContext, Scheme, changesNothing, msg } from './model';
import { AzureDevOps, Clock, ConnectSettings, EntraPort, EntraSettings, Host } from './ports';
import { IssuerEnv, moveAll } from './issuer';
import { ConversionRun, Findings, initialResults, startConversions } from './schedule';
import { makeSelection } from './selection';

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
  let ctx: RunContext = { organization, project: { id: project.id ?? '', name: project.name ?? project.id ?? '' } };
  if (!token) {
    // The inputs were accepted: the report says why nothing was sent.
    const end = { action: opts.action, dryRun: opts.dryRun, ctx, startedAt, failure: msg('NoToken'), cancelled: false };
    return finishRun(host, opts, files, end, [], new Date(clock.now()));
  }
  host.secret(token);

  const client = connect({ collectionUrl: organization, projectId: project.id ?? project.name!, token, concurrency: opts.concurrency });
  let conversion: ConversionRun | undefined;
  let moved: ConnectionResult[] | undefined;
  let failure: Message | undefined;
  let nothingMatched: Message | undefined;
  try {
    let listing: Awaited<ReturnType<AzureDevOps['list']>>;
    try {
      // The issuer retirement concerns federated connections of every type, not only azurerm.
      listing = await client.list(opts.action === 'updateIssuer' || opts.action === 'report' ? { allTypes: true } : undefined);
    } catch (err) {
      const f = asFailure(err);
      if (f.cancelled) return; // cancelled while listing: nothing was changed, and the result says Cancelled
      failure = msg(isTokenProblem(f) ? 'ListTokenRejected' : f.status === 403 ? 'ListForbidden' : 'ListFailed', ctx.project.name, f.message);
      return;
    }
    if (listing.malformed > 0) host.warning(host.loc('ListingMalformed', listing.malformed));
    if (!ctx.project.id) ctx = { ...ctx, project: { ...ctx.project, id: projectIdByName(listing.endpoints, ctx.project.name) ?? '' } };

    const selection = makeSelection(opts.connections, opts.excludeConnections);
    let classified = classify(listing.endpoints, opts, ctx, selection);
    for (const pattern of selection.unmatched(classified.map((c) => c.endpoint))) host.warning(host.loc('PatternMatchedNothing', pattern));
    nothingMatched = emptySelection(opts, classified, ctx.project.name);
    const changing = classified.filter((c) => c.decision.kind === 'change').map((c) => c.endpoint.id);
    const plan = PLAN[opts.action];
    host.info(host.loc(opts.dryRun ? plan.dryRun : plan.run, ctx.project.name, classified.length, changing.length));

    const findings: Findings = {};
    if (opts.impactCheck !== 'off' && opts.action !== 'revert' && opts.action !== 'updateIssuer' && changing.length > 0) {
      host.info(host.loc('ImpactChecking', changing.length, opts.impactDays));
      const userList = parseTaskList(opts.incompatibleTasks).match;
      findings.impacts = await assessImpact(changing, client, { days: opts.impactDays, now: new Date(clock.now()), concurrency: opts.concurrency, userList });
      // A check cut short by a cancellation says nothing about the pipelines: those connections are "not attempted".
      if (!cancelled.aborted) classified = applyImpact(classified, findings.impacts, opts.impactCheck);
    }
    if (changesNothing(opts) && changing.length > 0 && !cancelled.aborted)
      findings.preview = await previewPermissions(host, client, opts.action === 'updateIssuer' || opts.action === 'report');
    if (opts.action === 'revert' && opts.entraConnection && changing.length > 0) host.info(host.loc('RevertLeavesCredentials'));
    // One sign-in as entraConnection per run, when some connection needs Entra.
    let entra: EntraRun | undefined;
    const targets = entraTargets(classified, opts);
    const moving = opts.action === 'updateIssuer' && changing.length > 0;
    if (entraSettings && connectEntra && !cancelled.aborted && (targets.length > 0 || moving)) {
      entra = await signIn(host, connectEntra(entraSettings), entraSettings, listing.endpoints, organization, cancelled);
      if (changesNothing(opts) && targets.length > 0 && !cancelled.aborted) {
        host.info(host.loc('EntraInspecting', targets.length, entra.who));
        findings.apps = await inspectApps(targets, entra, ctx, opts.action === 'report', opts.concurrency);
      }
    }
    if (opts.action === 'updateIssuer') {
      moved = initialResults(classified, opts, ctx, findings);
      await moveIssuers(
        classified,
        moved,
        { client, entra, ctx, dryRun: opts.dryRun, organizationId: host.collectionId() ?? '', organizationName: organizationName(organization) ?? '', clock },
        opts,
        cancelled,
      );
      return;
    }
    // Cancelled during the impact check: nothing starts (each connection is then "not attempted").
    conversion = startConversions(classified, opts, ctx, client, clock, findings, cancelled, changesNothing(opts) ? undefined : entra);
    await untilDoneOrCancelled(conversion, clock, cancelled);
  } catch (err) {
    failure = msg('Unexpected', describeFailure(err));
  } finally {
    // Written whatever happened above, so the record of what was changed is never lost.
    const results: ConnectionResult[] = moved ?? conversion?.results ?? [];
    finishRun(
      host,
      opts,
      files,
      { action: opts.action, dryRun: opts.dryRun, ctx, startedAt, failure, cancelled: cancelled.aborted, nothingMatched },
      results,
      new Date(clock.now()),
    );
  }
}

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
async function moveIssuers(classified: Classified[], results: ConnectionResult[], env: IssuerEnv, opts: Options, cancelled: AbortSignal): Promise<void> {
  const index = new Map(results.map((r, i) => [r.id, i]));
  const toMove = classified.filter((c) => c.decision.kind === 'change').map((c) => c.endpoint);
  await moveAll(toMove, { ...env, cancelled, waitTimeoutMs: opts.waitTimeoutSeconds * 1000 }, opts.concurrency, cancelled, (e, r) => {
    const i = index.get(e.id)!;
    results[i] = { ...r, selected: results[i].selected };
  });
}

/**
 * Waits for the changes to end. Once cancelled (before they started, or while they run) nothing new
 * starts, and what was sent gets CANCEL_GRACE_MS to answer before the report is written.
 */
async function untilDoneOrCancelled(run: ConversionRun, clock: Clock, cancelled: AbortSignal): Promise<void> {
  const cancel = new Promise<void>((resolve) => {
    if (cancelled.aborted) resolve();
    else cancelled.addEventListener('abort', () => resolve(), { once: true });
  });
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
async function previewPermissions(host: Host, client: AzureDevOps, allTypes: boolean): Promise<Findings['preview']> {
  try {
    return { manageable: await client.manageableIds(allTypes ? { allTypes } : undefined), identity: await client.whoAmI() };
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
