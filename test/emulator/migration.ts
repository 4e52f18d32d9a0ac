// The issuer migration route: what `az devops service-endpoint convert` sends to move a federated
// connection off the Azure DevOps issuer (Azure/azure-devops-cli-extension pull request #1508,
// azext_devops/dev/team/service_endpoint.py, not merged):
//   POST {collection}/_apis/public/serviceendpoint/externalfederatedcredentialmigration?api-version=7.2-preview.1
//   {"serviceConnectionInput": "sc://{org}/{project}/{name}"}
// with a Microsoft Entra bearer token for Azure DevOps (resource 499b84ac-1321-427f-aa17-267ca6975798).
// What the service does with it is not documented; the emulator imitates what the web UI's
// Update button is documented to do (learn.microsoft.com/azure/devops/pipelines/release/
// convert-service-connections: the Azure DevOps issuer is retired on 2027-07-01; Update moves the
// connection to the Entra issuer https://login.microsoftonline.com/{tenant}/v2.0 with an /eid1/…
// subject when the identity holds that credential, and otherwise shows the issuer and subject to
// add; a connection on the new issuer carries workloadIdentityFederationIssuerType "EntraID").
// Modes (seed.migration, per connection emulator.migration, which wins):
// - '404' (default): the route is unknown (the unknown-controller 404), as an unverified route may
//   be; when the seed and every connection say '404', any request to it gets that 404 (after the
//   token check); otherwise a connection in mode '404' gets it once it is resolved;
// - '403': AccessCheckException; '500': an internal error; neither changes anything;
// - 'switches': when the connection's identity (app by appId, or user-assigned managed identity by
//   client id, in the attached directory) has a usable credential with the connection's Entra
//   issuer and subject, the connection's workloadIdentityFederationIssuer / Subject become those and
//   workloadIdentityFederationIssuerType "EntraID"; the answer is 200 with the connection (as GET by
//   id shows it). Without such a credential: 400 with the AADSTS700211 message the UI shows.
// Authentication on this route only: a seeded PAT or job token is refused (401), so is an Entra
// token for another resource or expired; the Entra token is validated through the attached
// directory (Emulator.attachDirectory, entraAccessToken). The Administrator role is not checked
// (the Entra caller is no seeded Azure DevOps identity); mode '403' stands for a refusal.
import { entraIssuerAndSubject } from './oidc';
import { checkApiVersion, errorReply, invalidOperation, methodNotAllowed, notFoundRoute } from './replies';
import type { ApiLocation, EndpointBehaviour, EntraCaller, MigrationMode, Reply, ServiceContext } from './types';
import { ieq, isObj, prop, type Obj } from './util';

const WIF = 'WorkloadIdentityFederation';
/** A location for the api-version check only (not published by OPTIONS: the route is not in the location service). */
const MIGRATION_LOCATION: ApiLocation = {
  id: '00000000-0000-0000-0000-000000000000',
  area: 'public',
  resourceName: 'externalfederatedcredentialmigration',
  routeTemplate: '_apis/public/serviceendpoint/externalfederatedcredentialmigration',
  resourceVersion: 1,
  minVersion: '7.2',
  maxVersion: '7.2',
  releasedVersion: '7.1',
};

export interface MigrationRequest {
  method: string;
  path: string;
  /** The Authorization header as sent. */
  authorization: string | undefined;
  body: unknown;
  apiVersion: string | undefined;
}

export class MigrationService {
  constructor(
    private readonly ctx: ServiceContext,
    /** Stored endpoints (with their knobs) and what a client sees of one (serviceEndpoints.ts). */
    private readonly endpoints: { all: () => Obj[]; view: (ep: Obj) => Obj },
  ) {}

  /** Whether a request is for this route: {org}/_apis/public/serviceendpoint/externalfederatedcredentialmigration. */
  static matches(projectSeg: string | undefined, rest: string[]): boolean {
    return (
      projectSeg === undefined &&
      rest.length === 3 &&
      ieq(rest[0], 'public') &&
      ieq(rest[1], 'serviceendpoint') &&
      ieq(rest[2], 'externalfederatedcredentialmigration')
    );
  }

  /** The reply, and who called (for the request record) when the Entra token was accepted. */
  handle(req: MigrationRequest): { reply: Reply; caller?: EntraCaller } {
    const caller = this.authenticate(req.authorization);
    if (!caller) return { reply: unauthorized() };
    const reply = this.answer(req, caller);
    return { reply, caller };
  }

