// ConvertToWif@1 entry: wires the task-lib adapter and the REST adapter to the pure core.

import { ServiceClient, toServiceError } from './src/adapters/serviceClient';
import { OutputFiles, TaskIO } from './src/adapters/taskio';
import { closestNames } from './src/core/closest';
import { Clock, ConversionRun, DryRunPreview, Findings, startConversions } from './src/core/conversion';
import { classify } from './src/core/eligibility';
import { isTokenProblem } from './src/core/failures';
import { applyImpact, assessImpact, parseTaskList } from './src/core/impact';
import { parseInputs } from './src/core/inputs';
import { ConnectionResult, Endpoint, Message, Options, RunContext, changesNothing, msg } from './src/core/model';
import { logLines } from './src/core/log';
import { buildReport } from './src/core/report';
import { decideResult } from './src/core/result';
import { renderSummary, summaryTitle } from './src/core/summary';
import { makeSelection } from './src/core/selection';

/** After a cancellation, how long conversions already sent may take to answer before the report is written. */
const CANCEL_GRACE_MS = 5000;

/** Real time, with sleeps that end at once when the run is cancelled. */
function abortableClock(signal: AbortSignal): Clock {
  return {
    now: () => Date.now(),
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const timer = setTimeout(done, ms);
        function done(): void {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done);
      }),
  };
}

