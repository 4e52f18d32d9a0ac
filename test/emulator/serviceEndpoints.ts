// The service-endpoint REST surface azure-devops-node-api 17 uses (area serviceendpoint): listing,
// GET by id, the undocumented ConvertAuthenticationScheme PUT (sync, async and failing background
// conversions), revert, the Administrator role (403) and, under the same routes, a connection's
// execution history (executionHistory.ts). Behaviour follows docs/service-behaviour.md, with its
// public sources (cited below as "§N" of that file). Who may convert what ('auto' mode: the
// caller's kind, whether the app already holds the federated credential, in the directory
// attached with Emulator.attachDirectory) is under "How a conversion is decided" below.
import { ExecutionHistory, SE_EXECUTION_HISTORY_LOCATION } from './executionHistory';
import { FIC_AUDIENCE } from './directory';
import { issuerAndSubject } from './oidc';
import { answerAt, badRequest, checkApiVersion, errorReply, invalidOperation, methodNotAllowed, notFoundRoute, projectNotFound } from './replies';
import type { ApiLocation, EndpointBehaviour, Identity, Reply, ResourceArea, Service, ServiceContext, ServiceRequest } from './types';
import { GUID_RE, clone, deleteKeys, ieq, isObj, prop, type Obj } from './util';

// Real location ids and version data, so the client's "7.2-preview.4" negotiates.
const WIF = 'WorkloadIdentityFederation';
const SPN = 'ServicePrincipal';
const CONVERT = 'ConvertAuthenticationScheme';
const REVERT_WINDOW_MS = 7 * 24 * 60 * 60 * 1000; // §5: 7 days
const SERVICEENDPOINT_AREA_ID = '1814ab31-2f4f-4a9f-8761-f4d77dc5a5d7';
const SECRET_KEYS = ['serviceprincipalkey', 'serviceprincipalcertificate', 'accesstoken', 'password', 'publishprofile'];

const SE_PROJECT_LOCATION: ApiLocation = {
  id: 'e85f1c62-adfc-4b74-b618-11a150fb195e',
  area: 'serviceendpoint',
  resourceName: 'endpoints',
  routeTemplate: '{project}/_apis/{area}/{resource}/{endpointId}',
  resourceVersion: 4,
  minVersion: '5.0',
  maxVersion: '7.2',
  releasedVersion: '7.1',
};
const SE_ORG_LOCATION: ApiLocation = {
  ...SE_PROJECT_LOCATION,
  id: '14e48fdc-2c8b-41ce-a0c3-e26f6cc55bd0',
  routeTemplate: '_apis/{area}/{resource}/{endpointId}',
};

const notFoundEndpoint = (id: string) => errorReply(404, 'ServiceEndpointNotFoundException', `No service connection found with identifier ${id}.`);

/** GUID -> base64url of its .NET byte order (little-endian first three fields), as in "/eid1/c/pub/t/…" subjects. */
export function guidToBase64Url(guid: string): string {
  const b = Buffer.from(guid.replace(/-/g, ''), 'hex');
  const le = Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8),
  ]);
  return le.toString('base64url');
}

/**
 * Compares what a client sent against the stored value: every field PRESENT in `sent` must equal
 * the stored one (objects are compared key by key, case-insensitive keys; arrays element by element;
 * a sent null equals a missing/null stored value). Returns the path of the first difference.
 */
