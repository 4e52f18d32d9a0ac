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
import type { Limit } from './impact';
import { baseResult, dataOf, federationFields, param } from './endpoint';
import { EntraRun, MAX_CREDENTIALS_PER_APP, addOrFind, describeEntraFailure, entraProblem, sameCredential } from './entra';
import { ServiceError, ServiceFailure, asFailure } from './failures';
import { FIC_AUDIENCE, entraIssuer, entraSubject, isGuid } from './identity';
import { ConnectionResult, CredentialRecord, Endpoint, Handoff, Message, RunContext, msg } from './model';
import { AzureDevOps, Clock, FederatedCredential } from './ports';

/** The Microsoft Entra issuer and subject a connection moves to. */
export function targetOf(e: Endpoint, organizationId: string): { issuer: string; subject: string } | undefined {
  const tenant = param(e, 'tenantid');
  if (!isGuid(tenant) || !isGuid(e.id) || !isGuid(organizationId)) return undefined;
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
  /** How long an accepted switch is waited for (waitTimeoutSeconds), on this clock. */
  clock?: Clock;
  waitTimeoutMs?: number;
}

const CREDENTIAL_NAME = (e: Endpoint) => `ConvertToWif-${e.id}-entra`;

/** Where the identity is, and the credential on it. */
type Placed =
  | { kind: 'placed'; handoff: Handoff; credential: CredentialRecord }
  | { kind: 'handoff'; handoff: Handoff; reason: Message; serviceMessage?: string }
  | { kind: 'left'; outcome: 'skipped' | 'failed'; reason: Message; serviceMessage?: string };

/**
 * The target credential on an identity (an app through Graph, a managed identity through ARM): found,
 * to be added (dry run), or added (entra.ts addOrFind: a lost answer is looked up). 'full' when the
 * identity holds `limit` credentials already; throws what the service refused.
 */
async function ensureCredential(
  name: string,
  target: { issuer: string; subject: string },
  dryRun: boolean,
  service: 'graph' | 'arm',
  limit: number,
  io: { list: () => Promise<FederatedCredential[]>; add: () => Promise<FederatedCredential> },
): Promise<CredentialRecord | 'full'> {
  const existing = await io.list();
  const have = existing.find((c) => sameCredential(c, target));
  if (have) return { name: have.name, ...target, change: 'existing' };
  if (existing.length >= limit) return 'full';
  if (dryRun) return { name, ...target, change: 'wouldCreate' };
  const r = await addOrFind(io.add, io.list, { name, ...target }, service);
  if (r.kind === 'failed') throw new ServiceError(r.failure);
  return { name: r.credential.name, ...target, change: r.ours ? 'created' : 'existing' };
}

/** A refusal that means entraConnection may not write (or read) this identity: the owner must act. */
const denied = (f: ServiceFailure) => f.status === 403 || /Authorization_RequestDenied|AuthorizationFailed/i.test(f.code ?? '');