async function run(io: TaskIO): Promise<void> {
  const startedAt = new Date();
  const parsed = parseInputs(io.rawInputs());
  const organization = io.collectionUri();
  const project = io.project();
  const errors: Message[] = [...parsed.errors];
  if (!organization) errors.push(msg('InputNoOrganization'));
  if (!project.id && !project.name) errors.push(msg('InputNoProject'));
  if (parsed.accessToken) io.secret(parsed.accessToken);
  // The report's place is checked before anything is sent: a run must never change connections and then fail to record it.
  const files = parsed.options ? io.prepareOutputFiles(parsed.reportPath) : undefined;
  if (files && !('reportPath' in files)) errors.push(files);
  if (errors.length > 0 || !parsed.options || !organization || !files || !('reportPath' in files)) {
    for (const e of errors) io.error(io.render(e));
    return io.result('Failed', io.loc('ResultBadInput', errors.length));
  }
  const opts = parsed.options;
  const token = parsed.accessToken ?? io.jobToken();
  if (!token) return io.result('Failed', io.loc('NoToken'));
  io.secret(token);

  // The agent sends SIGINT (then SIGTERM) when the run is cancelled or times out: start nothing
  // new, give what was sent a moment to answer, and write the report either way.
  const abort = new AbortController();
  const clock = abortableClock(abort.signal);
  io.onCancel(() => abort.abort());

  const client = new ServiceClient({
    collectionUrl: organization,
    projectId: project.id ?? project.name!,
    token,
    clock,
    maxInFlight: opts.concurrency,
    signal: abort.signal,
    proxy: io.proxy(organization),
    cert: io.cert(),
    debug: (m) => io.debug(m),
    requestTimeoutMs: io.requestTimeoutSeconds() * 1000,
  });

  let ctx: RunContext = { organization, project: { id: project.id ?? '', name: project.name ?? project.id ?? '' } };
  let conversion: ConversionRun | undefined;
  let failure: Message | undefined;
  let nothingMatched: Message | undefined;
  try {
    let listing: { endpoints: Endpoint[]; malformed: number };
    try {
      listing = await client.list();
    } catch (err) {
      const f = toServiceError(err);
      const key = isTokenProblem(f) ? 'ListTokenRejected' : f.status === 403 ? 'ListForbidden' : 'ListFailed';
      failure = msg(key, ctx.project.name, f.message);
      return;
    }
    const { endpoints, malformed } = listing;
    if (malformed > 0) io.warning(io.loc('ListingMalformed', malformed));
    if (!ctx.project.id) ctx = { ...ctx, project: { ...ctx.project, id: projectIdByName(endpoints, ctx.project.name) ?? '' } };

    const selection = makeSelection(opts.connections, opts.excludeConnections);
    let classified = classify(endpoints, opts, ctx, selection);
    for (const pattern of selection.unmatched(classified.map((c) => c.endpoint))) io.warning(io.loc('PatternMatchedNothing', pattern));
    nothingMatched = describeEmptySelection(opts, classified, ctx.project.name);
    const changing = classified.filter((c) => c.decision.kind === 'change').map((c) => c.endpoint.id);
    io.info(io.loc(`Plan_${opts.action}${opts.dryRun && opts.action !== 'report' ? '_dryRun' : ''}`, ctx.project.name, classified.length, changing.length));

    const findings: Findings = {};
    if (opts.impactCheck !== 'off' && opts.action !== 'revert' && changing.length > 0) {
      io.info(io.loc('ImpactChecking', changing.length, opts.impactDays));
      findings.impacts = await assessImpact(changing, client, {
        days: opts.impactDays,
        now: new Date(),
        concurrency: opts.concurrency,
        userList: parseTaskList(opts.incompatibleTasks).match,
      });
      // A check cut short by a cancellation says nothing about the pipelines: those connections are "not attempted".
      if (!abort.signal.aborted) classified = applyImpact(classified, findings.impacts, opts.impactCheck);
    }
    if (changesNothing(opts) && changing.length > 0 && !abort.signal.aborted) findings.preview = await previewPermissions(io, client);
    const started = startConversions(classified, opts, ctx, client, clock, findings);
    conversion = started;
    // Cancelled while checking impact: start nothing (each connection is then "not attempted").
    if (abort.signal.aborted) started.stop();
    // Already cancelled (during the impact check) or cancelled later: either way the grace period starts.
    const cancelled = new Promise<void>((resolve) => {
      if (abort.signal.aborted) resolve();
      else abort.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([
      started.done,
      cancelled.then(() => {
        started.stop();
        return Promise.race([started.done, new Promise((r) => setTimeout(r, CANCEL_GRACE_MS))]);
      }),
    ]);
  } catch (err) {
    failure = msg('Unexpected', err instanceof Error ? err.message : String(err));
  } finally {
    // Written whatever happened above, so the record of what was changed is never lost. The signal
    // handlers stay installed: a second signal now does not interrupt the report.
    finishRun(io, opts, ctx, startedAt, conversion?.results ?? [], files, { failure, cancelled: abort.signal.aborted, nothingMatched });
  }
}

/** When `connections` / `excludeConnections` leave nothing selected: what was asked, and the names closest to it. */
function describeEmptySelection(opts: Options, classified: Array<{ endpoint: Endpoint; selected: boolean }>, project: string): Message | undefined {
  if (classified.some((c) => c.selected) || (opts.connections.length === 0 && opts.excludeConnections.length === 0)) return undefined;
  const names = classified.map((c) => c.endpoint.name);
  const list = (xs: string[]) => xs.map((x) => `'${x}'`).join(', ');
  const matched =
    opts.connections.length === 0 ? names : classified.filter((c) => makeSelection(opts.connections, []).isSelected(c.endpoint)).map((c) => c.endpoint.name);
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

/**
 * A dry run also lists the connections the identity administers, so the plan can say which
 * conversions would be refused (403) before anyone runs the real thing. Best effort.
 */
async function previewPermissions(io: TaskIO, client: ServiceClient): Promise<DryRunPreview | undefined> {
  try {
    const manageable = await client.manageableIds();
    return { manageable, identity: await client.whoAmI() };
  } catch (err) {
    io.debug(`permission preview skipped: ${toServiceError(err).message}`);
    return undefined;
  }
}

/** Without System.TeamProjectId, the project's id is read from the connections' project references. */
function projectIdByName(endpoints: Endpoint[], name: string): string | undefined {
  for (const e of endpoints) {
    for (const r of e.serviceEndpointProjectReferences ?? []) {
      if (r?.projectReference?.id && (r.projectReference.name ?? '').toLowerCase() === name.toLowerCase()) return r.projectReference.id;
    }
  }
  return undefined;
}

function finishRun(
  io: TaskIO,
  opts: Options,
  ctx: RunContext,
  startedAt: Date,
  results: ConnectionResult[],
  files: OutputFiles,
  end: { failure?: Message; cancelled: boolean; nothingMatched?: Message },
): void {
  const report = buildReport({ action: opts.action, dryRun: opts.dryRun, ctx, startedAt, finishedAt: new Date(), ...end }, results, io.loc);
  for (const line of logLines(report, io.loc, opts.failOnFindings)) io[line.level](line.text);
  const reportPath = files.reportPath;
  let notWritten: string | undefined;
  try {
    io.writeFile(reportPath, JSON.stringify(report, null, 2) + '\n');
    io.info(io.loc('ReportWritten', reportPath));
  } catch (err) {
    notWritten = io.loc('ReportNotWritten', reportPath, err instanceof Error ? err.message : String(err));
  }
  try {
    io.uploadSummary(files.summaryPath, renderSummary(report, io.loc), summaryTitle(report, io.loc));
  } catch (err) {
    io.warning(io.loc('SummaryNotWritten', files.summaryPath, err instanceof Error ? err.message : String(err)));
  }
  const t = report.totals;
  io.output('convertedCount', t.converted);
  io.output('revertedCount', t.reverted);
  io.output('skippedCount', t.skipped);
  io.output('failedCount', t.failed);
  io.output('pendingCount', t.pending);
  io.output('plannedCount', t.planned);
  io.output('reportPath', reportPath);
  const result = decideResult(report, opts.failOnFindings);
  // Without the report file the record of what changed would live only in this log: fail loudly.
  if (notWritten) io.result('Failed', notWritten);
  else io.result(result.kind, io.render(result.message));
}

const io = new TaskIO(__dirname);
run(io)
  .catch((err: unknown) => {
    io.result('Failed', io.loc('Unexpected', err instanceof Error ? err.message : String(err)));
  })
  // Exit once the log has reached the agent: requests abandoned after a cancellation or a timeout
  // must not keep the process alive, and exiting earlier would drop the end of the log.
  .finally(() => io.flush().then(() => process.exit()));
