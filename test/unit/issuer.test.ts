// `action: updateIssuer` (core/issuer.ts, core/handoff.ts) through the use case over in-memory
// ports: an Azure DevOps whose migration route switches a connection when its identity has the
// Entra credential (or is not there at all), and an Entra with apps and managed identities.
import * as assert from 'node:assert/strict';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import { handoffCommands } from '../../tasks/ConvertToWif/src/core/handoff';
import { entraIssuer, entraSubject } from '../../tasks/ConvertToWif/src/core/identity';
import { RawInputs } from '../../tasks/ConvertToWif/src/core/inputs';
import { Endpoint } from '../../tasks/ConvertToWif/src/core/model';
import { normalizeEndpoint } from '../../tasks/ConvertToWif/src/core/normalize';
import { AgentConnection, AzureDevOps, EntraPort, FederatedCredential, ManagedIdentity } from '../../tasks/ConvertToWif/src/core/ports';
import type { ReportEntry } from '../../tasks/ConvertToWif/src/core/report';
import { runTask } from '../../tasks/ConvertToWif/src/core/runTask';
import { PROJECT, endpoint } from '../helpers/endpoints';
import { MemoryHost, clock } from '../helpers/memory';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ORG_ID = '7a6c1d1e-0000-4000-8000-00000000c0de';
const ENTRA_ID = 'e0e0e0e0-0000-4000-8000-0000000000e0';
const SUB = '5b5b5b5b-0000-4000-8000-00000000005b';
const idOf = (n: number) => `e0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const clientOf = (n: number) => `a0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const target = (n: number) => ({ issuer: entraIssuer(TENANT), subject: entraSubject(TENANT, ORG_ID, idOf(n))! });

/** A federated connection on the Azure DevOps issuer (any type). */
function onOldIssuer(n: number, o: { type?: string; name?: string; tenant?: string | null; environment?: string } = {}): Endpoint {
  const name = o.name ?? `conn-${n}`;
  const parameters: Record<string, string | null> = {
    serviceprincipalid: clientOf(n),
    workloadIdentityFederationIssuer: `https://vstoken.dev.azure.com/${ORG_ID}`,
    workloadIdentityFederationSubject: `sc://contoso/${PROJECT.name}/${name}`,
  };
  if (o.tenant !== null) parameters['tenantid'] = o.tenant ?? TENANT;
  return endpoint({
    name,
    id: idOf(n),
    type: o.type,
    scheme: 'WorkloadIdentityFederation',
    parameters,
    data: { subscriptionId: SUB, ...(o.environment ? { environment: o.environment } : {}) },
  });
}

