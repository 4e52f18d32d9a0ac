// Domain types shared by the pure core. Nothing here knows about task-lib or HTTP.

/** The subset of an Azure DevOps ServiceEndpoint the task reads (docs/service-behaviour.md §2). */
export interface Endpoint {
  id: string;
  name: string;
  type: string;
  url?: string;
  owner?: string;
  isShared?: boolean;
  isReady?: boolean;
  /** Azure DevOps disables connections unused for 100 days (docs/service-behaviour.md §19). */
  isDisabled?: boolean;
  operationStatus?: { state?: string; statusMessage?: string } | null;
  /** `parameters` keys are lower-case (normalize.ts): the service's casing varies (docs/service-behaviour.md §2). */
  authorization?: { scheme?: string; parameters?: Record<string, string | null | undefined> | null } | null;
  /** Keys lower-case, as in `parameters`. */
  data?: Record<string, string | null | undefined> | null;
  serviceEndpointProjectReferences?: ProjectReference[] | null;
}

export interface ProjectReference {
  projectReference?: { id?: string; name?: string } | null;
  name?: string;
  description?: string;
}

export const Scheme = {
  ServicePrincipal: 'ServicePrincipal',
  WorkloadIdentityFederation: 'WorkloadIdentityFederation',
  ManagedServiceIdentity: 'ManagedServiceIdentity',
  PublishProfile: 'PublishProfile',
} as const;

/** A user-facing message: a key of task.json `messages` and its arguments. The adapter renders it. */
export interface Message {
  key: string;
  args: Array<string | number>;
}
export const msg = (key: string, ...args: Array<string | number>): Message => ({ key, args });

/** Renders a message key with arguments (tl.loc in the task, a task.json reader in tests). */
export type Localize = (key: string, ...args: Array<string | number>) => string;

export type Action = 'convert' | 'revert' | 'report' | 'updateIssuer';

/** True for the actions that never send a change (a report, or any dry run). */
export const changesNothing = (o: Pick<Options, 'action' | 'dryRun'>): boolean => o.dryRun || o.action === 'report';

/** Validated task inputs. */
export interface Options {
  action: Action;
  connections: string[];
  excludeConnections: string[];
  skipShared: boolean;
  includeManual: boolean;
  dryRun: boolean;
  maxConnections: number;
  concurrency: number;
  waitTimeoutSeconds: number;
  /** report: fail the task while any secret-based connection remains. */
  failOnFindings: boolean;
  /** Check which pipelines used each connection and what would break: warn, skip flagged ones, or off. */
  impactCheck: 'warn' | 'skip' | 'off';
  impactDays: number;
  /** Extra tasks known to break: `Name@Major`, `Name` or task ids. */
  incompatibleTasks: string[];
  /**
   * Organization-wide runs: project names, wildcard patterns or ids (`*`: every project the identity
   * can see). Empty: the current project only.
   */
  projects: string[];
  /** The id of the Azure Resource Manager connection through which the task writes federated credentials in Microsoft Entra. */
  entraConnection?: string;
}

/** Where the task runs. */
export interface RunContext {
  organization: string; // collection URL
  project: { id: string; name: string };
  /** Who the token belongs to, when known (for permission instructions). */
  identity?: string;
}

/**
 * `updated`: moved to the Microsoft Entra issuer and verified; `prepared`: the new credential is on
 * the identity, but Azure DevOps did not switch the connection; `handoff`: the identity's owner must
 * add the credential (updateIssuer).
 */
export type Outcome = 'converted' | 'reverted' | 'skipped' | 'failed' | 'pending' | 'planned' | 'federated' | 'updated' | 'prepared' | 'handoff';

/** One line of the report: every azurerm connection of the project gets exactly one. */
export interface ConnectionResult {
  id: string;
  name: string;
  /** The connection type when it is not azurerm (dockerregistry, a type an extension defines, …). */
  type?: string;
  scheme: string;
  creationMode: string;
  isShared: boolean;
  /** Matched by `connections` and not removed by `excludeConnections`. */
  selected: boolean;
  outcome: Outcome;
  /** Why it was skipped / failed / is pending, as a message (rendered into `reason` in the report). */
  reason?: Message;
  /** The service's own words, kept verbatim for failures. */
  serviceMessage?: string;
  issuer?: string;
  subject?: string;
  revertDeadline?: string;
  /** Which issuer a federated connection trusts (docs/service-behaviour.md §7). */
  issuerKind?: IssuerKind;
  /** What the connection grants access to: `level` is data.scopeLevel, the rest the ids and names the service gives. */
  scope?: Record<string, string>;
  homeProject?: string;
  /** The other projects it is shared with (beyond the home project). */
  sharedWith?: string[];
  /** Which pipelines used it recently and what would break (convert and report). */
  impact?: Impact;
  /** Its app registration, as `entraConnection` sees it in Microsoft Graph. */
  app?: AppRecord;
  /** The federated credentials the task looked for on that app, and what it did with each. */
  credentials?: CredentialRecord[];
  /** A finding about the app itself (e.g. client secrets left on the app of a federated connection). */
  appFinding?: Message;
  /** updateIssuer: the Microsoft Entra issuer and subject the connection moves to (computed). */
  targetIssuer?: string;
  targetSubject?: string;
  /** updateIssuer, updated: whether the issuer and subject read back equal the computed target. */
  matchesTarget?: boolean;
  /** What the identity behind the connection is, when the task could tell. */
  identityKind?: Handoff['identityKind'];
  /** handoff and prepared: what the identity's owner adds (the hand-off pack). */
  handoff?: Handoff;
  /** Disabled by Azure DevOps (unused for 100 days) or by a person. */
  disabled?: boolean;
}

