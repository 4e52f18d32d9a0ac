// Microsoft Entra and Graph as `entraConnection` (docs/service-behaviour.md §18, §19): an ID token
// from the agent's OIDC endpoint (or the connection's secret), exchanged at the v2.0 token endpoint
// for an access token per resource (Microsoft Graph, Azure Resource Manager, Azure DevOps), then
// Graph's application and federatedIdentityCredential routes and ARM's user-assigned managed
// identity routes (armClient.ts). Same HTTP client, pacing, request timeout and retry policy as the
// Azure DevOps client (http.ts, retryPolicy.ts); every token is masked as soon as it is known and
// scrubbed from every message.

import type { IProxyConfiguration, ICertConfiguration } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import type { IRequestOptions } from 'typed-rest-client/Interfaces';
import { HttpClient } from 'typed-rest-client/HttpClient';
import { ServiceError, type ServiceFailure } from '../core/failures';
import type { AppSecret, Clock, EntraApp, EntraPort, EntraSettings, FederatedCredential, ManagedIdentity, NewFederatedCredential } from '../core/ports';
import {
  ARM_API_VERSION,
  ARM_PEER,
  apiFailure,
  armFailure,
  credentialsPath,
  identitiesPath,
  listedClientId,
  normalizeArmCredential,
  normalizeIdentity,
  requireFicName,
  requireIdentityId,
} from './armClient';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  HttpError,
  type Method,
  type NodeApiError,
  type Peer,
  type RawAnswer,
  abortOnTimeout,
  encodings,
  exchange,
  garbledError,
  pacedAttempt,
  scrubSecrets,
  send,
  serviceMessage,
  toServiceError,
} from './http';
import { Pacer } from './pacer';
import { withRetry } from './retryPolicy';

export interface EntraClientOptions {
  settings: EntraSettings;
  clock: Clock;
  /** Shared with the Azure DevOps client: one budget of requests in flight for the run. Default: one of settings.concurrency. */
  pacer?: Pacer;
  /** Aborted when the run is cancelled: no request starts after that. */
  signal?: AbortSignal;
  /** Masks a value in everything the task writes. */
  secret: (value: string) => void;
  proxy?: IProxyConfiguration;
  cert?: ICertConfiguration;
  debug?: (message: string) => void;
  /** Each request must be answered completely within this; default 60 s. */
  requestTimeoutMs?: number;
}

type Service = NonNullable<ServiceFailure['service']>;

const PEERS: Record<Service, Peer> = {
  oidc: { name: "the agent's OIDC endpoint", check: 'System.OidcRequestUri and any proxy between the agent and Azure DevOps' },
  entra: { name: 'Microsoft Entra', check: "the connection's environment (authority URL) and any proxy between the agent and Microsoft Entra" },
  graph: { name: 'Microsoft Graph', check: "the connection's environment (Microsoft Graph URL) and any proxy between the agent and Microsoft Graph" },
  arm: ARM_PEER,
};

/** What an access token is for: each has its own token, cached apart. */
type Resource = 'graph' | 'arm' | 'azuredevops';
/** The APIs called with a token (Azure DevOps takes its Entra token through ServiceClient). */
type Api = 'graph' | 'arm';
const RESOURCE_NAMES: Record<Resource, string> = { graph: 'Microsoft Graph', arm: 'Azure Resource Manager', azuredevops: 'Azure DevOps' };
/** Azure DevOps' application id in Microsoft Entra: the resource of its Entra access tokens. */
export const AZURE_DEVOPS_RESOURCE = '499b84ac-1321-427f-aa17-267ca6975798';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** A token is fetched again this long before it expires. */
const RENEW_BEFORE_MS = 5 * 60_000;
/** Pages of federated credentials followed at most (Graph allows 20 per app: one page). */
const MAX_PAGES = 10;
/** Pages of a subscription's managed identities followed at most (ARM pages hold up to 100 or so). */
const MAX_ARM_PAGES = 100;
/** An ID token is asked for again this long before its `exp`, and reused at most this long. */
const ID_TOKEN_MARGIN_MS = 60_000;
const ID_TOKEN_REUSE_MAX_MS = 10 * 60_000;
const MAX_ITEMS = 1000;
/** Longest token accepted (Entra access tokens are a few KB). */
const MAX_TOKEN_CHARS = 32 * 1024;

