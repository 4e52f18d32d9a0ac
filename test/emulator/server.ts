// Loopback emulator of the Azure DevOps REST surface used by ConvertToWif.
//
// It answers exactly what azure-devops-node-api 17 sends and imitates the behaviour described in
// docs/service-behaviour.md, with its public sources (cited as "§N" of that file). This file is the
// HTTP server: request recording, the shared fault machinery (Fault kinds, latency), auth, the
// location service's front door and the routing of a request, by its {area} segment, to the
// service that imitates it:
// - serviceEndpoints.ts: listing, GET by id, the ConvertAuthenticationScheme PUT, revert, the
//   Administrator role, and a connection's execution history (executionHistory.ts);
// - pipelines.ts: build timelines and the Pipelines "preview" run;
// - distributedTask.ts: the task catalogue;
// - projects.ts: the Core API projects listing (area core, routed by its resource segment
//   "projects"), and who sees which project (projectGate, applied to every {project}/_apis route);
// - location.ts: location OPTIONS, ResourceAreas and connectionData (from the services' areas);
// - migration.ts: the issuer migration route (_apis/public/serviceendpoint/
//   externalfederatedcredentialmigration), the only route that takes a Microsoft Entra token
//   (validated by the attached directory) instead of a seeded one.
// A new service is a new file implementing Service (types.ts) and one entry in SERVICES below;
// faults, latency, recording and sending apply to it unchanged.
// Node built-ins only; no state survives close().
import * as crypto from 'crypto';
import * as http from 'http';
import { URL } from 'url';
import { DistributedTaskService } from './distributedTask';
import { FaultQueue, type Fault } from './faults';
import { LocationService } from './location';
import { MigrationService } from './migration';
import { PipelinesService } from './pipelines';
import { ProjectsService, projectGate } from './projects';
import { SIGN_IN_PAGE, errorReply, notFoundRoute } from './replies';
import { loadSeed, resolveRelativeTimes, validateSeed } from './seed';
import { ServiceEndpointsService } from './serviceEndpoints';
import type { FederatedCredentialDirectory, Identity, ProjectSeed, Reply, Seed, Service, ServiceContext } from './types';
import { ServerTimers, clone, identityId, ieq, isObj, parseJson, prop, readBody, type Obj } from './util';

export type { Fault } from './faults';
export type {
  AadSilentFailureDelivery,
  BuildSeed,
  EndpointBehaviour,
  ExecutionResult,
  ExecutionSeed,
  FederatedCredentialDirectory,
  IdentityKind,
  EntraCaller,
  IdentitySeed,
  ManagedIdentitySeed,
  MigrationMode,
  NewFederatedCredential,
  PipelineSeed,
  ProjectSeed,
  ProjectState,
  Seed,
  TaskDefinitionSeed,
  TimelineRecordSeed,
} from './types';
export { DEFAULT_TASK_DEFINITIONS } from './distributedTask';
export { loadSeed, resolveRelativeTimes };

export interface RecordedRequest {
  method: string;
  /** Decoded path without the query, e.g. "/contoso/Shared Services/_apis/serviceendpoint/endpoints". */
  path: string;
  query: Record<string, string>;
  /** Status sent; 0 when a 'reset' fault answered nothing; for 'apply-then-reset' the status that was lost. */
  status: number;
  /** The seeded identity's name; on the migration route, "Entra {clientId} (tenant {tenantId})" for an accepted Entra token. */
  identity?: string;
  body?: unknown;
  /** api-version from the Accept header or the query, if any. */
  apiVersion?: string;
  /** Kind of the fault that handled this request, if any. */
  fault?: NonNullable<Fault['kind']>;
}

