// Seeds for the issuer migration (the second wave): federated connections of every type on the
// Azure DevOps issuer or the Entra issuer, identities behind them in Microsoft Entra (app
// registrations and user-assigned managed identities) or outside it (a federation with AWS).
// Shapes follow learn.microsoft.com/azure/devops/pipelines/release/convert-service-connections (the
// retirement concerns every WIF connection type; a connection on the new issuer carries
// workloadIdentityFederationIssuerType "EntraID") and …/configure-workload-identity (issuer and
// subject formats). The `data` keys of the Docker registry and AWS connections beyond the
// authorization are illustrative: the task must not depend on them.
// Each helper returns an EndpointSpec (test/helpers/endpoints.ts) for seed() / Harness.start.
import { entraIssuerAndSubject } from '../emulator/oidc';
import type { ManagedIdentitySeed, MigrationMode, Seed } from '../emulator/types';
import { PROJECT } from './endpoints';
import { ORG, SeedEndpoint, seed } from './seed';

export const WIF = 'WorkloadIdentityFederation';
export const AUDIENCE = 'api://AzureADTokenExchange';
/** The retirement date of the Azure DevOps issuer (convert-service-connections). */
export const RETIREMENT = '2027-07-01';

type Org = { name: string; id: string };
type ProjectRef = { id: string; name: string };

/** The Azure DevOps issuer of an organization: https://vstoken.dev.azure.com/{organizationId}. */
export const azureDevOpsIssuer = (org: Org = ORG) => `https://vstoken.dev.azure.com/${org.id}`;
/** The Azure DevOps issuer's subject: sc://{org}/{project}/{connection name}. */
export const azureDevOpsSubject = (name: string, project: ProjectRef = PROJECT, org: Org = ORG) => `sc://${org.name}/${project.name}/${name}`;
/** The Entra issuer and subject of a connection (oidc.ts, computed independently of the task). */
export const entraIssuer = (tenantId: string, endpointId: string, org: Org = ORG) =>
  entraIssuerAndSubject({ organization: org }, { id: endpointId, authorization: { parameters: { tenantid: tenantId } } });

export interface WifSpec {
  id: string;
  name: string;
  /** Which issuer the connection is on. */
  issuer: 'azuredevops' | 'entra';
  /** The identity in Microsoft Entra; both absent for an identity outside it. */
  tenantId?: string;
  clientId?: string;
  project?: ProjectRef;
  org?: Org;
  /** More authorization parameters (roleArn, loginServer…). */
  parameters?: Record<string, string>;
  data?: Record<string, string>;
  creationMode?: 'Automatic' | 'Manual';
  emulator?: SeedEndpoint['emulator'];
}

/** A WIF connection of any type with its stored issuer and subject (and IssuerType EntraID on the Entra issuer). */
export function wifConnection(type: string, s: WifSpec): SeedEndpoint {
  const project = s.project ?? PROJECT;
  const org = s.org ?? ORG;
  const params: Record<string, string> = {};
  if (s.tenantId) params.tenantid = s.tenantId;
  if (s.clientId) params.serviceprincipalid = s.clientId;
  if (s.issuer === 'azuredevops') {
    params.workloadIdentityFederationIssuer = azureDevOpsIssuer(org);
    params.workloadIdentityFederationSubject = azureDevOpsSubject(s.name, project, org);
  } else {
    const e = entraIssuer(s.tenantId ?? '', s.id, org);
    params.workloadIdentityFederationIssuer = e.issuer;
    params.workloadIdentityFederationSubject = e.subject;
    params.workloadIdentityFederationIssuerType = 'EntraID';
  }
  return {
    id: s.id,
    name: s.name,
    type,
    scheme: WIF,
    projects: [project],
    creationMode: s.creationMode,
    parameters: { ...params, ...s.parameters },
    data: s.data,
    emulator: s.emulator,
  };
}

