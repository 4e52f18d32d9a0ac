// The REST adapter: azure-devops-node-api's ServiceEndpointApi with one retry policy, and every
// failure turned into a ServiceError the core understands. It never logs a token.

import { ServiceEndpointApi } from 'azure-devops-node-api/ServiceEndpointApi';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import { ServiceEndpointActionFilter } from 'azure-devops-node-api/interfaces/ServiceEndpointInterfaces';
import { IProxyConfiguration, IRequestOptions, ICertConfiguration } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import { Clock, ConversionBody, EndpointPort } from '../core/conversion';
import { ServiceError, isTransient } from '../core/failures';
import { ExecutionRecord, ImpactPort, TaskDefinitionInfo, TaskRef } from '../core/impact';
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
}

const MAX_429_TRIES = 6;
const MAX_TRANSIENT_RETRIES = 3;
/** One wait never exceeds this, whatever Retry-After says (the service delays up to ~30 s, reference §9). */
const MAX_SINGLE_WAIT_MS = 30_000;
/** All the waiting for one call: past this budget the call fails (and says why) rather than stall the run. */
const MAX_TOTAL_WAIT_MS = 90_000;

/** What node-api copies from the X-RateLimit-* and Retry-After headers (reference §9, conventions §5). */
interface RateLimit {
  retryAfter?: number;
  delay?: number;
  remaining?: number;
  limit?: number;
}

interface NodeApiError extends Error {
  statusCode?: number;
  result?: { message?: string; typeKey?: string } | null;
  rateLimit?: RateLimit;
  code?: string;
}

const signalOf = (rl: RateLimit | undefined): RateLimitSignal | undefined =>
  rl ? { delaySeconds: rl.retryAfter ?? rl.delay, remaining: rl.remaining, limit: rl.limit } : undefined;

/** Normalises what node-api / typed-rest-client throw into a ServiceError without secrets. */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  const e = (err ?? {}) as NodeApiError;
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  let message = (e.result && typeof e.result.message === 'string' && e.result.message) || e.message || String(err);
  const html = /<(!doctype|html|head|body)\b/i.test(message);
  if (html) message = `HTTP ${status ?? '?'}: the service answered with an HTML page instead of JSON`;
  // node-api's first call asks for the API's location; when that answer is a sign-in page (203,
  // a rejected token) it fails with this plain Error and no status (reference §8).
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

export class ServiceClient implements EndpointPort, ImpactPort {
  private readonly api: ServiceEndpointApi;
  private readonly pacer: Pacer;
  private readonly base: string;

  constructor(private readonly o: ServiceClientOptions) {
    this.pacer = new Pacer(o.maxInFlight, o.clock, (limit) => o.debug?.(`service throttling: at most ${limit} request(s) in flight now`));
    this.base = o.collectionUrl.endsWith('/') ? o.collectionUrl : `${o.collectionUrl}/`;
    const requestOptions: IRequestOptions = { allowRetries: false, socketTimeout: 60_000 };
    if (o.proxy) requestOptions.proxy = o.proxy;
    if (o.cert) requestOptions.cert = o.cert;
    // Importing the few clients used, not the package root, keeps the bundle small; that skips
    // WebApi, so proxy and certificates are passed here (conventions §6).
    this.api = new ServiceEndpointApi(this.base, [new BearerCredentialHandler(o.token)], requestOptions);
  }

  /** Every azurerm connection of the project, failed ones included; never filtered by actionFilter. */
  async list(): Promise<{ endpoints: Endpoint[]; malformed: number }> {
    const value = await this.retry('list connections', true, () =>
      this.api.getServiceEndpoints(this.o.projectId, 'azurerm', undefined, undefined, undefined, true),
    );
    // node-api yields null for a 404 and for a body that is not JSON, which is what a sign-in page
    // (203) is: either way there is no listing to work from (reference §8).
    if (!Array.isArray(value)) {
      throw new ServiceError({
        status: undefined,
        message: 'The listing came back empty or not as JSON (a sign-in page or an unknown project).',
        signInPage: true,
      });
    }
    return normalizeListing(value);
  }

  /** Ids (lower-case) of the azurerm connections this identity administers: actionFilter=manage (2). Used only to preview a dry run. */
  async manageableIds(): Promise<Set<string>> {
    const value = await this.retry('list administered connections', true, () =>
      this.api.getServiceEndpoints(this.o.projectId, 'azurerm', undefined, undefined, undefined, true, undefined, ServiceEndpointActionFilter.Manage),
    );
    if (!Array.isArray(value)) throw new ServiceError({ message: 'The listing came back empty or not as JSON.' });
    return new Set(value.map((e) => String(e.id).toLowerCase()));
  }