export interface Emulator {
  url: string;
  requests: RecordedRequest[];
  endpoint(id: string): Record<string, unknown> | undefined;
  addFault(f: Fault): void;
  setLatencyMs(ms: number): void;
  setClock(nowMs: () => number): void;
  /**
   * Lets the service see (and, for a background conversion, add to) the federated credentials of
   * the connections' apps in Microsoft Entra; undefined detaches. Without a directory, an
   * endpoint's `emulator.federatedCredential` says whether its credential exists.
   */
  attachDirectory(directory: FederatedCredentialDirectory | undefined): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The emulator

class EmulatorImpl implements Emulator {
  url = '';
  requests: RecordedRequest[] = [];
  private readonly server: http.Server;
  private readonly identities: Map<string, Identity>;
  private readonly faults = new FaultQueue();
  private latencyMs: number;
  private now: () => number = Date.now;
  private federation: FederatedCredentialDirectory | undefined;
  private readonly timers = new ServerTimers();
  private readonly serviceEndpoints: ServiceEndpointsService;
  /** The imitated services, in the order ResourceAreas lists their areas. */
  private readonly services: Service[];
  /** Services by lower-case area name. */
  private readonly byArea = new Map<string, Service>();
  private readonly location: LocationService;
  private readonly migration: MigrationService;

