// Azure Resource Manager, the part an issuer migration needs for user-assigned managed identities:
// list the identities of a subscription (to find one by client id), read one, and list, read,
// create or update, and delete its federated identity credentials. Access tokens are the Entra
// emulator's (directory.ts), issued for the ARM resource. Public sources (learn.microsoft.com/…):
// - rest/api/managedidentity/user-assigned-identities/list-by-subscription (api-version 2023-01-31):
//   GET /subscriptions/{sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities →
//   {value: [{id, name, type, location, tags, properties: {tenantId, principalId, clientId}}], nextLink};
// - rest/api/managedidentity/user-assigned-identities/get (GET {identity id});
// - rest/api/managedidentity/federated-identity-credentials/create-or-update (PUT {identity
//   id}/federatedIdentityCredentials/{name}, body {properties: {issuer, subject, audiences}} → 201
//   created, 200 updated; the name pattern ^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$), …/get, …/list
//   (paged by nextLink, $top, $skiptoken) and …/delete (200, or 204 when there was none);
// - entra/workload-id/workload-identity-federation-considerations (at most 20 federated
//   credentials per user-assigned identity; issuer + subject unique on it; concurrent writes on
//   one identity fail with 409);
// - azure/role-based-access-control/built-in-roles (Managed Identity Contributor and Managed
//   Identity Federated Credential Contributor may write federated credentials; Reader may not);
// - azure/azure-resource-manager/troubleshooting/common-deployment-errors (the error shape
//   {error: {code, message}} and the codes AuthorizationFailed, ResourceNotFound,
//   SubscriptionNotFound, ResourceGroupNotFound, InvalidAuthenticationTokenTenant,
//   MissingApiVersionParameter, NoRegisteredProviderFound);
// - azure/azure-resource-manager/management/request-limits-and-throttling (429 with Retry-After).
// Assumptions (the pages document rules, not these answers): a duplicate issuer + subject is a 409
// Conflict, a bad name / the limit / a bad body a 400 BadRequest, with the emulator's wording; the
// listing of a subscription shows the identities the caller may read and is a 403 when it may read
// none; an identity that does not exist is a 404 whoever asks (as for a caller with read on its
// resource group); only api-version 2023-01-31 is served.
import * as crypto from 'crypto';
import { managedIdentityId, type AccessTokenInfo, type Directory, type FicState, type ManagedIdentityState } from './directory';
import type { HostRequest } from './httpsHost';
import type { Reply } from './types';
import { ieq, isObj } from './util';

export const ARM_API_VERSION = '2023-01-31';
export const MAX_FICS_PER_IDENTITY = 20;
/** create-or-update: "federatedIdentityCredentialResourceName" pattern. */
export const MI_FIC_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$/;
const MI_TYPE = 'Microsoft.ManagedIdentity/userAssignedIdentities';
const FIC_TYPE = `${MI_TYPE}/federatedIdentityCredentials`;
const DEFAULT_PAGE = 100;

const LIST_RE = /^\/subscriptions\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/?$/i;
const IDENTITY_RE =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([^/]+)(?:\/(federatedIdentityCredentials)(?:\/([^/]+))?)?\/?$/i;

/** ARM's error shape (common-deployment-errors): {error: {code, message}}, with ARM's request ids. */
export function armError(status: number, code: string, message: string, headers?: Record<string, string>): Reply {
  return { status, headers: { 'x-ms-correlation-request-id': crypto.randomUUID(), ...headers }, body: { error: { code, message } } };
}

export interface ArmOptions {
  /** The ARM emulator's base URL (ends with '/'): nextLink is absolute on it. */
  base: () => string;
  pageSize?: number;
  /** armConcurrentWriteWindowMs of the seed (0: off). */
  concurrentWriteWindowMs?: number;
}

export class ArmService {
  constructor(
    private readonly dir: Directory,
    private readonly options: ArmOptions,
  ) {}

  /**
   * A fault without a body: 429 TooManyRequests with Retry-After (1 unless the fault sets one:
   * request-limits-and-throttling), 503 ServiceUnavailable, else InternalServerError.
   */
  faultReply(status: number, headers: Record<string, string> | undefined): Reply {
    if (status === 429) {
      const h = Object.keys(headers ?? {}).some((k) => k.toLowerCase() === 'retry-after') ? headers : { 'Retry-After': '1', ...headers };
      return armError(
        429,
        'TooManyRequests',
        'The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:01:00. For more information, see - https://aka.ms/srpthrottlinglimits',
        h,
      );
    }
    if (status === 503) return armError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry the request.', headers);
    return armError(status, 'InternalServerError', 'Encountered internal server error. Diagnostic information: timestamp, correlation id.', headers);
  }

