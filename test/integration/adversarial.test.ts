// What an adversarial try of the packaged task found, each kept as a regression test (packaged task,
// every Node runtime): a location answer that points the token elsewhere, stalled side requests,
// cancellation during slow reads, a report folder that cannot take the report, a PUT that times out
// but is applied later, and history records the task cannot read.
import * as assert from 'node:assert/strict';
import { Emulator } from '../emulator/server';
import { Harness, allOutput } from '../helpers/harness';
import { runtimes } from '../helpers/nodes';
import { otherHost } from '../helpers/otherHost';
import { packagedEntry } from '../helpers/packaged';
import { JOB_TOKEN, SeedEndpoint } from '../helpers/seed';

const sync = (name: string): SeedEndpoint => ({ name, emulator: { conversion: 'sync' } });
/** A connection pipeline 1 ('p', run 1) used yesterday. */
const usedByP = (name: string): SeedEndpoint => ({
  name,
  emulator: { conversion: 'sync', executions: [{ planType: 'Build', definitionId: 1, definitionName: 'p', runId: 1, startTime: '-1d' }] },
});
const HISTORY = /\/executionhistory$/;
const timeout2s = { CONVERTTOWIF_REQUESTTIMEOUTSECONDS: '2' };

for (const rt of runtimes()) {
  describe(`adversarial findings (packaged task, ${rt.label})`, function () {
    this.timeout(120000);
    const h = new Harness();
    let entry = '';
    before(async function () {
      this.timeout(300000);
      entry = await packagedEntry();
    });
    afterEach(() => h.close());
    const o = () => ({ entry, node: rt.path });

    it('a location (OPTIONS) answer whose route template points at another host gets no request and no token there', async () => {
      const other = await otherHost();
      try {
        const template = `../\\${other.hostPort}/{project}/_apis/{area}/{endpointId}/{resource}`;
        const body = JSON.stringify({
          count: 1,
          value: [
            {
              id: '10a16738-9299-4cd1-9a81-fd23ad6200d0',
              area: 'serviceendpoint',
              resourceName: 'executionhistory',
              routeTemplate: template,
              resourceVersion: 1,
              minVersion: '4.1',
              maxVersion: '7.2',
              releasedVersion: '0.0',
            },
          ],
        });
        const t = await h.go(
          [usedByP('used')],
          { dryRun: 'true' },
          {
            ...o(),
            seed: { builds: { '1': { definitionId: 1, records: [] } }, pipelines: { '1': { name: 'p', finalYaml: 'steps: []' } } },
            before: (e) => e.addFault({ method: 'OPTIONS', status: 200, count: 100, body }),
          },
        );
        assert.equal(other.hits(), 0, 'the other host got a request');
        assert.equal(other.sawAuthorization(), false);
        assert.ok(
          t.requests.some((r) => HISTORY.test(r.path)),
          'the history was read from the organization',
        );
        assert.ok(t.run.result, 'the run completed');
      } finally {
        await other.close();
      }
    });

    it('a stalled "who am I" answer is bounded by the request timeout (dry run and a 403 to explain)', async () => {
      const endpoints = [sync('a'), { name: 'restricted', emulator: { conversion: 'sync', administrators: [] } } as SeedEndpoint];
      const dribble = (e: Emulator) => e.addFault({ method: 'GET', path: /\/_apis\/connectionData$/, kind: 'dribble', intervalMs: 400, count: 100 });
      const dry = await h.go(endpoints, { dryRun: 'true', impactCheck: 'off' }, { ...o(), env: timeout2s, timeoutMs: 45000, before: dribble });
      assert.equal(dry.run.result?.result, 'SucceededWithIssues');
      const real = await h.go(endpoints, { impactCheck: 'off', waitTimeoutSeconds: '5' }, { ...o(), env: timeout2s, timeoutMs: 45000, before: dribble });
      assert.equal(real.byName('restricted')!.outcome, 'failed');
      assert.equal(real.byName('a')!.outcome, 'converted');
      assert.equal(real.run.result?.result, 'Failed');
    });

    it('cancelled while a history read hangs: the read is given up at once and the run ends Cancelled with its report', async () => {
      const t = await h.go(
        [usedByP('a')],
        {},
        {
          ...o(),
          timeoutMs: 30000,
          before: (e) => e.addFault({ method: 'GET', path: HISTORY, kind: 'delay', delayMs: 60000, count: 10 }),
          signalAfterMs: { signal: 'SIGINT', afterMs: 2500 },
        },
      );
      assert.equal(t.run.result?.result, 'Cancelled');
      assert.equal(t.report.cancelled, true);
      assert.equal(t.puts.length, 0);
      assert.equal(t.byName('a')!.reasonCode, 'SkipNotAttempted');
    });

    it('a report path whose folder cannot take a new file, or that is not a regular file, fails before any request', async () => {
      await h.start([sync('a')]);
      // /proc/self/comm is a writable regular file in a folder where no file can be created (also as root).
      for (const [reportPath, expected] of [
        ['/proc/self/comm', /the folder cannot be written/],
        ['/dev/null', /it is not a regular file/],
      ] as const) {
        const t = await h.run({ reportPath }, o());
        assert.equal(t.run.result?.result, 'Failed', reportPath);
        assert.ok(
          t.run.errors.some((e) => expected.test(e)),
          `${reportPath}: ${t.run.errors.join('\n')}`,
        );
        assert.equal(t.requests.length, 0, reportPath);
      }
    });

    it('a PUT that times out but is applied later is waited for, never resent, and reported converted', async () => {
      const t = await h.go(
        [sync('slow')],
        { impactCheck: 'off', waitTimeoutSeconds: '30' },
        {
          ...o(),
          env: timeout2s,
          before: (e) => e.addFault({ method: 'PUT', kind: 'delay', delayMs: 5000, count: 1 }),
        },
      );
      assert.equal(t.puts.length, 1, 'one PUT');
      assert.equal(t.byName('slow')!.outcome, 'converted', JSON.stringify(t.byName('slow')));
      assert.equal(t.stored('slow')!.authorization.scheme, 'WorkloadIdentityFederation');
    });

    it('history records without a pipeline or run id make the use unknown (left alone), not "no use"', async () => {
      const t = await h.go(
        [sync('odd-history')],
        {},
        {
          ...o(),
          before: (e) =>
            e.addFault({
              method: 'GET',
              path: HISTORY,
              status: 200,
              count: 10,
              body: '{"count":2,"value":[{"Data":{"Definition":{"Id":1}}},{"data":{"definition":{"id":1},"owner":{"id":"x"}}}]}',
            }),
        },
      );
      const c = t.byName('odd-history')!;
      assert.equal(c.reasonCode, 'SkipImpactUnknown');
      assert.match(c.reason!, /in the last 30 days/);
      assert.ok(
        c.impact!.partial.some((p) => /2 record\(s\) of the execution history could not be read/.test(p)),
        JSON.stringify(c.impact),
      );
      assert.equal(t.puts.length, 0);
    });

    it('a service that echoes the token back in an error never gets it into the log, summary or report', async () => {
      const t = await h.go(
        [sync('echo')],
        { impactCheck: 'off' },
        {
          ...o(),
          before: (e) =>
            e.addFault({
              method: 'PUT',
              status: 400,
              count: 1,
              body: JSON.stringify({ message: `Bad request from Bearer ${JOB_TOKEN} (token ${JOB_TOKEN})` }),
            }),
        },
      );
      assert.equal(t.byName('echo')!.outcome, 'failed');
      assert.ok(t.byName('echo')!.serviceMessage?.includes('***'), t.byName('echo')!.serviceMessage);
      assert.ok(!allOutput(t.run).includes(JOB_TOKEN), 'the token appears in what the task wrote');
    });

    it('a token with underscores echoed by the service is masked in the summary too (markdown escaping must not hide it from redaction)', async () => {
      const token = 'pat_with_under_scores_1234';
      const t = await h.go(
        [sync('echo')],
        { impactCheck: 'off', accessToken: token },
        {
          ...o(),
          seed: { identities: [{ token, name: 'Ada Admin' }], defaultAdministrators: ['Ada Admin'] },
          before: (e) => e.addFault({ method: 'PUT', status: 400, count: 1, body: JSON.stringify({ message: `Rejected for ${token}` }) }),
        },
      );
      assert.equal(t.byName('echo')!.outcome, 'failed');
      const everything = allOutput(t.run);
      assert.ok(!everything.includes(token) && !everything.includes('pat\\_with'), 'the token (or its escaped form) appears in what the task wrote');
    });
  });
}