  constructor(
    private readonly seed: Seed,
    latencyMs: number,
  ) {
    this.latencyMs = latencyMs;
    this.identities = new Map(
      seed.identities.map((i) => [i.token, { name: i.name, id: identityId(i.name), kind: i.kind ?? 'user', ...(i.projects ? { projects: i.projects } : {}) }]),
    );
    const ctx: ServiceContext = {
      seed,
      url: () => this.url,
      now: () => this.now(),
      findProject: (nameOrId) => this.findProject(nameOrId),
      directory: () => this.federation,
    };
    this.serviceEndpoints = new ServiceEndpointsService(ctx);
    this.services = [this.serviceEndpoints, new PipelinesService(ctx), new DistributedTaskService(ctx), new ProjectsService(ctx)];
    for (const s of this.services) {
      for (const a of s.areas) {
        this.byArea.set(a.name.toLowerCase(), s);
        // A location routed by its resource name ("_apis/{resource}…", e.g. Core's _apis/projects) is reached by that segment.
        for (const l of a.locations) if (l.routeTemplate.startsWith('_apis/{resource}')) this.byArea.set(l.resourceName.toLowerCase(), s);
      }
    }
    this.location = new LocationService(ctx, this.services);
    this.migration = new MigrationService(ctx, { all: () => seed.endpoints, view: (ep) => this.serviceEndpoints.publicView(ep) });
    this.server = http.createServer((req, res) => {
      this.onRequest(req, res).catch((e) => {
        if (!res.headersSent) this.send(res, errorReply(500, 'InternalServerError', `Emulator error: ${String(e)}`));
      });
    });
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const addr = this.server.address() as { port: number };
        const h = host.includes(':') ? `[${host}]` : host;
        this.url = `http://${h}:${addr.port}/${encodeURIComponent(this.seed.organization.name)}/`;
        resolve();
      });
    });
  }

  endpoint(id: string): Record<string, unknown> | undefined {
    return clone(this.serviceEndpoints.find(id));
  }

  addFault(f: Fault): void {
    this.faults.add(f);
  }

  setLatencyMs(ms: number): void {
    this.latencyMs = ms;
  }

  setClock(nowMs: () => number): void {
    this.now = nowMs;
  }

  attachDirectory(directory: FederatedCredentialDirectory | undefined): void {
    this.federation = directory;
  }

  close(): Promise<void> {
    return this.timers.close(this.server);
  }

  // --- plumbing --------------------------------------------------------------------------------

  private identify(header: string | undefined): Identity | undefined {
    if (!header) return undefined;
    const [scheme, value = ''] = header.split(/\s+/, 2);
    let token = value;
    // Basic with a PAT as password is accepted too (handy for curl -u :demo-admin-pat).
    if (ieq(scheme, 'basic')) token = Buffer.from(value, 'base64').toString('utf8').split(':').slice(1).join(':');
    else if (!ieq(scheme, 'bearer')) return undefined;
    return this.identities.get(token);
  }

  private faultReply(f: Fault): Reply {
    const status = f.status ?? 500;
    if (f.body !== undefined) {
      const hasType = Object.keys(f.headers ?? {}).some((h) => h.toLowerCase() === 'content-type');
      const type =
        parseJson(f.body) !== undefined ? 'application/json; charset=utf-8' : /^\s*</.test(f.body) ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8';
      return { status, headers: { ...(hasType ? {} : { 'Content-Type': type }), ...f.headers }, body: f.body };
    }
    if (status === 429) {
      // §9/§10: the throttling message.
      return errorReply(
        429,
        'RequestBlockedException',
        "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'Concurrency' in namespace 'User'.",
        f.headers,
      );
    }
    if (status >= 400) return errorReply(status, 'InternalServerError', `Injected fault (${status}).`, f.headers);
    return { status, headers: f.headers };
  }

  private render(reply: Reply): { headers: Record<string, string>; payload?: string } {
    const headers: Record<string, string> = { ActivityId: crypto.randomUUID(), 'X-TFS-Session': crypto.randomUUID() };
    let payload: string | undefined;
    if (typeof reply.body === 'string') payload = reply.body;
    else if (reply.body !== undefined) {
      payload = JSON.stringify(reply.body);
      headers['Content-Type'] = 'application/json; charset=utf-8; api-version=7.1';
    }
    Object.assign(headers, reply.headers);
    return { headers, payload };
  }

  private send(res: http.ServerResponse, reply: Reply): void {
    const { headers, payload } = this.render(reply);
    if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
    res.writeHead(reply.status, headers);
    res.end(payload);
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://emulator');
    const segments = url.pathname
      .split('/')
      .filter(Boolean)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
    const path = '/' + segments.join('/');
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => {
      query[k] = v;
    });
    const identity = this.identify(req.headers.authorization);
    const apiVersion = /api-version=([^;,\s]+)/i.exec(String(req.headers.accept ?? ''))?.[1] ?? (prop(query, 'api-version') as string | undefined);

    const rec: RecordedRequest = { method, path, query, status: 0 };
    if (identity) rec.identity = identity.name;
    if (apiVersion) rec.apiVersion = apiVersion;
    this.requests.push(rec);

    const fault = this.faults.take(method, path);
    if (fault) rec.fault = fault.kind ?? 'respond';
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }

    const raw = await readBody(req);
    const body = raw ? (parseJson(raw) ?? raw) : undefined;
    if (body !== undefined && method !== 'GET' && method !== 'OPTIONS') rec.body = body;
    if (fault?.kind === 'delay') await this.timers.sleep(fault.delayMs ?? 0);

    if (fault?.kind === 'flip-first' && method === 'PUT') for (const s of this.services) s.concurrentChange?.(segments, body);
    let reply: Reply;
    if (fault && rec.fault === 'respond') reply = this.faultReply(fault);
    else if (fault?.kind === 'redirect') reply = { status: fault.status ?? 302, headers: { Location: fault.location ?? 'http://127.0.0.1:9/' }, body: '' };
    else if (fault?.kind === 'sign-in') reply = { status: 203, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: SIGN_IN_PAGE };
    else reply = this.handle(method, segments, query, identity, req.headers.authorization, body, apiVersion, rec);
    if (fault?.kind === 'duplicate-entry' && isObj(reply.body) && Array.isArray(reply.body.value) && reply.body.value.length > 0) {
      const first = clone(reply.body.value[0] as Obj);
      first.id = String(first.id).toUpperCase();
      reply.body.value.push(first);
      reply.body.count = reply.body.value.length;
    }
    rec.status = reply.status;
    if (fault?.kind === 'apply-then-reset') {
      req.socket.destroy();
      return;
    } // applied, answer lost
    await this.timers.sleep(this.latencyMs);
    if (res.destroyed) return;
    if (fault?.kind === 'cut-body') this.sendCut(res, reply);
    else if (fault?.kind === 'dribble') this.sendDribbled(res, reply, fault.intervalMs ?? 1000);
    else this.send(res, reply);
  }

  /** 'cut-body': the full Content-Length is announced, half the body is written, then the socket is destroyed. */
  private sendCut(res: http.ServerResponse, reply: Reply): void {
    const { headers, payload } = this.render(reply);
    const bytes = Buffer.from(payload ?? '{"value":[]}');
    headers['Content-Length'] = String(bytes.length);
    res.writeHead(reply.status, headers);
    res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.socket?.destroy());
  }

  /** 'dribble': the answer one byte every intervalMs, until it is complete or the client hangs up. */
  private sendDribbled(res: http.ServerResponse, reply: Reply, intervalMs: number): void {
    const { headers, payload } = this.render(reply);
    const bytes = Buffer.from(payload ?? '');
    headers['Content-Length'] = String(bytes.length);
    res.writeHead(reply.status, headers);
    res.flushHeaders();
    let i = 0;
    const next = () => {
      if (res.destroyed || res.writableEnded) return;
      if (i >= bytes.length) return void res.end();
      res.write(bytes.subarray(i, ++i));
      this.timers.later(intervalMs, next);
    };
    next();
  }

  private unauthorized(): Reply {
    if (this.seed.badTokenResponse === '203') {
      // §11: some routes answer a bad token with a sign-in page and a 2xx status (203),
      // which the client parses as "no JSON" -> null. (The real service is meant to send 401 when
      // the request carries X-TFS-FedAuthRedirect: Suppress, which node-api's handlers always send.)
      return { status: 203, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: SIGN_IN_PAGE };
    }
    return errorReply(401, 'UnauthorizedRequestException', "TF400813: The user '' is not authorized to access this resource.", {
      'WWW-Authenticate': 'Bearer authorization_uri=https://login.microsoftonline.com/common, Basic realm="https://tfsprodweu2.app.visualstudio.com/"',
    });
  }

  // --- routing ---------------------------------------------------------------------------------

  private handle(
    method: string,
    segs: string[],
    query: Record<string, string>,
    identity: Identity | undefined,
    authorization: string | undefined,
    body: unknown,
    apiVersion: string | undefined,
    rec: RecordedRequest,
  ): Reply {
    const hasAuthHeader = !!authorization;
    const path = '/' + segs.join('/');
    if (!segs.length || !ieq(segs[0], this.seed.organization.name)) return notFoundRoute(path);
    const apis = segs.findIndex((s) => ieq(s, '_apis'));
    if (apis < 1 || apis > 2) return notFoundRoute(path);
    const projectSeg = apis === 2 ? segs[1] : undefined;
    const rest = segs.slice(apis + 1);
    const [area = '', resource] = rest;
    const areaL = area.toLowerCase();

    // Location metadata is served anonymously, but a token that is present and wrong is rejected.
    const metadata = !projectSeg && ((method === 'OPTIONS' && !resource) || (method === 'GET' && areaL === 'resourceareas'));
    if (metadata) {
      if (hasAuthHeader && !identity) return this.unauthorized();
      if (method === 'OPTIONS') return this.location.options(areaL, path);
      return this.location.resourceAreas(resource);
    }
    if (MigrationService.matches(projectSeg, rest)) {
      // Before the seeded-token check: this route takes an Entra token only (migration.ts).
      const { reply, caller } = this.migration.handle({ method, path, authorization, body, apiVersion });
      if (caller) rec.identity = `Entra ${caller.clientId} (tenant ${caller.tenantId})`;
      return reply;
    }
    if (!identity) return this.unauthorized();
    if (method === 'GET' && areaL === 'connectiondata' && !projectSeg && !resource) return this.location.connectionData(identity);
    if (projectSeg !== undefined) {
      const gated = projectGate(this.findProject(projectSeg), projectSeg, identity, areaL);
      if (gated) return gated;
    }
    const service = this.byArea.get(areaL);
    return service?.handle({ method, path, projectSeg, rest, query, identity, body, apiVersion }) ?? notFoundRoute(path);
  }

  private findProject(nameOrId: string): ProjectSeed | undefined {
    return this.seed.projects.find((p) => ieq(p.id, nameOrId) || ieq(p.name, nameOrId));
  }
}

/**
 * Starts an emulator on a loopback port (0 = any free port). The seed is deep-copied; relative
 * times in it ("-3d") are resolved against options.relativeTo (default: now).
 */
export async function startEmulator(seed: Seed, options: { port?: number; host?: string; latencyMs?: number; relativeTo?: number } = {}): Promise<Emulator> {
  const copy = clone(seed);
  validateSeed(copy, 'startEmulator');
  resolveRelativeTimes(copy, options.relativeTo ?? Date.now());
  const emu = new EmulatorImpl(copy, options.latencyMs ?? 0);
  await emu.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return emu;
}