class Directory implements EntraPort {
  calls: string[] = [];
  apps = new Map<string, { objectId: string; displayName: string; signInAudience?: string; fics: FederatedCredential[] }>();
  mis = new Map<string, ManagedIdentity & { fics: FederatedCredential[]; writable: boolean }>();
  graphDenied = false;
  /** The next app reads fail with this status (e.g. 503 after the adapter's retries). */
  graphFails?: number;
  /** The next POST is applied, then its answer is lost (the run cancelled meanwhile). */
  lostPost = false;
  onPost?: () => void;
  signInError?: ServiceError;
  signIn = async () => {
    this.calls.push('signIn');
    if (this.signInError) throw this.signInError;
  };
  findApp = async (clientId: string) => {
    this.calls.push(`GET app ${clientId}`);
    if (this.graphDenied) throw new ServiceError({ status: 403, message: 'Insufficient privileges', service: 'graph', code: 'Authorization_RequestDenied' });
    if (this.graphFails) throw new ServiceError({ status: this.graphFails, message: 'Service unavailable', service: 'graph', code: 'serviceNotAvailable' });
    const a = this.apps.get(clientId);
    return a ? { objectId: a.objectId, appId: clientId, displayName: a.displayName, signInAudience: a.signInAudience } : null;
  };
  private app = (objectId: string) => [...this.apps.values()].find((a) => a.objectId === objectId)!;
  credentials = async (objectId: string) => this.app(objectId).fics.map((f) => ({ ...f }));
  addCredential = async (objectId: string, c: { name: string; issuer: string; subject: string; audiences: string[] }) => {
    this.calls.push(`POST ${c.name}`);
    this.onPost?.();
    const f = { id: `fic-${c.name}`, ...c };
    this.app(objectId).fics.push(f);
    if (this.lostPost) throw new ServiceError({ message: 'The run was cancelled.', cancelled: true, service: 'graph' });
    return f;
  };
  removeCredential = async () => {
    throw new Error('updateIssuer never removes a credential');
  };
  azureDevOpsToken = async () => 'entra-token-for-azure-devops';
  findManagedIdentity = async (subscriptionId: string, clientId: string) => {
    this.calls.push(`ARM list ${subscriptionId}`);
    const mi = this.mis.get(clientId);
    return mi && mi.subscriptionId === subscriptionId ? { ...mi } : null;
  };
  managedIdentityCredentials = async (resourceId: string) => [...this.mis.values()].find((m) => m.resourceId === resourceId)!.fics.map((f) => ({ ...f }));
  putManagedIdentityCredential = async (resourceId: string, c: { name: string; issuer: string; subject: string; audiences: string[] }) => {
    this.calls.push(`ARM PUT ${c.name}`);
    const mi = [...this.mis.values()].find((m) => m.resourceId === resourceId)!;
    if (!mi.writable) throw new ServiceError({ status: 403, message: 'AuthorizationFailed', service: 'arm', code: 'AuthorizationFailed' });
    const f = { id: c.name, ...c };
    mi.fics.push(f);
    return f;
  };
  writes = () => this.calls.filter((c) => /POST|PUT/.test(c));
  /** Does the identity of this client id have the credential? */
  has(clientId: string, t: { issuer: string; subject: string }): boolean {
    const fics = this.apps.get(clientId)?.fics ?? this.mis.get(clientId)?.fics ?? [];
    return fics.some((f) => f.issuer === t.issuer && f.subject === t.subject);
  }
}

class AzureDevOpsWithMigration implements AzureDevOps {
  migrations: string[] = [];
  bearers: string[] = [];
  /** 'switches' (default), 'accepted' (200 but nothing changes), or a status the route answers. */
  migration: 'switches' | 'accepted' | number = 'switches';
  /** The first migration request answers 404 about its connection (deleted or renamed meanwhile). */
  firstNotFound = false;
  /** GETs by id fail (after the migration request). */
  readsFail = false;
  gets = 0;
  listedAllTypes = false;
  constructor(
    private readonly endpoints: Endpoint[],
    private readonly dir: Directory,
  ) {}
  list = async (o?: { allTypes?: boolean }) => {
    this.listedAllTypes = !!o?.allTypes;
    return { endpoints: this.endpoints, malformed: 0 };
  };
  get = async (id: string) => {
    this.gets++;
    if (this.readsFail) throw new ServiceError({ status: 503, message: 'unavailable' });
    return this.endpoints.find((e) => e.id === id) ?? null;
  };
  convert = async (): Promise<Endpoint> => {
    throw new Error('updateIssuer never sends a conversion');
  };
  requestIssuerMigration = async (input: string, bearer: string) => {
    this.migrations.push(input);
    this.bearers.push(bearer);
    if (this.firstNotFound && this.migrations.length === 1)
      throw new ServiceError({ status: 404, typeKey: 'ServiceEndpointNotFoundException', message: 'No service connection found.' });
    if (this.migration === 'accepted') return { status: 200 };
    if (this.migration !== 'switches') throw new ServiceError({ status: this.migration, message: `HTTP ${this.migration}` });
    const i = this.endpoints.findIndex((e) => `sc://contoso/${PROJECT.name}/${e.name}` === input);
    const e = this.endpoints[i];
    const n = Number(e.id.slice(-4));
    if (!this.dir.has(e.authorization!.parameters!['serviceprincipalid']!, target(n))) throw new ServiceError({ status: 400, message: 'AADSTS700211' });
    this.endpoints[i] = normalizeEndpoint({
      ...e,
      authorization: {
        scheme: 'WorkloadIdentityFederation',
        // keys as normalize.ts keeps them (lower-case)
        parameters: {
          ...e.authorization!.parameters,
          workloadidentityfederationissuer: target(n).issuer,
          workloadidentityfederationsubject: target(n).subject,
          workloadidentityfederationissuertype: 'EntraID',
        },
      },
    })!;
    return { status: 200 };
  };
  manageableIds = async () => new Set(this.endpoints.map((e) => e.id.toLowerCase()));
  whoAmI = async () => 'Payments Build Service (contoso)';
  executionHistory = async () => ({ records: [] });
  buildTasks = async () => [];
  pipelineYaml = async () => '';
  taskDefinitions = async () => [];
}

