// What would break: which pipelines used a connection recently, which tasks they ran, and which
// of those cannot use workload identity federation (docs/service-behaviour.md §12, §13). The conversion itself checks
// none of this, and a pipeline that breaks does so on its next run.
//
// Cost grows with pipelines, not runs: for each pipeline only its most recent run is read, and
// every run timeline, pipeline YAML and the task catalogue are fetched at most once per task run.

import pLimit from 'p-limit';
import { describeFailure } from './failures';
import { ExecutionRecord, Impact, ImpactFlag, Message, PipelineImpact, TaskRef, msg } from './model';
import { ImpactPort } from './ports';

export const isFlagged = (i: Impact | undefined): boolean => !!i && i.pipelines.some((p) => p.flags.length > 0);
/** Something known to break (not just to check). */
export const breaks = (i: Impact | undefined): boolean => !!i && i.pipelines.some((p) => p.flags.some((f) => f.severity === 'breaks'));

const TWI = 'MicrosoftDocs/azure-devops-docs docs/pipelines/release/troubleshoot-workload-identity.md';

/**
 * Tasks that fail once their connection uses workload identity federation (docs/service-behaviour.md,
 * "Tasks that break"). Each entry names its public source. `why` is the message key shown.
 * ContainerBuild@0, ContainerStructureTest@0 and Notation@0 were on Microsoft's list until 2025 and
 * support federation now (troubleshoot-workload-identity.md, known limitations, revision of 2026).
 */
export const KNOWN_INCOMPATIBLE: Array<{ name: RegExp; majors?: number[]; why: string; source: string; severity?: 'verify' }> = [
  // Known limitations: these tasks do not support workload identity federation.
  { name: /^AzureNLBManagement$/i, majors: [1], why: 'TaskNoFederation', source: TWI },
  { name: /^ServiceFabricComposeDeploy$/i, majors: [0], why: 'TaskNoFederation', source: TWI },
  { name: /^ServiceFabricDeploy$/i, majors: [1], why: 'TaskNoFederation', source: TWI },
  // Docker@1 fails with federation through a Docker-registry connection; which connection a step
  // used is not in the timeline, so it is a finding to check, not a certain break.
  { name: /^Docker$/i, majors: [1], why: 'TaskDocker1', source: TWI, severity: 'verify' },
  // Known limitations: "use a newer version" of these tasks.
  { name: /^AzureFileCopy$/i, majors: [1, 2, 3, 4, 5], why: 'AzureFileCopyOld', source: TWI },
  { name: /^AzureCloudPowerShellDeployment$/i, majors: [1], why: 'TaskNewerVersion', source: TWI },
  { name: /^AzureFunctionOnKubernetes$/i, majors: [0], why: 'TaskNewerVersion', source: TWI },
  { name: /^AzureMonitor$/i, majors: [0], why: 'TaskNewerVersion', source: TWI },
  { name: /^Kubernetes$/i, majors: [0], why: 'TaskNewerVersion', source: TWI },
  { name: /^KubernetesManifest$/i, majors: [0], why: 'TaskNewerVersion', source: TWI },
  { name: /^PackerBuild$/i, majors: [0], why: 'TaskNewerVersion', source: TWI },
  { name: /^PublishToAzureServiceBus$/i, majors: [1], why: 'TaskNewerVersion', source: TWI },
  // Marketplace: Microsoft DevLabs Terraform tasks before v4 never supported federation
  // (microsoft/azure-pipelines-terraform README, "Workload identity federation" support from TerraformTask@4).
  // The timeline names them TerraformTaskV1…V3 (YAML TerraformTaskV3@3).
  { name: /^TerraformTask(V[0-3])?$/i, majors: [0, 1, 2, 3], why: 'TaskNoFederation', source: 'microsoft/azure-pipelines-terraform README.md' },
];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses `incompatibleTasks` entries: `Name@Major`, `Name` (any version) or a task id. */
export function parseTaskList(entries: string[]): { match: (t: TaskRef) => boolean; invalid: string[] } {
  const invalid = entries.filter((e) => !GUID.test(e) && !/^[A-Za-z][\w.-]*(@\d+)?$/.test(e));
  const valid = entries.filter((e) => !invalid.includes(e));
  return {
    invalid,
    match: (t) =>
      valid.some((e) => {
        if (GUID.test(e)) return e.toLowerCase() === t.id.toLowerCase();
        const [name, major] = e.split('@');
        return name.toLowerCase() === t.name.toLowerCase() && (major === undefined || major === majorOf(t));
      }),
  };
}

