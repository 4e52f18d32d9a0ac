// The Entra step of a conversion (core/entra.ts, core/steps.ts) through the use case, over in-memory
// ports: an Azure DevOps that converts only when the app already has the credential it assigns (as
// the service does for a service identity, docs/service-behaviour.md §1), and a directory in memory.
import * as assert from 'node:assert/strict';
import { ServiceError } from '../../tasks/ConvertToWif/src/core/failures';
import { entraIssuer, entraSubject, organizationName } from '../../tasks/ConvertToWif/src/core/identity';
import { RawInputs } from '../../tasks/ConvertToWif/src/core/inputs';
import { ConversionBody, Endpoint } from '../../tasks/ConvertToWif/src/core/model';
import { normalizeEndpoint } from '../../tasks/ConvertToWif/src/core/normalize';
import {
  AgentConnection,
  AzureDevOps,
  Clock,
  EntraApp,
  EntraPort,
  FederatedCredential,
  ManagedIdentity,
  NewFederatedCredential,
} from '../../tasks/ConvertToWif/src/core/ports';
import { runTask } from '../../tasks/ConvertToWif/src/core/runTask';
import { PROJECT, endpoint } from '../helpers/endpoints';
import { MemoryHost, clock } from '../helpers/memory';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER_TENANT = '11111111-86f1-41af-91ab-2d7cd011db47';
const ORG_ID = '7a6c1d1e-0000-4000-8000-00000000c0de';
const ENTRA_ID = 'e0e0e0e0-0000-4000-8000-0000000000e0';
const ENTRA_CLIENT = 'c1c1c1c1-0000-4000-8000-0000000000c1';
const appIdOf = (n: number) => `a0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const idOf = (n: number) => `e0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function conn(n: number, o: { tenant?: string; creationMode?: 'Automatic' | 'Manual' } = {}): Endpoint {
  return endpoint({
    name: `conn-${n}`,
    id: idOf(n),
    creationMode: o.creationMode,
    parameters: { tenantid: o.tenant ?? TENANT, serviceprincipalid: appIdOf(n), authenticationType: 'spnKey', serviceprincipalkey: null },
  });
}

interface MemoryApp extends EntraApp {
  fics: FederatedCredential[];
}

