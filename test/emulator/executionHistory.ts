// A connection's execution history, served under the service-endpoint routes:
// GET {project}/_apis/serviceendpoint/{endpointId}/executionhistory?top=&continuationToken=
// (the impact check pages it to find the pipelines that used a connection).
import { badRequest } from './replies';
import type { ApiLocation, ExecutionSeed, Reply, ServiceContext } from './types';
import { ieq, isObj, prop, type Obj } from './util';

// resourceVersion is what node-api 17 asks for ("7.2-preview.N" -> N); a releasedVersion of '0.0'
// means the resource is preview-only (the docs list it as 7.1-preview.1).
export const SE_EXECUTION_HISTORY_LOCATION: ApiLocation = {
  id: '10a16738-9299-4cd1-9a81-fd23ad6200d0',
  area: 'serviceendpoint',
  resourceName: 'executionhistory',
  routeTemplate: '{project}/_apis/{area}/{endpointId}/{resource}',
  resourceVersion: 1,
  minVersion: '4.1',
  maxVersion: '7.2',
  releasedVersion: '0.0',
};

const DEFAULT_EXECUTION_PAGE = 50;

export class ExecutionHistory {
  private readonly executionIds = new WeakMap<object, number>();

  constructor(private readonly ctx: ServiceContext) {
    // Execution records get increasing ids in start order, across all connections (the service's
    // ids are a global sequence); the continuation token is the id of the first record of the next page.
    const all = ctx.seed.endpoints.flatMap((ep) => ep.emulator?.executions ?? []);
    all
      .map((x, i) => ({ x, i, t: Date.parse(x.startTime) }))
      .sort((a, b) => a.t - b.t || a.x.runId - b.x.runId || a.i - b.i)
      .forEach((e, n) => this.executionIds.set(e.x, 7_300_001 + n));
  }

  /**
   * {count, value} newest first for a connection shared with the project; when more remain, the id
   * of the next record is sent in the X-MS-ContinuationToken header and the next call passes it
   * back as continuationToken.
   */
  page(ep: Obj, project: { id: string }, query: Record<string, string>): Reply {
    const int = (name: string): number | undefined | Reply => {
      const raw = prop(query, name) as string | undefined;
      if (raw === undefined || raw === '') return undefined;
      return /^-?\d+$/.test(raw) ? Number(raw) : badRequest(`The value '${raw}' is not valid for ${name}.`);
    };
    const top = int('top');
    const token = int('continuationToken');
    if (isObj(top)) return top;
    if (isObj(token)) return token;
    const cap = this.ctx.seed.executionPageSize ?? Infinity;
    const size = Math.max(1, Math.min(top !== undefined && top > 0 ? top : DEFAULT_EXECUTION_PAGE, cap));
    const all = ((ep.emulator?.executions ?? []) as ExecutionSeed[]).map((x) => ({ x, id: this.executionIds.get(x) ?? 0 })).sort((p, q) => q.id - p.id);
    const start = token === undefined ? 0 : all.findIndex((r) => r.id <= token);
    const page = start < 0 ? [] : all.slice(start, start + size);
    const next = start < 0 ? undefined : all[start + size];
    const value = page.map((r) => this.executionRecord(ep, r.x, r.id, project));
    return {
      status: 200,
      headers: next ? { 'X-MS-ContinuationToken': String(next.id) } : undefined,
      body: { count: value.length, value },
    };
  }

  private executionRecord(ep: Obj, x: ExecutionSeed, id: number, project: { id: string }): Obj {
    const start = Date.parse(x.startTime);
    const finish = x.finishTime !== undefined ? Date.parse(x.finishTime) : start + 3 * 60_000;
    const base = `${this.ctx.url()}${project.id}`;
    const release = ieq(x.planType, 'Release');
    const runName = x.runName ?? (release ? `Release-${x.runId}` : `${new Date(start).toISOString().slice(0, 10).replace(/-/g, '')}.1`);
    const link = (web: string, self: string) => ({ web: { href: web }, self: { href: self } });
    return {
      data: {
        id,
        planType: x.planType,
        definition: {
          id: x.definitionId,
          name: x.definitionName,
          _links: release
            ? link(`${base}/_release?definitionId=${x.definitionId}`, `${base}/_apis/Release/definitions/${x.definitionId}`)
            : link(`${base}/_build/definition?definitionId=${x.definitionId}`, `${base}/_apis/build/Definitions/${x.definitionId}`),
        },
        owner: {
          id: x.runId,
          name: runName,
          _links: release
            ? link(`${base}/_release?releaseId=${x.runId}&_a=release-summary`, `${base}/_apis/Release/releases/${x.runId}`)
            : link(`${base}/_build/results?buildId=${x.runId}`, `${base}/_apis/build/Builds/${x.runId}`),
        },
        startTime: new Date(start).toISOString(),
        finishTime: new Date(finish).toISOString(),
        result: x.result ?? 'succeeded',
      },
      endpointId: ep.id,
    };
  }
}
