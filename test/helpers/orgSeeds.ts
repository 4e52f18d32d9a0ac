// An organization of several projects for organization-wide runs (issue 13), built on seed():
// K projects, connections at home in each, connections shared across projects (the first project
// reference is the home), one unreadable project, one deleted project, and the two job identities
// a pipeline can run as: the project-scoped one, which sees only its own project, and the
// collection-scoped one, which sees every project.
import type { EndpointBehaviour, IdentitySeed, ProjectSeed, Seed } from '../emulator/server';
import { OTHER_PROJECT, PROJECT } from './endpoints';
import { ADMIN, ADMIN_PAT, JOB_IDENTITY, JOB_TOKEN, ORG, SeedEndpoint, seed } from './seed';

/** The collection-scoped job identity ("Limit job authorization scope to current project" off). */
export const COLLECTION_IDENTITY = `Project Collection Build Service (${ORG.name})`;
export const COLLECTION_TOKEN = 'collection-job-token-3e9d51c07a24';
/** The project-scoped job identity of the home project (Payments): JOB_IDENTITY / JOB_TOKEN of seed.ts. */
export { JOB_IDENTITY, JOB_TOKEN, ADMIN, ADMIN_PAT, ORG };

export interface OrgSeedOptions {
  /** Number of projects K (>= 4): Payments, Shared Services, K-4 "Team NN" projects, Restricted (unreadable), Retired (deleted). Default 6. */
  projects?: number;
  /** Connections at home in each project (besides the shared ones). Default 2. */
  perProject?: number;
  /** Seed.projectPageSize (largest page of the projects listing). Default: the emulator's (100). */
  projectPageSize?: number;
  /** Emulator knobs for every connection (e.g. { conversion: 'sync' }). */
  emulator?: EndpointBehaviour;
  /** Merged into the seed last (e.g. executionPageSize); replaces what it names. */
  extra?: Partial<Seed>;
}

export interface OrgConnection {
  id: string;
  name: string;
  /** The home project: the first project reference. */
  home: ProjectSeed;
  /** Every project referencing it, the home first. */
  projects: ProjectSeed[];
}

export interface OrgSeed {
  seed: Seed;
  /** Every project, in seed order. */
  projects: ProjectSeed[];
  /** Payments: the project of the pipeline (the project-scoped identity's own). */
  home: ProjectSeed;
  /** Shared Services: the home of the connection shared with every readable project. */
  shared: ProjectSeed;
  /** Listed, but its service-endpoint routes answer 403. */
  unreadable: ProjectSeed;
  /** Listed, but 404 on its routes (deleted during the run). */
  deleted: ProjectSeed;
  connections: OrgConnection[];
  /** The connections a project lists (those referencing it), in seed order. */
  inProject(nameOrId: string): OrgConnection[];
  /** A connection by name. */
  connection(name: string): OrgConnection;
}

const projectId = (n: number) => `0b1c2d3e-0000-4000-8000-${String(n).padStart(12, '0')}`;
const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-');

/** The project-scoped job identity of any project: "{Project} Build Service ({org})", seeing only that project. */
export function projectJobIdentity(project: ProjectSeed, token = `job-token-${slug(project.name)}`): IdentitySeed {
  return { token, name: `${project.name} Build Service (${ORG.name})`, kind: 'service', projects: [project.id] };
}

/**
 * The organization. Connections: "{project-slug}-{j}" at home in each project; "hub" (home Shared
 * Services) shared with every other project; "payments-shared" (home Payments) shared with Shared
 * Services; "restricted-shared" (home Restricted, the unreadable project) and "retired-shared" (home
 * Retired, the deleted project), each shared with Payments. Identities: the project-scoped job
 * identity of Payments, the collection-scoped one, and Ada (a user); all three administer every connection.
 */
export function orgSeed(o: OrgSeedOptions = {}): OrgSeed {
  const k = o.projects ?? 6;
  if (!Number.isInteger(k) || k < 4) throw new Error('orgSeed: projects must be an integer >= 4');
  const perProject = o.perProject ?? 2;
  const home: ProjectSeed = { ...PROJECT };
  const shared: ProjectSeed = { ...OTHER_PROJECT, visibility: 'public' };
  const teams: ProjectSeed[] = Array.from({ length: k - 4 }, (_, i) => ({ id: projectId(i + 3), name: `Team ${String(i + 3).padStart(2, '0')}` }));
  const unreadable: ProjectSeed = { id: projectId(k - 1), name: 'Restricted', unreadable: true };
  const deleted: ProjectSeed = { id: projectId(k), name: 'Retired', deleted: true };
  const projects = [home, shared, ...teams, unreadable, deleted];

  let n = 0;
  const connections: OrgConnection[] = [];
  const add = (name: string, refs: ProjectSeed[]) =>
    connections.push({ id: `0e0a0000-0000-4000-8000-${String(++n).padStart(12, '0')}`, name, home: refs[0], projects: refs });
  for (const p of projects) for (let j = 1; j <= perProject; j++) add(`${slug(p.name)}-${j}`, [p]);
  add('hub', [shared, ...projects.filter((p) => p !== shared)]);
  add('payments-shared', [home, shared]);
  add('restricted-shared', [unreadable, home]);
  add('retired-shared', [deleted, home]);

  const identities: IdentitySeed[] = [
    projectJobIdentity(home, JOB_TOKEN),
    { token: COLLECTION_TOKEN, name: COLLECTION_IDENTITY, kind: 'service' },
    { token: ADMIN_PAT, name: ADMIN, kind: 'user' },
  ];
  const endpoints: SeedEndpoint[] = connections.map((c) => ({
    id: c.id,
    name: c.name,
    projects: c.projects.map((p) => ({ id: p.id, name: p.name })),
    ...(o.emulator ? { emulator: { ...o.emulator } } : {}),
  }));
  const s = seed(endpoints, {
    projects,
    identities,
    defaultAdministrators: identities.map((i) => i.name),
    ...(o.projectPageSize !== undefined ? { projectPageSize: o.projectPageSize } : {}),
    ...o.extra,
  });
  const find = (nameOrId: string) => projects.find((p) => p.id.toLowerCase() === nameOrId.toLowerCase() || p.name.toLowerCase() === nameOrId.toLowerCase());
  return {
    seed: s,
    projects,
    home,
    shared,
    unreadable,
    deleted,
    connections,
    inProject: (nameOrId) => {
      const p = find(nameOrId);
      return p ? connections.filter((c) => c.projects.includes(p)) : [];
    },
    connection: (name) => {
      const c = connections.find((x) => x.name === name);
      if (!c) throw new Error(`orgSeed: no connection ${name}`);
      return c;
    },
  };
}