/** Entra and Graph in memory: apps by client id, every call recorded. */
class MemoryEntra implements EntraPort {
  calls: string[] = [];
  apps = new Map<string, MemoryApp>();
  signInError?: ServiceError;
  denyWrites = false;
  /** The next POSTs: applied, then their answer is lost ('lost'), or answered with another credential ('other'). */
  postFaults: Array<'lost' | 'lost-unapplied' | 'other'> = [];
  /** The next list calls fail with a network error. */
  listFailures = 0;
  /** Called on every POST (e.g. to cancel the run in the middle of a preparation). */
  onPost?: () => void;
  private next = 0;
  add(n: number, fics: Array<Omit<FederatedCredential, 'id' | 'audiences'>> = [], secrets: EntraApp['secrets'] = []): MemoryApp {
    const app: MemoryApp = {
      objectId: `0b000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      appId: appIdOf(n),
      displayName: `app of conn-${n}`,
      fics: fics.map((f) => ({ ...f, id: `fic-${++this.next}`, audiences: ['api://AzureADTokenExchange'] })),
      secrets,
    };
    this.apps.set(app.appId, app);
    return app;
  }
  private byObject(id: string): MemoryApp {
    const a = [...this.apps.values()].find((x) => x.objectId === id);
    if (!a) throw new ServiceError({ status: 404, message: 'Request_ResourceNotFound', service: 'graph', code: 'Request_ResourceNotFound' });
    return a;
  }
  signIn = async () => {
    this.calls.push('signIn');
    if (this.signInError) throw this.signInError;
  };
  findApp = async (clientId: string, o: { withSecrets?: boolean } = {}) => {
    this.calls.push(`GET app ${clientId}`);
    const a = this.apps.get(clientId);
    if (!a) return null;
    return { objectId: a.objectId, appId: a.appId, displayName: a.displayName, ...(o.withSecrets ? { secrets: a.secrets } : {}) };
  };
  credentials = async (objectId: string) => {
    this.calls.push(`GET fics ${objectId}`);
    if (this.listFailures > 0 && this.listFailures--) throw new ServiceError({ message: 'socket hang up', service: 'graph' });
    return this.byObject(objectId).fics.map((f) => ({ ...f }));
  };
  addCredential = async (objectId: string, c: NewFederatedCredential) => {
    this.calls.push(`POST fic ${c.name}`);
    if (this.denyWrites)
      throw new ServiceError({
        status: 403,
        message: 'Insufficient privileges to complete the operation.',
        service: 'graph',
        code: 'Authorization_RequestDenied',
      });
    this.onPost?.();
    const app = this.byObject(objectId);
    const fault = this.postFaults.shift();
    if (fault === 'lost-unapplied') throw new ServiceError({ message: 'The request timed out.', service: 'graph', timedOut: true });
    if (fault === 'other') return { ...app.fics[0] };
    if (app.fics.length >= 20)
      throw new ServiceError({
        status: 400,
        message: 'The application has reached the limit of 20 federated identity credentials.',
        service: 'graph',
        code: 'Request_BadRequest',
      });
    const f: FederatedCredential = { id: `fic-${++this.next}`, name: c.name, issuer: c.issuer, subject: c.subject, audiences: c.audiences };
    app.fics.push(f);
    if (fault === 'lost') throw new ServiceError({ message: 'The request timed out.', service: 'graph', timedOut: true });
    return f;
  };
  removeCredential = async (objectId: string, id: string) => {
    this.calls.push(`DELETE fic ${id}`);
    const app = this.byObject(objectId);
    app.fics = app.fics.filter((f) => f.id !== id);
  };
  writes = () => this.calls.filter((c) => /^(POST|PUT|DELETE)/.test(c));
  // The issuer-move methods (ARM managed identities, the Azure DevOps token): minimal, in memory.
  identities: ManagedIdentity[] = [];
  identityFics = new Map<string, FederatedCredential[]>();
  azureDevOpsToken = async () => {
    this.calls.push('token azuredevops');
    if (this.signInError) throw this.signInError;
    return 'entra-token-for-azure-devops';
  };
  findManagedIdentity = async (subscriptionId: string, clientId: string) => {
    this.calls.push(`GET mi ${subscriptionId} ${clientId}`);
    return this.identities.find((m) => m.subscriptionId === subscriptionId && m.clientId === clientId.toLowerCase()) ?? null;
  };
  managedIdentityCredentials = async (resourceId: string) => {
    this.calls.push(`GET mi fics ${resourceId}`);
    return (this.identityFics.get(resourceId) ?? []).map((f) => ({ ...f }));
  };
  putManagedIdentityCredential = async (resourceId: string, c: Omit<NewFederatedCredential, 'description'>) => {
    this.calls.push(`PUT mi fic ${c.name}`);
    const f: FederatedCredential = { id: `${resourceId}/federatedIdentityCredentials/${c.name}`, ...c };
    this.identityFics.set(resourceId, [...(this.identityFics.get(resourceId) ?? []).filter((x) => x.name !== c.name), f]);
    return f;
  };
}

/** Azure DevOps for a service identity: converts synchronously when the app has the Entra credential, else the silent failure. */
class ServiceIdentityAzureDevOps implements AzureDevOps {
  puts: string[] = [];
  /** Refuse this many PUTs per connection with the silent failure even when the credential exists (propagation). */
  propagationRefusals = 0;
  private refused = new Map<string, number>();
  /** Connections the identity does not administer: their PUT is refused with 403. */
  notAdministrator = new Set<string>();
  constructor(
    private readonly endpoints: Endpoint[],
    private readonly entra: MemoryEntra,
  ) {}
  list = async () => ({ endpoints: this.endpoints, malformed: 0 });
  get = async (id: string) => this.endpoints.find((e) => e.id === id) ?? null;
  convert = async (id: string, body: ConversionBody) => {
    this.puts.push(id);
    if (this.notAdministrator.has(id)) throw new ServiceError({ status: 403, message: 'Access denied. needs Administrator permissions' });
    const i = this.endpoints.findIndex((x) => x.id === id);
    const e = this.endpoints[i];
    const tenant = e.authorization!.parameters!['tenantid']!;
    const issuer = entraIssuer(tenant);
    const subject = entraSubject(tenant, ORG_ID, id)!;
    const app = this.entra.apps.get(e.authorization!.parameters!['serviceprincipalid']!);
    const has = app?.fics.some((f) => f.issuer === issuer && f.subject === subject);
    const refusedSoFar = this.refused.get(id) ?? 0;
    if (!has || refusedSoFar < this.propagationRefusals) {
      this.refused.set(id, refusedSoFar + 1);
      throw new ServiceError({
        status: 500,
        typeKey: 'AadAccessSilentException',
        message: 'Failed to obtain an access token of identity 1234. AAD returned silent failure.',
      });
    }
    const converted = normalizeEndpoint({
      ...e,
      authorization: {
        scheme: body.authorization.scheme,
        parameters: { tenantid: tenant, serviceprincipalid: app!.appId, workloadIdentityFederationIssuer: issuer, workloadIdentityFederationSubject: subject },
      },
      data: { ...e.data, revertSchemeDeadline: '2026-12-08T12:00:00Z' },
      operationStatus: { state: 'Ready' },
    })!;
    this.endpoints[i] = converted;
    return converted;
  };
  manageableIds = async () => new Set(this.endpoints.map((e) => e.id.toLowerCase()));
  whoAmI = async () => 'Payments Build Service (contoso)';
  executionHistory = async () => ({ records: [] });
  buildTasks = async () => [];
  pipelineYaml = async () => '';
  taskDefinitions = async () => [];
}

const SECRET_CONNECTION: AgentConnection = {
  id: ENTRA_ID,
  scheme: 'ServicePrincipal',
  tenantId: TENANT,
  clientId: ENTRA_CLIENT,
  secret: 'entra-secret-value',
};

async function go(
  inputs: RawInputs,
  endpoints: Endpoint[],
  entra: MemoryEntra,
  o: { agent?: AgentConnection | null; before?: (ado: ServiceIdentityAzureDevOps, host: MemoryHost) => void; abort?: AbortController; clock?: Clock } = {},
) {
  const host = new MemoryHost({ impactCheck: 'off', entraConnection: ENTRA_ID, ...inputs });
  if (o.agent !== null) host.agents[ENTRA_ID] = o.agent ?? SECRET_CONNECTION;
  const ado = new ServiceIdentityAzureDevOps(endpoints, entra);
  o.before?.(ado, host);
  let built = 0;
  await runTask({
    host,
    clock: o.clock ?? clock(),
    cancelled: (o.abort ?? new AbortController()).signal,
    connect: () => ado,
    connectEntra: () => {
      built++;
      return entra;
    },
  });
  const byName = (name: string) => host.report.connections.find((c) => c.name === name)!;
  return { host, ado, byName, built };
}

describe('Entra step (core/entra.ts) over in-memory ports', () => {
  it('adds both credentials, converts with one PUT, then removes the one the service does not use', async () => {
    const entra = new MemoryEntra();
    const app = entra.add(1);
    const { host, ado, byName } = await go({}, [conn(1)], entra);
    assert.equal(host.outcome?.kind, 'Succeeded', JSON.stringify(host.lines));
    assert.deepEqual(ado.puts, [idOf(1)], 'one PUT');
    const r = byName('conn-1');
    assert.equal(r.outcome, 'converted');
    assert.deepEqual(r.app, { objectId: app.objectId, displayName: 'app of conn-1' });
    assert.deepEqual(
      r.credentials?.map((c) => [c.name, c.change]),
      [
        [`ConvertToWif-${idOf(1)}-entra`, 'created'],
        [`ConvertToWif-${idOf(1)}-azdo`, 'removed'],
      ],
    );
    assert.deepEqual(
      entra.apps.get(appIdOf(1))!.fics.map((f) => [f.issuer, f.subject]),
      [[entraIssuer(TENANT), entraSubject(TENANT, ORG_ID, idOf(1))]],
      'the app keeps exactly the credential the service uses',
    );
    const azdo = r.credentials[1];
    assert.equal(azdo.issuer, `https://vstoken.dev.azure.com/${ORG_ID}`);
    assert.equal(azdo.subject, `sc://contoso/${PROJECT.name}/conn-1`);
    assert.deepEqual(
      entra.calls.filter((c) => c === 'signIn'),
      ['signIn'],
      'one sign-in per run',
    );
    assert.ok(host.secrets.includes('entra-secret-value'), 'the secret of entraConnection is masked');
    assert.ok(
      host.lines.some((l) => l.level === 'info' && /federated credentials on app registration 'app of conn-1'/.test(l.text)),
      'the log says what changed in Entra',
    );
  });