const str = (v: unknown, max: number): string | undefined => (typeof v === 'string' ? v.slice(0, max) : undefined);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A token as it may go into a header: no whitespace or control characters, bounded. */
const isToken = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_TOKEN_CHARS && /^[\x21-\x7e]+$/.test(v);

function requireGuid(value: string, what: string): string {
  if (typeof value !== 'string' || !GUID.test(value)) throw new RangeError(`${what} must be a GUID, not '${String(value).slice(0, 60)}'.`);
  return value.toLowerCase();
}

function httpsBase(url: string, what: string): URL {
  const u = new URL(url);
  if (u.protocol !== 'https:' || !url.endsWith('/')) throw new RangeError(`${what} must be an https URL ending with '/'.`);
  return u;
}

/** Entra's error: the AADSTS code, and the first line of error_description without its trace, correlation and time stamps. */
export function entraFailure(status: number, body: unknown): { code?: string; message: string } {
  const b = isObj(body) ? body : {};
  const description = str(b.error_description, 4000) ?? '';
  const first = description
    .split(/\r?\n/)[0]
    .split(/\s*(?:Trace ID|Correlation ID|Timestamp):/i)[0]
    .trim()
    .slice(0, 1000);
  const n: unknown = Array.isArray(b.error_codes) ? b.error_codes[0] : undefined;
  const inText = /\bAADSTS(\d{1,9})\b/.exec(description)?.[1];
  const code = typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? `AADSTS${n}` : inText ? `AADSTS${inText}` : undefined;
  const error = str(b.error, 100);
  return { code, message: first || (error ? `HTTP ${status}: ${error}` : `HTTP ${status}: Microsoft Entra refused the token request.`) };
}

/** Graph's error {error: {code, message}}. */
export const graphFailure = (status: number, a: Pick<RawAnswer, 'json' | 'result' | 'html' | 'text'>) => apiFailure(status, a, 'Microsoft Graph');

export class EntraClient implements EntraPort {
  private readonly http: HttpClient;
  private readonly pacer: Pacer;
  private readonly timeoutMs: number;
  private readonly graph: URL;
  private readonly arm: URL;
  /** Every secret known so far (job token, client secret, ID token, access tokens): scrubbed from messages. */
  private readonly secrets = new Set<string>();
  /** Per resource: the sign-in in progress or done (callers share it, a failed one too). */
  private readonly signing = new Map<Resource, Promise<Grant>>();
  /** Per resource: the token of the last sign-in that succeeded. */
  private readonly latestToken = new Map<Resource, string>();
  /** The APIs whose 401 already cost a new sign-in (once in the run each). */
  private readonly renewedAfter401 = new Set<Api>();
  /** The agent's ID token (federation), shared by the exchanges of every resource while it is valid. */
  private idToken?: Promise<{ token: string; reuseUntil: number }>;

  constructor(private readonly o: EntraClientOptions) {
    const s = o.settings;
    this.graph = httpsBase(s.graphUrl, 'The Microsoft Graph URL');
    this.arm = httpsBase(s.armUrl, 'The Azure Resource Manager URL');
    httpsBase(s.authorityUrl, 'The authority URL');
    if (!/^[A-Za-z0-9.-]{1,256}$/.test(s.tenantId)) throw new RangeError('The tenant must be a GUID or a domain name.');
    requireGuid(s.clientId, 'The client id');
    if (s.credential.kind === 'federation') this.remember(s.credential.jobToken);
    else this.remember(s.credential.secret);
    this.pacer = o.pacer ?? new Pacer(Math.max(1, s.concurrency), (limit) => this.debug(`service throttling: at most ${limit} request(s) in flight now`));
    this.timeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // No credential handler: the bearer goes only on the requests that name it, each to its own
    // origin, and no redirect is followed (typed-rest-client would resend the headers there).
    const options: IRequestOptions = { allowRetries: false, allowRedirects: false, socketTimeout: this.timeoutMs };
    if (o.proxy) options.proxy = o.proxy;
    if (o.cert) options.cert = o.cert;
    this.http = new HttpClient('ConvertToWif', [abortOnTimeout], options);
  }

