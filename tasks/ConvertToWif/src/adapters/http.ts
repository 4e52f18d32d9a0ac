// One request to Azure DevOps on azure-devops-node-api's HTTP client, made safe: the status is kept
// (node-api's convenience methods turn a 404 and a non-JSON 2xx both into null), redirects are
// refused and named, an answer cut off or not JSON is a transient failure, a sign-in page is a token
// problem, and every attempt has an overall timeout that really closes its socket.

import { AsyncLocalStorage } from 'async_hooks';
import type * as http from 'http';
import { extractRateLimitHeaders } from 'azure-devops-node-api/RateLimitUtils';
import { IRequestHandler } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import type { HttpClient } from 'typed-rest-client/HttpClient';
import { ServiceError } from '../core/failures';
import type { Clock } from '../core/ports';
import { Pacer, RateLimitSignal } from './pacer';

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** The REST version of the routes called directly (GA; the service-endpoint REST reference, 7.1). */
export const API_VERSION = '7.1';
/** The execution-history route is still in preview (REST reference: Service Endpoint Execution Records, 7.1-preview.1). */
export const HISTORY_API_VERSION = '7.1-preview.1';
/** Longest body read from the service; an answer beyond it is treated as garbled. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** What node-api copies from the X-RateLimit-* and Retry-After headers (azure-devops-node-api api/RateLimitUtils.ts; docs/service-behaviour.md §10). */
export interface RateLimit {
  retryAfter?: number;
  delay?: number;
  remaining?: number;
  limit?: number;
}

export interface NodeApiError extends Error {
  statusCode?: number;
  result?: { message?: string; typeKey?: string } | null;
  responseHeaders?: http.IncomingHttpHeaders;
  rateLimit?: RateLimit;
  code?: string;
}

/** A ServiceError from a direct call, with the throttling headers of its answer for the pacer. */
export class HttpError extends ServiceError {
  rateLimit?: RateLimit;
  constructor(f: ConstructorParameters<typeof ServiceError>[0], rateLimit?: RateLimit) {
    super(f);
    if (rateLimit) this.rateLimit = rateLimit;
  }
}

/** What a direct call answered: the status, the parsed JSON body (null for a 404) and the headers. */
export interface Answer {
  status: number;
  result: unknown;
  headers: http.IncomingHttpHeaders;
  rateLimit?: RateLimit;
}

/**
 * The abort signal of the request attempt in progress. typed-rest-client gives no handle on the
 * request it sends, but it calls every handler's prepareRequest(options) with the options it
 * passes to http.request (HttpClient.ts `_prepareRequest`); Node's http.request honours
 * `options.signal` by destroying the request and its socket. AsyncLocalStorage carries the
 * signal of each attempt to the requests it sends, also through node-api's awaits.
 */
export interface Attempt {
  signal: AbortSignal;
  /** The throttling headers of the last answer of a direct call in this attempt. */
  rateLimit?: RateLimit;
}
export const currentAttempt = new AsyncLocalStorage<Attempt>();
export const abortOnTimeout: IRequestHandler = {
  prepareRequest(options: http.RequestOptions): void {
    const attempt = currentAttempt.getStore();
    if (attempt) options.signal = attempt.signal;
  },
  canHandleAuthentication: () => false,
  handleAuthentication: () => Promise.reject(new Error('not supported')),
};

/** host[:port] of `location` resolved against `base`, length-limited (the value comes from the service). */
function redirectTarget(location: unknown, base?: string): string {
  if (typeof location !== 'string' || !location) return '(no Location given)';
  try {
    const u = base ? new URL(location, base) : new URL(location);
    return `${u.protocol}//${u.host}`.slice(0, 200);
  } catch {
    return '(an invalid Location)';
  }
}

/** Who answers a request, for the messages of its failures. */
export interface Peer {
  name: string;
  /** What to check when something between the agent and the service redirects or garbles answers. */
  check: string;
}
export const AZURE_DEVOPS: Peer = { name: 'Azure DevOps', check: 'System.CollectionUri and any proxy between the agent and Azure DevOps' };

