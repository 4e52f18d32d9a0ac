// The task as users get it: the .vsix built once per test process (test/helpers/packaged.ts),
// unzipped, its entry run against the emulator seeded with the demo project (what `npm start`
// shows), on every Node.js runtime the task declares a handler for (test/helpers/nodes.ts).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { EntraWorld, startEntraWorld } from '../emulator/entraWorld';
import { Emulator, loadSeed, startEmulator } from '../emulator/server';
import { agentConnectionEnv, directoryOf } from '../helpers/agent';
import type { Report } from '../../tasks/ConvertToWif/src/core/report';
import { repoRoot } from '../helpers/localize';
import { runtimes } from '../helpers/nodes';
import { packaged } from '../helpers/packaged';
import { TaskRun, runTask } from '../helpers/runTask';
import { helpWithLink, marketplaceUrl } from '../../scripts/package';

describe('packaged .vsix', function () {
  this.timeout(120000);
  const seed = loadSeed(path.join(repoRoot, 'test', 'emulator', 'seeds', 'demo.json'));
  const project = seed.projects[0];
  const jobToken = seed.identities[0].token;
  let entry = '';
  let emu: Emulator;
  const runs: TaskRun[] = [];

  before(async () => {
    const pkg = await packaged();
    assert.ok(pkg.bytes < 1024 * 1024, `VSIX is ${pkg.bytes} bytes`);
    assert.deepEqual(pkg.files, [
      'CHANGELOG.md',
      'LICENSE',
      '[Content_Types].xml',
      'extension.vsixmanifest',
      'extension.vsomanifest',
      'images/extension-icon.png',
      'images/summary.png',
      'overview.md',
      'tasks/ConvertToWif/Strings/resources.resjson/en-US/resources.resjson',
      'tasks/ConvertToWif/icon.png',
      'tasks/ConvertToWif/index.js',
      'tasks/ConvertToWif/task.json',
      'tasks/ConvertToWif/task.loc.json',
    ]);
    entry = pkg.entry;
  });

  it("ships CHANGELOG.md and the publishing metadata; the task help links the extension's page", async () => {
    const { dir } = await packaged();
    const read = (rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
    const source = (rel: string) => fs.readFileSync(path.join(repoRoot, rel), 'utf8');
    assert.equal(read('CHANGELOG.md'), source('CHANGELOG.md'));
    assert.match(read('overview.md'), /\]\(CHANGELOG\.md\)/);
    const manifest = JSON.parse(source('vss-extension.json'));
    const page = marketplaceUrl(manifest.publisher, manifest.id);

    const xml = read('extension.vsixmanifest');
    assert.match(xml, /<Asset Type="CHANGELOG\.md" d:Source="File" Path="CHANGELOG\.md" Addressable="true"\/>/);
    assert.match(xml, /<GalleryFlags>[^<]*\bPreview\b[^<]*<\/GalleryFlags>/);
    const property = (id: string) => new RegExp(`<Property Id="${id.replace(/\./g, '\\.')}" Value="([^"]*)"`).exec(xml)?.[1]?.replace(/&amp;/g, '&');
    assert.equal(property('Microsoft.VisualStudio.Services.Links.Getstarted'), page);
    assert.equal(property('Microsoft.VisualStudio.Services.Links.Support'), `${page}&ssr=false#qna`);
    assert.equal(
      property('Microsoft.VisualStudio.Services.Links.License'),
      `https://marketplace.visualstudio.com/items/${manifest.publisher}.${manifest.id}/license`,
    );
    assert.equal(property('Microsoft.VisualStudio.Services.Links.GitHub'), undefined, 'no repository link while package.json names none');
    assert.equal(property('Microsoft.VisualStudio.Services.Branding.Color'), manifest.branding.color);
    assert.equal(property('Microsoft.VisualStudio.Services.Branding.Theme'), manifest.branding.theme);

    // The packaged task.json is the source one with the link appended to its top-level help (also in the resources).
    const task = JSON.parse(read('tasks/ConvertToWif/task.json'));
    const sourceTask = JSON.parse(source('tasks/ConvertToWif/task.json'));
    assert.equal(task.helpMarkDown, helpWithLink(sourceTask.helpMarkDown, page));
    assert.deepEqual({ ...task, helpMarkDown: 0 }, { ...sourceTask, helpMarkDown: 0 });
    const res = JSON.parse(read('tasks/ConvertToWif/Strings/resources.resjson/en-US/resources.resjson'));
    assert.equal(res['loc.helpMarkDown'], task.helpMarkDown);
  });

  let world: EntraWorld;
  beforeEach(async () => {
    emu = await startEmulator(seed);
    world = await startEntraWorld(seed, { azureDevOps: emu });
    emu.attachDirectory(directoryOf(world));
  });
  afterEach(async () => {
    await world.close();
    await emu.close();
    for (const r of runs.splice(0)) fs.rmSync(r.tempDir, { recursive: true, force: true });
  });

  /** The demo's entra-admin connection as the agent hands it to the task (entraConnection). */
  const entraEnv = () => {
    const admin = seed.endpoints.find((e) => e.name === 'entra-admin')!;
    const p = (admin.authorization as { parameters: Record<string, string> }).parameters;
    return agentConnectionEnv({ id: String(admin.id), scheme: 'WorkloadIdentityFederation', tenantId: p.tenantid, clientId: p.serviceprincipalid }, world);
  };
  const runOn = async (node: string, inputs: Record<string, string>, o: { entra?: boolean } = {}) => {
    const env = { SYSTEM_COLLECTIONID: seed.organization.id, ...(o.entra ? entraEnv() : {}) };
    const r = await runTask({ entry, node, inputs, collectionUri: emu.url, projectId: project.id, projectName: project.name, jobToken, env });
    runs.push(r);
    const report = r.report as { connections: Array<{ name: string; outcome: string; reasonCode?: string }> };
    return { r, outcomes: Object.fromEntries(report.connections.map((c) => [c.name, c.reasonCode ? `${c.outcome}:${c.reasonCode}` : c.outcome])) };
  };

  for (const rt of runtimes()) {
    it(`${rt.label}: dry run, then convert: every azurerm connection of the demo project gets the right outcome`, async () => {
      assert.equal(execFileSync(rt.path, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' }).trim(), rt.label.replace(/^node /, ''));
      const run = (inputs: Record<string, string>, o: { entra?: boolean } = {}) => runOn(rt.path, inputs, o);
      const dry = await run({ dryRun: 'true' });
      assert.equal(dry.r.result?.result, 'SucceededWithIssues'); // prod-restricted would be refused
      assert.equal(emu.requests.filter((q) => q.method === 'PUT').length, 0);
      assert.equal(dry.outcomes['prod-restricted'], 'planned:PlannedNotAdministrator');

      // Without entraConnection the job identity (a service identity) cannot convert an automatic
      // connection whose app lacks the credential: Azure DevOps has no Entra token for it.
      const noEntra = await run({ waitTimeoutSeconds: '30' });
      for (const name of ['dev-sandbox', 'prod-ledger', 'Prod – Zürich (payments)']) assert.equal(noEntra.outcomes[name], 'failed:FailAadSilent', name);
      assert.equal(noEntra.r.variables['convertedCount']?.value, '0');
      assert.match(noEntra.r.errors.join('\n'), /AAD returned silent failure\)\. Set entraConnection/);

      // With entraConnection (and manual apps included) the task adds each app's credential first.
      const real = await run({ waitTimeoutSeconds: '30', includeManual: 'true' }, { entra: true });
      assert.deepEqual(real.outcomes, {
        'already-federated': 'federated',
        'aks-msi': 'skipped:SkipManagedIdentity',
        'azurestack-lab': 'skipped:SkipAzureStack',
        'broken-connection': 'skipped:SkipNotReady',
        'dev-sandbox': 'converted',
        // the demo's Entra admin connection (its identity owns the connections' apps): already federated
        'entra-admin': 'federated',
        'legacy-manual-app': 'converted',
        'manual-with-fic': 'converted',
        'old-issuer-federated': 'federated:FederatedRetiringIssuer',
        'Prod – Zürich (payments)': 'converted',
        'prod-ledger': 'converted',
        // impactCheck: skip (the default): AzureFileCopy@5 and a script reading servicePrincipalKey would break.
        'prod-payments-api': 'skipped:SkipImpact',
        'prod-payments-web': 'skipped:SkipImpactYaml',
        'prod-restricted': 'failed:FailNotAdministrator',
        'shared-from-platform-team': 'skipped:SkipHomedElsewhere',
        'shared-platform': 'skipped:SkipShared',
        'webapp-publish-profile': 'skipped:SkipPublishProfile',
      });
      assert.equal(real.r.result?.result, 'Failed');
      // the impact check, from the packaged task: the pipeline running AzureFileCopy@5 is named
      const report = real.r.report as Report;
      const api = report.connections.find((c) => c.name === 'prod-payments-api')!;
      assert.ok(api.impact?.pipelines.some((p) => p.name === 'payments-api-deploy' && p.flags.some((f) => f.task === 'AzureFileCopy@5')));
      assert.match(fs.readFileSync(real.r.summaryPath!, 'utf8'), /#### Pipelines that used these connections \(last 30 days\)/);
      assert.equal(real.r.variables['convertedCount']?.value, '5');
      // each app keeps exactly the credential the service uses; the one already there is reused
      for (const c of report.connections.filter((x) => x.outcome === 'converted')) {
        const params = (seed.endpoints.find((e) => e.id === c.id)!.authorization as { parameters: Record<string, string> }).parameters;
        const app = world.app(params.serviceprincipalid)!;
        assert.deepEqual(
          app.federatedIdentityCredentials.map((f) => [f.issuer, f.subject]),
          [[c.issuer, c.subject]],
          c.name,
        );
      }
      assert.deepEqual(
        report.connections.find((c) => c.name === 'manual-with-fic')!.credentials!.map((k) => k.change),
        ['existing', 'removed'],
      );
      assert.ok(!real.r.stdout.replace(/##vso\[task\.setsecret\][^\n]*/g, '').includes(jobToken));
      // running again converts nothing more: the converted ones are now federated
      const again = await run({ waitTimeoutSeconds: '30', excludeConnections: 'prod-restricted' });
      // nothing more to convert; the two held back by the impact check still need a person
      assert.equal(again.r.result?.result, 'SucceededWithIssues');
      assert.equal(again.outcomes['prod-ledger'], 'federated');
      assert.match(again.r.result.message, /Converted 0 connection\(s\); 2 left alone because a pipeline that uses them would break/);

      // the audit from the packaged task, then a revert of one converted connection
      const audit = await run({ action: 'report', failOnFindings: 'true' });
      assert.equal(audit.r.result?.result, 'Failed'); // secrets remain (manual, shared, restricted…)
      assert.equal(audit.outcomes['prod-ledger'], 'federated');
      const revert = await run({ action: 'revert', connections: 'prod-ledger' });
      assert.equal(revert.outcomes['prod-ledger'], 'reverted');
      assert.equal(revert.r.result?.result, 'Succeeded');
      // PUTs: 4 without entraConnection (3 silent failures, 1 refused), 6 with it (5 converted, 1 refused), 1 revert
      assert.equal(emu.requests.filter((q) => q.method === 'PUT').length, 4 + 6 + 1);
    });
  }
});
