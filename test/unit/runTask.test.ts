// The use case (core/runTask.ts) over in-memory ports, the way jessehouwing/azdo-marketplace tests
// its core against a mock platform adapter: no task-lib, no HTTP, no process.
import * as assert from 'node:assert/strict';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import { RawInputs } from '../../tasks/ConvertToWif/src/core/inputs';
import { ConversionBody, Endpoint } from '../../tasks/ConvertToWif/src/core/model';
import { AzureDevOps, ConnectSettings } from '../../tasks/ConvertToWif/src/core/ports';
import { runTask } from '../../tasks/ConvertToWif/src/core/runTask';
import { PROJECT, convertedAnswer, endpoint } from '../helpers/endpoints';
import { MemoryHost, clock } from '../helpers/memory';

/** Azure DevOps in memory: a listing, synchronous conversions, no recorded pipeline use. */
class MemoryAzureDevOps implements AzureDevOps {
  converted: string[] = [];
  settings?: ConnectSettings;
  onHistory?: () => void;
  constructor(private readonly endpoints: Endpoint[]) {}
  list = async () => ({ endpoints: this.endpoints, malformed: 0 });
  get = async (id: string) => this.endpoints.find((e) => e.id === id) ?? null;
  convert = async (id: string, body: ConversionBody) => {
    this.converted.push(id);
    return convertedAnswer(
      this.endpoints.find((x) => x.id === id)!,
      body.authorization.scheme,
    );
  };
  manageableIds = async () => new Set(this.endpoints.map((e) => e.id.toLowerCase()));
  whoAmI = async () => 'Payments Build Service (contoso)';
  executionHistory = async () => {
    this.onHistory?.();
    return { records: [] };
  };
  buildTasks = async () => [];
  pipelineYaml = async () => '';
  taskDefinitions = async () => [];
}

async function go(
  inputs: RawInputs,
  endpoints: Endpoint[],
  o: { project?: { id?: string; name?: string }; abort?: AbortController; before?: (ado: MemoryAzureDevOps) => void } = {},
) {
  const host = new MemoryHost(inputs, o.project);
  const ado = new MemoryAzureDevOps(endpoints);
  o.before?.(ado);
  const abort = o.abort ?? new AbortController();
  await runTask({
    host,
    clock: clock(),
    cancelled: abort.signal,
    connect: (s) => {
      ado.settings = s;
      return ado;
    },
  });
  return { host, ado };
}

describe('runTask (the use case over in-memory ports)', () => {
  it('converts, writes the report and the outputs, and succeeds', async () => {
    const { host, ado } = await go({ impactCheck: 'off' }, [endpoint({ name: 'a' }), endpoint({ name: 'b' })]);
    assert.equal(host.outcome?.kind, 'Succeeded');
    assert.equal(ado.converted.length, 2);
    assert.equal(host.outputs['convertedCount'], '2');
    assert.deepEqual(
      host.report.connections.map((c) => c.outcome),
      ['converted', 'converted'],
    );
    assert.ok(host.secrets.includes('job-token'), 'the token is registered as a secret');
  });

  it('without System.TeamProjectId, reads the project id from the connections and converts the ones homed in it', async () => {
    const { host, ado } = await go({ impactCheck: 'off' }, [endpoint({ name: 'a' })], { project: { name: PROJECT.name } });
    assert.equal(ado.settings?.projectId, PROJECT.name, 'the listing is asked by project name');
    assert.equal(host.report.project.id, PROJECT.id, 'the id comes from the project references');
    assert.equal(host.report.connections[0].outcome, 'converted', JSON.stringify(host.report.connections[0]));
  });

  it('cancelled during the impact check: no conversion starts, every connection is "not attempted", the result is Cancelled', async () => {
    const abort = new AbortController();
    const { host, ado } = await go({}, [endpoint({ name: 'a' }), endpoint({ name: 'b' })], { abort, before: (a) => (a.onHistory = () => abort.abort()) });
    assert.deepEqual(ado.converted, [], 'a conversion was sent after the cancellation');
    assert.deepEqual(
      host.report.connections.map((c) => c.reasonCode),
      ['SkipNotAttempted', 'SkipNotAttempted'],
    );
    assert.equal(host.outcome?.kind, 'Cancelled');
  });

  it('a listing refused with 401 fails with the token message, and the report is still written', async () => {
    const { host } = await go({}, [], {
      before: (a) => (a.list = () => Promise.reject(new ServiceError({ status: 401, message: 'TF400813' }))),
    });
    assert.equal(host.outcome?.kind, 'Failed');
    assert.match(host.report.error ?? '', /rejected the token/);
  });

  it('bad inputs change nothing: no client is built, the errors name the inputs', async () => {
    const { host, ado } = await go({ concurrency: '99', failOnFindings: 'true' }, [endpoint({ name: 'a' })]);
    assert.equal(ado.settings, undefined);
    assert.equal(host.outcome?.kind, 'Failed');
    assert.ok(host.lines.some((l) => l.level === 'error' && l.text.includes("'concurrency'")));
    assert.ok(host.lines.some((l) => l.level === 'error' && l.text.includes("'failOnFindings'")));
  });
});
