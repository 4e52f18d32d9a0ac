// Loopback emulator of the Azure DevOps service-endpoint REST surface used by ConvertToWif.
//
// It answers exactly what azure-devops-node-api 17 sends (location OPTIONS, listing, GET by id,
// the undocumented ConvertAuthenticationScheme PUT) and imitates the behaviour described in
// docs/service-behaviour.md, with its public sources (cited below as "§N" of that file).
// For the impact check it also answers a connection's execution history (paged), build timelines,
// the Pipelines "preview" run and the task catalogue (see "impact check" below).
// Node built-ins only; no state survives close().
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { URL } from 'url';

/** Emulator-only knobs, stored per endpoint under the key "emulator"; never returned to clients. */
export interface EndpointBehaviour {
  /**
   * 'auto' (default): creationMode Automatic -> 'async'; Manual -> 'sync' when a federated
   * credential exists, else 400 "could not be upgraded… no valid configuration exists".
   */
  conversion?: 'auto' | 'sync' | 'async' | 'async-fail' | 'aad-silent-failure' | 'aad-silent-failure-async';
  /** Async modes: the background job finishes on the Nth GET by id after the PUT (that GET sees the result). Default 1. */
  completeAfterGets?: number;
  /** Manual apps: a matching federated credential already exists. */
  federatedCredential?: boolean;
  /** Identity names with the Administrator role on this connection; default seed.defaultAdministrators. */
  administrators?: string[];
  /** The stored client secret (never returned; restored on revert). */
  secret?: string;
  /** State kept by the emulator: the pre-conversion parameters and secret (the revert source). */
  recovery?: { parameters: Record<string, unknown>; secret?: string };
  /** State kept by the emulator: an accepted async conversion waiting for its background job. */
  pending?: { gets: number; mode: string; identityId: string };
  /** Runs that used this connection: served by GET {project}/_apis/serviceendpoint/{id}/executionhistory. */
  executions?: ExecutionSeed[];
}

export type ExecutionResult = 'succeeded' | 'succeededWithIssues' | 'failed' | 'canceled' | 'skipped' | 'abandoned';

/**
 * One use of a connection by a pipeline run. startTime / finishTime are ISO strings or offsets
 * before the emulator's start: "-3d", "-12h", "-45m" (resolved by startEmulator).
 */
export interface ExecutionSeed {
  planType: 'Build' | 'Release';
  /** Build or release definition (the pipeline). */
  definitionId: number;
  definitionName: string;
  /** Build id or release id (the run): the record's owner.id. */
  runId: number;
  /** owner.name; default: a build number "yyyymmdd.1" for builds, "Release-{runId}" for releases. */
  runName?: string;
  startTime: string;
  /** Default: startTime + 3 minutes. */
  finishTime?: string;
  /** Default 'succeeded'. */
  result?: ExecutionResult;
}

export interface TimelineRecordSeed {
  id: string;
  parentId?: string;
  type: string; // 'Stage' | 'Phase' | 'Job' | 'Task' (also 'Checkpoint' in real timelines)
  name: string;
  task?: { id: string; name: string; version: string };
  /** Default 'succeeded'. */
  result?: ExecutionResult;
}

export interface BuildSeed {
  definitionId: number;
  records: TimelineRecordSeed[];
}

export interface PipelineSeed {
  name: string;
  /** What preview answers for an 'ok' pipeline; default: a minimal YAML naming the pipeline. */
  finalYaml?: string;
  /** 'ok' (default) -> 200 {finalYaml}; 'forbidden' -> 403; 'not-yaml' (classic pipeline) -> 400. */
  preview?: 'ok' | 'forbidden' | 'not-yaml';
}

export interface TaskDefinitionSeed {
  id: string;
  name: string;
  author: string;
  version: { major: number; minor: number; patch: number };
  friendlyName?: string;
  /** Set for tasks installed from a Marketplace extension, e.g. "contoso.tools". */
  contributionIdentifier?: string;
  contributionVersion?: string;
}

export interface Seed {
  organization: { name: string; id: string };
  projects: { id: string; name: string }[];
  identities: { token: string; name: string }[];
  defaultAdministrators: string[];
  issuer?: 'entra' | 'azuredevops';
  conversionDisabled?: boolean;
  badTokenResponse?: '401' | '203';
  endpoints: Array<Record<string, unknown> & { emulator?: EndpointBehaviour }>;
  /**
   * Largest execution-history page the emulator returns: the page is min(top ?? 50, this), so a
   * test can force several pages whatever `top` the client sends. Default: no cap.
   */
  executionPageSize?: number;
  /** Build timelines by build id (GET {project}/_apis/build/builds/{buildId}/Timeline). */
  builds?: Record<string, BuildSeed>;
  /** Pipelines by definition id, for POST {project}/_apis/pipelines/{id}/preview. */
  pipelines?: Record<string, PipelineSeed>;
  /** The task catalogue (GET _apis/distributedtask/tasks); default DEFAULT_TASK_DEFINITIONS. */
  taskDefinitions?: TaskDefinitionSeed[];
}

export interface RecordedRequest {
  method: string;
  /** Decoded path without the query, e.g. "/contoso/Shared Services/_apis/serviceendpoint/endpoints". */
  path: string;
  query: Record<string, string>;
  /** Status sent; 0 when a 'reset' fault answered nothing; for 'apply-then-reset' the status that was lost. */
  status: number;
  identity?: string;
  body?: unknown;
  /** api-version from the Accept header or the query, if any. */
  apiVersion?: string;
  /** Kind of the fault that handled this request, if any. */
  fault?: NonNullable<Fault['kind']>;
}

export interface Fault {
  method?: string;
  path?: string | RegExp;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  count?: number;
  /**
   * 'respond' (default): answer status/headers/body instead of the service. 'reset': destroy the
   * socket unanswered. 'apply-then-reset': handle the request, then destroy the socket. 'delay':
   * wait delayMs, then handle it. The kinds below imitate what a hostile or broken network path
   * (proxy, load balancer, captive portal) or a concurrent actor does to a request:
   * - 'redirect': answer `status` (default 302) with `Location: location`, unhandled. Front doors
   *   and proxies redirect; typed-rest-client follows 301/302/303/307/308 by default and its
   *   handlers add the Authorization header to the new request (HttpClient.ts `request`,
   *   `_prepareRequest`), so a redirect to another host would carry the token there.
   * - 'cut-body': handle the request, send the real status and headers with the full
   *   Content-Length, write half of the body and destroy the socket (a connection dropped
   *   mid-answer by a proxy or a restarting front end).
   * - 'sign-in': answer 203 with the HTML sign-in page, unhandled: what Azure DevOps answers a
   *   rejected credential on some routes instead of a 401 (the "203 Non-Authoritative
   *   Information" sign-in page that azure-devops-node-api's callers see as a null result).
   * - 'dribble': handle the request, then write the answer one byte every intervalMs (a stalled
   *   proxy or a slow-loris path; an idle socket timeout never trips on it).
   * - 'flip-first': before handling a PUT, move the stored connection to the scheme the body asks
   *   for, as another run or a person in the web UI converting (or reverting) it between this
   *   run's listing and its PUT; the real handler then answers, e.g. its 400 "neither an
   *   upgrade or a downgrade".
   * - 'duplicate-entry': handle a listing, then append a copy of its first entry with the id in
   *   upper case (a listing that names one connection twice, as a paging or replication glitch).
   */
  kind?: 'respond' | 'reset' | 'apply-then-reset' | 'delay' | 'redirect' | 'cut-body' | 'sign-in' | 'dribble' | 'flip-first' | 'duplicate-entry';
  delayMs?: number;
  /** 'redirect': the Location header (absolute URL). */
  location?: string;
  /** 'dribble': milliseconds between two bytes of the answer (default 1000). */
  intervalMs?: number;
}

