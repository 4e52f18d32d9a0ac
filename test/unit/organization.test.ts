// Organization-wide runs (input `projects`) of the use case over in-memory ports: an organization of
// projects, each with its own client (as main.ts builds one per project), connections shared across
// projects, projects that cannot be read. No task-lib, no HTTP.
import * as assert from 'node:assert/strict';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import { RawInputs } from '../../tasks/ConvertToWif/src/core/inputs';
import type { Classified } from '../../tasks/ConvertToWif/src/core/eligibility';
import { ConversionBody, Endpoint } from '../../tasks/ConvertToWif/src/core/model';
import { AzureDevOps, ConnectSettings, ProjectInfo } from '../../tasks/ConvertToWif/src/core/ports';
import { ConnectionRouter, selectProjects } from '../../tasks/ConvertToWif/src/core/projects';
import type { Report, ReportEntry } from '../../tasks/ConvertToWif/src/core/report';
import { runTask } from '../../tasks/ConvertToWif/src/core/runTask';
import { convertedAnswer, endpoint } from '../helpers/endpoints';
import { MemoryHost, clock } from '../helpers/memory';

const P = (n: number, name: string): ProjectInfo => ({ id: `0b1c2d3e-0000-4000-8000-0000000000${String(n).padStart(2, '0')}`, name });
const PAYMENTS = P(1, 'Payments');
const SHARED = P(2, 'Shared Services');
const TEAM = P(3, 'Team Rocket');
const LOCKED = P(4, 'Locked');

/** The organization: its projects, every connection, and what each project's listing does. */
class Org {
  converted: Array<{ id: string; via: string }> = [];
  listed: string[] = [];
  history: Array<{ id: string; via: string }> = [];
  failures = new Map<string, () => Error>();
  projectsFailure?: () => Error;
  /** Changes a project's client after it is built (a fault, a delay, a probe). */
  tweak?: (client: AzureDevOps, s: ConnectSettings) => void;
  constructor(
    readonly projects: ProjectInfo[],
    readonly endpoints: Endpoint[],
  ) {}

  /** The client main.ts would build for one project (ConnectSettings.projectId). */
  client(s: ConnectSettings): AzureDevOps {
    const client = this.plainClient(s);
    this.tweak?.(client, s);
    return client;
  }

  private plainClient(s: ConnectSettings): AzureDevOps {
    const project = this.projects.find((p) => p.id === s.projectId || p.name === s.projectId);
    const mine = () => this.endpoints.filter((e) => e.serviceEndpointProjectReferences?.some((r) => r.projectReference?.id === project?.id));
    return {
      listProjects: async () => {
        if (this.projectsFailure) throw this.projectsFailure();
        return { projects: this.projects, malformed: 0 };
      },
      list: async () => {
        this.listed.push(s.projectId);
        const fail = this.failures.get(s.projectId);
        if (fail) throw fail();
        return { endpoints: mine(), malformed: 0 };
      },
      get: async (id) => mine().find((e) => e.id === id) ?? null,
      convert: async (id: string, body: ConversionBody) => {
        this.converted.push({ id, via: s.projectId });
        return convertedAnswer(
          this.endpoints.find((x) => x.id === id)!,
          body.authorization.scheme,
        );
      },
      manageableIds: async () => new Set(mine().map((e) => e.id.toLowerCase())),
      whoAmI: async () => 'Project Collection Build Service (contoso)',
      executionHistory: async (id) => {
        this.history.push({ id, via: s.projectId });
        return { records: [] };
      },
      buildTasks: async () => [],
      pipelineYaml: async () => '',
      taskDefinitions: async () => [],
    };
  }
}

const conn = (name: string, ...projects: ProjectInfo[]) => endpoint({ name, projects });