const majorOf = (t: TaskRef): string => String(t.version).split('.')[0];
const label = (t: TaskRef): string => `${t.name}@${majorOf(t)}`;

/** Looks at a pipeline's expanded YAML for scripts that read the secret (docs/service-behaviour.md §13). */
export function scanYaml(yaml: string): ImpactFlag[] {
  const addSpn = /addSpnToEnvironment\s*:\s*['"]?true\b/i.test(yaml);
  if (!addSpn) return [];
  if (/servicePrincipalKey/i.test(yaml)) return [{ task: 'YAML', severity: 'breaks', why: msg('ImpactYamlReadsKey') }];
  return [{ task: 'YAML', severity: 'verify', why: msg('ImpactYamlAddSpn') }];
}

/** Steps the agent runs itself (not in the task catalogue), e.g. `checkout:` and its post-job step. */
const AGENT_BUILT_IN = new Set(['6d15af64-176c-496d-b583-fd2ae21d4df4']);

export function flagTasks(tasks: TaskRef[], userList: (t: TaskRef) => boolean, authors: Map<string, string> | undefined): ImpactFlag[] {
  const flags: ImpactFlag[] = [];
  const seen = new Set<string>();
  for (const t of tasks) {
    // A timeline lists a task once per step (and again for post-job steps): judge each task once.
    const key = `${t.id.toLowerCase()}@${majorOf(t)}`;
    if (seen.has(key) || AGENT_BUILT_IN.has(t.id.toLowerCase())) continue;
    seen.add(key);
    const known = KNOWN_INCOMPATIBLE.find((k) => k.name.test(t.name) && (!k.majors || k.majors.includes(Number(majorOf(t)))));
    if (known) flags.push({ task: label(t), severity: known.severity ?? 'breaks', why: msg(known.why, label(t), known.source) });
    else if (userList(t)) flags.push({ task: label(t), severity: 'breaks', why: msg('ImpactUserListed', label(t)) });
    else {
      // Only a task the catalogue knows can be told apart; one it does not list is not guessed at.
      const author = authors?.get(t.id.toLowerCase());
      if (author !== undefined && !/^microsoft/i.test(author) && !/^ConvertToWif/i.test(t.name)) {
        flags.push({ task: label(t), severity: 'verify', why: msg('ImpactNotMicrosoft', label(t), author || '?') });
      }
    }
  }
  return flags;
}

/** Pages of execution history read per connection at most (100 records each): the newest 5,000 uses. */
const MAX_HISTORY_PAGES = 50;
const byName = new Intl.Collator('en', { sensitivity: 'base' });

/** Runs a read with at most so many in flight (p-limit's function, or one shared by the whole run). */
export type Limit = <T>(fn: () => Promise<T>) => Promise<T>;

export interface ImpactOptions {
  days: number;
  now: Date;
  /** Reads in flight at most (ignored when `limit` is given). */
  concurrency: number;
  userList: (t: TaskRef) => boolean;
  /** The run's read limiter, shared with the other projects' reads. */
  limit?: Limit;
  /** The organization's task catalogue, read once per run whichever project asks first. */
  shared?: { catalogue?: Promise<Map<string, string> | undefined> };
}

/**
 * Reads the recent use of one connection and flags what would break. Made once per project: every
 * run timeline and pipeline YAML of the project is read at most once, whichever connection needs
 * it, and the task catalogue once per run. Reads go through `limit`, so a connection's history can
 * be read while other connections convert.
 */
export function impactReader(port: ImpactPort, o: ImpactOptions): (id: string) => Promise<Impact> {
  const since = o.now.getTime() - o.days * 86_400_000;
  const limit: Limit = o.limit ?? pLimit(o.concurrency);
  const once = <K, V>(cache: Map<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> => {
    if (!cache.has(key)) cache.set(key, limit(load));
    return cache.get(key)!;
  };
  const timelines = new Map<number, Promise<TaskRef[]>>();
  const yamls = new Map<number, Promise<string>>();
  const shared = o.shared ?? {};
  const authors = () =>
    (shared.catalogue ??= limit(() => port.taskDefinitions())
      .then((defs) => new Map(defs.map((d) => [d.id.toLowerCase(), d.author ?? ''])))
      .catch(() => undefined));

  return async (id: string): Promise<Impact> => {
    const partial: Message[] = [];
    let unreadable = false;
    const recent: ExecutionRecord[] = [];
    try {
      let token: string | undefined;
      for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
        const res = await limit(() => port.executionHistory(id, token));
        if (res.unusable) {
          // A record the task cannot read may be the one pipeline that breaks: unknown, not "no use".
          unreadable = true;
          partial.push(msg('ImpactRecordsUnreadable', res.unusable));
        }
        const inWindow = res.records.filter((r) => !r.startTime || Date.parse(r.startTime) >= since);
        recent.push(...inWindow);
        // Newest first: a page that reaches past the window ends the reading.
        if (!res.continuationToken || inWindow.length < res.records.length) break;
        token = res.continuationToken;
      }
    } catch (err) {
      return { days: o.days, pipelines: [], partial: [msg('ImpactNoHistory', describeFailure(err))], unreadable: true };
    }

    const latest = new Map<string, ExecutionRecord>();
    for (const r of recent) {
      const key = `${r.planType}:${r.definitionId}`;
      const seen = latest.get(key);
      if (!seen || Date.parse(r.startTime ?? '') > Date.parse(seen.startTime ?? '')) latest.set(key, r);
    }
    const pipelines = await Promise.all(
      [...latest.values()].map(async (r): Promise<PipelineImpact> => {
        const type = /release/i.test(r.planType) ? 'Release' : 'Build';
        const p: PipelineImpact = { id: r.definitionId, name: r.definitionName, type, lastUsed: r.startTime, runId: r.runId, tasks: [], flags: [] };
        if (type === 'Release') {
          partial.push(msg('ImpactReleaseNotInspected', r.definitionName));
          return p;
        }
        try {
          const tasks = await once(timelines, r.runId, () => port.buildTasks(r.runId));
          p.tasks = [...new Set(tasks.map(label))];
          p.flags.push(...flagTasks(tasks, o.userList, await authors()));
        } catch (err) {
          unreadable = true;
          partial.push(msg('ImpactNoTimeline', r.definitionName, describeFailure(err)));
        }
        try {
          p.flags.push(...scanYaml(await once(yamls, r.definitionId, () => port.pipelineYaml(r.definitionId))));
        } catch (err) {
          partial.push(msg('ImpactNoYaml', r.definitionName, describeFailure(err)));
        }
        return p;
      }),
    );
    if (pipelines.some((p) => p.tasks.length > 0) && (await authors()) === undefined) partial.push(msg('ImpactNoCatalogue'));
    pipelines.sort((a, b) => byName.compare(a.name, b.name) || a.id - b.id);
    return unreadable ? { days: o.days, pipelines, partial, unreadable } : { days: o.days, pipelines, partial };
  };
}

/** Reads the recent use of each connection and flags what would break. One Impact per id. */
export async function assessImpact(endpointIds: string[], port: ImpactPort, o: ImpactOptions): Promise<Map<string, Impact>> {
  const read = impactReader(port, o);
  const entries = await Promise.all(endpointIds.map(async (id) => [id, await read(id)] as const));
  return new Map(entries);
}

/**
 * Why a connection is left alone under `impactCheck: skip`: the first pipeline with a task or
 * script that breaks, or that its use could not be read (unknown is not safe). Findings that only
 * need checking (a Marketplace task, YAML that could not be previewed) do not block.
 */
export function impactSkipReason(i: Impact): Message | undefined {
  const total = i.pipelines.reduce((n, p) => n + p.flags.filter((f) => f.severity === 'breaks').length, 0);
  for (const p of i.pipelines) {
    const f = p.flags.find((x) => x.severity === 'breaks');
    if (f) return f.task === 'YAML' ? msg('SkipImpactYaml', p.name, total) : msg('SkipImpact', p.name, f.task, total);
  }
  if (i.unreadable) return msg('SkipImpactUnknown', i.days);
  return undefined;
}

/** Under `impactCheck: skip`, a connection that would break (or whose use is unknown) is left alone with the reason. */
export function applyImpact<C extends { endpoint: { id: string }; decision: { kind: string } }>(
  classified: C[],
  impacts: Map<string, Impact>,
  mode: 'warn' | 'skip' | 'off',
): C[] {
  if (mode !== 'skip') return classified;
  return classified.map((c) => {
    const impact = impacts.get(c.endpoint.id);
    const reason = c.decision.kind === 'change' && impact ? impactSkipReason(impact) : undefined;
    return reason ? { ...c, decision: { kind: 'skip', reason } } : c;
  });
}
