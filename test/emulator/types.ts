// Types shared by the emulator's server and the services it imitates: the seed (what a test
// sets up), and the seam between the server and a service (Reply, ServiceRequest, Service).
/** Emulator-only knobs, stored per endpoint under the key "emulator"; never returned to clients. */
export interface EndpointBehaviour {
  /**
   * 'auto' (default), as the service decides (serviceEndpoints.ts, "How a conversion is decided"):
   * - the federated credential the service would assign already exists on the connection's app
   *   (and has propagated) -> 'sync' (200), for Automatic and Manual connections alike;
   * - else Manual -> 400 "could not be upgraded… no valid configuration exists";
   * - else (Automatic) a caller of kind 'service' (a job identity: no Entra token for Azure DevOps
   *   to add the credential with) -> the AAD silent failure, delivered as `aadSilentFailure` says;
   * - else (Automatic, a 'user') -> 'async' (202); the background job adds the credential to the
   *   app of the attached directory (Emulator.attachDirectory), if any.
   * Any other value forces that behaviour whoever calls and whatever exists ('async': the
   * background job succeeds, as it does for a user whose Entra sign-in Azure DevOps holds).
   */
  conversion?: 'auto' | 'sync' | 'async' | 'async-fail' | 'aad-silent-failure' | 'aad-silent-failure-async';
  /** How 'auto' delivers the AAD silent failure for this connection; default seed.aadSilentFailure. */
  aadSilentFailure?: AadSilentFailureDelivery;
  /** Async modes: the background job finishes on the Nth GET by id after the PUT (that GET sees the result). Default 1. */
  completeAfterGets?: number;
  /**
   * Without an attached directory: the federated credential the service would assign already
   * exists on the app (usable). With a directory attached, the directory decides and this is ignored.
   */
  federatedCredential?: boolean;
  /** Identity names with the Administrator role on this connection; default seed.defaultAdministrators. */
  administrators?: string[];
  /** The stored client secret (never returned; restored on revert). */
  secret?: string;
  /** State kept by the emulator: the pre-conversion parameters and secret (the revert source). */
  recovery?: { parameters: Record<string, unknown>; secret?: string };
  /** How the issuer migration route answers for this connection; default seed.migration (migration.ts). */
  migration?: MigrationMode;
  /** State kept by the emulator: an accepted async conversion waiting for its background job. */
  pending?: { gets: number; mode: string; identityId: string };
  /** Runs that used this connection: served by GET {project}/_apis/serviceendpoint/{id}/executionhistory. */
  executions?: ExecutionSeed[];
}

/**
 * How the service answers an Automatic conversion it cannot do because the caller has no Entra
 * token (AadAccessSilentException, "AAD returned silent failure"); which one the real service
 * uses is not documented, so tests can try each:
 * 'sync-500' (default): 500 on the PUT; 'sync-400': 400 on the PUT; 'async': 202, then the
 * background job fails with that message. In every case the connection is left
 * {isReady: false, operationStatus Failed} and a later PUT is accepted again.
 */
export type AadSilentFailureDelivery = 'sync-500' | 'sync-400' | 'async';

/** A seeded identity: 'user' (default; a person, whose Entra sign-in Azure DevOps holds) or 'service' (a job identity, no Entra token). */
export type IdentityKind = 'user' | 'service';

/** A token the emulator accepts and who it is. */
export interface IdentitySeed {
  token: string;
  name: string;
  /** Default 'user'. The pipeline's job identity ("{Project} Build Service ({org})") is a 'service'. */
  kind?: IdentityKind;
  /**
   * Names or ids of the only projects this identity can see (a project-scoped job token sees its
   * own project). Absent: every project not hidden from it (ProjectSeed.hiddenFrom).
   */
  projects?: string[];
}

/** A project's state as the Core API reports it (stateFilter selects by it). */
export type ProjectState = 'wellFormed' | 'createPending' | 'deleting' | 'new' | 'deleted';

