// What the run says: the JSON report, the run summary (markdown) and the task result.
// Pure: messages are rendered with the Localize function handed in.

import { Action, ConnectionResult, Localize, Message, Outcome, RunContext, Totals } from './model';

export interface ReportEntry {
  id: string;
  name: string;
  scheme: string;
  creationMode: string;
  isShared: boolean;
  outcome: Outcome;
  reason?: string;
  reasonCode?: string;
  serviceMessage?: string;
  issuer?: string;
  subject?: string;
  revertDeadline?: string;
}

export interface Report {
  action: Action;
  dryRun: boolean;
  organization: string;
  project: { id: string; name: string };
  startedAt: string;
  finishedAt: string;
  connections: ReportEntry[];
  totals: Totals;
}

const OUTCOMES: Outcome[] = ['converted', 'reverted', 'skipped', 'failed', 'pending', 'planned', 'federated'];

export function totalsOf(results: Array<{ outcome: Outcome }>): Totals {
  const t = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Totals;
  for (const r of results) t[r.outcome]++;
  return t;
}

export const render = (loc: Localize, m: Message | undefined): string | undefined => (m ? loc(m.key, ...m.args) : undefined);

export function buildReport(
  run: { action: Action; dryRun: boolean; ctx: RunContext; startedAt: Date; finishedAt: Date },
  results: ConnectionResult[],
  loc: Localize,
): Report {
  return {
    action: run.action,
    dryRun: run.dryRun,
    organization: run.ctx.organization,
    project: { id: run.ctx.project.id, name: run.ctx.project.name },
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    connections: results.map(({ reason, ...r }) => {
      const entry: ReportEntry = { ...r, reason: render(loc, reason), reasonCode: reason?.key };
      for (const k of Object.keys(entry) as Array<keyof ReportEntry>) if (entry[k] === undefined) delete entry[k];
      return entry;
    }),
    totals: totalsOf(results),
  };
}

export type ResultKind = 'Succeeded' | 'SucceededWithIssues' | 'Failed';

/** Failed when any connection failed; with issues when some are still converting; else succeeded. */
export function decideResult(report: Report): { kind: ResultKind; message: Message } {
  const t = report.totals;
  if (t.failed > 0) return { kind: 'Failed', message: { key: 'ResultFailed', args: [t.failed] } };
  if (t.pending > 0) return { kind: 'SucceededWithIssues', message: { key: 'ResultPending', args: [t.pending] } };
  if (report.dryRun) {
    const warned = report.connections.filter((c) => c.outcome === 'planned' && c.reasonCode).length;
    if (warned > 0) return { kind: 'SucceededWithIssues', message: { key: 'ResultDryRunIssues', args: [t.planned, warned] } };
    return { kind: 'Succeeded', message: { key: 'ResultDryRun', args: [t.planned] } };
  }
  if (t.converted === 0) return { kind: 'Succeeded', message: { key: 'ResultNothingToDo', args: [] } };
  return { kind: 'Succeeded', message: { key: 'ResultConverted', args: [t.converted] } };
}

/** Markdown cell: no pipes or line breaks that would break the table. */
const cell = (s: string | undefined): string => (s ?? '').replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const code = (s: string | undefined): string => (s ? '`' + s.replace(/`/g, "'") + '`' : '');

function table(headers: string[], rows: string[][]): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** The run summary shown on the pipeline run's Extensions tab. */
export function renderSummary(report: Report, loc: Localize): string {
  const t = report.totals;
  const by = (...o: Outcome[]) => report.connections.filter((c) => o.includes(c.outcome));
  const out: string[] = [];
  out.push(`### ${cell(loc(report.dryRun ? 'SummaryTitleDryRun' : 'SummaryTitle', report.project.name))}`);
  out.push(loc('SummaryCounts', t.converted, t.planned, t.failed, t.pending, t.skipped, t.federated));
  if (report.connections.length === 0) out.push('', loc('SummaryNoConnections', report.project.name));

  const attention = by('failed', 'pending');
  if (attention.length > 0) {
    out.push('', `#### ${loc('SummaryAttention')}`, '');
    out.push(table([loc('ColConnection'), loc('ColOutcome'), loc('ColWhatToDo'), loc('ColServiceSaid')],
      attention.map((c) => [cell(c.name), loc(`Outcome_${c.outcome}`), cell(c.reason), cell(c.serviceMessage)])));
  }
  const converted = by('converted');
  if (converted.length > 0) {
    out.push('', `#### ${loc('SummaryChanged')}`, '');
    out.push(table([loc('ColConnection'), loc('ColCreationMode'), loc('ColIssuer'), loc('ColSubject'), loc('ColRevertUntil')],
      converted.map((c) => [cell(c.name), cell(c.creationMode), cell(code(c.issuer)), cell(code(c.subject)), cell(c.revertDeadline)])));
  }
  const planned = by('planned');
  if (planned.length > 0) {
    out.push('', `#### ${loc('SummaryPlanned')}`, '');
    out.push(table([loc('ColConnection'), loc('ColCreationMode'), loc('ColShared'), loc('ColNote')],
      planned.map((c) => [cell(c.name), cell(c.creationMode), c.isShared ? loc('Yes') : '', cell(c.reason)])));
  }
  const skipped = by('skipped');
  if (skipped.length > 0) {
    out.push('', `#### ${loc('SummarySkipped')}`, '');
    out.push(table([loc('ColConnection'), loc('ColScheme'), loc('ColReason')], skipped.map((c) => [cell(c.name), cell(c.scheme), cell(c.reason)])));
  }
  const federated = by('federated');
  if (federated.length > 0) {
    out.push('', `#### ${loc('SummaryFederated')}`, '');
    out.push(table([loc('ColConnection'), loc('ColIssuer')], federated.map((c) => [cell(c.name), cell(code(c.issuer))])));
  }
  return out.join('\n') + '\n';
}

/** One log line per connection that needs a line: changed, planned, failed or pending. Quiet otherwise. */
export function logLine(c: ReportEntry, loc: Localize): string | undefined {
  switch (c.outcome) {
    case 'converted':
      return loc('LogConverted', c.name, c.issuer ?? '?', c.subject ?? '?');
    case 'planned':
      return c.reason ? loc('LogPlannedWarning', c.name, c.reason) : loc('LogPlanned', c.name);
    case 'failed':
      return c.serviceMessage ? loc('LogFailedService', c.name, c.reason ?? '', c.serviceMessage) : loc('LogFailed', c.name, c.reason ?? '');
    case 'pending':
      return loc('LogPending', c.name, c.reason ?? '');
    default:
      return undefined;
  }
}
