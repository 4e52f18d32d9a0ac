// `action: updateIssuer`: moving federated connections off the Azure DevOps issuer, which Microsoft
// retires on 2027-07-01 (docs/service-behaviour.md §7, §19). Per connection:
//
//   identity ──► credential ──► migrate ──► read back ──► updated     switched and verified
//      │             │              └──────────────────► prepared    credential in place; press Update
//      └─────────────┴─────────────────────────────────► handoff     the identity owner must add it
//
// The new credential (Entra issuer) is added to the identity and the old one is kept: pipelines in
// flight still use it. The route that switches a connection is not documented; whatever it answers
// (but throttling) means "not available here", and the connection is then `prepared`.

import pLimit from 'p-limit';
import { baseResult, dataOf, federationFields, param } from './endpoint';
import { EntraRun, describeEntraFailure } from './entra';
import { ServiceFailure, asFailure } from './failures';
import { FIC_AUDIENCE, entraIssuer, entraSubject, isGuid } from './identity';
import { ConnectionResult, CredentialRecord, Endpoint, Handoff, Message, RunContext, msg } from './model';
import { AzureDevOps, FederatedCredential } from './ports';

/** The Microsoft Entra issuer and subject a connection moves to. */
export function targetOf(e: Endpoint, organizationId: string): { issuer: string; subject: string } | undefined {
  const tenant = param(e, 'tenantid');
  if (!isGuid(tenant) || !isGuid(e.id)) return undefined;
  return { issuer: entraIssuer(tenant), subject: entraSubject(tenant, organizationId, e.id)! };
}

/** The web UI page of a connection, where its Update button is. */
export const connectionLink = (ctx: RunContext, e: Endpoint): string =>
  `${ctx.organization.endsWith('/') ? ctx.organization : `${ctx.organization}/`}${encodeURIComponent(ctx.project.name)}/_settings/adminservices?resourceId=${encodeURIComponent(e.id)}`;

export interface IssuerEnv {
  client: AzureDevOps;
  entra?: EntraRun;
  ctx: RunContext;
  organizationId: string;
  organizationName: string;
  dryRun: boolean;
  /** Set after a run-wide problem with the migration route: it is not asked again in this run. */
  migrationUnavailable?: boolean;
  /** Aborted when the run is cancelled. */
  cancelled?: AbortSignal;
}

const CREDENTIAL_NAME = (e: Endpoint) => `ConvertToWif-${e.id}-entra`;
const same = (c: FederatedCredential, t: { issuer: string; subject: string }) => c.issuer === t.issuer && c.subject === t.subject;

/** Where the identity is, and the credential on it. */
type Placed =
  | { kind: 'placed'; handoff: Handoff; credential: CredentialRecord }
  | { kind: 'handoff'; handoff: Handoff; reason: Message; serviceMessage?: string }
  | { kind: 'left'; outcome: 'skipped' | 'failed'; reason: Message; serviceMessage?: string };

/** Puts the Entra issuer's credential on the connection's identity (app or user-assigned managed identity), or says who must. */
async function place(e: Endpoint, target: { issuer: string; subject: string }, env: IssuerEnv): Promise<Placed> {
  const clientId = param(e, 'serviceprincipalid')!;
  const base: Handoff = { clientId, issuer: target.issuer, subject: target.subject, audience: FIC_AUDIENCE };
  const run = env.entra;
  if (!run) return { kind: 'handoff', handoff: base, reason: msg('HandoffNoEntra') };
  if (run.signInFailure) return { kind: 'handoff', handoff: base, reason: run.signInFailure.reason, serviceMessage: run.signInFailure.serviceMessage };
  const name = CREDENTIAL_NAME(e);
  let app;
  try {
    app = await run.port.findApp(clientId);
  } catch (err) {
    const f = asFailure(err);
    return { kind: 'handoff', handoff: base, reason: msg('HandoffGraphDenied', run.who, clientId), serviceMessage: describeEntraFailure(f) };
  }
  if (app) {
    const handoff: Handoff = { ...base, identityKind: 'app', objectId: app.objectId };
    if (app.signInAudience && app.signInAudience !== 'AzureADMyOrg')
      return { kind: 'left', outcome: 'skipped', reason: msg('SkipMultitenant', app.displayName, app.signInAudience) };
    try {
      const existing = await run.port.credentials(app.objectId);
      const have = existing.find((c) => same(c, target));
      if (have) return { kind: 'placed', handoff, credential: { name: have.name, ...target, change: 'existing' } };
      if (existing.length >= 20)
        return { kind: 'left', outcome: 'failed', reason: msg('FailAppCredentialLimit', app.displayName, clientId, existing.length, 20, 1) };
      if (env.dryRun) return { kind: 'placed', handoff, credential: { name, ...target, change: 'wouldCreate' } };
      const added = await run.port.addCredential(app.objectId, {
        name,
        ...target,
        audiences: [FIC_AUDIENCE],
        description: `Added by ConvertToWif to move service connection ${e.id} to the Microsoft Entra issuer`,
      });
      return { kind: 'placed', handoff, credential: { name: added.name, ...target, change: 'created' } };
    } catch (err) {
      const f = asFailure(err);
      return { kind: 'handoff', handoff, reason: msg('HandoffGraphDenied', run.who, clientId), serviceMessage: describeEntraFailure(f) };
    }
  }
  // No app with that client id: a user-assigned managed identity, found through its subscription.
  const subscription = dataOf(e, 'subscriptionId');
  if (!isGuid(subscription) || !run.port.findManagedIdentity || !run.port.managedIdentityCredentials || !run.port.putManagedIdentityCredential)
    return { kind: 'handoff', handoff: base, reason: msg('HandoffIdentityUnknown', clientId) };
  try {
    const mi = await run.port.findManagedIdentity(subscription, clientId);
    if (!mi) return { kind: 'handoff', handoff: base, reason: msg('HandoffIdentityUnknown', clientId) };
    const handoff: Handoff = {
      ...base,
      identityKind: 'managedIdentity',
      objectId: mi.principalId,
      resourceId: mi.resourceId,
      name: mi.name,
      resourceGroup: mi.resourceGroup,
    };
    try {
      const existing = await run.port.managedIdentityCredentials(mi.resourceId);
      const have = existing.find((c) => same(c, target));
      if (have) return { kind: 'placed', handoff, credential: { name: have.name, ...target, change: 'existing' } };
      if (env.dryRun) return { kind: 'placed', handoff, credential: { name, ...target, change: 'wouldCreate' } };
      const added = await run.port.putManagedIdentityCredential(mi.resourceId, { name, ...target, audiences: [FIC_AUDIENCE] });
      return { kind: 'placed', handoff, credential: { name: added.name || name, ...target, change: 'created' } };
    } catch (err) {
      const f = asFailure(err);
      const reason =
        f.status === 403
          ? msg('HandoffManagedIdentityDenied', run.who, mi.name, mi.resourceGroup)
          : msg('HandoffArmFailed', mi.name, f.code ?? String(f.status ?? '-'));
      return { kind: 'handoff', handoff, reason, serviceMessage: describeEntraFailure(f) };
    }
  } catch (err) {
    return { kind: 'handoff', handoff: base, reason: msg('HandoffIdentityUnknown', clientId), serviceMessage: describeEntraFailure(asFailure(err)) };
  }
}

