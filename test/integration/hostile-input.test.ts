// Issue "Safe to hand an admin token": the packaged task (unzipped .vsix) under every Node runtime
// the task declares, against the emulator, with hostile names, inputs, cancellations and unreadable
// pipeline history. Each test reads stdout the way the agent does.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { marked } from 'marked';
import { Harness } from '../helpers/harness';
import { runtimes } from '../helpers/nodes';
import { packagedEntry } from '../helpers/packaged';
import { SeedEndpoint } from '../helpers/seed';
import { TaskRun } from '../helpers/runTask';

const OUTPUTS = ['convertedCount', 'revertedCount', 'skippedCount', 'failedCount', 'pendingCount', 'plannedCount', 'reportPath'];

/**
 * The logging commands in stdout exactly as the agent finds them: lines split on CR, LF and CRLF
 * (.NET ReadLine), and a command starts at the first `##vso[` of a line, wherever it is.
 */
function agentCommands(stdout: string): Array<{ command: string; props: string; message: string; column: number }> {
  const out = [];
  for (const line of stdout.split(/\r\n|\r|\n/)) {
    const at = line.indexOf('##vso[');
    if (at < 0) continue;
    const rest = line.slice(at + 6);
    const close = rest.indexOf(']');
    const head = close < 0 ? rest : rest.slice(0, close);
    const space = head.indexOf(' ');
    out.push({
      command: (space < 0 ? head : head.slice(0, space)).toLowerCase(),
      props: space < 0 ? '' : head.slice(space + 1),
      message: rest.slice(close + 1),
      column: at,
    });
  }
  return out;
}

/** The only commands the task itself writes: debug, issues, its output variables, its secret, one summary, one result. */
function assertOnlyOwnCommands(run: TaskRun): void {
  const cmds = agentCommands(run.stdout);
  for (const c of cmds) {
    assert.equal(c.column, 0, `a logging command in the middle of a line: ${JSON.stringify(c)}`);
    assert.ok(
      ['task.debug', 'task.issue', 'task.complete', 'task.setvariable', 'task.addattachment', 'task.setsecret'].includes(c.command),
      `unexpected command ${c.command}`,
    );
    if (c.command === 'task.setvariable')
      assert.ok(
        OUTPUTS.some((o) => c.props.startsWith(`variable=${o};`)),
        `unexpected variable: ${c.props}`,
      );
    if (c.command === 'task.addattachment') assert.match(c.props, /^type=Distributedtask\.Core\.Summary;/);
  }
  assert.equal(cmds.filter((c) => c.command === 'task.complete').length, 1, 'exactly one task.complete');
  assert.equal(cmds.filter((c) => c.command === 'task.addattachment').length, 1, 'exactly one summary');
}

const sync = (name: string, extra: Partial<SeedEndpoint> = {}): SeedEndpoint => ({ name, emulator: { conversion: 'sync' }, ...extra });
const AZURE_CLI = { id: '46e4be58-730b-4389-8a2f-ea10b3e5e815', name: 'AzureCLI', version: '2.265.0' };
const FILE_COPY_5 = { id: 'eb72cb01-a7e5-427b-a8a1-1b31ccac8a43', name: 'AzureFileCopy', version: '5.259.0' };
const used = (buildId: number, definitionId: number, definitionName: string) => ({
  planType: 'Build' as const,
  definitionId,
  definitionName,
  runId: buildId,
  startTime: '-1d',
});
const timeline = (definitionId: number, ...tasks: Array<{ id: string; name: string; version: string }>) => ({
  definitionId,
  records: [{ id: 'job', type: 'Job', name: 'Job' }, ...tasks.map((task, i) => ({ id: `t${i}`, parentId: 'job', type: 'Task', name: task.name, task }))],
});
const summaryOf = (run: TaskRun) => fs.readFileSync(run.summaryPath!, 'utf8');

