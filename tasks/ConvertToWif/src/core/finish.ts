// The end of every run that got past its inputs: the report, the log lines, the summary, the output
// variables and the task result, written from the ledger whatever happened before.

import { renderHandoff } from './handoff';
import { eachLogLine } from './log';
import { Action, ConnectionResult, Message, Options, RunContext } from './model';
import { Host, OutputFiles } from './ports';
import { ProjectOutcome, buildReport, reportJson } from './report';
import { decideResult } from './result';
import { summaryPieces, summaryTitle } from './summary';

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export interface RunEnd {
  action: Action;
  dryRun: boolean;
  ctx: RunContext;
  startedAt: Date;
  failure?: Message;
  cancelled: boolean;
  nothingMatched?: Message;
  /** The run's projects and the connections handled from each (organization-wide, or the one project). */
  projects?: ProjectOutcome[];
  organizationWide?: boolean;
}

export function finishRun(host: Host, opts: Options, files: OutputFiles, end: RunEnd, results: ConnectionResult[], now = new Date()): void {
  const loc = host.loc;
  const report = buildReport({ ...end, finishedAt: now }, results, loc);
  for (const line of eachLogLine(report, loc, opts.failOnFindings)) host[line.level](line.text);
  let notWritten: string | undefined;
  try {
    host.writeFile(files.reportPath, reportJson(report));
    host.info(loc('ReportWritten', files.reportPath));
  } catch (err) {
    notWritten = loc('ReportNotWritten', files.reportPath, errorText(err));
  }
  try {
    host.uploadSummary(files.summaryPath, summaryPieces(report, loc), summaryTitle(report, loc));
  } catch (err) {
    host.warning(loc('SummaryNotWritten', files.summaryPath, errorText(err)));
  }
  const handoff = renderHandoff(report, loc);
  if (handoff && files.handoffPath) {
    try {
      host.writeFile(files.handoffPath, handoff);
      host.output('handoffPath', files.handoffPath);
      host.info(loc('HandoffWritten', files.handoffPath));
    } catch (err) {
      host.warning(loc('HandoffNotWritten', files.handoffPath, errorText(err)));
    }
  }
  const t = report.totals;
  if (report.action === 'updateIssuer') {
    host.output('updatedCount', t.updated);
    host.output('preparedCount', t.prepared);
    host.output('handoffCount', t.handoff);
  }
  host.output('convertedCount', t.converted);
  host.output('revertedCount', t.reverted);
  host.output('skippedCount', t.skipped);
  host.output('failedCount', t.failed);
  host.output('pendingCount', t.pending);
  host.output('plannedCount', t.planned);
  host.output('reportPath', files.reportPath);
  const result = decideResult(report, opts.failOnFindings);
  // Without the report file the record of what changed would live only in this log: fail loudly.
  if (notWritten) host.result('Failed', notWritten);
  else host.result(result.kind, [result.message, result.note].flatMap((m) => (m ? [loc(m.key, ...m.args)] : [])).join(' '));
}
