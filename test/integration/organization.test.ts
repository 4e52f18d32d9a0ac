// Organization-wide runs (input `projects`) of the PACKAGED task (the unzipped .vsix, run as the
// agent runs it) against the loopback emulator's organization of test/helpers/orgSeeds.ts: Payments,
// Shared Services, Team 03, Team 04, Restricted (its connections answer 403) and Retired (404), with
// the connections "{project}-{n}", "hub" (home Shared Services, shared with every project),
// "payments-shared", "restricted-shared" and "retired-shared". Covered: a collection-scoped run over
// every project with a paged projects listing (each connection changed once, from its home project;
// unreadable projects reported with the grant; the summary per project; no token printed) and a
// second run that changes nothing; the project-scoped job token, which sees only Payments; a dry run
// and `action: report` across projects; a `projects` input with a control character. Default Node
// only: the runtimes themselves are covered by the other packaged-task tests.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { RecordedRequest } from '../emulator/server';
import { Harness, allOutput } from '../helpers/harness';
import { ADMIN_PAT, COLLECTION_IDENTITY, COLLECTION_TOKEN, JOB_IDENTITY, JOB_TOKEN, OrgSeed, orgSeed } from '../helpers/orgSeeds';
import { packagedEntry } from '../helpers/packaged';

type Run = Awaited<ReturnType<Harness['run']>>;

/** The organization; the collection-scoped and the Payments identities may add the federated credentials (no Entra silent failure). */
const organization = (): OrgSeed => orgSeed({ projectPageSize: 2, emulator: { federatedCredential: true } });

const CONVERT_PUT = /^\/contoso\/_apis\/serviceendpoint\/endpoints\/([^/]+)$/;
/** Conversion PUTs per connection id. */
function putsById(requests: RecordedRequest[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of requests) {
    const id = r.method === 'PUT' ? CONVERT_PUT.exec(r.path)?.[1] : undefined;
    if (id) counts.set(id.toLowerCase(), (counts.get(id.toLowerCase()) ?? 0) + 1);
  }
  return counts;
}
const projectListings = (requests: RecordedRequest[]) => requests.filter((r) => r.method === 'GET' && r.path === '/contoso/_apis/projects');
/** The connection listings sent, by project id (`manage`: the dry run's permission preview, actionFilter=manage). */
const endpointListings = (requests: RecordedRequest[], manage = false) =>
  requests
    .filter((r) => r.method === 'GET' && /\/_apis\/serviceendpoint\/endpoints$/.test(r.path) && (r.query['actionFilter'] === 'manage') === manage)
    .map((r) => r.path.split('/')[2]);
const outcome = (t: Run, name: string) => {
  const c = t.byName(name);
  return c ? [c.outcome, c.reasonCode].filter(Boolean).join(':') : undefined;
};
const variable = (t: Run, name: string) => t.run.variables[name]?.value;
/** The scheme the emulator stores for a connection now. */
const storedScheme = (h: Harness, id: string) => (h.emu!.endpoint(id) as { authorization: { scheme: string } } | undefined)?.authorization.scheme;