async function run(inputs: RawInputs, org: Org, abort = new AbortController()) {
  const host = new MemoryHost({ impactCheck: 'off', ...inputs }, PAYMENTS);
  let built = 0;
  await runTask({
    host,
    clock: clock(),
    cancelled: abort.signal,
    connect: (s) => {
      built++;
      return org.client(s);
    },
  });
  const summary = host.files['/mem/summary.md'] ?? '';
  return { host, report: host.report, summary, built };
}

const byName = (r: Report, name: string): ReportEntry => r.connections.find((c) => c.name === name)!;

describe('organization-wide runs (input projects, in memory)', () => {
  it('projects: * converts each connection once, from its home project, and the report names every project', async () => {
    const hub = conn('hub', SHARED, PAYMENTS, TEAM);
    const org = new Org([PAYMENTS, SHARED, TEAM], [conn('pay-1', PAYMENTS), conn('shared-1', SHARED), conn('team-1', TEAM), hub]);
    const { host, report } = await run({ projects: '*', skipShared: 'false' }, org);
    assert.equal(host.outcome?.kind, 'Succeeded', host.outcome?.message);
    assert.deepEqual(org.converted.map((c) => c.id).sort(), org.endpoints.map((e) => e.id).sort(), 'every connection converted exactly once');
    assert.equal(org.converted.find((c) => c.id === hub.id)!.via, SHARED.id, 'the shared one from its home project');
    assert.deepEqual(org.listed.sort(), [PAYMENTS.id, SHARED.id, TEAM.id].sort());
    assert.equal(report.connections.length, 4, 'the shared connection appears once');
    assert.deepEqual(byName(report, 'hub').project, SHARED);
    assert.deepEqual(byName(report, 'hub').sharedWith, ['Payments', 'Team Rocket']);
    assert.deepEqual(byName(report, 'team-1').project, TEAM);
    assert.equal(report.organizationWide, true);
    assert.deepEqual(
      report.projects.map((p) => [p.name, p.connections, p.totals.converted, p.error]),
      [
        ['Payments', 1, 1, undefined],
        ['Shared Services', 2, 2, undefined],
        ['Team Rocket', 1, 1, undefined],
      ],
    );
    assert.equal(report.totals.converted, 4);
    assert.equal(host.outputs['convertedCount'], '4');
  });

  it('with skipShared (the default), a shared connection is skipped once, not once per project', async () => {
    const hub = conn('hub', SHARED, PAYMENTS, TEAM);
    const org = new Org([PAYMENTS, SHARED, TEAM], [conn('pay-1', PAYMENTS), hub]);
    const { report } = await run({ projects: '*' }, org);
    assert.equal(report.connections.filter((c) => c.id === hub.id).length, 1);
    assert.equal(byName(report, 'hub').reasonCode, 'SkipShared');
    assert.ok(!org.converted.some((c) => c.id === hub.id));
  });

  it('a connection whose home project is not selected is left alone, once, with that reason', async () => {
    const fromTeam = conn('from-team', TEAM, PAYMENTS, SHARED);
    const org = new Org([PAYMENTS, SHARED, TEAM], [conn('pay-1', PAYMENTS), fromTeam]);
    const { report } = await run({ projects: 'Payments\nShared*', skipShared: 'false' }, org);
    assert.deepEqual(org.listed.sort(), [PAYMENTS.id, SHARED.id].sort(), 'Team Rocket is not read');
    const entries = report.connections.filter((c) => c.id === fromTeam.id);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].reasonCode, 'SkipHomeNotSelected');
    assert.match(entries[0].reason ?? '', /'Team Rocket'/);
    assert.ok(!org.converted.some((c) => c.id === fromTeam.id));
    assert.equal(byName(report, 'pay-1').outcome, 'converted');
  });

  it('a token that sees only its own project: a warning on the job scope, and connections homed in projects it cannot see say so', async () => {
    const fromTeam = conn('from-team', TEAM, PAYMENTS);
    const org = new Org([PAYMENTS], [conn('pay-1', PAYMENTS), fromTeam]);
    const { host, report } = await run({ projects: '*', skipShared: 'false' }, org);
    assert.equal(byName(report, 'from-team').reasonCode, 'SkipHomeNotVisible');
    assert.match(byName(report, 'from-team').reason ?? '', /Limit job authorization scope/);
    assert.equal(byName(report, 'pay-1').outcome, 'converted');
    const w = host.lines.filter((l) => l.level === 'warning' && /can see only project 'Payments'/.test(l.text));
    assert.equal(w.length, 1, JSON.stringify(host.lines));
  });

  it('an unreadable project is an entry with the error and the grant; the others go on; its shared connection says why it was left alone', async () => {
    const fromLocked = conn('from-locked', LOCKED, PAYMENTS);
    const org = new Org([PAYMENTS, SHARED, LOCKED], [conn('pay-1', PAYMENTS), conn('shared-1', SHARED), conn('locked-1', LOCKED), fromLocked]);
    org.failures.set(LOCKED.id, () => new ServiceError({ status: 403, message: 'Access denied. Needs View permissions.' }));
    const { host, report, summary } = await run({ projects: '*', skipShared: 'false' }, org);
    const locked = report.projects.find((p) => p.name === 'Locked')!;
    assert.equal(locked.errorCode, 'ProjectForbidden');
    assert.match(locked.error ?? '', /Reader role/);
    assert.match(locked.error ?? '', /Project Collection Build Service/);
    assert.match(locked.error ?? '', /Access denied/);
    assert.equal(locked.connections, 0);
    assert.equal(byName(report, 'pay-1').outcome, 'converted');
    assert.equal(byName(report, 'shared-1').outcome, 'converted');
    assert.equal(byName(report, 'from-locked').reasonCode, 'SkipHomeUnread');
    assert.deepEqual(byName(report, 'from-locked').project, PAYMENTS, 'recorded where it was seen');
    assert.ok(!org.converted.some((c) => c.id === fromLocked.id), 'never converted from a project that is not its home');
    assert.equal(host.outcome?.kind, 'SucceededWithIssues');
    assert.match(host.outcome?.message ?? '', /1 of 3 project/);
    assert.ok(host.lines.some((l) => l.level === 'warning' && /Locked/.test(l.text) && /Reader role/.test(l.text)));
    assert.match(summary, /Projects that could not be read/);
  });

  it('a project deleted during the run (404) says so and how to make the token collection-scoped', async () => {
    const org = new Org([PAYMENTS, TEAM], [conn('pay-1', PAYMENTS)]);
    org.failures.set(TEAM.id, () => new ServiceError({ status: 404, message: 'VS800075: The project does not exist.' }));
    const { report } = await run({ projects: '*' }, org);
    const team = report.projects.find((p) => p.name === 'Team Rocket')!;
    assert.equal(team.errorCode, 'ProjectNotFound');
    assert.match(team.error ?? '', /Limit job authorization scope to current project/);
    assert.equal(byName(report, 'pay-1').outcome, 'converted');
  });

  it('every project unreadable: Failed, and nothing is sent', async () => {
    const org = new Org([PAYMENTS, TEAM], [conn('pay-1', PAYMENTS)]);
    for (const p of [PAYMENTS, TEAM]) org.failures.set(p.id, () => new ServiceError({ status: 403, message: 'denied' }));
    const { host } = await run({ projects: '*' }, org);
    assert.equal(host.outcome?.kind, 'Failed');
    assert.deepEqual(org.converted, []);
  });

  it('one project failing unexpectedly does not stop the others', async () => {
    const org = new Org([PAYMENTS, TEAM], [conn('pay-1', PAYMENTS), conn('team-1', TEAM)]);
    org.failures.set(TEAM.id, () => new TypeError('boom'));
    const { report } = await run({ projects: '*' }, org);
    assert.equal(byName(report, 'pay-1').outcome, 'converted');
    assert.match(report.projects.find((p) => p.name === 'Team Rocket')!.error ?? '', /boom/);
  });

  it('entries by name, wildcard and id; an entry matching nothing is a warning that explains the job scope', async () => {
    const org = new Org([PAYMENTS, SHARED, TEAM], [conn('pay-1', PAYMENTS), conn('shared-1', SHARED), conn('team-1', TEAM)]);
    const { host, report } = await run({ projects: `payments, ${TEAM.id.toUpperCase()}\nNo Such Project` }, org);
    assert.deepEqual(report.projects.map((p) => p.name).sort(), ['Payments', 'Team Rocket']);
    assert.deepEqual(org.converted.map((c) => c.via).sort(), [PAYMENTS.id, TEAM.id].sort());
    const w = host.lines.find((l) => l.level === 'warning' && l.text.includes('No Such Project'));
    assert.ok(w, JSON.stringify(host.lines));
    assert.match(w.text, /Limit job authorization scope/);
  });

  it('no project matched: nothing is listed or sent, the closest names are given', async () => {
    const org = new Org([PAYMENTS, SHARED], [conn('pay-1', PAYMENTS)]);
    const { host, report } = await run({ projects: 'Paymnts' }, org);
    assert.deepEqual(org.listed, []);
    assert.deepEqual(org.converted, []);
    assert.match(report.nothingMatched ?? '', /'Payments'/);
    assert.equal(host.outcome?.kind, 'SucceededWithIssues');
  });

  it('the projects listing refused (401): the run fails with the token message and sends nothing', async () => {
    const org = new Org([PAYMENTS], [conn('pay-1', PAYMENTS)]);
    org.projectsFailure = () => new ServiceError({ status: 401, message: 'TF400813' });
    const { host, report } = await run({ projects: '*' }, org);
    assert.equal(host.outcome?.kind, 'Failed');
    assert.match(report.error ?? '', /Project and Team \(Read\)/);
    assert.deepEqual(org.converted, []);
  });

  it('maxConnections counts across projects', async () => {
    const org = new Org(
      [PAYMENTS, SHARED, TEAM],
      [PAYMENTS, SHARED, TEAM].flatMap((p, i) => [conn(`a${i}`, p), conn(`b${i}`, p)]),
    );
    const { report } = await run({ projects: '*', maxConnections: '3' }, org);
    assert.equal(org.converted.length, 3);
    assert.equal(report.connections.filter((c) => c.reasonCode === 'SkipOverLimit').length, 3);
  });

  it('a bad projects entry is an input error that names the input, and no client is built', async () => {
    const org = new Org([PAYMENTS], [conn('pay-1', PAYMENTS)]);
    const host = new MemoryHost({ projects: 'Pay\u0007ments' }, PAYMENTS);
    let built = 0;
    await runTask({ host, clock: clock(), cancelled: new AbortController().signal, connect: (s) => (built++, org.client(s)) });
    assert.equal(built, 0);
    assert.equal(host.outcome?.kind, 'Failed');
    assert.ok(host.lines.some((l) => l.level === 'error' && l.text.includes("'projects'") && /project names/.test(l.text)));
  });

  it('the impact check reads a connection’s history in its home project', async () => {
    const org = new Org([PAYMENTS, TEAM], [conn('pay-1', PAYMENTS), conn('team-1', TEAM)]);
    await run({ projects: '*', impactCheck: 'warn' }, org);
    const team = org.endpoints.find((e) => e.name === 'team-1')!;
    assert.deepEqual(org.history.find((h) => h.id === team.id)?.via, TEAM.id);
    assert.equal(org.converted.length, 2);
  });

  it('a real run reads a connection’s history while others convert: no phase barrier between the impact check and the changes', async () => {
    const org = new Org([PAYMENTS], [conn('a', PAYMENTS), conn('b', PAYMENTS)]);
    const b = org.endpoints[1];
    let aConverted: () => void = () => undefined;
    const aSent = new Promise<void>((resolve) => (aConverted = resolve));
    org.tweak = (client) => {
      const convert = client.convert.bind(client);
      client.convert = (id, body) => {
        if (id !== b.id) aConverted();
        return convert(id, body);
      };
      // b's history answers only once a was converted; with a barrier it would never answer (given up after 2 s: use unknown, b held back).
      client.executionHistory = (id) =>
        id === b.id
          ? Promise.race([
              aSent.then(() => ({ records: [] })),
              new Promise<never>((_, reject) => setTimeout(() => reject(new ServiceError({ status: 500, message: 'barrier' })), 2000)),
            ])
          : Promise.resolve({ records: [] });
    };
    const { report } = await run({ impactCheck: 'skip' }, org);
    assert.deepEqual(
      report.connections.map((c) => [c.name, c.outcome, c.reasonCode]),
      [
        ['a', 'converted', undefined],
        ['b', 'converted', undefined],
      ],
    );
    assert.ok(
      report.connections.every((c) => c.impact && c.impact.pipelines.length === 0),
      'each entry keeps its impact check',
    );
  });

  it('changes stay at concurrency across projects while reads run alongside at twice that; the task catalogue is read once per run', async () => {
    const projects = [PAYMENTS, SHARED, TEAM];
    const org = new Org(
      projects,
      projects.flatMap((p, i) => Array.from({ length: 8 }, (_, j) => conn(`c${i}-${j}`, p))),
    );
    let puts = 0;
    let reads = 0;
    let peakPuts = 0;
    let peakReads = 0;
    let overlapped = false;
    let catalogue = 0;
    const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 2));
    org.tweak = (client) => {
      const convert = client.convert.bind(client);
      client.convert = async (id, body) => {
        peakPuts = Math.max(peakPuts, ++puts);
        if (reads > 0) overlapped = true;
        await tick();
        puts--;
        return convert(id, body);
      };
      client.executionHistory = async (id) => {
        peakReads = Math.max(peakReads, ++reads);
        await tick();
        reads--;
        return { records: [{ planType: 'Build', definitionId: 7, definitionName: 'ci', runId: Number(id.slice(-4)) + 1, startTime: '2026-11-30T00:00:00Z' }] };
      };
      client.buildTasks = async () => [{ id: '11111111-0000-4000-8000-000000000001', name: 'AzureCLI', version: '2.1.0' }];
      client.taskDefinitions = async () => (catalogue++, [{ id: '11111111-0000-4000-8000-000000000001', name: 'AzureCLI', author: 'Microsoft Corporation' }]);
    };
    const { report } = await run({ projects: '*', impactCheck: 'warn', concurrency: '2' }, org);
    assert.equal(report.totals.converted, 24);
    assert.ok(peakPuts <= 2, `${peakPuts} changes in flight with concurrency 2`);
    assert.ok(peakReads <= 4, `${peakReads} reads in flight, more than twice concurrency 2`);
    assert.ok(peakReads > 2, `reads ran at ${peakReads} in flight, not above concurrency`);
    assert.ok(overlapped, 'no read ran while a change was in flight');
    assert.equal(catalogue, 1, 'the task catalogue once per run');
  });

  it('projects overlap: the next project converts while one project’s change is still in flight', async () => {
    const org = new Org([PAYMENTS, TEAM], [conn('pay-1', PAYMENTS), conn('team-1', TEAM)]);
    let teamStarted: () => void = () => undefined;
    const teamConverting = new Promise<void>((resolve) => (teamStarted = resolve));
    org.tweak = (client, s) => {
      const convert = client.convert.bind(client);
      client.convert = async (id, body) => {
        if (s.projectId === TEAM.id) teamStarted();
        // Payments' PUT answers only once Team Rocket's has started (or fails after 2 s: the projects ran one after the other).
        else
          await Promise.race([
            teamConverting,
            new Promise<never>((_, reject) => setTimeout(() => reject(new ServiceError({ status: 400, message: 'projects did not overlap' })), 2000)),
          ]);
        return convert(id, body);
      };
    };
    const { report } = await run({ projects: '*' }, org);
    assert.deepEqual(
      report.connections.map((c) => [c.name, c.outcome, c.serviceMessage]),
      [
        ['pay-1', 'converted', undefined],
        ['team-1', 'converted', undefined],
      ],
    );
  });

  it('a failure inside a project after its connections were read loses none of them, and the run fails naming the project', async () => {
    const org = new Org([PAYMENTS, TEAM], [conn('pay-1', PAYMENTS), conn('team-1', TEAM), conn('team-2', TEAM), conn('from-team', TEAM, PAYMENTS)]);
    const host = new MemoryHost({ projects: '*', impactCheck: 'warn', skipShared: 'false' }, PAYMENTS);
    const loc = host.loc;
    // Team Rocket has 3 connections to change: its impact-check line throws (after routing, before any change).
    host.loc = (key, ...args) => {
      if (key === 'ImpactChecking' && args[0] === 3) throw new TypeError('boom in Team Rocket');
      return loc(key, ...args);
    };
    await runTask({ host, clock: clock(), cancelled: new AbortController().signal, connect: (s) => org.client(s) });
    const report = host.report;
    assert.deepEqual(report.connections.map((c) => [c.name, c.project.name, c.outcome, c.reasonCode]).sort(), [
      ['from-team', 'Team Rocket', 'skipped', 'SkipNotAttempted'],
      ['pay-1', 'Payments', 'converted', undefined],
      ['team-1', 'Team Rocket', 'skipped', 'SkipNotAttempted'],
      ['team-2', 'Team Rocket', 'skipped', 'SkipNotAttempted'],
    ]);
    const team = report.projects.find((p) => p.name === 'Team Rocket')!;
    assert.match(team.error ?? '', /boom in Team Rocket/);
    assert.equal(team.unread, undefined, 'it was read: not listed as unreadable');
    assert.equal(host.outcome?.kind, 'Failed');
    assert.match(host.outcome?.message ?? '', /Project 'Team Rocket' stopped with an unexpected error/);
    assert.deepEqual(
      org.converted.map((c) => c.via),
      [PAYMENTS.id],
    );
  });

  it('maxConnections is spent in project order, whichever project answers first (a dry run plans what the real run changes)', async () => {
    const projects = [PAYMENTS, SHARED, TEAM];
    const make = () =>
      new Org(
        projects,
        projects.flatMap((p, i) => [conn(`a${i}`, p), conn(`b${i}`, p)]),
      );
    const outcomes: string[][] = [];
    for (const dryRun of ['true', 'false']) {
      const org = make();
      // The later the project in name order, the sooner its listing answers.
      org.tweak = (client, s) => {
        const list = client.list.bind(client);
        const delay = 30 - 10 * projects.findIndex((p) => p.id === s.projectId);
        client.list = async (o) => {
          await new Promise((resolve) => setTimeout(resolve, delay));
          return list(o);
        };
      };
      const { report } = await run({ projects: '*', maxConnections: '3', dryRun }, org);
      outcomes.push(report.connections.filter((c) => c.outcome === (dryRun === 'true' ? 'planned' : 'converted')).map((c) => c.name));
    }
    assert.deepEqual(outcomes, [
      ['a0', 'b0', 'a1'],
      ['a0', 'b0', 'a1'],
    ]);
  });

  it('a connection deferred to a home project that cannot be read keeps its selection and, when federated, its issuer', async () => {
    const secret = conn('legacy-x', LOCKED, PAYMENTS);
    const federated = endpoint({
      name: 'fed-x',
      projects: [LOCKED, PAYMENTS],
      scheme: 'WorkloadIdentityFederation',
      parameters: {
        tenantid: 't',
        serviceprincipalid: 'a',
        workloadIdentityFederationIssuer: 'https://vstoken.dev.azure.com/7a6c1d1e-0000-4000-8000-00000000c0de',
        workloadIdentityFederationSubject: 'sc://contoso/Locked/fed-x',
      },
    });
    const org = new Org([PAYMENTS, LOCKED], [conn('pay-1', PAYMENTS), secret, federated]);
    org.failures.set(LOCKED.id, () => new ServiceError({ status: 403, message: 'denied' }));
    const { report, host } = await run({ projects: '*', action: 'report', failOnFindings: 'true', excludeConnections: 'legacy-*', skipShared: 'false' }, org);
    const legacy = byName(report, 'legacy-x');
    assert.deepEqual([legacy.outcome, legacy.reasonCode, legacy.selected], ['skipped', 'SkipHomeUnread', false]);
    const fed = byName(report, 'fed-x');
    assert.deepEqual([fed.outcome, fed.issuerKind, fed.project.name], ['federated', 'azuredevops', 'Payments']);
    assert.equal(report.audit.federatedRetiringIssuer, 1);
    // The excluded secret is no finding; pay-1 (secret) and fed-x (retiring issuer) are.
    assert.equal(host.outcome?.kind, 'Failed');
    assert.ok(!host.lines.some((l) => l.text.includes('legacy-x') && l.level === 'error'), JSON.stringify(host.lines));
  });

  it('cancelled while projects are converting: what was sent is recorded, projects not yet started say so, the result is Cancelled', async () => {
    const projects = [PAYMENTS, SHARED, TEAM];
    const org = new Org(
      projects,
      projects.flatMap((p, i) => Array.from({ length: 3 }, (_, j) => conn(`c${i}-${j}`, p))),
    );
    const abort = new AbortController();
    org.tweak = (client) => {
      const convert = client.convert.bind(client);
      client.convert = async (id, body) => {
        const r = await convert(id, body);
        if (org.converted.length === 2) abort.abort();
        return r;
      };
    };
    const { host, report } = await run({ projects: '*', concurrency: '1' }, org, abort);
    assert.equal(host.outcome?.kind, 'Cancelled');
    const converted = report.connections.filter((c) => c.outcome === 'converted').map((c) => c.id);
    assert.deepEqual(converted.sort(), org.converted.map((c) => c.id).sort(), 'every PUT the service applied is in the report as converted');
    assert.ok(org.converted.length >= 2 && org.converted.length < 9, `${org.converted.length} conversions`);
    const notRead = report.projects.filter((p) => p.errorCode === 'ProjectNotRead');
    for (const p of notRead) assert.equal(p.connections, 0);
    assert.equal(report.connections.length + notRead.length * 3, 9, 'each connection of a read project is in the report; the projects never read say so');
  });

  it('summary: totals, then one section per project, open only where something needs attention; log lines under the project', async () => {
    const org = new Org([PAYMENTS, TEAM], [conn('pay-1', PAYMENTS), conn('team <b>1</b>', TEAM)]);
    org.tweak = (client, s) => {
      if (s.projectId === TEAM.id) client.convert = () => Promise.reject(new ServiceError({ status: 403, message: 'Forbidden' }));
    };
    const { summary, host } = await run({ projects: '*' }, org);
    assert.match(summary, /^### ConvertToWif convert: 2 projects/);
    assert.match(summary, /<details><summary>Payments: 1 converted \(nothing needs attention\)<\/summary>/);
    assert.match(summary, /<details open><summary>Team Rocket: 1 failed<\/summary>/);
    assert.ok(!summary.includes('<b>1</b>'), 'names are escaped');
    const i = host.lines.findIndex((l) => l.text === "Project 'Team Rocket':");
    assert.ok(i >= 0 && host.lines[i + 1].level === 'error', JSON.stringify(host.lines));
  });

  it('a project whose converted connection is used by a pipeline that may break is shown open, as the result says', async () => {
    const org = new Org([PAYMENTS, TEAM], [conn('pay-1', PAYMENTS), conn('team-1', TEAM)]);
    org.tweak = (client, s) => {
      if (s.projectId !== PAYMENTS.id) return;
      client.executionHistory = async () => ({
        records: [{ planType: 'Build', definitionId: 3, definitionName: 'deploy', runId: 30, startTime: '2026-11-30T00:00:00Z' }],
      });
      client.buildTasks = async () => [{ id: '11111111-0000-4000-8000-0000000000fc', name: 'AzureFileCopy', version: '4.1.0' }];
    };
    const { summary, host } = await run({ projects: '*', impactCheck: 'warn' }, org);
    assert.equal(host.outcome?.kind, 'SucceededWithIssues');
    assert.match(summary, /<details open><summary>Payments: 1 converted<\/summary>/);
    assert.match(summary, /<details><summary>Team Rocket: 1 converted \(nothing needs attention\)<\/summary>/);
  });

  it('without projects, the run stays in the current project and the report lists that one project', async () => {
    const org = new Org([PAYMENTS, TEAM], [conn('pay-1', PAYMENTS), conn('from-team', TEAM, PAYMENTS)]);
    const { report, built } = await run({ skipShared: 'false' }, org);
    assert.equal(built, 1);
    assert.deepEqual(org.listed, [PAYMENTS.id]);
    assert.equal(report.organizationWide, undefined);
    assert.deepEqual(
      report.projects.map((p) => [p.name, p.connections]),
      [['Payments', 2]],
    );
    assert.equal(byName(report, 'from-team').reasonCode, 'SkipHomedElsewhere');
    assert.deepEqual(byName(report, 'pay-1').project, PAYMENTS);
  });
});