/** A project of the organization (projects.ts). Only id and name are required. */
export interface ProjectSeed {
  id: string;
  name: string;
  description?: string;
  /** Default 'wellFormed'. */
  state?: ProjectState;
  /** Default 'private'. */
  visibility?: 'private' | 'public';
  /** Identity names that cannot see the project: not listed, 404 on its routes. */
  hiddenFrom?: string[];
  /** Listed, but its service-endpoint routes answer 403 (the caller lacks the permission to read them). */
  unreadable?: true;
  /** Listed (as if deleted after the listing was read) but 404 on every route of it. */
  deleted?: true;
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

/** A client secret or certificate of an app as Graph lists it (never its value). */
export interface AppCredentialSeed {
  keyId: string;
  displayName?: string;
  /** First characters of a secret (passwordCredentials only). */
  hint?: string;
  startDateTime?: string;
  endDateTime: string;
}

export interface FederatedCredentialSeed {
  /** Default: a random GUID. */
  id?: string;
  name: string;
  issuer: string;
  subject: string;
  /** Default ["api://AzureADTokenExchange"]. */
  audiences?: string[];
  description?: string;
}

/** An app registration in its home tenant (Graph `application`). */
export interface AppSeed {
  appId: string;
  /** The application's object id (Graph `id`). */
  objectId: string;
  displayName: string;
  /** Default 'AzureADMyOrg'. */
  signInAudience?: string;
  /** Owners: client ids (appId) or object ids of service principals of the same tenant. */
  owners?: string[];
  federatedIdentityCredentials?: FederatedCredentialSeed[];
  passwordCredentials?: AppCredentialSeed[];
  keyCredentials?: AppCredentialSeed[];
}

/** Graph application permissions the emulator knows (app roles granted to a client). */
export type GraphPermission = 'Application.ReadWrite.All' | 'Application.ReadWrite.OwnedBy' | 'Application.Read.All';

/** A client that may ask the token endpoint for tokens (for example the identity of `entraConnection`). */
export interface ServicePrincipalSeed {
  /** The client id. */
  appId: string;
  /** Its object id; default: derived from appId. */
  objectId?: string;
  displayName?: string;
  /** Microsoft Graph application permissions granted (admin-consented) to it. Default none. */
  permissions?: GraphPermission[];
  /** A valid client secret; absent: secrets are refused. */
  secret?: string;
  /**
   * Federated credentials of its app when that app is not seeded in the tenant (when it is, the
   * app's credentials count, including those added through Graph).
   */
  federatedIdentityCredentials?: FederatedCredentialSeed[];
}

/**
 * A user-assigned managed identity behind the Azure Resource Manager emulator (arm.ts): its
 * resource id is /subscriptions/{subscriptionId}/resourcegroups/{resourceGroup}/providers/
 * Microsoft.ManagedIdentity/userAssignedIdentities/{name}. It is also a client of the token
 * endpoint (a workload identity federation exchange with its credentials) and counts for
 * Directory.isUsable by clientId.
 */
export interface ManagedIdentitySeed {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  clientId: string;
  principalId: string;
  /** Default 'westeurope'. */
  location?: string;
  federatedIdentityCredentials?: FederatedCredentialSeed[];
  /**
   * Client ids holding "Managed Identity Contributor" or "Managed Identity Federated Credential
   * Contributor" on this identity: they may read it and write (PUT, DELETE) its federated credentials.
   */
  writers?: string[];
  /** Client ids holding only Reader on this identity: they may list and read it, any write is 403. */
  readers?: string[];
}

export interface TenantSeed {
  id: string;
  displayName?: string;
  applications?: AppSeed[];
  servicePrincipals?: ServicePrincipalSeed[];
  /** User-assigned managed identities of this tenant's subscriptions (arm.ts). */
  managedIdentities?: ManagedIdentitySeed[];
  /**
   * Subscriptions of this tenant besides those its managed identities name (a subscription with
   * no identity lists as empty; one in no tenant is 404 SubscriptionNotFound).
   */
  subscriptions?: string[];
}

/** Microsoft Entra and Graph, for startEntraWorld (entraWorld.ts); the Azure DevOps emulator ignores it. */
export interface EntraSeed {
  tenants: TenantSeed[];
  /** How long a federated credential added through Graph takes to become usable. Default 0. */
  propagationDelayMs?: number;
  /**
   * Connections the running task references in its inputs: the only ones the agent's OIDC
   * endpoint issues tokens for. Default: the seed's endpoints whose client id is a seeded service principal.
   */
  taskInputConnections?: string[];
  /** Lifetime of the OIDC endpoint's tokens, seconds. Default 600. */
  oidcTokenLifetimeSeconds?: number;
  /** Largest page of an ARM listing (identities, federated credentials); more follow by nextLink. Default 100. */
  armPageSize?: number;
  /**
   * Window (ms, emulator clock) after a federated-credential write on a managed identity during
   * which another write on the same identity is refused with 409 (the documented concurrency
   * detection of user-assigned identities). Default 0: off.
   */
  armConcurrentWriteWindowMs?: number;
}

/**
 * How POST {collection}/_apis/public/serviceendpoint/externalfederatedcredentialmigration answers
 * (migration.ts): 'switches' moves the connection to the Entra issuer when its identity holds the
 * Entra credential (else 400); '404' (default) the route is unknown, as an unverified route may
 * be; '403' / '500' refused / failing whatever the connection.
 */
export type MigrationMode = 'switches' | '404' | '403' | '500';

export interface Seed {
  organization: { name: string; id: string };
  projects: ProjectSeed[];
  /**
   * Largest page of the projects listing (GET _apis/projects): the page is min($top || 100, this),
   * whatever $top asks. Default 100.
   */
  projectPageSize?: number;
  identities: IdentitySeed[];
  defaultAdministrators: string[];
  issuer?: 'entra' | 'azuredevops';
  /** How an Automatic conversion by a 'service' identity without a federated credential fails; default 'sync-500'. */
  aadSilentFailure?: AadSilentFailureDelivery;
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
  /** Microsoft Entra tenants, apps and clients for the Entra, Graph and OIDC emulators (entraWorld.ts). */
  entra?: EntraSeed;
  /** The issuer migration route (migration.ts); default '404'. Per connection: emulator.migration. */
  migration?: MigrationMode;
}

// ---------------------------------------------------------------------------------------------
// The seam between the server (recording, faults, auth, sending) and a service.

/** What a service answers; the server renders it (JSON body, ActivityId headers, Content-Length). */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface Identity {
  name: string;
  id: string;
  kind: IdentityKind;
  /** IdentitySeed.projects: the only projects it sees, if limited. */
  projects?: string[];
}

/** A federated credential as Azure DevOps adds it to a connection's app registration. */
export interface NewFederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
  description: string;
}

