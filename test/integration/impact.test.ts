// Integration: the impact check (which pipelines used each connection, with which tasks) run as the
// agent runs the task, against the emulator's execution history, build timelines and preview API.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import { Seed } from '../emulator/server';
import { Harness } from '../helpers/harness';
import { SeedEndpoint } from '../helpers/seed';

const h = new Harness();
const AZURE_CLI = { id: '46e4be58-730b-4389-8a2f-ea10b3e5e815', name: 'AzureCLI', version: '2.265.0' };
const FILE_COPY_5 = { id: 'eb72cb01-a7e5-427b-a8a1-1b31ccac8a43', name: 'AzureFileCopy', version: '5.259.0' };
const CHECKOUT = { id: '6d15af64-176c-496d-b583-fd2ae21d4df4', name: 'Checkout', version: '1.0.0' };
const run = (buildId: number, definitionId: number, definitionName: string, startTime: string) => ({
  planType: 'Build' as const,
  definitionId,
  definitionName,
  runId: buildId,
  startTime,
});
const timeline = (definitionId: number, ...tasks: Array<{ id: string; name: string; version: string }>) => ({
  definitionId,
  records: [{ id: 'job', type: 'Job', name: 'Job' }, ...tasks.map((task, i) => ({ id: `t${i}`, parentId: 'job', type: 'Task', name: task.name, task }))],
});

const endpoints: SeedEndpoint[] = [
  { name: 'uses-filecopy', emulator: { conversion: 'sync', executions: [run(101, 1, 'deploy-files', '-2d'), run(99, 1, 'deploy-files', '-5d')] } },
  { name: 'uses-cli', emulator: { conversion: 'sync', executions: [run(201, 2, 'infra', '-1d')] } },
  { name: 'preview-refused', emulator: { conversion: 'sync', executions: [run(301, 3, 'nightly', '-3d')] } },
  { name: 'unused', emulator: { conversion: 'sync', executions: [run(401, 4, 'ancient', '-90d')] } },
] as SeedEndpoint[];
const world: Partial<Seed> = {
  builds: {
    '101': timeline(1, CHECKOUT, FILE_COPY_5, AZURE_CLI, CHECKOUT),
    '99': timeline(1, AZURE_CLI),
    '201': timeline(2, CHECKOUT, AZURE_CLI),
    '301': timeline(3, AZURE_CLI),
    '401': timeline(4, FILE_COPY_5),
  },
  pipelines: {
    '1': { name: 'deploy-files', finalYaml: 'steps:\n- task: AzureFileCopy@5\n' },
    '2': { name: 'infra', finalYaml: 'steps:\n- task: AzureCLI@2\n  inputs:\n    addSpnToEnvironment: false\n' },
    '3': { name: 'nightly', preview: 'forbidden' },
    '4': { name: 'ancient', finalYaml: '' },
  },
};