describe('project selection and routing (core/projects.ts)', () => {
  it('selects by name, id and wildcard, in name order, and names what matched nothing', () => {
    const s = selectProjects([TEAM, PAYMENTS, SHARED], ['*s*', 'nope']);
    assert.deepEqual(
      s.projects.map((p) => p.name),
      ['Payments', 'Shared Services'],
    );
    assert.deepEqual(s.unmatched, ['nope']);
    assert.equal(s.nothingMatched, undefined);
    assert.equal(selectProjects([TEAM], ['x']).nothingMatched?.key, 'NoProjectMatched');
  });

  it('routes a shared connection to its home project whichever project lists it first', () => {
    const as = (e: Endpoint): Classified => ({ endpoint: e, decision: { kind: 'change' }, selected: true });
    const r = new ConnectionRouter([PAYMENTS, SHARED]);
    const hub = as(conn('hub', SHARED, PAYMENTS));
    assert.equal(r.route(hub, PAYMENTS).kind, 'home');
    assert.equal(r.route(hub, SHARED).kind, 'here');
    assert.equal(r.route(hub, PAYMENTS).kind, 'seen');
    assert.deepEqual(r.orphans(), []);
    const orphan = as(conn('orphan', SHARED, PAYMENTS));
    assert.deepEqual(new ConnectionRouter([PAYMENTS], [PAYMENTS, SHARED]).route(orphan, PAYMENTS), { kind: 'outside', home: SHARED, visible: true });
    assert.deepEqual(new ConnectionRouter([PAYMENTS], [PAYMENTS]).route(orphan, PAYMENTS), { kind: 'outside', home: SHARED, visible: false });
    const r2 = new ConnectionRouter([PAYMENTS, SHARED]);
    r2.route(orphan, PAYMENTS);
    assert.deepEqual(
      r2.orphans().map((o) => [o.seenIn, o.classified.selected]),
      [[PAYMENTS, true]],
    );
    assert.equal(r2.route(orphan, SHARED).kind, 'seen');
  });
});
