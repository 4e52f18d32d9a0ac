// Emulator seeds built in code for integration tests.
import { Seed } from '../emulator/server';
import { EndpointSpec, OTHER_PROJECT, PROJECT, rawEndpoint } from './endpoints';
import type { EndpointBehaviour } from '../emulator/server';

export const ORG = { name: 'contoso', id: '7a6c1d1e-0000-4000-8000-00000000c0de' };
export const JOB_TOKEN = 'job-token-7f3a9c2e5b1d';
export const JOB_IDENTITY = 'Payments Build Service (contoso)';
export const ADMIN_PAT = 'admin-pat-41b8e0d2c6a9';
export const ADMIN = 'Ada Admin';

export type SeedEndpoint = EndpointSpec & { emulator?: EndpointBehaviour };

export function seed(endpoints: SeedEndpoint[], extra: Partial<Seed> = {}): Seed {
  return {
    organization: ORG,
    projects: [PROJECT, OTHER_PROJECT],
    identities: [
      // The pipeline's job identity has no Entra token (Azure DevOps cannot add a federated
      // credential on its behalf); Ada's PAT is a user's.
      { token: JOB_TOKEN, name: JOB_IDENTITY, kind: 'service' },
      { token: ADMIN_PAT, name: ADMIN, kind: 'user' },
    ],
    defaultAdministrators: [JOB_IDENTITY, ADMIN],
    endpoints: endpoints.map(({ emulator, ...spec }) => {
      const e = rawEndpoint(spec) as unknown as Record<string, unknown>;
      (e['authorization'] as { parameters: Record<string, unknown> }).parameters['serviceprincipalkey'] = null;
      return { ...e, emulator: { secret: `secret-of-${spec.name}`, ...emulator } };
    }),
    ...extra,
  };
}
