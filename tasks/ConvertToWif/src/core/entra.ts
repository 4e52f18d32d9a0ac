// The federated credentials the task puts on a connection's app registration in Microsoft Entra
// before it converts the connection, through `entraConnection` (docs/service-behaviour.md §1, §7, §18).
//
// Azure DevOps writes that credential itself only with the Entra token of a signed-in user; the job
// identity has none ("AAD returned silent failure"). When a credential with the issuer and subject
// the service will assign already exists, the conversion needs no Entra access. Which issuer a
// conversion assigns today is not documented, so both are put in place before the PUT; once the
// service shows the one it uses, the other is removed, but only when this run added it.

import pLimit from 'p-limit';
import { homeProject, param } from './endpoint';
import { ServiceFailure, asFailure } from './failures';
import { FIC_AUDIENCE, azureDevOpsIssuer, azureDevOpsSubject, entraIssuer, entraSubject, isGuid } from './identity';
import { AppRecord, AppSecret, CredentialRecord, Endpoint, Message, RunContext, msg } from './model';
import { AgentConnection, EntraPort, EntraSettings, FederatedCredential } from './ports';

/** Graph allows at most 20 federated credentials per app (docs/service-behaviour.md §18). */
export const MAX_CREDENTIALS_PER_APP = 20;
export const DEFAULT_AUTHORITY = 'https://login.microsoftonline.com/';
export const DEFAULT_GRAPH = 'https://graph.microsoft.com/';
export const DEFAULT_ARM = 'https://management.azure.com/';

/** What every Entra step of a run shares. */
export interface EntraRun {
  port: EntraPort;
  settings: EntraSettings;
  /** How entraConnection is named in messages: "'entra-admin' (client id …)". */
  who: string;
  organizationId: string;
  organizationName: string;
  /** Set when entraConnection could not sign in: every connection that needs Entra fails with it, and nothing is sent for it. */
  signInFailure?: { reason: Message; serviceMessage?: string };
  /** One preparation at a time per app (two connections may share one): the 20-per-app count stays true. */
  appLocks?: Map<string, Promise<unknown>>;
}

/** Runs `fn` after every earlier preparation of the same app (by client id) has ended. */
async function oneAtATime<T>(run: EntraRun, clientId: string, fn: () => Promise<T>): Promise<T> {
  const locks: Map<string, Promise<unknown>> = (run.appLocks ??= new Map<string, Promise<unknown>>());
  const key = clientId.toLowerCase();
  const before: Promise<unknown> = locks.get(key) ?? Promise.resolve();
  const mine: Promise<T> = before.then(fn, fn);
  const settled: Promise<unknown> = mine.then(
    () => undefined,
    () => undefined,
  );
  locks.set(key, settled);
  try {
    return await mine;
  } finally {
    if (locks.get(key) === settled) locks.delete(key);
  }
}

/** One connection's credentials, as this run found and changed them (the report shows them as they are now). */
export interface Prepared {
  app: AppRecord;
  credentials: CredentialRecord[];
  /** Graph ids of the credentials this run added, by name: the only ones it may remove. */
  createdIds: Map<string, string>;
  /** Until when a conversion refused because a new credential has not propagated is tried again. */
  retryUntil: number;
  retries: number;
}

/** A connection the Entra step leaves alone or cannot do, and why. */
export interface EntraProblem {
  outcome: 'skipped' | 'failed';
  reason: Message;
  serviceMessage?: string;
}

/** What a dry run or a report learnt about a connection's app registration through entraConnection. */
export interface AppFinding {
  app?: AppRecord;
  credentials?: CredentialRecord[];
  /** Left alone (app not found, other tenant) or would fail (Graph refused the read, sign-in failed). */
  problem?: { outcome: 'skipped' | 'failed'; reason: Message; serviceMessage?: string };
  /** A finding about the app itself (client secrets left on the app of a federated connection). */
  note?: Message;
}

export interface Wanted {
  name: string;
  issuer: string;
  subject: string;
}

export const sameCredential = (a: { issuer: string; subject: string }, b: { issuer: string; subject: string }) =>
  a.issuer === b.issuer && a.subject === b.subject;
