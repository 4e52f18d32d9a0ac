// What the core needs from the world. The adapters implement these (src/adapters/); unit tests use
// in-memory ones. Every Azure DevOps call throws a ServiceError (failures.ts) when it fails.

import type { RawInputs } from './inputNames';
import type { AppSecret, ConversionBody, Endpoint, ExecutionRecord, Localize, Message, TaskDefinitionInfo, TaskRef } from './model';

/** Time, with sleeps that end at once when the run is cancelled, and a wait that does not. */
export interface Clock {
  now(): number;
  /** Ends early when the run is cancelled (no retry or poll outlives a cancellation). */
  sleep(ms: number): Promise<void>;
  /** Not cut short by a cancellation: the grace period given to requests in flight. */
  wait(ms: number): Promise<void>;
}

/** The service-endpoint calls of a conversion. */
export interface EndpointPort {
  /** GET the connection by id in the current project; null when it does not exist (404). `deadline`: no retry past it. */
  get(id: string, opts?: { deadline?: number }): Promise<Endpoint | null>;
  /** PUT …/endpoints/{id}?operation=ConvertAuthenticationScheme with this body. */
  convert(id: string, body: ConversionBody): Promise<Endpoint>;
  /** Who the token belongs to, to name that identity in permission instructions. */
  whoAmI?(): Promise<string | undefined>;
}

/** What the impact check reads (docs/service-behaviour.md §12). */
export interface ImpactPort {
  /** One page, newest first; `unusable`: records on it the task could not read. */
  executionHistory(endpointId: string, continuationToken?: string): Promise<{ records: ExecutionRecord[]; continuationToken?: string; unusable?: number }>;
  /** The tasks that ran in a build (its timeline's Task records). */
  buildTasks(buildId: number): Promise<TaskRef[]>;
  /** The pipeline's expanded YAML (Pipelines preview run API). */
  pipelineYaml(pipelineId: number): Promise<string>;
  /** The organization's task catalogue, to tell Microsoft's tasks from others. */
  taskDefinitions(): Promise<TaskDefinitionInfo[]>;
}

/** Azure DevOps as the task's token sees it. */
export interface AzureDevOps extends EndpointPort, ImpactPort {
  /**
   * Every azurerm connection of the project (never filtered by actionFilter), and how many entries
   * were unusable; `allTypes`: connections of every type (no type= filter), for the issuer audit.
   */
  list(opts?: { allTypes?: boolean }): Promise<{ endpoints: Endpoint[]; malformed: number }>;
  /** Ids (lower-case) of the connections the identity administers (actionFilter=manage): the dry-run preview. */
  manageableIds(opts?: { allTypes?: boolean }): Promise<Set<string>>;
  /**
   * POST {collection}_apis/public/serviceendpoint/externalfederatedcredentialmigration?api-version=7.2-preview.1
   * with {"serviceConnectionInput": "sc://{org}/{project}/{name}"} and an Entra bearer token (not the
   * job token): the only programmatic route seen to move a connection to the Entra issuer
   * (docs/service-behaviour.md §19; unverified). Resolves with the status of a 2xx answer; throws a
   * ServiceError otherwise (429 retried first). Never retried on other failures.
   */
  requestIssuerMigration?(serviceConnectionInput: string, entraBearer: string): Promise<{ status: number }>;
  whoAmI(): Promise<string | undefined>;
  /**
   * Every well-formed project the identity can see: GET {collection}_apis/projects?stateFilter=wellFormed,
   * paged with $top/$skip (and the x-ms-continuationtoken header when the service sends one;
   * docs/service-behaviour.md §20). Organization-level: the client's project plays no part.
   * `malformed`: entries without a usable id and name, counted and left out; duplicates dropped.
   */
  listProjects?(): Promise<{ projects: ProjectInfo[]; malformed: number }>;
}

/** A project of the organization as the Core API lists it. */
export interface ProjectInfo {
  id: string;
  name: string;
}

/** What the core hands over to reach Azure DevOps, once the inputs are known. */
export interface ConnectSettings {
  collectionUrl: string;
  /** Id, or the name when the job has no System.TeamProjectId. */
  projectId: string;
  token: string;
  /** Changes in flight at most (the `concurrency` input). */
  concurrency: number;
  /** Requests in flight at most, all kinds together: the changes plus the reads that run alongside them. */
  maxInFlight: number;
}

/** Where this step writes its report and summary. */
export interface OutputFiles {
  reportPath: string;
  summaryPath: string;
  /** updateIssuer: the hand-off pack, next to the report (ConvertToWif-handoff.md). */
  handoffPath?: string;
}

/**
 * A connection the agent hands to the task because it is one of its inputs (a `connectedService`
 * input): its authorization and data as the agent puts them in the environment. Undefined values
 * are those the agent did not give.
 */
export interface AgentConnection {
  id: string;
  /** ENDPOINT_AUTH_{id} scheme, e.g. WorkloadIdentityFederation or ServicePrincipal. */
  scheme?: string;
  tenantId?: string;
  /** authorization parameter serviceprincipalid. */
  clientId?: string;
  /** authorization parameter serviceprincipalkey (secret-based connections only). */
  secret?: string;
  /** data environmentAuthorityUrl. */
  authorityUrl?: string;
  /** data microsoftGraphUrl. */
  graphUrl?: string;
  /** data environment (AzureCloud, AzureUSGovernment, …). */
  environment?: string;
  /** ENDPOINT_URL_{id}: the Azure Resource Manager URL. */
  url?: string;
}

