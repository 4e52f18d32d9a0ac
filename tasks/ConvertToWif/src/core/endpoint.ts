// Facts about one service connection, read in one place: scheme and state, creation mode, the
// home project and the projects it is shared with, issuer and subject, scope. Keys of
// `authorization.parameters` and `data` are lower-case (normalize.ts).

import { ConnectionResult, ConversionBody, Endpoint, IssuerKind, RunContext } from './model';

const lower = (s: string | null | undefined): string => (s ?? '').toLowerCase();
const value = (map: Record<string, string | null | undefined> | null | undefined, key: string): string | undefined => map?.[key.toLowerCase()] ?? undefined;

/** A value of `authorization.parameters` (any casing of `key`). */
export const param = (e: Endpoint, key: string): string | undefined => value(e.authorization?.parameters, key);
/** A value of `data` (any casing of `key`). */
export const dataOf = (e: Endpoint, key: string): string | undefined => value(e.data, key);

export const schemeOf = (e: Endpoint): string => e.authorization?.scheme ?? '';
export const isScheme = (e: Endpoint, scheme: string): boolean => lower(schemeOf(e)) === lower(scheme);
/** `ready`, `inprogress`, `failed` or '' (lower-case). */
export const stateOf = (e: Endpoint): string => lower(e.operationStatus?.state);
export const creationModeOf = (e: Endpoint): string => dataOf(e, 'creationMode') ?? '';
export const environmentOf = (e: Endpoint): string => dataOf(e, 'environment') ?? 'AzureCloud';

/** Project references that name a project, in the service's order. */
export const projectRefs = (e: Endpoint) => (e.serviceEndpointProjectReferences ?? []).filter((r) => r?.projectReference?.id);
const refName = (r: ReturnType<typeof projectRefs>[number]) => r.projectReference?.name ?? r.projectReference?.id ?? '?';

/** The home project is the first project reference (docs/service-behaviour.md §3). */
export function homeProject(e: Endpoint): { id: string; name: string } | undefined {
  const ref = projectRefs(e)[0]?.projectReference;
  return ref?.id ? { id: ref.id, name: ref.name ?? ref.id } : undefined;
}
/** The other projects it is shared with (beyond the home project), by name. */
export const sharingProjects = (e: Endpoint): string[] => projectRefs(e).slice(1).map(refName);
export const isSharedEndpoint = (e: Endpoint): boolean => e.isShared === true || projectRefs(e).length > 1;

/** Without System.TeamProjectId, the project's id is read from the connections' project references. */
export function projectIdByName(endpoints: Endpoint[], name: string): string | undefined {
  for (const e of endpoints) {
    for (const r of projectRefs(e)) if (lower(r.projectReference?.name) === lower(name)) return r.projectReference!.id;
  }
  return undefined;
}

/** `azuredevops`: the Azure DevOps issuer, retired 2027-07-01 (both hosts, docs/service-behaviour.md §7); `entra`: login.microsoftonline.com. */
export function issuerKind(issuer: string | undefined): IssuerKind | undefined {
  if (!issuer) return undefined;
  if (/^https:\/\/(vstoken\.dev\.azure\.com|app\.vstoken\.visualstudio\.com)\//i.test(issuer)) return 'azuredevops';
  if (/^https:\/\/login\.microsoftonline\.com\//i.test(issuer)) return 'entra';
  return 'other';
}

/** Issuer, subject and revert deadline as the service set them (never built by the task). */
export function federationFields(e: Endpoint): Pick<ConnectionResult, 'issuer' | 'subject' | 'revertDeadline' | 'issuerKind'> {
  const issuer = param(e, 'workloadIdentityFederationIssuer');
  return { issuer, subject: param(e, 'workloadIdentityFederationSubject'), revertDeadline: dataOf(e, 'revertSchemeDeadline'), issuerKind: issuerKind(issuer) };
}

const SCOPE_KEYS = [
  'subscriptionId',
  'subscriptionName',
  'managementGroupId',
  'managementGroupName',
  'resourceGroupName',
  'mlWorkspaceName',
  'mlWorkspaceLocation',
];

/** What the connection grants access to (subscription, management group or ML workspace), with the report's key names. */
export function scopeOf(e: Endpoint): Record<string, string> {
  const scope: Record<string, string> = { level: dataOf(e, 'scopeLevel') ?? 'Subscription' };
  for (const k of SCOPE_KEYS) {
    const v = dataOf(e, k);
    if (v) scope[k] = v;
  }
  return scope;
}

/** The report entry of a connection before anything happened to it. */
export function baseResult(e: Endpoint): ConnectionResult {
  const refs = projectRefs(e).map(refName);
  return {
    id: e.id,
    name: e.name,
    ...(e.type.toLowerCase() !== 'azurerm' ? { type: e.type } : {}),
    ...(e.isDisabled ? { disabled: true } : {}),
    scheme: schemeOf(e),
    creationMode: creationModeOf(e),
    isShared: isSharedEndpoint(e),
    selected: true,
    outcome: 'skipped',
    revertDeadline: dataOf(e, 'revertSchemeDeadline'),
    scope: scopeOf(e),
    homeProject: refs[0],
    sharedWith: refs.slice(1),
  };
}

/**
 * The minimal body (docs/service-behaviour.md §4): every field sent must equal the stored value, and
 * resending the whole endpoint fails on re-serialised fields and null secrets; so send only id, type,
 * target scheme and the home project reference copied from the listing.
 */
export function conversionBody(e: Endpoint, targetScheme: string, ctx: RunContext): ConversionBody {
  const ref = projectRefs(e)[0];
  const home = ref?.projectReference?.id
    ? { projectReference: { id: ref.projectReference.id, name: ref.projectReference.name }, name: ref.name ?? e.name, description: ref.description }
    : { projectReference: { id: ctx.project.id, name: ctx.project.name }, name: e.name };
  return { id: e.id, type: e.type, authorization: { scheme: targetScheme }, serviceEndpointProjectReferences: [home] };
}