  async signIn(): Promise<void> {
    await this.accessToken('graph');
  }

  /** An Entra token of entraConnection for Azure DevOps (scope 499b84ac-…/.default), for the issuer-migration route; masked. */
  azureDevOpsToken(): Promise<string> {
    return this.accessToken('azuredevops');
  }

  // ---- Azure Resource Manager: user-assigned managed identities ----

  async findManagedIdentity(subscriptionId: string, clientId: string): Promise<ManagedIdentity | null> {
    const sub = requireGuid(subscriptionId, 'The subscription id');
    const client = requireGuid(clientId, 'The client id of the managed identity');
    const path = identitiesPath(sub);
    let url = `${this.o.settings.armUrl}${path}?api-version=${ARM_API_VERSION}`;
    let unreadable = 0;
    for (let page = 1; ; page++) {
      // 404 (SubscriptionNotFound, …) and 403 (AuthorizationFailed) throw with ARM's code: the core decides.
      const r = await this.apiCall('arm', `list the managed identities of subscription ${sub} (page ${page})`, 'GET', url, true, (a) => {
        if (a.status === 404) throw this.failure('arm', 404, armFailure(404, a));
        const value = isObj(a.result) ? a.result.value : undefined;
        if (!Array.isArray(value)) throw garbledError(a.status, 'a JSON answer without a list of managed identities', a.rateLimit, ARM_PEER);
        let found: ManagedIdentity | undefined;
        let skipped = 0;
        for (const v of value) {
          const id = listedClientId(v);
          if (id === undefined) skipped++;
          else if (id === client && !found) {
            found = normalizeIdentity(v);
            if (!found) throw garbledError(a.status, `managed identity ${client} without a usable resource id`, a.rateLimit, ARM_PEER);
          }
        }
        return { found, skipped, next: isObj(a.result) ? a.result.nextLink : undefined, status: a.status };
      });
      if (r.found) return r.found;
      unreadable += r.skipped;
      if (r.next === undefined || r.next === null || r.next === '') {
        // An entry without a client id might be the one asked for: "none" would not be known.
        if (unreadable > 0) throw garbledError(r.status, `${unreadable} managed identities without a client id`, undefined, ARM_PEER);
        return null;
      }
      if (page >= MAX_ARM_PAGES) throw garbledError(r.status, `more than ${MAX_ARM_PAGES} pages of managed identities`, undefined, ARM_PEER);
      url = this.sameOriginLink('arm', r.next, new URL(path, this.arm).pathname);
    }
  }

  async managedIdentityCredentials(resourceId: string): Promise<FederatedCredential[]> {
    const id = requireIdentityId(resourceId);
    const path = credentialsPath(id);
    const out: FederatedCredential[] = [];
    let url = `${this.o.settings.armUrl}${path}?api-version=${ARM_API_VERSION}`;
    for (let page = 1; ; page++) {
      const r = await this.apiCall('arm', `list the federated credentials of managed identity ${id} (page ${page})`, 'GET', url, true, (a) => {
        if (a.status === 404) throw this.failure('arm', 404, armFailure(404, a));
        const value = isObj(a.result) ? a.result.value : undefined;
        if (!Array.isArray(value)) throw garbledError(a.status, 'a JSON answer without a list of federated credentials', a.rateLimit, ARM_PEER);
        const list = value.map((v) => normalizeArmCredential(v));
        if (list.some((f) => !f)) throw garbledError(a.status, 'a federated credential without name, issuer or subject', a.rateLimit, ARM_PEER);
        return { items: list as FederatedCredential[], next: isObj(a.result) ? a.result.nextLink : undefined, status: a.status };
      });
      out.push(...r.items);
      if (r.next === undefined || r.next === null || r.next === '') return out;
      if (page >= MAX_PAGES || out.length >= MAX_ITEMS)
        throw garbledError(r.status, `more than ${MAX_PAGES} pages of federated credentials`, undefined, ARM_PEER);
      url = this.sameOriginLink('arm', r.next, new URL(path, this.arm).pathname);
    }
  }