  get(id: string): Promise<Endpoint | null> {
    return this.retry(`read connection ${id}`, true, async () => {
      const e = await this.api.getServiceEndpointDetails(this.o.projectId, id);
      if (e === null || e === undefined) return null;
      const endpoint = normalizeEndpoint(e, id);
      if (!endpoint) throw new ServiceError({ message: `The answer for connection ${id} was not a service connection.` });
      return endpoint;
    });
  }

  convert(id: string, body: ConversionBody): Promise<Endpoint> {
    // Only 429 is retried here: a PUT that failed otherwise may have been applied, and the core
    // looks at the connection before it sends again.
    return this.retry(`convert connection ${id}`, false, async () => {
      const e = await this.api.updateServiceEndpoint(body, id, 'ConvertAuthenticationScheme');
      // node-api resolves null both for a 404 and for a 2xx body that is not JSON, so whether the
      // PUT was applied is unknown: no status, and the core reads the connection before resending.
      const endpoint = e ? normalizeEndpoint(e, id) : undefined;
      if (!endpoint)
        throw new ServiceError({ message: 'The service answered the conversion without a usable body (not JSON, or the connection was not found).' });
      return endpoint;
    });
  }

  // ---- impact check (ImpactPort) ----

  async executionHistory(endpointId: string, continuationToken?: string): Promise<{ records: ExecutionRecord[]; continuationToken?: string }> {
    const page = await this.retry(`read the execution history of ${endpointId}`, true, () =>
      // node-api types the token as a number but sends it as given; it hands the next one back
      // from the x-ms-continuationtoken header as `continuationToken` on the result.
      this.api.getServiceEndpointExecutionRecords(this.o.projectId, endpointId, 100, continuationToken as unknown as number),
    );
    if (!Array.isArray(page)) throw new ServiceError({ message: 'The execution history came back empty or not as JSON.' });
    const records = page.flatMap((r): ExecutionRecord[] => {
      const d = r?.data;
      if (!d?.definition?.id || !d.owner?.id) return [];
      const start = d.startTime as unknown;
      return [
        {
          planType: String(d.planType ?? 'Build'),
          definitionId: Number(d.definition.id),
          definitionName: String(d.definition.name ?? d.definition.id),
          runId: Number(d.owner.id),
          startTime: start instanceof Date ? start.toISOString() : typeof start === 'string' ? start : undefined,
        },
      ];
    });
    const next = (page as { continuationToken?: unknown }).continuationToken;
    return { records, continuationToken: typeof next === 'string' || typeof next === 'number' ? String(next) || undefined : undefined };
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
    return (res.result?.value ?? []).filter((d) => d.id && d.name).map((d) => ({ id: d.id!, name: d.name!, author: d.author }));
  }

  private projectUrl(route: string): string {
    return `${this.base}${encodeURIComponent(this.o.projectId)}/${route}`;
  }

  /** The display name of the identity behind the token, to name it in permission instructions. */
  async whoAmI(): Promise<string | undefined> {
    try {
      const url = `${this.base}_apis/connectionData`;
      const res = await this.api.rest.get<{ authenticatedUser?: { providerDisplayName?: string } }>(url);
      return res.result?.authenticatedUser?.providerDisplayName || undefined;
    } catch {
      return undefined;
    }
  }

  private async retry<T>(what: string, idempotent: boolean, op: () => Promise<T>): Promise<T> {
    let throttled = 0;
    let waited = 0;
    let transient = 0;
    for (;;) {
      if (this.o.signal?.aborted) throw new ServiceError({ message: 'The run was cancelled before this request was sent.', cancelled: true });
      try {
        const value = await this.pacer.run(op);
        this.pacer.observe(signalOf((value as { rateLimit?: RateLimit } | null)?.rateLimit), false);
        return value;
      } catch (raw) {
        const err = toServiceError(raw);
        const rl = (raw as NodeApiError)?.rateLimit;
        this.pacer.observe(signalOf(rl), err.status === 429);
        let waitMs: number | undefined;
        if (err.status === 429 && ++throttled < MAX_429_TRIES) {
          // Azure DevOps says how long to back off (reference §9); node-api never retries 429.
          const s = rl?.retryAfter ?? rl?.delay;
          waitMs = s !== undefined && Number.isFinite(s) ? s * 1000 : 1000 * 2 ** throttled;
        } else if (idempotent && err.status !== 429 && isTransient(err) && ++transient <= MAX_TRANSIENT_RETRIES) {
          waitMs = 500 * 2 ** (transient - 1);
        }
        if (waitMs === undefined) throw err;
        waitMs = Math.min(MAX_SINGLE_WAIT_MS, waitMs) * (0.8 + Math.random() * 0.4);
        if (waited + waitMs > MAX_TOTAL_WAIT_MS) throw err;
        waited += waitMs;
        this.o.debug?.(`${what}: ${err.status ?? 'network error'} (${err.message}); retrying in ${Math.round(waitMs)} ms`);
        await this.o.clock.sleep(waitMs);
      }
    }
  }
}