const hasAudience = (c: FederatedCredential) => (c.audiences ?? []).includes(FIC_AUDIENCE);
/** A failure after which the request may still have been applied: the answer was lost, cut off, or a 5xx. */
const mayHaveApplied = (f: ServiceFailure) => !f.cancelled && (f.status === undefined || f.timedOut === true || f.garbled === true || f.status >= 500);

/**
 * entraConnection as the agent handed it over, checked: the settings the Entra client needs, or
 * every problem found (each names the input and what is allowed). Nothing is sent either way.
 */
export function entraSettingsOf(
  inputValue: string,
  conn: AgentConnection | undefined,
  agent: { jobToken?: string; oidcRequestUri?: string; collectionId?: string },
  concurrency: number,
): EntraSettings | Message[] {
  if (!conn) return [msg('InputEntraUnknown', inputValue)];
  const errors: Message[] = [];
  const scheme = (conn.scheme ?? '').toLowerCase();
  if (!isGuid(conn.tenantId)) errors.push(msg('InputEntraNoTenant', inputValue, conn.tenantId ?? '(none)'));
  if (!isGuid(conn.clientId)) errors.push(msg('InputEntraNoClient', inputValue, conn.clientId ?? '(none)'));
  if (!isGuid(agent.collectionId)) errors.push(msg('InputEntraNoCollectionId', agent.collectionId ?? '(none)'));
  let credential: EntraSettings['credential'] | undefined;
  if (scheme === 'workloadidentityfederation') {
    const uri = agent.oidcRequestUri ? httpsUrl(agent.oidcRequestUri, false) : undefined;
    if (!uri) errors.push(msg('InputEntraNoOidc', inputValue));
    if (!agent.jobToken) errors.push(msg('InputEntraNoJobToken', inputValue));
    if (uri && agent.jobToken) credential = { kind: 'federation', oidcRequestUri: uri, jobToken: agent.jobToken };
  } else if (scheme === 'serviceprincipal') {
    if (!conn.secret) errors.push(msg('InputEntraNoSecret', inputValue));
    else credential = { kind: 'secret', secret: conn.secret };
  } else errors.push(msg('InputEntraScheme', inputValue, conn.scheme ?? '(none)'));

  const url = (name: string, value: string | undefined, dflt: string): string | undefined => {
    const checked = httpsUrl(value || dflt, true);
    if (!checked) errors.push(msg('InputEntraUrl', inputValue, name, JSON.stringify((value ?? '').slice(0, 120))));
    return checked;
  };
  const authorityUrl = url('environmentAuthorityUrl', conn.authorityUrl, DEFAULT_AUTHORITY);
  let graphUrl: string | undefined;
  if (conn.graphUrl) graphUrl = url('microsoftGraphUrl', conn.graphUrl, DEFAULT_GRAPH);
  else if (!conn.environment || conn.environment.toLowerCase() === 'azurecloud') graphUrl = DEFAULT_GRAPH;
  else errors.push(msg('InputEntraCloud', inputValue, conn.environment));
  const armUrl = url('url', conn.url, DEFAULT_ARM);
  if (errors.length > 0 || !credential || !authorityUrl || !graphUrl || !armUrl) return errors;
  return { connectionId: conn.id, tenantId: conn.tenantId!, clientId: conn.clientId!, credential, authorityUrl, graphUrl, armUrl, concurrency };
}

/** An https URL without credentials or fragment (a base ends with '/' and has no query); undefined otherwise. */
function httpsUrl(value: string, base: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(value.trim());
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' || u.username || u.password || u.hash || (base && u.search)) return undefined;
  if (!base) return u.href;
  return u.href.endsWith('/') ? u.href : `${u.href}/`;
}