export interface Emulator {
  url: string;
  requests: RecordedRequest[];
  endpoint(id: string): Record<string, unknown> | undefined;
  addFault(f: Fault): void;
  setLatencyMs(ms: number): void;
  setClock(nowMs: () => number): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Constants: real location ids and version data, so the client's "7.2-preview.4" negotiates.

const WIF = 'WorkloadIdentityFederation';
const SPN = 'ServicePrincipal';
const CONVERT = 'ConvertAuthenticationScheme';
const REVERT_WINDOW_MS = 7 * 24 * 60 * 60 * 1000; // §5: 7 days
const AZURE_DEVOPS_APP_ID = '499b84ac-1321-427f-aa17-267ca6975798';
const SERVICEENDPOINT_AREA_ID = '1814ab31-2f4f-4a9f-8761-f4d77dc5a5d7';
const SECRET_KEYS = ['serviceprincipalkey', 'serviceprincipalcertificate', 'accesstoken', 'password', 'publishprofile'];

interface ApiLocation {
  id: string;
  area: string;
  resourceName: string;
  routeTemplate: string;
  resourceVersion: number;
  minVersion: string;
  maxVersion: string;
  releasedVersion: string;
}
const SE_PROJECT_LOCATION: ApiLocation = {
  id: 'e85f1c62-adfc-4b74-b618-11a150fb195e',
  area: 'serviceendpoint',
  resourceName: 'endpoints',
  routeTemplate: '{project}/_apis/{area}/{resource}/{endpointId}',
  resourceVersion: 4,
  minVersion: '5.0',
  maxVersion: '7.2',
  releasedVersion: '7.1',
};
const SE_ORG_LOCATION: ApiLocation = {
  ...SE_PROJECT_LOCATION,
  id: '14e48fdc-2c8b-41ce-a0c3-e26f6cc55bd0',
  routeTemplate: '_apis/{area}/{resource}/{endpointId}',
};
const LOCATION_LOCATIONS: ApiLocation[] = [
  {
    id: 'e81700f7-3be2-46de-8624-2eb35882fcaa',
    area: 'Location',
    resourceName: 'ResourceAreas',
    routeTemplate: '_apis/{resource}/{areaId}',
    resourceVersion: 1,
    minVersion: '3.2',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: '00d9565f-ed9c-4a06-9a50-00e7896ccab4',
    area: 'Location',
    resourceName: 'connectionData',
    routeTemplate: '_apis/{resource}',
    resourceVersion: 1,
    minVersion: '1.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
];
// Impact check. resourceVersion is what node-api 17 asks for ("7.2-preview.N" -> N); a
// releasedVersion of '0.0' means the resource is preview-only (the docs list it as 7.1-preview.1).
const SE_EXECUTION_HISTORY_LOCATION: ApiLocation = {
  id: '10a16738-9299-4cd1-9a81-fd23ad6200d0',
  area: 'serviceendpoint',
  resourceName: 'executionhistory',
  routeTemplate: '{project}/_apis/{area}/{endpointId}/{resource}',
  resourceVersion: 1,
  minVersion: '4.1',
  maxVersion: '7.2',
  releasedVersion: '0.0',
};
const BUILD_TIMELINE_LOCATION: ApiLocation = {
  id: '8baac422-4c6e-4de5-8532-db96d92acffa',
  area: 'build',
  resourceName: 'Timeline',
  routeTemplate: '{project}/_apis/{area}/builds/{buildId}/{resource}/{timelineId}',
  resourceVersion: 3,
  minVersion: '2.0',
  maxVersion: '7.2',
  releasedVersion: '7.1',
};
const PIPELINES_PREVIEW_LOCATION: ApiLocation = {
  id: '53df2d18-29ea-46a9-bee0-933540f80abf',
  area: 'pipelines',
  resourceName: 'preview',
  routeTemplate: '{project}/_apis/{area}/{pipelineId}/{resource}',
  resourceVersion: 1,
  minVersion: '5.1',
  maxVersion: '7.2',
  releasedVersion: '0.0',
};
// Not in the public REST reference; released at 7.1 here so a plain api-version=7.1 is accepted
// (an assumption: whether the service insists on "-preview" for this route is unverified).
const TASK_DEFINITIONS_LOCATION: ApiLocation = {
  id: '60aac929-f0cd-4bc8-9ce4-6b30e8f1b1bd',
  area: 'distributedtask',
  resourceName: 'tasks',
  routeTemplate: '_apis/{area}/{resource}/{taskId}/{versionString}',
  resourceVersion: 1,
  minVersion: '2.0',
  maxVersion: '7.2',
  releasedVersion: '7.1',
};
const AREA_LOCATIONS: Record<string, ApiLocation[]> = {
  serviceendpoint: [SE_PROJECT_LOCATION, SE_ORG_LOCATION, SE_EXECUTION_HISTORY_LOCATION],
  build: [BUILD_TIMELINE_LOCATION],
  pipelines: [PIPELINES_PREVIEW_LOCATION],
  distributedtask: [TASK_DEFINITIONS_LOCATION],
  location: LOCATION_LOCATIONS,
};
/** Resource area ids (GET _apis/ResourceAreas), as the service publishes them. */
const RESOURCE_AREAS: Record<string, string> = {
  serviceendpoint: SERVICEENDPOINT_AREA_ID,
  build: '5d6898bb-45ec-463f-95f9-54d49c71752e',
  pipelines: '2e0bf237-8973-4ec9-a581-9c3d679d1776',
  distributedtask: 'a85b8835-c1a1-4aac-ae97-1c3d0ba72dbd',
};

/**
 * The catalogue served when a seed has no taskDefinitions: Microsoft tasks with their real ids
 * (task.json of microsoft/azure-pipelines-tasks; a task keeps its id across major versions).
 * Minor/patch numbers are plausible, not tracked.
 */
export const DEFAULT_TASK_DEFINITIONS: readonly TaskDefinitionSeed[] = Object.freeze(
  [
    {
      id: '46e4be58-730b-4389-8a2f-ea10b3e5e815',
      name: 'AzureCLI',
      friendlyName: 'Azure CLI',
      author: 'Microsoft Corporation',
      version: { major: 2, minor: 265, patch: 0 },
    },
    {
      id: '72a1931b-effb-4d2e-8fd8-f8472a07cb62',
      name: 'AzurePowerShell',
      friendlyName: 'Azure PowerShell',
      author: 'Microsoft Corporation',
      version: { major: 5, minor: 273, patch: 3 },
    },
    {
      id: 'eb72cb01-a7e5-427b-a8a1-1b31ccac8a43',
      name: 'AzureFileCopy',
      friendlyName: 'Azure file copy',
      author: 'Microsoft Corporation',
      version: { major: 5, minor: 259, patch: 0 },
    },
    {
      id: 'eb72cb01-a7e5-427b-a8a1-1b31ccac8a43',
      name: 'AzureFileCopy',
      friendlyName: 'Azure file copy',
      author: 'Microsoft Corporation',
      version: { major: 6, minor: 259, patch: 0 },
    },
    {
      id: '497d490f-eea7-4f2b-ab94-48d9c1acdcb1',
      name: 'AzureRmWebAppDeployment',
      friendlyName: 'Azure App Service deploy',
      author: 'Microsoft Corporation',
      version: { major: 4, minor: 266, patch: 0 },
    },
    {
      id: '94a74903-f93f-4075-884f-dc11f34058b4',
      name: 'AzureResourceManagerTemplateDeployment',
      friendlyName: 'ARM template deployment',
      author: 'Microsoft Corporation',
      version: { major: 3, minor: 261, patch: 0 },
    },
    // What `script:` and `bash:` steps run as; the checkout step (task 6d15af64-176c-496d-b583-fd2ae21d4df4,
    // "Checkout" 1.0.0 in timelines) is built into the agent and not in the catalogue.
    {
      id: 'd9bafed4-0b18-4f58-968d-86655b4d2ce9',
      name: 'CmdLine',
      friendlyName: 'Command line',
      author: 'Microsoft Corporation',
      version: { major: 2, minor: 276, patch: 0 },
    },
    {
      id: '6c731c3c-3c68-459a-a5c9-bde6e6595b5b',
      name: 'Bash',
      friendlyName: 'Bash',
      author: 'Microsoft Corporation',
      version: { major: 3, minor: 274, patch: 1 },
    },
  ].map((d) => Object.freeze(d)),
);

const EXECUTION_RESULTS: ExecutionResult[] = ['succeeded', 'succeededWithIssues', 'failed', 'canceled', 'skipped', 'abandoned'];
const DEFAULT_EXECUTION_PAGE = 50;
const RELATIVE_TIME_RE = /^-(\d+)([dhm])$/;
const TIME_UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };

const TYPE_NAMES: Record<string, string> = {
  ServiceEndpointNotFoundException:
    'Microsoft.VisualStudio.Services.ServiceEndpoints.WebApi.ServiceEndpointNotFoundException, Microsoft.VisualStudio.Services.ServiceEndpoints.WebApi',
  ProjectDoesNotExistWithNameException: 'Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistWithNameException, Microsoft.TeamFoundation.Core.WebApi',
  AccessCheckException: 'Microsoft.VisualStudio.Services.Security.AccessCheckException, Microsoft.VisualStudio.Services.WebApi',
  UnauthorizedRequestException: 'Microsoft.VisualStudio.Services.WebApi.UnauthorizedRequestException, Microsoft.VisualStudio.Services.WebApi',
  AadAccessSilentException: 'Microsoft.VisualStudio.Services.Aad.AadAccessSilentException, Microsoft.VisualStudio.Services.Aad',
  ArgumentException: 'System.ArgumentException, mscorlib',
  InvalidOperationException: 'System.InvalidOperationException, mscorlib',
  VssVersionOutOfRangeException: 'Microsoft.VisualStudio.Services.WebApi.VssVersionOutOfRangeException, Microsoft.VisualStudio.Services.WebApi',
  VssInvalidPreviewVersionException: 'Microsoft.VisualStudio.Services.WebApi.VssInvalidPreviewVersionException, Microsoft.VisualStudio.Services.WebApi',
  RequestBlockedException: 'Microsoft.TeamFoundation.Framework.Server.RequestBlockedException, Microsoft.TeamFoundation.Framework.Server',
  NotFoundException: 'Microsoft.VisualStudio.Services.Common.VssResourceNotFoundException, Microsoft.VisualStudio.Services.Common',
  BuildNotFoundException: 'Microsoft.TeamFoundation.Build.WebApi.BuildNotFoundException, Microsoft.TeamFoundation.Build2.WebApi',
  TimelineNotFoundException: 'Microsoft.TeamFoundation.Build.WebApi.TimelineNotFoundException, Microsoft.TeamFoundation.Build2.WebApi',
  AccessDeniedException: 'Microsoft.TeamFoundation.Build.WebApi.AccessDeniedException, Microsoft.TeamFoundation.Build2.WebApi',
  PipelineNotFoundException: 'Microsoft.Azure.Pipelines.WebApi.PipelineNotFoundException, Microsoft.Azure.Pipelines.WebApi',
  PipelineValidationException: 'Microsoft.Azure.Pipelines.WebApi.PipelineValidationException, Microsoft.Azure.Pipelines.WebApi',
  TaskDefinitionNotFoundException:
    'Microsoft.TeamFoundation.DistributedTask.WebApi.TaskDefinitionNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi',
  InternalServerError: 'System.Exception, mscorlib',
};

const SIGN_IN_PAGE = `<!DOCTYPE html>
<html lang="en-US">
<head><meta charset="utf-8"><title>Azure DevOps Services | Sign In</title></head>
<body><h1>Sign in to Azure DevOps</h1><p>You need to sign in to access this organization.</p>
<a href="https://app.vssps.visualstudio.com/_signin">Sign in</a></body>
</html>
`;

// ---------------------------------------------------------------------------------------------
// Small helpers

type Obj = Record<string, any>;

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}
interface Identity {
  name: string;
  id: string;
}

