import * as assert from 'node:assert/strict';
import { classify } from '../../tasks/ConvertToWif/src/core/eligibility';
import { Endpoint, Options } from '../../tasks/ConvertToWif/src/core/model';
import { makeSelection } from '../../tasks/ConvertToWif/src/core/selection';
import { normalizeEndpoint } from '../../tasks/ConvertToWif/src/core/normalize';
import { OTHER_PROJECT, PROJECT, ctx, endpoint, options, rawEndpoint } from '../helpers/endpoints';

function decide(endpoints: Endpoint[], o: Partial<Options> = {}) {
  const opts = options(o);
  const out = classify(endpoints, opts, ctx, makeSelection(opts.connections, opts.excludeConnections));
  return Object.fromEntries(out.map((c) => [c.endpoint.name, c.decision.kind === 'skip' ? c.decision.reason.key : c.decision.kind]));
}

describe('eligibility', () => {
  it('converts automatic secret connections of this project and explains every other one', () => {
    const got = decide([
      endpoint({ name: 'auto' }),
      endpoint({ name: 'wif', scheme: 'WorkloadIdentityFederation' }),
      endpoint({ name: 'msi', scheme: 'ManagedServiceIdentity' }),
      endpoint({ name: 'pp', scheme: 'PublishProfile' }),
      endpoint({ name: 'other-scheme', scheme: 'Certificate' }),
      endpoint({ name: 'stack', environment: 'AzureStack' }),
      endpoint({ name: 'gov', environment: 'AzureUSGovernment' }),
      endpoint({ name: 'not-ready', isReady: false, state: 'Failed', statusMessage: 'boom' }),
      endpoint({ name: 'busy', state: 'InProgress', statusMessage: 'converting_scheme' }),
      endpoint({ name: 'manual', creationMode: 'Manual' }),
      endpoint({ name: 'shared-home', projects: [PROJECT, OTHER_PROJECT] }),
      endpoint({ name: 'shared-away', projects: [OTHER_PROJECT, PROJECT] }),
    ]);
    assert.deepEqual(got, {
      auto: 'change',
      wif: 'federated',
      msi: 'SkipManagedIdentity',
      pp: 'SkipPublishProfile',
      'other-scheme': 'SkipOtherScheme',
      stack: 'SkipAzureStack',
      gov: 'SkipSovereignCloud',
      'not-ready': 'SkipNotReady',
      busy: 'SkipInProgress',
      manual: 'SkipManual',
      'shared-home': 'SkipShared',
      'shared-away': 'SkipHomedElsewhere',
    });
  });

  it('a conversion that failed earlier may be tried again (the web UI\'s "Try again"); other failures and reverts are left alone', () => {
    const failedConversion = { isReady: false, state: 'Failed', statusMessage: 'converting_scheme_failed: AAD returned silent failure.' };
    assert.deepEqual(
      decide([
        endpoint({ name: 'retry', ...failedConversion }),
        endpoint({ name: 'broken', isReady: false, state: 'Failed', statusMessage: 'Failed to verify' }),
      ]),
      {
        retry: 'change',
        broken: 'SkipNotReady',
      },
    );
    const failedRevert = endpoint({
      name: 'wif',
      scheme: 'WorkloadIdentityFederation',
      data: { revertSchemeDeadline: '2099-01-01T00:00:00Z' },
      ...failedConversion,
    });
    assert.deepEqual(decide([failedRevert], { action: 'revert' }), { wif: 'SkipNotReady' });
  });

  it('includes manual and home shared connections when asked, never ones homed elsewhere', () => {
    const got = decide(
      [
        endpoint({ name: 'manual', creationMode: 'Manual' }),
        endpoint({ name: 'home', projects: [PROJECT, OTHER_PROJECT] }),
        endpoint({ name: 'away', projects: [OTHER_PROJECT, PROJECT] }),
      ],
      { includeManual: true, skipShared: false },
    );
    assert.deepEqual(got, { manual: 'change', home: 'change', away: 'SkipHomedElsewhere' });
  });

  it('lists federated connections even when not selected; skips unselected ones with a reason', () => {
    const got = decide([endpoint({ name: 'prod-a' }), endpoint({ name: 'dev-a' }), endpoint({ name: 'dev-wif', scheme: 'WorkloadIdentityFederation' })], {
      connections: ['prod-*'],
    });
    assert.deepEqual(got, { 'prod-a': 'change', 'dev-a': 'SkipNotSelected', 'dev-wif': 'federated' });
  });

  it('applies maxConnections to eligible connections in name order', () => {
    const got = decide(
      [endpoint({ name: 'c' }), endpoint({ name: 'A' }), endpoint({ name: 'msi', scheme: 'ManagedServiceIdentity' }), endpoint({ name: 'b' })],
      { maxConnections: 2 },
    );
    assert.deepEqual(got, { A: 'change', b: 'change', c: 'SkipOverLimit', msi: 'SkipManagedIdentity' });
  });

  it('ignores connections of other types and reads keys case-insensitively', () => {
    const e = normalizeEndpoint({ ...rawEndpoint({ name: 'odd-casing', data: {} }), data: { Environment: 'AzureStack', CreationMode: 'Automatic' } })!;
    const got = decide([e, endpoint({ name: 'gh', type: 'github' })]);
    assert.deepEqual(got, { 'odd-casing': 'SkipAzureStack' });
  });

  it('gives every connection exactly one decision, sorted by name', () => {
    const list = ['zeta', 'Alpha', 'beta'].map((name) => endpoint({ name }));
    const out = classify(list, options(), ctx, makeSelection([], []));
    assert.deepEqual(
      out.map((c) => c.endpoint.name),
      ['Alpha', 'beta', 'zeta'],
    );
  });
});