/** The two credentials a conversion may need, or why this connection's app cannot be prepared. */
function wantedFor(e: Endpoint, run: EntraRun, ctx: RunContext): Wanted[] | EntraProblem {
  const tenant = param(e, 'tenantid');
  const clientId = param(e, 'serviceprincipalid');
  if (!isGuid(clientId) || !isGuid(e.id)) return { outcome: 'skipped', reason: msg('SkipEntraNoClientId', clientId ?? '(none)') };
  if (!isGuid(tenant) || tenant.toLowerCase() !== run.settings.tenantId.toLowerCase())
    return { outcome: 'skipped', reason: msg('SkipEntraOtherTenant', tenant ?? '(none)', run.who, run.settings.tenantId) };
  const project = homeProject(e)?.name ?? ctx.project.name;
  return [
    { name: `ConvertToWif-${e.id}-entra`, issuer: entraIssuer(tenant), subject: entraSubject(tenant, run.organizationId, e.id)! },
    { name: `ConvertToWif-${e.id}-azdo`, issuer: azureDevOpsIssuer(run.organizationId), subject: azureDevOpsSubject(run.organizationName, project, e.name) },
  ];
}

/** A name not yet taken on the app: ours, or ours with -2, -3, … when a credential with other values holds it. */
function freeName(wanted: string, existing: FederatedCredential[]): string {
  const taken = new Set(existing.map((c) => c.name.toLowerCase()));
  if (!taken.has(wanted.toLowerCase())) return wanted;
  for (let n = 2; ; n++) if (!taken.has(`${wanted}-${n}`.toLowerCase())) return `${wanted}-${n}`;
}

/** The app and what a conversion would add to it: the dry run's view, and the first half of `prepare`. */
export async function inspect(
  e: Endpoint,
  run: EntraRun,
  ctx: RunContext,
  opts: { withSecrets?: boolean; credentials?: boolean } = {},
): Promise<{ app: AppRecord; credentials: CredentialRecord[]; existing: FederatedCredential[]; wanted: Wanted[] } | EntraProblem> {
  if (run.signInFailure) return { outcome: 'failed', ...run.signInFailure };
  const wanted = wantedFor(e, run, ctx);
  if (!Array.isArray(wanted)) return wanted;
  const clientId = param(e, 'serviceprincipalid')!;
  try {
    const found = await run.port.findApp(clientId, { withSecrets: opts.withSecrets });
    if (!found) return { outcome: 'skipped', reason: msg('SkipAppNotFound', clientId, run.settings.tenantId, run.who) };
    const app: AppRecord = { objectId: found.objectId, displayName: found.displayName, ...secretsOf(found.secrets) };
    if (opts.credentials === false) return { app, credentials: [], existing: [], wanted };
    const existing = await run.port.credentials(found.objectId);
    // Graph allows one credential per issuer and subject: one with another audience cannot be fixed by adding ours.
    const wrong = existing.find((c) => wanted.some((w) => sameCredential(c, w)) && !hasAudience(c));
    if (wrong)
      return { outcome: 'failed', reason: msg('FailCredentialAudience', wrong.name, found.displayName, (wrong.audiences ?? []).join(', ') || '(none)') };
    const credentials = wanted.map((w): CredentialRecord => {
      const have = existing.find((c) => sameCredential(c, w));
      return have ? { name: have.name, issuer: have.issuer, subject: have.subject, change: 'existing' } : { ...w, change: 'wouldCreate' };
    });
    return { app, credentials, existing, wanted };
  } catch (err) {
    return entraProblem(asFailure(err), run, clientId);
  }
}

/**
 * Puts the missing credentials on the app, one preparation per app at a time. `onChange` is called
 * after each one is added, so the ledger (and the report written from it) knows every change made
 * in Entra, whatever happens next. When not all fit under the 20-per-app limit, the Entra issuer's
 * goes first; with none of the two on the app and no room at all, nothing is sent.
 */
export function prepare(
  e: Endpoint,
  run: EntraRun,
  ctx: RunContext,
  retryUntil: number,
  onChange: (p: Prepared) => void,
): Promise<Prepared | (EntraProblem & { prepared?: Prepared })> {
  return oneAtATime(run, param(e, 'serviceprincipalid') ?? e.id, () => prepareNow(e, run, ctx, retryUntil, onChange));
}

