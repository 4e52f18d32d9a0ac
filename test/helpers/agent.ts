// What the agent hands a task besides its plain inputs: a service-connection input as the
// environment variables azure-pipelines-task-lib reads, the agent's OIDC endpoint, the organization
// id and the CA to trust; and the adapter that lets the Azure DevOps emulator see an Entra world's
// federated credentials (Emulator.attachDirectory).
//
// Variable names, as task-lib 5 reads them (node_modules/azure-pipelines-task-lib/task.js):
// - getEndpointAuthorization(id)              -> ENDPOINT_AUTH_{id}: JSON {scheme, parameters}
// - getEndpointAuthorizationScheme(id)        -> ENDPOINT_AUTH_SCHEME_{id}
// - getEndpointAuthorizationParameter(id, k)  -> ENDPOINT_AUTH_PARAMETER_{id}_{K upper-case}
// - getEndpointDataParameter(id, k)           -> ENDPOINT_DATA_{id}_{K upper-case}
// - getEndpointUrl(id)                        -> ENDPOINT_URL_{id}
// The ENDPOINT_AUTH_* ones are moved into task-lib's vault at load and looked up lower-cased
// (case-insensitive id); ENDPOINT_DATA_* and ENDPOINT_URL_* are read from process.env with the id
// exactly as the task passes it, i.e. the input's value. The agent names them with the
// connection id as the input holds it (a GUID in lower case) and the key upper-cased with '.' and
// ' ' turned into '_'; that is what is produced here.
import * as crypto from 'crypto';
import type { EntraWorld } from '../emulator/entraWorld';
import type { FederatedCredentialDirectory, NewFederatedCredential } from '../emulator/server';

export interface AgentConnection {
  /** The connection id (the input's value). */
  id: string;
  scheme: 'WorkloadIdentityFederation' | 'ServicePrincipal';
  tenantId: string;
  clientId: string;
  /** ServicePrincipal: the client secret (serviceprincipalkey). */
  secret?: string;
  /**
   * endpoint.data; with a world, environmentAuthorityUrl and microsoftGraphUrl default to its
   * hosts, environment to AzureCloud.
   */
  data?: Record<string, string>;
  /** endpoint.url; default https://management.azure.com/. */
  url?: string;
}

/** A variable-name suffix as the agent writes a key: '.' and ' ' -> '_', upper case. */
export const envKey = (key: string): string => key.replace(/[. ]/g, '_').toUpperCase();

/**
 * The environment of a task whose input `input` (default `entraConnection`) names this
 * connection. With a world: also SYSTEM_OIDCREQUESTURI and NODE_EXTRA_CA_CERTS (the test CA, so
 * the task trusts the HTTPS emulators). With an organization id: SYSTEM_COLLECTIONID.
 */
export function agentConnectionEnv(
  conn: AgentConnection,
  world?: Pick<EntraWorld, 'authorityUrl' | 'graphUrl' | 'oidcRequestUri' | 'caFile'>,
  o: { input?: string; organizationId?: string } = {},
): Record<string, string> {
  const id = conn.id.toLowerCase();
  const parameters: Record<string, string> = { tenantid: conn.tenantId, serviceprincipalid: conn.clientId };
  if (conn.scheme === 'ServicePrincipal') {
    parameters.authenticationType = 'spnKey';
    if (conn.secret !== undefined) parameters.serviceprincipalkey = conn.secret;
  }
  const data: Record<string, string> = {
    environment: 'AzureCloud',
    ...(world ? { environmentAuthorityUrl: world.authorityUrl, microsoftGraphUrl: world.graphUrl } : {}),
    ...conn.data,
  };
  const env: Record<string, string> = {
    [`INPUT_${envKey(o.input ?? 'entraConnection')}`]: id,
    [`ENDPOINT_URL_${id}`]: conn.url ?? 'https://management.azure.com/',
    [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ parameters, scheme: conn.scheme }),
    [`ENDPOINT_AUTH_SCHEME_${id}`]: conn.scheme,
    [`ENDPOINT_DATA_${id}`]: JSON.stringify(data),
  };
  for (const [k, v] of Object.entries(parameters)) env[`ENDPOINT_AUTH_PARAMETER_${id}_${envKey(k)}`] = v;
  for (const [k, v] of Object.entries(data)) env[`ENDPOINT_DATA_${id}_${envKey(k)}`] = v;
  if (world) {
    env.SYSTEM_OIDCREQUESTURI = world.oidcRequestUri;
    env.NODE_EXTRA_CA_CERTS = world.caFile;
  }
  if (o.organizationId) env.SYSTEM_COLLECTIONID = o.organizationId;
  return env;
}

/**
 * The Entra world's federated credentials as the Azure DevOps emulator sees them: usable ones
 * (propagated) count as existing, on apps and user-assigned managed identities alike; a background
 * conversion adds its credential to the app (an app that is not in the directory: false, the
 * conversion fails). Its access tokens are what the issuer migration route accepts (entraAccessToken).
 */
export function directoryOf(world: Pick<EntraWorld, 'directory' | 'isUsable'>): FederatedCredentialDirectory {
  return {
    isUsable: (appId, issuer, subject) => world.isUsable(appId, issuer, subject),
    entraAccessToken: (token) => {
      const info = world.directory.token(token);
      if (!info) return undefined;
      return {
        tenantId: info.tenantId,
        clientId: info.clientId,
        objectId: info.clientObjectId,
        resource: info.resource,
        expired: world.directory.now() >= info.expiresAt,
      };
    },
    addCredential: (appId: string, f: NewFederatedCredential) => {
      const app = world.directory.appAnywhere(appId);
      if (!app) return false;
      if (app.federatedIdentityCredentials.some((x) => x.issuer === f.issuer && x.subject === f.subject)) return true;
      app.federatedIdentityCredentials.push({
        id: crypto.randomUUID(),
        name: f.name,
        issuer: f.issuer,
        subject: f.subject,
        audiences: [...f.audiences],
        description: f.description,
        addedAt: Math.max(1, world.directory.now()), // 0 would mean "seeded" (usable at once)
      });
      return true;
    },
  };
}
