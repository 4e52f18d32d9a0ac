// The REST adapter: azure-devops-node-api's ServiceEndpointApi with one retry policy, and every
// failure turned into a ServiceError the core understands. It never logs a token.

import { AsyncLocalStorage } from 'async_hooks';
import type * as http from 'http';
import { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import { extractRateLimitHeaders } from 'azure-devops-node-api/RateLimitUtils';
import { IProxyConfiguration, IRequestHandler, IRequestOptions, ICertConfiguration } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import { ConversionBody, ExecutionRecord, TaskDefinitionInfo, TaskRef } from '../core/model';
import { AzureDevOps, Clock } from '../core/ports';
import { withRetry } from './retryPolicy';
import { ServiceError } from '../core/failures';
import { Pacer, RateLimitSignal } from './pacer';
import { Endpoint } from '../core/model';
import { normalizeEndpoint, normalizeListing } from '../core/normalize';

export interface ServiceClientOptions {
  collectionUrl: string;
  projectId: string;
  token: string;
  clock: Clock;
  /** Requests in flight at most (the task's concurrency); fewer while the service throttles. */
  maxInFlight: number;
  /** Aborted when the run is cancelled: no retry starts after that. */
  signal?: AbortSignal;
  proxy?: IProxyConfiguration;
  cert?: ICertConfiguration;
  debug?: (message: string) => void;
  /** Each request must be answered completely within this (headers and body); default 60 s. */
  requestTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** The REST version of the routes called directly (GA; the service-endpoint REST reference, 7.1). */
const API_VERSION = '7.1';
/** The execution-history route is still in preview (REST reference: Service Endpoint Execution Records, 7.1-preview.1). */
const HISTORY_API_VERSION = '7.1-preview.1';
/** Longest body read from the service; an answer beyond it is treated as garbled. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** What node-api copies from the X-RateLimit-* and Retry-After headers (azure-devops-node-api api/RateLimitUtils.ts; docs/service-behaviour.md §10). */
interface RateLimit {
  retryAfter?: number;
  delay?: number;
  remaining?: number;
  limit?: number;
}

interface NodeApiError extends Error {
  statusCode?: number;
  result?: { message?: string; typeKey?: string } | null;
  responseHeaders?: http.IncomingHttpHeaders;
  rateLimit?: RateLimit;
  code?: string;
}

/** A ServiceError from a direct call, with the throttling headers of its answer for the pacer. */
class HttpError extends ServiceError {
  rateLimit?: RateLimit;
  constructor(f: ConstructorParameters<typeof ServiceError>[0], rateLimit?: RateLimit) {
    super(f);
    if (rateLimit) this.rateLimit = rateLimit;
  }
}

/** What a direct call answered: the status, the parsed JSON body (null for a 404) and the headers. */
interface Answer {
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
interface Attempt {
  signal: AbortSignal;
  /** The throttling headers of the last answer of a direct call in this attempt. */
  rateLimit?: RateLimit;
}
const currentAttempt = new AsyncLocalStorage<Attempt>();
const abortOnTimeout: IRequestHandler = {
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

const redirectError = (status: number, to: string, rateLimit?: RateLimit) =>
  new HttpError(
    {
      status,
      redirectTo: to,
      message:
        `HTTP ${status}: the answer redirects to ${to}. The task follows no redirect, so its token never goes to another address, ` +
        'and this request was not handled. Check System.CollectionUri and any proxy between the agent and Azure DevOps.',
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

const signalOf = (rl: RateLimit | undefined): RateLimitSignal | undefined =>
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

export class ServiceClient implements AzureDevOps {
  private readonly api: ServiceEndpointApi;
  private readonly pacer: Pacer;
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly o: ServiceClientOptions) {
    this.pacer = new Pacer(o.maxInFlight, (limit) => o.debug?.(`service throttling: at most ${limit} request(s) in flight now`));
    this.base = o.collectionUrl.endsWith('/') ? o.collectionUrl : `${o.collectionUrl}/`;
    this.timeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // No redirects: typed-rest-client follows them by default and its handlers add the bearer
    // token to the next request wherever it goes (HttpClient.ts `request`; node-api's bearer
    // handler allows cross-origin authentication by default). The token must never leave the
    // collection URL's origin, and a same-origin redirect is refused too (the REST API does not
    // redirect its own calls, so any 3xx comes from something in between): the simplest safe rule.
    // socketTimeout is an idle timeout only; the overall bound per attempt is in `bounded`.
    const requestOptions: IRequestOptions = { allowRetries: false, allowRedirects: false, socketTimeout: this.timeoutMs };
    if (o.proxy) requestOptions.proxy = o.proxy;
    if (o.cert) requestOptions.cert = o.cert;
    // Importing the few clients used, not the package root, keeps the bundle small; that skips
    // WebApi, which reads task-lib's proxy and certificate settings (azure-devops-node-api api/WebApi.ts), so they are passed here (docs/service-behaviour.md §11).
    this.api = new ServiceEndpointApi(this.base, [new BearerCredentialHandler(o.token, false), abortOnTimeout], requestOptions);
  }

  /** Every azurerm connection of the project, failed ones included; never filtered by actionFilter. */
  async list(): Promise<{ endpoints: Endpoint[]; malformed: number }> {
    const value = await this.retry('list connections', true, () => this.listing(''));
    const { endpoints, malformed, duplicates } = normalizeListing(value);
    if (duplicates > 0) this.o.debug?.(`the listing named ${duplicates} connection(s) more than once: each is handled once`);
    return { endpoints, malformed };
  }

  /** Ids (lower-case) of the azurerm connections this identity administers: actionFilter=manage. Used only to preview a dry run. */
  async manageableIds(): Promise<Set<string>> {
    const value = await this.retry('list administered connections', true, () => this.listing('&actionFilter=manage'));
    return new Set(value.map((e) => String((e as { id?: unknown } | null)?.id).toLowerCase()));
  }

  /** GET {project}/_apis/serviceendpoint/endpoints?type=azurerm&includeFailed=true: the envelope's value. */
  private async listing(extraQuery: string): Promise<unknown[]> {
    const a = await this.exchange('GET', this.projectUrl(`_apis/serviceendpoint/endpoints?type=azurerm&includeFailed=true${extraQuery}`));
    if (a.status === 404) throw new HttpError({ status: 404, message: serviceMessage(a.result) ?? 'HTTP 404: the project was not found.' }, a.rateLimit);
    const value: unknown = Array.isArray(a.result) ? a.result : (a.result as { value?: unknown } | null)?.value;
    if (!Array.isArray(value)) throw garbledError(a.status, 'a JSON answer without a list of connections', a.rateLimit);
    return value as unknown[];
  }

  get(id: string, opts: { deadline?: number } = {}): Promise<Endpoint | null> {
    return this.retry(
      `read connection ${id}`,
      true,
      async () => {
        const a = await this.exchange('GET', this.projectUrl(`_apis/serviceendpoint/endpoints/${encodeURIComponent(id)}`));
        if (a.status === 404) return null;
        const endpoint = normalizeEndpoint(a.result, id);
        if (!endpoint) throw garbledError(a.status, 'a JSON answer that is not a service connection', a.rateLimit);
        return endpoint;
      },
      opts.deadline,
    );
  }

  convert(id: string, body: ConversionBody): Promise<Endpoint> {
    // Only 429 is retried here: a PUT that failed otherwise may have been applied, and the core
    // looks at the connection before it sends again (a garbled 2xx or a timeout included).
    return this.retry(`convert connection ${id}`, false, async () => {
      const a = await this.exchange('PUT', `${this.base}_apis/serviceendpoint/endpoints/${encodeURIComponent(id)}?operation=ConvertAuthenticationScheme`, body);
      if (a.status === 404) {
        throw new HttpError({ status: 404, message: serviceMessage(a.result) ?? `HTTP 404: no service connection with identifier ${id}.` }, a.rateLimit);
      }
      const endpoint = normalizeEndpoint(a.result, id);
      if (!endpoint) throw garbledError(a.status, 'a JSON answer that is not a service connection', a.rateLimit);
      return endpoint;
    });
  }

  /**
   * One request on node-api's HTTP client (same auth, proxy and certificates), with the status
   * kept: node-api's convenience methods resolve null both for a 404 and for a 2xx body that is
   * not JSON (typed-rest-client RestClient.ts `processResponse`), which hides a cut answer or a
   * sign-in page. Calling the route directly also skips node-api's location OPTIONS round trip.
   * Throws an HttpError for anything but a usable 2xx JSON answer or a 404.
   */
  private async exchange(method: 'GET' | 'PUT', url: string, body?: unknown, apiVersion = API_VERSION): Promise<Answer> {
    const headers: Record<string, string> = { Accept: `application/json;api-version=${apiVersion}` };
    const res =
      method === 'PUT'
        ? await this.api.http.put(url, JSON.stringify(body), { ...headers, 'Content-Type': 'application/json; charset=utf-8' })
        : await this.api.http.get(url, headers);
    const status = res.message.statusCode ?? 0;
    const rl: { rateLimit?: RateLimit } = {};
    extractRateLimitHeaders(res.message.headers, rl);
    const rateLimit = rl.rateLimit;
    const attempt = currentAttempt.getStore();
    if (attempt) attempt.rateLimit = rateLimit;
    if (status >= 300 && status < 400) {
      res.message.resume();
      throw redirectError(status, redirectTarget(res.message.headers.location, url), rateLimit);
    }
    let text: string;
    try {
      text = await readBody(res.message);
    } catch (err) {
      const what = err instanceof Error ? err.message : 'the answer was cut off';
      if (status >= 200 && status < 300) throw garbledError(status, what, rateLimit);
      throw new HttpError({ status, message: `HTTP ${status}: ${what}.` }, rateLimit);
    }
    const html = isHtml(text, res.message.headers);
    // 203 Non-Authoritative Information with an HTML page, or any HTML page on a 2xx/401: the
    // sign-in page Azure DevOps serves a rejected credential on some routes.
    if (status === 203 || (html && ((status >= 200 && status < 300) || status === 401))) {
      throw new HttpError(
        { status, signInPage: true, message: `HTTP ${status}: the service answered with an HTML page (a sign-in page) instead of JSON` },
        rateLimit,
      );
    }
    let result: unknown = null;
    let json = false;
    if (text.length > 0) {
      try {
        result = JSON.parse(text);
        json = true;
      } catch {
        // not JSON: judged below
      }
    }
    if (status === 404) return { status, result, headers: res.message.headers, rateLimit };
    if (status >= 400 || status < 200) {
      const r = json ? (result as { message?: unknown; typeKey?: unknown } | null) : null;
      const message =
        serviceMessage(r) ??
        (html ? `HTTP ${status}: the service answered with an HTML page instead of JSON` : `HTTP ${status}${text ? `: ${text.slice(0, 500)}` : ''}`);
      throw new HttpError({ status, message: message.slice(0, 2000), typeKey: typeof r?.typeKey === 'string' ? r.typeKey : undefined }, rateLimit);
    }
    if (!json) throw garbledError(status, text.length === 0 ? 'an empty answer' : `${Buffer.byteLength(text)} bytes that are not JSON`, rateLimit);
    return { status, result, headers: res.message.headers, rateLimit };
  }

  // ---- impact check (ImpactPort) ----

  /**
   * GET {project}/_apis/serviceendpoint/{id}/executionhistory, one page of 100 (docs/service-behaviour.md §12),
   * called on its route directly: node-api's method builds the URL from the service's location answer
   * (OPTIONS), which a hostile answer can point at another host (VsoClient resolves `../\\host` there).
   * Records the task cannot read are counted, never silently taken for "no use".
   */
  async executionHistory(
    endpointId: string,
    continuationToken?: string,
  ): Promise<{ records: ExecutionRecord[]; continuationToken?: string; unusable?: number }> {
    const query = `top=100${continuationToken ? `&continuationToken=${encodeURIComponent(continuationToken)}` : ''}`;
    const a = await this.retry(`read the execution history of ${endpointId}`, true, () =>
      this.exchange(
        'GET',
        this.projectUrl(`_apis/serviceendpoint/${encodeURIComponent(endpointId)}/executionhistory?${query}`),
        undefined,
        HISTORY_API_VERSION,
      ),
    );
    if (a.status === 404)
      throw new HttpError({ status: 404, message: serviceMessage(a.result) ?? 'HTTP 404: no execution history for this connection.' }, a.rateLimit);
    const page: unknown = Array.isArray(a.result) ? a.result : (a.result as { value?: unknown } | null)?.value;
    if (!Array.isArray(page)) throw garbledError(a.status, 'a JSON answer without a list of execution records', a.rateLimit);
    let unusable = 0;
    const records = page.flatMap((r): ExecutionRecord[] => {
      const d = (r as { data?: Record<string, unknown> } | null)?.data;
      const definition = d?.['definition'] as { id?: unknown; name?: unknown } | undefined;
      const owner = d?.['owner'] as { id?: unknown } | undefined;
      const definitionId = Number(definition?.id);
      const runId = Number(owner?.id);
      if (!Number.isSafeInteger(definitionId) || !Number.isSafeInteger(runId) || definitionId <= 0 || runId <= 0) {
        unusable++;
        return [];
      }
      const start = d?.['startTime'];
      return [
        {
          planType: typeof d?.['planType'] === 'string' ? d['planType'] : 'Build',
          definitionId,
          definitionName: typeof definition?.name === 'string' ? definition.name : String(definitionId),
          runId,
          startTime: typeof start === 'string' && !Number.isNaN(Date.parse(start)) ? start : undefined,
        },
      ];
    });
    const next = a.headers['x-ms-continuationtoken'];
    const token = typeof next === 'string' && next ? next.slice(0, 1000) : undefined;
    return unusable > 0 ? { records, continuationToken: token, unusable } : { records, continuationToken: token };
  }

  // Timeline, preview and task catalogue are read with plain REST calls on node-api's client
  // (same auth, proxy and retry): BuildApi, PipelinesApi and TaskAgentApi would add ~500 KB to
  // the bundle for one call each.

  /** GET {project}/_apis/build/builds/{id}/timeline: the Task records are what ran. */
  async buildTasks(buildId: number): Promise<TaskRef[]> {
    type Timeline = { records?: Array<{ task?: { id?: string; name?: string; version?: string } | null }> };
    const res = await this.retry(`read the timeline of build ${buildId}`, true, () =>
      this.api.rest.get<Timeline>(this.projectUrl(`_apis/build/builds/${buildId}/timeline`), { acceptHeader: 'application/json;api-version=7.1' }),
    );
    if (!res.result) throw new ServiceError({ status: 404, message: `Build ${buildId} has no timeline (deleted, or no longer retained).` });
    return (res.result.records ?? [])
      .filter((r) => r?.task?.id && r.task.name)
      .map((r) => ({ id: r.task!.id!, name: r.task!.name!, version: r.task!.version ?? '0' }));
  }

  /** POST {project}/_apis/pipelines/{id}/preview with previewRun: the pipeline's expanded YAML. */
  async pipelineYaml(pipelineId: number): Promise<string> {
    const res = await this.retry(`preview pipeline ${pipelineId}`, true, () =>
      this.api.rest.create<{ finalYaml?: string }>(
        this.projectUrl(`_apis/pipelines/${pipelineId}/preview`),
        { previewRun: true },
        { acceptHeader: 'application/json;api-version=7.1-preview.1' },
      ),
    );
    if (typeof res.result?.finalYaml !== 'string') throw new ServiceError({ status: 404, message: `Pipeline ${pipelineId} has no YAML to preview.` });
    return res.result.finalYaml;
  }

  /** GET _apis/distributedtask/tasks: who published each task. */
  async taskDefinitions(): Promise<TaskDefinitionInfo[]> {
    const res = await this.retry('read the task catalogue', true, () =>
      this.api.rest.get<{ value?: Array<{ id?: string; name?: string; author?: string }> }>(`${this.base}_apis/distributedtask/tasks`, {
        acceptHeader: 'application/json;api-version=7.1-preview.1',
      }),
    );
    // null: a 404 or an answer that is not JSON. An empty catalogue would make every task look
    // unknown rather than unread, so it is a failure the impact check reports as "not checked".
    if (!Array.isArray(res.result?.value)) throw new ServiceError({ status: res.statusCode, message: 'The task catalogue came back empty or not as JSON.' });
    return res.result.value.filter((d) => d.id && d.name).map((d) => ({ id: d.id!, name: d.name!, author: d.author }));
  }

  private projectUrl(route: string): string {
    return `${this.base}${encodeURIComponent(this.o.projectId)}/${route}`;
  }

  /** The display name of the identity behind the token, to name it in permission instructions. */
  async whoAmI(): Promise<string | undefined> {
    try {
      // Bounded by the request timeout like every call, and tried once (only a 429 is waited out): the
      // name only improves a message, and a stalled answer must not hold the run.
      const res = await this.retry('read who the token belongs to', false, () =>
        this.api.rest.get<{ authenticatedUser?: { providerDisplayName?: string } }>(`${this.base}_apis/connectionData`),
      );
      const name = res.result?.authenticatedUser?.providerDisplayName;
      return typeof name === 'string' && name ? name.slice(0, 200) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Runs one attempt within `ms`: past it the attempt rejects as timed out, whatever the service
   * is doing (an idle socket timeout never trips on an answer dribbled byte by byte), and the
   * requests it sent are aborted, which destroys their sockets. A late answer is ignored.
   */
  private bounded<T>(op: () => Promise<T>, ms: number, attempt: Attempt, abort: AbortController, cancellable: boolean): Promise<T> {
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
      const signal = this.o.signal;
      if (cancellable && signal) {
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
      if (onCancel) this.o.signal?.removeEventListener('abort', onCancel);
    });
  }

  /** One call under the retry policy (retryPolicy.ts). `deadline` (clock time): no attempt runs past it and no retry wait ends after it. */
  private retry<T>(what: string, idempotent: boolean, op: () => Promise<T>, deadline?: number): Promise<T> {
    return withRetry(() => this.attemptOnce(op, idempotent, deadline), {
      what,
      idempotent,
      clock: this.o.clock,
      signal: this.o.signal,
      deadline,
      toFailure: toServiceError,
      retryAfterOf: (raw) => {
        const rl = (raw as NodeApiError | undefined)?.rateLimit;
        return rl?.retryAfter ?? rl?.delay;
      },
      debug: this.o.debug,
    });
  }

  /** One attempt, paced, bounded by the request timeout (and the deadline); what the service said about throttling goes to the pacer. */
  private async attemptOnce<T>(op: () => Promise<T>, idempotent: boolean, deadline?: number): Promise<T> {
    const abort = new AbortController();
    const attempt: Attempt = { signal: abort.signal };
    try {
      const value = await this.pacer.run(() => {
        const left = deadline === undefined ? Infinity : deadline - this.o.clock.now();
        if (left <= 0) return Promise.reject(new HttpError({ timedOut: true, message: 'The wait ran out before this request was sent.' }));
        return this.bounded(op, Math.min(this.timeoutMs, left), attempt, abort, idempotent);
      });
      this.pacer.observe(signalOf(attempt.rateLimit ?? (value as { rateLimit?: RateLimit } | null)?.rateLimit), false);
      return value;
    } catch (raw) {
      this.pacer.observe(signalOf((raw as NodeApiError | undefined)?.rateLimit), toServiceError(raw).status === 429);
      throw raw;
    }
  }
}

/** The service's own message in an error body, if it has one. */
function serviceMessage(body: unknown): string | undefined {
  const m = (body as { message?: unknown } | null)?.message;
  return typeof m === 'string' && m ? m.slice(0, 2000) : undefined;
}

/** A 2xx answer that says nothing usable: transient (a read is retried, a write is looked at before anything is resent). */
function garbledError(status: number, what: string, rateLimit?: RateLimit): HttpError {
  return new HttpError(
    {
      status,
      garbled: true,
      message: `The answer of Azure DevOps (HTTP ${status}: ${what}) was cut off or not JSON. Run the task again; if it persists, check any proxy between the agent and Azure DevOps.`,
    },
    rateLimit,
  );
}
