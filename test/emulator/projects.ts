// The Core API's projects listing (area core), which an organization-wide run pages through:
// GET {org}/_apis/projects[?stateFilter=&$top=&$skip=&continuationToken=] and GET {org}/_apis/projects/{id}.
// Public source: learn.microsoft.com/rest/api/azure/devops/core/projects/list (query parameters
// stateFilter, $top, $skip, continuationToken; the x-ms-continuationtoken response header). Note
// microsoft/azure-devops-node-api api/CoreApi.ts getProjects returns only the `value` array and drops
// that header: a client of node-api has to page with $top/$skip, and the emulator answers both ways.
//
// Also here: who sees which project, used by the server for every {project}/_apis/... route
// (projectGate): a project hidden from the caller (ProjectSeed.hiddenFrom, IdentitySeed.projects) is
// neither listed nor reachable (404 VS800075, "does not exist, or you do not have permission");
// a `deleted` project is still listed (the list was read before it went) but 404 on its routes;
// an `unreadable` project is listed but its service-endpoint routes answer 403.
//
// Emulator choices, not documented service behaviour: the order (by name, case-insensitive), the
// continuation token's encoding (opaque to clients), and the 403 message of an unreadable project.
import { answerAt, badRequest, errorReply, projectNotFound } from './replies';
import type { ApiLocation, Identity, ProjectSeed, ProjectState, Reply, ResourceArea, Service, ServiceContext, ServiceRequest } from './types';
import { ieq, prop } from './util';

export const CORE_AREA_ID = '79134c72-4a58-4b42-976c-04e7115f32bf';

/** Routed by its resource name: GET {org}/_apis/projects/{*projectId} (server.ts maps "projects" to this service). */
export const CORE_PROJECTS_LOCATION: ApiLocation = {
  id: '603fe2ac-9723-48b9-88ad-09305aa6c6e1',
  area: 'core',
  resourceName: 'projects',
  routeTemplate: '_apis/{resource}/{*projectId}',
  resourceVersion: 4,
  minVersion: '1.0',
  maxVersion: '7.2',
  releasedVersion: '7.1',
};

/** The documented default and largest $top of the projects listing. */
export const DEFAULT_PROJECT_PAGE_SIZE = 100;

export const PROJECT_STATES: ProjectState[] = ['wellFormed', 'createPending', 'deleting', 'new', 'deleted'];
/** stateFilter values (names, or the numbers of .NET's ProjectState) -> the states they select. */
const STATE_FILTERS: Record<string, ProjectState[] | 'all'> = {
  all: 'all',
  '-1': 'all',
  wellformed: ['wellFormed'],
  '1': ['wellFormed'],
  createpending: ['createPending'],
  '3': ['createPending'],
  deleting: ['deleting'],
  '2': ['deleting'],
  new: ['new'],
  '0': ['new'],
  deleted: ['deleted'],
  '4': ['deleted'],
};

const TOKEN_PREFIX = 'emu-projects:';
export const encodeContinuationToken = (skip: number) => Buffer.from(`${TOKEN_PREFIX}${skip}`).toString('base64url');
function decodeContinuationToken(token: string): number | undefined {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith(TOKEN_PREFIX)) return undefined;
  const n = Number(text.slice(TOKEN_PREFIX.length));
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Whether the identity may see the project at all (listing and routes). */
export function canSee(project: ProjectSeed, identity: Identity): boolean {
  if (project.hiddenFrom?.includes(identity.name)) return false;
  if (identity.projects && !identity.projects.some((p) => ieq(p, project.id) || ieq(p, project.name))) return false;
  return true;
}

/**
 * The server's check of the {project} segment of an authenticated request, before a service
 * handles it; undefined lets the service answer (including its own 404 for an unknown project).
 */
export function projectGate(project: ProjectSeed | undefined, projectSeg: string, identity: Identity, areaL: string): Reply | undefined {
  if (!project) return undefined;
  if (project.deleted || !canSee(project, identity)) return projectNotFound(projectSeg);
  if (project.unreadable && areaL === 'serviceendpoint') {
    return errorReply(
      403,
      'AccessCheckException',
      `Access denied. ${identity.name} needs View permissions on the service connections of project ${project.name} to perform this action.`,
    );
  }
  return undefined;
}

export class ProjectsService implements Service {
  readonly areas: readonly ResourceArea[] = [{ name: 'core', id: CORE_AREA_ID, locations: [CORE_PROJECTS_LOCATION] }];

  constructor(private readonly ctx: ServiceContext) {}

  handle(req: ServiceRequest): Reply | undefined {
    const [resource, projectId, ...extra] = req.rest;
    if (!ieq(resource, 'projects') || extra.length) return undefined;
    return answerAt(this.ctx, req, CORE_PROJECTS_LOCATION, 'GET', () => (projectId ? this.one(projectId, req.identity) : this.list(req.query, req.identity)));
  }

  private view(p: ProjectSeed): Record<string, unknown> {
    return {
      id: p.id,
      name: p.name,
      ...(p.description !== undefined ? { description: p.description } : {}),
      url: `${this.ctx.url()}_apis/projects/${p.id}`,
      state: p.state ?? 'wellFormed',
      revision: 1,
      visibility: p.visibility ?? 'private',
      lastUpdateTime: '2024-01-01T00:00:00.000Z',
    };
  }

  /** GET {org}/_apis/projects/{projectId}: by id or name; hidden and deleted projects are 404. */
  private one(nameOrId: string, identity: Identity): Reply {
    const p = this.ctx.findProject(nameOrId);
    if (!p || p.deleted || !canSee(p, identity)) return projectNotFound(nameOrId);
    return { status: 200, body: this.view(p) };
  }

  /** GET {org}/_apis/projects: the page the identity can see, and x-ms-continuationtoken while more remain. */
  private list(query: Record<string, string>, identity: Identity): Reply {
    const q = (name: string) => prop(query, name) as string | undefined;
    const filter = STATE_FILTERS[(q('stateFilter') ?? 'wellFormed').toLowerCase()];
    if (!filter) return badRequest(`The value '${q('stateFilter')}' is not valid for stateFilter.`);
    const int = (name: string): number | undefined | null => {
      const v = q(name);
      if (v === undefined || v === '') return undefined;
      return /^\d+$/.test(v) ? Number(v) : null;
    };
    const top = int('$top');
    const skipParam = int('$skip');
    if (top === null) return badRequest(`The value '${q('$top')}' is not valid for $top.`);
    if (skipParam === null) return badRequest(`The value '${q('$skip')}' is not valid for $skip.`);
    let skip = skipParam ?? 0;
    const token = q('continuationToken');
    if (token) {
      // The token replaces $skip (the documented alternative to it).
      const decoded = decodeContinuationToken(token);
      if (decoded === undefined) return badRequest(`The continuation token '${token}' is not valid.`);
      skip = decoded;
    }
    const cap = this.ctx.seed.projectPageSize ?? DEFAULT_PROJECT_PAGE_SIZE;
    // $top absent or 0: the default page.
    const size = Math.min(top || DEFAULT_PROJECT_PAGE_SIZE, cap);
    const all = this.ctx.seed.projects
      .filter((p) => canSee(p, identity))
      .filter((p) => filter === 'all' || filter.includes(p.state ?? 'wellFormed'))
      .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || a.id.localeCompare(b.id));
    const page = all.slice(skip, skip + size);
    const headers = skip + page.length < all.length ? { 'x-ms-continuationtoken': encodeContinuationToken(skip + page.length) } : undefined;
    return { status: 200, headers, body: { count: page.length, value: page.map((p) => this.view(p)) } };
  }
}
