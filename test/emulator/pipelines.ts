// Build timelines and the Pipelines "preview" run, which the impact check reads to find the tasks
// a pipeline runs with a connection:
// GET {project}/_apis/build/builds/{buildId}/Timeline[/{timelineId}] (area build) and
// POST {project}/_apis/pipelines/{pipelineId}/preview (area pipelines).
import { answerAt, badRequest, errorReply, notFoundRoute } from './replies';
import type { ApiLocation, Identity, Reply, ResourceArea, Service, ServiceContext, ServiceRequest } from './types';
import { identityId, ieq, isObj, prop } from './util';

// resourceVersion is what node-api 17 asks for ("7.2-preview.N" -> N); a releasedVersion of '0.0'
// means the resource is preview-only (the docs list it as 7.1-preview.1).
const BUILD_TIMELINE_LOCATION: ApiLocation = {
  id: '8baac422-4c6e-4de5-8532-db96d92acffa',
  area: 'build',
  resourceName: 'Timeline',
  routeTemplate: '{project}/_apis/{area}/builds/{buildId}/{resource}/{timelineId}',
  resourceVersion: 3,
  minVersion: '2.0',
  maxVersion: '7.2',
  releasedVersion: '7.1',
};
const PIPELINES_PREVIEW_LOCATION: ApiLocation = {
  id: '53df2d18-29ea-46a9-bee0-933540f80abf',
  area: 'pipelines',
  resourceName: 'preview',
  routeTemplate: '{project}/_apis/{area}/{pipelineId}/{resource}',
  resourceVersion: 1,
  minVersion: '5.1',
  maxVersion: '7.2',
  releasedVersion: '0.0',
};

export class PipelinesService implements Service {
  readonly areas: readonly ResourceArea[] = [
    { name: 'build', id: '5d6898bb-45ec-463f-95f9-54d49c71752e', locations: [BUILD_TIMELINE_LOCATION] },
    { name: 'pipelines', id: '2e0bf237-8973-4ec9-a581-9c3d679d1776', locations: [PIPELINES_PREVIEW_LOCATION] },
  ];

  constructor(private readonly ctx: ServiceContext) {}

  handle(req: ServiceRequest): Reply | undefined {
    const [area = '', a, b, c, d] = req.rest;
    const areaL = area.toLowerCase();
    const n = req.rest.length;
    if (areaL === 'build' && (n === 4 || n === 5) && ieq(a, 'builds') && ieq(c, 'timeline')) {
      return answerAt(this.ctx, req, BUILD_TIMELINE_LOCATION, 'GET', (project) => this.timeline(project!, b, d, req.path));
    }
    if (areaL === 'pipelines' && n === 3 && ieq(b, 'preview')) {
      return answerAt(this.ctx, req, PIPELINES_PREVIEW_LOCATION, 'POST', (project) => this.preview(project!, a, req.body, req.identity, req.path));
    }
    return undefined;
  }

  /** GET {project}/_apis/build/builds/{buildId}/Timeline[/{timelineId}] */
  private timeline(project: { id: string }, buildIdSeg: string, timelineIdSeg: string | undefined, path: string): Reply {
    if (!/^\d+$/.test(buildIdSeg)) return notFoundRoute(path);
    const buildId = Number(buildIdSeg);
    const seed = this.ctx.seed;
    const build = seed.builds?.[String(buildId)];
    if (!build) return errorReply(404, 'BuildNotFoundException', `The requested build ${buildId} could not be found.`);
    const timelineId = identityId(`timeline:${seed.organization.id}:${buildId}`);
    if (timelineIdSeg && !ieq(timelineIdSeg, timelineId)) {
      return errorReply(404, 'TimelineNotFoundException', `The timeline ${timelineIdSeg} for build ${buildId} could not be found.`);
    }
    // Times come from the execution record of this build when there is one.
    const run = seed.endpoints.flatMap((ep) => ep.emulator?.executions ?? []).find((x) => ieq(x.planType, 'Build') && x.runId === buildId);
    const start = run ? Date.parse(run.startTime) : this.ctx.now() - 10 * 60_000;
    const finish = run?.finishTime !== undefined ? Date.parse(run.finishTime) : start + 3 * 60_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const base = `${this.ctx.url()}${project.id}/_apis/build/builds/${buildId}`;
    const order = new Map<string | undefined, number>();
    const records = build.records.map((r, i) => {
      const n = (order.get(r.parentId) ?? 0) + 1;
      order.set(r.parentId, n);
      const hasLog = ieq(r.type, 'Task') || ieq(r.type, 'Job');
      return {
        previousAttempts: [],
        id: r.id,
        parentId: r.parentId ?? null,
        type: r.type,
        name: r.name,
        startTime: iso(start),
        finishTime: iso(finish),
        currentOperation: null,
        percentComplete: 100,
        state: 'completed',
        result: r.result ?? 'succeeded',
        resultCode: null,
        changeId: i + 1,
        lastModified: iso(finish),
        workerName: hasLog ? 'Hosted Agent' : null,
        order: n,
        details: null,
        errorCount: 0,
        warningCount: 0,
        url: null,
        log: hasLog ? { id: i + 2, type: 'Container', url: `${base}/logs/${i + 2}` } : null,
        task: r.task ? { id: r.task.id, name: r.task.name, version: r.task.version } : null,
        attempt: 1,
        identifier: null,
      };
    });
    return {
      status: 200,
      body: {
        records,
        lastChangedBy: '00000002-0000-8888-8000-000000000000',
        lastChangedOn: iso(finish),
        id: timelineId,
        changeId: records.length,
        url: `${base}/Timeline/${timelineId}`,
      },
    };
  }

  /** POST {project}/_apis/pipelines/{pipelineId}/preview with RunPipelineParameters -> {finalYaml}. */
  private preview(project: { name: string }, pipelineIdSeg: string, body: unknown, identity: Identity, path: string): Reply {
    if (!/^\d+$/.test(pipelineIdSeg)) return notFoundRoute(path);
    const id = Number(pipelineIdSeg);
    const p = this.ctx.seed.pipelines?.[String(id)];
    if (!p) return errorReply(404, 'PipelineNotFoundException', `Pipeline with id ${id} not found.`);
    if (!isObj(body)) return badRequest("Value cannot be null. (Parameter 'runParameters')");
    if (p.preview === 'forbidden') {
      // TF215106 is the Build service's access-denied message; the permission is the one the
      // preview needs to expand the pipeline's YAML.
      return errorReply(
        403,
        'AccessDeniedException',
        `TF215106: Access denied. ${identity.name} needs Edit build pipeline permissions for build pipeline ${p.name} in team project ${project.name} to perform the action. For more information, contact the Azure DevOps Server administrator.`,
      );
    }
    if (p.preview === 'not-yaml') {
      return errorReply(400, 'PipelineValidationException', `Pipeline ${p.name} (id ${id}) is not a YAML pipeline. Only YAML pipelines can be previewed.`);
    }
    const override = prop(body, 'yamlOverride');
    const finalYaml =
      typeof override === 'string' && override
        ? override
        : (p.finalYaml ?? `# ${p.name}\ntrigger:\n  branches:\n    include:\n    - main\nsteps:\n- script: echo ${p.name}\n  displayName: Build\n`);
    return { status: 200, body: { finalYaml } };
  }
}