/** The credential an identity's owner must add so the connection can use the Microsoft Entra issuer. */
export interface Handoff {
  /** Unknown without entraConnection: the pack then gives both commands. */
  identityKind?: 'app' | 'managedIdentity';
  clientId: string;
  /** The app's object id, or the managed identity's principal id. */
  objectId?: string;
  /** A managed identity's ARM resource id (and its name and resource group, for the az command). */
  resourceId?: string;
  name?: string;
  resourceGroup?: string;
  issuer: string;
  subject: string;
  audience: string;
}

/** A client secret or certificate of an app registration (never its value). */
export interface AppSecret {
  kind: 'secret' | 'certificate';
  keyId?: string;
  displayName?: string;
  /** First characters of a secret, as Graph gives them. */
  hint?: string;
  endDateTime?: string;
}

/** A client secret or certificate as the report shows it: which one and until when (never a hint of the value). */
export interface AppCredentialInfo {
  keyId?: string;
  displayName?: string;
  endDateTime?: string;
}

export interface AppRecord {
  objectId: string;
  displayName: string;
  /** With `action: report`: its client secrets (Graph passwordCredentials) with their end dates. */
  passwordCredentials?: AppCredentialInfo[];
  /** With `action: report`: its certificates (Graph keyCredentials) with their end dates. */
  keyCredentials?: AppCredentialInfo[];
}

/**
 * A federated credential on the app: `existing` (found, reused), `created` (added by this run),
 * `removed` (added by this run, then removed because the service uses the other one),
 * `wouldCreate` (dry run).
 */
export interface CredentialRecord {
  name: string;
  issuer: string;
  subject: string;
  change: 'created' | 'existing' | 'removed' | 'wouldCreate';
  /** Why a credential this run added could not be removed again (it stays, harmless). */
  note?: string;
}

/** `azuredevops`: https://vstoken.dev.azure.com/… (retired 2027-07-01); `entra`: login.microsoftonline.com. */
export type IssuerKind = 'azuredevops' | 'entra' | 'other';

export const OUTCOMES: Outcome[] = ['converted', 'reverted', 'skipped', 'failed', 'pending', 'planned', 'federated', 'updated', 'prepared', 'handoff'];
export type Totals = Record<Outcome, number>;

/** The minimal conversion body (docs/service-behaviour.md §4): id, type, target scheme, home project reference. */
export interface ConversionBody {
  id: string;
  type: string;
  authorization: { scheme: string };
  serviceEndpointProjectReferences: Array<{ projectReference: { id: string; name?: string }; name: string; description?: string }>;
}

// ---- the impact check's view of pipelines (docs/service-behaviour.md §12) ----

/** One use of a connection, from its execution history. */
export interface ExecutionRecord {
  planType: string; // 'Build' | 'Release'
  definitionId: number;
  definitionName: string;
  runId: number;
  startTime?: string;
}

export interface TaskRef {
  id: string;
  name: string;
  version: string; // "5.244.1"
}

export interface TaskDefinitionInfo {
  id: string;
  name: string;
  author?: string;
}

export interface ImpactFlag {
  /** `Name@Major`, or `YAML` for a finding in the pipeline's YAML. */
  task: string;
  severity: 'breaks' | 'verify';
  why: Message;
}

export interface PipelineImpact {
  id: number;
  name: string;
  type: 'Build' | 'Release';
  lastUsed?: string;
  runId: number;
  tasks: string[];
  flags: ImpactFlag[];
}

export interface Impact {
  days: number;
  pipelines: PipelineImpact[];
  /** What could not be checked, so the check is partial. */
  partial: Message[];
  /**
   * The use of the connection could not be read at all (execution history), or the tasks of a
   * pipeline that used it are unknown (timeline): nothing says it is safe to convert.
   */
  unreadable?: boolean;
}