/** How the task reaches Microsoft Entra as `entraConnection`, once its inputs are validated (docs/service-behaviour.md §18). */
export interface EntraSettings {
  connectionId: string;
  tenantId: string;
  clientId: string;
  /**
   * federation: an ID token from the agent's OIDC endpoint (POST {oidcRequestUri}?api-version=7.1&serviceConnectionId={id},
   * the job token as Bearer) exchanged as a client assertion; secret: the connection's client secret.
   */
  credential: { kind: 'federation'; oidcRequestUri: string; jobToken: string } | { kind: 'secret'; secret: string };
  /** https URL ending with '/': tokens at {authorityUrl}{tenantId}/oauth2/v2.0/token. */
  authorityUrl: string;
  /** https URL ending with '/': Microsoft Graph; the token's scope is {graphUrl}.default. */
  graphUrl: string;
  /** https URL ending with '/': Azure Resource Manager. */
  armUrl: string;
  /** Requests in flight at most (shared with the Azure DevOps client's pacing). */
  concurrency: number;
}

/** An app registration as Graph shows it. */
export interface EntraApp {
  objectId: string;
  appId: string;
  displayName: string;
  signInAudience?: string;
  /** Its client secrets and certificates (never their values), when asked for. */
  secrets?: AppSecret[];
}

export type { AppSecret };

export interface FederatedCredential {
  id: string;
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface NewFederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
  description?: string;
}

/**
 * Microsoft Entra and Graph as `entraConnection` sees them. Every call throws a ServiceError
 * (failures.ts) with `service` set ('oidc', 'entra' for the token call, 'graph') and `code` (the
 * AADSTS code as "AADSTS700016", or Graph's error code such as "Authorization_RequestDenied").
 * Graph 429 and 5xx on reads are retried by the adapter; writes only on 429.
 */
export interface EntraPort {
  /** Gets the Graph token (once per run; later calls reuse it until shortly before it expires). */
  signIn(): Promise<void>;
  /** The app with this client id in entraConnection's tenant; null when Graph has none (404). */
  findApp(clientId: string, opts?: { withSecrets?: boolean }): Promise<EntraApp | null>;
  credentials(appObjectId: string): Promise<FederatedCredential[]>;
  addCredential(appObjectId: string, credential: NewFederatedCredential): Promise<FederatedCredential>;
  /** A credential already gone (404) counts as removed. */
  removeCredential(appObjectId: string, credentialId: string): Promise<void>;
  /**
   * An Entra access token of entraConnection for Azure DevOps (scope
   * 499b84ac-1321-427f-aa17-267ca6975798/.default), for the issuer-migration route; cached like the
   * Graph token and masked. Throws like signIn.
   */
  azureDevOpsToken(): Promise<string>;
  /**
   * The user-assigned managed identity with this client id in the subscription (Azure Resource
   * Manager, paged by nextLink, api-version 2023-01-31); null when the subscription has none. Its
   * own token (scope {armUrl}.default). Errors have `service: 'arm'` and ARM's code.
   */
  findManagedIdentity(subscriptionId: string, clientId: string): Promise<ManagedIdentity | null>;
  managedIdentityCredentials(resourceId: string): Promise<FederatedCredential[]>;
  /** PUT {resourceId}/federatedIdentityCredentials/{name}: created (201) or updated (200); idempotent, so retried like a read. */
  putManagedIdentityCredential(resourceId: string, credential: Omit<NewFederatedCredential, 'description'>): Promise<FederatedCredential>;
}

/** A user-assigned managed identity as Azure Resource Manager shows it. */
export interface ManagedIdentity {
  /** The ARM resource id: /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}. */
  resourceId: string;
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  clientId: string;
  principalId?: string;
  tenantId?: string;
}

export type ResultKind = 'Succeeded' | 'SucceededWithIssues' | 'Failed' | 'Cancelled';

/** The agent, through task-lib: inputs and variables in; log, files, outputs and the result out. */
export interface Host {
  rawInputs(): RawInputs;
  collectionUri(): string | undefined;
  project(): { id?: string; name?: string };
  /** The job's OAuth token, undefined when the job has none. */
  jobToken(): string | undefined;
  /** System.CollectionId: the organization's id (issuers and subjects name it). */
  collectionId(): string | undefined;
  /** System.OidcRequestUri: where the agent issues ID tokens for the task's connection inputs. */
  oidcRequestUri(): string | undefined;
  /** A connection input as the agent hands it over; undefined when the agent gave nothing for this id. */
  agentConnection(id: string): AgentConnection | undefined;
  /** Masks a value in everything the task writes. */
  secret(value: string): void;
  loc: Localize;
  info(text: string): void;
  debug(text: string): void;
  warning(text: string): void;
  error(text: string): void;
  /** Checks that the report can be written and picks the step's file names; a message when it cannot. */
  prepareOutputFiles(reportPathInput: string | undefined): OutputFiles | Message;
  /** Writes a file whole or not at all. */
  /** Writes a file whole or not at all; `content` may come in pieces (a large report is never one string). */
  writeFile(file: string, content: string | Iterable<string>): void;
  /** Writes the summary (whole, or in pieces that each end a line) and attaches it under `title`. */
  uploadSummary(file: string, markdown: string | Iterable<string>, title: string): void;
  output(name: string, value: string | number): void;
  result(kind: ResultKind, message: string): void;
}
