// Microsoft Graph v1.0, the part the task needs: an application by appId or object id, and its
// federated identity credentials (list, add, delete). Access tokens are the Entra emulator's
// (directory.ts). Public sources (learn.microsoft.com/graph/api/…):
// - application-get ("GET /applications/{id}", "GET /applications(appId='{appId}')", $select);
// - application-list-federatedidentitycredentials (GET …/federatedIdentityCredentials);
// - application-post-federatedidentitycredentials (POST → 201; name ≤ 120 characters, unique and
//   immutable; issuer + subject unique per app; audiences a single value; at most 20 per app;
//   least privilege Application.ReadWrite.OwnedBy, else Application.ReadWrite.All);
// - federatedidentitycredential-delete (DELETE …/federatedIdentityCredentials/{id or name} → 204);
// - learn.microsoft.com/graph/errors (the error shape {error: {code, message, innerError}}, codes
//   Authorization_RequestDenied, Request_ResourceNotFound, Request_BadRequest);
// - learn.microsoft.com/graph/throttling (429 with Retry-After);
// - learn.microsoft.com/graph/permissions-reference (Application.ReadWrite.OwnedBy manages only
//   the apps whose owners include the caller; reading others with it alone is refused here, an
//   assumption).
// The status of a duplicate issuer + subject (400) and the limit's wording are the emulator's; the
// pages document the rules, not those answers.
import * as crypto from 'crypto';
import type { AccessTokenInfo, AppState, Directory, FicState, TenantState } from './directory';
import type { HostRequest } from './httpsHost';
import type { Reply } from './types';
import { isObj } from './util';

export const MAX_FICS_PER_APP = 20;
const MAX_NAME = 120;
const APP_PROPERTIES = ['id', 'appId', 'displayName', 'signInAudience', 'passwordCredentials', 'keyCredentials'];
const FIC_PROPERTIES = ['id', 'name', 'issuer', 'subject', 'audiences', 'description'];

export function graphError(status: number, code: string, message: string, headers?: Record<string, string>): Reply {
  return {
    status,
    headers: { 'request-id': crypto.randomUUID(), ...headers },
    body: { error: { code, message, innerError: { date: new Date().toISOString().replace(/\.\d+Z$/, ''), 'request-id': crypto.randomUUID() } } },
  };
}

const denied = () => graphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
const notFound = (id: string) =>
  graphError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
const badRequest = (message: string) => graphError(400, 'Request_BadRequest', message);

export class GraphService {
  constructor(
    private readonly dir: Directory,
    private readonly base: () => string,
  ) {}

  /** A fault without a body: 429 TooManyRequests (Retry-After 1 unless the fault sets one), else a 5xx. */
  faultReply(status: number, headers: Record<string, string> | undefined): Reply {
    if (status === 429) {
      const h = Object.keys(headers ?? {}).some((k) => k.toLowerCase() === 'retry-after') ? headers : { 'Retry-After': '1', ...headers };
      return graphError(429, 'TooManyRequests', 'Too many requests, please retry after some time.', h);
    }
    if (status === 503) return graphError(503, 'serviceNotAvailable', 'The service is temporarily unavailable. Please retry.', headers);
    return graphError(status, 'generalException', 'An unexpected error occurred.', headers);
  }

  handle(req: HostRequest): Reply {
    const m = /^\/v1\.0\/applications(?:\(appId='([^'/]*)'\)|\/([^/()]+))(?:\/(federatedIdentityCredentials)(?:\/([^/]+))?)?\/?$/i.exec(req.path);
    if (!m) return graphError(400, 'BadRequest', `Resource not found for the segment '${req.path.split('/').pop() ?? ''}'.`);
    const token = this.authenticate(req);
    if ('status' in token) return token;
    const tenant = this.dir.tenant(token.tenantId)!;
    const key = m[1] ?? m[2];
    const app = this.dir.app(tenant, key, m[1] !== undefined ? 'appId' : 'objectId');
    if (!app) return notFound(key);
    const write = req.method !== 'GET';
    if (!this.allowed(token, tenant, app, write)) return denied();
    if (!m[3]) {
      if (req.method !== 'GET') return graphError(405, 'Request_BadRequest', `The requested resource does not support http method '${req.method}'.`);
      return this.select(req, `applications/$entity`, this.appJson(app), APP_PROPERTIES, 'microsoft.graph.application');
    }
    const ficKey = m[4];
    if (ficKey === undefined) {
      if (req.method === 'GET') {
        return {
          status: 200,
          body: {
            '@odata.context': `${this.base()}v1.0/$metadata#applications('${app.objectId}')/federatedIdentityCredentials`,
            value: app.federatedIdentityCredentials.map(ficJson),
          },
        };
      }
      if (req.method === 'POST') return this.add(app, req.json);
      return graphError(405, 'Request_BadRequest', `The requested resource does not support http method '${req.method}'.`);
    }
    const f = app.federatedIdentityCredentials.find((x) => x.id.toLowerCase() === ficKey.toLowerCase() || x.name === ficKey);
    if (!f) return notFound(ficKey);
    if (req.method === 'GET')
      return {
        status: 200,
        body: { '@odata.context': `${this.base()}v1.0/$metadata#applications('${app.objectId}')/federatedIdentityCredentials/$entity`, ...ficJson(f) },
      };
    if (req.method === 'DELETE') {
      app.federatedIdentityCredentials = app.federatedIdentityCredentials.filter((x) => x !== f);
      return { status: 204 };
    }
    return graphError(405, 'Request_BadRequest', `The requested resource does not support http method '${req.method}'.`);
  }