async function prepareNow(
  e: Endpoint,
  run: EntraRun,
  ctx: RunContext,
  retryUntil: number,
  onChange: (p: Prepared) => void,
): Promise<Prepared | (EntraProblem & { prepared?: Prepared })> {
  const seen = await inspect(e, run, ctx);
  if ('outcome' in seen) return seen;
  const clientId = param(e, 'serviceprincipalid')!;
  const missing = seen.credentials.filter((c) => c.change === 'wouldCreate');
  const room = Math.max(0, MAX_CREDENTIALS_PER_APP - seen.existing.length);
  const adding = missing.slice(0, room);
  const prepared: Prepared = {
    app: seen.app,
    // A credential with no room on the app is not listed: it was never there, and never will be by this run.
    credentials: seen.credentials.filter((c) => c.change !== 'wouldCreate' || adding.includes(c)),
    createdIds: new Map(),
    retryUntil,
    retries: 0,
  };
  if (missing.length > 0 && adding.length === 0 && seen.credentials.every((c) => c.change === 'wouldCreate')) {
    const reason = msg('FailAppCredentialLimit', seen.app.displayName, clientId, seen.existing.length, MAX_CREDENTIALS_PER_APP, missing.length);
    return { outcome: 'failed', reason, prepared };
  }
  const taken = [...seen.existing];
  for (const c of adding) {
    const name = freeName(c.name, taken);
    const r = await addOrFind(
      () =>
        run.port.addCredential(seen.app.objectId, {
          name,
          issuer: c.issuer,
          subject: c.subject,
          audiences: [FIC_AUDIENCE],
          description: `Added by ConvertToWif for the service connection ${e.id} of ${ctx.organization}`,
        }),
      () => run.port.credentials(seen.app.objectId),
      { name, issuer: c.issuer, subject: c.subject },
      'graph',
    );
    if (r.kind === 'failed') {
      if (r.unknown) {
        // It may be on the app. Recorded as such; never removed by this run (its id is unknown).
        Object.assign(c, { name, note: describeEntraFailure(r.failure) });
        onChange(prepared);
      }
      if (r.failure.cancelled) return { outcome: 'skipped', reason: msg('SkipNotAttempted'), prepared };
      return { ...entraProblem(r.failure, run, clientId, seen.app.displayName, 'add'), prepared };
    }
    Object.assign(c, { name: r.credential.name, change: r.ours ? 'created' : 'existing' });
    if (r.ours) prepared.createdIds.set(c.name, r.credential.id);
    taken.push(r.credential);
    onChange(prepared);
    if (r.cancelled) return { outcome: 'skipped', reason: msg('SkipNotAttempted'), prepared };
  }
  return prepared;
}

/**
 * Adds a federated credential (Graph's POST, ARM's PUT) and makes sure its outcome is known: an
 * answer must name what was sent (its id is what a later removal deletes); after an answer that
 * proves nothing (lost, cut off, a 5xx, a conflict, a cancellation) the identity's credentials are
 * looked at, and one with the same issuer and subject counts as added (`ours` when it has the name
 * sent). `unknown`: it may have been applied and could not be looked up.
 */
export async function addOrFind(
  add: () => Promise<FederatedCredential>,
  list: () => Promise<FederatedCredential[]>,
  sent: Wanted,
  service: 'graph' | 'arm',
): Promise<
  { kind: 'added'; credential: FederatedCredential; ours: boolean; cancelled?: boolean } | { kind: 'failed'; failure: ServiceFailure; unknown: boolean }
> {
  let failure: ServiceFailure;
  try {
    const added = await add();
    if (sameCredential(added, sent) && added.name.toLowerCase() === sent.name.toLowerCase() && added.id)
      return { kind: 'added', credential: added, ours: true };
    failure = { status: 201, message: 'The service answered the new credential with another one.', garbled: true, service };
  } catch (err) {
    failure = asFailure(err);
  }
  // A refusal (403) proves nothing was written: nothing to look for.
  if (failure.status === 403) return { kind: 'failed', failure, unknown: false };
  const now = await list().catch(() => undefined);
  const have = now?.find((x) => sameCredential(x, sent));
  // `cancelled`: it landed, but the run was cancelled meanwhile: nothing more is to be sent.
  if (have) return { kind: 'added', credential: have, ours: have.name.toLowerCase() === sent.name.toLowerCase(), cancelled: failure.cancelled };
  return { kind: 'failed', failure, unknown: now === undefined && mayHaveApplied(failure) };
}

