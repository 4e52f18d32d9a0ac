import * as assert from 'node:assert/strict';
import { parseInputs } from '../../tasks/ConvertToWif/src/core/inputs';

describe('inputs', () => {
  it('applies the documented defaults', () => {
    const p = parseInputs({});
    assert.deepEqual(p.errors, []);
    assert.deepEqual(p.options, {
      action: 'convert',
      connections: [],
      excludeConnections: [],
      skipShared: true,
      includeManual: false,
      dryRun: false,
      maxConnections: 0,
      concurrency: 4,
      waitTimeoutSeconds: 300,
      failOnFindings: false,
      impactCheck: 'skip',
      impactDays: 30,
      incompatibleTasks: [],
      projects: [],
    });
    assert.equal(p.accessToken, undefined);
    assert.equal(p.reportPath, undefined);
  });

  it('reads every input', () => {
    const p = parseInputs({
      action: 'Report',
      connections: 'a\nb',
      excludeConnections: 'c',
      skipShared: 'FALSE',
      includeManual: 'true',
      dryRun: 'True',
      maxConnections: '2',
      concurrency: '16',
      waitTimeoutSeconds: '0',
      reportPath: ' out/r.json ',
      accessToken: 'pat123',
      failOnFindings: 'true',
      impactCheck: 'Warn',
      impactDays: '7',
      incompatibleTasks: 'MyDeploy@2, LegacyTool\n0f9a4b5c-0000-4000-8000-000000000001',
      projects: 'Payments, Team-*\n*',
    });
    assert.deepEqual(p.errors, []);
    assert.deepEqual(p.options, {
      action: 'report',
      connections: ['a', 'b'],
      excludeConnections: ['c'],
      skipShared: false,
      includeManual: true,
      dryRun: true,
      maxConnections: 2,
      concurrency: 16,
      waitTimeoutSeconds: 0,
      failOnFindings: true,
      impactCheck: 'warn',
      impactDays: 7,
      incompatibleTasks: ['MyDeploy@2', 'LegacyTool', '0f9a4b5c-0000-4000-8000-000000000001'],
      projects: ['Payments', 'Team-*', '*'],
    });
    assert.equal(p.accessToken, 'pat123');
    assert.equal(p.reportPath, 'out/r.json');
  });

  it('reports every bad input at once, naming the input, the value and what is allowed', () => {
    const p = parseInputs({ action: 'revert-all', dryRun: 'yes', concurrency: '17', maxConnections: '-1', waitTimeoutSeconds: '1.5' });
    assert.equal(p.options, undefined);
    assert.deepEqual(p.errors, [
      { key: 'InputBadAction', args: ['revert-all', 'convert, revert, report, updateIssuer'] },
      { key: 'InputNotBoolean', args: ['dryRun', 'yes'] },
      { key: 'InputNotInteger', args: ['maxConnections', '-1', 0, 100000] },
      { key: 'InputNotInteger', args: ['concurrency', '17', 1, 16] },
      { key: 'InputNotInteger', args: ['waitTimeoutSeconds', '1.5', 0, 3600] },
    ]);
  });

  it('rejects an unknown impactCheck, a malformed task entry and a pattern with control characters', () => {
    const p = parseInputs({ impactCheck: 'loud', incompatibleTasks: 'AzureFileCopy@v5', connections: 'prod-\u0007' });
    assert.deepEqual(
      p.errors.map((e) => e.key),
      ['InputBadChoice', 'InputBadTask', 'InputBadPattern'],
    );
    assert.deepEqual(p.errors[0].args, ['impactCheck', 'loud', 'warn, skip, off']);
  });

  it('rejects a blank or multi-word accessToken without echoing it', () => {
    const blank = parseInputs({ accessToken: '   ' });
    assert.deepEqual(blank.errors, [{ key: 'InputBlankToken', args: [] }]);
    const spaced = parseInputs({ accessToken: 'abc def-secret' });
    assert.deepEqual(spaced.errors, [{ key: 'InputTokenWhitespace', args: [] }]);
    assert.ok(!JSON.stringify(spaced).includes('def-secret'));
  });

  it('failOnFindings is an input error with any action but report (it would be ignored silently)', () => {
    for (const action of ['convert', 'revert']) {
      const p = parseInputs({ action, failOnFindings: 'true' });
      assert.equal(p.options, undefined);
      assert.deepEqual(p.errors, [{ key: 'InputFailOnFindingsNeedsReport', args: [action] }]);
    }
    assert.deepEqual(parseInputs({ action: 'report', failOnFindings: 'true' }).errors, []);
    assert.deepEqual(parseInputs({ action: 'convert', failOnFindings: 'false' }).errors, []);
  });

  it('an unexpanded $(macro) in reportPath or accessToken is a named input error (the token is not echoed)', () => {
    const r = parseInputs({ reportPath: '$(Build.ArtifactStagingDirectory)/r.json' });
    assert.deepEqual(r.errors, [{ key: 'InputReportPathMacro', args: ['$(Build.ArtifactStagingDirectory)'] }]);
    const t = parseInputs({ accessToken: '$(AdminPat)' });
    assert.deepEqual(t.errors, [{ key: 'InputTokenMacro', args: ['$(AdminPat)'] }]);
    assert.equal(t.accessToken, undefined);
    assert.deepEqual(parseInputs({ reportPath: 'out/a\nb.json' }).errors, [{ key: 'InputReportPathControl', args: [] }]);
    assert.deepEqual(parseInputs({ reportPath: 'out/$HOME/r.json', accessToken: 'pat$(x' }).errors, []);
  });
});