/**
 * The federated identity credentials of the apps in Microsoft Entra, as the Azure DevOps emulator
 * sees them (Emulator.attachDirectory; harness: directoryOf(world) in test/helpers/agent.ts).
 */
export interface FederatedCredentialDirectory {
  /** A credential with exactly this issuer and subject exists on the app and has propagated. */
  isUsable(appId: string, issuer: string, subject: string): boolean;
  /**
   * Adds the credential to the app (no-op when one with that issuer and subject exists); false
   * when there is no such app. Absent: the directory is read-only and nothing is added.
   */
  addCredential?(appId: string, fic: NewFederatedCredential): boolean | void;
  /**
   * Who a Microsoft Entra access token (issued by the Entra emulator) belongs to; undefined for a
   * token Entra did not issue. Only the issuer migration route (migration.ts) consults it: the rest
   * of the Azure DevOps emulator accepts its seeded tokens only. Absent: no Entra token is accepted.
   */
  entraAccessToken?(token: string): EntraCaller | undefined;
}

/** The holder of an Entra access token, as the Azure DevOps emulator sees it. */
export interface EntraCaller {
  tenantId: string;
  clientId: string;
  objectId: string;
  /** The resource the token was issued for. */
  resource: 'graph' | 'arm' | 'azuredevops';
  /** The token's lifetime has passed (directory clock). */
  expired: boolean;
}

export interface Project {
  id: string;
  name: string;
}

/** A REST location as the location service publishes it (OPTIONS {org}/_apis/{area}). */
export interface ApiLocation {
  id: string;
  area: string;
  resourceName: string;
  routeTemplate: string;
  resourceVersion: number;
  minVersion: string;
  maxVersion: string;
  releasedVersion: string;
}

/** A resource area: its name (the {area} route segment), its id (GET _apis/ResourceAreas) and its locations. */
export interface ResourceArea {
  name: string;
  id: string;
  locations: ApiLocation[];
}

/** An authenticated request the server routed to a service by its {area} segment. */
export interface ServiceRequest {
  method: string;
  /** Decoded path without the query. */
  path: string;
  /** The project segment before _apis, if any (name or id, not yet looked up). */
  projectSeg: string | undefined;
  /** Decoded segments after _apis: [area, ...]. */
  rest: string[];
  query: Record<string, string>;
  identity: Identity;
  body: unknown;
  /** api-version from the Accept header or the query, if any. */
  apiVersion: string | undefined;
}

/** What the server shares with its services. */
export interface ServiceContext {
  /** The emulator's own deep copy of the seed; services keep their state in it. */
  readonly seed: Seed;
  /** The organization URL clients use (known once the server listens). */
  url(): string;
  /** The emulator's clock (Emulator.setClock). */
  now(): number;
  findProject(nameOrId: string): ProjectSeed | undefined;
  /** The attached directory of federated credentials, if any (Emulator.attachDirectory). */
  directory(): FederatedCredentialDirectory | undefined;
}

/**
 * One imitated service. The server records the request, applies faults, authenticates and then
 * calls handle() of the service that owns the request's area; undefined from handle() is the
 * service's "no such route" (answered as the 404 of an unknown controller).
 */
export interface Service {
  readonly areas: readonly ResourceArea[];
  handle(req: ServiceRequest): Reply | undefined;
  /**
   * 'flip-first' fault: before a PUT is handled, another actor changes what it names (the last
   * path segment) to what its body asks for. Optional; called on every service.
   */
  concurrentChange?(segments: string[], body: unknown): void;
}