  handle(req: HostRequest): Reply {
    // Authentication comes first: ARM answers 401 before it looks at the route or the api-version.
    const token = this.authenticate(req);
    if ('status' in token) return token;
    const list = LIST_RE.exec(req.path);
    const one = list ? null : IDENTITY_RE.exec(req.path);
    if (!list && !one) return armError(404, 'NotFound', `The emulated Azure Resource Manager does not serve the path '${req.path}'.`);
    const versionError = this.checkApiVersion(req);
    if (versionError) return versionError;
    const sub = (list ?? one!)[1];
    const subError = this.checkSubscription(token, sub);
    if (subError) return subError;
    if (list) {
      if (req.method !== 'GET') return methodNotAllowed(req.method);
      return this.listIdentities(req, token, sub);
    }
    const [, , rg, name, fics, ficName] = one!;
    const tenant = this.dir.subscriptionTenant(sub)!;
    const mi = tenant.managedIdentities.find((m) => ieq(m.subscriptionId, sub) && ieq(m.resourceGroup, rg) && ieq(m.name, name));
    if (!mi) {
      if (!tenant.managedIdentities.some((m) => ieq(m.subscriptionId, sub) && ieq(m.resourceGroup, rg))) {
        return armError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
      }
      return armError(
        404,
        'ResourceNotFound',
        `The Resource '${MI_TYPE}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      );
    }
    if (!fics) {
      if (req.method !== 'GET') return methodNotAllowed(req.method);
      const denied = this.authorize(token, mi, `${MI_TYPE}/read`, managedIdentityId(mi));
      return denied ?? { status: 200, body: identityJson(mi) };
    }
    if (ficName === undefined) {
      if (req.method !== 'GET') return methodNotAllowed(req.method);
      const denied = this.authorize(token, mi, `${FIC_TYPE}/read`, managedIdentityId(mi));
      if (denied) return denied;
      return this.page(
        req,
        `${managedIdentityId(mi)}/federatedIdentityCredentials`,
        mi.federatedIdentityCredentials.map((f) => ficJson(mi, f)),
      );
    }
    const scope = `${managedIdentityId(mi)}/federatedIdentityCredentials/${ficName}`;
    const existing = mi.federatedIdentityCredentials.find((f) => ieq(f.name, ficName));
    switch (req.method) {
      case 'GET': {
        const denied = this.authorize(token, mi, `${FIC_TYPE}/read`, scope);
        if (denied) return denied;
        if (!existing) {
          return armError(
            404,
            'ResourceNotFound',
            `The Resource '${FIC_TYPE}/${mi.name}/${ficName}' under resource group '${mi.resourceGroup}' was not found.`,
          );
        }
        return { status: 200, body: ficJson(mi, existing) };
      }
      case 'PUT':
        return this.authorize(token, mi, `${FIC_TYPE}/write`, scope) ?? this.put(mi, ficName, existing, req.json);
      case 'DELETE': {
        const denied = this.authorize(token, mi, `${FIC_TYPE}/delete`, scope);
        if (denied) return denied;
        // federated-identity-credentials/delete: 200 deleted, 204 when there was nothing to delete.
        if (!existing) return { status: 204 };
        const conflict = this.concurrentWrite(mi);
        if (conflict) return conflict;
        mi.federatedIdentityCredentials = mi.federatedIdentityCredentials.filter((f) => f !== existing);
        return { status: 200 };
      }
      default:
        return methodNotAllowed(req.method);
    }
  }

  /** Bearer token of the Entra emulator for the ARM resource, unexpired (common-deployment-errors: the 401 codes). */
  private authenticate(req: HostRequest): AccessTokenInfo | Reply {
    const h = String(req.headers.authorization ?? '');
    const www = {
      'WWW-Authenticate': 'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="The authentication failed."',
    };
    if (!h) return armError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", www);
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    const info = m ? this.dir.token(m[1]) : undefined;
    if (!info) return armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.', www);
    if (info.resource !== 'arm') {
      return armError(
        401,
        'InvalidAuthenticationTokenAudience',
        `The access token has been obtained for wrong audience or resource '${info.resource}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.`,
        www,
      );
    }
    const now = this.dir.now();
    if (now >= info.expiresAt) {
      return armError(
        401,
        'ExpiredAuthenticationToken',
        `The access token expiry UTC time '${new Date(info.expiresAt).toUTCString()}' is earlier than current UTC time '${new Date(now).toUTCString()}'.`,
        www,
      );
    }
    return info;
  }

