// The run summary (markdown, on the pipeline run's Extensions tab). It leads with what needs a
// person, then what changed, then what was left alone and why. Every value from the service or the
// inputs is escaped (escape.ts); columns empty on every row are dropped, and an issuer shared by
// several rows is shown once above them.

import { htmlText, mdCode, mdText } from './escape';
import { Action, Localize, Outcome } from './model';
import {
  CREDENTIAL_CHANGE_LABEL,
  ISSUER_RETIREMENT,
  Report,
  ReportEntry,
  auditOf,
  byProject,
  changedAtRisk,
  foreseenRefusal,
  groupOf,
  leftAloneByImpact,
} from './report';

const DAY = 86_400_000;

/** Message keys, written out (never built at run time) so every key the code uses is findable. */
const ACTION_LABEL: Record<Action, string> = {
  convert: 'ActionLabel_convert',
  revert: 'ActionLabel_revert',
  report: 'ActionLabel_report',
  updateIssuer: 'ActionLabel_updateIssuer',
};
const OUTCOME_LABEL: Record<Outcome, string> = {
  converted: 'Outcome_converted',
  reverted: 'Outcome_reverted',
  skipped: 'Outcome_skipped',
  failed: 'Outcome_failed',
  pending: 'Outcome_pending',
  planned: 'Outcome_planned',
  federated: 'Outcome_federated',
  updated: 'Outcome_updated',
  prepared: 'Outcome_prepared',
  handoff: 'Outcome_handoff',
};

/** "ConvertToWif convert (dry run): project Payments": the summary's title and its section name on the run page. */
export function summaryTitle(report: Pick<Report, 'action' | 'dryRun' | 'project' | 'organizationWide' | 'projects'>, loc: Localize): string {
  const action = loc(ACTION_LABEL[report.action]) + (report.dryRun && report.action !== 'report' ? loc('DryRunSuffix') : '');
  return report.organizationWide ? loc('SummaryTitleOrg', action, report.projects.length) : loc('SummaryTitle', action, report.project.name);
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

/** "Subscription Contoso Prod", "Management group …", "ML workspace …". */
export function scopeText(scope: Record<string, string> | undefined): string {
  if (!scope) return '';
  const level = scope['level'] ?? '';
  if (/managementgroup/i.test(level)) return `Management group ${scope['managementGroupName'] ?? scope['managementGroupId'] ?? ''}`.trim();
  if (/mlworkspace/i.test(level)) return `ML workspace ${scope['mlWorkspaceName'] ?? ''} (${scope['resourceGroupName'] ?? '?'})`.trim();
  return `Subscription ${scope['subscriptionName'] ?? scope['subscriptionId'] ?? ''}`.trim();
}

/** A table column: its header and each row's cell, already markdown (escape data with mdText / mdCode). */
interface Column<T> {
  header: string;
  cell: (row: T) => string;
}

/** A markdown table without the columns that are empty on every row. */
function table<T>(columns: Array<Column<T>>, rows: T[]): string[] {
  const cells = rows.map((r) => columns.map((c) => c.cell(r)));
  const keep = columns.map((_, i) => i === 0 || cells.some((row) => row[i] !== ''));
  const pick = <V>(xs: V[]) => xs.filter((_, i) => keep[i]);
  const headers = pick(columns).map((c) => c.header);
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...cells.map((row) => `| ${pick(row).join(' | ')} |`)];
}

/**
 * One section: a heading and a table of its rows; nothing when there are no rows. With `hoist`, rows
 * are grouped by that value (e.g. the issuer, one per tenant), which is shown once above each group.
 */
