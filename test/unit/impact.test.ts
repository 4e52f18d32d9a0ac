import * as assert from 'node:assert/strict';
import * as sinon from 'sinon';
import { KNOWN_INCOMPATIBLE, applyImpact, assessImpact, flagTasks, parseTaskList, scanYaml } from '../../tasks/ConvertToWif/src/core/impact';
import { Impact, TaskRef, msg } from '../../tasks/ConvertToWif/src/core/model';
import { ImpactPort } from '../../tasks/ConvertToWif/src/core/ports';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';

const task = (name: string, version: string, id = `id-${name.toLowerCase()}`): TaskRef => ({ id, name, version });
const NOW = new Date('2026-11-26T12:00:00Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000).toISOString();

describe('impact check', () => {
  it('flags AzureFileCopy before v6, Microsoft-listed tasks, user-listed tasks, and non-Microsoft tasks to verify', () => {
    const authors = new Map([
      ['id-azurecli', 'Microsoft Corporation'],
      ['id-azurefilecopy', 'Microsoft Corporation'],
      ['id-mydeploy', 'Contoso'],
      ['id-publishtoazureservicebus', 'Microsoft Corporation'],
    ]);
    const flags = flagTasks(
      [
        task('Checkout', '1.0.0', '6d15af64-176c-496d-b583-fd2ae21d4df4'),
        task('AzureCLI', '2.250.0'),
        task('AzureFileCopy', '5.1.0'),
        task('AzureFileCopy', '5.1.0'),
        task('AzureFileCopy', '6.0.1'),
        task('MyDeploy', '2.0.0'),
        task('PublishToAzureServiceBus', '1.2.3'),
        task('Legacy', '1.0.0', 'id-legacy'),
        task('NotInCatalogue', '1.0.0'),
      ],
      parseTaskList(['Legacy@1']).match,
      authors,
    );
    assert.deepEqual(
      flags.map((f) => [f.task, f.severity, f.why.key]),
      [
        ['AzureFileCopy@5', 'breaks', 'AzureFileCopyOld'],
        ['MyDeploy@2', 'verify', 'ImpactNotMicrosoft'],
        ['PublishToAzureServiceBus@1', 'breaks', 'TaskNewerVersion'],
        ['Legacy@1', 'breaks', 'ImpactUserListed'],
      ],
    );
  });

  it('parses incompatibleTasks: Name@Major, Name, or a task id', () => {
    const list = parseTaskList(['Deploy@2', 'Other', '0F9A4B5C-0000-4000-8000-000000000001', 'bad entry', '@3']);
    assert.deepEqual(list.invalid, ['bad entry', '@3']);
    assert.equal(list.match(task('deploy', '2.1.0')), true);
    assert.equal(list.match(task('Deploy', '3.0.0')), false);
    assert.equal(list.match(task('Other', '9.0.0')), true);
    assert.equal(list.match(task('X', '1.0.0', '0f9a4b5c-0000-4000-8000-000000000001')), true);
  });

  it('finds scripts that read servicePrincipalKey with addSpnToEnvironment', () => {
    assert.deepEqual(
      scanYaml('inputs:\n  addSpnToEnvironment: true\n  inlineScript: az login --password $servicePrincipalKey').map((f) => [f.severity, f.why.key]),
      [['breaks', 'ImpactYamlReadsKey']],
    );
    assert.deepEqual(
      scanYaml("addSpnToEnvironment: 'true'").map((f) => f.severity),
      ['verify'],
    );
    assert.deepEqual(scanYaml('addSpnToEnvironment: false\nservicePrincipalKey'), []);
  });

  it('reads history within the window, the latest run per pipeline once, and caches timelines and YAML', async () => {
    const port: ImpactPort = {
      executionHistory: sinon.stub().callsFake(async (id: string, token?: string) => {
        if (id === 'c1' && !token)
          return {
            records: [
              { planType: 'Build', definitionId: 7, definitionName: 'deploy', runId: 102, startTime: daysAgo(1) },
              { planType: 'Build', definitionId: 7, definitionName: 'deploy', runId: 101, startTime: daysAgo(2) },
            ],
            continuationToken: 'p2',
          };
        if (id === 'c1')
          return {
            records: [
              { planType: 'Release', definitionId: 3, definitionName: 'rel', runId: 9, startTime: daysAgo(3) },
              { planType: 'Build', definitionId: 8, definitionName: 'old', runId: 50, startTime: daysAgo(40) },
            ],
            continuationToken: 'p3',
          };
        if (id === 'c2') return { records: [{ planType: 'Build', definitionId: 7, definitionName: 'deploy', runId: 102, startTime: daysAgo(1) }] };
        return { records: [] };
      }),
      buildTasks: sinon.stub().resolves([task('AzureFileCopy', '5.0.0'), task('AzureCLI', '2.0.0')]),
      pipelineYaml: sinon.stub().resolves('steps: []'),
      taskDefinitions: sinon.stub().resolves([
        { id: 'id-azurefilecopy', name: 'AzureFileCopy', author: 'Microsoft Corporation' },
        { id: 'id-azurecli', name: 'AzureCLI', author: 'Microsoft Corporation' },
      ]),
    };
    const impacts = await assessImpact(['c1', 'c2', 'c3'], port, { days: 30, now: NOW, concurrency: 4, userList: () => false });
    const c1 = impacts.get('c1')!;
    assert.deepEqual(
      c1.pipelines.map((p) => [p.name, p.type, p.runId, p.tasks, p.flags.map((f) => f.task)]),
      [
        ['deploy', 'Build', 102, ['AzureFileCopy@5', 'AzureCLI@2'], ['AzureFileCopy@5']],
        ['rel', 'Release', 9, [], []],
      ],
    );
    assert.deepEqual(
      c1.partial.map((m) => m.key),
      ['ImpactReleaseNotInspected'],
    );
    assert.equal((port.executionHistory as sinon.SinonStub).withArgs('c1').callCount, 2, 'stopped paging once past the window');
    assert.equal((port.buildTasks as sinon.SinonStub).callCount, 1, 'run 102 read once for both connections');
    assert.equal((port.pipelineYaml as sinon.SinonStub).callCount, 1);
    assert.equal((port.taskDefinitions as sinon.SinonStub).callCount, 1);
    assert.deepEqual(impacts.get('c3'), { days: 30, pipelines: [], partial: [] });
  });

  it('reports a partial check when YAML preview is refused or the history cannot be read', async () => {
    const port: ImpactPort = {
      executionHistory: sinon.stub().callsFake(async (id: string) => {
        if (id === 'bad') throw new ServiceError({ status: 403, message: 'denied' });
        return { records: [{ planType: 'Build', definitionId: 1, definitionName: 'p', runId: 1, startTime: daysAgo(1) }] };
      }),
      buildTasks: sinon.stub().resolves([task('AzureCLI', '2.0.0')]),
      pipelineYaml: sinon.stub().rejects(new ServiceError({ status: 403, message: 'no permission to edit' })),
      taskDefinitions: sinon.stub().rejects(new Error('boom')),
    };
    const impacts = await assessImpact(['ok', 'bad'], port, { days: 30, now: NOW, concurrency: 2, userList: () => false });
    assert.deepEqual(
      impacts.get('ok')!.partial.map((m) => m.key),
      ['ImpactNoYaml', 'ImpactNoCatalogue'],
    );
    assert.deepEqual(
      impacts.get('bad')!.partial.map((m) => [m.key, m.args[0]]),
      [['ImpactNoHistory', 'HTTP 403: denied']],
    );
  });

  it('under skip, leaves flagged connections alone and names the pipeline and task', () => {
    const impacts = new Map([
      [
        'a',
        {
          days: 30,
          partial: [],
          pipelines: [
            {
              id: 1,
              name: 'deploy',
              type: 'Build' as const,
              runId: 1,
              tasks: [],
              flags: [{ task: 'AzureFileCopy@5', severity: 'breaks' as const, why: { key: 'AzureFileCopyOld', args: [] } }],
            },
          ],
        },
      ],
    ]);
    const classified = [
      { endpoint: { id: 'a' }, decision: { kind: 'change' } },
      { endpoint: { id: 'b' }, decision: { kind: 'change' } },
    ];
    const out = applyImpact(classified, impacts, 'skip');
    assert.deepEqual(
      out.map((c) => c.decision),
      [{ kind: 'skip', reason: { key: 'SkipImpact', args: ['deploy', 'AzureFileCopy@5', 1] } }, { kind: 'change' }],
    );
    assert.equal(applyImpact(classified, impacts, 'warn'), classified);
  });

  it('knows the current list of tasks that break: newer Microsoft list, removed entries, Marketplace Terraform', () => {
    const judge = (name: string, version: string) => flagTasks([task(name, version)], () => false, undefined).map((f) => `${f.severity}:${f.why.key}`);
    // No longer on Microsoft's list: they support federation now.
    for (const [n, v] of [
      ['ContainerBuild', '0.1.0'],
      ['ContainerStructureTest', '0.2.0'],
      ['Notation', '0.3.0'],
      ['AzureFileCopy', '6.1.0'],
      ['TerraformTaskV4', '4.1.0'],
    ])
      assert.deepEqual(judge(n, v), [], `${n}@${v}`);
    for (const [n, v] of [
      ['AzureNLBManagement', '1.0.0'],
      ['ServiceFabricComposeDeploy', '0.1.0'],
      ['ServiceFabricDeploy', '1.2.0'],
      ['TerraformTaskV3', '3.209.0'],
      ['TerraformTaskV1', '0.1.0'],
    ])
      assert.deepEqual(judge(n, v), ['breaks:TaskNoFederation'], `${n}@${v}`);
    for (const [n, v] of [
      ['AzureCloudPowerShellDeployment', '1.0.0'],
      ['AzureFunctionOnKubernetes', '0.1.0'],
      ['AzureMonitor', '0.1.0'],
      ['Kubernetes', '0.1.0'],
      ['KubernetesManifest', '0.1.0'],
      ['PackerBuild', '0.1.0'],
      ['PublishToAzureServiceBus', '1.0.0'],
    ])
      assert.deepEqual(judge(n, v), ['breaks:TaskNewerVersion'], `${n}@${v}`);
    // Docker@1 breaks only through a Docker-registry connection: a finding to check.
    assert.deepEqual(judge('Docker', '1.0.0'), ['verify:TaskDocker1']);
    assert.deepEqual(judge('Docker', '2.0.0'), []);
    // Every built-in entry names its public source, which the message shows.
    for (const k of KNOWN_INCOMPATIBLE) assert.match(k.source, /\.md$/);
    assert.equal(
      flagTasks([task('ServiceFabricDeploy', '1.0.0')], () => false, undefined)[0].why.args[1],
      KNOWN_INCOMPATIBLE.find((k) => k.name.test('ServiceFabricDeploy'))!.source,
    );
  });

  it('under skip, a connection whose use could not be read is left alone; findings to check do not block', () => {
    const verifyOnly = {
      days: 30,
      partial: [],
      pipelines: [
        {
          id: 1,
          name: 'web',
          type: 'Build' as const,
          runId: 1,
          tasks: [],
          flags: [{ task: 'Vendor@1', severity: 'verify' as const, why: msg('ImpactNotMicrosoft', 'Vendor@1', 'x') }],
        },
      ],
    };
    const impacts = new Map<string, Impact>([
      ['unreadable', { days: 30, pipelines: [], partial: [msg('ImpactNoHistory', 'HTTP 500')], unreadable: true }],
      ['verify', verifyOnly],
      ['yaml-not-checked', { days: 30, pipelines: [], partial: [msg('ImpactNoYaml', 'p', '403')] }],
    ]);
    const classified = [...impacts.keys()].map((id) => ({ endpoint: { id }, decision: { kind: 'change' } }));
    assert.deepEqual(
      applyImpact(classified, impacts, 'skip').map((c) => c.decision),
      [{ kind: 'skip', reason: { key: 'SkipImpactUnknown', args: [30] } }, { kind: 'change' }, { kind: 'change' }],
    );
  });

  it('marks the use unreadable when the history or a timeline cannot be read, not when only the YAML cannot', async () => {
    const port = {
      executionHistory: sinon.stub().callsFake(async (id: string) => {
        if (id === 'no-history') throw new ServiceError({ status: 500, message: 'boom' });
        return {
          records: [
            {
              planType: 'Build',
              definitionId: id === 'no-timeline' ? 2 : 3,
              definitionName: id,
              runId: id === 'no-timeline' ? 20 : 30,
              startTime: NOW.toISOString(),
            },
          ],
        };
      }),
      buildTasks: sinon.stub().callsFake(async (runId: number) => {
        if (runId === 20) throw new ServiceError({ status: 500, message: 'timeline gone' });
        return [task('AzureCLI', '2.0.0')];
      }),
      pipelineYaml: sinon.stub().rejects(new ServiceError({ status: 403, message: 'no permission' })),
      taskDefinitions: sinon.stub().resolves([]),
    };
    const impacts = await assessImpact(['no-history', 'no-timeline', 'no-yaml'], port, { days: 30, now: NOW, concurrency: 2, userList: () => false });
    assert.deepEqual(
      ['no-history', 'no-timeline', 'no-yaml'].map((id) => impacts.get(id)!.unreadable === true),
      [true, true, false],
    );
  });
});
