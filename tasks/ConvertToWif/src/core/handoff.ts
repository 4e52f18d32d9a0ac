// The hand-off pack of `action: updateIssuer` (ConvertToWif-handoff.md): for every connection whose
// new federated credential the task could not add itself (or that Azure DevOps did not switch), the
// exact command the identity's owner runs, grouped by identity. Values go into the commands single-
// quoted for a POSIX shell, and into the text escaped for markdown; no token is ever in it.

import { mdCode, mdText } from './escape';
import { Localize } from './model';
import { Report, ReportEntry } from './report';

/** A POSIX shell word: single-quoted, with every control character and backquote removed. */
function sh(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const clean = value.replace(/[\u0000-\u001f\u007f`]/g, '');
  return `'${clean.replace(/'/g, `'\\''`)}'`;
}

const subscriptionOf = (resourceId: string | undefined): string | undefined => /\/subscriptions\/([^/]+)\//i.exec(resourceId ?? '')?.[1];

/** The az CLI command(s) that add the credential; both kinds when the task could not tell which identity it is. */
export function handoffCommands(c: ReportEntry): string[] {
  const h = c.handoff!;
  const name = `ConvertToWif-${c.id}-entra`;
  const app = `az ad app federated-credential create --id ${sh(h.clientId)} --parameters ${sh(
    JSON.stringify({ name, issuer: h.issuer, subject: h.subject, audiences: [h.audience] }),
  )}`;
  const sub = subscriptionOf(h.resourceId);
  const mi =
    `az identity federated-credential create --name ${sh(name)} --identity-name ${sh(h.name ?? '<identity name>')} ` +
    `--resource-group ${sh(h.resourceGroup ?? '<resource group>')}${sub ? ` --subscription ${sh(sub)}` : ''} ` +
    `--issuer ${sh(h.issuer)} --subject ${sh(h.subject)} --audiences ${sh(h.audience)}`;
  if (h.identityKind === 'app') return [app];
  if (h.identityKind === 'managedIdentity') return [mi];
  return [app, mi];
}

/** The pack, or undefined when no connection needs a person. */
export function renderHandoff(report: Report, loc: Localize): string | undefined {
  const rows = report.connections.filter((c) => c.handoff && (c.outcome === 'handoff' || c.outcome === 'prepared'));
  if (rows.length === 0) return undefined;
  const title = report.organizationWide ? loc('HandoffTitleOrg', report.projects.length, report.organization) : loc('HandoffTitle', report.project.name);
  const out = [`# ${mdText(title)}`, '', mdText(loc('HandoffIntro', '2027-07-01'))];
  const byIdentity = new Map<string, ReportEntry[]>();
  for (const c of rows) {
    const key = c.handoff!.clientId.toLowerCase();
    const group = byIdentity.get(key);
    if (group) group.push(c);
    else byIdentity.set(key, [c]);
  }
  for (const [, group] of byIdentity) {
    const h = group[0].handoff!;
    const kind = h.identityKind === 'app' ? loc('HandoffKindApp') : h.identityKind === 'managedIdentity' ? loc('HandoffKindMi') : loc('HandoffKindUnknown');
    out.push('', `## ${mdText(kind)} ${mdCode(h.clientId)}${h.resourceId ? ` (${mdCode(h.resourceId)})` : ''}`);
    for (const c of group) {
      out.push(
        '',
        `### ${mdText(c.name)}`,
        '',
        // Organization-wide, names repeat across projects: say where the connection lives.
        ...(report.organizationWide ? [`- ${mdText(loc('HandoffProject'))}: ${mdText(c.project.name)}`] : []),
        `- ${mdText(loc('HandoffOutcome'))} ${mdText(c.reason)}`,
        `- ${mdText(loc('ColIssuer'))}: ${mdCode(c.handoff!.issuer)}`,
        `- ${mdText(loc('ColSubject'))}: ${mdCode(c.handoff!.subject)}`,
        `- ${mdText(loc('HandoffAudience'))}: ${mdCode(c.handoff!.audience)}`,
        '',
        '```sh',
        ...handoffCommands(c),
        '```',
      );
    }
  }
  out.push('', mdText(loc('HandoffAfter')));
  return out.join('\n') + '\n';
}
