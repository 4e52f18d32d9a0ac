// The REST adapter: azure-devops-node-api's ServiceEndpointApi with one retry policy, and every
// failure turned into a ServiceError the core understands. It never logs a token.

import { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import { HttpClient } from 'typed-rest-client/HttpClient';
import { IProxyConfiguration, IRequestOptions, ICertConfiguration } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import { ConversionBody, ExecutionRecord, TaskDefinitionInfo, TaskRef } from '../core/model';
import { AzureDevOps, Clock, ProjectInfo } from '../core/ports';
import { withRetry } from './retryPolicy';
import { ServiceError } from '../core/failures';
import { Pacer } from './pacer';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  HISTORY_API_VERSION,
  HttpError,
  NodeApiError,
  abortOnTimeout,
  exchange,
  garbledError,
  pacedAttempt,
  scrubbedFailure,
  send,
  serviceMessage,
  toServiceError,
} from './http';
import { Endpoint } from '../core/model';
import { addFirstById, emptyListing, normalizeEndpoint, normalizeListing, normalizeProject } from '../core/normalize';

export interface ServiceClientOptions {
  collectionUrl: string;
  projectId: string;
  token: string;
  clock: Clock;
  /** Requests in flight at most (the task's concurrency); fewer while the service throttles. */
  maxInFlight: number;
  /** The pacer to share with the other clients of the run (Microsoft Entra and Graph); one of maxInFlight otherwise. */
  pacer?: Pacer;
  /** Aborted when the run is cancelled: no retry starts after that. */
  signal?: AbortSignal;
  proxy?: IProxyConfiguration;
  cert?: ICertConfiguration;
  debug?: (message: string) => void;
  /** Each request must be answered completely within this (headers and body); default 60 s. */
  requestTimeoutMs?: number;
}

/** The issuer-migration route (docs/service-behaviour.md §19): a preview version, seen only in Azure CLI's pull request. */
export const MIGRATION_API_VERSION = '7.2-preview.1';
/** Longest Entra token accepted for a header (Entra access tokens are a few KB). */
const MAX_BEARER_CHARS = 32 * 1024;

// ---- the Core API projects listing (docs/service-behaviour.md §20) ----
// GET {org}/_apis/projects?stateFilter=wellFormed&$top=&$skip= (api-version 7.1), called on its
// route directly: node-api's CoreApi.getProjects returns only the `value` array and drops the
// x-ms-continuationtoken response header (azure-devops-node-api api/CoreApi.ts), so a client of it
// cannot follow the token. The service's answers are bounded here: a page count, a token that must
// not repeat, and entries reduced to {id, name}.