  /** MissingApiVersionParameter without one; NoRegisteredProviderFound for a version not served. */
  private checkApiVersion(req: HostRequest): Reply | undefined {
    const key = Object.keys(req.query).find((k) => k.toLowerCase() === 'api-version');
    const v = key === undefined ? '' : req.query[key];
    if (!v) return armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
    if (v === ARM_API_VERSION) return undefined;
    if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(v)) {
      return armError(400, 'InvalidApiVersionParameter', `The api-version '${v}' is invalid. The supported versions are '${ARM_API_VERSION}'.`);
    }
    return armError(
      400,
      'NoRegisteredProviderFound',
      `No registered resource provider found for location 'westeurope' and API version '${v}' for type 'userAssignedIdentities'. The supported api-versions are '${ARM_API_VERSION}'.`,
    );
  }

  /** The subscription must exist (SubscriptionNotFound) and belong to the token's tenant (InvalidAuthenticationTokenTenant). */
  private checkSubscription(token: AccessTokenInfo, sub: string): Reply | undefined {
    const tenant = this.dir.subscriptionTenant(sub);
    if (!tenant) return armError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
    if (!ieq(tenant.id, token.tenantId)) {
      return armError(
        401,
        'InvalidAuthenticationTokenTenant',
        `The access token is from the wrong issuer 'https://sts.windows.net/${token.tenantId}/'. It must match the tenant 'https://sts.windows.net/${tenant.id}/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/${tenant.id}' to get the token.`,
      );
    }
    return undefined;
  }

  private canRead(token: AccessTokenInfo, mi: ManagedIdentityState): boolean {
    return [...mi.writers, ...mi.readers].some((c) => ieq(c, token.clientId));
  }

  /** Reader or writer for reads; a writer (Managed Identity [Federated Credential] Contributor) for writes. */
  private authorize(token: AccessTokenInfo, mi: ManagedIdentityState, action: string, scope: string): Reply | undefined {
    const write = !action.endsWith('/read');
    const ok = write ? mi.writers.some((c) => ieq(c, token.clientId)) : this.canRead(token, mi);
    return ok ? undefined : authorizationFailed(token, action, scope);
  }

  private listIdentities(req: HostRequest, token: AccessTokenInfo, sub: string): Reply {
    const tenant = this.dir.subscriptionTenant(sub)!;
    const inSub = tenant.managedIdentities.filter((m) => ieq(m.subscriptionId, sub));
    const visible = inSub.filter((m) => this.canRead(token, m));
    if (!visible.length && inSub.length) return authorizationFailed(token, `${MI_TYPE}/read`, `/subscriptions/${sub}`);
    return this.page(req, `/subscriptions/${sub}/providers/${MI_TYPE}`, visible.map(identityJson));
  }

  /**
   * A page of a listing: at most armPageSize (and $top when smaller) items from the offset of
   * $skiptoken; nextLink, absolute on this host with the same api-version, when more follow.
   */
  private page(req: HostRequest, path: string, items: unknown[]): Reply {
    const skip = req.query.$skiptoken;
    let offset = 0;
    if (skip !== undefined) {
      const n = Number(Buffer.from(skip, 'base64url').toString('utf8'));
      if (!Number.isInteger(n) || n < 0 || !/^[A-Za-z0-9_-]+$/.test(skip)) return armError(400, 'InvalidSkipToken', `The skip token '${skip}' is invalid.`);
      offset = n;
    }
    const top = req.query.$top === undefined ? undefined : Number(req.query.$top);
    if (top !== undefined && !(Number.isInteger(top) && top > 0)) return armError(400, 'InvalidTopValue', `The value '${req.query.$top}' of $top is invalid.`);
    const size = Math.min(this.options.pageSize ?? DEFAULT_PAGE, top ?? Infinity);
    const value = items.slice(offset, offset + size);
    const body: Record<string, unknown> = { value };
    if (offset + size < items.length) {
      const next = new URLSearchParams({ 'api-version': ARM_API_VERSION, ...(top !== undefined ? { $top: String(top) } : {}) });
      next.set('$skiptoken', Buffer.from(String(offset + size)).toString('base64url'));
      body.nextLink = `${this.options.base()}${path.replace(/^\//, '')}?${next.toString()}`;
    }
    return { status: 200, body };
  }

  /** The documented 409 of concurrent federated-credential writes on one identity, when the seed turns it on. */
  private concurrentWrite(mi: ManagedIdentityState): Reply | undefined {
    const windowMs = this.options.concurrentWriteWindowMs ?? 0;
    const now = this.dir.now();
    if (windowMs > 0 && mi.lastWriteAt !== undefined && now < mi.lastWriteAt + windowMs) {
      return armError(
        409,
        'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity',
        `Too many Federated Identity Credentials are written concurrently for the managed identity '${managedIdentityId(mi)}'. Write them one at a time.`,
      );
    }
    mi.lastWriteAt = now;
    return undefined;
  }

  private put(mi: ManagedIdentityState, name: string, existing: FicState | undefined, body: unknown): Reply {
    if (!MI_FIC_NAME_RE.test(name)) {
      return armError(
        400,
        'BadRequest',
        `The federated identity credential name '${name}' is invalid. It must match the pattern '^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$': 3 to 120 characters, letters, digits, '-' and '_', starting with a letter or a digit.`,
      );
    }
    const props = isObj(body) && isObj(body.properties) ? body.properties : undefined;
    if (!props) return armError(400, 'BadRequest', "The request body must contain the object 'properties' with 'issuer', 'subject' and 'audiences'.");
    const { issuer, subject, audiences } = props;
    if (typeof issuer !== 'string' || !/^https:\/\/\S+$/i.test(issuer)) {
      return armError(400, 'BadRequest', "The property 'properties.issuer' is required and must be an HTTPS URL.");
    }
    if (typeof subject !== 'string' || !subject) return armError(400, 'BadRequest', "The property 'properties.subject' is required.");
    if (!Array.isArray(audiences) || audiences.length !== 1 || typeof audiences[0] !== 'string' || !audiences[0]) {
      return armError(400, 'BadRequest', "The property 'properties.audiences' must hold exactly one audience, e.g. 'api://AzureADTokenExchange'.");
    }
    const others = mi.federatedIdentityCredentials.filter((f) => f !== existing);
    const twin = others.find((f) => f.issuer === issuer && f.subject === subject);
    if (twin) {
      return armError(
        409,
        'Conflict',
        `A federated identity credential with issuer '${issuer}' and subject '${subject}' already exists on the managed identity '${mi.name}' (name '${twin.name}'). The combination of issuer and subject must be unique on an identity.`,
      );
    }
    if (!existing && mi.federatedIdentityCredentials.length >= MAX_FICS_PER_IDENTITY) {
      return armError(
        400,
        'BadRequest',
        `The managed identity '${mi.name}' already has the maximum number of federated identity credentials (${MAX_FICS_PER_IDENTITY}). Remove one before adding another.`,
      );
    }
    const conflict = this.concurrentWrite(mi);
    if (conflict) return conflict;
    const addedAt = Math.max(1, this.dir.now()); // 0 means "seeded" (usable at once)
    if (existing) {
      const changed = existing.issuer !== issuer || existing.subject !== subject || existing.audiences[0] !== audiences[0];
      existing.issuer = issuer;
      existing.subject = subject;
      existing.audiences = [audiences[0]];
      if (changed) existing.addedAt = addedAt;
      return { status: 200, body: ficJson(mi, existing) };
    }
    const f: FicState = { id: crypto.randomUUID(), name, issuer, subject, audiences: [audiences[0]], description: null, addedAt };
    mi.federatedIdentityCredentials.push(f);
    return { status: 201, body: ficJson(mi, f) };
  }
}

const methodNotAllowed = (method: string) => armError(405, 'MethodNotAllowed', `The requested resource does not support http method '${method}'.`);

/** AuthorizationFailed as ARM words it (common-deployment-errors), naming the action and scope. */
function authorizationFailed(token: AccessTokenInfo, action: string, scope: string): Reply {
  return armError(
    403,
    'AuthorizationFailed',
    `The client '${token.clientId}' with object id '${token.clientObjectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
  );
}

function identityJson(mi: ManagedIdentityState): Record<string, unknown> {
  return {
    id: managedIdentityId(mi),
    name: mi.name,
    type: MI_TYPE,
    location: mi.location,
    tags: {},
    properties: { tenantId: mi.tenantId, principalId: mi.principalId, clientId: mi.clientId },
  };
}

function ficJson(mi: ManagedIdentityState, f: FicState): Record<string, unknown> {
  return {
    id: `${managedIdentityId(mi)}/federatedIdentityCredentials/${f.name}`,
    name: f.name,
    type: FIC_TYPE,
    properties: { issuer: f.issuer, subject: f.subject, audiences: [...f.audiences] },
  };
}