  private authenticate(req: HostRequest): AccessTokenInfo | Reply {
    const h = String(req.headers.authorization ?? '');
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    const unauthorized = (message: string) =>
      graphError(401, 'InvalidAuthenticationToken', message, {
        'WWW-Authenticate': 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"',
      });
    if (!m) return unauthorized('Access token is empty.');
    const info = this.dir.token(m[1]);
    if (!info) return unauthorized('IDX14100: JWT is not well formed, there are no dots (.).');
    if (info.resource !== 'graph') return unauthorized('Access token validation failure. Invalid audience.');
    if (this.dir.now() >= info.expiresAt) return unauthorized('Lifetime validation failed, the token is expired.');
    return info;
  }

  private allowed(token: AccessTokenInfo, tenant: TenantState, app: AppState, write: boolean): boolean {
    if (token.roles.includes('Application.ReadWrite.All')) return true;
    if (!write && token.roles.includes('Application.Read.All')) return true;
    const client = this.dir.client(tenant, token.clientId);
    const owner = app.owners.some((o) => o.toLowerCase() === token.clientId.toLowerCase() || o.toLowerCase() === client?.objectId.toLowerCase());
    return token.roles.includes('Application.ReadWrite.OwnedBy') && owner;
  }

  private appJson(app: AppState): Record<string, unknown> {
    return {
      id: app.objectId,
      appId: app.appId,
      displayName: app.displayName,
      signInAudience: app.signInAudience,
      passwordCredentials: app.passwordCredentials.map((c) => ({
        customKeyIdentifier: null,
        displayName: null,
        hint: null,
        secretText: null,
        startDateTime: null,
        ...c,
      })),
      keyCredentials: app.keyCredentials.map((c) => ({
        customKeyIdentifier: null,
        displayName: null,
        type: 'AsymmetricX509Cert',
        usage: 'Verify',
        key: null,
        startDateTime: null,
        ...c,
      })),
    };
  }

  /** $select (application-get: "supports the $select OData query parameter"); an unknown property is a 400. */
  private select(req: HostRequest, entity: string, full: Record<string, unknown>, known: string[], type: string): Reply {
    const sel = req.query.$select;
    const context = `${this.base()}v1.0/$metadata#${entity}`;
    if (!sel) return { status: 200, body: { '@odata.context': context, ...full } };
    const out: Record<string, unknown> = { '@odata.context': `${this.base()}v1.0/$metadata#applications(${sel})/$entity` };
    for (const p of sel.split(',').map((s) => s.trim())) {
      const k = known.find((x) => x.toLowerCase() === p.toLowerCase());
      if (!k) return badRequest(`Could not find a property named '${p}' on type '${type}'.`);
      out[k] = full[k];
    }
    return { status: 200, body: out };
  }

  private add(app: AppState, body: unknown): Reply {
    if (!isObj(body)) return badRequest('Empty Payload. JSON content expected.');
    const { name, issuer, subject, audiences, description } = body;
    for (const [k, v] of Object.entries({ name, issuer, subject })) {
      if (typeof v !== 'string' || !v) return badRequest(`Invalid value specified for property '${k}' of resource 'FederatedIdentityCredential'.`);
    }
    if ((name as string).length > MAX_NAME)
      return badRequest(
        `Invalid value specified for property 'name' of resource 'FederatedIdentityCredential'. The name must be at most ${MAX_NAME} characters.`,
      );
    if (!Array.isArray(audiences) || audiences.length !== 1 || typeof audiences[0] !== 'string') {
      return badRequest("Invalid value specified for property 'audiences' of resource 'FederatedIdentityCredential'. Exactly one audience is supported.");
    }
    const fics = app.federatedIdentityCredentials;
    if (fics.some((f) => f.name.toLowerCase() === (name as string).toLowerCase())) {
      return graphError(409, 'Request_MultipleObjectsWithSameKeyValue', `FederatedIdentityCredential with name ${name as string} already exists.`);
    }
    if (fics.some((f) => f.issuer === issuer && f.subject === subject)) {
      return badRequest(`FederatedIdentityCredential with issuer '${issuer as string}' and subject '${subject as string}' already exists on the application.`);
    }
    if (fics.length >= MAX_FICS_PER_APP) {
      return badRequest(
        `The application already has the maximum number of federated identity credentials (${MAX_FICS_PER_APP}). Remove one before adding another.`,
      );
    }
    const f: FicState = {
      id: crypto.randomUUID(),
      name: name as string,
      issuer: issuer as string,
      subject: subject as string,
      audiences: [audiences[0]],
      description: typeof description === 'string' ? description : null,
      addedAt: Math.max(1, this.dir.now()),
    };
    fics.push(f);
    const location = `${this.base()}v1.0/applications/${app.objectId}/federatedIdentityCredentials/${f.id}`;
    return {
      status: 201,
      headers: { Location: location },
      body: { '@odata.context': `${this.base()}v1.0/$metadata#applications('${app.objectId}')/federatedIdentityCredentials/$entity`, ...ficJson(f) },
    };
  }
}

function ficJson(f: FicState): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of FIC_PROPERTIES) out[k] = f[k as keyof FicState];
  return out;
}