/** $top of each page: the documented default (and largest value) of the listing. */
export const PROJECT_PAGE_SIZE = 100;
/** Pages read at most before the listing is taken for a service that never ends it. */
export const MAX_PROJECT_PAGES = 1000;
/** Longest continuation token sent back (the service's tokens are short opaque strings). */
const MAX_CONTINUATION_TOKEN_CHARS = 1000;
export class ServiceClient implements AzureDevOps {
  private readonly api: ServiceEndpointApi;
  /**
   * The same client options without the job token's credential handler, for the one request that
   * carries an Entra token: typed-rest-client runs every handler's prepareRequest after the
   * request's own headers are set (HttpClient.ts `_prepareRequest`), so on node-api's client the
   * BearerCredentialHandler would replace that Authorization header with the job token.
   */
  private readonly plain: HttpClient;
  private readonly pacer: Pacer;
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly o: ServiceClientOptions,
    /** Another project's client of the same run: its connections, pacer and HTTP clients (forProject). */
    shared?: { api: ServiceEndpointApi; plain: HttpClient; pacer: Pacer },
  ) {
    this.pacer = shared?.pacer ?? o.pacer ?? new Pacer(o.maxInFlight, (limit) => o.debug?.(`service throttling: at most ${limit} request(s) in flight now`));
    this.base = o.collectionUrl.endsWith('/') ? o.collectionUrl : `${o.collectionUrl}/`;
    this.timeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // No redirects: typed-rest-client follows them by default and its handlers add the bearer
    // token to the next request wherever it goes (HttpClient.ts `request`; node-api's bearer
    // handler allows cross-origin authentication by default). The token must never leave the
    // collection URL's origin, and a same-origin redirect is refused too (the REST API does not
    // redirect its own calls, so any 3xx comes from something in between): the simplest safe rule.
    // socketTimeout is an idle timeout only; the overall bound per attempt is in `bounded`.
    // keepAlive: one pool of connections for the whole run, shared by every project's client
    // (forProject). Without it typed-rest-client makes a new agent, and so a new TCP and TLS
    // connection, for every request (HttpClient.ts `_getAgent`).
    const requestOptions: IRequestOptions = { allowRetries: false, allowRedirects: false, socketTimeout: this.timeoutMs, keepAlive: true };
    if (o.proxy) requestOptions.proxy = o.proxy;
    if (o.cert) requestOptions.cert = o.cert;
    // Importing the few clients used, not the package root, keeps the bundle small; that skips
    // WebApi, which reads task-lib's proxy and certificate settings (azure-devops-node-api api/WebApi.ts), so they are passed here (docs/service-behaviour.md §11).
    this.api = shared?.api ?? new ServiceEndpointApi(this.base, [new BearerCredentialHandler(o.token, false), abortOnTimeout], requestOptions);
    this.plain = shared?.plain ?? new HttpClient('ConvertToWif', [abortOnTimeout], requestOptions);
  }

  /**
   * The client of another project of the same organization (an organization-wide run): the same
   * token, connections, pacer and retry policy; only the {project} of the project-level routes differs.
   */
  forProject(projectId: string): ServiceClient {
    return new ServiceClient({ ...this.o, projectId }, { api: this.api, plain: this.plain, pacer: this.pacer });
  }

  /** Every azurerm connection of the project (`allTypes`: of every type), failed ones included; never filtered by actionFilter. */
  async list(opts: { allTypes?: boolean } = {}): Promise<{ endpoints: Endpoint[]; malformed: number }> {
    const value = await this.retry('list connections', true, () => this.listing('', opts.allTypes === true));
    const { endpoints, malformed, duplicates } = normalizeListing(value);
    if (duplicates > 0) this.o.debug?.(`the listing named ${duplicates} connection(s) more than once: each is handled once`);
    return { endpoints, malformed };
  }

  /** Ids (lower-case) of the azurerm connections (`allTypes`: of any type) this identity administers: actionFilter=manage. Used only to preview a dry run. */
  async manageableIds(opts: { allTypes?: boolean } = {}): Promise<Set<string>> {
    const value = await this.retry('list administered connections', true, () => this.listing('&actionFilter=manage', opts.allTypes === true));
    return new Set(value.map((e) => String((e as { id?: unknown } | null)?.id).toLowerCase()));
  }

  /**
   * POST {collection}_apis/public/serviceendpoint/externalfederatedcredentialmigration?api-version=7.2-preview.1
   * with {"serviceConnectionInput": …} and the Entra token as the only Authorization (never the
   * job token: this request goes on a client without its credential handler). 2xx → its status;
   * anything else a ServiceError with the service's message. Only a 429 is waited out and resent:
   * the route is unverified (docs/service-behaviour.md §19) and a change. The Entra token is
   * masked by EntraClient already and scrubbed from every failure here.
   */
  async requestIssuerMigration(serviceConnectionInput: string, entraBearer: string): Promise<{ status: number }> {
    if (typeof entraBearer !== 'string' || !entraBearer || entraBearer.length > MAX_BEARER_CHARS || !/^[\x21-\x7e]+$/.test(entraBearer))
      throw new RangeError('The Entra token for Azure DevOps must be a non-empty token without spaces or control characters.');
    if (typeof serviceConnectionInput !== 'string' || !serviceConnectionInput || serviceConnectionInput.length > 2000)
      throw new RangeError('The service connection input must be a non-empty string of at most 2000 characters.');
    const url = `${this.base}_apis/public/serviceendpoint/externalfederatedcredentialmigration?api-version=${MIGRATION_API_VERSION}`;
    const body = JSON.stringify({ serviceConnectionInput });
    const headers = {
      Accept: `application/json;api-version=${MIGRATION_API_VERSION}`,
      'Content-Type': 'application/json; charset=utf-8',
      Authorization: `Bearer ${entraBearer}`,
    };
    const scrub = (e: ServiceError): ServiceError => scrubbedFailure(e, [entraBearer, this.o.token]);
    return withRetry(
      () =>
        this.attemptOnce(async () => {
          const a = await send(this.plain, 'POST', url, headers, body);
          if (a.status === 203 || (a.html && ((a.status >= 200 && a.status < 300) || a.status === 401))) {
            throw new HttpError(
              { status: a.status, signInPage: true, message: `HTTP ${a.status}: the service answered with an HTML page (a sign-in page) instead of JSON` },
              a.rateLimit,
            );
          }
          if (a.status >= 200 && a.status < 300) return { status: a.status };
          const r = a.json ? (a.result as { typeKey?: unknown } | null) : null;
          const message =
            serviceMessage(r) ??
            (a.html
              ? `HTTP ${a.status}: the service answered with an HTML page instead of JSON`
              : `HTTP ${a.status}${a.text ? `: ${a.text.slice(0, 500)}` : ''}`);
          throw new HttpError(
            { status: a.status, message: message.slice(0, 2000), typeKey: typeof r?.typeKey === 'string' ? r.typeKey : undefined },
            a.rateLimit,
          );
        }, false),
      {
        what: 'ask Azure DevOps to move a connection to the Microsoft Entra issuer',
        idempotent: false,
        clock: this.o.clock,
        signal: this.o.signal,
        toFailure: (raw) => scrub(toServiceError(raw)),
        retryAfterOf: (raw) => {
          const rl = (raw as NodeApiError | undefined)?.rateLimit;
          return rl?.retryAfter ?? rl?.delay;
        },
        debug: this.o.debug,
      },
    );
  }

  /**
   * Every well-formed project the token's identity can see (organization-level; the client's
   * project plays no part). Pages of $top=100 by $skip; when an answer carries x-ms-continuationtoken,
   * the next page is asked with that token instead (the client keeps no state between pages but the
   * token it was just given); once it has sent one, a page without one is the last. Without tokens the listing ends on a page shorter than asked. Each
   * page is one read under the retry policy. A token seen twice, or more than MAX_PROJECT_PAGES
   * pages, is a service that never ends its listing: a garbled failure, not an endless loop.
   */
  async listProjects(): Promise<{ projects: ProjectInfo[]; malformed: number }> {
    const listing = emptyListing<ProjectInfo>();
    const tokens = new Set<string>();
    let skip = 0;
    let token: string | undefined;
    for (let pages = 0; ;) {
      if (pages >= MAX_PROJECT_PAGES) throw this.endlessProjects(`after ${pages} pages`);
      const paging = token === undefined ? `$skip=${skip}` : `continuationToken=${encodeURIComponent(token)}`;
      const url = `${this.base}_apis/projects?stateFilter=wellFormed&$top=${PROJECT_PAGE_SIZE}&${paging}`;
      const page = await this.retry('list projects', true, () => this.projectsPage(url));
      pages++;
      const duplicatesBefore = listing.duplicates;
      addFirstById(page.entries, normalizeProject, listing);
      // A page of projects already listed: a service that ignores $skip would send it forever.
      if (page.entries.length > 0 && listing.duplicates - duplicatesBefore === page.entries.length)
        throw this.endlessProjects(`after ${pages} pages: a page named only projects already listed`);
      // Entries read so far, malformed ones included: where a next page by $skip starts.
      skip += page.entries.length;
      if (page.token !== undefined) {
        if (tokens.has(page.token)) throw this.endlessProjects(`after ${pages} pages: the service sent the same continuation token again`);
        tokens.add(page.token);
      } else if (tokens.size > 0 || page.entries.length < PROJECT_PAGE_SIZE) break; // a service that pages by token sends one while more remain (CORE)
      token = page.token;
    }
    if (listing.duplicates > 0) this.o.debug?.(`the projects listing named ${listing.duplicates} project(s) more than once: each is listed once`);
    return { projects: listing.items, malformed: listing.malformed };
  }

  /** One page of the projects listing: its entries and the continuation token it carries, if any. */
  private async projectsPage(url: string): Promise<{ entries: unknown[]; token?: string }> {
    const a = await exchange(this.api.http, 'GET', url);
    if (a.status === 404)
      throw new HttpError({ status: 404, message: serviceMessage(a.result) ?? 'HTTP 404: the projects listing was not found.' }, a.rateLimit);
    const value = (a.result as { value?: unknown } | null)?.value;
    if (!Array.isArray(value)) throw garbledError(a.status, 'a JSON answer without a list of projects', a.rateLimit);
    const header = a.headers['x-ms-continuationtoken'];
    if (header === undefined || header === '') return { entries: value as unknown[] };
    if (typeof header !== 'string' || header.length > MAX_CONTINUATION_TOKEN_CHARS)
      throw garbledError(a.status, `a continuation token that is not one string of at most ${MAX_CONTINUATION_TOKEN_CHARS} characters`, a.rateLimit);
    return { entries: value as unknown[], token: header };
  }

  private endlessProjects(when: string): HttpError {
    return new HttpError({
      garbled: true,
      message: `The projects listing of Azure DevOps did not end ${when}. Run the task again; if it persists, check System.CollectionUri and any proxy between the agent and Azure DevOps.`,
    });
  }

  /** GET {project}/_apis/serviceendpoint/endpoints?type=azurerm&includeFailed=true (no type= with `allTypes`): the envelope's value. */
  private async listing(extraQuery: string, allTypes = false): Promise<unknown[]> {
    const query = `${allTypes ? '' : 'type=azurerm&'}includeFailed=true${extraQuery}`;
    const a = await exchange(this.api.http, 'GET', this.projectUrl(`_apis/serviceendpoint/endpoints?${query}`));
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
        const a = await exchange(this.api.http, 'GET', this.projectUrl(`_apis/serviceendpoint/endpoints/${encodeURIComponent(id)}`));
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
      const a = await exchange(
        this.api.http,
        'PUT',
        `${this.base}_apis/serviceendpoint/endpoints/${encodeURIComponent(id)}?operation=ConvertAuthenticationScheme`,
        body,
      );
      if (a.status === 404) {
        throw new HttpError({ status: 404, message: serviceMessage(a.result) ?? `HTTP 404: no service connection with identifier ${id}.` }, a.rateLimit);
      }
      const endpoint = normalizeEndpoint(a.result, id);
      if (!endpoint) throw garbledError(a.status, 'a JSON answer that is not a service connection', a.rateLimit);
      return endpoint;
    });
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
      exchange(
        this.api.http,
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
      const res = await this.retry(
        'read who the token belongs to',
        false,
        () => this.api.rest.get<{ authenticatedUser?: { providerDisplayName?: string } }>(`${this.base}_apis/connectionData`),
        undefined,
        true,
      );
      const name = res.result?.authenticatedUser?.providerDisplayName;
      return typeof name === 'string' && name ? name.slice(0, 200) : undefined;
    } catch {
      return undefined;
    }
  }

  /** One call under the retry policy (retryPolicy.ts). `deadline` (clock time): no attempt runs past it and no retry wait ends after it. */
  private retry<T>(what: string, idempotent: boolean, op: () => Promise<T>, deadline?: number, cancellable = idempotent): Promise<T> {
    return withRetry(() => this.attemptOnce(op, cancellable, deadline), {
      what,
      idempotent,
      clock: this.o.clock,
      signal: this.o.signal,
      deadline,
      // A service that echoes the token in an error: gone from the message, whole or cut off at its end.
      toFailure: (raw) => scrubbedFailure(toServiceError(raw), [this.o.token]),
      retryAfterOf: (raw) => {
        const rl = (raw as NodeApiError | undefined)?.rateLimit;
        return rl?.retryAfter ?? rl?.delay;
      },
      debug: this.o.debug,
    });
  }

  /** One attempt (http.ts `pacedAttempt`); `cancellable`: given up at once when the run is cancelled (reads). */
  private attemptOnce<T>(op: () => Promise<T>, cancellable: boolean, deadline?: number): Promise<T> {
    return pacedAttempt(op, { pacer: this.pacer, clock: this.o.clock, timeoutMs: this.timeoutMs, signal: this.o.signal, cancellable, deadline });
  }
}
