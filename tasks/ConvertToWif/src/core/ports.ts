// What the core needs from the world. The adapters implement these (src/adapters/); unit tests use
// in-memory ones. Every Azure DevOps call throws a ServiceError (failures.ts) when it fails.

import type { RawInputs } from './inputNames';
import type { ConversionBody, Endpoint, ExecutionRecord, Localize, Message, TaskDefinitionInfo, TaskRef } from './model';

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
  /** Every azurerm connection of the project (never filtered by actionFilter), and how many entries were unusable. */
  list(): Promise<{ endpoints: Endpoint[]; malformed: number }>;
  /** Ids (lower-case) of the connections the identity administers (actionFilter=manage): the dry-run preview. */
  manageableIds(): Promise<Set<string>>;
  whoAmI(): Promise<string | undefined>;
}

/** What the core hands over to reach Azure DevOps, once the inputs are known. */
export interface ConnectSettings {
  collectionUrl: string;
  /** Id, or the name when the job has no System.TeamProjectId. */
  projectId: string;
  token: string;
  /** Requests in flight at most. */
  concurrency: number;
}

/** Where this step writes its report and summary. */
export interface OutputFiles {
  reportPath: string;
  summaryPath: string;
}

export type ResultKind = 'Succeeded' | 'SucceededWithIssues' | 'Failed' | 'Cancelled';

/** The agent, through task-lib: inputs and variables in; log, files, outputs and the result out. */
export interface Host {
  rawInputs(): RawInputs;
  collectionUri(): string | undefined;
  project(): { id?: string; name?: string };
  /** The job's OAuth token, undefined when the job has none. */
  jobToken(): string | undefined;
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
  writeFile(file: string, content: string): void;
  uploadSummary(file: string, markdown: string, title: string): void;
  output(name: string, value: string | number): void;
  result(kind: ResultKind, message: string): void;
}
