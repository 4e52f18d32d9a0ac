// Issuer and subject of the federated credentials Azure DevOps uses (docs/service-behaviour.md §7):
// the Microsoft Entra issuer (new connections, and where the Azure DevOps issuer moves before its
// retirement on 2027-07-01) and the Azure DevOps issuer. The task reads these from the connection
// whenever the service shows them; these builders are for what must exist before the service does
// (a credential prepared in Entra before a conversion: the next step of the roadmap).

/** Azure DevOps' application id in Microsoft Entra; its B64U is the `a/…` part of an Entra subject. */
export const AZURE_DEVOPS_APP_ID = '499b84ac-1321-427f-aa17-267ca6975798';
/** The audience of every federated credential Azure DevOps uses. */
export const FIC_AUDIENCE = 'api://AzureADTokenExchange';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * base64url without padding of a GUID's bytes in .NET `Guid.ToByteArray()` order (the first three
 * groups little-endian, the last eight bytes as written); undefined for anything but a GUID.
 */
export function guidB64u(guid: string): string | undefined {
  if (!GUID.test(guid)) return undefined;
  const b = Buffer.from(guid.replace(/-/g, ''), 'hex');
  return Buffer.from([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], ...b.subarray(8)]).toString('base64url');
}

export const entraIssuer = (tenantId: string): string => `https://login.microsoftonline.com/${tenantId}/v2.0`;

/** `/eid1/c/pub/t/{B64U(tenant)}/a/{B64U(Azure DevOps app)}/sc/{organizationId}/{endpointId}`; undefined when the tenant is not a GUID. */
export function entraSubject(tenantId: string, organizationId: string, endpointId: string): string | undefined {
  const tenant = guidB64u(tenantId);
  return tenant ? `/eid1/c/pub/t/${tenant}/a/${guidB64u(AZURE_DEVOPS_APP_ID)!}/sc/${organizationId}/${endpointId}` : undefined;
}

export const azureDevOpsIssuer = (organizationId: string): string => `https://vstoken.dev.azure.com/${organizationId}`;
/** `sc://{organization}/{project}/{connection name}`: breaks when any of them is renamed. */
export const azureDevOpsSubject = (organization: string, project: string, connectionName: string): string =>
  `sc://${organization}/${project}/${connectionName}`;

/**
 * The organization's name as Azure DevOps issuer subjects spell it (`sc://{organization}/…`), from
 * the collection URL: https://dev.azure.com/{organization}/ or https://{organization}.visualstudio.com/
 * (an on-premises-like URL, e.g. a loopback emulator, gives its last path segment).
 */
export function organizationName(collectionUrl: string): string | undefined {
  let u: URL;
  try {
    u = new URL(collectionUrl);
  } catch {
    return undefined;
  }
  const segments = u.pathname.split('/').filter(Boolean);
  if (/\.visualstudio\.com$/i.test(u.hostname) && segments.length === 0) return u.hostname.split('.')[0];
  const last = segments.at(-1);
  if (!last) return undefined;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

export const isGuid = (s: string | null | undefined): s is string => typeof s === 'string' && GUID.test(s);