const redirectError = (status: number, to: string, rateLimit?: RateLimit, peer = AZURE_DEVOPS) =>
  new HttpError(
    {
      status,
      redirectTo: to,
      message:
        `HTTP ${status}: the answer redirects to ${to}. The task follows no redirect, so its token never goes to another address, ` +
        `and this request was not handled. Check ${peer.check}.`,
    },
    rateLimit,
  );

/** Reads a whole body, or rejects when the connection closes before its end (a cut answer). */
function readBody(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let done = false;
    const cut = (why: string) => {
      if (done) return;
      done = true;
      reject(Object.assign(new Error(`the answer was cut off after ${bytes} bytes (${why})`), { bytes }));
    };
    res.on('data', (c: Buffer | string) => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      bytes += b.length;
      if (bytes > MAX_BODY_BYTES) {
        res.destroy();
        return cut('too large');
      }
      chunks.push(b);
    });
    res.on('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    res.on('aborted', () => cut('connection closed early'));
    res.on('error', () => cut('connection closed early'));
    res.on('close', () => cut('connection closed early'));
  });
}

const isHtml = (text: string, headers: http.IncomingHttpHeaders) =>
  /text\/html/i.test(String(headers['content-type'] ?? '')) || /^\s*<(!doctype|html|head|body)\b/i.test(text);

export const signalOf = (rl: RateLimit | undefined): RateLimitSignal | undefined =>
  rl ? { delaySeconds: rl.retryAfter ?? rl.delay, remaining: rl.remaining, limit: rl.limit } : undefined;

/** Normalises what node-api / typed-rest-client throw into a ServiceError without secrets. */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  const e = (err ?? {}) as NodeApiError;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  // Redirects are not followed (allowRedirects: false), so typed-rest-client rejects a 3xx.
  if (status !== undefined && status >= 300 && status < 400) return redirectError(status, redirectTarget(e.responseHeaders?.location));
  if (e.name === 'AbortError') return new ServiceError({ message: 'The request was aborted (request timeout).', timedOut: true });
  let message = (e.result && typeof e.result.message === 'string' && e.result.message) || e.message || String(err);
  const html = /<(!doctype|html|head|body)\b/i.test(message);
  if (html) message = `HTTP ${status ?? '?'}: the service answered with an HTML page instead of JSON`;
  // node-api's first call asks for the API's location; when that answer is a sign-in page (203,
  // a rejected token) it fails with this plain Error and no status (docs/service-behaviour.md §11).
  const noLocation = status === undefined && /Failed to find api location/i.test(message);
  if (noLocation) message = 'The service did not answer the API location request with JSON (a sign-in page: the token was probably rejected).';
  if (status === undefined && e.code && !message.includes(e.code)) message = `${e.code}: ${message}`;
  return new ServiceError({
    status,
    message: message.slice(0, 2000),
    typeKey: e.result?.typeKey,
    signInPage: noLocation || (html && (status === 203 || status === 401)),
  });
}

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** What a request answered, read whole and parsed when it is JSON; judging it is the caller's business. */
export interface RawAnswer {
  status: number;
  /** The body text ('' when none). */
  text: string;
  /** Whether `text` parsed as JSON (`result` is then its value). */
  json: boolean;
  result: unknown;
  /** The body is an HTML page. */
  html: boolean;
  headers: http.IncomingHttpHeaders;
  rateLimit?: RateLimit;
}

/**
 * Sends one request on a typed-rest-client HttpClient and reads its whole answer (at most
 * MAX_BODY_BYTES): a redirect is refused and named (the client must be made with
 * allowRedirects: false), an answer cut off is a garbled 2xx or a failed non-2xx, and the
 * throttling headers go to the attempt (for the pacer) and the answer. Any status is returned.
 */