/** A Docker registry connection to an Azure Container Registry through workload identity federation. */
export function dockerRegistryWif(s: WifSpec & { registry?: string; subscriptionId?: string }): SeedEndpoint {
  const registry = s.registry ?? 'contosoacr';
  const sub = s.subscriptionId ?? '00000000-0000-4000-8000-0000000000a1';
  return wifConnection('dockerregistry', {
    ...s,
    parameters: {
      loginServer: `${registry}.azurecr.io`,
      scope: `/subscriptions/${sub}/resourceGroups/registries/providers/Microsoft.ContainerRegistry/registries/${registry}`,
      ...s.parameters,
    },
    data: { registrytype: 'ACR', registryId: registry, subscriptionId: sub, subscriptionName: 'Registries', ...s.data },
  });
}

/** A connection of a type an extension defines (`contoso-cloud`) using WIF on either issuer. */
export const extensionTypeWif = (s: WifSpec, type = 'contoso-cloud'): SeedEndpoint => wifConnection(type, s);

/** An azurerm connection backed by a user-assigned managed identity (its client id, a Manual connection in its subscription). */
export function managedIdentityWif(s: Omit<WifSpec, 'clientId' | 'tenantId'>, mi: ManagedIdentitySeed, tenantId: string): SeedEndpoint {
  return wifConnection('azurerm', {
    creationMode: 'Manual',
    ...s,
    tenantId,
    clientId: mi.clientId,
    data: { environment: 'AzureCloud', scopeLevel: 'Subscription', subscriptionId: mi.subscriptionId, subscriptionName: 'Deployments', ...s.data },
  });
}

/** A federation with AWS (an extension's type): no tenantid / serviceprincipalid, the identity is not in Entra. */
export function awsWif(s: Omit<WifSpec, 'clientId' | 'tenantId'>, type = 'AWS'): SeedEndpoint {
  return wifConnection(type, { ...s, parameters: { roleArn: 'arn:aws:iam::123456789012:role/azure-devops-deploy', ...s.parameters } });
}

// ---------------------------------------------------------------------------------------------
// A ready world: every kind of candidate and non-candidate of `updateIssuer`, for the Harness or
// startEmulator + startEntraWorld. Ids are fixed so tests can name them.

export const MIG = {
  TENANT: 'bf59a2f3-9ca6-4909-b842-a0755803cb70',
  SUBSCRIPTION: '3c1d2e4f-0000-4000-8000-00000000ab01',
  /** The entraConnection identity: a secret client with Application.ReadWrite.All, writer on MI_WRITABLE, reader on MI_READONLY. */
  MIGRATOR: { clientId: '6a1f0c2e-4b7d-4e8a-9c3b-2d5e7f9a1c01', secret: 'migrator-secret' },
  APP_DOCKER: { appId: '45c3d574-2826-4bae-9c76-622d41c02101', objectId: '7972e778-b50a-41b6-81bb-792c3fe2d101' },
  APP_EXT: { appId: '45c3d574-2826-4bae-9c76-622d41c02102', objectId: '7972e778-b50a-41b6-81bb-792c3fe2d102' },
  APP_EXT_NEW: { appId: '45c3d574-2826-4bae-9c76-622d41c02103', objectId: '7972e778-b50a-41b6-81bb-792c3fe2d103' },
  MI_WRITABLE: {
    subscriptionId: '3c1d2e4f-0000-4000-8000-00000000ab01',
    resourceGroup: 'identities',
    name: 'deploy-mi',
    clientId: '9d0e1f2a-0000-4000-8000-0000000000d1',
    principalId: '9d0e1f2a-0000-4000-8000-0000000000e1',
  },
  MI_READONLY: {
    subscriptionId: '3c1d2e4f-0000-4000-8000-00000000ab01',
    resourceGroup: 'identities',
    name: 'locked-mi',
    clientId: '9d0e1f2a-0000-4000-8000-0000000000d2',
    principalId: '9d0e1f2a-0000-4000-8000-0000000000e2',
  },
  EP: {
    DOCKER: 'c0000000-0000-4000-8000-000000000d01',
    EXT_OLD: 'c0000000-0000-4000-8000-000000000d02',
    EXT_NEW: 'c0000000-0000-4000-8000-000000000d03',
    MI: 'c0000000-0000-4000-8000-000000000d04',
    MI_READONLY: 'c0000000-0000-4000-8000-000000000d05',
    AWS: 'c0000000-0000-4000-8000-000000000d06',
  },
} as const;

