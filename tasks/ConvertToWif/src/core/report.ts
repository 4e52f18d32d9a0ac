// What the run says: the JSON report, the run summary (markdown), the log lines and the task
// result. Pure: messages are rendered with the Localize function handed in.

import { Impact, isFlagged } from './impact';
import { Action, ConnectionResult, Localize, Message, Outcome, RunContext, Scheme, Totals, msg } from './model';

/** A connection as the report shows it: the result, with messages rendered to text. */
export interface ReportEntry extends Omit<ConnectionResult, 'reason' | 'impact'> {
  reason?: string;
  reasonCode?: string;
  /** Azure DevOps issuer only: days until its retirement (reference §6). */
  issuerDaysLeft?: number;
  impact?: ImpactEntry;
}

/** The impact check as the report shows it: pipelines that used the connection, and what would break. */
export interface ImpactEntry {
  days: number;
  flagged: boolean;
  pipelines: Array<{
    id: number;
    name: string;
    type: string;
    lastUsed?: string;
    runId: number;
    tasks: string[];
    flags: Array<{ task: string; severity: string; why: string }>;
  }>;
  partial: string[];
}

function renderImpact(i: Impact, loc: Localize): ImpactEntry {
  return {
    days: i.days,
    flagged: isFlagged(i),
    pipelines: i.pipelines.map((p) => ({ ...p, flags: p.flags.map((f) => ({ task: f.task, severity: f.severity, why: loc(f.why.key, ...f.why.args) })) })),
    partial: i.partial.map((m) => loc(m.key, ...m.args)),
  };
}

/** The inventory view: where the project stands, whatever the action. */
export interface Audit {
  onSecrets: number;
  federatedRetiringIssuer: number;
  federatedEntraIssuer: number;
  federatedOtherIssuer: number;
  otherSchemes: number;
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
  audit: Audit;
  /** Set when the run stopped early: the service could not be read, or an unexpected error. */
  error?: string;
  /** Set when the run was cancelled: connections in flight are `pending`, the rest not attempted. */
  cancelled?: boolean;
}

/** Microsoft retires the Azure DevOps issuer for public-cloud single-tenant apps and managed identities (reference §6). */
export const ISSUER_RETIREMENT = '2027-07-01T00:00:00Z';
const DAY = 86_400_000;

const OUTCOMES: Outcome[] = ['converted', 'reverted', 'skipped', 'failed', 'pending', 'planned', 'federated'];

export function totalsOf(results: Array<{ outcome: Outcome }>): Totals {
  const t = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Totals;
  for (const r of results) t[r.outcome]++;
  return t;
}

const isScheme = (c: { scheme: string }, s: string) => c.scheme.toLowerCase() === s.toLowerCase();
type Group = 'secret' | 'retiring' | 'entra' | 'otherIssuer' | 'otherScheme';
function groupOf(c: ReportEntry): Group {
  if (isScheme(c, Scheme.ServicePrincipal)) return 'secret';
  if (!isScheme(c, Scheme.WorkloadIdentityFederation)) return 'otherScheme';
  return c.issuerKind === 'azuredevops' ? 'retiring' : c.issuerKind === 'entra' ? 'entra' : 'otherIssuer';
}

export function auditOf(entries: ReportEntry[]): Audit {
  const count = (g: Group) => entries.filter((c) => groupOf(c) === g).length;
  return {
    onSecrets: count('secret'),
    federatedRetiringIssuer: count('retiring'),
    federatedEntraIssuer: count('entra'),
    federatedOtherIssuer: count('otherIssuer'),
    otherSchemes: count('otherScheme'),
  };
}

export const render = (loc: Localize, m: Message | undefined): string | undefined => (m ? loc(m.key, ...m.args) : undefined);