const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
const ieq = (a: unknown, b: unknown) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Case-insensitive property lookup (the service binds JSON and parameter dictionaries case-insensitively). */
function prop(o: Obj | undefined, key: string): unknown {
  if (!isObj(o)) return undefined;
  const k = Object.keys(o).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : o[k];
}

function deleteKeys(o: Obj, keys: string[]): void {
  for (const k of Object.keys(o)) if (keys.includes(k.toLowerCase())) delete o[k];
}

/** A stable fake identity id (GUID-shaped) for a display name. */
function identityId(name: string): string {
  const h = crypto.createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** GUID -> base64url of its .NET byte order (little-endian first three fields), as in "/eid1/c/pub/t/…" subjects. */
function guidToBase64Url(guid: string): string {
  const b = Buffer.from(guid.replace(/-/g, ''), 'hex');
  const le = Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8),
  ]);
  return le.toString('base64url');
}

function errorReply(status: number, typeKey: string, message: string, headers?: Record<string, string>): Reply {
  return {
    status,
    headers,
    body: { $id: '1', innerException: null, message, typeName: TYPE_NAMES[typeKey] ?? typeKey, typeKey, errorCode: 0, eventId: 3000 },
  };
}
const badRequest = (message: string, detail?: string) => errorReply(400, 'ArgumentException', message, detail ? { 'X-Emulator-Detail': detail } : undefined);
const invalidOperation = (message: string) => errorReply(400, 'InvalidOperationException', message);
const notFoundEndpoint = (id: string) => errorReply(404, 'ServiceEndpointNotFoundException', `No service connection found with identifier ${id}.`);
const projectNotFound = (projectSeg: string) =>
  errorReply(
    404,
    'ProjectDoesNotExistWithNameException',
    `VS800075: The project with id 'vstfs:///Classification/TeamProject/${projectSeg}' does not exist, or you do not have permission to access it.`,
  );
const methodNotAllowed = (method: string) => errorReply(405, 'InvalidOperationException', `The requested resource does not support http method '${method}'.`);
const notFoundRoute = (path: string) =>
  errorReply(404, 'NotFoundException', `The controller for path '${path}' was not found or does not implement IController.`);

/**
 * Compares what a client sent against the stored value: every field PRESENT in `sent` must equal
 * the stored one (objects are compared key by key, case-insensitive keys; arrays element by element;
 * a sent null equals a missing/null stored value). Returns the path of the first difference.
 */