describe('impact check', function () {
  this.timeout(60000);
  afterEach(() => h.close());

  it('warn: converts, and lists per connection the pipelines, last run and each flagged task with why', async () => {
    const t = await h.go(endpoints, { impactDays: '30', impactCheck: 'warn' }, { seed: world });
    assert.deepEqual(
      t.report.connections.map((c) => [c.name, c.outcome]),
      [
        ['preview-refused', 'converted'],
        ['unused', 'converted'],
        ['uses-cli', 'converted'],
        ['uses-filecopy', 'converted'],
      ],
    );
    const fc = t.byName('uses-filecopy')!.impact!;
    assert.equal(fc.flagged, true);
    assert.deepEqual(
      fc.pipelines.map((p) => [p.name, p.runId, p.tasks]),
      [['deploy-files', 101, ['Checkout@1', 'AzureFileCopy@5', 'AzureCLI@2']]],
    );
    assert.deepEqual(
      fc.pipelines[0].flags.map((f) => [f.task, f.severity]),
      [['AzureFileCopy@5', 'breaks']],
    );
    assert.match(fc.pipelines[0].flags[0].why, /upgrade the pipeline to AzureFileCopy@6/);
    assert.equal(t.byName('uses-cli')!.impact!.flagged, false);
    assert.ok(
      t.run.warnings.some((w) => w.startsWith("'uses-filecopy' is used by pipeline 'deploy-files': AzureFileCopy@5 does not support")),
      t.run.warnings.join('\n'),
    );
    assert.equal(t.run.warnings.filter((w) => w.includes('is used by pipeline')).length, 1, 'Checkout and AzureCLI are not flagged');
    // only the latest run of each pipeline is read, once
    assert.deepEqual(
      t.requests
        .filter((r) => /\/_apis\/build\/builds\//.test(r.path))
        .map((r) => r.path.split('/')[6])
        .sort(),
      ['101', '201', '301'],
    );

    const refused = t.byName('preview-refused')!.impact!;
    assert.match(refused.partial.join('\n'), /The YAML of 'nightly' was not checked \(HTTP 403/);
    const unused = t.byName('unused')!.impact!;
    assert.deepEqual([unused.pipelines, unused.partial], [[], []]);
    const summary = fs.readFileSync(t.run.summaryPath!, 'utf8');
    assert.match(summary, /#### Pipelines that used these connections \(last 30 days\)/);
    assert.match(summary, /\| unused \| no recorded use in the last 30 days \|/);
    assert.match(summary, /\| uses-filecopy \| deploy-files \(Build\) \| \d{4}-\d\d-\d\d \| \*\*Breaks:\*\* AzureFileCopy\\@5 does not support/);
    assert.match(summary, /\| uses-cli \| infra \(Build\) \| \d{4}-\d\d-\d\d \| nothing known to break \|/);
  });

  it('skip: leaves the connection whose pipeline runs AzureFileCopy@5 alone, naming pipeline and task', async () => {
    const t = await h.go(endpoints, { impactCheck: 'skip' }, { seed: world });
    const fc = t.byName('uses-filecopy')!;
    assert.equal(fc.outcome, 'skipped');
    assert.equal(fc.reasonCode, 'SkipImpact');
    assert.match(fc.reason!, /pipeline 'deploy-files' runs AzureFileCopy@5/);
    assert.equal(t.stored('uses-filecopy')!.authorization.scheme, 'ServicePrincipal');
    assert.equal(t.putsFor('uses-filecopy').length, 0);
    assert.equal(t.byName('uses-cli')!.outcome, 'converted');
  });

  it('a script reading servicePrincipalKey with addSpnToEnvironment is flagged; a marketplace task is to verify', async () => {
    const t = await h.go(
      [{ name: 'web', emulator: { conversion: 'sync', executions: [run(501, 5, 'web-ci', '-1d')] } }] as SeedEndpoint[],
      { dryRun: 'true' },
      {
        seed: {
          builds: { '501': timeline(5, AZURE_CLI, { id: 'c0ffee00-0000-4000-8000-000000000001', name: 'ContosoConfigPush', version: '1.4.2' }) },
          pipelines: {
            '5': {
              name: 'web-ci',
              finalYaml:
                '- task: AzureCLI@2\n  inputs:\n    addSpnToEnvironment: true\n    inlineScript: az login --service-principal -p $servicePrincipalKey\n',
            },
          },
          taskDefinitions: [
            { id: AZURE_CLI.id, name: 'AzureCLI', author: 'Microsoft Corporation', version: { major: 2, minor: 265, patch: 0 } },
            { id: 'c0ffee00-0000-4000-8000-000000000001', name: 'ContosoConfigPush', author: 'Contoso Tools', version: { major: 1, minor: 4, patch: 2 } },
          ],
        },
      },
    );
    const flags = t.byName('web')!.impact!.pipelines[0].flags;
    assert.deepEqual(
      flags.map((f) => [f.task, f.severity]),
      [
        ['ContosoConfigPush@1', 'verify'],
        ['YAML', 'breaks'],
      ],
    );
    assert.equal(t.puts.length, 0, 'dry run');
  });

  it('off: reads no history', async () => {
    const t = await h.go(endpoints, { impactCheck: 'off' }, { seed: world });
    assert.equal(t.requests.filter((r) => r.path.includes('executionhistory')).length, 0);
    assert.equal(t.byName('uses-filecopy')!.impact, undefined);
  });
});
