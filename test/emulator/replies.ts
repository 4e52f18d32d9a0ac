// Replies shared by the services: the service's JSON error shape, the sign-in page, the
// api-version check and the routing of one REST location.
import type { ApiLocation, Project, Reply, ServiceContext, ServiceRequest } from './types';

/** .NET type names of the exceptions the emulator answers with (the error body's typeName). */
const TYPE_NAMES: Record<string, string> = {
  ServiceEndpointNotFoundException:
    'Microsoft.VisualStudio.Services.ServiceEndpoints.WebApi.ServiceEndpointNotFoundException, Microsoft.VisualStudio.Services.ServiceEndpoints.WebApi',
  ProjectDoesNotExistWithNameException: 'Microsoft.TeamFoundation.Core.WebApi.ProjectDoesNotExistWithNameException, Microsoft.TeamFoundation.Core.WebApi',
  AccessCheckException: 'Microsoft.VisualStudio.Services.Security.AccessCheckException, Microsoft.VisualStudio.Services.WebApi',
  UnauthorizedRequestException: 'Microsoft.VisualStudio.Services.WebApi.UnauthorizedRequestException, Microsoft.VisualStudio.Services.WebApi',
  AadAccessSilentException: 'Microsoft.VisualStudio.Services.Aad.AadAccessSilentException, Microsoft.VisualStudio.Services.Aad',
  ArgumentException: 'System.ArgumentException, mscorlib',
  InvalidOperationException: 'System.InvalidOperationException, mscorlib',
  VssVersionOutOfRangeException: 'Microsoft.VisualStudio.Services.WebApi.VssVersionOutOfRangeException, Microsoft.VisualStudio.Services.WebApi',
  VssInvalidPreviewVersionException: 'Microsoft.VisualStudio.Services.WebApi.VssInvalidPreviewVersionException, Microsoft.VisualStudio.Services.WebApi',
  RequestBlockedException: 'Microsoft.TeamFoundation.Framework.Server.RequestBlockedException, Microsoft.TeamFoundation.Framework.Server',
  NotFoundException: 'Microsoft.VisualStudio.Services.Common.VssResourceNotFoundException, Microsoft.VisualStudio.Services.Common',
  BuildNotFoundException: 'Microsoft.TeamFoundation.Build.WebApi.BuildNotFoundException, Microsoft.TeamFoundation.Build2.WebApi',
  TimelineNotFoundException: 'Microsoft.TeamFoundation.Build.WebApi.TimelineNotFoundException, Microsoft.TeamFoundation.Build2.WebApi',
  AccessDeniedException: 'Microsoft.TeamFoundation.Build.WebApi.AccessDeniedException, Microsoft.TeamFoundation.Build2.WebApi',
  PipelineNotFoundException: 'Microsoft.Azure.Pipelines.WebApi.PipelineNotFoundException, Microsoft.Azure.Pipelines.WebApi',
  PipelineValidationException: 'Microsoft.Azure.Pipelines.WebApi.PipelineValidationException, Microsoft.Azure.Pipelines.WebApi',
  TaskDefinitionNotFoundException:
    'Microsoft.TeamFoundation.DistributedTask.WebApi.TaskDefinitionNotFoundException, Microsoft.TeamFoundation.DistributedTask.WebApi',
  InternalServerError: 'System.Exception, mscorlib',
};

export const SIGN_IN_PAGE = `<!DOCTYPE html>
<html lang="en-US">
<head><meta charset="utf-8"><title>Azure DevOps Services | Sign In</title></head>
<body><h1>Sign in to Azure DevOps</h1><p>You need to sign in to access this organization.</p>
<a href="https://app.vssps.visualstudio.com/_signin">Sign in</a></body>
</html>
`;

export function errorReply(status: number, typeKey: string, message: string, headers?: Record<string, string>): Reply {
  return {
    status,
    headers,
    body: { $id: '1', innerException: null, message, typeName: TYPE_NAMES[typeKey] ?? typeKey, typeKey, errorCode: 0, eventId: 3000 },
  };
}
export const badRequest = (message: string, detail?: string) =>
  errorReply(400, 'ArgumentException', message, detail ? { 'X-Emulator-Detail': detail } : undefined);
export const invalidOperation = (message: string) => errorReply(400, 'InvalidOperationException', message);
export const projectNotFound = (projectSeg: string) =>
  errorReply(
    404,
    'ProjectDoesNotExistWithNameException',
    `VS800075: The project with id 'vstfs:///Classification/TeamProject/${projectSeg}' does not exist, or you do not have permission to access it.`,
  );
export const methodNotAllowed = (method: string) =>
  errorReply(405, 'InvalidOperationException', `The requested resource does not support http method '${method}'.`);
export const notFoundRoute = (path: string) =>
  errorReply(404, 'NotFoundException', `The controller for path '${path}' was not found or does not implement IController.`);

/** The requested api-version must be in range; a version above the released one needs "-preview". */
export function checkApiVersion(v: string | undefined, loc: ApiLocation): Reply | undefined {
  if (!v) return undefined;
  const m = /^(\d+(?:\.\d+)?)(-preview(?:\.\d+)?)?$/i.exec(v);
  if (!m) return errorReply(400, 'VssVersionOutOfRangeException', `The api-version '${v}' is not valid.`);
  if (+m[1] > +loc.maxVersion) {
    return errorReply(
      400,
      'VssVersionOutOfRangeException',
      `The requested REST API version of ${m[1]} is out of range for this server. The latest REST API version for this server is ${loc.maxVersion}.`,
    );
  }
  if (+m[1] > +loc.releasedVersion && !m[2]) {
    return errorReply(
      400,
      'VssInvalidPreviewVersionException',
      `The requested version "${v}" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "${v}-preview"`,
    );
  }
  return undefined;
}

/**
 * Answers a request matched to one location (one verb): the project scope must match the route
 * template (else 404 route), then the verb (405), the api-version, and the project (404 project).
 */
export function answerAt(ctx: ServiceContext, req: ServiceRequest, loc: ApiLocation, verb: string, answer: (project: Project | undefined) => Reply): Reply {
  const projectScoped = loc.routeTemplate.startsWith('{project}');
  if (projectScoped !== (req.projectSeg !== undefined)) return notFoundRoute(req.path);
  if (req.method !== verb) return methodNotAllowed(req.method);
  const versionError = checkApiVersion(req.apiVersion, loc);
  if (versionError) return versionError;
  if (req.projectSeg === undefined) return answer(undefined);
  const project = ctx.findProject(req.projectSeg);
  return project ? answer(project) : projectNotFound(req.projectSeg);
}