/** Puts the Entra issuer's credential on the connection's identity (app or user-assigned managed identity), or says who must. */
async function place(e: Endpoint, target: { issuer: string; subject: string }, env: IssuerEnv): Promise<Placed> {
  const clientId = param(e, 'serviceprincipalid')!;
  const base: Handoff = { clientId, issuer: target.issuer, subject: target.subject, audience: FIC_AUDIENCE };
  const run = env.entra;
  if (!run) return { kind: 'handoff', handoff: base, reason: msg('HandoffNoEntra') };
  // entraConnection is broken (an expired secret, …): a failure of this run, not a hand-off to every owner.
  if (run.signInFailure) return { kind: 'left', outcome: 'failed', reason: run.signInFailure.reason, serviceMessage: run.signInFailure.serviceMessage };
  const name = CREDENTIAL_NAME(e);
  /** Not a permission problem: the connection fails with what Graph or ARM said (a later run tries again). */
  const failed = (f: ServiceFailure, appName?: string): Placed => {
    if (f.cancelled) return { kind: 'left', outcome: 'skipped', reason: msg('SkipNotAttempted') };
    const p = entraProblem(f, run, clientId, appName, 'add');
    return { kind: 'left', outcome: 'failed', reason: p.reason, serviceMessage: p.serviceMessage };
  };
  let app;
  try {
    app = await run.port.findApp(clientId);
  } catch (err) {
    const f = asFailure(err);
    if (denied(f)) return { kind: 'handoff', handoff: base, reason: msg('HandoffGraphDenied', run.who, clientId), serviceMessage: describeEntraFailure(f) };
    return failed(f);
  }
  if (app) {
    const handoff: Handoff = { ...base, identityKind: 'app', objectId: app.objectId };
    if (app.signInAudience && app.signInAudience !== 'AzureADMyOrg')
      return { kind: 'left', outcome: 'skipped', reason: msg('SkipMultitenant', app.displayName, app.signInAudience) };
    const objectId = app.objectId;
    try {
      const credential = await ensureCredential(name, target, env.dryRun, 'graph', MAX_CREDENTIALS_PER_APP, {
        list: () => run.port.credentials(objectId),
        add: () =>
          run.port.addCredential(objectId, {
            name,
            ...target,
            audiences: [FIC_AUDIENCE],
            description: `Added by ConvertToWif to move service connection ${e.id} to the Microsoft Entra issuer`,
          }),
      });
      if (credential === 'full')
        return {
          kind: 'left',
          outcome: 'failed',
          reason: msg('FailAppCredentialLimit', app.displayName, clientId, MAX_CREDENTIALS_PER_APP, MAX_CREDENTIALS_PER_APP, 1),
        };
      return { kind: 'placed', handoff, credential };
    } catch (err) {
      const f = asFailure(err);
      if (denied(f)) return { kind: 'handoff', handoff, reason: msg('HandoffGraphDenied', run.who, clientId), serviceMessage: describeEntraFailure(f) };
      return failed(f, app.displayName);
    }
  }
  // No app with that client id: a user-assigned managed identity, found through its subscription.
  const subscription = dataOf(e, 'subscriptionId');
  if (!isGuid(subscription)) return { kind: 'handoff', handoff: base, reason: msg('HandoffIdentityUnknown', clientId) };
  let mi;
  try {
    mi = await run.port.findManagedIdentity(subscription, clientId);
  } catch (err) {
    const f = asFailure(err);
    if (denied(f)) return { kind: 'handoff', handoff: base, reason: msg('HandoffIdentityUnknown', clientId), serviceMessage: describeEntraFailure(f) };
    return failed(f);
  }
  if (!mi) return { kind: 'handoff', handoff: base, reason: msg('HandoffIdentityUnknown', clientId) };
  const resourceId = mi.resourceId;
  const handoff: Handoff = { ...base, identityKind: 'managedIdentity', objectId: mi.principalId, resourceId, name: mi.name, resourceGroup: mi.resourceGroup };
  try {
    // A user-assigned managed identity holds at most 20 federated credentials too.
    const credential = await ensureCredential(name, target, env.dryRun, 'arm', MAX_CREDENTIALS_PER_APP, {
      list: () => run.port.managedIdentityCredentials(resourceId),
      add: () => run.port.putManagedIdentityCredential(resourceId, { name, ...target, audiences: [FIC_AUDIENCE] }),
    });
    if (credential === 'full')
      return { kind: 'left', outcome: 'failed', reason: msg('FailIdentityCredentialLimit', mi.name, mi.resourceGroup, MAX_CREDENTIALS_PER_APP) };
    return { kind: 'placed', handoff, credential };
  } catch (err) {
    const f = asFailure(err);
    if (denied(f))
      return {
        kind: 'handoff',
        handoff,
        reason: msg('HandoffManagedIdentityDenied', run.who, mi.name, mi.resourceGroup),
        serviceMessage: describeEntraFailure(f),
      };
    if (f.cancelled) return { kind: 'left', outcome: 'skipped', reason: msg('SkipNotAttempted') };
    return {
      kind: 'left',
      outcome: 'failed',
      reason: msg('HandoffArmFailed', mi.name, f.code ?? String(f.status ?? '-')),
      serviceMessage: describeEntraFailure(f),
    };
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
    // No such route (a 404 that names no entity, 405, 401), or throttled past the retry budget: asking
    // again for each connection is pointless. A 404 about this connection (deleted or renamed since
    // the listing) concerns only it.
    const aboutEntity = f.status === 404 && /ServiceEndpointNotFound/i.test(f.typeKey ?? '') && !/controller/i.test(f.message);
    if ((f.status === 404 && !aboutEntity) || f.status === 405 || f.status === 401 || f.status === 429) env.migrationUnavailable = true;
    return { asked: true, failure: f };
  }
}

