// Builds ServiceEndpoint JSON the way the service returns it, for unit tests of the core.
import { Endpoint, Options, RunContext } from '../../tasks/ConvertToWif/src/core/model';
import { normalizeEndpoint } from '../../tasks/ConvertToWif/src/core/normalize';

export const PROJECT = { id: '0b1c2d3e-0000-4000-8000-000000000001', name: 'Payments' };
export const OTHER_PROJECT = { id: '0b1c2d3e-0000-4000-8000-000000000002', name: 'Shared Services' };
export const ctx: RunContext = { organization: 'https://dev.azure.com/contoso/', project: PROJECT };

let counter = 0;
export interface EndpointSpec {
  name: string;
  scheme?: string;
  creationMode?: 'Automatic' | 'Manual';
  environment?: string;
  projects?: Array<{ id: string; name: string }>;
  isReady?: boolean;
  state?: string;
  statusMessage?: string;
  type?: string;
  id?: string;
  parameters?: Record<string, string | null>;
  data?: Record<string, string>;
}

/** The service's JSON of a connection (keys in the service's casing). */
export function rawEndpoint(spec: EndpointSpec): Endpoint {
  const id = spec.id ?? `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
  const projects = spec.projects ?? [PROJECT];
  return {
    id,
    name: spec.name,
    type: spec.type ?? 'azurerm',
    url: 'https://management.azure.com/',
    owner: 'library',
    isShared: projects.length > 1,
    isReady: spec.isReady ?? true,
    operationStatus: { state: spec.state ?? 'Ready', statusMessage: spec.statusMessage ?? '' },
    authorization: {
      scheme: spec.scheme ?? 'ServicePrincipal',
      parameters: spec.parameters ?? { tenantid: 'tenant-1', serviceprincipalid: 'app-1', authenticationType: 'spnKey', serviceprincipalkey: null },
    },
    data: {
      environment: spec.environment ?? 'AzureCloud',
      scopeLevel: 'Subscription',
      subscriptionId: 'sub-1',
      subscriptionName: 'Sub One',
      creationMode: spec.creationMode ?? 'Automatic',
      ...spec.data,
    },
    serviceEndpointProjectReferences: projects.map((p) => ({ projectReference: { id: p.id, name: p.name }, name: spec.name, description: '' })),
  };
}

/** A connection as the core sees it: the service's JSON, normalised as the adapter does. */
export const endpoint = (spec: EndpointSpec): Endpoint => normalizeEndpoint(rawEndpoint(spec))!;

/** The service's answer to a conversion it finished at once: the connection on the new scheme, Ready (docs/service-behaviour.md §4). */
export const convertedAnswer = (e: Endpoint, scheme: string): Endpoint =>
  normalizeEndpoint({ ...e, authorization: { scheme, parameters: { workloadIdentityFederationIssuer: 'https://i' } }, operationStatus: { state: 'Ready' } })!;

export function options(o: Partial<Options> = {}): Options {
  return {
    action: 'convert',
    connections: [],
    projects: [],
    excludeConnections: [],
    skipShared: true,
    includeManual: false,
    dryRun: false,
    maxConnections: 0,
    concurrency: 4,
    waitTimeoutSeconds: 300,
    failOnFindings: false,
    impactCheck: 'off',
    impactDays: 30,
    incompatibleTasks: [],
    ...o,
  };
}
