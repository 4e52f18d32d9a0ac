// The Microsoft Entra token endpoint's client-credentials grant:
// POST /{tenantId}/oauth2/v2.0/token, application/x-www-form-urlencoded, with a client secret or a
// JWT client assertion (workload identity federation).
// Public sources:
// - learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow (the request:
//   grant_type=client_credentials, client_id, scope "{resource}/.default", client_secret or
//   client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer + client_assertion;
//   the success shape {token_type, expires_in, access_token}; the error shape {error,
//   error_description, error_codes, timestamp, trace_id, correlation_id});
// - learn.microsoft.com/entra/identity-platform/reference-error-codes (each AADSTS code below);
// - learn.microsoft.com/entra/workload-id/workload-identity-federation (an assertion is accepted
//   when its issuer and subject match a federated credential of the app and its audience is
//   api://AzureADTokenExchange).
// The HTTP status and `error` value of each code are what Entra is commonly seen to answer; the
// reference page lists codes and meanings, not statuses.
import * as crypto from 'crypto';
import type { AccessTokenInfo, Directory, Resource } from './directory';
import { FIC_AUDIENCE } from './directory';
import type { HostRequest } from './httpsHost';
import type { Reply } from './types';
import { isObj } from './util';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TOKEN_LIFETIME_S = 3599;
/** Clock skew Entra tolerates on an assertion's exp/nbf (minutes, as commonly documented for JWT validation). */
const SKEW_S = 300;

/** Resources a client-credentials scope may name (normalised: lower case, no trailing slash). */
const KNOWN_RESOURCES: Record<string, Resource> = {
  'https://graph.microsoft.com': 'graph',
  '00000003-0000-0000-c000-000000000000': 'graph',
  'https://management.azure.com': 'arm',
  'https://management.core.windows.net': 'arm',
  '797f4846-ba00-4fd7-ba43-dac1f8f63013': 'arm',
  '499b84ac-1321-427f-aa17-267ca6975798': 'azuredevops',
  'https://app.vssps.visualstudio.com': 'azuredevops',
};

const stamp = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');