/** On the Microsoft Entra issuer (and, when the service says, of issuer type EntraID). */
function switchedOf(e: Endpoint): boolean {
  const now = federationFields(e);
  return !!now.issuer && now.issuerKind === 'entra' && (param(e, 'workloadIdentityFederationIssuerType') ?? 'EntraID').toLowerCase() === 'entraid';
}

/** One connection's move; never throws (a failure is its outcome). */
export async function moveOne(e: Endpoint, env: IssuerEnv): Promise<ConnectionResult> {
  const base: ConnectionResult = { ...baseResult(e), ...federationFields(e) };
  const target = targetOf(e, env.organizationId);
  if (!target) return { ...base, outcome: 'skipped', reason: msg('SkipIssuerNotEntraIdentity', '2027-07-01') };
  const clientId = param(e, 'serviceprincipalid');
  if (!isGuid(clientId)) return { ...base, outcome: 'skipped', reason: msg('SkipEntraNoClientId', clientId ?? '(none)') };
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
  // Cancelled after the credential is in place: nothing more is sent; the connection is ready for Update.
  const migration = env.cancelled?.aborted ? { asked: false } : await migrate(e, env);
  // Read back; after an accepted request, until the switch shows or waitTimeoutSeconds ends.
  const deadline = env.clock ? env.clock.now() + (env.waitTimeoutMs ?? 0) : 0;
  let current: Endpoint | null = null;
  let readFailed = false;
  for (let wait = 2000; ; wait = Math.min(wait * 2, 15_000)) {
    try {
      current = await env.client.get(e.id);
      readFailed = false;
    } catch {
      current = null;
      readFailed = true;
    }
    if ((current && switchedOf(current)) || !migration.asked || migration.failure || !env.clock || env.cancelled?.aborted) break;
    const left = deadline - env.clock.now();
    if (left <= 0) break;
    await env.clock.sleep(Math.min(wait, left));
  }
  if (current && switchedOf(current)) {
    const now = federationFields(current);
    const matches = now.issuer === target.issuer && now.subject === target.subject;
    return { ...base, ...now, ...common, credentials, outcome: 'updated', matchesTarget: matches, reason: matches ? undefined : msg('UpdatedOtherValues') };
  }
  // Asked and accepted, but the connection cannot be read: it may have switched. Say so; do not send people to press Update.
  if (readFailed && migration.asked && !migration.failure)
    return { ...base, ...common, credentials, outcome: 'pending', reason: msg('PendingIssuerReadBack'), handoff: placed.handoff };
  // The credential is on the identity; the connection is not (yet) switched: press Update. Why, in one reason.
  const link = connectionLink(env.ctx, e);
  const reason =
    migration.asked && !migration.failure
      ? msg('PreparedAcceptedNotSwitched', Math.round((env.waitTimeoutMs ?? 0) / 1000), link)
      : migration.failure?.status === 429
        ? msg('PreparedThrottled', link)
        : msg('PreparedPressUpdate', link);
  const serviceMessage = migration.failure ? describeEntraFailure(migration.failure) : undefined;
  return { ...base, ...common, credentials, outcome: 'prepared', handoff: placed.handoff, reason, serviceMessage };
}

/** Every move, `concurrency` (or the run's limiter) at a time; results land in `results` (by connection id) as they end. */
export async function moveAll(
  toMove: Endpoint[],
  env: IssuerEnv,
  /** Moves in flight at most, or the run's limiter shared by every project. */
  concurrency: number | Limit,
  cancelled: AbortSignal,
  settle: (e: Endpoint, r: ConnectionResult) => void,
): Promise<void> {
  const limit: Limit = typeof concurrency === 'number' ? pLimit(concurrency) : concurrency;
  await Promise.all(
    toMove.map((e) =>
      limit(async () => {
        if (cancelled.aborted) return;
        settle(e, await moveOne(e, env));
      }),
    ),
  );
}