describe('organization-wide runs (input projects, packaged task)', function () {
  this.timeout(120_000);
  let entry: string;
  before(async () => {
    entry = await packagedEntry();
  });

  describe("collection-scoped token, projects: '*', skipShared: false, the projects listing paged by 2", () => {
    const h = new Harness();
    const org = organization();
    /** The readable connections: every one whose home project can be read. */
    const readable = org.connections.filter((c) => c.home !== org.unreadable && c.home !== org.deleted);
    let t: Run;
    before(async () => {
      await h.start([], org.seed);
      t = await h.run({ projects: '*', skipShared: 'false' }, { entry, token: COLLECTION_TOKEN });
    });
    after(() => h.close());

    it('pages through the projects listing and converts every readable connection exactly once, each from its home project', () => {
      // 6 projects, at most 2 a page: three pages, the later ones by continuation token.
      const pages = projectListings(t.requests);
      assert.equal(pages.length, 3, JSON.stringify(pages.map((p) => p.query)));
      assert.equal(pages[0].query['$skip'], '0');
      assert.ok(pages.slice(1).every((p) => p.query['continuationToken']));
      assert.equal(readable.length, 10);
      const puts = putsById(t.requests);
      assert.deepEqual(
        [...puts.entries()].sort(),
        readable.map((c) => [c.id.toLowerCase(), 1]).sort(),
        'one PUT per readable connection, none for those homed in Restricted or Retired',
      );
      for (const c of readable) {
        assert.equal(outcome(t, c.name), 'converted', c.name);
        assert.equal(storedScheme(h, c.id), 'WorkloadIdentityFederation', c.name);
      }
      // hub is listed by every project but sent from its home: the body's first (and only) project reference is Shared Services.
      const hub = org.connection('hub');
      const body = t.putsFor('hub')[0].body as { serviceEndpointProjectReferences: Array<{ projectReference: { id: string; name: string } }> };
      assert.deepEqual(body.serviceEndpointProjectReferences[0].projectReference, { id: org.shared.id, name: org.shared.name });
      assert.ok(t.puts.every((r) => r.identity === COLLECTION_IDENTITY));
      // Converting from the home project keeps the sharing: every project still references hub.
      const refs = (h.emu!.endpoint(hub.id) as { serviceEndpointProjectReferences: Array<{ projectReference: { id: string } }> })
        .serviceEndpointProjectReferences;
      assert.deepEqual(
        refs.map((r) => r.projectReference.id),
        hub.projects.map((p) => p.id),
      );
      // Its use was read in its home project, once.
      const histories = t.requests.filter((r) => r.path.endsWith(`/_apis/serviceendpoint/${hub.id}/executionhistory`));
      assert.deepEqual(
        histories.map((r) => r.path.split('/')[2]),
        [org.shared.id],
      );
      // Each readable project's connections were listed once; the unreadable ones were tried once each.
      assert.deepEqual(endpointListings(t.requests).sort(), org.projects.map((p) => p.id).sort());
    });

    it('the report: organizationWide, every project with its totals, Restricted and Retired with the error and the grant, each connection once with its project', () => {
      const r = t.report;
      assert.equal(r.organizationWide, true);
      assert.deepEqual(r.project, { id: org.home.id, name: org.home.name });
      assert.deepEqual(
        r.projects.map((p) => [p.name, p.connections, p.totals.converted, p.totals.skipped, p.errorCode]),
        [
          ['Payments', 5, 3, 2, undefined],
          ['Restricted', 0, 0, 0, 'ProjectForbidden'],
          ['Retired', 0, 0, 0, 'ProjectNotFound'],
          ['Shared Services', 3, 3, 0, undefined],
          ['Team 03', 2, 2, 0, undefined],
          ['Team 04', 2, 2, 0, undefined],
        ],
      );
      assert.deepEqual(new Set(r.projects.map((p) => p.id)), new Set(org.projects.map((p) => p.id)));
      const restricted = r.projects.find((p) => p.name === 'Restricted')!;
      assert.match(restricted.error!, /could not be read/);
      assert.ok(restricted.error!.includes(`Give ${COLLECTION_IDENTITY} at least the Reader role`), restricted.error);
      assert.match(restricted.error!, /Limit job authorization scope/);
      assert.match(r.projects.find((p) => p.name === 'Retired')!.error!, /^Project 'Retired' was not found/);

      // Every connection once (hub is listed by five readable projects), each tagged with the project it was handled from.
      assert.equal(r.connections.length, 12);
      assert.equal(new Set(r.connections.map((c) => c.id)).size, 12);
      for (const c of r.connections) assert.ok(c.project?.id && c.project.name, `${c.name} has its project`);
      const hub = t.byName('hub')!;
      assert.deepEqual(hub.project, { id: org.shared.id, name: org.shared.name });
      assert.equal(hub.homeProject, 'Shared Services');
      assert.deepEqual(
        [...hub.sharedWith!].sort(),
        org.projects
          .filter((p) => p !== org.shared)
          .map((p) => p.name)
          .sort(),
      );
      assert.deepEqual(t.byName('team-03-1')!.project, { id: org.projects[2].id, name: 'Team 03' });
      // Homed in a project that could not be read: left alone, recorded in Payments (the project that listed them), never sent.
      for (const name of ['restricted-shared', 'retired-shared']) {
        const c = t.byName(name)!;
        assert.equal(outcome(t, name), 'skipped:SkipHomeUnread', name);
        assert.deepEqual(c.project, { id: org.home.id, name: org.home.name });
        assert.equal(c.scheme, 'ServicePrincipal');
        assert.equal(t.putsFor(name).length, 0);
      }
      assert.deepEqual(
        { converted: r.totals.converted, skipped: r.totals.skipped, failed: r.totals.failed, pending: r.totals.pending },
        { converted: 10, skipped: 2, failed: 0, pending: 0 },
      );
    });

    it('##vso: SucceededWithIssues naming the unread projects, one warning per unread project, the counts as output variables', () => {
      assert.equal(t.run.result?.result, 'SucceededWithIssues', t.run.stdout);
      assert.equal(
        t.run.result.message,
        "Converted 10 connection(s) to workload identity federation. 2 of 6 project(s) could not be read: see the report's projects list for what to grant.",
      );
      assert.deepEqual(t.run.errors, []);
      assert.equal(t.run.warnings.filter((w) => w.startsWith("The service connections of project 'Restricted' could not be read")).length, 1);
      assert.equal(t.run.warnings.filter((w) => w.startsWith("Project 'Retired' was not found")).length, 1);
      assert.ok(t.run.stdout.includes('Organization-wide run: 6 of the 6 project(s) that Project Collection Build Service (contoso) can see.'));
      assert.deepEqual(
        ['convertedCount', 'skippedCount', 'failedCount', 'pendingCount', 'plannedCount'].map((v) => variable(t, v)),
        ['10', '2', '0', '0', '0'],
      );
      assert.equal(t.run.variables['convertedCount'].isOutput, true);
      assert.equal(t.run.summaryTitle, 'ConvertToWif convert: 6 projects');
    });

    it('the summary: the unread projects with the grant, then one collapsed <details> per project with connections', () => {
      const summary = fs.readFileSync(t.run.summaryPath!, 'utf8');
      const sections = [...summary.matchAll(/<details( open)?><summary>([^<:]+):/g)].map((m) => [m[2], m[1] === ' open']);
      assert.deepEqual(sections, [
        ['Payments', false],
        ['Shared Services', false],
        ['Team 03', false],
        ['Team 04', false],
      ]);
      assert.equal((summary.match(/<\/details>/g) ?? []).length, 4);
      const unread = summary.slice(summary.indexOf('#### Projects that could not be read'), summary.indexOf('<details'));
      assert.match(unread, /\| Restricted \| The service connections of project 'Restricted' could not be read/);
      assert.match(unread, /\| Retired \| Project 'Retired' was not found/);
      // Each connection in the section of the project it was handled from.
      const shared = summary.slice(summary.indexOf('<details><summary>Shared Services'), summary.indexOf('<details><summary>Team 03'));
      assert.match(shared, /\| hub \|/);
      const payments = summary.slice(summary.indexOf('<details><summary>Payments'), summary.indexOf('<details><summary>Shared Services'));
      assert.doesNotMatch(payments, /\| hub \|/);
      assert.match(payments, /\| restricted-shared \| ServicePrincipal \| Shared from project 'Restricted', which could not be read/);
    });

    it('no token appears in the log, the summary or the report', () => {
      const out = allOutput(t.run);
      for (const token of [COLLECTION_TOKEN, JOB_TOKEN, ADMIN_PAT]) assert.ok(!out.includes(token), `${token} printed`);
      assert.deepEqual(t.run.secretsMasked, [COLLECTION_TOKEN]);
    });

    it('a second run changes nothing: no PUT, every converted connection federated, the unread projects reported again', async () => {
      const again = await h.run({ projects: '*', skipShared: 'false' }, { entry, token: COLLECTION_TOKEN });
      assert.equal(again.puts.length, 0, JSON.stringify(again.puts.map((p) => p.path)));
      for (const c of readable) assert.equal(outcome(again, c.name), 'federated', c.name);
      assert.equal(outcome(again, 'restricted-shared'), 'skipped:SkipHomeUnread');
      assert.equal(outcome(again, 'retired-shared'), 'skipped:SkipHomeUnread');
      assert.equal(again.report.connections.length, 12);
      assert.deepEqual(
        again.report.projects.map((p) => [p.name, p.totals.federated, p.errorCode]),
        [
          ['Payments', 3, undefined],
          ['Restricted', 0, 'ProjectForbidden'],
          ['Retired', 0, 'ProjectNotFound'],
          ['Shared Services', 3, undefined],
          ['Team 03', 2, undefined],
          ['Team 04', 2, undefined],
        ],
      );
      assert.equal(variable(again, 'convertedCount'), '0');
      assert.equal(again.run.result?.result, 'SucceededWithIssues');
      assert.match(again.run.result.message, /^Nothing to convert.* 2 of 6 project\(s\) could not be read/);
    });
  });

  describe('project-scoped job token (Payments Build Service)', () => {
    const h = new Harness();
    afterEach(() => h.close());

    it("projects: '*' sees only Payments: its own connections converted, those homed in projects it cannot see left alone with SkipHomeNotVisible, and a warning on the job scope", async () => {
      const org = organization();
      await h.start([], org.seed);
      const t = await h.run({ projects: '*', skipShared: 'false' }, { entry, token: JOB_TOKEN });
      assert.ok(t.run.stdout.includes(`Organization-wide run: 1 of the 1 project(s) that ${JOB_IDENTITY} can see.`), t.run.stdout);
      assert.deepEqual(
        t.report.projects.map((p) => [p.name, p.connections, p.totals.converted, p.totals.skipped, p.error]),
        [['Payments', 6, 3, 3, undefined]],
      );
      assert.deepEqual(Object.fromEntries(org.inProject('Payments').map((c) => [c.name, outcome(t, c.name)])), {
        'payments-1': 'converted',
        'payments-2': 'converted',
        hub: 'skipped:SkipHomeNotVisible',
        'payments-shared': 'converted',
        'restricted-shared': 'skipped:SkipHomeNotVisible',
        'retired-shared': 'skipped:SkipHomeNotVisible',
      });
      assert.match(t.byName('hub')!.reason!, /Shared from project 'Shared Services', which the run's identity cannot see/);
      assert.match(t.byName('hub')!.reason!, /Limit job authorization scope to current project/);
      const scopeWarnings = t.run.warnings.filter((w) => w.includes(`${JOB_IDENTITY} can see only project 'Payments'`));
      assert.equal(scopeWarnings.length, 1, t.run.warnings.join('\n'));
      assert.match(scopeWarnings[0], /Project Collection Build Service/);
      assert.ok(t.report.connections.every((c) => c.project.id === org.home.id));
      // Only Payments was read; the PUTs are exactly its own connections', sent as the job identity.
      assert.deepEqual(endpointListings(t.requests), [org.home.id]);
      assert.deepEqual(
        [...putsById(t.requests).keys()].sort(),
        ['payments-1', 'payments-2', 'payments-shared'].map((n) => org.connection(n).id.toLowerCase()).sort(),
      );
      assert.ok(t.requests.every((r) => r.identity === JOB_IDENTITY));
      assert.equal(variable(t, 'convertedCount'), '3');
      assert.equal(variable(t, 'skippedCount'), '3');
      assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
      assert.deepEqual(t.run.errors, []);
      assert.ok(!allOutput(t.run).includes(JOB_TOKEN));
    });

    it("projects: 'Shared Services' matches nothing it can see: a warning naming the job authorization scope, nothing listed or sent", async () => {
      const org = organization();
      await h.start([], org.seed);
      const t = await h.run({ projects: 'Shared Services' }, { entry, token: JOB_TOKEN });
      const scope = t.run.warnings.find((w) => w.startsWith("The projects entr(ies) 'Shared Services' matched no project"));
      assert.ok(scope, JSON.stringify(t.run.warnings));
      assert.ok(scope.includes(JOB_IDENTITY), scope);
      assert.match(scope, /'Limit job authorization scope to current project for non-release pipelines'/);
      assert.equal(t.run.result?.result, 'SucceededWithIssues');
      assert.match(t.run.result.message, /^No project matched projects: Shared Services, so nothing was done\. .*'Payments'/);
      assert.match(t.report.nothingMatched ?? '', /No project matched projects: Shared Services/);
      // The run covered no project: Payments was never read, so it is not listed as a project with no connections.
      assert.deepEqual(t.report.projects, []);
      assert.deepEqual(t.report.connections, []);
      assert.equal(variable(t, 'convertedCount'), '0');
      assert.equal(t.puts.length, 0);
      assert.deepEqual(endpointListings(t.requests), []);
      assert.ok(projectListings(t.requests).length >= 1, 'the projects were listed');
      assert.ok(org.connections.every((c) => storedScheme(h, c.id) === 'ServicePrincipal'));
    });
  });

  describe('changing nothing across projects', () => {
    const h = new Harness();
    afterEach(() => h.close());

    it("dry run, projects: 'Payments, Team*': no PUT, the planned conversions per project, the other projects never read", async () => {
      const org = organization();
      await h.start([], org.seed);
      const t = await h.run({ projects: 'Payments, Team*', dryRun: 'true' }, { entry, token: COLLECTION_TOKEN });
      assert.equal(t.puts.length, 0);
      assert.equal(t.report.dryRun, true);
      assert.deepEqual(
        t.report.projects.map((p) => [p.name, p.totals.planned, p.error]),
        [
          ['Payments', 2, undefined],
          ['Team 03', 2, undefined],
          ['Team 04', 2, undefined],
        ],
      );
      for (const name of ['payments-1', 'payments-2', 'team-03-1', 'team-03-2', 'team-04-1', 'team-04-2']) assert.equal(outcome(t, name), 'planned', name);
      assert.equal(t.byName('team-04-2')!.project.name, 'Team 04');
      assert.equal(outcome(t, 'payments-shared'), 'skipped:SkipShared');
      // Homed in a project outside the selection: left alone, once, from one of the selected projects that list it.
      for (const name of ['hub', 'restricted-shared', 'retired-shared']) assert.equal(outcome(t, name), 'skipped:SkipHomeNotSelected', name);
      assert.equal(t.report.connections.filter((c) => c.name === 'hub').length, 1);
      assert.ok(['Payments', 'Team 03', 'Team 04'].includes(t.byName('hub')!.project.name));
      // Each selected project listed once, and once more for the permission preview (which connections the identity administers).
      const selected = [org.home.id, org.projects[2].id, org.projects[3].id].sort();
      assert.deepEqual(endpointListings(t.requests).sort(), selected);
      assert.deepEqual(endpointListings(t.requests, true).sort(), selected);
      assert.equal(variable(t, 'plannedCount'), '6');
      assert.equal(variable(t, 'convertedCount'), '0');
      assert.equal(t.run.result?.result, 'Succeeded');
      assert.match(t.run.result.message, /^Dry run: 6 connection\(s\) would be converted\. Nothing was changed\./);
      assert.ok(org.connections.every((c) => storedScheme(h, c.id) === 'ServicePrincipal'));
    });

    it("action: report, projects: '*' after the Team projects were converted: no PUT, per-project totals and the audit across projects", async () => {
      const org = organization();
      await h.start([], org.seed);
      const teams = await h.run({ projects: 'Team*' }, { entry, token: COLLECTION_TOKEN });
      assert.equal(teams.puts.length, 4, 'the Team projects converted first');
      const t = await h.run({ projects: '*', action: 'report' }, { entry, token: COLLECTION_TOKEN });
      assert.equal(t.puts.length, 0);
      assert.ok(t.requests.every((r) => r.method === 'GET'));
      assert.deepEqual(
        t.report.projects.map((p) => [p.name, p.connections, p.totals.planned, p.totals.skipped, p.totals.federated, p.errorCode]),
        [
          ['Payments', 5, 2, 3, 0, undefined],
          ['Restricted', 0, 0, 0, 0, 'ProjectForbidden'],
          ['Retired', 0, 0, 0, 0, 'ProjectNotFound'],
          ['Shared Services', 3, 2, 1, 0, undefined],
          ['Team 03', 2, 0, 0, 2, undefined],
          ['Team 04', 2, 0, 0, 2, undefined],
        ],
      );
      assert.deepEqual(t.report.audit, { onSecrets: 8, federatedRetiringIssuer: 0, federatedEntraIssuer: 4, federatedOtherIssuer: 0, otherSchemes: 0 });
      assert.equal(outcome(t, 'hub'), 'skipped:SkipShared');
      assert.equal(t.byName('hub')!.project.name, 'Shared Services');
      assert.equal(outcome(t, 'restricted-shared'), 'skipped:SkipHomeUnread');
      assert.equal(t.run.result?.result, 'SucceededWithIssues');
      assert.match(t.run.result.message, /^Report: 8 connection\(s\) on a client secret.* 2 of 6 project\(s\) could not be read/);
      assert.equal(t.run.warnings.filter((w) => / still uses a client secret: /.test(w)).length, 8);
      const summary = fs.readFileSync(t.run.summaryPath!, 'utf8');
      assert.match(summary, /\*\*8 on a client secret\*\* · 0 federated on the retiring Azure DevOps issuer · 4 federated on the Microsoft Entra issuer/);
      // Open where secrets remain, collapsed where none do.
      assert.deepEqual(
        [...summary.matchAll(/<details( open)?><summary>([^<:]+):/g)].map((m) => [m[2], m[1] === ' open']),
        [
          ['Payments', true],
          ['Shared Services', true],
          ['Team 03', false],
          ['Team 04', false],
        ],
      );
    });
  });

  describe('bad input', () => {
    const h = new Harness();
    afterEach(() => h.close());

    it('a projects entry with a control character fails the task naming the input, and sends nothing', async () => {
      const org = organization();
      await h.start([], org.seed);
      const t = await h.run({ projects: 'Payments, Team\u000703' }, { entry, token: COLLECTION_TOKEN });
      assert.equal(t.run.result?.result, 'Failed');
      assert.match(t.run.result.message, /nothing was sent to Azure DevOps/);
      const input = t.run.errors.find((e) => e.startsWith("Input 'projects' has the entry"));
      assert.ok(input, JSON.stringify(t.run.errors));
      assert.match(input, /without control characters/);
      assert.equal(t.requests.length, 0, 'zero requests to the emulator');
      assert.equal(t.run.variables['reportPath'], undefined);
      assert.equal(t.report, undefined);
    });
  });
});
