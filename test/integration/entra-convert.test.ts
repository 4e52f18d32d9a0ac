// Issue "convert with no person in the loop": the PACKAGED task, run as the agent runs it, with the
// job identity (a service identity: Azure DevOps cannot get it an Entra token) and entraConnection,
// against the Azure DevOps emulator and the HTTPS emulators of Microsoft Entra, Microsoft Graph and
// the agent's OIDC endpoint (test/emulator/entraWorld.ts). The Azure DevOps emulator converts only
// when the app already has the credential it assigns (test/emulator/serviceEndpoints.ts).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { entraIssuer, entraSubject } from '../../tasks/ConvertToWif/src/core/identity';
import type { AgentConnection } from '../helpers/agent';
import { PROJECT } from '../helpers/endpoints';
import { Harness, allOutput } from '../helpers/harness';
import { runtimes } from '../helpers/nodes';
import { packagedEntry } from '../helpers/packaged';
import { ORG, SeedEndpoint } from '../helpers/seed';
import type { AppSeed, EntraSeed, FederatedCredentialSeed } from '../emulator/types';

const TENANT = '9d3f2b1a-6c5e-4f70-8a9b-0c1d2e3f4a5b';
const OTHER_TENANT = '1a2b3c4d-0000-4000-8000-0000000000ff';
const ENTRA_ID = 'e17a0000-0000-4000-8000-00000000e17a';
const ENTRA_CLIENT = 'e17ac11e-0000-4000-8000-00000000c11e';
const ENTRA_SECRET = 'Qx7~kV2.mN9_pL4-wR6~tZ1';
const AZDO_ISSUER = `https://vstoken.dev.azure.com/${ORG.id}`;
const AUD = 'api://AzureADTokenExchange';

const connId = (n: number) => `c0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const appId = (n: number) => `a0000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const objectId = (n: number) => `0b000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const entraFic = (n: number) => ({ issuer: entraIssuer(TENANT), subject: entraSubject(TENANT, ORG.id, connId(n))! });
const azdoFic = (name: string) => ({ issuer: AZDO_ISSUER, subject: `sc://${ORG.name}/${PROJECT.name}/${name}` });

interface Spec {
  n: number;
  name: string;
  creationMode?: 'Automatic' | 'Manual';
  tenant?: string;
  /** No app registration in the directory. */
  noApp?: boolean;
  fics?: FederatedCredentialSeed[];
  app?: Partial<AppSeed>;
  /** Already federated (on the Entra issuer). */
  federated?: boolean;
}

/** The secret connections to convert, and the entraConnection itself (federated, Entra issuer). */
function endpointsOf(specs: Spec[]): SeedEndpoint[] {
  return [
    ...specs.map((s): SeedEndpoint => ({
      id: connId(s.n),
      name: s.name,
      creationMode: s.creationMode ?? 'Automatic',
      ...(s.federated
        ? {
            scheme: 'WorkloadIdentityFederation',
            parameters: {
              tenantid: TENANT,
              serviceprincipalid: appId(s.n),
              workloadIdentityFederationIssuer: entraFic(s.n).issuer,
              workloadIdentityFederationSubject: entraFic(s.n).subject,
            },
          }
        : { parameters: { tenantid: s.tenant ?? TENANT, serviceprincipalid: appId(s.n), authenticationType: 'spnKey', serviceprincipalkey: null } }),
    })),
    {
      id: ENTRA_ID,
      name: 'entra-admin',
      scheme: 'WorkloadIdentityFederation',
      parameters: {
        tenantid: TENANT,
        serviceprincipalid: ENTRA_CLIENT,
        workloadIdentityFederationIssuer: entraIssuer(TENANT),
        workloadIdentityFederationSubject: entraSubject(TENANT, ORG.id, ENTRA_ID)!,
      },
    },
  ];
}

/** The tenant: an app per connection (owned by entraConnection's service principal) and that principal. */
function entraOf(
  specs: Spec[],
  o: { permissions?: Array<'Application.ReadWrite.OwnedBy' | 'Application.ReadWrite.All'>; propagationDelayMs?: number } = {},
): EntraSeed {
  return {
    propagationDelayMs: o.propagationDelayMs,
    taskInputConnections: [ENTRA_ID],
    tenants: [
      {
        id: TENANT,
        applications: specs
          .filter((s) => !s.noApp && (s.tenant ?? TENANT) === TENANT)
          .map((s) => ({
            appId: appId(s.n),
            objectId: objectId(s.n),
            displayName: `app-${s.name}`,
            owners: [ENTRA_CLIENT],
            federatedIdentityCredentials: s.fics ?? [],
            ...s.app,
          })),
        servicePrincipals: [
          {
            appId: ENTRA_CLIENT,
            displayName: 'ConvertToWif Entra admin',
            permissions: o.permissions ?? ['Application.ReadWrite.OwnedBy'],
            secret: ENTRA_SECRET,
            federatedIdentityCredentials: [{ name: 'pipeline', ...entraFic(0), subject: entraSubject(TENANT, ORG.id, ENTRA_ID)! }],
          },
        ],
      },
    ],
  };
}