export function buildReport(
  run: { action: Action; dryRun: boolean; ctx: RunContext; startedAt: Date; finishedAt: Date; failure?: Message; cancelled?: boolean },
  results: ConnectionResult[],
  loc: Localize,
): Report {
  const daysLeft = Math.max(0, Math.ceil((Date.parse(ISSUER_RETIREMENT) - run.finishedAt.getTime()) / DAY));
  const connections = results.map(({ reason, impact, ...r }) => {
    let why = reason;
    const retiring = r.issuerKind === 'azuredevops' && isScheme(r, Scheme.WorkloadIdentityFederation);
    if (retiring && !why && r.outcome === 'federated') why = msg('FederatedRetiringIssuer', ISSUER_RETIREMENT.slice(0, 10), daysLeft);
    const entry: ReportEntry = {
      ...r,
      reason: render(loc, why),
      reasonCode: why?.key,
      issuerDaysLeft: retiring ? daysLeft : undefined,
      impact: impact ? renderImpact(impact, loc) : undefined,
    };
    for (const k of Object.keys(entry) as Array<keyof ReportEntry>) if (entry[k] === undefined) delete entry[k];
    return entry;
  });
  return {
    action: run.action,
    dryRun: run.dryRun,
    organization: run.ctx.organization,
    project: { id: run.ctx.project.id, name: run.ctx.project.name },
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    connections,
    totals: totalsOf(results),
    audit: auditOf(connections),
    ...(run.failure ? { error: render(loc, run.failure) } : {}),
    ...(run.cancelled ? { cancelled: true } : {}),
  };
}

export type ResultKind = 'Succeeded' | 'SucceededWithIssues' | 'Failed' | 'Cancelled';

/**
 * Failed when any connection failed (or, for a report with failOnFindings, while any connection
 * still uses a secret); with issues when some are still converting or a dry run foresees a
 * refusal; succeeded otherwise.
 */
export function decideResult(report: Report, failOnFindings = false): { kind: ResultKind; message: Message } {
  const t = report.totals;
  const a = report.audit;
  if (report.error) return { kind: 'Failed', message: msg('ResultError', report.error) };
  if (report.cancelled) return { kind: 'Cancelled', message: msg('ResultCancelled', t.converted + t.reverted, t.pending) };
  if (report.action === 'report') {
    if (failOnFindings && a.onSecrets > 0) return { kind: 'Failed', message: msg('ResultFindings', a.onSecrets) };
    return { kind: 'Succeeded', message: msg('ResultReport', a.onSecrets, a.federatedRetiringIssuer, a.federatedEntraIssuer) };
  }
  if (t.failed > 0) return { kind: 'Failed', message: msg(report.action === 'revert' ? 'ResultRevertFailed' : 'ResultFailed', t.failed) };
  if (t.pending > 0) return { kind: 'SucceededWithIssues', message: msg('ResultPending', t.pending) };
  // Converted (or about to be) while the impact check found something that breaks or needs checking.
  const atRisk = report.connections.filter((c) => (c.outcome === 'converted' || c.outcome === 'planned') && c.impact?.flagged).length;
  if (report.dryRun) {
    const warned = report.connections.filter((c) => c.outcome === 'planned' && c.reasonCode).length;
    if (warned > 0 || atRisk > 0) return { kind: 'SucceededWithIssues', message: msg('ResultDryRunIssues', t.planned, warned, atRisk) };
    return { kind: 'Succeeded', message: msg(report.action === 'revert' ? 'ResultRevertDryRun' : 'ResultDryRun', t.planned) };
  }
  if (report.action === 'revert') return { kind: 'Succeeded', message: t.reverted === 0 ? msg('ResultNothingToRevert') : msg('ResultReverted', t.reverted) };
  if (t.converted === 0) return { kind: 'Succeeded', message: msg('ResultNothingToDo') };
  if (atRisk > 0) return { kind: 'SucceededWithIssues', message: msg('ResultConvertedAtRisk', t.converted, atRisk) };
  return { kind: 'Succeeded', message: msg('ResultConverted', t.converted) };
}

// ---------------------------------------------------------------------------------------------
// Summary

