// The organization's task catalogue: GET {org}/_apis/distributedtask/tasks[/{taskId}[/{versionString}]]
// (area distributedtask), which the impact check reads to tell Microsoft tasks from Marketplace ones.
import { answerAt, errorReply } from './replies';
import type { ApiLocation, Reply, ResourceArea, Service, ServiceContext, ServiceRequest, TaskDefinitionSeed } from './types';
import { ieq } from './util';

// Not in the public REST reference; released at 7.1 here so a plain api-version=7.1 is accepted
// (an assumption: whether the service insists on "-preview" for this route is unverified).
const TASK_DEFINITIONS_LOCATION: ApiLocation = {
  id: '60aac929-f0cd-4bc8-9ce4-6b30e8f1b1bd',
  area: 'distributedtask',
  resourceName: 'tasks',
  routeTemplate: '_apis/{area}/{resource}/{taskId}/{versionString}',
  resourceVersion: 1,
  minVersion: '2.0',
  maxVersion: '7.2',
  releasedVersion: '7.1',
};

/**
 * The catalogue served when a seed has no taskDefinitions: Microsoft tasks with their real ids
 * (task.json of microsoft/azure-pipelines-tasks; a task keeps its id across major versions).
 * Minor/patch numbers are plausible, not tracked.
 */
export const DEFAULT_TASK_DEFINITIONS: readonly TaskDefinitionSeed[] = Object.freeze(
  [
    {
      id: '46e4be58-730b-4389-8a2f-ea10b3e5e815',
      name: 'AzureCLI',
      friendlyName: 'Azure CLI',
      author: 'Microsoft Corporation',
      version: { major: 2, minor: 265, patch: 0 },
    },
    {
      id: '72a1931b-effb-4d2e-8fd8-f8472a07cb62',
      name: 'AzurePowerShell',
      friendlyName: 'Azure PowerShell',
      author: 'Microsoft Corporation',
      version: { major: 5, minor: 273, patch: 3 },
    },
    {
      id: 'eb72cb01-a7e5-427b-a8a1-1b31ccac8a43',
      name: 'AzureFileCopy',
      friendlyName: 'Azure file copy',
      author: 'Microsoft Corporation',
      version: { major: 5, minor: 259, patch: 0 },
    },
    {
      id: 'eb72cb01-a7e5-427b-a8a1-1b31ccac8a43',
      name: 'AzureFileCopy',
      friendlyName: 'Azure file copy',
      author: 'Microsoft Corporation',
      version: { major: 6, minor: 259, patch: 0 },
    },
    {
      id: '497d490f-eea7-4f2b-ab94-48d9c1acdcb1',
      name: 'AzureRmWebAppDeployment',
      friendlyName: 'Azure App Service deploy',
      author: 'Microsoft Corporation',
      version: { major: 4, minor: 266, patch: 0 },
    },
    {
      id: '94a74903-f93f-4075-884f-dc11f34058b4',
      name: 'AzureResourceManagerTemplateDeployment',
      friendlyName: 'ARM template deployment',
      author: 'Microsoft Corporation',
      version: { major: 3, minor: 261, patch: 0 },
    },
    // What `script:` and `bash:` steps run as; the checkout step (task 6d15af64-176c-496d-b583-fd2ae21d4df4,
    // "Checkout" 1.0.0 in timelines) is built into the agent and not in the catalogue.
    {
      id: 'd9bafed4-0b18-4f58-968d-86655b4d2ce9',
      name: 'CmdLine',
      friendlyName: 'Command line',
      author: 'Microsoft Corporation',
      version: { major: 2, minor: 276, patch: 0 },
    },
    {
      id: '6c731c3c-3c68-459a-a5c9-bde6e6595b5b',
      name: 'Bash',
      friendlyName: 'Bash',
      author: 'Microsoft Corporation',
      version: { major: 3, minor: 274, patch: 1 },
    },
  ].map((d) => Object.freeze(d)),
);

export class DistributedTaskService implements Service {
  readonly areas: readonly ResourceArea[] = [{ name: 'distributedtask', id: 'a85b8835-c1a1-4aac-ae97-1c3d0ba72dbd', locations: [TASK_DEFINITIONS_LOCATION] }];

  constructor(private readonly ctx: ServiceContext) {}

  handle(req: ServiceRequest): Reply | undefined {
    const [, a, b, c] = req.rest;
    if (req.rest.length < 2 || req.rest.length > 4 || !ieq(a, 'tasks')) return undefined;
    return answerAt(this.ctx, req, TASK_DEFINITIONS_LOCATION, 'GET', () => this.taskDefinitions(b, c));
  }

  /** GET _apis/distributedtask/tasks[/{taskId}[/{versionString}]]: the organization's task catalogue. */
  private taskDefinitions(taskId: string | undefined, versionString: string | undefined): Reply {
    const defs = (this.ctx.seed.taskDefinitions ?? DEFAULT_TASK_DEFINITIONS).map((d) => {
      const v = d.version;
      return {
        id: d.id,
        name: d.name,
        friendlyName: d.friendlyName ?? d.name,
        description: '',
        category: 'Deploy',
        author: d.author,
        version: { major: v.major, minor: v.minor, patch: v.patch, isTest: false },
        visibility: ['Build', 'Release'],
        runsOn: ['Agent', 'DeploymentGroup'],
        definitionType: 'task',
        serverOwned: !d.contributionIdentifier,
        ...(d.contributionIdentifier
          ? { contributionIdentifier: d.contributionIdentifier, contributionVersion: d.contributionVersion ?? `${v.major}.${v.minor}.${v.patch}` }
          : {}),
      };
    });
    const value = taskId ? defs.filter((d) => ieq(d.id, taskId)) : defs;
    if (!versionString) return { status: 200, body: { count: value.length, value } };
    const matches = value.filter((d) => {
      const v = d.version;
      return [`${v.major}.${v.minor}.${v.patch}`, `${v.major}`, `${v.major}.*`].includes(versionString);
    });
    const one = matches.sort((p, q) => q.version.minor - p.version.minor || q.version.patch - p.version.patch)[0];
    return one
      ? { status: 200, body: one }
      : errorReply(404, 'TaskDefinitionNotFoundException', `Task definition ${taskId} with version ${versionString} could not be found.`);
  }
}
