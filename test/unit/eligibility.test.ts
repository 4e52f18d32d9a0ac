import * as assert from 'node:assert/strict';
import { classify } from '../../tasks/ConvertToWif/src/core/eligibility';
import { Endpoint, Options } from '../../tasks/ConvertToWif/src/core/model';
import { makeSelection } from '../../tasks/ConvertToWif/src/core/selection';
import { OTHER_PROJECT, PROJECT, ctx, endpoint, options } from '../helpers/endpoints';

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
      auto: 'convert', wif: 'federated', msi: 'SkipManagedIdentity', pp: 'SkipPublishProfile', 'other-scheme': 'SkipOtherScheme',
      stack: 'SkipAzureStack', gov: 'SkipSovereignCloud', 'not-ready': 'SkipNotReady', busy: 'SkipInProgress', manual: 'SkipManual',
      'shared-home': 'SkipShared', 'shared-away': 'SkipHomedElsewhere',
    });
  });

  it('includes manual and home shared connections when asked, never ones homed elsewhere', () => {
    const got = decide(
      [endpoint({ name: 'manual', creationMode: 'Manual' }), endpoint({ name: 'home', projects: [PROJECT, OTHER_PROJECT] }), endpoint({ name: 'away', projects: [OTHER_PROJECT, PROJECT] })],
      { includeManual: true, skipShared: false },
    );
    assert.deepEqual(got, { manual: 'convert', home: 'convert', away: 'SkipHomedElsewhere' });
  });

  it('lists federated connections even when not selected; skips unselected ones with a reason', () => {
    const got = decide([endpoint({ name: 'prod-a' }), endpoint({ name: 'dev-a' }), endpoint({ name: 'dev-wif', scheme: 'WorkloadIdentityFederation' })], { connections: ['prod-*'] });
    assert.deepEqual(got, { 'prod-a': 'convert', 'dev-a': 'SkipNotSelected', 'dev-wif': 'federated' });
  });

  it('applies maxConnections to eligible connections in name order', () => {
    const got = decide([endpoint({ name: 'c' }), endpoint({ name: 'A' }), endpoint({ name: 'msi', scheme: 'ManagedServiceIdentity' }), endpoint({ name: 'b' })], { maxConnections: 2 });
    assert.deepEqual(got, { A: 'convert', b: 'convert', c: 'SkipOverLimit', msi: 'SkipManagedIdentity' });
  });

  it('ignores connections of other types and reads keys case-insensitively', () => {
    const e = endpoint({ name: 'odd-casing', data: {} });
    e.data = { Environment: 'AzureStack', CreationMode: 'Automatic' };
    const got = decide([e, endpoint({ name: 'gh', type: 'github' })]);
    assert.deepEqual(got, { 'odd-casing': 'SkipAzureStack' });
  });

  it('gives every connection exactly one decision, sorted by name', () => {
    const list = ['zeta', 'Alpha', 'beta'].map((name) => endpoint({ name }));
    const out = classify(list, options(), ctx, makeSelection([], []));
    assert.deepEqual(out.map((c) => c.endpoint.name), ['Alpha', 'beta', 'zeta']);
  });
});