  async putManagedIdentityCredential(resourceId: string, c: Omit<NewFederatedCredential, 'description'>): Promise<FederatedCredential> {
    const id = requireIdentityId(resourceId);
    const name = requireFicName(c.name);
    const url = `${this.o.settings.armUrl}${credentialsPath(id)}/${encodeURIComponent(name)}?api-version=${ARM_API_VERSION}`;
    const body = { properties: { issuer: c.issuer, subject: c.subject, audiences: [...c.audiences] } };
    // Create-or-update of a named resource with a full body: sending it twice leaves the same
    // credential (the second answer is 200 instead of 201), so a lost answer, a 5xx or a timeout is
    // resent like a read. (Graph's POST, by contrast, creates a new object each time.)
    return this.apiCall(
      'arm',
      `put federated credential '${name}' on managed identity ${id}`,
      'PUT',
      url,
      true,
      (a) => {
        if (a.status === 404) throw this.failure('arm', 404, armFailure(404, a));
        const f = normalizeArmCredential(a.result);
        if (!f) throw garbledError(a.status, 'a JSON answer that is not a federated credential', a.rateLimit, ARM_PEER);
        return f;
      },
      body,
    );
  }

  async findApp(clientId: string, opts: { withSecrets?: boolean } = {}): Promise<EntraApp | null> {
    const id = requireGuid(clientId, 'The client id of the app');
    const select = `id,appId,displayName,signInAudience${opts.withSecrets ? ',passwordCredentials,keyCredentials' : ''}`;
    return this.apiCall(
      'graph',
      `read app ${id} in Microsoft Graph`,
      'GET',
      `v1.0/applications(appId='${encodeURIComponent(id)}')?$select=${select}`,
      true,
      (a) => {
        if (a.status === 404) return null;
        const app = normalizeApp(a.result, opts.withSecrets === true);
        if (!app || app.appId !== id) throw garbledError(a.status, 'a JSON answer that is not this app registration', a.rateLimit, PEERS.graph);
        return app;
      },
    );
  }

  async credentials(appObjectId: string): Promise<FederatedCredential[]> {
    const id = requireGuid(appObjectId, 'The object id of the app');
    const out: FederatedCredential[] = [];
    let url = this.ficUrl(id);
    for (let page = 1; ; page++) {
      const { items, next, status } = await this.apiCall('graph', `list the federated credentials of app ${id} (page ${page})`, 'GET', url, true, (a) => {
        if (a.status === 404) throw this.failure('graph', 404, graphFailure(404, a));
        const value = isObj(a.result) ? a.result.value : undefined;
        if (!Array.isArray(value)) throw garbledError(a.status, 'a JSON answer without a list of federated credentials', a.rateLimit, PEERS.graph);
        const list = value.map((v) => normalizeCredential(v));
        if (list.some((f) => !f)) throw garbledError(a.status, 'a federated credential without id, name, issuer or subject', a.rateLimit, PEERS.graph);
        return { items: list as FederatedCredential[], next: isObj(a.result) ? a.result['@odata.nextLink'] : undefined, status: a.status };
      });
      out.push(...items);
      if (next === undefined || next === null) return out;
      if (page >= MAX_PAGES || out.length >= MAX_ITEMS)
        throw garbledError(status, `more than ${MAX_PAGES} pages of federated credentials`, undefined, PEERS.graph);
      url = this.sameOriginLink('graph', next, new URL(this.ficUrl(id), this.graph).pathname);
    }
  }