/** Entra's error shape (v2-oauth2-client-creds-grant-flow, "Error response"). */
export function aadError(status: number, error: string, code: number, description: string, nowMs = Date.now()): Reply {
  const traceId = crypto.randomUUID();
  const correlationId = crypto.randomUUID();
  const timestamp = stamp(nowMs);
  return {
    status,
    headers: { 'Cache-Control': 'no-store, no-cache', 'x-ms-request-id': traceId },
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

export interface EntraOptions {
  /** Base URLs that also count as the Graph resource (the Graph emulator, which tests name as `microsoftGraphUrl`). */
  graphResources: () => string[];
  /** Base URLs that also count as the ARM resource (the ARM emulator, which tests name as the connection's URL); scope `{armUrl}.default`. */
  armResources?: () => string[];
  /** Public keys of the issuers whose assertions are accepted (the agent's OIDC endpoint), by `iss`-independent key id. */
  assertionKeys: () => Map<string, crypto.KeyObject>;
}

export class EntraTokenService {
  constructor(
    private readonly dir: Directory,
    private readonly options: EntraOptions,
  ) {}

  /** A fault without a body: AADSTS90033 "A transient error has occurred" for 429 and 5xx alike. */
  faultReply(status: number, headers: Record<string, string> | undefined): Reply {
    const r = aadError(status, 'temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.', this.dir.now());
    return { ...r, headers: { ...r.headers, ...headers } };
  }

  handle(req: HostRequest): Reply {
    const now = this.dir.now();
    const err = (status: number, error: string, code: number, description: string) => aadError(status, error, code, description, now);
    const m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/i.exec(req.path);
    if (!m) return { status: 404, body: '' };
    // AADSTS900561: the endpoint only accepts POST requests.
    if (req.method !== 'POST') return err(400, 'invalid_request', 900561, 'The endpoint only accepts POST requests. Received a GET request.');
    if (!/application\/x-www-form-urlencoded/i.test(String(req.headers['content-type'] ?? ''))) {
      // AADSTS900144: a required parameter is missing (nothing was read from a non-form body).
      return err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    }
    const form = new URLSearchParams(req.raw);
    const tenant = this.dir.tenant(m[1]);
    // AADSTS90002 InvalidTenantName.
    if (!tenant) {
      return err(
        400,
        'invalid_request',
        90002,
        `Tenant '${m[1]}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      );
    }
    const grant = form.get('grant_type');
    if (!grant) return err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    // AADSTS70003 UnsupportedGrantType (only client credentials is emulated).
    if (grant !== 'client_credentials') return err(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const clientId = form.get('client_id');
    if (!clientId) return err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    const client = this.dir.client(tenant, clientId);
    // AADSTS700016 UnauthorizedClient_DoesNotMatchRequest.
    if (!client) {
      return err(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const scope = (form.get('scope') ?? '').trim();
    if (!scope) return err(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.");
    // AADSTS1002012: client credentials need exactly one "{resource}/.default" scope.
    if (/\s/.test(scope) || !scope.endsWith('/.default')) {
      return err(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const resourceId = scope.slice(0, -'/.default'.length).replace(/\/+$/, '').toLowerCase();
    const norm = (urls: string[]) => urls.map((u) => u.replace(/\/+$/, '').toLowerCase());
    const graphs = norm(this.options.graphResources());
    const arms = norm(this.options.armResources?.() ?? []);
    const resource: Resource | undefined = graphs.includes(resourceId) ? 'graph' : arms.includes(resourceId) ? 'arm' : KNOWN_RESOURCES[resourceId];
    // AADSTS500011 InvalidResourceServicePrincipalNotFound.
    if (!resource) {
      return err(
        400,
        'invalid_resource',
        500011,
        `The resource principal named ${scope.slice(0, -'.default'.length)} was not found in the tenant named ${tenant.displayName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
    }

    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    const assertionType = form.get('client_assertion_type');
    if (secret !== null) {
      // AADSTS7000215 InvalidClientSecretProvided.
      if (!client.secret || secret !== client.secret) {
        return err(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.appId}'.`,
        );
      }
    } else if (assertion !== null) {
      // AADSTS50027 / AADSTS7000218: the assertion type must be the JWT bearer one.
      if (assertionType !== JWT_BEARER) {
        return err(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
      }
      const failure = this.checkAssertion(assertion, tenant, client, now, err);
      if (failure) return failure;
    } else {
      // AADSTS7000218 InvalidClientCredential: neither a secret nor an assertion.
      return err(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }

    const info: AccessTokenInfo = {
      tenantId: tenant.id,
      clientId: client.appId,
      clientObjectId: client.objectId,
      resource,
      roles: resource === 'graph' ? [...client.permissions] : [],
      expiresAt: now + TOKEN_LIFETIME_S * 1000,
    };
    return {
      status: 200,
      headers: { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' },
      body: { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_S, ext_expires_in: TOKEN_LIFETIME_S, access_token: this.dir.issue(info) },
    };
  }

  private checkAssertion(
    assertion: string,
    tenant: Parameters<Directory['credentialsOf']>[0],
    client: Parameters<Directory['credentialsOf']>[1],
    now: number,
    err: (status: number, error: string, code: number, description: string) => Reply,
  ): Reply | undefined {
    const parts = assertion.split('.');
    const decode = (p: string | undefined): unknown => {
      if (!p || !/^[A-Za-z0-9_-]+$/.test(p)) return undefined;
      try {
        return JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
      } catch {
        return undefined;
      }
    };
    const header = decode(parts[0]);
    const claims = decode(parts[1]);
    // AADSTS50027 InvalidJwtToken: three base64url parts, JSON header and payload, a signature.
    if (parts.length !== 3 || !isObj(header) || !isObj(claims) || !/^[A-Za-z0-9_-]+$/.test(parts[2])) {
      return err(401, 'invalid_client', 50027, 'JWT token is invalid or malformed.');
    }
    const key = typeof header.kid === 'string' ? this.options.assertionKeys().get(header.kid) : undefined;
    const signed = `${parts[0]}.${parts[1]}`;
    // AADSTS700027: the signature must verify against a key of the issuer.
    if (header.alg !== 'RS256' || !key || !crypto.verify('sha256', Buffer.from(signed), key, Buffer.from(parts[2], 'base64url'))) {
      return err(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
    }
    const iss = String(claims.iss ?? '');
    const sub = String(claims.sub ?? '');
    const aud = Array.isArray(claims.aud) ? claims.aud.map(String) : [String(claims.aud ?? '')];
    // AADSTS700212: no federated credential for the assertion's audience.
    if (!aud.includes(FIC_AUDIENCE)) {
      return err(401, 'invalid_client', 700212, `No matching federated identity record found for presented assertion audience '${aud.join(',')}'.`);
    }
    const exp = Number(claims.exp);
    const nbf = claims.nbf === undefined ? undefined : Number(claims.nbf);
    const nowS = Math.floor(now / 1000);
    // AADSTS700024 ClientAssertionNotWithinValidTimeRange.
    if (!Number.isFinite(exp) || nowS > exp + SKEW_S || (nbf !== undefined && nowS + SKEW_S < nbf)) {
      return err(
        400,
        'invalid_client',
        700024,
        `Client assertion is not within its valid time range. Current time: ${new Date(now).toISOString()}, assertion valid from ${nbf === undefined ? 'unknown' : new Date(nbf * 1000).toISOString()}, expiry time of assertion ${Number.isFinite(exp) ? new Date(exp * 1000).toISOString() : 'unknown'}.`,
      );
    }
    const match = this.dir.credentialsOf(tenant, client).find((f) => f.issuer === iss && f.subject === sub && f.audiences.includes(FIC_AUDIENCE));
    // AADSTS70021 NoMatchedAuthorizationGrant: no (propagated) federated credential with that issuer and subject.
    if (!match || !this.dir.usable(match)) {
      return err(
        400,
        'invalid_request',
        70021,
        `No matching federated identity record found for presented assertion. Assertion Issuer: '${iss}'. Assertion Subject: '${sub}'. Assertion Audience: '${aud.join(',')}'.`,
      );
    }
    return undefined;
  }
}