  private authenticate(header: string | undefined): EntraCaller | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    const caller = m ? this.ctx.directory()?.entraAccessToken?.(m[1]) : undefined;
    return caller && caller.resource === 'azuredevops' && !caller.expired ? caller : undefined;
  }

  private answer(req: MigrationRequest, caller: EntraCaller): Reply {
    const seedMode: MigrationMode = this.ctx.seed.migration ?? '404';
    // The route exists when the seed or a connection's knob says anything but '404'; while it is
    // unknown for the organization, nothing about the request matters.
    const exists = seedMode !== '404' || this.endpoints.all().some((e) => ((e.emulator as EndpointBehaviour | undefined)?.migration ?? '404') !== '404');
    if (!exists) return notFoundRoute(req.path);
    if (req.method !== 'POST') return methodNotAllowed(req.method);
    const versionError = checkApiVersion(req.apiVersion, MIGRATION_LOCATION);
    if (versionError) return versionError;
    const input = prop(isObj(req.body) ? req.body : undefined, 'serviceConnectionInput');
    if (typeof input !== 'string' || !input) return errorReply(400, 'ArgumentException', "Value cannot be null. (Parameter 'serviceConnectionInput')");
    const found = this.resolve(input);
    if (typeof found === 'string') return errorReply(404, 'ServiceEndpointNotFoundException', found);
    const ep = found;
    const mode: MigrationMode = (ep.emulator as EndpointBehaviour | undefined)?.migration ?? seedMode;
    if (mode === '404') return notFoundRoute(req.path);
    if (mode === '403') {
      return errorReply(
        403,
        'AccessCheckException',
        `Access denied. ${caller.clientId} needs Administrator permissions on service connection ${String(ep.name)} to perform this action.`,
      );
    }
    if (mode === '500') return errorReply(500, 'InternalServerError', 'An unexpected error occurred while migrating the federated credential.');
    return this.migrate(ep);
  }

  /** sc://{org}/{project}/{name}: the connection of that name referenced by that project of this organization. */
  private resolve(input: string): Obj | string {
    const m = /^sc:\/\/([^/]+)\/([^/]+)\/(.+)$/i.exec(input);
    const org = this.ctx.seed.organization;
    if (!m || !ieq(m[1], org.name)) return `No service connection found for '${input}' in organization ${org.name}.`;
    const project = this.ctx.findProject(m[2]);
    const ep = project
      ? this.endpoints
          .all()
          .find((e) =>
            (Array.isArray(e.serviceEndpointProjectReferences) ? (e.serviceEndpointProjectReferences as Obj[]) : []).some(
              (r) => ieq(r?.projectReference?.id, project.id) && ieq(r?.name ?? e.name, m[3]),
            ),
          )
      : undefined;
    return ep ?? `No service connection found for '${input}' in organization ${org.name}.`;
  }

  private migrate(ep: Obj): Reply {
    const name = String(ep.name);
    const params: Obj = isObj(ep.authorization?.parameters) ? ep.authorization.parameters : {};
    if (!ieq(ep.authorization?.scheme, WIF)) {
      return invalidOperation(`Service connection ${name} does not use workload identity federation; there is no federated credential to migrate.`);
    }
    const tenantId = prop(params, 'tenantid');
    const clientId = prop(params, 'serviceprincipalid');
    if (typeof tenantId !== 'string' || !tenantId || typeof clientId !== 'string' || !clientId) {
      return invalidOperation(
        `Service connection ${name} is not backed by a Microsoft Entra identity (no tenant and client id); its issuer cannot be moved to Microsoft Entra.`,
      );
    }
    const { issuer, subject } = entraIssuerAndSubject(this.ctx.seed, ep);
    const directory = this.ctx.directory();
    if (!directory?.isUsable(clientId, issuer, subject)) {
      // What the UI reports when the identity lacks the new credential (AADSTS700211, learn.microsoft.com/azure/devops/pipelines/release/troubleshoot-workload-identity).
      return invalidOperation(
        `Failed to update service connection ${name} to use the Microsoft Entra issuer: AADSTS700211: No matching federated identity record found for presented assertion issuer '${issuer}'. Add a federated credential with issuer '${issuer}', subject identifier '${subject}' and audience 'api://AzureADTokenExchange' to the identity ${clientId}, then try again.`,
      );
    }
    for (const k of Object.keys(params)) {
      if (['workloadidentityfederationissuer', 'workloadidentityfederationsubject', 'workloadidentityfederationissuertype'].includes(k.toLowerCase()))
        delete params[k];
    }
    params.workloadIdentityFederationIssuer = issuer;
    params.workloadIdentityFederationSubject = subject;
    params.workloadIdentityFederationIssuerType = 'EntraID';
    ep.authorization = { ...ep.authorization, parameters: params };
    return { status: 200, body: this.endpoints.view(ep) };
  }
}

function unauthorized(): Reply {
  return errorReply(
    401,
    'UnauthorizedRequestException',
    "TF400813: The user '' is not authorized to access this resource. This route needs a Microsoft Entra access token for Azure DevOps (499b84ac-1321-427f-aa17-267ca6975798).",
    { 'WWW-Authenticate': 'Bearer authorization_uri=https://login.microsoftonline.com/common' },
  );
}