export async function send(
  client: HttpClient,
  method: Method,
  url: string,
  headers: Record<string, string>,
  body?: string,
  peer: Peer = AZURE_DEVOPS,
): Promise<RawAnswer> {
  const h = body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
  const res = await client.request(method, url, body ?? '', h);
  const status = res.message.statusCode ?? 0;
  const rl: { rateLimit?: RateLimit } = {};
  extractRateLimitHeaders(res.message.headers, rl);
  const rateLimit = rl.rateLimit;
  const attempt = currentAttempt.getStore();
  if (attempt) attempt.rateLimit = rateLimit;
  if (status >= 300 && status < 400) {
    res.message.resume();
    throw redirectError(status, redirectTarget(res.message.headers.location, url), rateLimit, peer);
  }
  let text: string;
  try {
    text = await readBody(res.message);
  } catch (err) {
    const what = err instanceof Error ? err.message : 'the answer was cut off';
    if (status >= 200 && status < 300) throw garbledError(status, what, rateLimit, peer);
    throw new HttpError({ status, message: `HTTP ${status}: ${what}.` }, rateLimit);
  }
  let result: unknown = null;
  let json = false;
  if (text.length > 0) {
    try {
      result = JSON.parse(text);
      json = true;
    } catch {
      // not JSON: the caller judges
    }
  }
  return { status, text, json, result, html: isHtml(text, res.message.headers), headers: res.message.headers, rateLimit };
}

/**
 * One request to Azure DevOps on node-api's HTTP client (same auth, proxy and certificates), with
 * the status kept: node-api's convenience methods resolve null both for a 404 and for a 2xx body
 * that is not JSON (typed-rest-client RestClient.ts `processResponse`), which hides a cut answer
 * or a sign-in page. Calling the route directly also skips node-api's location OPTIONS round trip.
 * Throws an HttpError for anything but a usable 2xx JSON answer or a 404.
 */
export async function exchange(
  client: HttpClient,
  method: 'GET' | 'PUT' | 'POST',
  url: string,
  body?: unknown,
  apiVersion = API_VERSION,
  extraHeaders: Record<string, string> = {},
): Promise<Answer> {
  const headers: Record<string, string> = { Accept: `application/json;api-version=${apiVersion}`, ...extraHeaders };
  const a =
    method === 'GET'
      ? await send(client, method, url, headers)
      : await send(client, method, url, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }, JSON.stringify(body));
  const { status, text, json, result, html, rateLimit } = a;
  // 203 Non-Authoritative Information with an HTML page, or any HTML page on a 2xx/401: the
  // sign-in page Azure DevOps serves a rejected credential on some routes.
  if (status === 203 || (html && ((status >= 200 && status < 300) || status === 401))) {
    throw new HttpError(
      { status, signInPage: true, message: `HTTP ${status}: the service answered with an HTML page (a sign-in page) instead of JSON` },
      rateLimit,
    );
  }
  if (status === 404) return { status, result, headers: a.headers, rateLimit };
  if (status >= 400 || status < 200) {
    const r = json ? (result as { message?: unknown; typeKey?: unknown } | null) : null;
    const message =
      serviceMessage(r) ??
      (html ? `HTTP ${status}: the service answered with an HTML page instead of JSON` : `HTTP ${status}${text ? `: ${text.slice(0, 500)}` : ''}`);
    throw new HttpError({ status, message: message.slice(0, 2000), typeKey: typeof r?.typeKey === 'string' ? r.typeKey : undefined }, rateLimit);
  }
  if (!json) throw garbledError(status, text.length === 0 ? 'an empty answer' : `${Buffer.byteLength(text)} bytes that are not JSON`, rateLimit);
  return { status, result, headers: a.headers, rateLimit };
}

/**
 * Runs one attempt within `ms`: past it the attempt rejects as timed out, whatever the service
 * is doing (an idle socket timeout never trips on an answer dribbled byte by byte), and the
 * requests it sent are aborted, which destroys their sockets. A late answer is ignored.
 */
export function bounded<T>(op: () => Promise<T>, ms: number, attempt: Attempt, abort: AbortController, cancelledBy?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onCancel: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new HttpError({
          timedOut: true,
          message: `No complete answer within ${Math.round(ms / 100) / 10} s (request timeout; the pipeline variable ConvertToWif.RequestTimeoutSeconds sets it).`,
        }),
      );
      abort.abort();
    }, ms);
    // A read in flight when the run is cancelled is given up at once; a write keeps the grace period.
    const signal = cancelledBy;
    if (signal) {
      onCancel = () => {
        reject(new ServiceError({ message: 'The run was cancelled while this request was in flight.', cancelled: true }));
        abort.abort();
      };
      if (signal.aborted) onCancel();
      else signal.addEventListener('abort', onCancel, { once: true });
    }
  });
  const running = currentAttempt.run(attempt, op);
  running.catch(() => undefined); // a late failure after the timeout is not a result
  return Promise.race([running, stopped]).finally(() => {
    clearTimeout(timer);
    if (onCancel) cancelledBy?.removeEventListener('abort', onCancel);
  });
}

