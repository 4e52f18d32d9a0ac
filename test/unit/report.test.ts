import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import { explainFailure, isTransient } from '../../tasks/ConvertToWif/src/core/failures';
import { ConnectionResult, msg } from '../../tasks/ConvertToWif/src/core/model';
import { logLines } from '../../tasks/ConvertToWif/src/core/log';
import { buildReport, reportJson } from '../../tasks/ConvertToWif/src/core/report';
import { decideResult } from '../../tasks/ConvertToWif/src/core/result';
import { renderSummary } from '../../tasks/ConvertToWif/src/core/summary';
import { ctx, endpoint } from '../helpers/endpoints';
import { loc, taskJsonPath } from '../helpers/localize';

const result = (name: string, outcome: ConnectionResult['outcome'], extra: Partial<ConnectionResult> = {}): ConnectionResult => ({
  id: `id-${name}`,
  name,
  scheme: 'ServicePrincipal',
  creationMode: 'Automatic',
  isShared: false,
  selected: true,
  outcome,
  ...extra,
});
const build = (results: ConnectionResult[], dryRun = false) =>
  buildReport({ action: 'convert', dryRun, ctx, startedAt: new Date('2026-11-26T10:00:00Z'), finishedAt: new Date('2026-11-26T10:01:00Z') }, results, loc);