function section<T>(
  out: string[],
  title: string,
  rows: T[],
  columns: Array<Column<T>>,
  hoist?: { label: string; value: (row: T) => string | undefined },
): void {
  if (rows.length === 0) return;
  out.push('', `#### ${title}`);
  const groups = new Map<string, T[]>();
  for (const r of rows) {
    const key = hoist?.value(r) ?? '';
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  for (const [key, group] of groups) {
    if (key) out.push('', `${hoist!.label} ${mdCode(key)}`);
    out.push('', ...table(columns, group));
  }
}

/** Counts in the order a reader needs them: what needs attention first. */
const DISPLAY_ORDER: Outcome[] = ['failed', 'pending', 'handoff', 'prepared', 'updated', 'converted', 'reverted', 'planned', 'skipped', 'federated'];

function countsLine(report: Pick<Report, 'totals'>, loc: Localize, bold = true): string {
  return DISPLAY_ORDER.filter((o) => report.totals[o] > 0)
    .map((o) => {
      const text = `${report.totals[o]} ${loc(OUTCOME_LABEL[o])}`;
      return bold && (o === 'failed' || o === 'pending' || o === 'handoff' || o === 'prepared') ? `**${text}**` : text;
    })
    .join(' · ');
}

/** What needs a person: failed, pending, hand-offs, prepared, held back by the impact check, a refusal foreseen by a dry run. */
const needsAttention = (c: ReportEntry): boolean =>
  c.outcome === 'failed' || c.outcome === 'pending' || c.outcome === 'handoff' || c.outcome === 'prepared' || leftAloneByImpact(c) || foreseenRefusal(c);

/** `action: report`: a selected connection still on a secret or on the retiring issuer. */
const isFinding = (c: ReportEntry): boolean => c.selected && (groupOf(c) === 'secret' || groupOf(c) === 'retiring');

/**
 * Organization-wide: the totals first, the projects that could not be read, then one section per
 * project, open when something in it needs attention and collapsed otherwise.
 */
function* renderOrganization(report: Report, loc: Localize): Generator<string> {
  let out: string[] = [`### ${mdText(summaryTitle(report, loc))}`];
  if (report.error) out.push('', `**${mdText(report.error)}**`);
  if (report.cancelled) out.push('', `**${loc('SummaryCancelled')}**`);
  if (report.nothingMatched) out.push('', `**${mdText(report.nothingMatched)}**`);
  const a = report.audit;
  if (report.connections.length > 0)
    out.push('', report.action === 'report' ? loc('AuditCounts', a.onSecrets, a.federatedRetiringIssuer, a.federatedEntraIssuer) : countsLine(report, loc));
  section(
    out,
    loc('SummaryProjectsUnread'),
    report.projects.filter((p) => p.unread),
    [
      { header: loc('ColProject'), cell: (p) => mdText(p.name) },
      { header: loc('ColError'), cell: (p) => mdText(p.error) },
    ],
  );
  const groups = byProject(report.connections);
  // Read, but nothing in them: said once, not as an empty section each.
  const empty = report.projects.filter((p) => !p.unread && !p.error && !groups.has(p.id.toLowerCase()));
  if (empty.length > 0) out.push('', mdText(loc('SummaryProjectsEmpty', empty.length, empty.map((p) => p.name).join(', '))));
  for (const p of report.projects) {
    const connections = groups.get(p.id.toLowerCase()) ?? [];
    const failed = p.error && !p.unread;
    if (connections.length === 0 && !failed) continue;
    const sub: Report = { ...report, organizationWide: false, project: { id: p.id, name: p.name }, connections, totals: p.totals, audit: auditOf(connections) };
    // Open where the run's result points: a finding, something needing a person, or a change at risk.
    const open = failed || connections.some(report.action === 'report' ? isFinding : (c) => needsAttention(c) || changedAtRisk(c));
    const counts =
      report.action === 'report'
        ? loc('AuditCounts', sub.audit.onSecrets, sub.audit.federatedRetiringIssuer, sub.audit.federatedEntraIssuer).replace(/\*\*/g, '')
        : countsLine(sub, loc, false);
    const head = `${p.name}: ${counts}${open ? '' : ` (${loc('SummaryProjectNothing')})`}`;
    out.push('', `<details${open ? ' open' : ''}><summary>${htmlText(head)}</summary>`, '');
    if (failed) out.push('', `**${mdText(p.error)}**`);
    renderProject(sub, loc, out);
    out.push('', '</details>');
    // One project's lines at a time: the summary of 10,000 connections is never held whole.
    yield* out;
    out = [];
  }
  yield* out;
}

/** Which pipelines used the checked connections, and what would break (impact check). */
function impactSection(report: Report, loc: Localize, out: string[]): void {
  const checked = report.connections.filter((c) => c.impact);
  if (checked.length === 0) return;
  const days = checked[0].impact!.days;
  type Row = { connection: string; pipeline: string; lastRun: string; risks: string };
  const rows: Row[] = [];
  for (const c of checked) {
    const i = c.impact!;
    const connection = mdText(c.name);
    if (i.pipelines.length === 0 && i.partial.length === 0) rows.push({ connection, pipeline: mdText(loc('ImpactNoUse', days)), lastRun: '', risks: '' });
    for (const p of i.pipelines) {
      const flags = p.flags.map((f) => `**${loc(f.severity === 'breaks' ? 'ImpactBreaks' : 'ImpactVerify')}** ${mdText(f.why)}`).join('<br>');
      rows.push({
        connection,
        pipeline: mdText(`${p.name} (${p.type})`),
        lastRun: mdText(p.lastUsed?.slice(0, 10)),
        risks: flags || mdText(loc('ImpactNothingFound')),
      });
    }
    for (const note of i.partial) rows.push({ connection, pipeline: '', lastRun: '', risks: `**${loc('ImpactPartial')}** ${mdText(note)}` });
  }
  section(out, loc('SummaryImpact', days), rows, [
    { header: loc('ColConnection'), cell: (r) => r.connection },
    { header: loc('ColPipeline'), cell: (r) => r.pipeline },
    { header: loc('ColLastRun'), cell: (r) => r.lastRun },
    { header: loc('ColRisks'), cell: (r) => r.risks },
  ]);
}

/** The federated credentials the run found, added or removed in Microsoft Entra, one row per credential. */
function credentialsSection(report: Report, loc: Localize, out: string[]): void {
  type Row = { connection: string; app: string; credential: string; issuer: string; change: string };
  const rows: Row[] = [];
  for (const c of report.connections) {
    for (const k of c.credentials ?? []) {
      rows.push({
        connection: mdText(c.name),
        app: mdText(c.app?.displayName),
        credential: mdCode(k.name),
        issuer: `${mdCode(k.issuer)}<br>${mdCode(k.subject)}`,
        change: mdText(loc(CREDENTIAL_CHANGE_LABEL[k.change]) + (k.note ? ` (${k.note})` : '')),
      });
    }
  }
  section(out, loc('SummaryCredentials'), rows, [
    { header: loc('ColConnection'), cell: (r) => r.connection },
    { header: loc('ColApp'), cell: (r) => r.app },
    { header: loc('ColCredential'), cell: (r) => r.credential },
    { header: loc('ColIssuerSubject'), cell: (r) => r.issuer },
    { header: loc('ColChange'), cell: (r) => r.change },
  ]);
}

/** `action: report` with entraConnection: client secrets and certificates still on the apps, with their end dates. */
function appSecretsSection(report: Report, loc: Localize, out: string[]): void {
  const listed = (c: ReportEntry) => [
    ...(c.app?.passwordCredentials ?? []).map((k) => ({ kind: 'AppSecretKind_secret', ...k })),
    ...(c.app?.keyCredentials ?? []).map((k) => ({ kind: 'AppSecretKind_certificate', ...k })),
  ];
  const rows = report.connections.filter((c) => listed(c).length > 0);
  section(out, loc('SummaryAppSecrets'), rows, [
    { header: loc('ColConnection'), cell: (c) => mdText(c.name) },
    { header: loc('ColApp'), cell: (c) => mdText(c.app?.displayName) },
    { header: loc('ColScheme'), cell: (c) => mdText(c.scheme) },
    {
      header: loc('ColSecrets'),
      cell: (c) =>
        listed(c)
          .map((k) => mdText(`${loc(k.kind)} ${k.displayName ?? k.keyId ?? ''} ${loc('AppSecretEnds', (k.endDateTime ?? '?').slice(0, 10))}`))
          .join('<br>'),
    },
    { header: loc('ColNote'), cell: (c) => mdText(c.appFinding) },
  ]);
}

/** The run summary shown on the pipeline run's Extensions tab. */
export function renderSummary(report: Report, loc: Localize): string {
  return [...summaryPieces(report, loc)].join('');
}

/** The summary line by line (each piece ends with its line break): a summary of 10,000 rows is never one string. */
export function* summaryPieces(report: Report, loc: Localize): Generator<string> {
  for (const line of summaryLines(report, loc)) yield `${line}\n`;
}

function summaryLines(report: Report, loc: Localize): Iterable<string> {
  if (report.organizationWide) return renderOrganization(report, loc);
  const out: string[] = [`### ${mdText(summaryTitle(report, loc))}`];
  if (report.error) out.push('', `**${mdText(report.error)}**`);
  if (report.cancelled) out.push('', `**${loc('SummaryCancelled')}**`);
  if (report.nothingMatched) out.push('', `**${mdText(report.nothingMatched)}**`);
  if (report.connections.length === 0) {
    if (!report.error && !report.nothingMatched) out.push('', mdText(loc('SummaryNoConnections', report.project.name)));
    return out;
  }
  if (report.action !== 'report') out.push('', countsLine(report, loc));
  renderProject(report, loc, out);
  return out;
}

/** The sections of one project's connections: what needs a person first, then what changed, then what was left alone. */
function renderProject(report: Report, loc: Localize, out: string[]): void {
  const now = new Date(report.finishedAt);

  const col = {
    name: { header: loc('ColConnection'), cell: (c: ReportEntry) => mdText(c.name) },
    mode: { header: loc('ColCreationMode'), cell: (c: ReportEntry) => mdText(c.creationMode) },
    scheme: { header: loc('ColScheme'), cell: (c: ReportEntry) => mdText(c.scheme) },
    subject: { header: loc('ColSubject'), cell: (c: ReportEntry) => mdCode(c.subject) },
    revert: { header: loc('ColRevertUntil'), cell: (c: ReportEntry) => mdText(deadlineText(c.revertDeadline, now, loc)) },
    reason: (header: string) => ({ header, cell: (c: ReportEntry) => mdText(c.reason) }),
  };
  const issuer = { label: loc('ColIssuer') + ':', value: (c: ReportEntry) => c.issuer };
  const by = (p: (c: ReportEntry) => boolean) => report.connections.filter(p);
  const attention = by(needsAttention);
  const outcomeLabel = (c: ReportEntry) => loc(foreseenRefusal(c) ? 'OutcomeWouldBeRefused' : OUTCOME_LABEL[c.outcome]);

  section(out, loc('SummaryAttention'), attention, [
    col.name,
    { header: loc('ColOutcome'), cell: outcomeLabel },
    col.reason(loc('ColWhatToDo')),
    { header: loc('ColServiceSaid'), cell: (c) => mdText(c.serviceMessage) },
  ]);
  if (report.action === 'report') {
    renderAudit(report, loc, now, out);
    return;
  }

  section(
    out,
    loc('SummaryUpdated'),
    by((c) => c.outcome === 'updated'),
    [col.name, { header: loc('ColType'), cell: (c) => mdText(c.type ?? 'azurerm') }, col.subject, col.reason(loc('ColNote'))],
    issuer,
  );
  if (report.connections.some((c) => c.outcome === 'updated' || c.outcome === 'prepared')) out.push('', mdText(loc('SummaryOldCredential')));
  section(
    out,
    loc('SummaryChanged'),
    by((c) => c.outcome === 'converted'),
    [col.name, col.mode, col.subject, col.revert],
    issuer,
  );
  section(
    out,
    loc('SummaryReverted'),
    by((c) => c.outcome === 'reverted'),
    [col.name, col.scheme, col.mode],
  );
  section(
    out,
    loc(report.action === 'revert' ? 'SummaryPlannedRevert' : 'SummaryPlanned'),
    by((c) => c.outcome === 'planned' && !foreseenRefusal(c)),
    [
      col.name,
      col.mode,
      { header: loc('ColShared'), cell: (c) => (c.isShared ? loc('Yes') : '') },
      ...(report.action === 'revert' ? [col.revert] : []),
      col.reason(loc('ColNote')),
    ],
  );
  impactSection(report, loc, out);
  credentialsSection(report, loc, out);
  section(
    out,
    loc('SummarySkipped'),
    by((c) => c.outcome === 'skipped' && !leftAloneByImpact(c)),
    [col.name, col.scheme, col.revert, col.reason(loc('ColReason'))],
  );
  section(
    out,
    loc('SummaryFederated'),
    by((c) => c.outcome === 'federated'),
    [col.name, col.revert, col.reason(loc('ColNote'))],
    issuer,
  );
}

/** `action: report`: where the project stands, one table per group (on secrets / retiring issuer / Entra issuer / other). */
function renderAudit(report: Report, loc: Localize, now: Date, out: string[]): void {
  const a = report.audit;
  out.push('', loc('AuditCounts', a.onSecrets, a.federatedRetiringIssuer, a.federatedEntraIssuer));
  const group = (...g: Array<ReturnType<typeof groupOf>>) => report.connections.filter((c) => g.includes(groupOf(c)));
  const where: Array<Column<ReportEntry>> = [
    { header: loc('ColConnection'), cell: (c) => mdText(c.name) },
    { header: loc('ColScope'), cell: (c) => mdText(scopeText(c.scope)) },
    { header: loc('ColHome'), cell: (c) => mdText(c.homeProject) },
    { header: loc('ColSharedWith'), cell: (c) => mdText((c.sharedWith ?? []).join(', ')) },
  ];
  const revert: Column<ReportEntry> = { header: loc('ColRevertUntil'), cell: (c) => mdText(deadlineText(c.revertDeadline, now, loc)) };
  const issuer = { label: loc('ColIssuer') + ':', value: (c: ReportEntry) => c.issuer };
  // "convert would convert it" only when nothing (permission preview, impact check) says otherwise.
  const convert = (c: ReportEntry) =>
    mdText(
      c.outcome === 'planned' && (!c.reason || c.reasonCode === 'PlannedCredentialsReady' || c.reasonCode === 'PlannedAddCredentials')
        ? [loc('AuditWouldConvert'), c.reason].filter(Boolean).join(' ')
        : c.reason,
    );

  section(out, loc('AuditSecrets'), group('secret'), [
    ...where,
    { header: loc('ColCreationMode'), cell: (c) => mdText(c.creationMode) },
    { header: loc('ColConvert'), cell: convert },
  ]);
  section(out, loc('AuditRetiring', ISSUER_RETIREMENT.slice(0, 10)), group('retiring'), [
    ...where,
    // The retirement concerns every connection type, not only azurerm; columns empty on every row are dropped.
    { header: loc('ColType'), cell: (c) => mdText(c.type) },
    { header: loc('ColDisabled'), cell: (c) => (c.disabled ? mdText(loc('Yes')) : '') },
    { header: loc('ColDaysLeft'), cell: (c) => String(c.issuerDaysLeft ?? '') },
    { header: loc('ColWhatToDo'), cell: (c) => mdText(c.reason) },
    revert,
  ]);
  section(out, loc('AuditEntra'), group('entra', 'otherIssuer'), [...where, revert], issuer);
  section(out, loc('AuditOther'), group('otherScheme'), [...where, { header: loc('ColScheme'), cell: (c) => mdText(c.scheme) }]);
  impactSection(report, loc, out);
  credentialsSection(report, loc, out);
  appSecretsSection(report, loc, out);
}