const AGENT: AgentConnection = {
  id: ENTRA_ID,
  scheme: 'ServicePrincipal',
  tenantId: TENANT,
  clientId: 'c1c1c1c1-0000-4000-8000-0000000000c1',
  secret: 's3cr3t-value',
};

async function go(
  inputs: RawInputs,
  endpoints: Endpoint[],
  dir: Directory,
  o: { entra?: boolean; before?: (ado: AzureDevOpsWithMigration, host: MemoryHost) => void; abort?: AbortController } = {},
) {
  const host = new MemoryHost({ action: 'updateIssuer', ...(o.entra === false ? {} : { entraConnection: ENTRA_ID }), ...inputs });
  host.agents[ENTRA_ID] = AGENT;
  const ado = new AzureDevOpsWithMigration(endpoints, dir);
  o.before?.(ado, host);
  await runTask({ host, clock: clock(), cancelled: (o.abort ?? new AbortController()).signal, connect: () => ado, connectEntra: () => dir });
  const byName = (name: string) => host.report.connections.find((c) => c.name === name)!;
  return { host, ado, byName };
}

function withApp(dir: Directory, n: number, extra: { signInAudience?: string; fics?: FederatedCredential[] } = {}) {
  dir.apps.set(clientOf(n), {
    objectId: `0b00000${n}-0000-4000-8000-000000000000`,
    displayName: `app-${n}`,
    fics: extra.fics ?? [],
    signInAudience: extra.signInAudience ?? 'AzureADMyOrg',
  });
}

