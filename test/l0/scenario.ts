// One MockTestRunner scenario, parameterised by the suite through the __L0__ environment variable
// (the pattern of qetza/replacetokens-task). The REST adapter is replaced by a fake that records
// what it was asked on stdout; task-lib is task-lib's own mock.
import * as path from 'path';
import { TaskMockRunner } from 'azure-pipelines-task-lib/mock-run';
import { toServiceError } from '../../tasks/ConvertToWif/src/adapters/serviceClient';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import type { Endpoint } from '../../tasks/ConvertToWif/src/core/model';

export interface Scenario {
  inputs: Record<string, string>;
  env: Record<string, string>;
  endpoints?: Endpoint[];
  listError?: { status?: number; message: string };
  expectToken?: string;
}

const s: Scenario = JSON.parse(process.env['__L0__'] ?? '{}');
const tmr = new TaskMockRunner(path.join(__dirname, '..', '..', 'tasks', 'ConvertToWif', 'index.js'));
for (const [k, v] of Object.entries(s.inputs)) tmr.setInput(k, v);
for (const [k, v] of Object.entries(s.env)) process.env[k] = v;

class FakeServiceClient {
  constructor(o: { token: string; projectId: string }) {
    console.log(`FAKE_CLIENT project=${o.projectId} tokenMatches=${o.token === s.expectToken}`);
  }
  async list(): Promise<{ endpoints: Endpoint[]; malformed: number }> {
    if (s.listError) throw new ServiceError(s.listError);
    return { endpoints: s.endpoints ?? [], malformed: 0 };
  }
  async get(id: string): Promise<Endpoint | null> {
    return (s.endpoints ?? []).find((e) => e.id === id) ?? null;
  }
  async convert(id: string): Promise<Endpoint> {
    console.log(`FAKE_CONVERT ${id}`);
    const e = (s.endpoints ?? []).find((x) => x.id === id)!;
    return {
      ...e,
      authorization: {
        scheme: 'WorkloadIdentityFederation',
        parameters: { workloadIdentityFederationIssuer: 'https://issuer', workloadIdentityFederationSubject: `sc://${e.name}` },
      },
      data: { ...e.data, revertSchemeDeadline: '2026-12-03T00:00:00.000Z' },
      operationStatus: { state: 'Ready', statusMessage: '' },
    };
  }
  // The impact check: no recorded use of any connection.
  async executionHistory(): Promise<{ records: never[] }> {
    return { records: [] };
  }
  async manageableIds(): Promise<Set<string>> {
    return new Set((s.endpoints ?? []).map((e) => e.id.toLowerCase()));
  }
  async whoAmI(): Promise<string> {
    return 'Payments Build Service (contoso)';
  }
}
tmr.registerMock('./src/adapters/serviceClient', { ServiceClient: FakeServiceClient, toServiceError });
tmr.run();
