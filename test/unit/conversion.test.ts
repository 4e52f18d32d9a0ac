import * as assert from 'node:assert/strict';
import * as sinon from 'sinon';
import { conversionBody, issuerKind } from '../../tasks/ConvertToWif/src/core/endpoint';
import { Clock, EndpointPort } from '../../tasks/ConvertToWif/src/core/ports';
import { startConversions } from '../../tasks/ConvertToWif/src/core/schedule';
import { classify } from '../../tasks/ConvertToWif/src/core/eligibility';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import { Endpoint, Options } from '../../tasks/ConvertToWif/src/core/model';
import { makeSelection } from '../../tasks/ConvertToWif/src/core/selection';
import { normalizeEndpoint } from '../../tasks/ConvertToWif/src/core/normalize';
import { OTHER_PROJECT, PROJECT, ctx, endpoint, options } from '../helpers/endpoints';

/** A clock whose sleep advances time instantly. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
    wait: async (ms) => {
      now += ms;
    },
  };
}

function federated(e: Endpoint, state = 'Ready'): Endpoint {
  return normalizeEndpoint({
    ...e,
    authorization: {
      scheme: 'WorkloadIdentityFederation',
      parameters: {
        tenantid: 't',
        serviceprincipalid: 'a',
        workloadIdentityFederationIssuer: 'https://issuer',
        workloadIdentityFederationSubject: `sc://x/${e.name}`,
      },
    },
    data: { ...e.data, revertSchemeDeadline: '2026-12-03T00:00:00Z' },
    operationStatus: { state, statusMessage: '' },
  })!;
}
const inProgress = (e: Endpoint): Endpoint => ({ ...e, operationStatus: { state: 'InProgress', statusMessage: 'converting_scheme' } });

function run(endpoints: Endpoint[], port: EndpointPort, o: Partial<Options> = {}, clock = fakeClock()) {
  const opts = options(o);
  const classified = classify(endpoints, opts, ctx, makeSelection(opts.connections, opts.excludeConnections));
  const r = startConversions(classified, opts, ctx, port, clock);
  return r.done.then(() => r.results);
}

describe('conversion', () => {
  afterEach(() => sinon.restore());

  it('sends the minimal body: id, type, target scheme and the home project reference', () => {
    const e = endpoint({ name: 'shared', projects: [PROJECT, OTHER_PROJECT] });
    assert.deepEqual(conversionBody(e, 'WorkloadIdentityFederation', ctx), {
      id: e.id,
      type: 'azurerm',
      authorization: { scheme: 'WorkloadIdentityFederation' },
      serviceEndpointProjectReferences: [{ projectReference: { id: PROJECT.id, name: PROJECT.name }, name: 'shared', description: '' }],
    });
  });

  it('takes a synchronous answer as converted, with issuer, subject and deadline from the service', async () => {
    const e = endpoint({ name: 'sync' });
    const port = { get: sinon.stub().rejects(new Error('no GET expected')), convert: sinon.stub().resolves(federated(e)) };
    const [r] = await run([e], port);
    assert.equal(r.outcome, 'converted');
    assert.equal(r.scheme, 'WorkloadIdentityFederation');
    assert.equal(r.issuer, 'https://issuer');
    assert.equal(r.subject, 'sc://x/sync');
    assert.equal(r.revertDeadline, '2026-12-03T00:00:00Z');
    assert.equal(port.convert.callCount, 1);
    assert.equal(port.get.callCount, 0);
  });

  it('polls a background conversion until the service shows the new scheme and Ready', async () => {
    const e = endpoint({ name: 'async' });
    const get = sinon.stub();
    get.onCall(0).resolves(inProgress(e));
    get.onCall(1).resolves(federated(e, 'InProgress'));
    get.onCall(2).resolves(federated(e));
    const port = { get, convert: sinon.stub().resolves(inProgress(e)) };
    const clock = fakeClock();
    const [r] = await run([e], port, {}, clock);
    assert.equal(r.outcome, 'converted');
    assert.equal(get.callCount, 3);
    assert.deepEqual(clock.slept, [1000, 2000, 4000], 'backs off between polls');
  });

  it('reports a background failure with the service message and an action', async () => {
    const e = endpoint({ name: 'async-fail' });
    const failedState = {
      ...e,
      isReady: false,
      operationStatus: {
        state: 'Failed',
        statusMessage: 'converting_scheme_failed: Failed to obtain an access token of identity x. AAD returned silent failure.',
      },
    };
    const port = {
      get: sinon.stub().resolves(failedState),
      convert: sinon.stub().resolves(inProgress(e)),
      whoAmI: sinon.stub().resolves('Payments Build Service (contoso)'),
    };
    const [r] = await run([e], port);
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason?.key, 'FailAadSilent');
    assert.equal(r.reason?.args[0], 'Payments Build Service (contoso)');
    assert.match(r.serviceMessage ?? '', /AAD returned silent failure/);
  });

  it('bounds the whole wait with waitTimeoutSeconds and reports what is still converting as pending', async () => {
    const a = endpoint({ name: 'a' });
    const b = endpoint({ name: 'b' });
    const port = {
      get: sinon.stub().callsFake(async (id: string) => inProgress(id === a.id ? a : b)),
      convert: sinon.stub().callsFake(async (id: string) => inProgress(id === a.id ? a : b)),
    };
    const clock = fakeClock();
    const results = await run([a, b], port, { waitTimeoutSeconds: 10 }, clock);
    assert.deepEqual(
      results.map((r) => [r.outcome, r.reason?.key]),
      [
        ['pending', 'PendingTimeout'],
        ['pending', 'PendingTimeout'],
      ],
    );
    assert.equal(
      clock.slept.reduce((x, y) => x + y, 0),
      10_000,
      'waited exactly the budget in total, not per connection',
    );
    assert.equal(results[0].scheme, 'ServicePrincipal');
  });

  it('"already on the target scheme" read back as converted by someone else: federated (convert), skipped (revert)', async () => {
    const e = endpoint({ name: 'raced' });
    const neither = new ServiceError({
      status: 400,
      message:
        "Changing the authentication scheme of service connection raced from 'WorkloadIdentityFederation' to 'WorkloadIdentityFederation' is neither an upgrade or a downgrade.",
    });
    const port = { get: sinon.stub().resolves(federated(e)), convert: sinon.stub().rejects(neither) };
    const [r] = await run([e], port);
    assert.deepEqual([r.outcome, r.reason?.key, r.issuer, r.scheme], ['federated', 'FederatedByOther', 'https://issuer', 'WorkloadIdentityFederation']);
    assert.equal(port.convert.callCount, 1);

    const unchanged = { get: sinon.stub().resolves(e), convert: sinon.stub().rejects(neither) };
    const [f] = await run([e], unchanged);
    assert.deepEqual([f.outcome, f.reason?.key], ['failed', 'FailNotConvertible'], 'not on the target scheme: the refusal stands');
  });

  it('passes the deadline of the wait to every poll and sends no poll at the deadline itself', async () => {
    const e = endpoint({ name: 'slow' });
    const get = sinon.stub().callsFake(async () => inProgress(e));
    const clock = fakeClock();
    const start = clock.now();
    const [r] = await run([e], { get, convert: sinon.stub().resolves(inProgress(e)) }, { waitTimeoutSeconds: 3 }, clock);
    assert.equal(r.reason?.key, 'PendingTimeout');
    assert.equal(get.callCount, 1, 'one poll at 1 s; the next would be at the 3 s deadline');
    assert.deepEqual(get.firstCall.args[1], { deadline: start + 3000 });
  });

  it('sends nothing on a dry run and marks eligible connections planned', async () => {
    const port = { get: sinon.stub(), convert: sinon.stub() };
    const results = await run([endpoint({ name: 'a' }), endpoint({ name: 'msi', scheme: 'ManagedServiceIdentity' })], port, { dryRun: true });
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['planned', 'skipped'],
    );
    assert.equal(port.get.callCount + port.convert.callCount, 0);
  });

  it('after a lost PUT answer looks at the connection before sending again, so nothing is sent twice blind', async () => {
    const e = endpoint({ name: 'lost' });
    const convert = sinon.stub().rejects(new ServiceError({ message: 'ECONNRESET: socket hang up' }));
    const get = sinon.stub();
    get.onCall(0).resolves(inProgress(e)); // the PUT had been applied
    get.onCall(1).resolves(federated(e));
    const [r] = await run([e], { get, convert });
    assert.equal(convert.callCount, 1);
    assert.equal(r.outcome, 'converted');
  });

  it('when the answer is lost and the connection cannot be read either, never resends blind: the poll decides', async () => {
    const e = endpoint({ name: 'unsure' });
    const convert = sinon.stub().rejects(new ServiceError({ message: 'ECONNRESET' }));
    const get = sinon.stub();
    get.onCall(0).rejects(new ServiceError({ status: 503, message: 'down' }));
    get.onCall(1).resolves(federated(e)); // it had been applied
    const [applied] = await run([e], { get, convert });
    assert.equal(convert.callCount, 1);
    assert.equal(applied.outcome, 'converted');

    const get2 = sinon.stub();
    get2.onCall(0).rejects(new ServiceError({ status: 503, message: 'down' }));
    get2.onCall(1).resolves(e); // unchanged and idle: it was not applied
    const [notApplied] = await run([e], { get: get2, convert: sinon.stub().rejects(new ServiceError({ message: 'ECONNRESET' })) });
    assert.deepEqual([notApplied.outcome, notApplied.reason?.key], ['failed', 'FailNetwork']);
  });

  it('reads the connection after the last failed attempt too: an applied change is never reported failed', async () => {
    const e = endpoint({ name: 'last' });
    const convert = sinon.stub().rejects(new ServiceError({ status: 500, message: 'boom' }));
    const get = sinon.stub();
    get.onCall(0).resolves(e);
    get.onCall(1).resolves(e);
    get.onCall(2).resolves(federated(e));
    const [r] = await run([e], { get, convert });
    assert.equal(convert.callCount, 3);
    assert.equal(r.outcome, 'converted');
  });

  it('resends a PUT that failed with a server error when the connection shows it was not applied', async () => {
    const e = endpoint({ name: 'retry' });
    const convert = sinon.stub();
    convert.onCall(0).rejects(new ServiceError({ status: 503, message: 'Service Unavailable' }));
    convert.onCall(1).resolves(federated(e));
    const get = sinon.stub().resolves(e);
    const [r] = await run([e], { get, convert });
    assert.equal(convert.callCount, 2);
    assert.equal(get.callCount, 1);
    assert.equal(r.outcome, 'converted');
  });

  it('does not retry an AAD silent failure even though it is a 500', async () => {
    const e = endpoint({ name: 'aad' });
    const convert = sinon.stub().rejects(
      new ServiceError({
        status: 500,
        message: 'Failed to obtain an access token of identity 123. AAD returned silent failure.',
        typeKey: 'AadAccessSilentException',
      }),
    );
    const [r] = await run([e], { get: sinon.stub(), convert, whoAmI: sinon.stub().resolves('Payments Build Service (contoso)') });
    assert.equal(convert.callCount, 1);
    assert.equal(r.reason?.key, 'FailAadSilent');
  });

  it('keeps going after a failure, and names the identity to grant on 403 (looked up once)', async () => {
    const list = ['a', 'b', 'c'].map((name) => endpoint({ name }));
    const convert = sinon.stub().callsFake(async (id: string) => {
      if (id !== list[1].id) throw new ServiceError({ status: 403, message: 'Access denied. You need to be an Administrator on this service connection.' });
      return federated(list[1]);
    });
    const whoAmI = sinon.stub().resolves('Payments Build Service (contoso)');
    const results = await run(list, { get: sinon.stub(), convert, whoAmI });
    assert.deepEqual(
      results.map((r) => r.outcome),
      ['failed', 'converted', 'failed'],
    );
    assert.deepEqual(results[0].reason, { key: 'FailNotAdministrator', args: ['Payments Build Service (contoso)', 'a', 'Payments'] });
    assert.equal(whoAmI.callCount, 1);
  });

  it('for a manual connection without a credential, names the issuer and subject the service shows', async () => {
    const e = endpoint({ name: 'manual', creationMode: 'Manual' });
    const convert = sinon.stub().rejects(
      new ServiceError({
        status: 400,
        message: 'Service connection could not be upgraded: the service principal could not be configured automatically, and no valid configuration exists.',
      }),
    );
    const withFic = normalizeEndpoint({
      ...e,
      authorization: {
        scheme: 'ServicePrincipal',
        parameters: {
          tenantid: 'tenant-1',
          serviceprincipalid: 'app-1',
          workloadIdentityFederationIssuer: 'https://login.microsoftonline.com/tenant-1/v2.0',
          workloadIdentityFederationSubject: '/eid1/c/pub/t/x/sc/y',
        },
      },
    })!;
    const [known] = await run([e], { get: sinon.stub().resolves(withFic), convert }, { includeManual: true });
    assert.deepEqual(known.reason, {
      key: 'FailManualNoCredentialKnown',
      args: ['app-1', 'tenant-1', 'https://login.microsoftonline.com/tenant-1/v2.0', '/eid1/c/pub/t/x/sc/y'],
    });
    const [unknown] = await run([e], { get: sinon.stub().resolves(e), convert }, { includeManual: true });
    assert.deepEqual(unknown.reason, { key: 'FailManualNoCredential', args: ['app-1', 'tenant-1'] });
    assert.match(unknown.serviceMessage ?? '', /no valid configuration exists/);
  });

  it('after stop(), starts no new conversion and says so for each one not attempted', async () => {
    const list = ['a', 'b', 'c', 'd'].map((name) => endpoint({ name }));
    const opts = options({ concurrency: 1 });
    const classified = classify(list, opts, ctx, makeSelection([], []));
    let r: ReturnType<typeof startConversions> | undefined = undefined;
    const convert = sinon.stub().callsFake(async (id: string) => {
      r!.stop();
      return federated(list.find((e) => e.id === id)!);
    });
    r = startConversions(classified, opts, ctx, { get: sinon.stub(), convert }, fakeClock());
    await r.done;
    assert.equal(convert.callCount, 1);
    assert.deepEqual(
      r.results.map((x) => [x.outcome, x.reason?.key]),
      [
        ['converted', undefined],
        ['skipped', 'SkipNotAttempted'],
        ['skipped', 'SkipNotAttempted'],
        ['skipped', 'SkipNotAttempted'],
      ],
    );
  });

  it('never runs more conversions at once than concurrency', async () => {
    const list = Array.from({ length: 12 }, (_, i) => endpoint({ name: `c${String(i).padStart(2, '0')}` }));
    let inFlight = 0;
    let peak = 0;
    const convert = sinon.stub().callsFake(async (id: string) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((res) => setImmediate(res));
      inFlight--;
      return federated(list.find((e) => e.id === id)!);
    });
    const results = await run(list, { get: sinon.stub(), convert }, { concurrency: 3 });
    assert.equal(peak, 3);
    assert.ok(results.every((r) => r.outcome === 'converted'));
  });
});

describe('issuerKind', () => {
  it('tells the Azure DevOps issuer (both hosts) from the Entra issuer and others', () => {
    assert.equal(issuerKind('https://vstoken.dev.azure.com/7a6c1d1e-0000-4000-8000-00000000c0de'), 'azuredevops');
    assert.equal(issuerKind('https://app.vstoken.visualstudio.com/7a6c1d1e-0000-4000-8000-00000000c0de'), 'azuredevops');
    assert.equal(issuerKind('https://login.microsoftonline.com/tenant/v2.0'), 'entra');
    assert.equal(issuerKind('https://token.actions.githubusercontent.com'), 'other');
    assert.equal(issuerKind(undefined), undefined);
  });
});
