// The location service every Azure DevOps client asks first: OPTIONS {org}/_apis/{area} (the
// REST locations of an area, so "7.2-preview.4" negotiates), GET {org}/_apis/ResourceAreas[/{id}]
// and GET {org}/_apis/connectionData. The locations and area ids are the ones the services declare.
import { notFoundRoute } from './replies';
import type { ApiLocation, Identity, Reply, Service, ServiceContext } from './types';
import { identityId, ieq } from './util';

const LOCATION_LOCATIONS: ApiLocation[] = [
  {
    id: 'e81700f7-3be2-46de-8624-2eb35882fcaa',
    area: 'Location',
    resourceName: 'ResourceAreas',
    routeTemplate: '_apis/{resource}/{areaId}',
    resourceVersion: 1,
    minVersion: '3.2',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: '00d9565f-ed9c-4a06-9a50-00e7896ccab4',
    area: 'Location',
    resourceName: 'connectionData',
    routeTemplate: '_apis/{resource}',
    resourceVersion: 1,
    minVersion: '1.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
];

export class LocationService {
  /** Locations by lower-case area name (a plain object, as the lookup has always been). */
  private readonly areaLocations: Record<string, ApiLocation[]> = {};
  /** Resource area ids (GET _apis/ResourceAreas), as the service publishes them, in the services' order. */
  private readonly resourceAreaIds: Record<string, string> = {};

  constructor(
    private readonly ctx: ServiceContext,
    services: readonly Service[],
  ) {
    for (const area of services.flatMap((s) => s.areas)) {
      this.areaLocations[area.name.toLowerCase()] = area.locations;
      this.resourceAreaIds[area.name] = area.id;
    }
    this.areaLocations.location = LOCATION_LOCATIONS;
  }

  /** OPTIONS {org}/_apis/{area} */
  options(areaL: string, path: string): Reply {
    const locations = this.areaLocations[areaL];
    return locations ? { status: 200, body: { count: locations.length, value: locations } } : notFoundRoute(path);
  }

  /** GET {org}/_apis/ResourceAreas[/{areaId}] */
  resourceAreas(areaId: string | undefined): Reply {
    const value = Object.entries(this.resourceAreaIds).map(([name, id]) => ({ id, name, locationUrl: this.ctx.url() }));
    if (areaId) {
      const a = value.find((x) => ieq(x.id, areaId));
      return a ? { status: 200, body: a } : notFoundRoute(`/_apis/ResourceAreas/${areaId}`);
    }
    return { status: 200, body: { count: value.length, value } };
  }

  /** GET {org}/_apis/connectionData: the authenticated identity. */
  connectionData(identity: Identity): Reply {
    const user = {
      id: identity.id,
      descriptor: `Microsoft.TeamFoundation.ServiceIdentity;${identity.id}`,
      subjectDescriptor: `svc.${Buffer.from(identity.id).toString('base64url')}`,
      providerDisplayName: identity.name,
      isActive: true,
      properties: {},
      resourceVersion: 2,
      metaTypeId: 0,
    };
    const org = this.ctx.seed.organization;
    return {
      status: 200,
      body: {
        authenticatedUser: user,
        authorizedUser: user,
        instanceId: org.id,
        deploymentId: identityId(`deployment:${org.id}`),
        deploymentType: 'hosted',
        locationServiceData: {
          serviceOwner: '00025394-6065-48ca-87d9-7f5672854ef7',
          defaultAccessMappingMoniker: 'PublicAccessMapping',
          lastChangeId: 1,
          lastChangeId64: 1,
        },
      },
    };
  }
}