function firstDifference(sent: unknown, stored: unknown, path: string): string | undefined {
  if (sent === undefined) return undefined;
  if (sent === null) return stored === null || stored === undefined ? undefined : path;
  if (Array.isArray(sent)) {
    if (!Array.isArray(stored) || sent.length > stored.length) return path;
    for (let i = 0; i < sent.length; i++) {
      const d = firstDifference(sent[i], stored[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (isObj(sent)) {
    if (!isObj(stored)) return path;
    for (const k of Object.keys(sent)) {
      const d = firstDifference(sent[k], prop(stored, k), path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return undefined;
  }
  if (typeof sent === 'string' && typeof stored === 'string' && GUID_RE.test(sent) && GUID_RE.test(stored)) {
    return ieq(sent, stored) ? undefined : path;
  }
  return sent === stored ? undefined : path;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The emulator

class EmulatorImpl implements Emulator {
  url = '';
  requests: RecordedRequest[] = [];
  private readonly server: http.Server;
  private readonly endpoints: Obj[];
  private readonly identities: Map<string, Identity>;
  private faults: Array<Fault & { remaining: number }> = [];
  private latencyMs: number;
  private now: () => number = Date.now;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly executionIds = new WeakMap<object, number>();

  constructor(
    private readonly seed: Seed,
    latencyMs: number,
  ) {
    this.latencyMs = latencyMs;
    this.endpoints = seed.endpoints;
    this.identities = new Map(seed.identities.map((i) => [i.token, { name: i.name, id: identityId(i.name) }]));
    // Execution records get increasing ids in start order, across all connections (the service's
    // ids are a global sequence); the continuation token is the id of the first record of the next page.
    const all = this.endpoints.flatMap((ep) => (ep.emulator?.executions ?? []) as ExecutionSeed[]);
    all
      .map((x, i) => ({ x, i, t: Date.parse(x.startTime) }))
      .sort((a, b) => a.t - b.t || a.x.runId - b.x.runId || a.i - b.i)
      .forEach((e, n) => this.executionIds.set(e.x, 7_300_001 + n));
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
    return clone(this.find(id));
  }

  addFault(f: Fault): void {
    this.faults.push({ ...f, remaining: f.count ?? 1 });
  }

  setLatencyMs(ms: number): void {
    this.latencyMs = ms;
  }

  setClock(nowMs: () => number): void {
    this.now = nowMs;
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // --- plumbing --------------------------------------------------------------------------------

  private sleep(ms: number): Promise<void> {
    if (!(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private identify(header: string | undefined): Identity | undefined {
    if (!header) return undefined;
    const [scheme, value = ''] = header.split(/\s+/, 2);
    let token = value;
    // Basic with a PAT as password is accepted too (handy for curl -u :demo-admin-pat).
    if (ieq(scheme, 'basic')) token = Buffer.from(value, 'base64').toString('utf8').split(':').slice(1).join(':');
    else if (!ieq(scheme, 'bearer')) return undefined;
    return this.identities.get(token);
  }

  private takeFault(method: string, path: string): (Fault & { remaining: number }) | undefined {
    const f = this.faults.find(
      (x) =>
        x.remaining > 0 &&
        (!x.method || ieq(x.method, method)) &&
        (x.path === undefined || (typeof x.path === 'string' ? path.includes(x.path) : ((x.path.lastIndex = 0), x.path.test(path)))),
    );
    if (!f) return undefined;
    f.remaining--;
    this.faults = this.faults.filter((x) => x.remaining > 0);
    return f;
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

    const fault = this.takeFault(method, path);
    if (fault) rec.fault = fault.kind ?? 'respond';
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }

    const raw = await readBody(req);
    const body = raw ? (parseJson(raw) ?? raw) : undefined;
    if (body !== undefined && method !== 'GET' && method !== 'OPTIONS') rec.body = body;
    if (fault?.kind === 'delay') await this.sleep(fault.delayMs ?? 0);

    if (fault?.kind === 'flip-first' && method === 'PUT') this.flip(segments[segments.length - 1], body);
    let reply: Reply;
    if (fault && rec.fault === 'respond') reply = this.faultReply(fault);
    else if (fault?.kind === 'redirect') reply = { status: fault.status ?? 302, headers: { Location: fault.location ?? 'http://127.0.0.1:9/' }, body: '' };
    else if (fault?.kind === 'sign-in') reply = { status: 203, headers: { 'Content-Type': 'text/html; charset=utf-8' }, body: SIGN_IN_PAGE };
    else reply = this.handle(method, segments, query, identity, !!req.headers.authorization, body, apiVersion);
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
    await this.sleep(this.latencyMs);
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
      const t = setTimeout(() => {
        this.timers.delete(t);
        next();
      }, intervalMs);
      this.timers.add(t);
    };
    next();
  }

  /** 'flip-first': another actor changes the connection to the scheme this PUT asks for, just before it arrives. */
  private flip(id: string, body: unknown): void {
    const ep = this.find(id);
    const target = prop(prop(body as Obj, 'authorization') as Obj, 'scheme');
    if (!ep) return;
    const current = String(ep.authorization?.scheme ?? '');
    if (ieq(target, WIF) && ieq(current, SPN)) this.complete(ep);
    else if (ieq(target, SPN) && ieq(current, WIF)) this.revert(ep);
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
    hasAuthHeader: boolean,
    body: unknown,
    apiVersion: string | undefined,
  ): Reply {
    const path = '/' + segs.join('/');
    if (!segs.length || !ieq(segs[0], this.seed.organization.name)) return notFoundRoute(path);
    const apis = segs.findIndex((s) => ieq(s, '_apis'));
    if (apis < 1 || apis > 2) return notFoundRoute(path);
    const projectSeg = apis === 2 ? segs[1] : undefined;
    const [area = '', resource, endpointId, ...extra] = segs.slice(apis + 1);
    const areaL = area.toLowerCase();

    // Location metadata is served anonymously, but a token that is present and wrong is rejected.
    const metadata = !projectSeg && ((method === 'OPTIONS' && !resource) || (method === 'GET' && areaL === 'resourceareas'));
    if (metadata) {
      if (hasAuthHeader && !identity) return this.unauthorized();
      if (method === 'OPTIONS') {
        const locations = AREA_LOCATIONS[areaL];
        return locations ? { status: 200, body: { count: locations.length, value: locations } } : notFoundRoute(path);
      }
      return this.resourceAreas(resource);
    }
    if (!identity) return this.unauthorized();
    if (method === 'GET' && areaL === 'connectiondata' && !projectSeg && !resource) return this.connectionData(identity);
    const impact = this.routeImpact(method, path, projectSeg, segs.slice(apis + 1), query, identity, body, apiVersion);
    if (impact) return impact;
    if (areaL !== 'serviceendpoint' || !ieq(resource, 'endpoints') || extra.length) return notFoundRoute(path);

    const versionError = this.checkApiVersion(apiVersion, projectSeg ? SE_PROJECT_LOCATION : SE_ORG_LOCATION);
    if (versionError) return versionError;
    let project: { id: string; name: string } | undefined;
    if (projectSeg !== undefined) {
      project = this.findProject(projectSeg);
      if (!project) return projectNotFound(projectSeg);
    }
    if (method === 'GET' && !endpointId) {
      return project ? this.list(project, query, identity) : notFoundRoute(path);
    }
    if (method === 'GET') return this.getById(endpointId, project);
    if (method === 'PUT' && endpointId) return this.put(endpointId, query, identity, body);
    return methodNotAllowed(method);
  }

  /** The requested api-version must be in range; a version above the released one needs "-preview". */
  private checkApiVersion(v: string | undefined, loc: ApiLocation): Reply | undefined {
    if (!v) return undefined;
    const m = /^(\d+(?:\.\d+)?)(-preview(?:\.\d+)?)?$/i.exec(v);
    if (!m) return errorReply(400, 'VssVersionOutOfRangeException', `The api-version '${v}' is not valid.`);
    if (+m[1] > +loc.maxVersion) {
      return errorReply(
        400,
        'VssVersionOutOfRangeException',
        `The requested REST API version of ${m[1]} is out of range for this server. The latest REST API version for this server is ${loc.maxVersion}.`,
      );
    }
    if (+m[1] > +loc.releasedVersion && !m[2]) {
      return errorReply(
        400,
        'VssInvalidPreviewVersionException',
        `The requested version "${v}" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "${v}-preview"`,
      );
    }
    return undefined;
  }

  private resourceAreas(areaId: string | undefined): Reply {
    const value = Object.entries(RESOURCE_AREAS).map(([name, id]) => ({ id, name, locationUrl: this.url }));
    if (areaId) {
      const a = value.find((x) => ieq(x.id, areaId));
      return a ? { status: 200, body: a } : notFoundRoute(`/_apis/ResourceAreas/${areaId}`);
    }
    return { status: 200, body: { count: value.length, value } };
  }

  private connectionData(identity: Identity): Reply {
    const user = {
      id: identity.id,
      descriptor: `Microsoft.TeamFoundation.ServiceIdentity;${identity.id}`,
      subjectDescriptor: `svc.${Buffer.from(identity.id).toString('base64url')}`,
      providerDisplayName: identity.name,
      isActive: true,
      properties: {},
      resourceVersion: 2,
      metaTypeId: 0,
    };
    return {
      status: 200,
      body: {
        authenticatedUser: user,
        authorizedUser: user,
        instanceId: this.seed.organization.id,
        deploymentId: identityId(`deployment:${this.seed.organization.id}`),
        deploymentType: 'hosted',
        locationServiceData: {
          serviceOwner: '00025394-6065-48ca-87d9-7f5672854ef7',
          defaultAccessMappingMoniker: 'PublicAccessMapping',
          lastChangeId: 1,
          lastChangeId64: 1,
        },
      },
    };
  }

  // --- impact check: execution history, build timelines, pipeline preview, task catalogue ------

  /** Routes of the impact check; undefined when the request is none of them. */
  private routeImpact(
    method: string,
    path: string,
    projectSeg: string | undefined,
    rest: string[],
    query: Record<string, string>,
    identity: Identity,
    body: unknown,
    apiVersion: string | undefined,
  ): Reply | undefined {
    const [area = '', a, b, c, d] = rest;
    const areaL = area.toLowerCase();
    let loc: ApiLocation;
    let verb = 'GET';
    let answer: (project: { id: string; name: string } | undefined) => Reply;
    if (areaL === 'serviceendpoint' && rest.length === 3 && ieq(b, 'executionhistory')) {
      loc = SE_EXECUTION_HISTORY_LOCATION;
      answer = (project) => this.executionHistory(project!, a, query);
    } else if (areaL === 'build' && (rest.length === 4 || rest.length === 5) && ieq(a, 'builds') && ieq(c, 'timeline')) {
      loc = BUILD_TIMELINE_LOCATION;
      answer = (project) => this.timeline(project!, b, d, path);
    } else if (areaL === 'pipelines' && rest.length === 3 && ieq(b, 'preview')) {
      loc = PIPELINES_PREVIEW_LOCATION;
      verb = 'POST';
      answer = (project) => this.preview(project!, a, body, identity, path);
    } else if (areaL === 'distributedtask' && rest.length >= 2 && rest.length <= 4 && ieq(a, 'tasks')) {
      loc = TASK_DEFINITIONS_LOCATION;
      answer = () => this.taskDefinitions(b, c);
    } else {
      return areaL === 'serviceendpoint' ? undefined : notFoundRoute(path);
    }
    const projectScoped = loc.routeTemplate.startsWith('{project}');
    if (projectScoped !== (projectSeg !== undefined)) return notFoundRoute(path);
    if (method !== verb) return methodNotAllowed(method);
    const versionError = this.checkApiVersion(apiVersion, loc);
    if (versionError) return versionError;
    if (projectSeg === undefined) return answer(undefined);
    const project = this.findProject(projectSeg);
    return project ? answer(project) : projectNotFound(projectSeg);
  }

  /**
   * GET {project}/_apis/serviceendpoint/{endpointId}/executionhistory?top=&continuationToken=
   * {count, value} newest first; when more remain, the id of the next record is sent in the
   * X-MS-ContinuationToken header and the next call passes it back as continuationToken.
   */
  private executionHistory(project: { id: string }, endpointId: string, query: Record<string, string>): Reply {
    const ep = this.find(endpointId);
    if (!ep || !this.sharedWith(ep, project.id)) return notFoundEndpoint(endpointId);
    const int = (name: string): number | undefined | Reply => {
      const raw = prop(query, name) as string | undefined;
      if (raw === undefined || raw === '') return undefined;
      return /^-?\d+$/.test(raw) ? Number(raw) : badRequest(`The value '${raw}' is not valid for ${name}.`);
    };
    const top = int('top');
    const token = int('continuationToken');
    if (isObj(top)) return top;
    if (isObj(token)) return token;
    const cap = this.seed.executionPageSize ?? Infinity;
    const size = Math.max(1, Math.min(top !== undefined && top > 0 ? top : DEFAULT_EXECUTION_PAGE, cap));
    const all = ((ep.emulator?.executions ?? []) as ExecutionSeed[]).map((x) => ({ x, id: this.executionIds.get(x) ?? 0 })).sort((p, q) => q.id - p.id);
    const start = token === undefined ? 0 : all.findIndex((r) => r.id <= token);
    const page = start < 0 ? [] : all.slice(start, start + size);
    const next = start < 0 ? undefined : all[start + size];
    const value = page.map((r) => this.executionRecord(ep, r.x, r.id, project));
    return {
      status: 200,
      headers: next ? { 'X-MS-ContinuationToken': String(next.id) } : undefined,
      body: { count: value.length, value },
    };
  }

  private executionRecord(ep: Obj, x: ExecutionSeed, id: number, project: { id: string }): Obj {
    const start = Date.parse(x.startTime);
    const finish = x.finishTime !== undefined ? Date.parse(x.finishTime) : start + 3 * 60_000;
    const base = `${this.url}${project.id}`;
    const release = ieq(x.planType, 'Release');
    const runName = x.runName ?? (release ? `Release-${x.runId}` : `${new Date(start).toISOString().slice(0, 10).replace(/-/g, '')}.1`);
    const link = (web: string, self: string) => ({ web: { href: web }, self: { href: self } });
    return {
      data: {
        id,
        planType: x.planType,
        definition: {
          id: x.definitionId,
          name: x.definitionName,
          _links: release
            ? link(`${base}/_release?definitionId=${x.definitionId}`, `${base}/_apis/Release/definitions/${x.definitionId}`)
            : link(`${base}/_build/definition?definitionId=${x.definitionId}`, `${base}/_apis/build/Definitions/${x.definitionId}`),
        },
        owner: {
          id: x.runId,
          name: runName,
          _links: release
            ? link(`${base}/_release?releaseId=${x.runId}&_a=release-summary`, `${base}/_apis/Release/releases/${x.runId}`)
            : link(`${base}/_build/results?buildId=${x.runId}`, `${base}/_apis/build/Builds/${x.runId}`),
        },
        startTime: new Date(start).toISOString(),
        finishTime: new Date(finish).toISOString(),
        result: x.result ?? 'succeeded',
      },
      endpointId: ep.id,
    };
  }

  /** GET {project}/_apis/build/builds/{buildId}/Timeline[/{timelineId}] */
  private timeline(project: { id: string }, buildIdSeg: string, timelineIdSeg: string | undefined, path: string): Reply {
    if (!/^\d+$/.test(buildIdSeg)) return notFoundRoute(path);
    const buildId = Number(buildIdSeg);
    const build = this.seed.builds?.[String(buildId)];
    if (!build) return errorReply(404, 'BuildNotFoundException', `The requested build ${buildId} could not be found.`);
    const timelineId = identityId(`timeline:${this.seed.organization.id}:${buildId}`);
    if (timelineIdSeg && !ieq(timelineIdSeg, timelineId)) {
      return errorReply(404, 'TimelineNotFoundException', `The timeline ${timelineIdSeg} for build ${buildId} could not be found.`);
    }
    // Times come from the execution record of this build when there is one.
    const run = this.endpoints.flatMap((ep) => (ep.emulator?.executions ?? []) as ExecutionSeed[]).find((x) => ieq(x.planType, 'Build') && x.runId === buildId);
    const start = run ? Date.parse(run.startTime) : this.now() - 10 * 60_000;
    const finish = run?.finishTime !== undefined ? Date.parse(run.finishTime) : start + 3 * 60_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const base = `${this.url}${project.id}/_apis/build/builds/${buildId}`;
    const order = new Map<string | undefined, number>();
    const records = build.records.map((r, i) => {
      const n = (order.get(r.parentId) ?? 0) + 1;
      order.set(r.parentId, n);
      const hasLog = ieq(r.type, 'Task') || ieq(r.type, 'Job');
      return {
        previousAttempts: [],
        id: r.id,
        parentId: r.parentId ?? null,
        type: r.type,
        name: r.name,
        startTime: iso(start),
        finishTime: iso(finish),
        currentOperation: null,
        percentComplete: 100,
        state: 'completed',
        result: r.result ?? 'succeeded',
        resultCode: null,
        changeId: i + 1,
        lastModified: iso(finish),
        workerName: hasLog ? 'Hosted Agent' : null,
        order: n,
        details: null,
        errorCount: 0,
        warningCount: 0,
        url: null,
        log: hasLog ? { id: i + 2, type: 'Container', url: `${base}/logs/${i + 2}` } : null,
        task: r.task ? { id: r.task.id, name: r.task.name, version: r.task.version } : null,
        attempt: 1,
        identifier: null,
      };
    });
    return {
      status: 200,
      body: {
        records,
        lastChangedBy: '00000002-0000-8888-8000-000000000000',
        lastChangedOn: iso(finish),
        id: timelineId,
        changeId: records.length,
        url: `${base}/Timeline/${timelineId}`,
      },
    };
  }

  /** POST {project}/_apis/pipelines/{pipelineId}/preview with RunPipelineParameters -> {finalYaml}. */
  private preview(project: { name: string }, pipelineIdSeg: string, body: unknown, identity: Identity, path: string): Reply {
    if (!/^\d+$/.test(pipelineIdSeg)) return notFoundRoute(path);
    const id = Number(pipelineIdSeg);
    const p = this.seed.pipelines?.[String(id)];
    if (!p) return errorReply(404, 'PipelineNotFoundException', `Pipeline with id ${id} not found.`);
    if (!isObj(body)) return badRequest("Value cannot be null. (Parameter 'runParameters')");
    if (p.preview === 'forbidden') {
      // TF215106 is the Build service's access-denied message; the permission is the one the
      // preview needs to expand the pipeline's YAML.
      return errorReply(
        403,
        'AccessDeniedException',
        `TF215106: Access denied. ${identity.name} needs Edit build pipeline permissions for build pipeline ${p.name} in team project ${project.name} to perform the action. For more information, contact the Azure DevOps Server administrator.`,
      );
    }
    if (p.preview === 'not-yaml') {
      return errorReply(400, 'PipelineValidationException', `Pipeline ${p.name} (id ${id}) is not a YAML pipeline. Only YAML pipelines can be previewed.`);
    }
    const override = prop(body, 'yamlOverride');
    const finalYaml =
      typeof override === 'string' && override
        ? override
        : (p.finalYaml ?? `# ${p.name}\ntrigger:\n  branches:\n    include:\n    - main\nsteps:\n- script: echo ${p.name}\n  displayName: Build\n`);
    return { status: 200, body: { finalYaml } };
  }

  /** GET _apis/distributedtask/tasks[/{taskId}[/{versionString}]]: the organization's task catalogue. */
  private taskDefinitions(taskId: string | undefined, versionString: string | undefined): Reply {
    const defs = (this.seed.taskDefinitions ?? DEFAULT_TASK_DEFINITIONS).map((d) => {
      const v = d.version;
      return {
        id: d.id,
        name: d.name,
        friendlyName: d.friendlyName ?? d.name,
        description: '',
        category: 'Deploy',
        author: d.author,
        version: { major: v.major, minor: v.minor, patch: v.patch, isTest: false },
        visibility: ['Build', 'Release'],
        runsOn: ['Agent', 'DeploymentGroup'],
        definitionType: 'task',
        serverOwned: !d.contributionIdentifier,
        ...(d.contributionIdentifier
          ? { contributionIdentifier: d.contributionIdentifier, contributionVersion: d.contributionVersion ?? `${v.major}.${v.minor}.${v.patch}` }
          : {}),
      };
    });
    const value = taskId ? defs.filter((d) => ieq(d.id, taskId)) : defs;
    if (!versionString) return { status: 200, body: { count: value.length, value } };
    const matches = value.filter((d) => {
      const v = d.version;
      return [`${v.major}.${v.minor}.${v.patch}`, `${v.major}`, `${v.major}.*`].includes(versionString);
    });
    const one = matches.sort((p, q) => q.version.minor - p.version.minor || q.version.patch - p.version.patch)[0];
    return one
      ? { status: 200, body: one }
      : errorReply(404, 'TaskDefinitionNotFoundException', `Task definition ${taskId} with version ${versionString} could not be found.`);
  }

  // --- model helpers ---------------------------------------------------------------------------

  private find(id: string): Obj | undefined {
    return this.endpoints.find((e) => ieq(e.id, id));
  }

  private findProject(nameOrId: string) {
    return this.seed.projects.find((p) => ieq(p.id, nameOrId) || ieq(p.name, nameOrId));
  }

  private refs(ep: Obj): Obj[] {
    return Array.isArray(ep.serviceEndpointProjectReferences) ? ep.serviceEndpointProjectReferences : [];
  }

  private sharedWith(ep: Obj, projectId: string): boolean {
    return this.refs(ep).some((r) => ieq(r?.projectReference?.id, projectId));
  }

  private isAdmin(ep: Obj, identity: Identity): boolean {
    return (ep.emulator?.administrators ?? this.seed.defaultAdministrators).includes(identity.name);
  }

  /** The hidden secret stored for a secret-based endpoint (a null sent by a client never equals it). */
  private secretOf(ep: Obj): string | undefined {
    return ep.emulator?.secret ?? (prop(ep.authorization?.parameters, 'serviceprincipalkey') !== undefined ? `emulator-secret-${ep.id}` : undefined);
  }

  /** What a client sees: no emulator knobs, secrets null (§1). */
  private publicView(ep: Obj): Obj {
    const c = clone(ep);
    delete c.emulator;
    const params = c.authorization?.parameters;
    if (isObj(params)) for (const k of Object.keys(params)) if (SECRET_KEYS.includes(k.toLowerCase())) params[k] = null;
    return c;
  }

  // --- service endpoints -----------------------------------------------------------------------

  private list(project: { id: string }, query: Record<string, string>, identity: Identity): Reply {
    const q = (name: string) => prop(query, name) as string | undefined;
    const csv = (v: string | undefined) =>
      v
        ? v
            .split(',')
            .map((s) => s.trim().toLowerCase())
            .filter(Boolean)
        : undefined;
    const type = q('type');
    const schemes = csv(q('authSchemes'));
    const ids = csv(q('endpointIds'));
    const owner = q('owner');
    const includeFailed = ieq(q('includeFailed'), 'true');
    const action = (q('actionFilter') ?? '').toLowerCase();
    const manageOnly = action === '2' || action === 'manage';
    const value = this.endpoints
      .filter((ep) => this.sharedWith(ep, project.id))
      .filter((ep) => !type || ieq(ep.type, type))
      .filter((ep) => !schemes || schemes.includes(String(ep.authorization?.scheme ?? '').toLowerCase()))
      .filter((ep) => !ids || ids.includes(String(ep.id).toLowerCase()))
      .filter((ep) => !owner || ieq(ep.owner, owner))
      // §1: without includeFailed=true, endpoints with isReady false are left out.
      .filter((ep) => includeFailed || ep.isReady !== false)
      .filter((ep) => !manageOnly || this.isAdmin(ep, identity))
      .map((ep) => this.publicView(ep));
    // §1: an envelope with no paging.
    return { status: 200, body: { count: value.length, value } };
  }

  private getById(id: string, project: { id: string } | undefined): Reply {
    const ep = this.find(id);
    if (!ep || (project && !this.sharedWith(ep, project.id))) return notFoundEndpoint(id);
    this.advance(ep);
    return { status: 200, body: this.publicView(ep) };
  }

  /** Async conversion: each GET by id is one step of the background job (§4, the 202 case). */
  private advance(ep: Obj): void {
    const pending = ep.emulator?.pending as EndpointBehaviour['pending'];
    if (!pending) return;
    pending.gets++;
    if (pending.gets < Math.max(1, ep.emulator.completeAfterGets ?? 1)) return;
    if (pending.mode === 'async') this.complete(ep);
    else if (pending.mode === 'aad-silent-failure-async') this.fail(ep, this.aadMessage(pending.identityId));
    else
      this.fail(
        ep,
        `Failed to add a federated identity credential to application ${String(prop(ep.authorization?.parameters, 'serviceprincipalid'))}: Insufficient privileges to complete the operation.`,
      );
  }

  private aadMessage(identityIdValue: string): string {
    return `Failed to obtain an access token of identity ${identityIdValue}. AAD returned silent failure.`;
  }

  /** Finishes a conversion: WIF, issuer/subject set, secret moved to hidden recovery data, 7-day revert window. */
  private complete(ep: Obj): void {
    const params: Obj = ep.authorization.parameters ?? {};
    const emu: EndpointBehaviour = (ep.emulator ??= {});
    emu.recovery = { parameters: clone(params), secret: this.secretOf(ep) };
    delete emu.secret;
    delete emu.pending;
    const tenantId = String((prop(params, 'tenantid') as string | undefined) ?? '');
    const org = this.seed.organization;
    const next = clone(params);
    deleteKeys(next, ['authenticationtype', 'serviceprincipalkey', 'serviceprincipalcertificate']);
    if (this.seed.issuer === 'azuredevops') {
      const home = this.refs(ep)[0]?.projectReference?.name ?? '';
      next.workloadIdentityFederationIssuer = `https://vstoken.dev.azure.com/${org.id}`;
      next.workloadIdentityFederationSubject = `sc://${org.name}/${home}/${ep.name}`;
    } else {
      // §7: the Entra issuer's subject is opaque; this imitates its observed shape.
      next.workloadIdentityFederationIssuer = `https://login.microsoftonline.com/${tenantId}/v2.0`;
      next.workloadIdentityFederationSubject = GUID_RE.test(tenantId)
        ? `/eid1/c/pub/t/${guidToBase64Url(tenantId)}/a/${guidToBase64Url(AZURE_DEVOPS_APP_ID)}/sc/${org.id}/${ep.id}`
        : `/eid1/c/pub/t/${Buffer.from(tenantId).toString('base64url')}/a/${guidToBase64Url(AZURE_DEVOPS_APP_ID)}/sc/${org.id}/${ep.id}`;
    }
    ep.authorization = { ...ep.authorization, scheme: WIF, parameters: next };
    ep.data = { ...(ep.data ?? {}), revertSchemeDeadline: new Date(this.now() + REVERT_WINDOW_MS).toISOString() };
    ep.isReady = true;
    ep.operationStatus = { state: 'Ready', statusMessage: '' };
  }

  /** §4: a failed FIC step is stored as {Failed, converting_scheme_failed}; the scheme stays. */
  private fail(ep: Obj, reason: string): void {
    if (ep.emulator) delete ep.emulator.pending;
    ep.isReady = false;
    ep.operationStatus = { state: 'Failed', statusMessage: `converting_scheme_failed: ${reason}` };
  }

  private put(id: string, query: Record<string, string>, identity: Identity, body: unknown): Reply {
    const ep = this.find(id);
    if (!ep) return notFoundEndpoint(id);
    const name = String(ep.name);

    const operation = String((prop(query, 'operation') as string | undefined) ?? '');
    if (!ieq(operation, CONVERT) || this.seed.conversionDisabled) {
      // §9: this is also what an organization without the conversion feature answers.
      return invalidOperation(`Operation '${operation || ''}' is invalid. Allowed operation values are: 'Refresh', 'UpdateSecret'.`);
    }
    if (!this.isAdmin(ep, identity)) {
      return errorReply(
        403,
        'AccessCheckException',
        `Access denied. ${identity.name} needs Administrator permissions on service connection ${name} to perform this action. You need to be an Administrator on this service connection.`,
      );
    }

    // Body rules (§4): type, authorization.scheme and the scope project reference are required.
    if (!isObj(body)) return badRequest("Value cannot be null. (Parameter 'endpoint')");
    const sentType = prop(body, 'type');
    const target = prop(prop(body, 'authorization') as Obj, 'scheme');
    const sentRefs = prop(body, 'serviceEndpointProjectReferences');
    const scopeId = Array.isArray(sentRefs) ? prop(prop(sentRefs[0], 'projectReference') as Obj, 'id') : undefined;
    if (typeof sentType !== 'string' || !sentType) return badRequest("Value cannot be null. (Parameter 'endpoint.Type')");
    if (typeof target !== 'string' || !target) return badRequest("Value cannot be null. (Parameter 'endpoint.Authorization.Scheme')");
    if (typeof scopeId !== 'string' || !scopeId) {
      return badRequest("Value cannot be null. (Parameter 'endpoint.ServiceEndpointProjectReferences[0].ProjectReference.Id')");
    }
    const home = this.refs(ep)[0]?.projectReference ?? {};
    if (!ieq(scopeId, home.id)) {
      // §3: a shared connection can only be converted from its home project ([0]).
      const other = this.findProject(scopeId)?.name ?? scopeId;
      return badRequest(
        `Service connection ${name} can only be converted from its home project '${home.name}', not from project '${other}'. The conversion affects every project the connection is shared with.`,
      );
    }

    // §4: every other field sent must equal the stored value; this is where a client that
    // resends the whole endpoint (null secret, re-serialised dates…) fails.
    const stored = clone(ep);
    delete stored.emulator;
    const secret = this.secretOf(ep);
    if (isObj(stored.authorization?.parameters)) {
      for (const k of Object.keys(stored.authorization.parameters)) {
        if (k.toLowerCase() === 'serviceprincipalkey') stored.authorization.parameters[k] = secret;
      }
    }
    const rest = clone<Obj>(body);
    for (const k of Object.keys(rest)) {
      if (k.toLowerCase() === 'type') delete rest[k];
      else if (k.toLowerCase() === 'authorization' && isObj(rest[k])) deleteKeys(rest[k], ['scheme']);
    }
    const diff = ieq(sentType, ep.type) ? firstDifference(rest, stored, '') : 'type';
    if (diff) {
      return badRequest('Properties cannot be changed during service connection upgrade. Only the authentication scheme can be changed.', diff);
    }

    const status = ep.operationStatus ?? {};
    if (status.state === 'InProgress' && status.statusMessage !== 'converting_scheme') {
      return invalidOperation(`Service connection ${name} cannot be updated because another operation is already in progress. Try again once it has finished.`);
    }

    const current = String(ep.authorization?.scheme ?? '');
    if (ieq(target, SPN) && ieq(current, WIF)) return this.revert(ep);
    if (!(ieq(target, WIF) && ieq(current, SPN))) {
      return invalidOperation(
        `Changing the authentication scheme of service connection ${name} from '${current}' to '${target}' is neither an upgrade or a downgrade.`,
      );
    }
    if (ieq(ep.data?.environment, 'AzureStack')) {
      return invalidOperation(
        `Unable to connect to the Azure Stack environment of service connection ${name}: workload identity federation is not supported for Azure Stack.`,
      );
    }

    const emu: EndpointBehaviour = ep.emulator ?? {};
    let mode = emu.conversion ?? 'auto';
    if (mode === 'auto') {
      if (!ieq(ep.data?.creationMode, 'Manual')) mode = 'async';
      else if (emu.federatedCredential) mode = 'sync';
      else {
        return invalidOperation(
          `Service connection ${name} could not be upgraded to use workload identity federation. The service principal could not be configured automatically, and no valid configuration exists.`,
        );
      }
    }
    switch (mode) {
      case 'sync':
        this.complete(ep);
        return { status: 200, body: this.publicView(ep) };
      case 'aad-silent-failure': {
        const message = this.aadMessage(identity.id);
        this.fail(ep, message);
        return errorReply(500, 'AadAccessSilentException', message);
      }
      default:
        // §4: 202 with the endpoint unchanged except {InProgress, converting_scheme}; a
        // PUT while that is pending is not an error (it does not block a retry): 202 again.
        if (!emu.pending) {
          ep.emulator = { ...emu, pending: { gets: 0, mode, identityId: identity.id } };
          ep.isReady = true;
          ep.operationStatus = { state: 'InProgress', statusMessage: 'converting_scheme' };
        }
        return { status: 202, body: this.publicView(ep) };
    }
  }

  /** §5: revert restores the old secret while the 7-day window is open and recovery data exist. */
  private revert(ep: Obj): Reply {
    const recovery = ep.emulator?.recovery as EndpointBehaviour['recovery'];
    const deadline = Date.parse(String(ep.data?.revertSchemeDeadline ?? ''));
    if (!recovery || !(this.now() < deadline)) {
      return invalidOperation(
        `Service connection ${ep.name} could not be downgraded to use a service principal secret as no recovery data exist for this endpoint.`,
      );
    }
    ep.authorization = { ...ep.authorization, scheme: SPN, parameters: clone(recovery.parameters) };
    if (recovery.secret !== undefined) ep.emulator.secret = recovery.secret;
    delete ep.emulator.recovery;
    delete ep.data.revertSchemeDeadline;
    ep.isReady = true;
    ep.operationStatus = { state: 'Ready', statusMessage: '' };
    return { status: 200, body: this.publicView(ep) };
  }
}

// ---------------------------------------------------------------------------------------------

function validateSeed(seed: Seed, where: string): void {
  const fail = (m: string) => {
    throw new Error(`Invalid emulator seed (${where}): ${m}`);
  };
  if (!seed || typeof seed !== 'object') fail('not an object');
  if (!seed.organization?.name || !seed.organization?.id) fail('organization.name and organization.id are required');
  for (const k of ['projects', 'identities', 'defaultAdministrators', 'endpoints'] as const) {
    if (!Array.isArray(seed[k])) fail(`${k} must be an array`);
  }
  const ids = new Set<string>();
  for (const ep of seed.endpoints) {
    const id = String((ep.id as string | undefined) ?? '').toLowerCase();
    if (!id || !ep.name || !ep.type) fail(`endpoint ${JSON.stringify(ep.name ?? ep.id)} needs id, name and type`);
    if (ids.has(id)) fail(`duplicate endpoint id ${id}`);
    ids.add(id);
    const refs = ep.serviceEndpointProjectReferences;
    if (!Array.isArray(refs) || !refs.length) fail(`endpoint ${String(ep.name)} needs serviceEndpointProjectReferences`);
    const executions = ep.emulator?.executions;
    if (executions !== undefined && !Array.isArray(executions)) fail(`endpoint ${String(ep.name)}: emulator.executions must be an array`);
    for (const [i, x] of (executions ?? []).entries()) {
      const at = `endpoint ${String(ep.name)}: emulator.executions[${i}]`;
      if (x?.planType !== 'Build' && x?.planType !== 'Release') fail(`${at}.planType must be 'Build' or 'Release'`);
      if (!Number.isInteger(x.definitionId) || !Number.isInteger(x.runId)) fail(`${at} needs integer definitionId and runId`);
      if (typeof x.definitionName !== 'string' || !x.definitionName) fail(`${at} needs definitionName`);
      if (!isTime(x.startTime)) fail(`${at}.startTime must be an ISO date or an offset like "-3d"`);
      if (x.finishTime !== undefined && !isTime(x.finishTime)) fail(`${at}.finishTime must be an ISO date or an offset like "-3d"`);
      if (x.result !== undefined && !EXECUTION_RESULTS.includes(x.result)) fail(`${at}.result must be one of ${EXECUTION_RESULTS.join(', ')}`);
    }
  }
  if (seed.executionPageSize !== undefined && !(Number.isInteger(seed.executionPageSize) && seed.executionPageSize > 0)) {
    fail('executionPageSize must be a positive integer');
  }
  for (const [id, b] of Object.entries(seed.builds ?? {})) {
    if (!/^\d+$/.test(id) || !b || !Number.isInteger(b.definitionId) || !Array.isArray(b.records)) {
      fail(`builds["${id}"] needs a numeric key, an integer definitionId and records[]`);
    }
    for (const r of b.records) {
      if (!r?.id || !r.type || typeof r.name !== 'string') fail(`builds["${id}"]: each record needs id, type and name`);
      if (r.task && !(r.task.id && r.task.name && r.task.version)) fail(`builds["${id}"]: record ${r.name}: task needs id, name and version`);
    }
  }
  for (const [id, pl] of Object.entries(seed.pipelines ?? {})) {
    if (!/^\d+$/.test(id) || !pl?.name) fail(`pipelines["${id}"] needs a numeric key and a name`);
    if (pl.preview !== undefined && !['ok', 'forbidden', 'not-yaml'].includes(pl.preview))
      fail(`pipelines["${id}"].preview must be 'ok', 'forbidden' or 'not-yaml'`);
  }
  if (seed.taskDefinitions !== undefined) {
    if (!Array.isArray(seed.taskDefinitions)) fail('taskDefinitions must be an array');
    for (const d of seed.taskDefinitions) {
      const v = d?.version;
      if (!d?.id || !d.name || typeof d.author !== 'string' || !v || ![v.major, v.minor, v.patch].every(Number.isInteger)) {
        fail(`taskDefinitions: ${JSON.stringify(d?.name ?? d)} needs id, name, author and version {major, minor, patch}`);
      }
    }
  }
}

function isTime(v: unknown): boolean {
  return typeof v === 'string' && (RELATIVE_TIME_RE.test(v) || !Number.isNaN(Date.parse(v)));
}

/**
 * Replaces relative times ("-3d", "-12h", "-45m": that long before nowMs) in every startTime /
 * finishTime field of the seed with ISO strings. Other values are left as they are.
 */
export function resolveRelativeTimes<T>(value: T, nowMs: number): T {
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) {
        const m = (k === 'startTime' || k === 'finishTime') && typeof x === 'string' ? RELATIVE_TIME_RE.exec(x) : null;
        if (m) v[k] = new Date(nowMs - Number(m[1]) * TIME_UNIT_MS[m[2]]).toISOString();
        else walk(x);
      }
    }
  };
  walk(value);
  return value;
}

/**
 * Reads a seed file; top-level keys starting with "comment" are ignored. Relative times ("-3d")
 * are kept as written here and resolved by startEmulator.
 */
export function loadSeed(file: string): Seed {
  const seed = JSON.parse(fs.readFileSync(file, 'utf8')) as Seed & Record<string, unknown>;
  for (const k of Object.keys(seed)) if (k.toLowerCase().startsWith('comment')) delete seed[k];
  validateSeed(seed, file);
  return seed;
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