function firstDifference(sent: unknown, stored: unknown, path: string): string | undefined {
  if (sent === undefined) return undefined;
  if (sent === null) return stored === null || stored === undefined ? undefined : path;
  if (Array.isArray(sent)) {
    if (!Array.isArray(stored) || sent.length > stored.length) return path;
    for (let i = 0; i < sent.length; i++) {
      const d = firstDifference(sent[i], stored[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (isObj(sent)) {
    if (!isObj(stored)) return path;
    for (const k of Object.keys(sent)) {
      const d = firstDifference(sent[k], prop(stored, k), path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  if (typeof sent === 'string' && typeof stored === 'string' && GUID_RE.test(sent) && GUID_RE.test(stored)) {
    return ieq(sent, stored) ? undefined : path;
  }
  return sent === stored ? undefined : path;
}

export class ServiceEndpointsService implements Service {
  readonly areas: readonly ResourceArea[] = [
    { name: 'serviceendpoint', id: SERVICEENDPOINT_AREA_ID, locations: [SE_PROJECT_LOCATION, SE_ORG_LOCATION, SE_EXECUTION_HISTORY_LOCATION] },
  ];
  private readonly endpoints: Obj[];
  private readonly history: ExecutionHistory;

  constructor(private readonly ctx: ServiceContext) {
    this.endpoints = ctx.seed.endpoints;
    this.history = new ExecutionHistory(ctx);
  }

  handle(req: ServiceRequest): Reply | undefined {
    const { method, path, projectSeg, rest, query, identity, body } = req;
    const [, resource, endpointId, ...extra] = rest;
    if (rest.length === 3 && ieq(endpointId, 'executionhistory')) {
      // GET {project}/_apis/serviceendpoint/{endpointId}/executionhistory
      return answerAt(this.ctx, req, SE_EXECUTION_HISTORY_LOCATION, 'GET', (project) => {
        const ep = this.find(resource);
        if (!ep || !this.sharedWith(ep, project!.id)) return notFoundEndpoint(resource);
        return this.history.page(ep, project!, query);
      });
    }
    if (!ieq(resource, 'endpoints') || extra.length) return undefined;

    const versionError = checkApiVersion(req.apiVersion, projectSeg ? SE_PROJECT_LOCATION : SE_ORG_LOCATION);
    if (versionError) return versionError;
    let project: { id: string; name: string } | undefined;
    if (projectSeg !== undefined) {
      project = this.ctx.findProject(projectSeg);
      if (!project) return projectNotFound(projectSeg);
    }
    if (method === 'GET' && !endpointId) {
      return project ? this.list(project, query, identity) : notFoundRoute(path);
    }
    if (method === 'GET') return this.getById(endpointId, project);
    if (method === 'PUT' && endpointId) return this.put(endpointId, query, identity, body);
    return methodNotAllowed(method);
  }

  /** 'flip-first': another actor changes the connection to the scheme this PUT asks for, just before it arrives. */
  concurrentChange(segments: string[], body: unknown): void {
    const ep = this.find(segments[segments.length - 1]);
    const target = prop(prop(body as Obj, 'authorization') as Obj, 'scheme');
    if (!ep) return;
    const current = String(ep.authorization?.scheme ?? '');
    if (ieq(target, WIF) && ieq(current, SPN)) this.complete(ep);
    else if (ieq(target, SPN) && ieq(current, WIF)) this.revert(ep);
  }

  // --- model helpers ---------------------------------------------------------------------------

  /** The stored endpoint (with its emulator knobs), by id, case-insensitive. */
  find(id: string): Obj | undefined {
    return this.endpoints.find((e) => ieq(e.id, id));
  }

  private refs(ep: Obj): Obj[] {
    return Array.isArray(ep.serviceEndpointProjectReferences) ? ep.serviceEndpointProjectReferences : [];
  }

  private sharedWith(ep: Obj, projectId: string): boolean {
    return this.refs(ep).some((r) => ieq(r?.projectReference?.id, projectId));
  }

  private isAdmin(ep: Obj, identity: Identity): boolean {
    return (ep.emulator?.administrators ?? this.ctx.seed.defaultAdministrators).includes(identity.name);
  }

  /** The hidden secret stored for a secret-based endpoint (a null sent by a client never equals it). */
  private secretOf(ep: Obj): string | undefined {
    return ep.emulator?.secret ?? (prop(ep.authorization?.parameters, 'serviceprincipalkey') !== undefined ? `emulator-secret-${ep.id}` : undefined);
  }

  /** What a client sees: no emulator knobs, secrets null (§1). */
  publicView(ep: Obj): Obj {
    const c = clone(ep);
    delete c.emulator;
    const params = c.authorization?.parameters;
    if (isObj(params)) for (const k of Object.keys(params)) if (SECRET_KEYS.includes(k.toLowerCase())) params[k] = null;
    return c;
  }

  // --- service endpoints -----------------------------------------------------------------------

  private list(project: { id: string }, query: Record<string, string>, identity: Identity): Reply {
    const q = (name: string) => prop(query, name) as string | undefined;
    const csv = (v: string | undefined) =>
      v
        ? v
            .split(',')
            .map((s) => s.trim().toLowerCase())
            .filter(Boolean)
        : undefined;
    const type = q('type');
    const schemes = csv(q('authSchemes'));
    const ids = csv(q('endpointIds'));
    const owner = q('owner');
    const includeFailed = ieq(q('includeFailed'), 'true');
    const action = (q('actionFilter') ?? '').toLowerCase();
    const manageOnly = action === '2' || action === 'manage';
    const value = this.endpoints
      .filter((ep) => this.sharedWith(ep, project.id))
      .filter((ep) => !type || ieq(ep.type, type))
      .filter((ep) => !schemes || schemes.includes(String(ep.authorization?.scheme ?? '').toLowerCase()))
      .filter((ep) => !ids || ids.includes(String(ep.id).toLowerCase()))
      .filter((ep) => !owner || ieq(ep.owner, owner))
      // §1: without includeFailed=true, endpoints with isReady false are left out.
      .filter((ep) => includeFailed || ep.isReady !== false)
      .filter((ep) => !manageOnly || this.isAdmin(ep, identity))
      .map((ep) => this.publicView(ep));
    // §1: an envelope with no paging.
    return { status: 200, body: { count: value.length, value } };
  }

  private getById(id: string, project: { id: string } | undefined): Reply {
    const ep = this.find(id);
    if (!ep || (project && !this.sharedWith(ep, project.id))) return notFoundEndpoint(id);
    this.advance(ep);
    return { status: 200, body: this.publicView(ep) };
  }

  /** Async conversion: each GET by id is one step of the background job (§4, the 202 case). */
  private advance(ep: Obj): void {
    const pending = ep.emulator?.pending as EndpointBehaviour['pending'];
    if (!pending) return;
    pending.gets++;
    if (pending.gets < Math.max(1, ep.emulator.completeAfterGets ?? 1)) return;
    if (pending.mode === 'async') {
      const failure = this.addCredential(ep);
      if (failure) this.fail(ep, failure);
      else this.complete(ep);
    } else if (pending.mode === 'aad-silent-failure-async') this.fail(ep, this.aadMessage(pending.identityId));
    else
      this.fail(
        ep,
        `Failed to add a federated identity credential to application ${String(prop(ep.authorization?.parameters, 'serviceprincipalid'))}: Insufficient privileges to complete the operation.`,
      );
  }

  private aadMessage(identityIdValue: string): string {
    return `Failed to obtain an access token of identity ${identityIdValue}. AAD returned silent failure.`;
  }

  // --- How a conversion is decided ('auto') ------------------------------------------------------
  // Public sources: learn.microsoft.com/azure/devops/pipelines/release/convert-service-connections
  // ("conversion can fail if Azure DevOps can't update the associated app registration": Azure
  // DevOps adds the federated identity credential to the connection's app with the CALLER's
  // delegated Entra token); .../release/automate-service-connections (automatic conversion is "not
  // supported for non-user principals": a job identity has no Entra token, hence "AAD returned
  // silent failure", AadAccessSilentException); .../release/troubleshoot-workload-identity
  // (AADSTS700211 / AADSTS70021 when the credential is missing or differs; a new credential needs
  // time to propagate). When the credential the service would assign already exists, the
  // conversion needs no Entra call: it is done at once (200) for anyone with the Administrator role.

  private appIdOf(ep: Obj): string {
    return String((prop(ep.authorization?.parameters, 'serviceprincipalid') as string | undefined) ?? '');
  }

  /** The issuer and subject the service assigns on conversion (one implementation: oidc.ts). */
  private assigned(ep: Obj): { issuer: string; subject: string } {
    return issuerAndSubject(this.ctx.seed, ep);
  }

  /**
   * Whether the credential this connection would get already exists on its app and has
   * propagated (one added but not yet propagated counts as missing): the attached directory
   * decides; without one, the `federatedCredential` knob.
   */
  private credentialExists(ep: Obj): boolean {
    const directory = this.ctx.directory();
    if (!directory) return !!ep.emulator?.federatedCredential;
    const { issuer, subject } = this.assigned(ep);
    return directory.isUsable(this.appIdOf(ep), issuer, subject);
  }

  /**
   * The background job's Entra step, as Azure DevOps does it: adds the connection's credential to
   * its app in the attached directory (nothing without a directory, or a read-only one).
   * Returns the failure message when the app cannot be found.
   */
  private addCredential(ep: Obj): string | undefined {
    const directory = this.ctx.directory();
    if (!directory?.addCredential) return undefined;
    const appId = this.appIdOf(ep);
    const { issuer, subject } = this.assigned(ep);
    const home = this.refs(ep)[0]?.projectReference?.name ?? '';
    const added = directory.addCredential(appId, {
      name: String(ep.id),
      issuer,
      subject,
      audiences: [FIC_AUDIENCE],
      description: `Federation for Service Connection ${String(ep.name)} in ${this.ctx.url()}${String(home)}/_settings/adminservices?resourceId=${String(ep.id)}`,
    });
    if (added === false) {
      return `Failed to add a federated identity credential to application ${appId}: Resource '${appId}' does not exist or one of its queried reference-property objects are not present.`;
    }
    return undefined;
  }

  /** The mode 'auto' resolves to for this caller, or the refusal it answers at once. */
  private decide(ep: Obj, identity: Identity): string | Reply {
    if (this.credentialExists(ep)) return 'sync';
    if (ieq(ep.data?.creationMode, 'Manual')) {
      return invalidOperation(
        `Service connection ${String(ep.name)} could not be upgraded to use workload identity federation. The service principal could not be configured automatically, and no valid configuration exists.`,
      );
    }
    if (identity.kind !== 'service') return 'async';
    const delivery = (ep.emulator as EndpointBehaviour | undefined)?.aadSilentFailure ?? this.ctx.seed.aadSilentFailure ?? 'sync-500';
    if (delivery === 'async') return 'aad-silent-failure-async';
    return delivery === 'sync-400' ? 'aad-silent-failure-400' : 'aad-silent-failure';
  }

  /** Finishes a conversion: WIF, issuer/subject set, secret moved to hidden recovery data, 7-day revert window. */
  private complete(ep: Obj): void {
    const params: Obj = ep.authorization.parameters ?? {};
    const emu: EndpointBehaviour = (ep.emulator ??= {});
    // Before anything changes: the issuer and subject this connection gets (§7: the Entra
    // issuer's subject is opaque; oidc.ts imitates its observed shape).
    const { issuer, subject } = this.assigned(ep);
    emu.recovery = { parameters: clone(params), secret: this.secretOf(ep) };
    delete emu.secret;
    delete emu.pending;
    const next = clone(params);
    deleteKeys(next, ['authenticationtype', 'serviceprincipalkey', 'serviceprincipalcertificate']);
    next.workloadIdentityFederationIssuer = issuer;
    next.workloadIdentityFederationSubject = subject;
    ep.authorization = { ...ep.authorization, scheme: WIF, parameters: next };
    ep.data = { ...(ep.data ?? {}), revertSchemeDeadline: new Date(this.ctx.now() + REVERT_WINDOW_MS).toISOString() };
    ep.isReady = true;
    ep.operationStatus = { state: 'Ready', statusMessage: '' };
  }

  /** §4: a failed FIC step is stored as {Failed, converting_scheme_failed}; the scheme stays. */
  private fail(ep: Obj, reason: string): void {
    if (ep.emulator) delete ep.emulator.pending;
    ep.isReady = false;
    ep.operationStatus = { state: 'Failed', statusMessage: `converting_scheme_failed: ${reason}` };
  }

  private put(id: string, query: Record<string, string>, identity: Identity, body: unknown): Reply {
    const ep = this.find(id);
    if (!ep) return notFoundEndpoint(id);
    const name = String(ep.name);

    const operation = String((prop(query, 'operation') as string | undefined) ?? '');
    if (!ieq(operation, CONVERT) || this.ctx.seed.conversionDisabled) {
      // §9: this is also what an organization without the conversion feature answers.
      return invalidOperation(`Operation '${operation || ''}' is invalid. Allowed operation values are: 'Refresh', 'UpdateSecret'.`);
    }
    if (!this.isAdmin(ep, identity)) {
      return errorReply(
        403,
        'AccessCheckException',
        `Access denied. ${identity.name} needs Administrator permissions on service connection ${name} to perform this action. You need to be an Administrator on this service connection.`,
      );
    }

    // Body rules (§4): type, authorization.scheme and the scope project reference are required.
    if (!isObj(body)) return badRequest("Value cannot be null. (Parameter 'endpoint')");
    const sentType = prop(body, 'type');
    const target = prop(prop(body, 'authorization') as Obj, 'scheme');
    const sentRefs = prop(body, 'serviceEndpointProjectReferences');
    const scopeId = Array.isArray(sentRefs) ? prop(prop(sentRefs[0], 'projectReference') as Obj, 'id') : undefined;
    if (typeof sentType !== 'string' || !sentType) return badRequest("Value cannot be null. (Parameter 'endpoint.Type')");
    if (typeof target !== 'string' || !target) return badRequest("Value cannot be null. (Parameter 'endpoint.Authorization.Scheme')");
    if (typeof scopeId !== 'string' || !scopeId) {
      return badRequest("Value cannot be null. (Parameter 'endpoint.ServiceEndpointProjectReferences[0].ProjectReference.Id')");
    }
    const home = this.refs(ep)[0]?.projectReference ?? {};
    if (!ieq(scopeId, home.id)) {
      // §3: a shared connection can only be converted from its home project ([0]).
      const other = this.ctx.findProject(scopeId)?.name ?? scopeId;
      return badRequest(
        `Service connection ${name} can only be converted from its home project '${home.name}', not from project '${other}'. The conversion affects every project the connection is shared with.`,
      );
    }

    // §4: every other field sent must equal the stored value; this is where a client that
    // resends the whole endpoint (null secret, re-serialised dates…) fails.
    const stored = clone(ep);
    delete stored.emulator;
    const secret = this.secretOf(ep);
    if (isObj(stored.authorization?.parameters)) {
      for (const k of Object.keys(stored.authorization.parameters)) {
        if (k.toLowerCase() === 'serviceprincipalkey') stored.authorization.parameters[k] = secret;
      }
    }
    const rest = clone<Obj>(body);
    for (const k of Object.keys(rest)) {
      if (k.toLowerCase() === 'type') delete rest[k];
      else if (k.toLowerCase() === 'authorization' && isObj(rest[k])) deleteKeys(rest[k], ['scheme']);
    }
    const diff = ieq(sentType, ep.type) ? firstDifference(rest, stored, '') : 'type';
    if (diff) {
      return badRequest('Properties cannot be changed during service connection upgrade. Only the authentication scheme can be changed.', diff);
    }

    const status = ep.operationStatus ?? {};
    if (status.state === 'InProgress' && status.statusMessage !== 'converting_scheme') {
      return invalidOperation(`Service connection ${name} cannot be updated because another operation is already in progress. Try again once it has finished.`);
    }

    const current = String(ep.authorization?.scheme ?? '');
    if (ieq(target, SPN) && ieq(current, WIF)) return this.revert(ep);
    if (!(ieq(target, WIF) && ieq(current, SPN))) {
      return invalidOperation(
        `Changing the authentication scheme of service connection ${name} from '${current}' to '${target}' is neither an upgrade or a downgrade.`,
      );
    }
    if (ieq(ep.data?.environment, 'AzureStack')) {
      return invalidOperation(
        `Unable to connect to the Azure Stack environment of service connection ${name}: workload identity federation is not supported for Azure Stack.`,
      );
    }

    const emu: EndpointBehaviour = ep.emulator ?? {};
    let mode: string = emu.conversion ?? 'auto';
    if (mode === 'auto') {
      const decided = this.decide(ep, identity);
      if (typeof decided !== 'string') return decided;
      mode = decided;
    }
    switch (mode) {
      case 'sync':
        this.complete(ep);
        return { status: 200, body: this.publicView(ep) };
      case 'aad-silent-failure':
      case 'aad-silent-failure-400': {
        const message = this.aadMessage(identity.id);
        this.fail(ep, message);
        return errorReply(mode === 'aad-silent-failure' ? 500 : 400, 'AadAccessSilentException', message);
      }
      default:
        // §4: 202 with the endpoint unchanged except {InProgress, converting_scheme}; a
        // PUT while that is pending is not an error (it does not block a retry): 202 again.
        if (!emu.pending) {
          ep.emulator = { ...emu, pending: { gets: 0, mode, identityId: identity.id } };
          ep.isReady = true;
          ep.operationStatus = { state: 'InProgress', statusMessage: 'converting_scheme' };
        }
        return { status: 202, body: this.publicView(ep) };
    }
  }

  /** §5: revert restores the old secret while the 7-day window is open and recovery data exist. */
  private revert(ep: Obj): Reply {
    const recovery = ep.emulator?.recovery as EndpointBehaviour['recovery'];
    const deadline = Date.parse(String(ep.data?.revertSchemeDeadline ?? ''));
    if (!recovery || !(this.ctx.now() < deadline)) {
      return invalidOperation(
        `Service connection ${ep.name} could not be downgraded to use a service principal secret as no recovery data exist for this endpoint.`,
      );
    }
    ep.authorization = { ...ep.authorization, scheme: SPN, parameters: clone(recovery.parameters) };
    if (recovery.secret !== undefined) ep.emulator.secret = recovery.secret;
    delete ep.emulator.recovery;
    delete ep.data.revertSchemeDeadline;
    ep.isReady = true;
    ep.operationStatus = { state: 'Ready', statusMessage: '' };
    return { status: 200, body: this.publicView(ep) };
  }
}
