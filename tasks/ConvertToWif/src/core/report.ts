// The JSON report: one entry per connection with its outcome and reason, totals and the audit.
// Pure: messages are rendered with the Localize function handed in. The run summary, the log lines
// and the task result are derived from it (summary.ts, log.ts, result.ts).

import { isFlagged } from './impact';
import { Action, ConnectionResult, Impact, Localize, Message, OUTCOMES, Outcome, RunContext, Scheme, Totals, msg } from './model';

/** One project of a run: the connections handled from it (the ledger, updated in place) and why it could not be read. */
export interface ProjectOutcome {
  id: string;
  name: string;
  results: ConnectionResult[];
  error?: Message;
  /** Its connections could not be listed (403, 404, cancelled before its turn): `error` says why. */
  unread?: boolean;
}

/** A project as the report shows it: how many connections it holds, their totals, and why it could not be read. */
export interface ProjectEntry {
  id: string;
  name: string;
  connections: number;
  totals: Totals;
  error?: string;
  errorCode?: string;
  /** Set when its connections could not be listed at all (the error says why and what to grant). */
  unread?: boolean;
}

/** A connection as the report shows it: the result, with messages rendered to text. */
export interface ReportEntry extends Omit<ConnectionResult, 'reason' | 'impact' | 'appFinding'> {
  /** The project it was handled from: its home project, or the project that listed it when the home project was not in the run. */
  project: { id: string; name: string };
  reason?: string;
  reasonCode?: string;
  /** A finding about the app registration (e.g. client secrets left on the app of a federated connection). */
  appFinding?: string;
  /** Azure DevOps issuer only: days until its retirement (docs/service-behaviour.md §7). */
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
  /** Organization-wide run (input `projects`): the connections come from several projects. */
  organizationWide?: boolean;
  /** Every project of the run, in order, with its totals; an unreadable one with the error and what to grant. */
  projects: ProjectEntry[];
  startedAt: string;
  finishedAt: string;
  connections: ReportEntry[];
  totals: Totals;
  audit: Audit;
  /** Set when the run stopped early: the service could not be read, or an unexpected error. */
  error?: string;
  /** Set when the run was cancelled: connections in flight are `pending`, the rest not attempted. */
  cancelled?: boolean;
  /** Set when `connections` / `excludeConnections` selected nothing: what was asked and the closest names. */
  nothingMatched?: string;
}

/** Microsoft retires the Azure DevOps issuer for public-cloud single-tenant apps and managed identities (docs/service-behaviour.md §7). */
export const ISSUER_RETIREMENT = '2027-07-01T00:00:00Z';
const DAY = 86_400_000;

export function totalsOf(results: Array<{ outcome: Outcome }>): Totals {
  const t = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Totals;
  for (const r of results) t[r.outcome]++;
  return t;
}

const isScheme = (c: { scheme: string }, s: string) => c.scheme.toLowerCase() === s.toLowerCase();
export type Group = 'secret' | 'retiring' | 'entra' | 'otherIssuer' | 'otherScheme';
export function groupOf(c: Pick<ReportEntry, 'scheme' | 'issuerKind'>): Group {
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
  run: {
    action: Action;
    dryRun: boolean;
    ctx: RunContext;
    startedAt: Date;
    finishedAt: Date;
    failure?: Message;
    cancelled?: boolean;
    nothingMatched?: Message;
    /** The run's projects; absent: every result belongs to ctx.project. */
    projects?: ProjectOutcome[];
    organizationWide?: boolean;
  },
  results: ConnectionResult[],
  loc: Localize,
): Report {
  const daysLeft = Math.max(0, Math.ceil((Date.parse(ISSUER_RETIREMENT) - run.finishedAt.getTime()) / DAY));
  // Organization-wide, the run's projects are those selected: none when the listing failed or nothing
  // matched (the current project was then never read, so it is not listed as if it had no connections).
  const projects: ProjectOutcome[] = run.projects?.length || run.organizationWide ? (run.projects ?? []) : [{ ...run.ctx.project, results }];
  // One project reference per project (shared by its entries), and entries built without deleting keys:
  // an object that loses a key becomes a slower, larger dictionary (10,000 of them in a big run).
  const entryOf = (r: ConnectionResult, project: { id: string; name: string }): ReportEntry => {
    const { reason, impact, appFinding, ...rest } = r;
    let why = reason;
    const retiring = rest.issuerKind === 'azuredevops' && isScheme(rest, Scheme.WorkloadIdentityFederation);
    if (retiring && !why && rest.outcome === 'federated') why = msg('FederatedRetiringIssuer', ISSUER_RETIREMENT.slice(0, 10), daysLeft);
    const entry = {} as Record<string, unknown>;
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) entry[k] = v;
    entry.project = project;
    if (why) {
      entry.reason = render(loc, why);
      entry.reasonCode = why.key;
    }
    if (retiring) entry.issuerDaysLeft = daysLeft;
    if (impact) entry.impact = renderImpact(impact, loc);
    if (appFinding) entry.appFinding = render(loc, appFinding);
    return entry as unknown as ReportEntry;
  };
  const connections = projects.flatMap((p) => {
    const project = { id: p.id, name: p.name };
    return p.results.map((r) => entryOf(r, project));
  });
  return {
    action: run.action,
    dryRun: run.dryRun,
    organization: run.ctx.organization,
    project: { id: run.ctx.project.id, name: run.ctx.project.name },
    ...(run.organizationWide ? { organizationWide: true } : {}),
    projects: projects.map((p) => ({
      id: p.id,
      name: p.name,
      connections: p.results.length,
      totals: totalsOf(p.results),
      ...(p.error ? { error: render(loc, p.error), errorCode: p.error.key } : {}),
      ...(p.unread ? { unread: true } : {}),
    })),
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    connections,
    totals: totalsOf(connections),
    audit: auditOf(connections),
    ...(run.failure ? { error: render(loc, run.failure) } : {}),
    ...(run.cancelled ? { cancelled: true } : {}),
    ...(run.nothingMatched ? { nothingMatched: render(loc, run.nothingMatched) } : {}),
  };
}