const WIF: AgentConnection = { id: ENTRA_ID, scheme: 'WorkloadIdentityFederation', tenantId: TENANT, clientId: ENTRA_CLIENT };
const SECRET: AgentConnection = { id: ENTRA_ID, scheme: 'ServicePrincipal', tenantId: TENANT, clientId: ENTRA_CLIENT, secret: ENTRA_SECRET };
const ENTRA_INPUT = { entraConnection: ENTRA_ID, impactCheck: 'off' };

function graphCalls(h: Harness, from = 0) {
  const reqs = h.world!.hosts.graph.requests.slice(from);
  return { all: reqs, writes: reqs.filter((r) => r.method !== 'GET') };
}

for (const rt of runtimes()) {
  describe(`entraConnection: the job identity converts with credentials prepared in Entra (packaged task, ${rt.label})`, function () {
    this.timeout(120_000);
    const h = new Harness();
    let entry: string;
    before(async () => {
      entry = await packagedEntry();
    });
    afterEach(() => h.close());

    it('converts automatic and manual connections in one PUT each and leaves each app with exactly the credential the service uses', async () => {
      const specs: Spec[] = [
        { n: 1, name: 'prod-api' },
        { n: 2, name: 'prod-web' },
        { n: 3, name: 'prod-manual', creationMode: 'Manual' },
      ];
      const t = await h.go(
        endpointsOf(specs),
        { ...ENTRA_INPUT, includeManual: 'true' },
        { seed: { entra: entraOf(specs) }, connection: WIF, entry, node: rt.path },
      );
      assert.equal(t.run.result?.result, 'Succeeded', t.run.stdout);
      assert.deepEqual(
        specs.map((s) => t.byName(s.name)?.outcome),
        ['converted', 'converted', 'converted'],
      );
      assert.equal(t.puts.length, 3, 'one PUT per connection');
      for (const s of specs) {
        const fics = h.world!.app(appId(s.n))!.federatedIdentityCredentials;
        assert.deepEqual(
          fics.map((f) => [f.issuer, f.subject, f.audiences]),
          [[entraFic(s.n).issuer, entraFic(s.n).subject, [AUD]]],
          `${s.name}: only the credential the service uses`,
        );
        const stored = t.stored(s.name)!;
        assert.equal(stored.authorization.scheme, 'WorkloadIdentityFederation');
        assert.deepEqual(
          t.byName(s.name)!.credentials!.map((c) => [c.name, c.change]),
          [
            [`ConvertToWif-${connId(s.n)}-entra`, 'created'],
            [`ConvertToWif-${connId(s.n)}-azdo`, 'removed'],
          ],
        );
        assert.deepEqual(t.byName(s.name)!.app, { objectId: objectId(s.n), displayName: `app-${s.name}` });
      }
      const graph = graphCalls(h);
      assert.ok(graph.all.length <= 5 * specs.length, `${graph.all.length} Graph requests for ${specs.length} connections (target <= 5 each)`);
      assert.equal(h.world!.hosts.entra.requests.length, 1, 'one token call per run');
      assert.equal(h.world!.hosts.oidc.requests.length, 1, 'one ID token per run');
      const out = allOutput(t.run);
      assert.ok(!out.includes('emu-at.'), 'no Graph access token in the log, summary or report');
      assert.match(t.run.stdout, /federated credentials on app registration 'app-prod-api'/);
      const summary = t.run.summaryPath ? fs.readFileSync(t.run.summaryPath, 'utf8') : '';
      assert.match(summary, /Federated credentials in Microsoft Entra/);
    });

    it('a second run adds nothing, sends no PUT and no Graph write', async () => {
      const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
      await h.go(endpointsOf(specs), ENTRA_INPUT, { seed: { entra: entraOf(specs) }, connection: WIF, entry, node: rt.path });
      const before = h.world!.hosts.graph.requests.length;
      const again = await h.run(ENTRA_INPUT, { connection: WIF, entry, node: rt.path });
      assert.equal(again.puts.length, 0);
      assert.equal(again.byName('prod-api')?.outcome, 'federated');
      assert.deepEqual(graphCalls(h, before).all, [], 'nothing to prepare: Graph is not even read');
      assert.equal(again.run.result?.result, 'Succeeded');
    });
  });
}

