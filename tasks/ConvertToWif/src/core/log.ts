// What the pipeline log says about each connection. Quiet when all is well: one line per connection
// that changed, is planned, failed, is pending or was held back; for a report, one warning per finding
// (an error with failOnFindings). The adapter makes every line inert for the agent (escape.ts).

import { Localize } from './model';
import { CREDENTIAL_CHANGE_LABEL, Report, ReportEntry, byProject, groupOf, leftAloneByImpact } from './report';

export interface LogLine {
  level: 'info' | 'warning' | 'error';
  text: string;
}

/** Plan notes that say what a conversion would do in Microsoft Entra: information, not a warning. */
const PLAN_NOTES = ['PlannedAddCredentials', 'PlannedCredentialsReady'];

export function logLines(report: Report, loc: Localize, failOnFindings = false): LogLine[] {
  return [...eachLogLine(report, loc, failOnFindings)];
}

/** The log lines one by one (10,000 connections are never 10,000 lines held at once). */
export function* eachLogLine(report: Report, loc: Localize, failOnFindings = false): Generator<LogLine> {
  if (!report.organizationWide) {
    for (const c of report.connections) yield* connectionLines(report, [c], loc, failOnFindings);
    return;
  }
  // Organization-wide: names repeat across projects, so each project's lines come under its name.
  const groups = byProject(report.connections);
  for (const p of report.projects) {
    const own = connectionLines(report, groups.get(p.id.toLowerCase()) ?? [], loc, failOnFindings);
    if (own.length > 0) yield* [{ level: 'info' as const, text: loc('LogProject', p.name) }, ...own];
  }
}

function connectionLines(report: Report, connections: ReportEntry[], loc: Localize, failOnFindings: boolean): LogLine[] {
  const lines: LogLine[] = [];
  const wouldConvert = loc('AuditWouldConvert');
  for (const c of connections) {
    const changed = (c.credentials ?? []).filter((k) => k.change === 'created' || k.change === 'removed');
    if (changed.length > 0) {
      const list = changed.map((k) => `${k.name} (${loc(CREDENTIAL_CHANGE_LABEL[k.change])})`).join(', ');
      lines.push({ level: 'info', text: loc('LogCredentials', c.name, c.app?.displayName ?? '?', list) });
    }
    // A credential this run added and could not remove again (or whose addition is uncertain): harmless, but worth a look.
    for (const k of c.credentials ?? []) {
      if (k.note) lines.push({ level: 'warning', text: loc('LogCredentialNote', c.name, k.name, c.app?.displayName ?? '?', k.note) });
    }
    if (c.appFinding && c.selected) lines.push({ level: 'warning', text: loc('FindingApp', c.name, c.appFinding) });
    for (const p of c.impact?.pipelines ?? []) {
      for (const f of p.flags) lines.push({ level: 'warning', text: loc('LogImpact', c.name, p.name, f.why) });
    }
    if (report.action === 'report') {
      // A connection left out by the selection is never a finding.
      if (!c.selected) continue;
      const g = groupOf(c);
      if (g === 'secret') {
        const what = c.outcome === 'planned' && !c.reason ? wouldConvert : (c.reason ?? '');
        lines.push({ level: failOnFindings ? 'error' : 'warning', text: loc('FindingSecret', c.name, what) });
      } else if (g === 'retiring') lines.push({ level: failOnFindings ? 'error' : 'warning', text: loc('FindingRetiring', c.name, c.reason ?? '') });
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
          c.reason && PLAN_NOTES.includes(c.reasonCode ?? '')
            ? { level: 'info', text: loc('LogPlannedNote', c.name, c.reason) }
            : c.reason
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
      case 'updated':
        lines.push({ level: 'info', text: loc('LogUpdated', c.name, c.issuer ?? '?', c.subject ?? '?') });
        break;
      case 'prepared':
      case 'handoff':
        lines.push({ level: 'warning', text: loc(c.outcome === 'prepared' ? 'LogPrepared' : 'LogHandoff', c.name, c.reason ?? '') });
        break;
      case 'skipped':
        if (leftAloneByImpact(c)) lines.push({ level: 'warning', text: loc('LogHeldBack', c.name, c.reason ?? '') });
        break;
      default:
        break;
    }
  }
  return lines;
}