/**
 * After the conversion: keeps the credential whose issuer and subject the service assigned and
 * removes the other one when this run added it. When the service shows neither, both stay (harmless).
 */
export async function tidy(prepared: Prepared, used: { issuer?: string; subject?: string }, run: EntraRun): Promise<void> {
  if (!used.issuer || !used.subject) return;
  const inUse = prepared.credentials.find((c) => sameCredential(c, used as { issuer: string; subject: string }));
  if (inUse) await removeCreated(prepared, run, inUse);
}

/**
 * After a conversion that definitely failed (refused, or failed in the background): removes what
 * this run added for it, so a failed connection leaves its app as it was ("nothing was changed").
 */
export const rollback = (prepared: Prepared, run: EntraRun): Promise<void> => removeCreated(prepared, run);

/** Removes the credentials this run added, but `keep`; a removal that fails is noted on the credential, which stays. */
async function removeCreated(prepared: Prepared, run: EntraRun, keep?: CredentialRecord): Promise<void> {
  for (const c of prepared.credentials) {
    const id = prepared.createdIds.get(c.name);
    if (c === keep || c.change !== 'created' || !id) continue;
    try {
      await run.port.removeCredential(prepared.app.objectId, id);
      c.change = 'removed';
    } catch (err) {
      c.note = describeEntraFailure(asFailure(err));
    }
  }
}

/** Refusals that mean the service tried Entra itself, or could not use a credential that is there: a new one may not have propagated yet. */
export const isPropagationRefusal = (f: Pick<ServiceFailure, 'message' | 'typeKey'>): boolean =>
  /AadAccessSilentException/i.test(f.typeKey ?? '') ||
  /AAD returned silent failure|could not be configured automatically|no valid configuration exists|AADSTS70021\b|AADSTS700211\b|AADSTS700213\b/i.test(
    f.message,
  );

/** "HTTP 403 Authorization_RequestDenied: Insufficient privileges…" */
export function describeEntraFailure(f: ServiceFailure): string {
  return [f.status ? `HTTP ${f.status}` : '', f.code ?? '', f.message].filter(Boolean).join(' ').slice(0, 500);
}

/** What an Entra, Graph or OIDC failure means for this connection, as an action for the admin. */
export function entraProblem(f: ServiceFailure, run: EntraRun, clientId: string, appName?: string, operation: 'read' | 'add' = 'read'): EntraProblem {
  const serviceMessage = describeEntraFailure(f) || undefined;
  if (f.cancelled) return { outcome: 'skipped', reason: msg('SkipNotAttempted') };
  if (f.service === 'graph' && f.redirectTo === undefined && f.status !== undefined) {
    const app = appName ?? clientId;
    if (f.status === 403) return { outcome: 'failed', reason: msg('FailGraphDenied', run.who, app, clientId), serviceMessage };
    if (f.status === 404) return { outcome: 'skipped', reason: msg('SkipAppNotFound', clientId, run.settings.tenantId, run.who), serviceMessage };
    if (f.status === 401) return { outcome: 'failed', reason: msg('FailGraphToken', run.who), serviceMessage };
    if (f.status === 429) return { outcome: 'failed', reason: msg('FailGraphThrottled'), serviceMessage };
    if (f.status === 400 && /limit|maximum|more than \d+/i.test(f.message))
      return { outcome: 'failed', reason: msg('FailGraphLimit', app, clientId, MAX_CREDENTIALS_PER_APP), serviceMessage };
    // Signed in, but Graph refused or failed this request: say which one, never "sign-in".
    return {
      outcome: 'failed',
      reason: msg(operation === 'add' ? 'FailGraphAdd' : 'FailGraphRead', app, clientId, f.code ?? String(f.status ?? '-')),
      serviceMessage,
    };
  }
  return { outcome: 'failed', ...signInProblem(f, run), serviceMessage };
}

