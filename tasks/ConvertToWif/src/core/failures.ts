// Turns what the service answered into an action an admin can take (docs/service-behaviour.md §9).

import { homeProject, param } from './endpoint';
import { Endpoint, Message, RunContext, msg } from './model';

/** A failed service call as the REST adapter reports it (never carries a token). */
export interface ServiceFailure {
  /** HTTP status; undefined for network errors. */
  status?: number;
  /** The service's message (or the network error's), verbatim. */
  message: string;
  /** The service's exception type, e.g. AadAccessSilentException. */
  typeKey?: string;
  /** The answer was an HTML sign-in page or not JSON (bad token on some routes, docs/service-behaviour.md §11). */
  signInPage?: boolean;
  /** Not sent: the run was cancelled. */
  cancelled?: boolean;
  /** A 2xx answer whose body was empty, cut off or not JSON: says nothing about the request (transient). */
  garbled?: boolean;
  /** No complete answer within the request timeout (transient: a write may or may not have been applied). */
  timedOut?: boolean;
  /** The answer was a redirect to this host[:port] (not followed: the token never leaves the organization's origin). */
  redirectTo?: string;
  /** Which service answered, when not Azure DevOps: the agent's OIDC endpoint, the Entra token endpoint, Graph or ARM. */
  service?: 'oidc' | 'entra' | 'graph' | 'arm';
  /** The service's error code: "AADSTS700016" from Entra, "Authorization_RequestDenied" from Graph, … */
  code?: string;
}

export class ServiceError extends Error implements ServiceFailure {
  status?: number;
  typeKey?: string;
  signInPage?: boolean;
  cancelled?: boolean;
  garbled?: boolean;
  timedOut?: boolean;
  redirectTo?: string;
  service?: ServiceFailure['service'];
  code?: string;
  constructor(f: ServiceFailure) {
    super(f.message);
    this.name = 'ServiceError';
    this.status = f.status;
    this.typeKey = f.typeKey;
    this.signInPage = f.signInPage;
    this.cancelled = f.cancelled;
    if (f.garbled) this.garbled = true;
    if (f.timedOut) this.timedOut = true;
    if (f.redirectTo !== undefined) this.redirectTo = f.redirectTo;
    if (f.service !== undefined) this.service = f.service;
    if (f.code !== undefined) this.code = f.code;
  }
}

export const isTokenProblem = (f: ServiceFailure): boolean => f.status === 401 || f.signInPage === true;
/**
 * Refusals the service words the same whatever status it sends them with (their status codes are not
 * documented, docs/service-behaviour.md §9, §17): never retried, always explained by their words.
 */
const REFUSALS = [
  /could not be configured automatically|no valid configuration exists/i,
  /neither an upgrade or a downgrade/i,
  /Properties cannot be changed/i,
  /no recovery data/i,
  /Operation '.*' is invalid|Allowed operation values/i,
];
export const isKnownRefusal = (f: Pick<ServiceFailure, 'message'>): boolean => REFUSALS.some((re) => re.test(f.message));

export const isTransient = (f: ServiceFailure): boolean =>
  !f.signInPage &&
  !f.cancelled &&
  f.redirectTo === undefined &&
  (f.garbled === true ||
    f.timedOut === true ||
    f.status === undefined ||
    f.status === 429 ||
    (f.status >= 500 && !isAadSilentFailure(f) && !isKnownRefusal(f)));

/** The service's 400 for a change to the scheme the connection already has (e.g. converted by someone else meanwhile). */
export const isAlreadyOnScheme = (f: ServiceFailure): boolean => f.status === 400 && /neither an upgrade or a downgrade/i.test(f.message);

/** Azure DevOps could not get a Microsoft Entra token for the caller (docs/service-behaviour.md §8, §17 question 1). */
export function isAadSilentFailure(f: Pick<ServiceFailure, 'message' | 'typeKey'>): boolean {
  return /AadAccessSilentException/i.test(f.typeKey ?? '') || /AAD returned silent failure|AadAccessSilentException/i.test(f.message);
}

/**
 * The one normaliser of what a call threw: a ServiceError as the adapters throw it, or anything
 * else (a bug, an unexpected rejection) as a failure with its message and no status.
 */
export function asFailure(err: unknown): ServiceFailure {
  if (err instanceof ServiceError) return err;
  return { message: err instanceof Error ? err.message : String(err) };
}

/** "HTTP 403: denied", or the message of a failure without a status. */
export function describeFailure(err: unknown): string {
  const f = asFailure(err);
  return f.status && !f.message.startsWith(`HTTP ${f.status}`) ? `HTTP ${f.status}: ${f.message}` : f.message;
}

const has = (f: ServiceFailure, re: RegExp) => re.test(f.message);

/** The instruction for a failure to convert `e`. */
export function explainFailure(f: ServiceFailure, e: Endpoint, ctx: RunContext): Message {
  const identity = ctx.identity ?? `${ctx.project.name} Build Service`;
  const appId = param(e, 'serviceprincipalid') ?? '?';
  const tenant = param(e, 'tenantid') ?? '?';
  if (f.redirectTo !== undefined) return msg('FailRedirected', f.redirectTo, originOf(ctx.organization));
  if (isTokenProblem(f)) return msg('FailToken');
  if (f.timedOut) return msg('FailTimeout');
  if (f.garbled) return msg('FailGarbled');
  if (isAadSilentFailure(f)) return msg('FailAadSilent', identity, appId, tenant);
  if (f.status === 403) return msg('FailNotAdministrator', identity, e.name, ctx.project.name);
  if (f.status === 404) return msg('FailNotFound');
  if (f.status === 429) return msg('FailThrottled');
  if (f.status === undefined) return msg('FailNetwork');
  // The service's words first: the same refusal may come with a 400 or a 5xx.
  if (has(f, /could not be configured automatically|no valid configuration exists/i)) return msg('FailManualNoCredential', appId, tenant);
  if (has(f, /neither an upgrade or a downgrade/i)) return msg('FailNotConvertible');
  if (has(f, /Properties cannot be changed/i)) return msg('FailPropertiesChanged');
  if (has(f, /no recovery data/i)) return msg('FailNoRecoveryData');
  if (has(f, /Operation '.*' is invalid|Allowed operation values/i)) return msg('FailConversionDisabled');
  if (f.status >= 500) return msg('FailServer', f.status);
  if (has(f, /another operation is already in progress/i)) return msg('FailBusy');
  if (has(f, /Azure Stack/i)) return msg('SkipAzureStack');
  if (has(f, /home project|only be (converted|upgraded) from/i)) return msg('SkipHomedElsewhere', homeProject(e)?.name ?? '?');
  return msg('FailRejected', f.status);
}

/** The instruction for a conversion the service accepted but then marked Failed in the background. */
export function explainBackgroundFailure(statusMessage: string, e: Endpoint, ctx: RunContext): Message {
  const m = explainFailure({ status: 400, message: statusMessage }, e, ctx);
  return m.key === 'FailRejected' ? msg('FailBackground') : m;
}

/** scheme://host[:port] of a URL, or the text itself when it is not one. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
