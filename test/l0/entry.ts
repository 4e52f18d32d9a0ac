// The task's entry for the L0 tests: the same wiring as index.ts (src/main.ts), with an in-memory
// Azure DevOps built from the scenario in __L0__ instead of the REST client. Nothing is mocked by
// module path: main() takes the client factory as its seam.
import * as path from 'path';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import type { ConversionBody, Endpoint } from '../../tasks/ConvertToWif/src/core/model';
import { normalizeEndpoint } from '../../tasks/ConvertToWif/src/core/normalize';
import type { AzureDevOps } from '../../tasks/ConvertToWif/src/core/ports';
import { main } from '../../tasks/ConvertToWif/src/main';
import type { Scenario } from './scenario';

const s: Scenario = JSON.parse(process.env['__L0__'] ?? '{}');
const endpoints = (s.endpoints ?? []).map((e) => normalizeEndpoint(e)!);

class FakeAzureDevOps implements AzureDevOps {
  constructor(o: { token: string; projectId: string }) {
    console.log(`FAKE_CLIENT project=${o.projectId} tokenMatches=${o.token === s.expectToken}`);
  }
  async list(): Promise<{ endpoints: Endpoint[]; malformed: number }> {
    if (s.listError) throw new ServiceError(s.listError);
    return { endpoints, malformed: 0 };
  }
  async get(id: string): Promise<Endpoint | null> {
    return endpoints.find((e) => e.id === id) ?? null;
  }
  async convert(id: string, body: ConversionBody): Promise<Endpoint> {
    console.log(`FAKE_CONVERT ${id}`);
    const e = endpoints.find((x) => x.id === id)!;
    return normalizeEndpoint({
      ...e,
      authorization: {
        scheme: body.authorization.scheme,
        parameters: { workloadIdentityFederationIssuer: 'https://issuer', workloadIdentityFederationSubject: `sc://${e.name}` },
      },
      data: { ...e.data, revertSchemeDeadline: '2026-12-03T00:00:00.000Z' },
      operationStatus: { state: 'Ready', statusMessage: '' },
    })!;
  }
  async manageableIds(): Promise<Set<string>> {
    return new Set(endpoints.map((e) => e.id.toLowerCase()));
  }
  async whoAmI(): Promise<string> {
    return 'Payments Build Service (contoso)';
  }
  // The impact check: no recorded use of any connection.
  async executionHistory(): Promise<{ records: never[] }> {
    return { records: [] };
  }
  async buildTasks(): Promise<never[]> {
    return [];
  }
  async pipelineYaml(): Promise<string> {
    return '';
  }
  async taskDefinitions(): Promise<never[]> {
    return [];
  }
}

void main(path.join(__dirname, '..', '..', 'tasks', 'ConvertToWif'), (o) => new FakeAzureDevOps(o));