  async addCredential(appObjectId: string, c: NewFederatedCredential): Promise<FederatedCredential> {
    const id = requireGuid(appObjectId, 'The object id of the app');
    const body: Record<string, unknown> = { name: c.name, issuer: c.issuer, subject: c.subject, audiences: c.audiences };
    if (c.description !== undefined) body.description = c.description;
    // A write: only a 429 is resent (the core lists the credentials before it adds one again).
    return this.apiCall(
      'graph',
      `add federated credential '${c.name.slice(0, 120)}' to app ${id}`,
      'POST',
      this.ficUrl(id),
      false,
      (a) => {
        if (a.status === 404) throw this.failure('graph', 404, graphFailure(404, a));
        const f = normalizeCredential(a.result);
        if (!f) throw garbledError(a.status, 'a JSON answer that is not a federated credential', a.rateLimit, PEERS.graph);
        return f;
      },
      body,
    );
  }

  async removeCredential(appObjectId: string, credentialId: string): Promise<void> {
    const id = requireGuid(appObjectId, 'The object id of the app');
    const fic = requireGuid(credentialId, 'The id of the federated credential');
    // 204, or 404: already gone. A lost answer is retried like a read: deleting twice is harmless.
    await this.apiCall(
      'graph',
      `remove federated credential ${fic} from app ${id}`,
      'DELETE',
      `${this.ficUrl(id)}/${encodeURIComponent(fic)}`,
      true,
      () => undefined,
    );
  }

  // ---- sign-in ----

  /**
   * The access token for a resource: fetched once (callers share the sign-in, a failed one too),
   * again within 5 minutes of its expiry. Each resource has its own token.
   */
  private async accessToken(resource: Resource): Promise<string> {
    const cached = this.signing.get(resource);
    if (cached) {
      const t = await cached;
      if (this.o.clock.now() < t.expiresAt - RENEW_BEFORE_MS) return t.token;
      if (this.signing.get(resource) === cached) this.signing.delete(resource);
    }
    // A token fresh from Entra is used even if it lives less than the renewal margin.
    let signing = this.signing.get(resource);
    if (!signing) {
      signing = this.acquire(resource);
      this.signing.set(resource, signing);
    }
    return (await signing).token;
  }

  private scope(resource: Resource): string {
    const s = this.o.settings;
    return resource === 'graph' ? `${s.graphUrl}.default` : resource === 'arm' ? `${s.armUrl}.default` : `${AZURE_DEVOPS_RESOURCE}/.default`;
  }

  private async acquire(resource: Resource): Promise<Grant> {
    const s = this.o.settings;
    const what = `get a${resource === 'azuredevops' ? 'n' : ''} ${RESOURCE_NAMES[resource]} token for ${s.clientId} from ${new URL(s.authorityUrl).host}`;
    if (s.credential.kind === 'secret') return this.exchangeFor(resource, what, { client_secret: s.credential.secret });
    const cred = s.credential;
    const assertion = await this.assertion(cred.oidcRequestUri, cred.jobToken);
    try {
      return await this.exchangeFor(resource, what, { client_assertion_type: JWT_BEARER, client_assertion: assertion.token });
    } catch (e) {
      // A reused ID token Entra finds expired (AADSTS700024: the assertion is not within its valid
      // time range, e.g. a clock off): asked for once more, fresh.
      if (!assertion.reused || !(e instanceof ServiceError) || e.code !== 'AADSTS700024') throw e;
      this.debug(`${what}: Microsoft Entra refused the reused ID token as expired; asking the agent for a new one`);
      this.idToken = undefined;
      const fresh = await this.assertion(cred.oidcRequestUri, cred.jobToken);
      return this.exchangeFor(resource, what, { client_assertion_type: JWT_BEARER, client_assertion: fresh.token });
    }
  }