/** Asks Azure DevOps to switch the connection; false when the route is not available (anything but success). */
async function migrate(e: Endpoint, env: IssuerEnv): Promise<{ asked: boolean; failure?: ServiceFailure }> {
  const run = env.entra;
  if (!run || !run.port.azureDevOpsToken || !env.client.requestIssuerMigration || env.migrationUnavailable) return { asked: false };
  const home = e.serviceEndpointProjectReferences?.[0]?.projectReference?.name ?? env.ctx.project.name;
  try {
    const token = await run.port.azureDevOpsToken();
    await env.client.requestIssuerMigration(`sc://${env.organizationName}/${home}/${e.name}`, token);
    return { asked: true };
  } catch (err) {
    const f = asFailure(err);
    // 404 / 405 / 401: the route is not there for this identity; asking again for each connection is pointless.
    if (f.status === 404 || f.status === 405 || f.status === 401) env.migrationUnavailable = true;
    return { asked: true, failure: f };
  }
}

/** One connection's move; never throws (a failure is its outcome). */
export async function moveOne(e: Endpoint, env: IssuerEnv): Promise<ConnectionResult> {
  const base: ConnectionResult = { ...baseResult(e), ...federationFields(e) };
  const target = targetOf(e, env.organizationId);
  if (!target) return { ...base, outcome: 'skipped', reason: msg('SkipIssuerNotEntraIdentity', '2027-07-01') };
  const placed = await place(e, target, env);
  // Cancelled before the credential was written: nothing changed for this connection.
  if (placed.kind !== 'placed' && env.cancelled?.aborted) return { ...base, outcome: 'skipped', reason: msg('SkipNotAttempted') };
  if (placed.kind === 'left')
    return {
      ...base,
      outcome: placed.outcome,
      reason: placed.reason,
      serviceMessage: placed.serviceMessage,
      targetIssuer: target.issuer,
      targetSubject: target.subject,
    };
  const common = { targetIssuer: target.issuer, targetSubject: target.subject, identityKind: placed.handoff.identityKind };
  if (placed.kind === 'handoff')
    return { ...base, ...common, outcome: 'handoff', reason: placed.reason, serviceMessage: placed.serviceMessage, handoff: placed.handoff };
  const credentials = [placed.credential];
  if (env.dryRun)
    return {
      ...base,
      ...common,
      credentials,
      outcome: 'planned',
      reason: msg(placed.credential.change === 'wouldCreate' ? 'PlannedIssuerAdd' : 'PlannedIssuerReady'),
    };
  const migration = await migrate(e, env);
  let current: Endpoint | null = null;
  try {
    current = await env.client.get(e.id);
  } catch {
    current = null;
  }
  const now = current ? federationFields(current) : undefined;
  const switched =
    !!now?.issuer && now.issuerKind === 'entra' && (param(current!, 'workloadIdentityFederationIssuerType') ?? 'EntraID').toLowerCase() === 'entraid';
  if (switched && current) {
    const matches = now.issuer === target.issuer && now.subject === target.subject;
    return { ...base, ...now, ...common, credentials, outcome: 'updated', matchesTarget: matches, reason: matches ? undefined : msg('UpdatedOtherValues') };
  }
  const why = migration.failure ? describeEntraFailure(migration.failure) : undefined;
  return {
    ...base,
    ...common,
    credentials,
    outcome: 'prepared',
    handoff: placed.handoff,
    reason: msg('PreparedPressUpdate', connectionLink(env.ctx, e)),
    serviceMessage: why,
  };
}

/** Every move, `concurrency` at a time; results land in `results` (by connection id) as they end. */
export async function moveAll(
  toMove: Endpoint[],
  env: IssuerEnv,
  concurrency: number,
  cancelled: AbortSignal,
  settle: (e: Endpoint, r: ConnectionResult) => void,
): Promise<void> {
  const limit = pLimit(concurrency);
  await Promise.all(
    toMove.map((e) =>
      limit(async () => {
        if (cancelled.aborted) return;
        settle(e, await moveOne(e, env));
      }),
    ),
  );
}
