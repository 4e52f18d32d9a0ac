// One MockTestRunner scenario, parameterised by the suite through the __L0__ environment variable
// (the pattern of qetza/replacetokens-task). task-lib is task-lib's own mock; Azure DevOps is the
// in-memory one of entry.ts, handed to the task's main() (no module is mocked by path).
import * as path from 'path';
import { TaskMockRunner } from 'azure-pipelines-task-lib/mock-run';
import type { Endpoint } from '../../tasks/ConvertToWif/src/core/model';

export interface Scenario {
  inputs: Record<string, string>;
  env: Record<string, string>;
  endpoints?: Endpoint[];
  listError?: { status?: number; message: string };
  expectToken?: string;
}

if (require.main === module) {
  const s: Scenario = JSON.parse(process.env['__L0__'] ?? '{}');
  const tmr = new TaskMockRunner(path.join(__dirname, 'entry.js'));
  for (const [k, v] of Object.entries(s.inputs)) tmr.setInput(k, v);
  for (const [k, v] of Object.entries(s.env)) process.env[k] = v;
  tmr.run();
}