for (const rt of runtimes()) {
  describe(`packaged task, hostile input (${rt.label})`, function () {
    this.timeout(120000);
    const h = new Harness();
    let entry = '';
    before(async () => {
      entry = await packagedEntry();
    });
    afterEach(() => h.close());
    const go = (endpoints: SeedEndpoint[], inputs: Record<string, string>, o: Parameters<Harness['go']>[2] = {}) =>
      h.go(endpoints, inputs, { entry, node: rt.path, ...o });

    it('names carrying ##vso[ and line breaks never become logging commands (dry run, convert, report, revert)', async () => {
      const names = [
        'x ##vso[task.setvariable variable=pwned]1',
        'y\r##vso[task.setvariable variable=pwned2]1',
        'z\n##vso[task.complete result=Succeeded;]owned',
        'w\r\n##VSO[task.uploadsummary]/etc/passwd',
      ];
      const endpoints = [
        ...names.map((n) => sync(n)),
        { name: 'r ##vso[task.setvariable variable=pwned3]1', emulator: { conversion: 'sync', administrators: [] } } as SeedEndpoint,
      ];
      await h.start(endpoints);
      const runOnce = (inputs: Record<string, string>) => h.run(inputs, { entry, node: rt.path });
      const stdout: string[] = [];
      for (const inputs of [{ dryRun: 'true' }, {}, { action: 'report' }, { action: 'revert', connections: 'x*' }] as Array<Record<string, string>>) {
        const t = await runOnce({ impactCheck: 'off', ...inputs });
        stdout.push(t.run.stdout);
        assertOnlyOwnCommands(t.run);
        assert.deepEqual(Object.keys(t.run.variables).sort(), [...OUTPUTS].sort());
        assert.equal(t.report.connections.length, 5);
      }
      // What the names said is still visible in the log, made inert.
      const audit = await runOnce({ impactCheck: 'off', action: 'report' });
      assert.ok(
        audit.run.warnings.some((w) => w.includes("'x ##vso%5Btask.setvariable variable=pwned]1'")),
        audit.run.warnings.join('\n'),
      );
      assert.ok(stdout[1].includes("Converted 'z\\n##vso%5Btask.complete result=Succeeded;]owned'"), stdout[1]);
      assert.ok(stdout[1].includes("Converted 'w\\r\\n##VSO%5Btask.uploadsummary]/etc/passwd'"), stdout[1]);
    });

    it('the run summary escapes markdown and HTML from names and messages; a name never breaks a table', async () => {
      const evil = [
        '<script>alert(1)</script>',
        '![pic](http://evil.example/x.png)',
        '[click me](https://evil.example/)',
        'back`tick` and | pipe',
        'lone\rcarriage <img src=x onerror=alert(1)>',
        'www.evil.example and https://evil.example/path',
        'mail admin@evil.example',
      ];
      const t = await go([...evil.map((n) => sync(n)), { name: '*emphasis* _and_ ~~strike~~', emulator: { conversion: 'sync', administrators: [] } }], {
        impactCheck: 'off',
      });
      assert.equal(t.run.result?.result, 'Failed'); // the last one is refused (403): its service message is in the summary too
      const md = summaryOf(t.run);
      const html = await marked.parse(md, { gfm: true });
      assert.ok(!/<script|<img|<a\s|<em>|<del>/i.test(html), html);
      // Every table row has as many cells as its header.
      for (const tbl of html.split('<table>').slice(1)) {
        const head = (tbl.split('</thead>')[0].match(/<th[\s>]/g) ?? []).length;
        for (const row of tbl.split('<tbody>')[1]?.split('</tr>').slice(0, -1) ?? []) assert.equal((row.match(/<td[\s>]/g) ?? []).length, head, row);
      }
      // The names are shown as text.
      assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), html);
      assert.ok(html.includes('back`tick` and | pipe'), html);
    });

    it('cancelled with 2,000 connections: the whole log, outputs, summary and report, result Cancelled, even with a second signal', async () => {
      const many = Array.from({ length: 2000 }, (_, i) => sync(`conn-${String(i).padStart(4, '0')} with a long name to make the log big`));
      const emu = await h.start(many);
      emu.setLatencyMs(15);
      const t = await h.run(
        { impactCheck: 'off', concurrency: '2' },
        {
          entry,
          node: rt.path,
          // The agent's SIGINT, then SIGTERM again and again while the task finishes: every one of
          // them must find the handler still installed.
          signals: [{ signal: 'SIGINT', afterMs: 2500 }, ...Array.from({ length: 30 }, (_, i) => ({ signal: 'SIGTERM' as const, afterMs: 2550 + 50 * i }))],
        },
      );
      assert.equal(t.run.result?.result, 'Cancelled', t.run.stdout.slice(-2000));
      const cmds = agentCommands(t.run.stdout);
      assert.equal(cmds[cmds.length - 1].command, 'task.complete', 'the result is the last thing in the log');
      for (const o of OUTPUTS) assert.ok(t.run.variables[o], `output ${o}`);
      assert.ok(t.run.summaryPath && fs.existsSync(t.run.summaryPath), 'summary written');
      assert.equal(t.report.connections.length, 2000);
      assert.equal(t.report.cancelled, true);
      const converted = t.report.connections.filter((c) => c.outcome === 'converted').length;
      assert.ok(converted > 0 && converted < 2000, `converted ${converted}`);
      // Every PUT the emulator applied is in the report as converted (or pending while in flight).
      const applied = emu.requests.filter((r) => r.method === 'PUT' && r.status === 200).length;
      assert.ok(applied >= converted && applied <= converted + t.report.totals.pending, `applied ${applied}, converted ${converted}`);
      assert.equal((t.run.stdout.match(/^Converted '/gm) ?? []).length, converted, 'one log line per converted connection');
    });

    it('impactCheck default (skip): a connection whose history cannot be read is left alone, not converted', async () => {
      const ids = ['history-500', 'history-203', 'history-cut', 'history-ok'].map((n, i) => [n, `00000000-0000-4000-9000-00000000000${i}`] as const);
      const endpoints = ids.map(([name, id]) => ({ name, id, emulator: { conversion: 'sync' as const, executions: [used(7, 7, 'p7')] } }));
      const history = (id: string) => new RegExp(`/serviceendpoint/${id}/executionhistory$`);
      const t = await go(
        endpoints,
        {},
        {
          seed: { builds: { '7': timeline(7, AZURE_CLI) }, pipelines: { '7': { name: 'p7', finalYaml: 'steps: []' } } },
          before: (e) => {
            // A persistent 500, a sign-in page (203) and an answer cut mid-JSON, each on every try.
            e.addFault({ method: 'GET', path: history(ids[0][1]), status: 500, count: 100, body: '{"message":"boom"}' });
            e.addFault({ method: 'GET', path: history(ids[1][1]), status: 203, count: 100, body: '<!DOCTYPE html><html><body>Sign in</body></html>' });
            e.addFault({ method: 'GET', path: history(ids[2][1]), status: 200, count: 100, body: '{"count":1,"value":[{"data":{"planType":"Bu' });
          },
        },
      );
      const outcomes = t.report.connections.map((c) => `${c.outcome}:${c.reasonCode ?? ''}`).sort();
      assert.deepEqual(outcomes, ['converted:', 'skipped:SkipImpactUnknown', 'skipped:SkipImpactUnknown', 'skipped:SkipImpactUnknown']);
      assert.equal(t.puts.length, 1);
      assert.equal(t.run.result?.result, 'SucceededWithIssues');
      assert.match(summaryOf(t.run), /#### Needs your attention[\s\S]*left alone[\s\S]*could not be read/);
    });

    it('impactCheck default (skip): breaks hold a connection back; a task to check does not', async () => {
      const t = await go(
        [
          sync('uses-filecopy', { emulator: { conversion: 'sync', executions: [used(1, 1, 'deploy-files')] } }),
          sync('uses-vendor', { emulator: { conversion: 'sync', executions: [used(2, 2, 'vendor-ci')] } }),
        ],
        {},
        {
          seed: {
            builds: { '1': timeline(1, FILE_COPY_5), '2': timeline(2, { id: 'c0ffee00-0000-4000-8000-000000000009', name: 'VendorDeploy', version: '3.1.0' }) },
            pipelines: { '1': { name: 'deploy-files', finalYaml: 'steps: []' }, '2': { name: 'vendor-ci', finalYaml: 'steps: []' } },
            taskDefinitions: [
              { id: FILE_COPY_5.id, name: 'AzureFileCopy', author: 'Microsoft Corporation', version: { major: 5, minor: 259, patch: 0 } },
              { id: 'c0ffee00-0000-4000-8000-000000000009', name: 'VendorDeploy', author: 'Vendor Ltd', version: { major: 3, minor: 1, patch: 0 } },
            ],
          },
        },
      );
      assert.equal(t.byName('uses-filecopy')!.reasonCode, 'SkipImpact');
      assert.equal(t.byName('uses-vendor')!.outcome, 'converted');
      assert.equal(t.run.result?.result, 'SucceededWithIssues');
      assert.ok(t.run.warnings.some((w) => w.startsWith("'uses-filecopy': Left alone because of impactCheck: skip")));
      const md = summaryOf(t.run);
      assert.ok(md.indexOf('#### Needs your attention') < md.indexOf('#### Converted'), 'attention first');
    });

    it('an unusable reportPath or an unexpanded macro fails before any request, naming the input', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cwif-rp-'));
      const file = path.join(dir, 'a-file');
      fs.writeFileSync(file, 'x');
      try {
        const cases: Array<[Record<string, string>, RegExp]> = [
          [{ reportPath: dir }, /Input 'reportPath' is '.*': it is a folder, not a file/],
          [{ reportPath: path.join(file, 'r.json') }, /Input 'reportPath' is '.*': a part of the path is a file, not a folder/],
          [{ reportPath: '/proc/cwif-not-writable/r.json' }, /Input 'reportPath' is '.*': the folder cannot be written/],
          [{ reportPath: '$(Build.ArtifactStagingDirectory)/r.json' }, /Input 'reportPath' contains \$\(Build\.ArtifactStagingDirectory\)/],
          [{ accessToken: '$(AdminPat)' }, /Input 'accessToken' contains \$\(AdminPat\)/],
          [{ failOnFindings: 'true' }, /Input 'failOnFindings' is true with action 'convert'/],
        ];
        await h.start([sync('a')]);
        for (const [inputs, expected] of cases) {
          const t = await h.run(inputs, { entry, node: rt.path });
          assert.equal(t.run.result?.result, 'Failed', JSON.stringify(inputs));
          assert.ok(
            t.run.errors.some((e) => expected.test(e)),
            `${JSON.stringify(inputs)}: ${t.run.errors.join('\n')}`,
          );
          assert.equal(t.requests.length, 0, `nothing sent for ${JSON.stringify(inputs)}`);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('report with failOnFindings counts only selected connections: excludeConnections accepts the ones that can never convert', async () => {
      const endpoints = [sync('stack', { environment: 'AzureStack' }), sync('clean', { scheme: 'WorkloadIdentityFederation' })];
      const dirty = await go(endpoints, { action: 'report', failOnFindings: 'true' });
      assert.equal(dirty.run.result?.result, 'Failed');
      const accepted = await go(endpoints, { action: 'report', failOnFindings: 'true', excludeConnections: 'stack' });
      assert.equal(accepted.run.result?.result, 'Succeeded', accepted.run.result?.message);
      assert.equal(accepted.run.errors.length, 0, accepted.run.errors.join('\n'));
      assert.equal(accepted.byName('stack')!.selected, false);
    });

    it('a selection that matches nothing says so, with the closest names (also when excludeConnections removed everything)', async () => {
      const endpoints = ['prod-ledger', 'prod-payments', 'dev-sandbox'].map((n) => sync(n));
      const typo = await go(endpoints, { connections: 'prd-*', impactCheck: 'off' });
      assert.equal(typo.run.result?.result, 'SucceededWithIssues');
      assert.match(
        typo.run.result.message,
        /No Azure Resource Manager connection of project 'Payments' matched connections: prd-\*.*closest names: 'prod-ledger', 'prod-payments'/,
      );
      const all = await go(endpoints, { connections: 'prod-*', excludeConnections: 'prod-*', impactCheck: 'off' });
      assert.equal(all.run.result?.result, 'SucceededWithIssues');
      assert.match(all.run.result.message, /connections: prod-\* matched 2 connection\(s\).*excludeConnections: prod-\* removed every one of them/);
      assert.equal(all.puts.length + typo.puts.length, 0);
    });

    it('two steps in one job keep their own report and summary, and the summary section names the action and project', async () => {
      const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'cwif-job-'));
      await h.start([sync('a'), sync('b')]);
      const first = await h.run({ dryRun: 'true', impactCheck: 'off' }, { entry, node: rt.path, tempDir: temp });
      const second = await h.run({ impactCheck: 'off' }, { entry, node: rt.path, tempDir: temp });
      assert.notEqual(first.run.variables.reportPath.value, second.run.variables.reportPath.value);
      assert.notEqual(first.run.summaryPath, second.run.summaryPath);
      assert.equal(JSON.parse(fs.readFileSync(first.run.variables.reportPath.value, 'utf8')).dryRun, true);
      assert.equal(JSON.parse(fs.readFileSync(second.run.variables.reportPath.value, 'utf8')).dryRun, false);
      assert.match(fs.readFileSync(first.run.summaryPath!, 'utf8'), /would be converted/i);
      assert.equal(first.run.summaryTitle, 'ConvertToWif convert (dry run): project Payments');
      assert.equal(second.run.summaryTitle, 'ConvertToWif convert: project Payments');
      fs.rmSync(temp, { recursive: true, force: true });
    });

    it('the summary leads with foreseen refusals, drops empty columns and shows a shared issuer once; a report does not promise a refused conversion', async () => {
      const endpoints = [sync('a'), sync('b'), sync('c'), { name: 'restricted', emulator: { conversion: 'sync', administrators: [] } } as SeedEndpoint];
      const dry = await go(endpoints, { dryRun: 'true', impactCheck: 'off' });
      const md = summaryOf(dry.run);
      const headings = md.split('\n').filter((l) => l.startsWith('####'));
      assert.equal(headings[0], '#### Needs your attention');
      assert.match(md, /\| restricted \| would be refused \| Would be refused: /);
      assert.ok(!md.includes('The service said'), 'a column empty on every row is dropped');
      const real = await go(endpoints.slice(0, 3), { impactCheck: 'off' });
      const converted = summaryOf(real.run);
      assert.equal((converted.match(/Issuer: `https:\/\/login\.microsoftonline\.com\//g) ?? []).length, 1, converted);
      assert.ok(!/\| Issuer \|/.test(converted), converted);
      const report = await go(endpoints, { action: 'report', impactCheck: 'off' });
      assert.match(summaryOf(report.run), /\| restricted \|.*Would be refused/);
      assert.ok(!/\| restricted \|.*would convert it/.test(summaryOf(report.run)));
      assert.ok(!report.run.stdout.includes("'restricted' still uses a client secret: action: convert would convert it"));
    });
  });
}