/** Graph's secrets and certificates of an app, as the report names them (never a hint of the value). */
function secretsOf(secrets: AppSecret[] | undefined): Pick<AppRecord, 'passwordCredentials' | 'keyCredentials'> {
  if (!secrets) return {};
  const strip = ({ keyId, displayName, endDateTime }: AppSecret) => ({
    ...(keyId ? { keyId } : {}),
    ...(displayName ? { displayName } : {}),
    ...(endDateTime ? { endDateTime } : {}),
  });
  return {
    passwordCredentials: secrets.filter((x) => x.kind === 'secret').map(strip),
    keyCredentials: secrets.filter((x) => x.kind === 'certificate').map(strip),
  };
}

/** A failure of the OIDC request, the token call or any other Entra call, explained by what answered it and its code. */
export function signInProblem(f: ServiceFailure, run: EntraRun): { reason: Message; serviceMessage?: string } {
  const serviceMessage = describeEntraFailure(f) || undefined;
  const { who } = run;
  const { tenantId, clientId } = run.settings;
  if (f.redirectTo !== undefined) return { reason: msg('FailEntraRedirected', who, f.redirectTo), serviceMessage };
  if (f.status === undefined && !f.code) return { reason: msg('FailEntraNetwork', who), serviceMessage };
  if (f.service === 'oidc') {
    if (f.status === 404) return { reason: msg('FailOidcNotFound', who), serviceMessage };
    if (f.status === 401 || f.status === 403) return { reason: msg('FailOidcDenied', who), serviceMessage };
    return { reason: msg('FailOidc', who, f.status ?? '-'), serviceMessage };
  }
  if (f.service === 'entra') {
    const code = (f.code ?? '').toUpperCase();
    if (code === 'AADSTS700016') return { reason: msg('FailEntraUnknownClient', who, clientId, tenantId), serviceMessage };
    if (code === 'AADSTS90002' || code === 'AADSTS900023') return { reason: msg('FailEntraTenant', who, tenantId), serviceMessage };
    if (['AADSTS70021', 'AADSTS700211', 'AADSTS700212', 'AADSTS700213', 'AADSTS700024'].includes(code))
      return { reason: msg('FailEntraNoFederation', who, code), serviceMessage };
    if (['AADSTS7000215', 'AADSTS7000222', 'AADSTS7000216'].includes(code)) return { reason: msg('FailEntraSecret', who, code), serviceMessage };
    if (!code && (f.status === undefined || f.status >= 500 || f.garbled || f.timedOut))
      return { reason: msg('FailEntraServer', who, f.status ?? '-'), serviceMessage };
    return { reason: msg('FailEntraSignIn', who, code || (f.status ?? '-')), serviceMessage };
  }
  if (f.status === undefined || f.status >= 500 || f.garbled || f.timedOut) return { reason: msg('FailEntraServer', who, f.status ?? '-'), serviceMessage };
  return { reason: msg('FailEntraSignIn', who, f.code ?? f.status), serviceMessage };
}

/**
 * What a dry run or a report can learn in Entra without changing anything, per connection: its app,
 * the credentials a conversion would add (connections to convert), and with `action: report` the
 * app's client secrets and certificates. Graph reads only.
 */
export async function inspectApps(
  targets: Array<{ endpoint: Endpoint; converting: boolean }>,
  run: EntraRun,
  ctx: RunContext,
  withSecrets: boolean,
  concurrency: number,
): Promise<Map<string, AppFinding>> {
  const limit = pLimit(concurrency);
  const found = new Map<string, AppFinding>();
  await Promise.all(
    targets.map(({ endpoint: e, converting }) =>
      limit(async () => {
        const seen = await inspect(e, run, ctx, { withSecrets, credentials: converting });
        if ('outcome' in seen) {
          // A federated connection whose app cannot be read is simply not audited.
          if (converting) found.set(e.id, { problem: seen });
          return;
        }
        const secrets = seen.app.passwordCredentials ?? [];
        const note = !converting && secrets.length > 0 ? msg('FederatedAppSecrets', secrets.length, seen.app.displayName) : undefined;
        found.set(e.id, { app: seen.app, ...(converting ? { credentials: seen.credentials } : {}), ...(note ? { note } : {}) });
      }),
    ),
  );
  return found;
}
