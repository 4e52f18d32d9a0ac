// The packaged task against a service (or a network path) that misbehaves on purpose: redirects
// to other hosts, garbled or cut answers, sign-in pages, races with another actor, duplicated
// listing entries and answers that stall. Run under every Node runtime task.json declares.
import * as assert from 'node:assert/strict';
import { Harness, allOutput } from '../helpers/harness';
import { otherHost } from '../helpers/otherHost';
import { runtimes } from '../helpers/nodes';
import { packagedEntry } from '../helpers/packaged';
import { JOB_TOKEN, SeedEndpoint } from '../helpers/seed';

const LIST = /\/_apis\/serviceendpoint\/endpoints$/;
const BY_ID = /\/_apis\/serviceendpoint\/endpoints\/[0-9a-fA-F-]{36}$/;
const sync = (name: string): SeedEndpoint => ({ name, emulator: { conversion: 'sync' } });
const WIF = 'WorkloadIdentityFederation';

for (const rt of runtimes()) {
  describe(`hostile service (packaged task, ${rt.label})`, function () {
    this.timeout(120000);
    const h = new Harness();
    let entry: string;
    before(async function () {
      this.timeout(300000);
      entry = await packagedEntry();
    });
    afterEach(() => h.close());
    const o = () => ({ entry, node: rt.path });

    describe('redirects', () => {
      it('a 302 on the listing to another host:port: the token is not sent there, the run fails naming it', async () => {
        const other = await otherHost();
        try {
          const t = await h.go(
            [sync('a')],
            {},
            { ...o(), before: (e) => e.addFault({ method: 'GET', path: LIST, kind: 'redirect', location: `${other.origin}/steal` }) },
          );
          assert.equal(other.sawAuthorization(), false, 'the other host never saw the token');
          assert.equal(other.hits(), 0, 'redirects are not followed at all (same origin or not)');
          assert.equal(t.run.result?.result, 'Failed', t.run.stdout);
          assert.ok(t.run.result.message.includes(other.hostPort), t.run.result.message);
          assert.ok((t.report.error ?? '').includes(other.hostPort), 'the report says where it pointed');
          assert.equal(t.puts.length, 0);
          assert.ok(!allOutput(t.run).includes(JOB_TOKEN));
        } finally {
          await other.close();
        }
      });

      it('a 307 on the conversion PUT to another host:port: not followed, the connection failed naming it, unchanged', async () => {
        const other = await otherHost();
        try {
          const t = await h.go(
            [sync('a'), sync('b')],
            { concurrency: '1' },
            {
              ...o(),
              before: (e) =>
                e.addFault({ method: 'PUT', kind: 'redirect', status: 307, location: `${other.origin}/_apis/serviceendpoint/endpoints/x`, count: 1 }),
            },
          );
          assert.equal(other.sawAuthorization(), false, 'the other host never saw the token');
          assert.equal(other.hits(), 0);
          const a = t.byName('a')!;
          assert.equal(a.outcome, 'failed', JSON.stringify(a));
          assert.equal(a.reasonCode, 'FailRedirected');
          assert.ok((a.reason ?? '').includes(other.hostPort), a.reason);
          assert.equal(t.putsFor('a').length, 1, 'a redirected PUT was not handled by the service: not resent');
          assert.equal(t.stored('a')!.authorization.scheme, 'ServicePrincipal');
          assert.equal(t.byName('b')!.outcome, 'converted');
          assert.equal(t.run.result?.result, 'Failed');
          assert.ok(!allOutput(t.run).includes(JOB_TOKEN));
        } finally {
          await other.close();
        }
      });
    });

    describe('garbled answers', () => {
      it('a poll answer cut mid-body is retried, and the conversion it shows is reported (not "disappeared")', async () => {
        const t = await h.go(
          [{ name: 'async', emulator: { conversion: 'async', completeAfterGets: 1 } }],
          {},
          {
            ...o(),
            before: (e) => e.addFault({ method: 'GET', path: BY_ID, kind: 'cut-body', count: 1 }),
          },
        );
        const c = t.byName('async')!;
        assert.equal(c.outcome, 'converted', JSON.stringify(c));
        assert.ok(c.issuer && c.subject, 'read back from the service');
        assert.equal(t.putsFor('async').length, 1);
        assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
      });

      it('a 203 sign-in page on a poll is a token problem (not "disappeared")', async () => {
        const t = await h.go(
          [{ name: 'async', emulator: { conversion: 'async', completeAfterGets: 1 } }],
          {},
          {
            ...o(),
            before: (e) => e.addFault({ method: 'GET', path: BY_ID, kind: 'sign-in', count: 50 }),
          },
        );
        const c = t.byName('async')!;
        assert.equal(c.outcome, 'failed', JSON.stringify(c));
        assert.equal(c.reasonCode, 'FailToken');
      });

      it('a 203 sign-in page on the PUT is a token problem: one PUT, no "network error"', async () => {
        const t = await h.go([sync('a')], {}, { ...o(), before: (e) => e.addFault({ method: 'PUT', kind: 'sign-in', count: 5 }) });
        const a = t.byName('a')!;
        assert.equal(a.outcome, 'failed', JSON.stringify(a));
        assert.equal(a.reasonCode, 'FailToken');
        assert.equal(t.putsFor('a').length, 1);
        assert.equal(t.stored('a')!.authorization.scheme, 'ServicePrincipal');
      });

      it('a listing cut mid-body is retried; cut every time, the run fails saying so (not "rejected the token")', async () => {
        const once = await h.go([sync('a')], {}, { ...o(), before: (e) => e.addFault({ method: 'GET', path: LIST, kind: 'cut-body', count: 1 }) });
        assert.equal(once.run.result?.result, 'Succeeded', once.run.stdout);
        assert.equal(once.byName('a')!.outcome, 'converted');

        const always = await h.go([sync('a')], {}, { ...o(), before: (e) => e.addFault({ method: 'GET', path: LIST, kind: 'cut-body', count: 50 }) });
        assert.equal(always.run.result?.result, 'Failed');
        assert.doesNotMatch(always.run.result.message, /rejected the token/);
        assert.match(always.run.result.message, /cut off or (was )?not JSON/);
        assert.equal(always.puts.length, 0);
      });
    });

    describe('races and duplicates', () => {
      it('converted by someone else between the listing and the PUT: federated with issuer and subject, not failed', async () => {
        const t = await h.go(
          [sync('a'), sync('b')],
          {},
          {
            ...o(),
            before: (e) => e.addFault({ method: 'PUT', kind: 'flip-first', count: 1 }),
          },
        );
        const flipped = t.report.connections.find((c) => c.outcome === 'federated')!;
        assert.ok(flipped, JSON.stringify(t.report.connections));
        assert.equal(flipped.reasonCode, 'FederatedByOther');
        assert.ok(flipped.issuer && flipped.subject, 'read back from the service');
        assert.equal(flipped.scheme, WIF);
        assert.equal(t.report.totals.failed, 0);
        assert.equal(t.report.totals.converted, 1);
        assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
      });

      it('reverted by someone else between the listing and the PUT: skipped with the reason, not failed', async () => {
        await h.start([sync('a')]);
        const converted = await h.run({}, o());
        assert.equal(converted.byName('a')!.outcome, 'converted');
        h.emu!.addFault({ method: 'PUT', kind: 'flip-first', count: 1 });
        const t = await h.run({ action: 'revert' }, o());
        const a = t.byName('a')!;
        assert.deepEqual([a.outcome, a.reasonCode, a.scheme], ['skipped', 'SkipRevertedByOther', 'ServicePrincipal'], JSON.stringify(a));
        assert.equal(t.putsFor('a').length, 1);
        assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
      });

      it('a listing that names a connection twice: one PUT and one report entry', async () => {
        const t = await h.go([sync('a')], {}, { ...o(), before: (e) => e.addFault({ method: 'GET', path: LIST, kind: 'duplicate-entry', count: 1 }) });
        assert.equal(t.report.connections.length, 1, JSON.stringify(t.report.connections));
        assert.equal(t.puts.length, 1);
        assert.equal(t.byName('a')!.outcome, 'converted');
        assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
      });
    });

    describe('stalls', () => {
      const env = { CONVERTTOWIF_REQUESTTIMEOUTSECONDS: '2' };

      it('polls dribbled one byte a second: the wait ends near waitTimeoutSeconds, the connection is pending', async () => {
        const started = Date.now();
        const t = await h.go(
          [{ name: 'async', emulator: { conversion: 'async', completeAfterGets: 1000 } }],
          { waitTimeoutSeconds: '5' },
          {
            ...o(),
            env,
            before: (e) => e.addFault({ method: 'GET', path: BY_ID, kind: 'dribble', intervalMs: 1000, count: 1000 }),
          },
        );
        const took = Date.now() - started;
        const c = t.byName('async')!;
        assert.equal(c.outcome, 'pending', JSON.stringify(c));
        assert.equal(c.reasonCode, 'PendingTimeout');
        assert.equal(t.run.result?.result, 'SucceededWithIssues');
        assert.ok(took < 25000, `took ${took} ms`);
      });

      it('a dribbled PUT times out, the task reads the connection back and never sends the PUT twice blind', async () => {
        const started = Date.now();
        const t = await h.go([sync('a')], {}, { ...o(), env, before: (e) => e.addFault({ method: 'PUT', kind: 'dribble', intervalMs: 500, count: 1 }) });
        const took = Date.now() - started;
        const a = t.byName('a')!;
        assert.equal(a.outcome, 'converted', JSON.stringify(a));
        assert.deepEqual(
          t.requests.filter((r) => r.path.endsWith(a.id)).map((r) => r.method),
          ['PUT', 'GET'],
        );
        assert.equal(t.stored('a')!.authorization.scheme, WIF);
        assert.ok(took < 20000, `took ${took} ms`);
      });

      it('an invalid ConvertToWif.RequestTimeoutSeconds warns and uses the default', async () => {
        const t = await h.go([sync('a')], {}, { ...o(), env: { CONVERTTOWIF_REQUESTTIMEOUTSECONDS: '0' } });
        assert.ok(
          t.run.warnings.some((w) => w.includes('ConvertToWif.RequestTimeoutSeconds') && w.includes("'0'")),
          t.run.warnings.join('\n'),
        );
        assert.equal(t.byName('a')!.outcome, 'converted');
      });
    });
  });
}
