// Starts the Microsoft Entra side of a test world as separate loopback HTTPS hosts, each on its own
// port, all trusting one throwaway CA (tls.ts): the token endpoint (entra.ts), Microsoft Graph
// (graph.ts) and the agent's OIDC endpoint (oidc.ts). The Azure DevOps emulator (server.ts) stays
// a separate server; given one, the OIDC endpoint reads its live connections.
import * as crypto from 'crypto';
import { Directory, type AppState } from './directory';
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
  /** System.OidcRequestUri for the seed's first project. */
  oidcRequestUri: string;
  /** The CA to trust: NODE_EXTRA_CA_CERTS for a spawned task, `ca` for a test's own client. */
  caFile: string;
  caPem: string;
  /** The live directory (tenants, apps and their credentials). */
  directory: Directory;
  hosts: { entra: HttpsHost; graph: HttpsHost; oidc: HttpsHost };
  oidc: OidcService;
  /** A copy of an app by appId (any tenant). */
  app(appId: string): AppState | undefined;
  /** Whether a credential with this issuer and subject exists on the app and has propagated. */
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
  const entra = new EntraTokenService(directory, {
    graphResources: (): string[] => [hosts.graph.url],
    assertionKeys: () => new Map([[oidc.keyId, oidc.publicKey]]),
  });
  const tls = { key: certs.key, cert: certs.cert };
  const hosts: EntraWorld['hosts'] = {
    entra: new HttpsHost({ ...tls, headers: requestId, handle: (r) => entra.handle(r), faultReply: (s, h) => entra.faultReply(s, h) }),
    graph: new HttpsHost({ ...tls, headers: requestId, handle: (r) => graph.handle(r), faultReply: (s, h) => graph.faultReply(s, h) }),
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
    oidcRequestUri: `${hosts.oidc.url}${encodeURIComponent(copy.organization.name)}/${project}/_apis/distributedtask/hubs/build/plans/${crypto.randomUUID()}/jobs/${crypto.randomUUID()}/oidctoken`,
    caFile: certs.caFile,
    caPem: certs.caPem,
    directory,
    hosts,
    oidc,
    app: (appId) => clone(directory.appAnywhere(appId)),
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