describe('updateIssuer (core/issuer.ts) over in-memory ports', () => {
  it('adds the Entra credential (keeping the old one), asks Azure DevOps to switch, and verifies it: updated', async () => {
    const dir = new Directory();
    withApp(dir, 1, {
      fics: [
        {
          id: 'old',
          name: 'old',
          issuer: `https://vstoken.dev.azure.com/${ORG_ID}`,
          subject: 'sc://contoso/Payments/conn-1',
          audiences: ['api://AzureADTokenExchange'],
        },
      ],
    });
    const { byName, ado, host } = await go({}, [onOldIssuer(1)], dir);
    const r = byName('conn-1');
    assert.equal(r.outcome, 'updated', JSON.stringify(r));
    assert.equal(r.issuer, target(1).issuer);
    assert.equal(r.matchesTarget, true);
    assert.deepEqual(ado.migrations, [`sc://contoso/${PROJECT.name}/conn-1`]);
    assert.deepEqual(ado.bearers, ['entra-token-for-azure-devops'], 'the Entra token, never the job token');
    assert.equal(dir.apps.get(clientOf(1))!.fics.length, 2, 'the old credential stays');
    assert.ok(ado.listedAllTypes, 'every connection type is listed');
    assert.equal(host.outcome?.kind, 'Succeeded');
    assert.equal(host.outputs['updatedCount'], '1');
    assert.match(host.files['/mem/summary.md'], /The old federated credential \(Azure DevOps issuer\) stays on each identity/);
  });

  it('the migration route not available (404): prepared, with the link to press Update; never asked again in the run', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    withApp(dir, 2);
    const { byName, ado, host } = await go({ concurrency: '1' }, [onOldIssuer(1), onOldIssuer(2)], dir, { before: (a) => (a.migration = 404) });
    assert.equal(byName('conn-1').outcome, 'prepared');
    assert.match(byName('conn-1').reason!, /Press Update .*_settings\/adminservices\?resourceId=e0000000-0000-4000-8000-000000000001/);
    assert.equal(ado.migrations.length, 1, 'a 404 means the route is not there: not asked for the second connection');
    assert.equal(byName('conn-2').outcome, 'prepared');
    assert.ok(dir.has(clientOf(2), target(2)));
    assert.equal(host.outcome?.kind, 'SucceededWithIssues');
    assert.match(host.files['/mem/report.json'], /"handoff"/);
  });

  it('without entraConnection: handoff, with the hand-off pack written next to the report and both commands', async () => {
    const dir = new Directory();
    const { byName, host } = await go({}, [onOldIssuer(1)], dir, { entra: false });
    const r = byName('conn-1');
    assert.equal(r.outcome, 'handoff');
    assert.deepEqual(r.handoff, { clientId: clientOf(1), issuer: target(1).issuer, subject: target(1).subject, audience: 'api://AzureADTokenExchange' });
    const pack = Object.entries(host.files).find(([f]) => /ConvertToWif-handoff\.md$/.test(f));
    assert.ok(pack, `no hand-off pack in ${Object.keys(host.files).join(', ')}`);
    assert.match(pack[1], /az ad app federated-credential create --id 'a0000000-0000-4000-8000-000000000001'/);
    assert.match(pack[1], /az identity federated-credential create --name 'ConvertToWif-e0000000-0000-4000-8000-000000000001-entra'/);
    assert.equal(host.outputs['handoffPath'], pack[0]);
    assert.equal(host.outputs['handoffCount'], '1');
  });

  it('a user-assigned managed identity: found in the subscription, credential PUT through ARM; 403 is a handoff naming the roles', async () => {
    const dir = new Directory();
    const mi = (n: number, writable: boolean) => ({
      resourceId: `/subscriptions/${SUB}/resourceGroups/rg-${n}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi-${n}`,
      name: `mi-${n}`,
      resourceGroup: `rg-${n}`,
      subscriptionId: SUB,
      clientId: clientOf(n),
      principalId: `9${n}000000-0000-4000-8000-000000000000`,
      fics: [],
      writable,
    });
    dir.mis.set(clientOf(1), mi(1, true));
    dir.mis.set(clientOf(2), mi(2, false));
    const { byName } = await go({}, [onOldIssuer(1), onOldIssuer(2)], dir);
    assert.equal(byName('conn-1').outcome, 'updated', JSON.stringify(byName('conn-1')));
    assert.equal(byName('conn-1').identityKind, 'managedIdentity');
    const denied = byName('conn-2');
    assert.equal(denied.outcome, 'handoff');
    assert.match(denied.reason!, /Managed Identity Contributor or Managed Identity Federated Credential Contributor/);
    assert.equal(denied.handoff?.resourceId, mi(2, false).resourceId);
    assert.match(handoffCommands(denied).join('\n'), /--identity-name 'mi-2' --resource-group 'rg-2' --subscription '5b5b5b5b-/);
  });

  it('Graph refuses the read: handoff; a multitenant app is left alone', async () => {
    const dir = new Directory();
    withApp(dir, 1, { signInAudience: 'AzureADMultipleOrgs' });
    const multi = await go({}, [onOldIssuer(1)], dir);
    assert.equal(multi.byName('conn-1').reasonCode, 'SkipMultitenant');
    dir.graphDenied = true;
    const denied = await go({}, [onOldIssuer(1)], dir);
    assert.equal(denied.byName('conn-1').outcome, 'handoff');
    assert.equal(denied.byName('conn-1').reasonCode, 'HandoffGraphDenied');
  });

  it('every type is a candidate; the rest is left alone with the reason', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    const entraAlready = onOldIssuer(3);
    entraAlready.authorization!.parameters!['workloadidentityfederationissuer'] = target(3).issuer;
    const secret = endpoint({ name: 'secret', id: idOf(4) });
    const { byName } = await go(
      {},
      [
        onOldIssuer(1, { type: 'dockerregistry', name: 'acr' }),
        onOldIssuer(2, { tenant: null, name: 'aws' }),
        entraAlready,
        secret,
        onOldIssuer(5, { environment: 'AzureUSGovernment', name: 'gov' }),
      ],
      dir,
    );
    assert.equal(byName('acr').outcome, 'updated');
    assert.equal(byName('acr').type, 'dockerregistry');
    assert.equal(byName('aws').reasonCode, 'SkipIssuerNotEntraIdentity');
    assert.match(byName('aws').reason!, /2027-07-01/);
    assert.equal(byName('conn-3').reasonCode, 'SkipIssuerAlreadyEntra');
    assert.equal(byName('secret').reasonCode, 'SkipIssuerNotFederated');
    assert.equal(byName('gov').reasonCode, 'SkipIssuerSovereign');
  });

  it('a dry run writes nothing (no credential, no migration request); a second run changes nothing', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    const endpoints = [onOldIssuer(1)];
    const dry = await go({ dryRun: 'true' }, endpoints, dir);
    assert.equal(dry.byName('conn-1').outcome, 'planned');
    assert.equal(dry.byName('conn-1').reasonCode, 'PlannedIssuerAdd');
    assert.deepEqual(dir.writes(), []);
    assert.deepEqual(dry.ado.migrations, []);
    await go({}, endpoints, dir);
    const before = dir.writes().length;
    const again = await go({}, endpoints, dir);
    assert.equal(again.byName('conn-1').reasonCode, 'SkipIssuerAlreadyEntra');
    assert.equal(dir.writes().length, before);
    assert.deepEqual(again.ado.migrations, []);
  });

  it('the hand-off commands quote hostile values for the shell, and the pack escapes them for markdown', async () => {
    const entry = {
      id: idOf(1),
      name: "x'; rm -rf / #`",
      handoff: {
        identityKind: 'managedIdentity',
        clientId: clientOf(1),
        name: "mi'$(id)",
        resourceGroup: 'rg\n`whoami`',
        issuer: 'https://i',
        subject: "s'x",
        audience: 'api://AzureADTokenExchange',
      },
    } as unknown as ReportEntry;
    const [cmd] = handoffCommands(entry);
    assert.match(cmd, /--identity-name 'mi'\\''\$\(id\)'/);
    assert.match(cmd, /--resource-group 'rgwhoami'/);
    assert.ok(!cmd.includes('\n') && !cmd.includes('`'));
    const dir = new Directory();
    const { host } = await go({}, [onOldIssuer(1, { name: 'evil\n```\n<img src=x>[a](http://e)' })], dir, { entra: false });
    const pack = host.files['/mem/ConvertToWif-handoff.md'];
    assert.ok(!/^<img/m.test(pack) && !pack.includes('[a](http://e)'), pack);
    assert.equal(pack.split('```').length - 1, 2, 'one fenced block per command group, never opened by a name');
  });

  it('a credential write whose answer was lost (cancelled meanwhile) is looked up and recorded as added, not handed off', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    dir.lostPost = true;
    const abort = new AbortController();
    const { byName } = await go({}, [onOldIssuer(1)], dir, { abort, before: () => (dir.onPost = () => abort.abort()) });
    const r = byName('conn-1');
    assert.notEqual(r.outcome, 'handoff');
    assert.deepEqual(
      r.credentials?.map((c) => c.change),
      ['created'],
      JSON.stringify(r),
    );
  });

  it('a Graph failure that is not a refusal fails the connection (a later run tries again), never a hand-off', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    dir.graphFails = 503;
    const { byName, host } = await go({}, [onOldIssuer(1)], dir);
    assert.equal(byName('conn-1').outcome, 'failed');
    assert.equal(byName('conn-1').reasonCode, 'FailGraphAdd');
    assert.equal(host.outcome?.kind, 'Failed');
  });

  it('a broken entraConnection (sign-in refused) fails every candidate: the run is red, not a hand-off to every owner', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    dir.signInError = new ServiceError({ status: 401, message: 'Invalid client secret provided.', service: 'entra', code: 'AADSTS7000215' });
    const { byName, host } = await go({}, [onOldIssuer(1)], dir);
    assert.equal(byName('conn-1').outcome, 'failed');
    assert.equal(byName('conn-1').reasonCode, 'FailEntraSecret');
    assert.equal(host.outcome?.kind, 'Failed');
    assert.equal(dir.calls.filter((c) => c === 'signIn').length, 1, 'one sign-in per run');
  });

  it('an accepted switch that does not show is waited for within waitTimeoutSeconds, then prepared with that said', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    const { byName, ado } = await go({ waitTimeoutSeconds: '20' }, [onOldIssuer(1)], dir, { before: (a) => (a.migration = 'accepted') });
    assert.equal(byName('conn-1').reasonCode, 'PreparedAcceptedNotSwitched');
    assert.ok(ado.gets >= 3 && ado.gets <= 6, `${ado.gets} reads back within 20 s`);
  });

  it('accepted, then the connection cannot be read back: pending (it may have switched), not "press Update"', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    const { byName } = await go({ waitTimeoutSeconds: '0' }, [onOldIssuer(1)], dir, { before: (a) => ((a.migration = 'accepted'), (a.readsFail = true)) });
    assert.equal(byName('conn-1').outcome, 'pending');
    assert.equal(byName('conn-1').reasonCode, 'PendingIssuerReadBack');
  });

  it('a 404 about one connection (deleted meanwhile) does not close the route for the others', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    withApp(dir, 2);
    const { byName, ado } = await go({ concurrency: '1' }, [onOldIssuer(1), onOldIssuer(2)], dir, { before: (a) => (a.firstNotFound = true) });
    assert.equal(byName('conn-1').outcome, 'prepared');
    assert.equal(byName('conn-2').outcome, 'updated');
    assert.equal(ado.migrations.length, 2);
  });

  it('the wait for an accepted switch lasts waitTimeoutSeconds, not a backoff step less', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    const c = clock();
    const start = c.now();
    const host = new MemoryHost({ action: 'updateIssuer', entraConnection: ENTRA_ID, waitTimeoutSeconds: '6' });
    host.agents[ENTRA_ID] = AGENT;
    const ado = new AzureDevOpsWithMigration([onOldIssuer(1)], dir);
    ado.migration = 'accepted';
    await runTask({ host, clock: c, cancelled: new AbortController().signal, connect: () => ado, connectEntra: () => dir });
    assert.equal(c.now() - start, 6000, 'slept 2 s + 4 s, then looked once more');
    assert.equal(ado.gets, 3);
  });

  it('a client id that is not a GUID is left alone with that reason, never handed off', async () => {
    const dir = new Directory();
    const bad = onOldIssuer(1);
    bad.authorization!.parameters!['serviceprincipalid'] = "x'$(id)";
    const { byName, host } = await go({}, [bad], dir, { entra: false });
    assert.equal(byName('conn-1').reasonCode, 'SkipEntraNoClientId');
    assert.equal(host.files['/mem/ConvertToWif-handoff.md'], undefined);
  });

  it('the older Azure DevOps issuer (app.vstoken.visualstudio.com) is a candidate too', async () => {
    const dir = new Directory();
    withApp(dir, 1);
    const old = onOldIssuer(1);
    old.authorization!.parameters!['workloadidentityfederationissuer'] = `https://app.vstoken.visualstudio.com/${ORG_ID}`;
    const { byName } = await go({}, [old], dir);
    assert.equal(byName('conn-1').outcome, 'updated');
  });

  it('without System.CollectionId the subjects would be wrong: an input error, nothing sent', async () => {
    const dir = new Directory();
    const { host, ado } = await go({}, [onOldIssuer(1)], dir, { before: (_a, h) => (h.collectionId = () => undefined as unknown as string) });
    assert.equal(host.outcome?.kind, 'Failed');
    assert.ok(host.lines.some((l) => l.level === 'error' && /System\.CollectionId/.test(l.text)));
    assert.deepEqual(ado.migrations, []);
    assert.deepEqual(dir.calls, []);
  });
});
