// The task result and its one-line message, decided from the report.

import { Message, msg } from './model';
import { Report, changedAtRisk, foreseenRefusal, groupOf, leftAloneByImpact } from './report';

import type { ResultKind } from './ports';
export type { ResultKind };

/**
 * Failed when any connection failed (or, for a report with failOnFindings, while any selected
 * connection still uses a secret); with issues when something needs a person: conversions still
 * pending, connections left alone because they would break or their use is unknown, a dry run that
 * foresees a refusal or a break, or a selection that matched nothing; succeeded otherwise.
 */
export function decideResult(report: Report, failOnFindings = false): { kind: ResultKind; message: Message; note?: Message } {
  const decided = decideForConnections(report, failOnFindings);
  if (!report.organizationWide || report.cancelled || report.error) return decided;
  // A project that stopped after it was read: its connections are in the report, but the run did not finish it.
  const broken = report.projects.find((p) => p.error && !p.unread);
  if (broken) return { kind: 'Failed', message: msg('ResultProjectFailed', broken.name, broken.error ?? '') };
  // Organization-wide: a project that could not be read is never a silent success.
  const unread = report.projects.filter((p) => p.unread).length;
  if (unread === 0) return decided;
  const note = msg('ResultProjectsUnreadNote', unread, report.projects.length);
  if (unread === report.projects.length) return { kind: 'Failed', message: decided.message, note };
  return { kind: decided.kind === 'Succeeded' ? 'SucceededWithIssues' : decided.kind, message: decided.message, note };
}

function decideForConnections(report: Report, failOnFindings: boolean): { kind: ResultKind; message: Message } {
  const t = report.totals;
  const a = report.audit;
  const count = (p: (c: Report['connections'][number]) => boolean) => report.connections.filter(p).length;
  // Changed: converted, reverted, moved to the Entra issuer, or given a new credential (prepared).
  if (report.cancelled) return { kind: 'Cancelled', message: msg('ResultCancelled', t.converted + t.reverted + t.updated + t.prepared, t.pending) };
  if (report.error) return { kind: 'Failed', message: msg('ResultError', report.error) };
  if (report.action === 'report') {
    // Only selected connections are findings: excludeConnections accepts the ones that can never be converted.
    const findings = count((c) => c.selected && groupOf(c) === 'secret');
    // Connections still on the Azure DevOps issuer stop working on 2027-07-01: a finding too.
    const retiring = count((c) => c.selected && groupOf(c) === 'retiring');
    if (failOnFindings && findings + retiring > 0) return { kind: 'Failed', message: msg('ResultFindingsIssuer', findings, retiring) };
    if (report.nothingMatched) return { kind: 'SucceededWithIssues', message: msg('ResultError', report.nothingMatched) };
    return { kind: 'Succeeded', message: msg('ResultReport', a.onSecrets, a.federatedRetiringIssuer, a.federatedEntraIssuer) };
  }
  if (report.action === 'updateIssuer') {
    if (t.failed > 0) return { kind: 'Failed', message: msg('ResultIssuerFailed', t.failed, t.updated, t.prepared, t.handoff) };
    if (report.dryRun) return { kind: t.handoff > 0 ? 'SucceededWithIssues' : 'Succeeded', message: msg('ResultIssuerDryRun', t.planned, t.handoff) };
    if (t.prepared + t.handoff > 0) return { kind: 'SucceededWithIssues', message: msg('ResultIssuerPeople', t.updated, t.prepared, t.handoff) };
    if (report.nothingMatched) return { kind: 'SucceededWithIssues', message: msg('ResultError', report.nothingMatched) };
    return { kind: 'Succeeded', message: msg('ResultIssuerUpdated', t.updated) };
  }
  if (t.failed > 0) return { kind: 'Failed', message: msg(report.action === 'revert' ? 'ResultRevertFailed' : 'ResultFailed', t.failed) };
  if (t.pending > 0) return { kind: 'SucceededWithIssues', message: msg('ResultPending', t.pending) };
  if (report.nothingMatched) return { kind: 'SucceededWithIssues', message: msg('ResultError', report.nothingMatched) };
  const heldBack = count(leftAloneByImpact);
  const atRisk = count(changedAtRisk);
  if (report.dryRun) {
    const refused = count(foreseenRefusal);
    if (refused > 0 || atRisk > 0 || heldBack > 0)
      return { kind: 'SucceededWithIssues', message: msg('ResultDryRunIssues', t.planned, refused, heldBack, atRisk) };
    return { kind: 'Succeeded', message: msg(report.action === 'revert' ? 'ResultRevertDryRun' : 'ResultDryRun', t.planned) };
  }
  if (report.action === 'revert') return { kind: 'Succeeded', message: t.reverted === 0 ? msg('ResultNothingToRevert') : msg('ResultReverted', t.reverted) };
  if (heldBack > 0) return { kind: 'SucceededWithIssues', message: msg('ResultHeldBack', t.converted, heldBack) };
  if (t.converted === 0) return { kind: 'Succeeded', message: msg('ResultNothingToDo') };
  if (atRisk > 0) return { kind: 'SucceededWithIssues', message: msg('ResultConvertedAtRisk', t.converted, atRisk) };
  return { kind: 'Succeeded', message: msg('ResultConverted', t.converted) };
}