  it('a second run adds nothing and sends no PUT (idempotent)', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    const endpoints = [conn(1)];
    await go({}, endpoints, entra);
    const before = entra.calls.length;
    const second = await go({}, endpoints, entra);
    assert.deepEqual(second.ado.puts, []);
    assert.equal(second.byName('conn-1').outcome, 'federated');
    assert.deepEqual(entra.calls.slice(before), [], 'nothing to do in Entra: not even a sign-in');
  });

  it('reuses a credential that is already there, never duplicates it', async () => {
    const entra = new MemoryEntra();
    entra.add(1, [{ name: 'made-by-hand', issuer: entraIssuer(TENANT), subject: entraSubject(TENANT, ORG_ID, idOf(1))! }]);
    const { byName } = await go({}, [conn(1)], entra);
    const r = byName('conn-1');
    assert.equal(r.outcome, 'converted');
    assert.deepEqual(
      r.credentials?.map((c) => [c.name, c.change]),
      [
        ['made-by-hand', 'existing'],
        [`ConvertToWif-${idOf(1)}-azdo`, 'removed'],
      ],
    );
    assert.equal(entra.calls.filter((c) => c.startsWith('POST')).length, 1, 'only the missing one is added');
    assert.deepEqual(
      entra.apps.get(appIdOf(1))!.fics.map((f) => f.name),
      ['made-by-hand'],
    );
  });

  it('never removes a credential it did not add, even when the service uses the other', async () => {
    const entra = new MemoryEntra();
    // Someone added the Azure DevOps issuer's credential by hand; the service assigns the Entra one.
    entra.add(1, [{ name: 'old-issuer', issuer: `https://vstoken.dev.azure.com/${ORG_ID}`, subject: `sc://contoso/${PROJECT.name}/conn-1` }]);
    const { byName } = await go({}, [conn(1)], entra);
    assert.deepEqual(
      byName('conn-1').credentials?.map((c) => c.change),
      ['created', 'existing'],
    );
    assert.equal(entra.apps.get(appIdOf(1))!.fics.length, 2);
    assert.deepEqual(
      entra.writes().filter((c) => c.startsWith('DELETE')),
      [],
    );
  });

  it('a name taken by a credential with other values gets a suffix', async () => {
    const entra = new MemoryEntra();
    entra.add(1, [{ name: `ConvertToWif-${idOf(1)}-azdo`, issuer: `https://vstoken.dev.azure.com/${ORG_ID}`, subject: 'sc://contoso/Payments/old-name' }]);
    const { byName } = await go({}, [conn(1)], entra);
    assert.deepEqual(
      byName('conn-1').credentials?.map((c) => c.name),
      [`ConvertToWif-${idOf(1)}-entra`, `ConvertToWif-${idOf(1)}-azdo-2`],
    );
  });

  it('tries the conversion again while a new credential propagates, within waitTimeoutSeconds', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    const { ado, byName } = await go({ waitTimeoutSeconds: '60' }, [conn(1)], entra, { before: (a) => (a.propagationRefusals = 2) });
    assert.equal(ado.puts.length, 3, 'two refusals, then converted');
    assert.equal(byName('conn-1').outcome, 'converted');
  });

  it('gives up when the credential never works within waitTimeoutSeconds, and says what is on the app', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    const { ado, byName } = await go({ waitTimeoutSeconds: '10' }, [conn(1)], entra, { before: (a) => (a.propagationRefusals = 99) });
    assert.ok(ado.puts.length >= 2 && ado.puts.length <= 4, `${ado.puts.length} PUTs within 10 s of backoff`);
    const r = byName('conn-1');
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reasonCode, 'FailPreparedNotUsed');
    assert.match(r.reason!, /App registration 'app of conn-1' has the federated credentials/);
    assert.deepEqual(
      r.credentials?.map((c) => c.change),
      ['created', 'created'],
      'both credentials stay recorded as added: nothing was removed',
    );
  });

  it('a conversion refused for another reason (not an Administrator) removes what this run added: the app is as it was', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    const { byName } = await go({}, [conn(1)], entra, { before: (a) => a.notAdministrator.add(idOf(1)) });
    const r = byName('conn-1');
    assert.equal(r.reasonCode, 'FailNotAdministrator');
    assert.deepEqual(
      r.credentials?.map((c) => c.change),
      ['removed', 'removed'],
    );
    assert.deepEqual(entra.apps.get(appIdOf(1))!.fics, []);
  });

  it('a POST applied whose answer was lost is found again, recorded as added, and tidied like any other', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    entra.postFaults = ['lost', 'lost'];
    const { byName } = await go({}, [conn(1)], entra);
    const r = byName('conn-1');
    assert.equal(r.outcome, 'converted', JSON.stringify(r));
    assert.deepEqual(
      r.credentials?.map((c) => c.change),
      ['created', 'removed'],
    );
    assert.deepEqual(
      entra.apps.get(appIdOf(1))!.fics.map((f) => f.issuer),
      [entraIssuer(TENANT)],
      'no orphan',
    );
  });

  it('a POST whose outcome stays unknown is recorded with a note, and what was added before goes again', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    entra.postFaults = [undefined as never, 'lost-unapplied'];
    entra.listFailures = 0;
    const { byName, ado } = await go({}, [conn(1)], entra, {
      before: () => {
        // the re-list after the lost answer fails too
        const list = entra.credentials;
        let calls = 0;
        entra.credentials = async (id) => {
          if (++calls === 2) throw new ServiceError({ message: 'socket hang up', service: 'graph' });
          return list(id);
        };
      },
    });
    const r = byName('conn-1');
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reasonCode, 'FailEntraNetwork');
    assert.deepEqual(ado.puts, []);
    assert.deepEqual(
      r.credentials?.map((c) => [c.change, Boolean(c.note)]),
      [
        ['removed', false],
        ['wouldCreate', true],
      ],
    );
  });

  it('an answer to the POST that names another credential is not trusted: nothing of it is ever deleted', async () => {
    const entra = new MemoryEntra();
    entra.add(1, [
      { name: 'github-main', issuer: 'https://token.actions.githubusercontent.com', subject: 'repo:contoso/app:ref:refs/heads/main' },
      { name: 'pre-entra', issuer: entraIssuer(TENANT), subject: entraSubject(TENANT, ORG_ID, idOf(1))! },
    ]);
    entra.postFaults = ['other'];
    const { byName } = await go({}, [conn(1)], entra);
    assert.ok(
      entra.apps.get(appIdOf(1))!.fics.some((f) => f.name === 'github-main'),
      'the GitHub credential survives',
    );
    assert.ok(!entra.calls.some((c) => c.startsWith('DELETE')));
    assert.equal(byName('conn-1').reasonCode, 'FailGraphAdd');
  });

  it('two connections sharing one app near the limit are prepared one at a time: no race past the limit, nothing left behind', async () => {
    const entra = new MemoryEntra();
    const others = Array.from({ length: 18 }, (_, i) => ({ name: `gh-${i}`, issuer: 'https://token.actions.githubusercontent.com', subject: `repo:r${i}` }));
    const shared = entra.add(1, others);
    const second = conn(2);
    second.authorization!.parameters!['serviceprincipalid'] = appIdOf(1);
    const endpoints = [conn(1), second];
    const first = await go({}, endpoints, entra);
    assert.equal(first.byName('conn-1').outcome, 'converted', JSON.stringify(first.byName('conn-1')));
    // conn-2 was prepared while conn-1's two credentials were on the app: no room, nothing added.
    assert.equal(first.byName('conn-2').reasonCode, 'FailAppCredentialLimit');
    assert.deepEqual(first.byName('conn-2').credentials ?? [], []);
    assert.equal(shared.fics.length, 19, "conn-1's unused credential went; nothing of conn-2's is left");
    const again = await go({}, endpoints, entra);
    assert.equal(again.byName('conn-2').outcome, 'converted', 'the next run has room for the Entra issuer');
    assert.equal(shared.fics.length, 20);
  });

  it('a full app that already holds the credential the service uses converts without any write', async () => {
    const entra = new MemoryEntra();
    const others = Array.from({ length: 19 }, (_, i) => ({ name: `gh-${i}`, issuer: 'https://token.actions.githubusercontent.com', subject: `repo:r${i}` }));
    entra.add(1, [...others, { name: 'by-hand', ...{ issuer: entraIssuer(TENANT), subject: entraSubject(TENANT, ORG_ID, idOf(1))! } }]);
    const { byName } = await go({}, [conn(1)], entra);
    assert.equal(byName('conn-1').outcome, 'converted');
    assert.deepEqual(entra.writes(), []);
  });

  it('a credential with the right issuer and subject but another audience is a named failure', async () => {
    const entra = new MemoryEntra();
    const app = entra.add(1, [{ name: 'wrong-aud', issuer: entraIssuer(TENANT), subject: entraSubject(TENANT, ORG_ID, idOf(1))! }]);
    app.fics[0].audiences = ['api://something-else'];
    const { byName, ado } = await go({}, [conn(1)], entra);
    assert.equal(byName('conn-1').reasonCode, 'FailCredentialAudience');
    assert.match(byName('conn-1').reason!, /'wrong-aud'.*the audience api:\/\/something-else/);
    assert.deepEqual(ado.puts, []);
  });

  it('cancelled in the middle of a preparation: what was added stays and the reason says so', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    const abort = new AbortController();
    let posts = 0;
    entra.onPost = () => {
      if (++posts === 2) abort.abort();
    };
    const orig = entra.addCredential;
    entra.addCredential = async (id, c) => {
      const r = await orig(id, c);
      if (abort.signal.aborted) throw new ServiceError({ message: 'The run was cancelled.', cancelled: true });
      return r;
    };
    // The grace period after a cancellation is real here (a few ms), so the preparation can end in it.
    const c = clock();
    const graceful = { ...c, wait: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 50))) };
    const { byName, ado, host } = await go({}, [conn(1)], entra, { abort, clock: graceful });
    assert.deepEqual(ado.puts, []);
    assert.equal(byName('conn-1').reasonCode, 'SkipCancelledPrepared');
    assert.equal(byName('conn-1').credentials?.[0]?.change, 'created');
    assert.equal(host.outcome?.kind, 'Cancelled');
  });

  it('an app not found in the tenant, and an app of another tenant, are left alone with the reason; nothing is sent for them', async () => {
    const entra = new MemoryEntra();
    const { ado, byName } = await go({}, [conn(1), conn(2, { tenant: OTHER_TENANT })], entra);
    assert.deepEqual(ado.puts, []);
    assert.equal(byName('conn-1').outcome, 'skipped');
    assert.equal(byName('conn-1').reasonCode, 'SkipAppNotFound');
    assert.equal(byName('conn-2').reasonCode, 'SkipEntraOtherTenant');
    assert.match(byName('conn-2').reason!, new RegExp(`tenant ${OTHER_TENANT}.*client id ${ENTRA_CLIENT}.*tenant ${TENANT}`));
    assert.ok(!entra.calls.includes(`GET app ${appIdOf(2)}`), 'no Graph call for an app of another tenant');
  });

  it('Graph 403 on the write: failed with the permission and the owner step, no PUT; the others go on', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    entra.add(2, [
      { name: 'a', issuer: entraIssuer(TENANT), subject: entraSubject(TENANT, ORG_ID, idOf(2))! },
      { name: 'b', issuer: `https://vstoken.dev.azure.com/${ORG_ID}`, subject: `sc://contoso/${PROJECT.name}/conn-2` },
    ]);
    entra.denyWrites = true;
    const { ado, byName, host } = await go({}, [conn(1), conn(2)], entra);
    assert.deepEqual(ado.puts, [idOf(2)], 'the app that needs no write converts');
    const r = byName('conn-1');
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reasonCode, 'FailGraphDenied');
    assert.match(r.reason!, /client id c1c1c1c1.*Application\.ReadWrite\.OwnedBy.*Owners > Add owners.*Application\.ReadWrite\.All/);
    assert.match(r.serviceMessage!, /403 Authorization_RequestDenied/);
    assert.equal(byName('conn-2').outcome, 'converted');
    assert.equal(host.outcome?.kind, 'Failed');
  });

  it('a full app (20 credentials, none of ours) is a named failure: nothing added, nothing sent', async () => {
    const entra = new MemoryEntra();
    entra.add(
      1,
      Array.from({ length: 20 }, (_, i) => ({
        name: `f${i}`,
        issuer: 'https://token.actions.githubusercontent.com',
        subject: `repo:contoso/r${i}:ref:refs/heads/main`,
      })),
    );
    const { ado, byName } = await go({}, [conn(1)], entra);
    assert.deepEqual(ado.puts, []);
    assert.deepEqual(entra.writes(), []);
    assert.equal(byName('conn-1').reasonCode, 'FailAppCredentialLimit');
    assert.match(byName('conn-1').reason!, /already has 20 federated credentials; Microsoft Entra allows 20 per app, and this conversion needs 2 more/);
  });

  it("an app with room for one credential gets the Entra issuer's only, and converts", async () => {
    const entra = new MemoryEntra();
    const app = entra.add(
      1,
      Array.from({ length: 19 }, (_, i) => ({ name: `f${i}`, issuer: 'https://token.actions.githubusercontent.com', subject: `repo:contoso/r${i}` })),
    );
    const { byName } = await go({}, [conn(1)], entra);
    assert.equal(byName('conn-1').outcome, 'converted');
    assert.deepEqual(
      byName('conn-1').credentials?.map((c) => [c.name, c.change]),
      [[`ConvertToWif-${idOf(1)}-entra`, 'created']],
    );
    assert.equal(app.fics.length, 20);
  });

  it('a sign-in refused by Entra fails every connection that needs it with what to fix; nothing is sent', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    entra.add(2);
    entra.signInError = new ServiceError({ status: 401, message: 'Invalid client secret provided.', service: 'entra', code: 'AADSTS7000215' });
    const { ado, host, byName } = await go({}, [conn(1), conn(2)], entra);
    assert.deepEqual(ado.puts, []);
    assert.deepEqual([byName('conn-1').reasonCode, byName('conn-2').reasonCode], ['FailEntraSecret', 'FailEntraSecret']);
    assert.equal(host.lines.filter((l) => l.level === 'error' && /refused the client secret/.test(l.text)).length, 2, 'one error line per connection');
    assert.deepEqual(
      entra.calls.filter((c) => c !== 'signIn'),
      [],
    );
  });

  for (const [code, key] of [
    ['AADSTS700016', 'FailEntraUnknownClient'],
    ['AADSTS70021', 'FailEntraNoFederation'],
    ['AADSTS90002', 'FailEntraTenant'],
    ['AADSTS50000', 'FailEntraSignIn'],
  ] as const) {
    it(`the token call's ${code} becomes ${key}`, async () => {
      const entra = new MemoryEntra();
      entra.add(1);
      entra.signInError = new ServiceError({ status: 400, message: 'refused', service: 'entra', code });
      const { byName } = await go({}, [conn(1)], entra);
      assert.equal(byName('conn-1').reasonCode, key);
    });
  }

  it('the agent refusing the ID token (OIDC 404) names the pipeline authorization', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    entra.signInError = new ServiceError({ status: 404, message: 'No service connection found', service: 'oidc' });
    const agent: AgentConnection = { id: ENTRA_ID, scheme: 'WorkloadIdentityFederation', tenantId: TENANT, clientId: ENTRA_CLIENT };
    const { byName } = await go({}, [conn(1)], entra, { agent });
    assert.equal(byName('conn-1').reasonCode, 'FailOidcNotFound');
  });

  it('a dry run reads the app and lists what would be added; no write anywhere', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    entra.add(2, [
      { name: 'a', issuer: entraIssuer(TENANT), subject: entraSubject(TENANT, ORG_ID, idOf(2))! },
      { name: 'b', issuer: `https://vstoken.dev.azure.com/${ORG_ID}`, subject: `sc://contoso/${PROJECT.name}/conn-2` },
    ]);
    const { ado, byName, host } = await go({ dryRun: 'true' }, [conn(1), conn(2), conn(3)], entra);
    assert.deepEqual(ado.puts, []);
    assert.deepEqual(entra.writes(), []);
    const one = byName('conn-1');
    assert.equal(one.outcome, 'planned');
    assert.equal(one.reasonCode, 'PlannedAddCredentials');
    assert.match(one.reason!, /whether it may write it is known only when writing/);
    assert.deepEqual(
      one.credentials?.map((c) => c.change),
      ['wouldCreate', 'wouldCreate'],
    );
    assert.equal(byName('conn-2').reasonCode, 'PlannedCredentialsReady');
    assert.equal(byName('conn-3').reasonCode, 'SkipAppNotFound', 'the dry run shows what the real run would do');
    assert.ok(!host.lines.some((l) => l.level === 'warning' && /conn-1/.test(l.text)), 'a plan note is not a warning');
  });

  it('report: lists the secrets of each app, and flags secrets left on the app of a federated connection', async () => {
    const entra = new MemoryEntra();
    entra.add(1, [], [{ kind: 'secret', displayName: 'pipeline', hint: 'abc', endDateTime: '2027-03-01T00:00:00Z' }]);
    entra.add(2, [], [{ kind: 'secret', displayName: 'old', hint: 'xyz', endDateTime: '2027-05-01T00:00:00Z' }]);
    const federated = endpoint({
      name: 'conn-2',
      id: idOf(2),
      scheme: 'WorkloadIdentityFederation',
      parameters: {
        tenantid: TENANT,
        serviceprincipalid: appIdOf(2),
        workloadIdentityFederationIssuer: entraIssuer(TENANT),
        workloadIdentityFederationSubject: 's',
      },
    });
    const { host, byName } = await go({ action: 'report' }, [conn(1), federated], entra);
    assert.deepEqual(entra.writes(), []);
    assert.equal(byName('conn-1').app?.passwordCredentials?.[0]?.endDateTime, '2027-03-01T00:00:00Z');
    assert.equal(byName('conn-1').appFinding, undefined, 'a connection still on its secret needs it');
    assert.match(byName('conn-2').appFinding ?? '', /1 client secret\(s\) still on app registration 'app of conn-2'.*never deletes secrets/);
    assert.ok(host.lines.some((l) => l.level === 'warning' && /conn-2: 1 client secret/.test(l.text)));
    const summary = host.files['/mem/summary.md'];
    assert.match(summary, /Client secrets and certificates of the apps/);
    assert.match(summary, /secret pipeline \(ends 2027-03-01\)/);
  });

  it('revert leaves Entra alone and says so', async () => {
    const entra = new MemoryEntra();
    const federated = endpoint({
      name: 'conn-1',
      id: idOf(1),
      scheme: 'WorkloadIdentityFederation',
      data: { revertSchemeDeadline: '2026-12-05T00:00:00Z' },
      parameters: { tenantid: TENANT, serviceprincipalid: appIdOf(1) },
    });
    const { host, built } = await go({ action: 'revert', dryRun: 'true' }, [federated], entra, { agent: null });
    assert.equal(built, 0, 'no Entra client for a revert');
    assert.ok(host.lines.some((l) => /Revert leaves the federated credentials in Microsoft Entra in place/.test(l.text)));
  });

  it('an entraConnection the agent did not hand over, or one without what it needs, is an input error: nothing is built or sent', async () => {
    const entra = new MemoryEntra();
    for (const [agent, pattern] of [
      [null, /agent handed the task no service connection with that id/],
      [{ ...SECRET_CONNECTION, secret: undefined }, /without a client secret/],
      [{ ...SECRET_CONNECTION, scheme: 'ManagedServiceIdentity' }, /Allowed: WorkloadIdentityFederation or ServicePrincipal/],
      [{ ...SECRET_CONNECTION, tenantId: 'contoso.onmicrosoft.com' }, /no Microsoft Entra tenant id/],
      [{ ...SECRET_CONNECTION, authorityUrl: 'http://login.example/' }, /environmentAuthorityUrl is not an https URL/],
      [{ ...SECRET_CONNECTION, environment: 'AzureUSGovernment' }, /only the Azure public cloud/],
    ] as const) {
      const { host, ado, built } = await go({}, [conn(1)], entra, { agent: agent as AgentConnection | null });
      assert.equal(host.outcome?.kind, 'Failed');
      assert.ok(
        host.lines.some((l) => l.level === 'error' && pattern.test(l.text)),
        `${String(pattern)} in ${JSON.stringify(host.lines)}`,
      );
      assert.equal(built, 0);
      assert.deepEqual(ado.puts, []);
    }
  });

  it('without entraConnection the silent failure names entraConnection as the fix, first', async () => {
    const entra = new MemoryEntra();
    entra.add(1);
    const { byName } = await go({ entraConnection: '' }, [conn(1)], entra, { agent: null });
    const r = byName('conn-1');
    assert.equal(r.reasonCode, 'FailAadSilent');
    assert.match(r.reason!, /this identity cannot act in Microsoft Entra ID \(AAD returned silent failure\)\. Set entraConnection/);
  });

  it('organizationName reads dev.azure.com, visualstudio.com and other collection URLs', () => {
    assert.equal(organizationName('https://dev.azure.com/contoso/'), 'contoso');
    assert.equal(organizationName('https://contoso.visualstudio.com/'), 'contoso');
    assert.equal(organizationName('http://127.0.0.1:5555/fabrikam'), 'fabrikam');
    assert.equal(organizationName('not a url'), undefined);
  });
});
