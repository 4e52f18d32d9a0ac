// The agent's OIDC endpoint (System.OidcRequestUri): a task asks it for an ID token of a service
// connection that is one of its inputs, with the job token, and exchanges the token at Entra.
// POST {oidcRequestUri}?api-version=7.1&serviceConnectionId={id}, Authorization: Bearer {job token},
// body {} → {"oidcToken": "<JWT>"} (iss = the connection's issuer, sub = its subject, aud
// api://AzureADTokenExchange). A connection the task does not reference → 404.
// Public sources: Azure/azure-sdk-for-js sdk/identity/identity/src/credentials/azurePipelinesCredential.ts
// (the request and the answer); learn.microsoft.com/azure/devops/pipelines/release/configure-workload-identity
// (issuer and subject of a connection: the Entra issuer https://login.microsoftonline.com/{tenant}/v2.0
// with an /eid1/… subject, or https://vstoken.dev.azure.com/{organizationId} with sc://{org}/{project}/{name}).
// The issuer and subject are computed here independently of the task's core/identity.ts.
import * as crypto from 'crypto';
import { FIC_AUDIENCE } from './directory';
import type { HostRequest } from './httpsHost';
import { errorReply } from './replies';
import { guidToBase64Url } from './serviceEndpoints';
import type { Reply, Seed } from './types';
import { GUID_RE, ieq, prop, type Obj } from './util';

const AZURE_DEVOPS_APP_ID = '499b84ac-1321-427f-aa17-267ca6975798';
const OIDC_ROUTE = /\/_apis\/distributedtask\/hubs\/[^/]+\/plans\/[^/]+\/jobs\/[^/]+\/oidctoken$/i;

/** Issuer and subject the service uses for a connection: the stored ones once federated, else those of seed.issuer. */
export function issuerAndSubject(seed: Seed, ep: Obj): { issuer: string; subject: string } {
  const params = (ep.authorization as Obj | undefined)?.parameters as Obj | undefined;
  const storedIss = prop(params, 'workloadIdentityFederationIssuer');
  const storedSub = prop(params, 'workloadIdentityFederationSubject');
  if (typeof storedIss === 'string' && typeof storedSub === 'string' && storedIss && storedSub) return { issuer: storedIss, subject: storedSub };
  const org = seed.organization;
  if (seed.issuer === 'azuredevops') {
    const home = (ep.serviceEndpointProjectReferences as Obj[] | undefined)?.[0]?.projectReference?.name ?? '';
    return { issuer: `https://vstoken.dev.azure.com/${org.id}`, subject: `sc://${org.name}/${String(home)}/${String(ep.name)}` };
  }
  return entraIssuerAndSubject(seed, ep);
}

/**
 * The Entra issuer and subject of a connection, whatever it stores: what a migration off the Azure
 * DevOps issuer moves it to (learn.microsoft.com/azure/devops/pipelines/release/convert-service-connections).
 */
export function entraIssuerAndSubject(seed: Pick<Seed, 'organization'>, ep: Obj): { issuer: string; subject: string } {
  const params = (ep.authorization as Obj | undefined)?.parameters as Obj | undefined;
  const tenantValue = prop(params, 'tenantid');
  const tenantId = typeof tenantValue === 'string' ? tenantValue : '';
  const t = GUID_RE.test(tenantId) ? guidToBase64Url(tenantId) : Buffer.from(tenantId).toString('base64url');
  return {
    issuer: `https://login.microsoftonline.com/${tenantId}/v2.0`,
    subject: `/eid1/c/pub/t/${t}/a/${guidToBase64Url(AZURE_DEVOPS_APP_ID)}/sc/${seed.organization.id}/${String(ep.id)}`,
  };
}

export class OidcService {
  /** The signing key; its public half is what the Entra emulator verifies assertions with. */
  readonly keyId = crypto.randomUUID();
  private readonly keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

  constructor(
    private readonly seed: Seed,
    /** The live connection (from the Azure DevOps emulator when one is given). */
    private readonly endpoint: (id: string) => Obj | undefined,
    private readonly now: () => number,
  ) {}

  get publicKey(): crypto.KeyObject {
    return this.keys.publicKey;
  }

  /** Signs any claims (tests forge expired or foreign assertions with it). Defaults: aud, iat, nbf, exp, jti. */
  mint(claims: Record<string, unknown>): string {
    const nowS = Math.floor(this.now() / 1000);
    const lifetime = this.seed.entra?.oidcTokenLifetimeSeconds ?? 600;
    const payload = { jti: crypto.randomUUID(), aud: FIC_AUDIENCE, iat: nowS, nbf: nowS, exp: nowS + lifetime, ...claims };
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const signed = `${enc({ typ: 'JWT', alg: 'RS256', kid: this.keyId })}.${enc(payload)}`;
    return `${signed}.${crypto.sign('sha256', Buffer.from(signed), this.keys.privateKey).toString('base64url')}`;
  }

  /** Connections the running task references; default: those whose client id is a seeded service principal or managed identity. */
  private referenced(id: string): boolean {
    const listed = this.seed.entra?.taskInputConnections;
    if (listed) return listed.some((x) => ieq(x, id));
    const ep = this.endpoint(id);
    const clientId = prop((ep?.authorization as Obj | undefined)?.parameters as Obj | undefined, 'serviceprincipalid');
    return (this.seed.entra?.tenants ?? []).some(
      (t) => (t.servicePrincipals ?? []).some((p) => ieq(p.appId, clientId)) || (t.managedIdentities ?? []).some((m) => ieq(m.clientId, clientId)),
    );
  }

  faultReply(status: number, headers: Record<string, string> | undefined): Reply {
    return errorReply(status, 'InternalServerError', `Injected fault (${status}).`, headers);
  }

  handle(req: HostRequest): Reply {
    if (!OIDC_ROUTE.test(req.path))
      return errorReply(404, 'NotFoundException', `The controller for path '${req.path}' was not found or does not implement IController.`);
    if (req.method !== 'POST') return errorReply(405, 'InvalidOperationException', `The requested resource does not support http method '${req.method}'.`);
    const auth = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
    if (!auth || !this.seed.identities.some((i) => i.token === auth[1])) {
      return errorReply(401, 'UnauthorizedRequestException', "TF400813: The user '' is not authorized to access this resource.");
    }
    const id = req.query.serviceConnectionId ?? '';
    if (!id) return errorReply(400, 'ArgumentException', 'Value cannot be null.\r\nParameter name: serviceConnectionId');
    const ep = this.endpoint(id);
    if (!ep || !this.referenced(id)) return errorReply(404, 'ServiceEndpointNotFoundException', `No service connection found with identifier ${id}.`);
    const { issuer, subject } = issuerAndSubject(this.seed, ep);
    return { status: 200, body: { oidcToken: this.mint({ iss: issuer, sub: subject }) } };
  }
}