/** The report's connections by the project they were handled from (key: the project id, lower-case). */
export function byProject(connections: ReportEntry[]): Map<string, ReportEntry[]> {
  const groups = new Map<string, ReportEntry[]>();
  for (const c of connections) {
    const key = c.project.id.toLowerCase();
    const list = groups.get(key);
    if (list) list.push(c);
    else groups.set(key, [c]);
  }
  return groups;
}

/** Left alone by the impact check (`impactCheck: skip`): something would break, or the use is unknown. */
export const IMPACT_SKIPS = ['SkipImpact', 'SkipImpactYaml', 'SkipImpactUnknown'];
export const leftAloneByImpact = (c: Pick<ReportEntry, 'outcome' | 'reasonCode'>): boolean =>
  c.outcome === 'skipped' && IMPACT_SKIPS.includes(c.reasonCode ?? '');
/** Converted (or about to be) while the impact check found something that breaks or needs checking. */
export const changedAtRisk = (c: Pick<ReportEntry, 'outcome' | 'impact'>): boolean =>
  (c.outcome === 'converted' || c.outcome === 'planned') && !!c.impact?.flagged;
/** A planned change the dry-run permission preview says would be refused. */
export const foreseenRefusal = (c: Pick<ReportEntry, 'outcome' | 'reasonCode'>): boolean =>
  c.outcome === 'planned' && (c.reasonCode === 'PlannedNotAdministrator' || /^Fail/.test(c.reasonCode ?? ''));

/** The message key of each credential change (the log and the summary name them alike). */
export const CREDENTIAL_CHANGE_LABEL = {
  created: 'Credential_created',
  existing: 'Credential_existing',
  removed: 'Credential_removed',
  wouldCreate: 'Credential_wouldCreate',
} as const;

/**
 * The report as JSON text, exactly JSON.stringify(report, null, 2) plus a final line break, in
 * pieces: the connections one by one, so a report of 10,000 connections is never one string in
 * memory (the adapter writes the pieces as they come).
 */
export function* reportJson(report: Report): Generator<string> {
  const marker = '\u0000ConvertToWif.connections\u0000';
  const text = JSON.stringify({ ...report, connections: marker }, null, 2);
  // A string value can hold no raw line break, so this can only be the top-level key.
  const at = text.indexOf(`\n  "connections": ${JSON.stringify(marker)}`);
  const before = text.slice(0, at + '\n  "connections": '.length);
  const after = text.slice(at + '\n  "connections": '.length + JSON.stringify(marker).length);
  if (report.connections.length === 0) {
    yield `${before}[]${after}\n`;
    return;
  }
  yield `${before}[`;
  let first = true;
  for (const c of report.connections) {
    yield `${first ? '' : ','}\n    ${JSON.stringify(c, null, 2).replace(/\n/g, '\n    ')}`;
    first = false;
  }
  yield `\n  ]${after}\n`;
}
