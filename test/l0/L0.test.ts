// L0 tests: the compiled entry under task-lib's MockTestRunner (inputs, token, results, outputs).
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MockTestRunner } from 'azure-pipelines-task-lib/mock-test';
import { PROJECT, endpoint } from '../helpers/endpoints';
import type { Scenario } from './scenario';

const scenarioFile = path.join(__dirname, 'scenario.js');
const temps: string[] = [];
const JOB_TOKEN = 'job-token-0123456789abcdef';

async function runScenario(partial: Partial<Scenario> & { inputs?: Record<string, string> }, opts: { jobToken?: boolean } = {}) {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'cwif-l0-'));
  temps.push(temp);
  const env: Record<string, string> = {
    SYSTEM_COLLECTIONURI: 'https://dev.azure.com/contoso/',
    SYSTEM_TEAMPROJECTID: PROJECT.id,
    SYSTEM_TEAMPROJECT: PROJECT.name,
    AGENT_TEMPDIRECTORY: temp,
    ...partial.env,
  };
  if (opts.jobToken !== false) env['ENDPOINT_AUTH_SYSTEMVSSCONNECTION'] = JSON.stringify({ parameters: { AccessToken: JOB_TOKEN }, scheme: 'OAuth' });
  const scenario: Scenario = { inputs: {}, expectToken: JOB_TOKEN, ...partial, env };
  process.env['__L0__'] = JSON.stringify(scenario);
  try {
    const tr = new MockTestRunner(scenarioFile);
    tr.nodePath = process.execPath; // never download Node (offline)
    await tr.runAsync();
    const vars = Object.fromEntries(
      [...tr.stdout.matchAll(/##vso\[task\.setvariable variable=([^;]+);[^\]]*isOutput=true[^\]]*\](.*)/g)].map((m) => [m[1], m[2]]),
    );
    return { tr, temp, vars, converted: [...tr.stdout.matchAll(/FAKE_CONVERT (\S+)/g)].map((m) => m[1]) };
  } finally {
    delete process.env['__L0__'];
  }
}

describe('L0 (MockTestRunner)', function () {
  this.timeout(30000);
  after(() => {
    for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true });
  });

  it('rejects bad inputs with messages naming input and value, and sends nothing', async () => {
    const { tr } = await runScenario({ inputs: { concurrency: '17', dryRun: 'yes', action: 'convert' } });
    assert.equal(tr.failed, true);
    assert.ok(tr.errorIssues.includes('loc_mock_InputNotInteger concurrency 17 1 16'), tr.errorIssues.join('\n'));
    assert.ok(tr.errorIssues.includes('loc_mock_InputNotBoolean dryRun yes'), tr.errorIssues.join('\n'));
    assert.ok(tr.errorIssues.includes('loc_mock_ResultBadInput 2'), tr.errorIssues.join('\n'));
    assert.ok(!tr.stdout.includes('FAKE_CLIENT'), 'no client may be created on bad input');
  });

  it('fails clearly without a token, and still writes the report saying why', async () => {
    const { tr, temp } = await runScenario({}, { jobToken: false });
    assert.equal(tr.failed, true);
    assert.deepEqual(tr.errorIssues, ['loc_mock_ResultError loc_mock_NoToken']);
    assert.ok(!tr.stdout.includes('FAKE_CLIENT'));
    const report = JSON.parse(fs.readFileSync(path.join(temp, 'ConvertToWif-report.json'), 'utf8')) as { error?: string; connections: unknown[] };
    assert.equal(report.error, 'loc_mock_NoToken');
    assert.deepEqual(report.connections, []);
  });

  it('fails when organization and project are unknown', async () => {
    const { tr } = await runScenario({ env: { SYSTEM_COLLECTIONURI: '', SYSTEM_TEAMPROJECTID: '', SYSTEM_TEAMPROJECT: '' } });
    assert.equal(tr.failed, true);
    assert.ok(tr.errorIssues.includes('loc_mock_InputNoProject'), tr.errorIssues.join('\n'));
  });

  it('dry run: plans, sends no conversion, sets the outputs and succeeds', async () => {
    const endpoints = [endpoint({ name: 'prod-a' }), endpoint({ name: 'prod-b' }), endpoint({ name: 'msi', scheme: 'ManagedServiceIdentity' })];
    const { tr, vars, converted } = await runScenario({ inputs: { dryRun: 'true' }, endpoints });
    assert.equal(tr.succeeded, true, tr.stdout);
    assert.deepEqual(converted, []);
    assert.equal(vars['plannedCount'], '2');
    assert.equal(vars['skippedCount'], '1');
    assert.equal(vars['convertedCount'], '0');
    assert.match(tr.stdout, /##vso\[task\.complete result=Succeeded;\]loc_mock_ResultDryRun 2/);
  });

  it('converts the selected connections with the job token and writes the report where asked', async () => {
    const endpoints = [endpoint({ name: 'prod-a' }), endpoint({ name: 'dev-a' })];
    const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cwif-l0-report-'));
    temps.push(reportDir);
    const { tr, vars, converted } = await runScenario({ inputs: { connections: 'prod-*', reportPath: path.join(reportDir, 'r.json') }, endpoints });
    assert.equal(tr.succeeded, true, tr.stdout);
    assert.match(tr.stdout, /FAKE_CLIENT project=.* tokenMatches=true/);
    assert.deepEqual(converted, [endpoints[0].id]);
    assert.equal(vars['convertedCount'], '1');
    assert.equal(vars['reportPath'], path.join(reportDir, 'r.json'));
    const report = JSON.parse(fs.readFileSync(path.join(reportDir, 'r.json'), 'utf8'));
    assert.deepEqual(
      report.connections.map((c: { name: string; outcome: string }) => [c.name, c.outcome]),
      [
        ['dev-a', 'skipped'],
        ['prod-a', 'converted'],
      ],
    );
    // The summary is attached under a title naming the action and project (uploadsummary would use the file name).
    assert.match(
      tr.stdout,
      /##vso\[task\.addattachment type=Distributedtask\.Core\.Summary;name=loc_mock_SummaryTitle loc_mock_ActionLabel_convert Payments;\]/,
    );
  });

  it('uses accessToken instead of the job token and never prints it', async () => {
    const pat = 'pat-secret-value-42';
    const { tr } = await runScenario({ inputs: { accessToken: pat, dryRun: 'true' }, endpoints: [endpoint({ name: 'a' })], expectToken: pat });
    assert.match(tr.stdout, /tokenMatches=true/);
    const printed = tr.stdout.replace(/##vso\[task\.setsecret\][^\n]*/g, '');
    assert.ok(!printed.includes(pat) && !tr.stderr.includes(pat));
    assert.ok(!printed.includes(JOB_TOKEN));
  });

  it('fails with a token message when the listing is refused with 401', async () => {
    const { tr, temp } = await runScenario({ listError: { status: 401, message: 'Unauthorized' } });
    assert.equal(tr.failed, true);
    assert.ok(
      tr.errorIssues.some((m) => m.includes('loc_mock_ListTokenRejected Payments')),
      tr.errorIssues.join('\n'),
    );
    const report = JSON.parse(fs.readFileSync(path.join(temp, 'ConvertToWif-report.json'), 'utf8'));
    assert.match(report.error, /ListTokenRejected/, 'the report is written even when the listing fails');
    assert.deepEqual(report.connections, []);
  });
});