/** Markdown cell: no pipes or line breaks that would break the table. */
const cell = (s: string | undefined): string => (s ?? '').replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const code = (s: string | undefined): string => (s ? '`' + s.replace(/`/g, "'") + '`' : '');

function table(headers: string[], rows: string[][]): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** "2026-12-03 18:00 UTC (6 d 23 h left)", or that the window has closed. */
export function deadlineText(iso: string | undefined, now: Date, loc: Localize): string {
  if (!iso) return '';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const shown = new Date(at).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const left = at - now.getTime();
  if (left <= 0) return loc('DeadlinePassed', shown);
  return loc('DeadlineLeft', shown, Math.floor(left / DAY), Math.floor((left % DAY) / 3_600_000));
}

/** "Subscription Contoso Prod (id)", "Management group …", "ML workspace …". */
export function scopeText(scope: Record<string, string> | undefined): string {
  if (!scope) return '';
  const level = scope['level'] ?? '';
  if (/managementgroup/i.test(level)) return `Management group ${scope['managementGroupName'] ?? scope['managementGroupId'] ?? ''}`.trim();
  if (/mlworkspace/i.test(level)) return `ML workspace ${scope['mlWorkspaceName'] ?? ''} (${scope['resourceGroupName'] ?? '?'})`.trim();
  return `Subscription ${scope['subscriptionName'] ?? scope['subscriptionId'] ?? ''}`.trim();
}

/** Counts in the order a reader needs them: what needs attention first. */
const DISPLAY_ORDER: Outcome[] = ['failed', 'pending', 'converted', 'reverted', 'planned', 'skipped', 'federated'];

function countsLine(report: Report, loc: Localize): string {
  const parts = DISPLAY_ORDER.filter((o) => report.totals[o] > 0).map((o) => {
    const text = `${report.totals[o]} ${loc(`Outcome_${o}`)}`;
    return o === 'failed' || o === 'pending' ? `**${text}**` : text;
  });
  return parts.join(' · ');
}

/** Which pipelines used the checked connections, and what would break (impact check). */
function impactSection(report: Report, loc: Localize, out: string[]): void {
  const checked = report.connections.filter((c) => c.impact);
  if (checked.length === 0) return;
  const days = checked[0].impact!.days;
  const rows: string[][] = [];
  for (const c of checked) {
    const i = c.impact!;
    if (i.pipelines.length === 0 && i.partial.length === 0) rows.push([cell(c.name), loc('ImpactNoUse', days), '', '']);
    for (const p of i.pipelines) {
      const flags = p.flags.map((f) => `**${loc(f.severity === 'breaks' ? 'ImpactBreaks' : 'ImpactVerify')}** ${f.why}`).join('<br>');
      rows.push([cell(c.name), cell(`${p.name} (${p.type})`), cell(p.lastUsed?.slice(0, 10)), cell(flags || loc('ImpactNothingFound'))]);
    }
    for (const note of i.partial) rows.push([cell(c.name), '', '', `**${loc('ImpactPartial')}** ${cell(note)}`]);
  }
  out.push('', `#### ${loc('SummaryImpact', days)}`, '');
  out.push(table([loc('ColConnection'), loc('ColPipeline'), loc('ColLastRun'), loc('ColRisks')], rows));
}

/** The run summary shown on the pipeline run's Extensions tab. */
export function renderSummary(report: Report, loc: Localize): string {
  const now = new Date(report.finishedAt);
  const by = (...o: Outcome[]) => report.connections.filter((c) => o.includes(c.outcome));
  const out: string[] = [];
  const title = loc(`ActionLabel_${report.action}`) + (report.dryRun && report.action !== 'report' ? loc('DryRunSuffix') : '');
  out.push(`### ${cell(loc('SummaryTitle', title, report.project.name))}`);
  if (report.error) out.push('', `**${cell(report.error)}**`);
  if (report.cancelled) out.push('', `**${loc('SummaryCancelled')}**`);
  if (report.connections.length === 0) {
    if (report.error) return out.join('\n') + '\n';
    out.push('', loc('SummaryNoConnections', report.project.name));
    return out.join('\n') + '\n';
  }
  if (report.action === 'report') return renderAudit(report, loc, now, out);
  out.push(countsLine(report, loc));

  const attention = by('failed', 'pending');
  if (attention.length > 0) {
    out.push('', `#### ${loc('SummaryAttention')}`, '');
    out.push(
      table(
        [loc('ColConnection'), loc('ColOutcome'), loc('ColWhatToDo'), loc('ColServiceSaid')],
        attention.map((c) => [cell(c.name), loc(`Outcome_${c.outcome}`), cell(c.reason), cell(c.serviceMessage)]),
      ),
    );
  }
  const converted = by('converted');
  if (converted.length > 0) {
    out.push('', `#### ${loc('SummaryChanged')}`, '');
    out.push(
      table(
        [loc('ColConnection'), loc('ColCreationMode'), loc('ColIssuer'), loc('ColSubject'), loc('ColRevertUntil')],
        converted.map((c) => [cell(c.name), cell(c.creationMode), cell(code(c.issuer)), cell(code(c.subject)), cell(deadlineText(c.revertDeadline, now, loc))]),
      ),
    );
  }
  const reverted = by('reverted');
  if (reverted.length > 0) {
    out.push('', `#### ${loc('SummaryReverted')}`, '');
    out.push(
      table(
        [loc('ColConnection'), loc('ColScheme'), loc('ColCreationMode')],
        reverted.map((c) => [cell(c.name), cell(c.scheme), cell(c.creationMode)]),
      ),
    );
  }
  const planned = by('planned');
  if (planned.length > 0) {
    out.push('', `#### ${loc(report.action === 'revert' ? 'SummaryPlannedRevert' : 'SummaryPlanned')}`, '');
    const revert = report.action === 'revert';
    out.push(
      table(
        [loc('ColConnection'), loc('ColCreationMode'), loc('ColShared'), ...(revert ? [loc('ColRevertUntil')] : []), loc('ColNote')],
        planned.map((c) => [
          cell(c.name),
          cell(c.creationMode),
          c.isShared ? loc('Yes') : '',
          ...(revert ? [cell(deadlineText(c.revertDeadline, now, loc))] : []),
          cell(c.reason),
        ]),
      ),
    );
  }
  impactSection(report, loc, out);
  const skipped = by('skipped');
  if (skipped.length > 0) {
    out.push('', `#### ${loc('SummarySkipped')}`, '');
    const deadlines = skipped.some((c) => c.revertDeadline);
    out.push(
      table(
        [loc('ColConnection'), loc('ColScheme'), ...(deadlines ? [loc('ColRevertUntil')] : []), loc('ColReason')],
        skipped.map((c) => [cell(c.name), cell(c.scheme), ...(deadlines ? [cell(deadlineText(c.revertDeadline, now, loc))] : []), cell(c.reason)]),
      ),
    );
  }
  const federated = by('federated');
  if (federated.length > 0) {
    out.push('', `#### ${loc('SummaryFederated')}`, '');
    out.push(
      table(
        [loc('ColConnection'), loc('ColIssuer'), loc('ColRevertUntil'), loc('ColNote')],
        federated.map((c) => [cell(c.name), cell(code(c.issuer)), cell(deadlineText(c.revertDeadline, now, loc)), cell(c.reason)]),
      ),
    );
  }
  return out.join('\n') + '\n';
}

/** `action: report`: the counts, then one table per group (on secrets / retiring issuer / Entra issuer / other). */
function renderAudit(report: Report, loc: Localize, now: Date, out: string[]): string {
  const a = report.audit;
  out.push(loc('AuditCounts', a.onSecrets, a.federatedRetiringIssuer, a.federatedEntraIssuer));
  const group = (g: Group) => report.connections.filter((c) => groupOf(c) === g);
  const where = (c: ReportEntry) => [cell(scopeText(c.scope)), cell(c.homeProject), cell((c.sharedWith ?? []).join(', '))];
  const headers = [loc('ColConnection'), loc('ColScope'), loc('ColHome'), loc('ColSharedWith')];

  const secrets = group('secret');
  if (secrets.length > 0) {
    out.push('', `#### ${loc('AuditSecrets')}`, '');
    out.push(
      table(
        [...headers, loc('ColCreationMode'), loc('ColConvert')],
        secrets.map((c) => [cell(c.name), ...where(c), cell(c.creationMode), cell(c.outcome === 'planned' ? loc('AuditWouldConvert') : c.reason)]),
      ),
    );
  }
  const retiring = group('retiring');
  if (retiring.length > 0) {
    out.push('', `#### ${loc('AuditRetiring', ISSUER_RETIREMENT.slice(0, 10))}`, '');
    out.push(
      table(
        [...headers, loc('ColDaysLeft'), loc('ColWhatToDo'), loc('ColRevertUntil')],
        retiring.map((c) => [cell(c.name), ...where(c), String(c.issuerDaysLeft ?? ''), cell(c.reason), cell(deadlineText(c.revertDeadline, now, loc))]),
      ),
    );
  }
  const fine = [...group('entra'), ...group('otherIssuer')];
  if (fine.length > 0) {
    out.push('', `#### ${loc('AuditEntra')}`, '');
    out.push(
      table(
        [...headers, loc('ColIssuer'), loc('ColRevertUntil')],
        fine.map((c) => [cell(c.name), ...where(c), cell(code(c.issuer)), cell(deadlineText(c.revertDeadline, now, loc))]),
      ),
    );
  }
  const other = group('otherScheme');
  if (other.length > 0) {
    out.push('', `#### ${loc('AuditOther')}`, '');
    out.push(
      table(
        [...headers, loc('ColScheme')],
        other.map((c) => [cell(c.name), ...where(c), cell(c.scheme)]),
      ),
    );
  }
  impactSection(report, loc, out);
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Log

export interface LogLine {
  level: 'info' | 'warning' | 'error';
  text: string;
}

/**
 * What the pipeline log says: one line per connection that changed, is planned, failed or is
 * pending; for a report, one warning per finding (an error with failOnFindings). Quiet otherwise.
 */
export function logLines(report: Report, loc: Localize, failOnFindings = false): LogLine[] {
  const lines: LogLine[] = [];
  for (const c of report.connections) {
    for (const p of c.impact?.pipelines ?? []) {
      for (const f of p.flags) lines.push({ level: 'warning', text: loc('LogImpact', c.name, p.name, f.why) });
    }
    if (report.action === 'report') {
      const g = groupOf(c);
      if (g === 'secret')
        lines.push({
          level: failOnFindings ? 'error' : 'warning',
          text: loc('FindingSecret', c.name, c.outcome === 'planned' ? loc('AuditWouldConvert') : (c.reason ?? '')),
        });
      else if (g === 'retiring') lines.push({ level: 'warning', text: loc('FindingRetiring', c.name, c.reason ?? '') });
      continue;
    }
    switch (c.outcome) {
      case 'converted':
        lines.push({ level: 'info', text: loc('LogConverted', c.name, c.issuer ?? '?', c.subject ?? '?') });
        break;
      case 'reverted':
        lines.push({ level: 'info', text: loc('LogReverted', c.name) });
        break;
      case 'planned':
        lines.push(
          c.reason
            ? { level: 'warning', text: loc('LogPlannedWarning', c.name, c.reason) }
            : { level: 'info', text: loc(report.action === 'revert' ? 'LogPlannedRevert' : 'LogPlanned', c.name) },
        );
        break;
      case 'failed':
        lines.push({
          level: 'error',
          text: c.serviceMessage ? loc('LogFailedService', c.name, c.reason ?? '', c.serviceMessage) : loc('LogFailed', c.name, c.reason ?? ''),
        });
        break;
      case 'pending':
        lines.push({ level: 'warning', text: loc('LogPending', c.name, c.reason ?? '') });
        break;
      default:
        break;
    }
  }
  return lines;
}
