// Starts the Microsoft Entra side of a test world as separate loopback HTTPS hosts, each on its own
// port, all trusting one throwaway CA (tls.ts): the token endpoint (entra.ts), Microsoft Graph
// (graph.ts), Azure Resource Manager for user-assigned managed identities (arm.ts) and the agent's
// OIDC endpoint (oidc.ts). The Azure DevOps emulator (server.ts) stays
// a separate server; given one, the OIDC endpoint reads its live connections.
import * as crypto from 'crypto';
import { ArmService } from './arm';
import { Directory, type AppState, type ManagedIdentityState } from './directory';
import { EntraTokenService } from './entra';
import { GraphService } from './graph';
import { HttpsHost } from './httpsHost';
import { OidcService } from './oidc';
import { validateEntraSeed } from './seed';
import type { Emulator } from './server';
import { makeTestCertificates } from './tls';
import type { Seed } from './types';
import { clone, ieq, type Obj } from './util';

export interface EntraWorld {
  /** The authority: `{authority}{tenantId}/oauth2/v2.0/token` (ends with '/'), for environmentAuthorityUrl. */
  authorityUrl: string;
  /** Graph's base (ends with '/'), for microsoftGraphUrl; scope `{graphUrl}.default`. */
  graphUrl: string;
  /** Azure Resource Manager's base (ends with '/'), for a connection's URL; scope `{armUrl}.default`. */
  armUrl: string;
  /** System.OidcRequestUri for the seed's first project. */
  oidcRequestUri: string;
  /** The CA to trust: NODE_EXTRA_CA_CERTS for a spawned task, `ca` for a test's own client. */
  caFile: string;
  caPem: string;
  /** The live directory (tenants, apps and their credentials). */
  directory: Directory;
  hosts: { entra: HttpsHost; graph: HttpsHost; arm: HttpsHost; oidc: HttpsHost };
  oidc: OidcService;
  /** A copy of an app by appId (any tenant). */
  app(appId: string): AppState | undefined;
  /** A copy of a user-assigned managed identity by client id (any tenant). */
  managedIdentity(clientId: string): ManagedIdentityState | undefined;
  /** Whether a credential with this issuer and subject exists on the app (or managed identity, by client id) and has propagated. */
  isUsable(appId: string, issuer: string, subject: string): boolean;
  setClock(nowMs: () => number): void;
  close(): Promise<void>;
}

export async function startEntraWorld(seed: Seed, options: { azureDevOps?: Emulator; host?: string } = {}): Promise<EntraWorld> {
  const copy = clone(seed);
  if (!copy.entra) throw new Error('startEntraWorld: the seed has no "entra" section');
  validateEntraSeed(copy.entra, 'startEntraWorld');
  const certs = await makeTestCertificates();
  const directory = new Directory(copy.entra);
  const endpoint = (id: string): Obj | undefined => (options.azureDevOps ? options.azureDevOps.endpoint(id) : copy.endpoints.find((e) => ieq(e.id, id)));
  const oidc = new OidcService(copy, endpoint, () => directory.now());
  const requestId = () => ({ 'x-ms-request-id': crypto.randomUUID() });
  const graph = new GraphService(directory, (): string => hosts.graph.url);
  const arm = new ArmService(directory, {
    base: (): string => hosts.arm.url,
    pageSize: copy.entra.armPageSize,
    concurrentWriteWindowMs: copy.entra.armConcurrentWriteWindowMs,
  });
  const entra = new EntraTokenService(directory, {
    graphResources: (): string[] => [hosts.graph.url],
    armResources: (): string[] => [hosts.arm.url],
    assertionKeys: () => new Map([[oidc.keyId, oidc.publicKey]]),
  });
  const tls = { key: certs.key, cert: certs.cert };
  const hosts: EntraWorld['hosts'] = {
    entra: new HttpsHost({ ...tls, headers: requestId, handle: (r) => entra.handle(r), faultReply: (s, h) => entra.faultReply(s, h) }),
    graph: new HttpsHost({ ...tls, headers: requestId, handle: (r) => graph.handle(r), faultReply: (s, h) => graph.faultReply(s, h) }),
    arm: new HttpsHost({ ...tls, headers: requestId, handle: (r) => arm.handle(r), faultReply: (s, h) => arm.faultReply(s, h) }),
    oidc: new HttpsHost({
      ...tls,
      headers: () => ({ ActivityId: crypto.randomUUID() }),
      handle: (r) => oidc.handle(r),
      faultReply: (s, h) => oidc.faultReply(s, h),
    }),
  };
  try {
    for (const h of Object.values(hosts)) await h.listen(options.host);
  } catch (e) {
    await Promise.all(Object.values(hosts).map((h) => h.close()));
    certs.remove();
    throw e;
  }
  const project = copy.projects[0]?.id ?? 'project';
  return {
    authorityUrl: hosts.entra.url,
    graphUrl: hosts.graph.url,
    armUrl: hosts.arm.url,
    oidcRequestUri: `${hosts.oidc.url}${encodeURIComponent(copy.organization.name)}/${project}/_apis/distributedtask/hubs/build/plans/${crypto.randomUUID()}/jobs/${crypto.randomUUID()}/oidctoken`,
    caFile: certs.caFile,
    caPem: certs.caPem,
    directory,
    hosts,
    oidc,
    app: (appId) => clone(directory.appAnywhere(appId)),
    managedIdentity: (clientId) => clone(directory.managedIdentityAnywhere(clientId)),
    isUsable: (appId, issuer, subject) => directory.isUsable(appId, issuer, subject),
    setClock: (nowMs) => {
      directory.now = nowMs;
    },
    close: async () => {
      await Promise.all(Object.values(hosts).map((h) => h.close()));
      certs.remove();
    },
  };
}
