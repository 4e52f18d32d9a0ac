// The Entra world both Entra test files use (the emulators' own test and the adapter's): tenants,
// apps, clients with different Graph permissions and the Azure DevOps connections behind them.
import { issuerAndSubject } from '../emulator/oidc';
import type { Seed } from '../emulator/types';

export const TENANT = 'bf59a2f3-9ca6-4909-b842-a0755803cb70';
export const OTHER_TENANT = '0d5e3b9c-6f54-4c1d-9a37-1f3c0e0f6a11';
export const OWNED_CLIENT = '6a1f0c2e-4b7d-4e8a-9c3b-2d5e7f9a1b01'; // WIF, Application.ReadWrite.OwnedBy
export const ALL_CLIENT = '6a1f0c2e-4b7d-4e8a-9c3b-2d5e7f9a1b02'; // secret, Application.ReadWrite.All
export const NONE_CLIENT = '6a1f0c2e-4b7d-4e8a-9c3b-2d5e7f9a1b03'; // secret, no permission
export const OWNED_APP = { appId: '45c3d574-2826-4bae-9c76-622d41c021b1', objectId: '7972e778-b50a-41b6-81bb-792c3fe2dbaa' };
export const OTHER_APP = { appId: '45c3d574-2826-4bae-9c76-622d41c021b2', objectId: '7972e778-b50a-41b6-81bb-792c3fe2dbab' };
export const FOREIGN_APP = '45c3d574-2826-4bae-9c76-622d41c021b3';
export const WIF_EP = 'aab2a38a-dceb-4796-8f03-44caf0fb8a1e';
export const SECRET_EP = 'aab2a38a-dceb-4796-8f03-44caf0fb8a1f';

export const AUD = 'api://AzureADTokenExchange';

function endpoint(id: string, name: string, clientId: string, scheme: string): Record<string, unknown> {
  return {
    id,
    name,
    type: 'azurerm',
    url: 'https://management.azure.com/',
    data: { environment: 'AzureCloud' },
    authorization: { scheme, parameters: { tenantid: TENANT, serviceprincipalid: clientId } },
    serviceEndpointProjectReferences: [{ projectReference: { id: 'p1', name: 'Payments' }, name }],
  };
}

/** Two tenants: apps owned or not by the WIF client, three clients with different Graph permissions, two Azure DevOps connections. */
export function entraTestSeed(JOB = 'job-token'): Seed {
  const s: Seed = {
    organization: { name: 'contoso', id: '1cb471ef-cd8d-4af1-a5fa-a9f46b28748e' },
    projects: [{ id: 'p1', name: 'Payments' }],
    identities: [{ token: JOB, name: 'Payments Build Service (contoso)' }],
    defaultAdministrators: [],
    endpoints: [
      endpoint(WIF_EP, 'entra-admin', OWNED_CLIENT, 'WorkloadIdentityFederation'),
      endpoint(SECRET_EP, 'entra-admin-secret', ALL_CLIENT, 'ServicePrincipal'),
    ],
  };
  const own = issuerAndSubject(s, s.endpoints[0]);
  s.entra = {
    propagationDelayMs: 0,
    tenants: [
      {
        id: TENANT,
        displayName: 'Contoso',
        applications: [
          {
            ...OWNED_APP,
            displayName: 'contoso-payments-api',
            owners: [OWNED_CLIENT],
            passwordCredentials: [{ keyId: 'k1', displayName: 'old', hint: 'abc', endDateTime: '2027-01-01T00:00:00Z' }],
          },
          { ...OTHER_APP, displayName: 'not-owned' },
        ],
        servicePrincipals: [
          {
            appId: OWNED_CLIENT,
            permissions: ['Application.ReadWrite.OwnedBy'],
            federatedIdentityCredentials: [{ name: 'azdo', issuer: own.issuer, subject: own.subject }],
          },
          { appId: ALL_CLIENT, permissions: ['Application.ReadWrite.All'], secret: 'all-secret' },
          { appId: NONE_CLIENT, secret: 'none-secret' },
        ],
      },
      {
        id: OTHER_TENANT,
        applications: [{ appId: FOREIGN_APP, objectId: '11111111-2222-4333-8444-555555555555', displayName: 'foreign', signInAudience: 'AzureADMultipleOrgs' }],
      },
    ],
  };
  return s;
}