/** The connections of the ready world (all in PROJECT, home there). */
export function issuerMigrationEndpoints(): SeedEndpoint[] {
  const t = MIG.TENANT;
  return [
    dockerRegistryWif({ id: MIG.EP.DOCKER, name: 'acr-push', issuer: 'azuredevops', tenantId: t, clientId: MIG.APP_DOCKER.appId }),
    extensionTypeWif({ id: MIG.EP.EXT_OLD, name: 'contoso-cloud-old', issuer: 'azuredevops', tenantId: t, clientId: MIG.APP_EXT.appId }),
    extensionTypeWif({ id: MIG.EP.EXT_NEW, name: 'contoso-cloud-new', issuer: 'entra', tenantId: t, clientId: MIG.APP_EXT_NEW.appId }),
    managedIdentityWif({ id: MIG.EP.MI, name: 'mi-deploy', issuer: 'azuredevops' }, MIG.MI_WRITABLE, t),
    managedIdentityWif({ id: MIG.EP.MI_READONLY, name: 'mi-locked', issuer: 'azuredevops' }, MIG.MI_READONLY, t),
    awsWif({ id: MIG.EP.AWS, name: 'aws-deploy', issuer: 'azuredevops' }),
  ];
}

/**
 * The ready world's seed: the harness organization (seed()), the connections above (plus
 * `more`), the migration route in `migration` mode (default 'switches'), and an Entra section
 * where every identity holds the credential of its current issuer (so jobs run today) and none
 * holds its Entra one yet.
 */
export function issuerMigrationSeed(o: { migration?: MigrationMode; more?: SeedEndpoint[]; extra?: Partial<Seed> } = {}): Seed {
  const t = MIG.TENANT;
  const oldFic = (name: string) => ({ name: 'azdo-issuer', issuer: azureDevOpsIssuer(), subject: azureDevOpsSubject(name) });
  const newFic = (id: string) => ({ name: 'entra-issuer', ...entraIssuer(t, id) });
  return seed([...issuerMigrationEndpoints(), ...(o.more ?? [])], {
    migration: o.migration ?? 'switches',
    entra: {
      tenants: [
        {
          id: t,
          displayName: 'Contoso',
          applications: [
            { ...MIG.APP_DOCKER, displayName: 'acr-push', federatedIdentityCredentials: [oldFic('acr-push')] },
            { ...MIG.APP_EXT, displayName: 'contoso-cloud-old', federatedIdentityCredentials: [oldFic('contoso-cloud-old')] },
            { ...MIG.APP_EXT_NEW, displayName: 'contoso-cloud-new', federatedIdentityCredentials: [newFic(MIG.EP.EXT_NEW)] },
          ],
          // The connections' apps have their service principals too, so jobs (the OIDC endpoint) can use them.
          servicePrincipals: [
            { appId: MIG.MIGRATOR.clientId, secret: MIG.MIGRATOR.secret, permissions: ['Application.ReadWrite.All'] },
            ...[MIG.APP_DOCKER, MIG.APP_EXT, MIG.APP_EXT_NEW].map((a) => ({ appId: a.appId })),
          ],
          managedIdentities: [
            { ...MIG.MI_WRITABLE, writers: [MIG.MIGRATOR.clientId], federatedIdentityCredentials: [oldFic('mi-deploy')] },
            { ...MIG.MI_READONLY, readers: [MIG.MIGRATOR.clientId], federatedIdentityCredentials: [oldFic('mi-locked')] },
          ],
        },
      ],
    },
    ...o.extra,
  });
}