describe('eligibility for revert', () => {
  const now = new Date('2026-11-26T12:00:00Z');
  const wif = (name: string, deadline?: string, extra: Partial<Parameters<typeof endpoint>[0]> = {}) =>
    endpoint({ name, scheme: 'WorkloadIdentityFederation', data: deadline ? { revertSchemeDeadline: deadline } : {}, ...extra });
  const decideRevert = (endpoints: Endpoint[], o: Partial<Options> = {}) => {
    const opts = options({ action: 'revert', ...o });
    const out = classify(endpoints, opts, ctx, makeSelection(opts.connections, opts.excludeConnections), now);
    return Object.fromEntries(
      out.map((c) => [
        c.endpoint.name,
        c.decision.kind === 'skip' ? `${c.decision.reason.key}${c.decision.reason.args.length ? ' ' + c.decision.reason.args.join(',') : ''}` : c.decision.kind,
      ]),
    );
  };

  it('reverts federated connections inside the window and says why the others cannot be', () => {
    assert.deepEqual(
      decideRevert([
        wif('inside', '2026-11-30T00:00:00Z'),
        wif('expired', '2026-11-20T08:00:00Z'),
        wif('born-federated'),
        endpoint({ name: 'secret' }),
        wif('manual', '2026-11-30T00:00:00Z', { creationMode: 'Manual' }),
        wif('shared-away', '2026-11-30T00:00:00Z', { projects: [OTHER_PROJECT, PROJECT] }),
        wif('busy', '2026-11-30T00:00:00Z', { state: 'InProgress', statusMessage: 'updating' }),
      ]),
      {
        inside: 'change',
        expired: 'SkipRevertExpired 2026-11-20T08:00:00.000Z',
        'born-federated': 'SkipRevertNoDeadline',
        secret: 'SkipRevertNotFederated ServicePrincipal',
        manual: 'SkipRevertManual',
        'shared-away': 'SkipHomedElsewhere Shared Services',
        busy: 'SkipInProgress updating',
      },
    );
  });

  it('applies the same selection, manual and maxConnections rules', () => {
    const list = [wif('a', '2026-11-30T00:00:00Z'), wif('b', '2026-11-30T00:00:00Z'), wif('c', '2026-11-30T00:00:00Z', { creationMode: 'Manual' })];
    assert.deepEqual(decideRevert(list, { connections: ['a', 'c'], includeManual: true }), { a: 'change', b: 'SkipNotSelected', c: 'change' });
    assert.deepEqual(decideRevert(list, { maxConnections: 1 }), { a: 'change', b: 'SkipOverLimit 1', c: 'SkipRevertManual' });
  });

  it('report ignores maxConnections: it changes nothing', () => {
    const out = classify([endpoint({ name: 'a' }), endpoint({ name: 'b' })], options({ action: 'report', maxConnections: 1 }), ctx, makeSelection([], []));
    assert.deepEqual(
      out.map((c) => c.decision.kind),
      ['change', 'change'],
    );
  });
});