describe('entraConnection: each failure and the dry run (packaged task)', function () {
  this.timeout(120_000);
  const h = new Harness();
  let entry: string;
  before(async () => {
    entry = await packagedEntry();
  });
  afterEach(() => h.close());

  it('without entraConnection the job identity fails on automatic connections with entraConnection named first; with it the next run converts them', async () => {
    const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
    const first = await h.go(endpointsOf(specs), { impactCheck: 'off' }, { seed: { entra: entraOf(specs) }, entry });
    const r = first.byName('prod-api')!;
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reasonCode, 'FailAadSilent');
    assert.match(r.reason!, /AAD returned silent failure\)\. Set entraConnection/);
    assert.equal(first.run.result?.result, 'Failed');
    const second = await h.run(ENTRA_INPUT, { connection: WIF, entry });
    assert.equal(second.byName('prod-api')?.outcome, 'converted', JSON.stringify(second.byName('prod-api')));
  });

  it('a dry run reads the apps, lists the credentials it would add, and writes nowhere', async () => {
    const specs: Spec[] = [
      { n: 1, name: 'prod-api' },
      {
        n: 2,
        name: 'prod-ready',
        fics: [
          { name: 'x', ...entraFic(2) },
          { name: 'y', ...azdoFic('prod-ready') },
        ],
      },
    ];
    const t = await h.go(endpointsOf(specs), { ...ENTRA_INPUT, dryRun: 'true' }, { seed: { entra: entraOf(specs) }, connection: WIF, entry });
    assert.equal(t.puts.length, 0);
    assert.deepEqual(graphCalls(h).writes, [], 'no POST or DELETE on Graph');
    assert.equal(t.byName('prod-api')?.reasonCode, 'PlannedAddCredentials');
    assert.deepEqual(
      t.byName('prod-api')?.credentials?.map((c) => c.change),
      ['wouldCreate', 'wouldCreate'],
    );
    assert.equal(t.byName('prod-ready')?.reasonCode, 'PlannedCredentialsReady');
    assert.equal(h.world!.app(appId(1))!.federatedIdentityCredentials.length, 0);
  });

  it('Graph 403 (no permission): failed with the permission, the owner step and who entraConnection is; nothing is sent', async () => {
    const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
    const t = await h.go(endpointsOf(specs), ENTRA_INPUT, { seed: { entra: entraOf(specs, { permissions: [] }) }, connection: WIF, entry });
    const r = t.byName('prod-api')!;
    assert.equal(r.reasonCode, 'FailGraphDenied');
    assert.match(r.reason!, /'entra-admin' \(client id e17ac11e-0000-4000-8000-00000000c11e\) \(entraConnection\) may not change app registration/);
    assert.match(r.reason!, /Application\.ReadWrite\.OwnedBy.*Owners > Add owners/);
    assert.equal(t.puts.length, 0);
  });

  it('an app Graph does not know, and an app of another tenant, are left alone with the reason', async () => {
    const specs: Spec[] = [
      { n: 1, name: 'gone', noApp: true },
      { n: 2, name: 'elsewhere', tenant: OTHER_TENANT },
    ];
    const t = await h.go(endpointsOf(specs), ENTRA_INPUT, { seed: { entra: entraOf(specs) }, connection: WIF, entry });
    assert.equal(t.byName('gone')?.reasonCode, 'SkipAppNotFound');
    assert.equal(t.byName('elsewhere')?.reasonCode, 'SkipEntraOtherTenant');
    assert.equal(t.puts.length, 0);
    assert.equal(t.run.result?.result, 'Succeeded');
  });

  it('a credential that takes a while to propagate: the conversion is tried again with backoff and succeeds', async () => {
    const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
    const t = await h.go(
      endpointsOf(specs),
      { ...ENTRA_INPUT, waitTimeoutSeconds: '30' },
      {
        seed: { entra: entraOf(specs, { propagationDelayMs: 2500 }) },
        connection: WIF,
        entry,
      },
    );
    assert.equal(t.byName('prod-api')?.outcome, 'converted', JSON.stringify(t.byName('prod-api')));
    assert.ok(t.puts.length >= 2, `${t.puts.length} PUTs: refused while propagating, then converted`);
  });

  it('a full app (20 credentials, none of ours) is a named failure: nothing added, nothing sent', async () => {
    const fics = Array.from({ length: 20 }, (_, i) => ({
      name: `gh-${i}`,
      issuer: 'https://token.actions.githubusercontent.com',
      subject: `repo:contoso/r${i}:ref:refs/heads/main`,
    }));
    const specs: Spec[] = [{ n: 1, name: 'prod-api', fics }];
    const t = await h.go(endpointsOf(specs), ENTRA_INPUT, { seed: { entra: entraOf(specs) }, connection: WIF, entry });
    assert.equal(t.byName('prod-api')?.reasonCode, 'FailAppCredentialLimit');
    assert.deepEqual(graphCalls(h).writes, []);
    assert.equal(t.puts.length, 0);
  });

  for (const [what, connection, key] of [
    ['a wrong client secret (AADSTS7000215)', { ...SECRET, secret: 'wrong' }, 'FailEntraSecret'],
    ['an unknown client id (AADSTS700016)', { ...WIF, clientId: 'deadbeef-0000-4000-8000-000000000000' }, 'FailEntraUnknownClient'],
  ] as const) {
    it(`${what}: every connection that needs Entra fails with what to fix on entraConnection; nothing is sent`, async () => {
      const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
      const t = await h.go(endpointsOf(specs), ENTRA_INPUT, { seed: { entra: entraOf(specs) }, connection, entry });
      assert.equal(t.byName('prod-api')?.reasonCode, key, JSON.stringify(t.byName('prod-api')));
      assert.equal(t.puts.length, 0);
      assert.deepEqual(graphCalls(h).all, []);
      assert.ok(!allOutput(t.run).includes(ENTRA_SECRET), 'the secret never appears');
    });
  }

  it('a secret-based entraConnection works too, and its secret is masked', async () => {
    const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
    const t = await h.go(endpointsOf(specs), ENTRA_INPUT, { seed: { entra: entraOf(specs) }, connection: SECRET, entry });
    assert.equal(t.byName('prod-api')?.outcome, 'converted');
    assert.ok(t.run.secretsMasked.includes(ENTRA_SECRET));
    assert.equal(h.world!.hosts.oidc.requests.length, 0, 'no ID token for a secret-based connection');
  });

  it('Graph throttling (429 with Retry-After) is waited out within the same run', async () => {
    const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
    const t = await h.go(endpointsOf(specs), ENTRA_INPUT, {
      seed: { entra: entraOf(specs) },
      connection: WIF,
      entry,
      before: () => h.world!.hosts.graph.addFault({ status: 429, headers: { 'Retry-After': '1' }, count: 2 }),
    });
    assert.equal(t.byName('prod-api')?.outcome, 'converted', JSON.stringify(t.byName('prod-api')));
    assert.ok(graphCalls(h).all.filter((r) => r.status === 429).length === 2);
  });

  it('when the service assigns the Azure DevOps issuer, that credential stays and the Entra one goes', async () => {
    const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
    const t = await h.go(endpointsOf(specs), ENTRA_INPUT, { seed: { entra: entraOf(specs), issuer: 'azuredevops' }, connection: WIF, entry });
    assert.equal(t.byName('prod-api')?.outcome, 'converted');
    assert.deepEqual(
      h.world!.app(appId(1))!.federatedIdentityCredentials.map((f) => [f.issuer, f.subject]),
      [[azdoFic('prod-api').issuer, azdoFic('prod-api').subject]],
    );
  });

  it('report: each app with its secrets and their end dates; a secret left on the app of a federated connection is a finding', async () => {
    const secret = { keyId: 'k1', displayName: 'ci', hint: 'Xy1', endDateTime: '2027-02-01T00:00:00Z' };
    const specs: Spec[] = [
      { n: 1, name: 'prod-api', app: { passwordCredentials: [secret] } },
      { n: 2, name: 'prod-federated', federated: true, app: { passwordCredentials: [{ ...secret, keyId: 'k2', displayName: 'left-over' }] } },
    ];
    const t = await h.go(endpointsOf(specs), { ...ENTRA_INPUT, action: 'report' }, { seed: { entra: entraOf(specs) }, connection: WIF, entry });
    assert.deepEqual(graphCalls(h).writes, []);
    assert.equal(t.byName('prod-api')?.app?.passwordCredentials?.[0]?.endDateTime, '2027-02-01T00:00:00Z');
    assert.equal(t.byName('prod-api')?.appFinding, undefined, 'a connection still on its secret needs it');
    assert.match(t.byName('prod-federated')?.appFinding ?? '', /1 client secret\(s\) still on app registration 'app-prod-federated'/);
    assert.ok(
      t.run.warnings.some((w) => /prod-federated: 1 client secret/.test(w)),
      t.run.warnings.join('\n'),
    );
    const summary = fs.readFileSync(t.run.summaryPath!, 'utf8');
    assert.match(summary, /left-over \(ends 2027-02-01\)/);
    // entraConnection's own app is not in the directory: nothing to audit there, and no error.
    assert.equal(t.run.errors.length, 0, t.run.errors.join('\n'));
  });

  for (const kind of ['apply-then-reset', 'cut-body'] as const) {
    it(`a credential POST applied but its answer lost (${kind}) is recorded as added, never duplicated, and tidied`, async () => {
      const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
      const t = await h.go(endpointsOf(specs), ENTRA_INPUT, {
        seed: { entra: entraOf(specs) },
        connection: WIF,
        entry,
        before: () => h.world!.hosts.graph.addFault({ method: 'POST', kind, count: 1 }),
      });
      assert.equal(t.byName('prod-api')?.outcome, 'converted', JSON.stringify(t.byName('prod-api')));
      assert.deepEqual(
        t.byName('prod-api')?.credentials?.map((c) => c.change),
        ['created', 'removed'],
      );
      assert.deepEqual(
        h.world!.app(appId(1))!.federatedIdentityCredentials.map((f) => f.issuer),
        [entraIssuer(TENANT)],
        'exactly the credential the service uses: no orphan, no duplicate',
      );
    });
  }

  it('a removal Graph refuses leaves the credential, noted in the report and as a warning', async () => {
    const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
    const t = await h.go(endpointsOf(specs), ENTRA_INPUT, {
      seed: { entra: entraOf(specs) },
      connection: WIF,
      entry,
      before: () => h.world!.hosts.graph.addFault({ method: 'DELETE', status: 500, count: 20 }),
    });
    assert.equal(t.byName('prod-api')?.outcome, 'converted');
    const azdo = t.byName('prod-api')?.credentials?.find((c) => c.issuer === AZDO_ISSUER);
    assert.equal(azdo?.change, 'created');
    assert.match(azdo?.note ?? '', /HTTP 500/);
    assert.ok(
      t.run.warnings.some((w) => /may be left there by this run/.test(w)),
      t.run.warnings.join('\n'),
    );
  });

  for (const [label, echo] of [
    ['plain', (s: string) => `AADSTS7000215: Invalid client secret provided: '${s}'.`],
    ['form-encoded', (s: string) => `AADSTS7000215: bad request body client_secret=${new URLSearchParams({ v: s }).toString().slice(2)}&x=1`],
    ['cut at the 1,000-character limit', (s: string) => `AADSTS7000215: ${'x'.repeat(990)}${s}`],
  ] as const) {
    it(`a token endpoint that echoes the client secret (${label}) never gets it, or a part of it, into the output`, async () => {
      const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
      const body = JSON.stringify({ error: 'invalid_client', error_description: echo(ENTRA_SECRET), error_codes: [7000215] });
      const t = await h.go(endpointsOf(specs), ENTRA_INPUT, {
        seed: { entra: entraOf(specs) },
        connection: SECRET,
        entry,
        env: { SYSTEM_DEBUG: 'true' },
        before: () => h.world!.hosts.entra.addFault({ status: 401, count: 10, body }),
      });
      assert.equal(t.byName('prod-api')?.reasonCode, 'FailEntraSecret');
      const out = allOutput(t.run);
      for (const part of [
        ENTRA_SECRET,
        encodeURIComponent(ENTRA_SECRET),
        new URLSearchParams({ v: ENTRA_SECRET }).toString().slice(2),
        ENTRA_SECRET.slice(0, 10),
      ])
        assert.ok(!out.includes(part), `'${part.slice(0, 4)}…' reached the output`);
    });
  }

  it('an entraConnection the agent did not hand over is an input error: nothing is sent anywhere', async () => {
    const specs: Spec[] = [{ n: 1, name: 'prod-api' }];
    const t = await h.go(endpointsOf(specs), ENTRA_INPUT, { seed: { entra: entraOf(specs) }, entry });
    assert.equal(t.run.result?.result, 'Failed');
    assert.match(t.run.errors.join('\n'), /the agent handed the task no service connection with that id/);
    assert.equal(t.requests.length, 0);
    assert.deepEqual(graphCalls(h).all, []);
  });
});