  private exchangeFor(resource: Resource, what: string, credential: Record<string, string>): Promise<Grant> {
    const s = this.o.settings;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: s.clientId, scope: this.scope(resource), ...credential });
    const url = `${s.authorityUrl}${encodeURIComponent(s.tenantId)}/oauth2/v2.0/token`;
    const headers = { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' };
    return this.retry('entra', what, true, async () => {
      const a = await send(this.http, 'POST', url, headers, form.toString(), PEERS.entra);
      if (a.status < 200 || a.status >= 300) {
        throw this.failure('entra', a.status, a.json ? entraFailure(a.status, a.result) : { message: nonJson(a, PEERS.entra) }, a.rateLimit);
      }
      const r = isObj(a.result) ? a.result : {};
      const token = r.access_token;
      const expiresIn = typeof r.expires_in === 'string' ? Number(r.expires_in) : r.expires_in;
      if (!isToken(token) || typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
        throw garbledError(a.status, 'a JSON answer without an access token and its lifetime', a.rateLimit, PEERS.entra);
      }
      if (typeof r.token_type === 'string' && !/^bearer$/i.test(r.token_type))
        throw garbledError(a.status, `a token of type ${r.token_type.slice(0, 40)}`, a.rateLimit, PEERS.entra);
      this.remember(token);
      this.latestToken.set(resource, token);
      const lifetime = Math.min(expiresIn, 24 * 3600);
      this.debug(
        `signed in to Microsoft Entra as ${s.clientId} (tenant ${s.tenantId}); the ${RESOURCE_NAMES[resource]} token is valid for ${Math.round(lifetime)} s`,
      );
      return { token, expiresAt: this.o.clock.now() + lifetime * 1000 };
    });
  }

  /**
   * The agent's ID token for entraConnection, shared by the exchanges of every resource while it is
   * valid: until a minute before its `exp` (at most 10 minutes); one without a readable `exp` is
   * not reused. A failed request is not kept: the next exchange asks again.
   */
  private async assertion(requestUri: string, jobToken: string): Promise<{ token: string; reused: boolean }> {
    const cached = this.idToken;
    if (cached) {
      const t = await cached.catch(() => undefined);
      if (t && this.o.clock.now() < t.reuseUntil) return { token: t.token, reused: true };
      if (this.idToken === cached) this.idToken = undefined;
    }
    if (this.idToken) return { token: (await this.idToken).token, reused: false };
    const asked = this.o.clock.now();
    const p = this.oidcToken(requestUri, jobToken).then((token) => {
      const exp = jwtExpiry(token);
      return { token, reuseUntil: exp === undefined ? 0 : Math.min(exp - ID_TOKEN_MARGIN_MS, asked + ID_TOKEN_REUSE_MAX_MS) };
    });
    this.idToken = p;
    p.catch(() => {
      if (this.idToken === p) this.idToken = undefined;
    });
    return { token: (await p).token, reused: false };
  }

  /** POST {oidcRequestUri}?api-version=7.1&serviceConnectionId={id} with the job token: {"oidcToken": "<JWT>"}. */
  private oidcToken(requestUri: string, jobToken: string): Promise<string> {
    const u = new URL(requestUri);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RangeError('System.OidcRequestUri must be an http(s) URL.');
    const id = this.o.settings.connectionId;
    const url = `${requestUri}${u.search ? '&' : '?'}api-version=7.1&serviceConnectionId=${encodeURIComponent(id)}`;
    // Retried on transient failures like azure-arm-rest does (it tries three more times); issuing an ID token changes nothing.
    return this.retry('oidc', `get an ID token for service connection ${id}`, true, async () => {
      const a = await exchange(this.http, 'POST', url, {}, '7.1', { Authorization: `Bearer ${jobToken}` });
      if (a.status === 404) {
        throw this.failure('oidc', 404, {
          message: `The agent issues no ID token for service connection ${id}: it is not an input of this task, or it does not exist (${serviceMessage(a.result) ?? 'HTTP 404'}).`,
        });
      }
      const token = isObj(a.result) ? a.result.oidcToken : undefined;
      if (!isToken(token)) throw garbledError(a.status, 'a JSON answer without an ID token', a.rateLimit, PEERS.oidc);
      this.remember(token);
      return token;
    });
  }

  // ---- Graph and ARM ----

  private ficUrl(objectId: string): string {
    return `v1.0/applications/${encodeURIComponent(objectId)}/federatedIdentityCredentials`;
  }

  private base(api: Api): URL {
    return api === 'graph' ? this.graph : this.arm;
  }

  /** A next page (@odata.nextLink, nextLink), only on the API's own origin (the token goes with it) and the same list (`path`). */
  private sameOriginLink(api: Api, next: unknown, path: string): string {
    let u: URL | undefined;
    try {
      u = typeof next === 'string' && next.length <= 4000 ? new URL(next) : undefined;
    } catch {
      u = undefined;
    }
    if (!u || u.origin !== this.base(api).origin || u.pathname.toLowerCase() !== path.toLowerCase()) {
      throw new ServiceError({
        service: api,
        message: `${PEERS[api].name} named a next page that is not of the same list (${u ? u.origin.slice(0, 200) : 'an invalid link'}); it was not read, and the token was not sent there.`,
      });
    }
    return u.href;
  }

  /**
   * One Graph or ARM call with that API's token: `path` relative to its base URL, or an absolute
   * URL on its origin. `idempotent` calls are retried on transient failures, the others only on
   * 429. A 401 drops the token and signs in again, once in the run per API. 2xx and 404 answers go
   * to `read`, within the attempt (an answer it finds unusable is retried like any garbled answer);
   * the rest throw.
   */
  private async apiCall<T>(api: Api, what: string, method: Method, path: string, idempotent: boolean, read: (a: RawAnswer) => T, body?: unknown): Promise<T> {
    const base = this.base(api);
    const url = /^https:/i.test(path) ? path : `${api === 'graph' ? this.o.settings.graphUrl : this.o.settings.armUrl}${path}`;
    if (new URL(url).origin !== base.origin) throw new RangeError(`A ${PEERS[api].name} request must stay on its URL.`);
    const peer = PEERS[api];
    for (;;) {
      const token = await this.accessToken(api);
      try {
        return await this.retry(
          api,
          what,
          idempotent,
          async () => {
            const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${token}` };
            if (body !== undefined) headers['Content-Type'] = 'application/json; charset=utf-8';
            const a = await send(this.http, method, url, headers, body === undefined ? undefined : JSON.stringify(body), peer);
            if (a.status === 404 || (a.status >= 200 && a.status < 300 && (a.status === 204 || method === 'DELETE'))) return read(a);
            if (a.status >= 200 && a.status < 300) {
              if (!a.json) throw garbledError(a.status, a.text ? `${Buffer.byteLength(a.text)} bytes that are not JSON` : 'an empty answer', a.rateLimit, peer);
              return read(a);
            }
            throw this.failure(api, a.status, api === 'graph' ? graphFailure(a.status, a) : armFailure(a.status, a), a.rateLimit);
          },
          method === 'GET',
        );
      } catch (e) {
        // One new sign-in per run and API for a token it refuses (revoked, or a clock far off);
        // calls that were refused the same old token meanwhile use the new one.
        if (!(e instanceof ServiceError) || e.status !== 401) throw e;
        if (this.latestToken.get(api) !== token) continue;
        if (this.renewedAfter401.has(api)) throw e;
        this.renewedAfter401.add(api);
        this.debug(`${what}: ${peer.name} refused the token (HTTP 401); signing in again`);
        this.signing.delete(api);
        this.latestToken.delete(api);
      }
    }
  }

  // ---- shared ----

  /** One call under the retry policy, every attempt paced and bounded; failures are tagged with the service and scrubbed of secrets. */
  /** `cancellable`: given up at once when the run is cancelled (reads); a change in flight keeps the grace period. */
  private retry<T>(service: Service, what: string, idempotent: boolean, op: () => Promise<T>, cancellable = idempotent): Promise<T> {
    return withRetry(() => pacedAttempt(op, { pacer: this.pacer, clock: this.o.clock, timeoutMs: this.timeoutMs, signal: this.o.signal, cancellable }), {
      what,
      idempotent,
      clock: this.o.clock,
      signal: this.o.signal,
      toFailure: (raw) => this.scrubbed(tag(toServiceError(raw), service)),
      retryAfterOf: (raw) => {
        const rl = (raw as NodeApiError | undefined)?.rateLimit;
        return rl?.retryAfter ?? rl?.delay;
      },
      debug: (m) => this.debug(m),
    });
  }

  private failure(service: Service, status: number, f: { code?: string; message: string }, rateLimit?: HttpError['rateLimit']): HttpError {
    const e = new HttpError({ status, service, message: f.message }, rateLimit);
    if (f.code) e.code = f.code;
    return e;
  }

  private remember(value: string): void {
    if (!value || this.secrets.has(value)) return;
    this.secrets.add(value);
    this.o.secret(value);
    // As a form or a URL would carry it (an Entra secret has '~', which becomes %7E): masked too.
    for (const form of encodings(value)) if (form !== value) this.o.secret(form);
  }

  /** The text without any secret the client knows (http.ts `scrubSecrets`). */
  private scrub(text: string): string {
    return scrubSecrets(text, this.secrets);
  }

  private scrubbed(e: ServiceError): ServiceError {
    const clean = this.scrub(e.message);
    if (clean !== e.message) e.message = clean;
    return e;
  }

  private debug(message: string): void {
    this.o.debug?.(this.scrub(message));
  }
}

type Grant = { token: string; expiresAt: number };

/** The `exp` of a JWT in ms, or undefined when it has none the task can read (the token is never verified here: Entra does that). */
function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1].length > 16 * 1024) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    const exp = isObj(claims) ? claims.exp : undefined;
    return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function tag(e: ServiceError, service: Service): ServiceError {
  if (e.service === undefined) e.service = service;
  return e;
}

function nonJson(a: RawAnswer, peer: Peer): string {
  return a.html ? `HTTP ${a.status}: ${peer.name} answered with an HTML page instead of JSON` : `HTTP ${a.status}${a.text ? `: ${a.text.slice(0, 300)}` : ''}`;
}

function normalizeApp(v: unknown, withSecrets: boolean): EntraApp | undefined {
  if (!isObj(v) || typeof v.id !== 'string' || !GUID.test(v.id) || typeof v.appId !== 'string' || !GUID.test(v.appId)) return undefined;
  const app: EntraApp = { objectId: v.id.toLowerCase(), appId: v.appId.toLowerCase(), displayName: str(v.displayName, 256) ?? '' };
  const audience = str(v.signInAudience, 100);
  if (audience) app.signInAudience = audience;
  if (withSecrets) {
    const list = (x: unknown, kind: AppSecret['kind']): AppSecret[] => (Array.isArray(x) ? x.slice(0, 200).flatMap((c) => appSecret(c, kind)) : []);
    app.secrets = [...list(v.passwordCredentials, 'secret'), ...list(v.keyCredentials, 'certificate')];
  }
  return app;
}

function appSecret(c: unknown, kind: AppSecret['kind']): AppSecret[] {
  if (!isObj(c)) return [];
  const s: AppSecret = { kind };
  const keyId = str(c.keyId, 64);
  const displayName = str(c.displayName, 256);
  const hint = str(c.hint, 10);
  const end = str(c.endDateTime, 40);
  if (keyId) s.keyId = keyId;
  if (displayName) s.displayName = displayName;
  if (hint && kind === 'secret') s.hint = hint;
  if (end && !Number.isNaN(Date.parse(end))) s.endDateTime = end;
  return [s];
}

function normalizeCredential(v: unknown): FederatedCredential | undefined {
  if (!isObj(v)) return undefined;
  const id = str(v.id, 64);
  const name = str(v.name, 200);
  const issuer = str(v.issuer, 1000);
  const subject = str(v.subject, 1000);
  if (!id || !name || !issuer || !subject) return undefined;
  const audiences = Array.isArray(v.audiences) ? v.audiences.slice(0, 10).flatMap((a) => (typeof a === 'string' ? [a.slice(0, 600)] : [])) : [];
  return { id, name, issuer, subject, audiences };
}