/** The service's own message in an error body, if it has one. */
export function serviceMessage(body: unknown): string | undefined {
  const m = (body as { message?: unknown } | null)?.message;
  return typeof m === 'string' && m ? m.slice(0, 2000) : undefined;
}

/** A 2xx answer that says nothing usable: transient (a read is retried, a write is looked at before anything is resent). */
export function garbledError(status: number, what: string, rateLimit?: RateLimit, peer = AZURE_DEVOPS): HttpError {
  return new HttpError(
    {
      status,
      garbled: true,
      message: `The answer of ${peer.name} (HTTP ${status}: ${what}) was cut off or not JSON. Run the task again; if it persists, check ${peer.check}.`,
    },
    rateLimit,
  );
}

export interface PacedAttemptOptions {
  pacer: Pacer;
  clock: Clock;
  /** The request timeout of one attempt. */
  timeoutMs: number;
  /** The run's cancellation. */
  signal?: AbortSignal;
  /** Given up at once when the run is cancelled (reads); a change in flight keeps the grace period. */
  cancellable: boolean;
  /** Clock time: no attempt runs past it. */
  deadline?: number;
}

/**
 * One attempt, paced (at most the pacer's limit in flight), bounded by the request timeout (and
 * the deadline); what the service said about throttling goes to the pacer. A request that waited
 * for a free slot is not sent once the run is cancelled.
 */
export async function pacedAttempt<T>(op: () => Promise<T>, o: PacedAttemptOptions): Promise<T> {
  const abort = new AbortController();
  const attempt: Attempt = { signal: abort.signal };
  try {
    const value = await o.pacer.run(() => {
      if (o.signal?.aborted) return Promise.reject(new ServiceError({ message: 'The run was cancelled before this request was sent.', cancelled: true }));
      const left = o.deadline === undefined ? Infinity : o.deadline - o.clock.now();
      if (left <= 0) return Promise.reject(new HttpError({ timedOut: true, message: 'The wait ran out before this request was sent.' }));
      return bounded(op, Math.min(o.timeoutMs, left), attempt, abort, o.cancellable ? o.signal : undefined);
    });
    o.pacer.observe(signalOf(attempt.rateLimit ?? (value as { rateLimit?: RateLimit } | null)?.rateLimit), false);
    return value;
  } catch (raw) {
    o.pacer.observe(signalOf((raw as NodeApiError | undefined)?.rateLimit), toServiceError(raw).status === 429);
    throw raw;
  }
}

/** How a secret looks inside a URL, a form body (application/x-www-form-urlencoded: '~' is %7E) or JSON. */
export function encodings(value: string): string[] {
  const form = new URLSearchParams({ v: value }).toString().slice(2);
  return [...new Set([encodeURIComponent(value), form, form.replace(/\+/g, '%20'), JSON.stringify(value).slice(1, -1)])].filter((f) => f !== value);
}

/**
 * The text without any of the secrets: plain, URL- or form-encoded, JSON-escaped, and a secret cut
 * off at the end of a shortened message (a service's message is bounded before it gets here, and
 * the agent masks only whole secrets).
 */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < 4) continue;
    const forms = [s, ...encodings(s)];
    for (const f of forms) if (out.includes(f)) out = out.split(f).join('***');
    for (const f of forms) {
      for (let k = f.length - 1; k >= 6; k--) {
        if (out.endsWith(f.slice(0, k))) {
          out = `${out.slice(0, out.length - k)}***`;
          break;
        }
      }
    }
  }
  return out;
}

/** The failure with its message scrubbed of the secrets (scrubSecrets). */
export function scrubbedFailure(e: ServiceError, secrets: Iterable<string>): ServiceError {
  const clean = scrubSecrets(e.message, secrets);
  if (clean !== e.message) e.message = clean;
  return e;
}