describe('report', () => {
  it('is written in pieces that make exactly JSON.stringify(report, null, 2), whatever the names hold', () => {
    const nasty = ['a', 'line\nbreak "quoted"', '\n  "connections": "\u0000ConvertToWif.connections\u0000"', 'Zürich 日本 🚀', '\\'];
    for (const results of [[], [result('only', 'converted')], nasty.map((n, i) => result(n, i % 2 ? 'failed' : 'skipped', { reason: msg('FailBusy') }))]) {
      const report = { ...build(results), error: '\n  "connections": []' };
      const pieces = [...reportJson(report)];
      assert.equal(pieces.join(''), JSON.stringify(report, null, 2) + '\n');
      assert.deepEqual(JSON.parse(pieces.join('')), JSON.parse(JSON.stringify(report)));
      // One piece per connection, and one before and after them.
      assert.equal(pieces.length, results.length === 0 ? 1 : results.length + 2);
    }
  });

  it('has the documented shape, renders reasons and keeps the reason code', () => {
    const r = build([
      result('a', 'converted', { scheme: 'WorkloadIdentityFederation', issuer: 'https://i', subject: 's', revertDeadline: '2026-12-03T10:00:00Z' }),
      result('b', 'skipped', { reason: msg('SkipOverLimit', 1) }),
      result('c', 'failed', { reason: msg('FailBusy'), serviceMessage: 'another operation is already in progress' }),
    ]);
    assert.deepEqual(Object.keys(r), ['action', 'dryRun', 'organization', 'project', 'projects', 'startedAt', 'finishedAt', 'connections', 'totals', 'audit']);
    assert.equal(r.organization, 'https://dev.azure.com/contoso/');
    assert.deepEqual(r.project, ctx.project);
    // One project without the projects input: the run's own, with its totals.
    assert.deepEqual(
      r.projects.map((p) => [p.id, p.name, p.connections, p.totals.converted, p.totals.skipped, p.totals.failed, p.error]),
      [[ctx.project.id, ctx.project.name, 3, 1, 1, 1, undefined]],
    );
    assert.deepEqual(r.connections[0], {
      id: 'id-a',
      name: 'a',
      project: ctx.project,
      scheme: 'WorkloadIdentityFederation',
      creationMode: 'Automatic',
      isShared: false,
      selected: true,
      outcome: 'converted',
      issuer: 'https://i',
      subject: 's',
      revertDeadline: '2026-12-03T10:00:00Z',
    });
    assert.equal(r.connections[1].reason, 'Over the limit of maxConnections (1) for this run: it will be converted by a later run.');
    assert.equal(r.connections[1].reasonCode, 'SkipOverLimit');
    assert.equal(r.connections[2].serviceMessage, 'another operation is already in progress');
    assert.deepEqual(r.totals, { converted: 1, reverted: 0, skipped: 1, failed: 1, pending: 0, planned: 0, federated: 0, updated: 0, prepared: 0, handoff: 0 });
  });

  it('decides the task result: failed > pending > succeeded, and says plainly when nothing matched', () => {
    assert.equal(decideResult(build([result('a', 'converted'), result('b', 'failed')])).kind, 'Failed');
    assert.equal(decideResult(build([result('a', 'converted'), result('b', 'pending')])).kind, 'SucceededWithIssues');
    assert.deepEqual(decideResult(build([result('a', 'converted')])), { kind: 'Succeeded', message: { key: 'ResultConverted', args: [1] } });
    assert.deepEqual(decideResult(build([])), { kind: 'Succeeded', message: { key: 'ResultNothingToDo', args: [] } });
    assert.deepEqual(decideResult(build([result('a', 'planned')], true)), { kind: 'Succeeded', message: { key: 'ResultDryRun', args: [1] } });
  });

  it('renders a summary whose tables survive pipes and line breaks in names and messages', () => {
    const md = renderSummary(
      build([
        result('odd | name', 'failed', { reason: msg('FailBusy'), serviceMessage: 'line one\nline | two' }),
        result('ok', 'converted', { issuer: 'https://i', subject: 'sc://o/p/ok' }),
        result('msi', 'skipped', { reason: msg('SkipManagedIdentity') }),
        result('wif', 'federated', { scheme: 'WorkloadIdentityFederation', issuer: 'https://vstoken.dev.azure.com/x', issuerKind: 'azuredevops' }),
      ]),
      loc,
    );
    assert.match(md, /^### ConvertToWif convert: project Payments$/m);
    assert.match(md, /^\*\*1 failed\*\* · 1 converted · 1 left alone · 1 already federated$/m);
    assert.match(md, /\| odd \\\| name \| failed \| Another operation is in progress.* \| line one line \\\| two \|/);
    // The issuer shared by the rows is shown once above them; the empty "revert until" column is dropped.
    assert.match(md, /#### Converted\n\nIssuer: `https:\/\/i`\n\n\| Connection \| App registration \| Subject \|\n/);
    assert.match(md, /\| ok \| Automatic \| `sc:\/\/o\/p\/ok` \|/);
    assert.match(md, /#### Left alone\n\n\| Connection \| Scheme \| Why \|[\s\S]*\| msi \| ServicePrincipal \| Uses a managed identity/);
    assert.match(
      md,
      /#### Already on workload identity federation\n\nIssuer: `https:\/\/vstoken.dev.azure.com\/x`\n\n\| Connection \| Note \|\n\|---\|---\|\n\| wif \| On the Azure DevOps issuer/,
    );
    // Every row of a table has as many (unescaped) cell separators as its header.
    for (const block of md.split(/\n\n/).filter((b) => b.startsWith('|'))) {
      const widths = block
        .trim()
        .split('\n')
        .map((row) => row.replace(/\\\|/g, '').split('|').length);
      assert.ok(
        widths.every((w) => w === widths[0]),
        block,
      );
    }
  });

  it('says so when the project has no Azure Resource Manager connection', () => {
    assert.match(renderSummary(build([]), loc), /Project Payments has no Azure Resource Manager service connections/);
  });

  it('logs one line for changed, planned, failed and pending connections only', () => {
    const r = build([result('a', 'skipped', { reason: msg('SkipManual') }), result('b', 'failed', { reason: msg('FailBusy') }), result('c', 'planned')]);
    assert.deepEqual(logLines(r, loc), [
      { level: 'error', text: "'b' failed: Another operation is in progress on this connection. Wait for it to finish and run the task again." },
      { level: 'info', text: "Would convert 'c'." },
    ]);
  });

  it('has a task.json message for every key the core can produce', () => {
    const source = ['eligibility', 'failures', 'steps', 'schedule', 'runTask', 'inputs', 'impact', 'report', 'result', 'summary', 'log']
      .map((f) => fs.readFileSync(taskJsonPath.replace('task.json', `src/core/${f}.ts`), 'utf8'))
      .join('\n');
    const keys = new Set([...source.matchAll(/(?:msg\(|key: |loc\()'([A-Za-z_]+)'/g)].map((m) => m[1]));
    assert.ok(keys.size > 30, `found ${keys.size} keys`);
    for (const k of keys) assert.doesNotThrow(() => loc(k), k);
  });
});

describe('failures', () => {
  const e = endpoint({ name: 'conn' });
  const ctxWithId = { ...ctx, identity: 'Payments Build Service (contoso)' };
  const key = (status: number | undefined, message: string, typeKey?: string) => explainFailure({ status, message, typeKey }, e, ctxWithId).key;

  it('turns each answer of the error catalogue into an action', () => {
    assert.equal(key(401, 'unauthorized'), 'FailToken');
    assert.equal(key(403, 'You need to be an Administrator on this service connection'), 'FailNotAdministrator');
    assert.equal(key(404, 'No service connection found'), 'FailNotFound');
    assert.equal(key(429, 'TF400733'), 'FailThrottled');
    assert.equal(key(undefined, 'ECONNRESET'), 'FailNetwork');
    assert.equal(key(503, 'unavailable'), 'FailServer');
    // The service's words decide, whatever status carries them (their status codes are undocumented).
    assert.equal(key(500, 'The service connection could not be downgraded as no recovery data exist for this endpoint.'), 'FailNoRecoveryData');
    assert.equal(key(500, 'could not be configured automatically, and no valid configuration exists'), 'FailManualNoCredential');
    assert.equal(isTransient({ status: 500, message: 'no recovery data exist' }), false);
    assert.equal(isTransient({ status: 500, message: 'Internal error' }), true);
    assert.equal(key(500, 'x', 'AadAccessSilentException'), 'FailAadSilent');
    assert.equal(key(400, 'could not be upgraded: could not be configured automatically, and no valid configuration exists'), 'FailManualNoCredential');
    assert.equal(key(400, 'is neither an upgrade or a downgrade'), 'FailNotConvertible');
    assert.equal(key(400, 'Properties cannot be changed during service connection upgrade'), 'FailPropertiesChanged');
    assert.equal(key(400, 'another operation is already in progress'), 'FailBusy');
    assert.equal(key(400, "Operation 'ConvertAuthenticationScheme' is invalid. Allowed operation values are: Refresh"), 'FailConversionDisabled');
    assert.equal(key(400, 'something new'), 'FailRejected');
  });

  it('names the identity, the connection and the project in the 403 instruction', () => {
    const text = loc('FailNotAdministrator', ...explainFailure({ status: 403, message: 'denied' }, e, ctxWithId).args);
    assert.match(
      text,
      /^'Payments Build Service \(contoso\)' is not an Administrator of service connection 'conn'\. Grant it: Project settings > Service connections/,
    );
  });
});

describe('report action (audit)', () => {
  const finished = new Date('2026-11-26T10:01:00Z');
  const audit = (results: ConnectionResult[]) =>
    buildReport({ action: 'report', dryRun: false, ctx, startedAt: new Date('2026-11-26T10:00:00Z'), finishedAt: finished }, results, loc);
  const results = [
    result('secret-a', 'planned', { scope: { level: 'Subscription', subscriptionName: 'Prod' }, homeProject: 'Payments', sharedWith: [] }),
    result('secret-manual', 'skipped', {
      reason: msg('SkipManual'),
      creationMode: 'Manual',
      scope: { level: 'ManagementGroup', managementGroupName: 'Platform' },
      homeProject: 'Payments',
      sharedWith: ['Shared Services', 'Data'],
    }),
    result('old-issuer', 'federated', {
      scheme: 'WorkloadIdentityFederation',
      issuer: 'https://vstoken.dev.azure.com/org',
      issuerKind: 'azuredevops',
      scope: { level: 'AzureMLWorkspace', mlWorkspaceName: 'ws1', resourceGroupName: 'rg-ml' },
    }),
    result('entra', 'federated', {
      scheme: 'WorkloadIdentityFederation',
      issuer: 'https://login.microsoftonline.com/t/v2.0',
      issuerKind: 'entra',
      revertDeadline: '2026-11-29T10:01:00Z',
    }),
    result('msi', 'skipped', { scheme: 'ManagedServiceIdentity', reason: msg('SkipManagedIdentity') }),
  ];

  it('counts secrets, the retiring issuer and the Entra issuer, with the days left until 2027-07-01', () => {
    const r = audit(results);
    assert.deepEqual(r.audit, { onSecrets: 2, federatedRetiringIssuer: 1, federatedEntraIssuer: 1, federatedOtherIssuer: 0, otherSchemes: 1 });
    const old = r.connections.find((c) => c.name === 'old-issuer')!;
    assert.equal(old.issuerDaysLeft, 217);
    assert.equal(old.reasonCode, 'FederatedRetiringIssuer');
    assert.match(old.reason!, /retires on 2027-07-01 .*: 217 days left\. Run the task with action: updateIssuer/);
    assert.equal(r.connections.find((c) => c.name === 'entra')!.reason, undefined);
  });

  it('fails with failOnFindings while any secret remains or any connection is still on the Azure DevOps issuer, and otherwise succeeds', () => {
    assert.deepEqual(decideResult(audit(results), true), { kind: 'Failed', message: { key: 'ResultFindingsIssuer', args: [2, 1] } });
    assert.deepEqual(decideResult(audit(results), false), { kind: 'Succeeded', message: { key: 'ResultReport', args: [2, 1, 1] } });
    const noSecrets = results.filter((r) => r.scheme !== 'ServicePrincipal');
    assert.deepEqual(decideResult(audit(noSecrets), true).message, { key: 'ResultFindingsIssuer', args: [0, 1] }, 'the retiring issuer alone fails it');
    assert.equal(decideResult(audit(noSecrets.filter((r) => r.name !== 'old-issuer')), true).kind, 'Succeeded');
  });

  it('warns once per finding (errors with failOnFindings) and is silent about clean connections', () => {
    const lines = logLines(audit(results), loc);
    assert.deepEqual(
      lines.map((l) => [l.level, l.text.split(':')[0]]),
      [
        ['warning', "'secret-a' still uses a client secret"],
        ['warning', "'secret-manual' still uses a client secret"],
        ['warning', "'old-issuer'"],
      ],
    );
    assert.deepEqual(
      logLines(audit(results), loc, true).map((l) => l.level),
      ['error', 'error', 'error'],
    );
  });

  it('opens the summary with the counts, then one table per group with scope, home and sharing', () => {
    const md = renderSummary(audit(results), loc);
    const headings = md.split('\n').filter((l) => l.startsWith('#'));
    assert.deepEqual(headings, [
      '### ConvertToWif report: project Payments',
      '#### On a client secret',
      '#### Federated on the Azure DevOps issuer (retired on 2027-07-01)',
      '#### Federated on the Microsoft Entra issuer',
      '#### Other authentication (managed identity, publish profile)',
    ]);
    assert.equal(md.split('\n')[2], '**2 on a client secret** · 1 federated on the retiring Azure DevOps issuer · 1 federated on the Microsoft Entra issuer');
    assert.match(
      md,
      /\| secret-manual \| Management group Platform \| Payments \| Shared Services, Data \| Manual \| Its app registration was created manually/,
    );
    assert.match(md, /\| secret-a \| Subscription Prod \| Payments \| {2}\| Automatic \| action: convert would convert it \|/);
    // Columns empty on every row of a table (home, shared with) are dropped.
    assert.match(md, /\| old-issuer \| ML workspace ws1 \(rg-ml\) \| 217 \|/);
    assert.match(
      md,
      /Issuer: `https:\/\/login.microsoftonline.com\/t\/v2.0`\n\n\| Connection \| Revert possible until \|\n\|---\|---\|\n\| entra \| 2026-11-29 10:01 UTC \(3 d 0 h left\) \|/,
    );
  });
});
