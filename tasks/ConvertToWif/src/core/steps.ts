// How the change of ONE connection proceeds (a conversion, or a revert: the same PUT with the old
// scheme, docs/service-behaviour.md §4, §5), as an explicit sequence of named steps:
//
//   send ──► done                         the service answered with the new scheme (200)
//     │ ──► wait ──► poll … ──► done      accepted, finished by a background job (202)
//     │ ──► failed ──► done               refused: explained for the admin
//     └──► readBack ──► send (again)      the PUT may or may not have been applied: look first
//                  └──► wait / done
//
// With `entraConnection`, a conversion starts one step earlier and may come back to `send`:
//
//   prepare ──► send …                    the federated credentials are on the app (entra.ts)
//      └──► done                          the app cannot be prepared: skipped / failed, nothing sent
//   failed ──► later ──► send             refused because a new credential has not propagated yet
//   done (converted) ──► tidy             the credential the service does not use is removed
//   failed (other refusal)                what this run added for it is removed again
//
// Each step reads the service through the EndpointPort and returns the next step; the scheduler
// (schedule.ts) runs them for many connections, and sleeps out a `later` without holding a slot.

import { baseResult, conversionBody, federationFields, isScheme, schemeOf, stateOf } from './endpoint';
import { EntraRun, Prepared, isPropagationRefusal, prepare, rollback, tidy } from './entra';
import { ServiceFailure, asFailure, explainBackgroundFailure, explainFailure, isAadSilentFailure, isAlreadyOnScheme, isTransient } from './failures';
import { ConnectionResult, Endpoint, Options, RunContext, Scheme, msg } from './model';
import { Clock, EndpointPort } from './ports';

export type Step =
  /** Put the federated credentials on the connection's app registration (with entraConnection). */
  | { kind: 'prepare' }
  /** Refused while a new credential propagates: send again at `at` (a cancelled run does not). */
  | { kind: 'later'; at: number; next: Step }
  /** PUT the change (attempt 1, 2, …). */
  | { kind: 'send'; attempt: number }
  /** The PUT failed in a way that may have applied it: read the connection before anything else. */
  | { kind: 'readBack'; attempt: number; failure: ServiceFailure }
  /** A background job decides: poll. `unsure`: an earlier PUT may not have been applied at all. */
  | { kind: 'wait'; unsure?: ServiceFailure }
  /**
   * Refused (at once, or by the background job): explain it; `definite`: the
   * connection was certainly not changed (a refused PUT, a failed background job), so what the run
   * added in Entra for it can go again.
   */
  | { kind: 'failed'; failure: ServiceFailure; background?: boolean; definite?: boolean }
  /** Cancelled before an answer; `applied` when an earlier attempt may have reached the service. */
  | { kind: 'interrupted'; applied: boolean }
  | { kind: 'done'; result: ConnectionResult };

/** What every step of a run shares. */
export interface StepEnv {
  port: EndpointPort;
  clock: Clock;
  ctx: RunContext;
  action: Options['action'];
  /** Who the token belongs to, asked once per run and only when a message needs it. */
  identity?: Promise<string | undefined>;
  /** Set when the wait for background jobs starts: explaining a failure then reads nothing past it. */
  deadline?: number;
  /** With entraConnection (convert): the Entra side, and what was prepared per connection id. */
  entra?: EntraRun;
  prepared: Map<string, Prepared>;
  /** Called whenever a connection's credentials change in Entra (the ledger records them at once). */
  onPrepared?(e: Endpoint, p: Prepared): void;
  /** waitTimeoutSeconds in ms: how long a refused conversion is tried again while a new credential propagates. */
  waitTimeoutMs: number;
}

/** The first step of a change: prepare the app first when Entra is at hand (convert only). */
export const firstStep = (env: StepEnv): Step => (env.entra && env.action === 'convert' ? { kind: 'prepare' } : { kind: 'send', attempt: 1 });

/** Backoff while a new federated credential propagates: 2 s, 4 s, 8 s, … at most 30 s, within waitTimeoutSeconds. */
const PROPAGATION_FIRST_MS = 2000;
const PROPAGATION_MAX_MS = 30_000;

/** Attempts of one PUT whose outcome stays unknown (answer lost and the connection unchanged). */
const PUT_ATTEMPTS = 3;

const targetOf = (env: StepEnv) => (env.action === 'revert' ? Scheme.ServicePrincipal : Scheme.WorkloadIdentityFederation);
const isIdle = (e: Endpoint) => stateOf(e) === 'ready' || stateOf(e) === '';

/** What the service shows for a connection whose change was sent: done, failed in the background, or still to wait for. */
function interpret(original: Endpoint, current: Endpoint, env: StepEnv, unsure?: ServiceFailure): Step {
  if (isScheme(current, targetOf(env)) && isIdle(current)) {
    const outcome = env.action === 'revert' ? 'reverted' : 'converted';
    return { kind: 'done', result: { ...baseResult(original), scheme: schemeOf(current) || schemeOf(original), outcome, ...federationFields(current) } };
  }
  if (stateOf(current) === 'failed')
    return { kind: 'failed', failure: { status: 400, message: current.operationStatus?.statusMessage ?? '' }, background: true, definite: true };
  // Unchanged and idle after a PUT whose answer was lost: that PUT did not apply. (After a timeout the
  // service may still be working on it: keep waiting; the wait's end leaves it pending.)
  if (unsure && !unsure.timedOut && stateOf(current) !== 'inprogress') return { kind: 'failed', failure: unsure, definite: true };
  // InProgress (converting_scheme), or not yet visibly changed: the background job decides.
  return { kind: 'wait', unsure };
}

/** send: the PUT. */
async function send(e: Endpoint, step: Extract<Step, { kind: 'send' }>, env: StepEnv): Promise<Step> {
  try {
    return interpret(e, await env.port.convert(e.id, conversionBody(e, targetOf(env), env.ctx)), env);
  } catch (err) {
    const f = asFailure(err);
    if (f.cancelled) return { kind: 'interrupted', applied: step.attempt > 1 };
    if (isAlreadyOnScheme(f)) {
      const byOther = await changedByOther(e, env);
      if (byOther) return { kind: 'done', result: byOther };
    }
    // "Already on that scheme" while the connection looks busy: someone else may be converting it.
    if (!isTransient(f)) return { kind: 'failed', failure: f, definite: !isAlreadyOnScheme(f) };
    return { kind: 'readBack', attempt: step.attempt, failure: f };
  }
}

/**
 * readBack: the PUT may have been applied although its answer was lost (or was a 5xx, or timed out):
 * read the connection first, so a change is never sent twice blind, and never reported failed when
 * the service did make it.
 */
async function readBack(e: Endpoint, step: Extract<Step, { kind: 'readBack' }>, env: StepEnv): Promise<Step> {
  let current: Endpoint | null;
  try {
    current = await env.port.get(e.id);
  } catch {
    // Cannot tell now: the poll reads it later and decides (applied, or failed with this failure).
    return { kind: 'wait', unsure: step.failure };
  }
  if (current === null) return { kind: 'failed', failure: { status: 404, message: step.failure.message }, definite: true };
  if (isScheme(current, targetOf(env)) || stateOf(current) === 'inprogress') return interpret(e, current, env);
  // A request that timed out may still be running on the service (a conversion can include a slow
  // Microsoft Entra step): an unchanged connection proves nothing yet. Wait for it, never resend.
  if (step.failure.timedOut) return { kind: 'wait', unsure: step.failure };
  if (step.attempt >= PUT_ATTEMPTS) return { kind: 'failed', failure: step.failure, definite: true };
  await env.clock.sleep(1000 * step.attempt);
  return { kind: 'send', attempt: step.attempt + 1 };
}

/** One poll of a connection waiting for its background job; `deadline` bounds the request. */
export async function poll(e: Endpoint, step: Extract<Step, { kind: 'wait' }>, env: StepEnv, deadline: number): Promise<Step> {
  let current: Endpoint | null;
  try {
    current = await env.port.get(e.id, { deadline });
  } catch (err) {
    const f = asFailure(err);
    if (isTransient(f) || f.cancelled) return step; // try again next round (or stay pending)
    return { kind: 'failed', failure: f };
  }
  if (current === null) return { kind: 'done', result: { ...baseResult(e), outcome: 'failed', reason: msg('FailDisappeared') } };
  return interpret(e, current, env, step.unsure);
}

/**
 * The service refused the change because the connection is already on the target scheme: another
 * run or a person changed it after the listing. Read it back; when it shows the target scheme (and
 * is not busy), that is the outcome the run wanted, not a failure.
 */
async function changedByOther(e: Endpoint, env: StepEnv): Promise<ConnectionResult | undefined> {
  const current = await env.port.get(e.id).catch(() => null);
  if (!current || !isScheme(current, targetOf(env)) || !isIdle(current)) return undefined;
  const base = { ...baseResult(e), scheme: schemeOf(current) };
  if (env.action === 'revert') return { ...base, revertDeadline: undefined, outcome: 'skipped', reason: msg('SkipRevertedByOther') };
  return { ...base, outcome: 'federated', reason: msg('FederatedByOther'), ...federationFields(current) };
}

/** prepare: the credentials on the app, or the connection's outcome when its app cannot be prepared (nothing is sent then). */
async function prepareApp(e: Endpoint, env: StepEnv): Promise<Step> {
  const r = await prepare(e, env.entra!, env.ctx, env.clock.now() + env.waitTimeoutMs, (p) => {
    env.prepared.set(e.id, p);
    env.onPrepared?.(e, p);
  });
  if (!('outcome' in r)) {
    env.prepared.set(e.id, r);
    env.onPrepared?.(e, r);
    return { kind: 'send', attempt: 1 };
  }
  let reason = r.reason;
  if (r.prepared) {
    env.prepared.set(e.id, r.prepared);
    const added = r.prepared.createdIds.size > 0;
    // Cancelled: nothing more is sent, the credentials added so far stay (listed). Otherwise nothing
    // was sent to Azure DevOps, so what this run added for the connection goes again.
    if (added && reason.key === 'SkipNotAttempted') reason = msg('SkipCancelledPrepared', r.prepared.app.displayName);
    else if (added) await rollback(r.prepared, env.entra!);
    env.onPrepared?.(e, r.prepared);
  }
  return { kind: 'done', result: { ...baseResult(e), outcome: r.outcome, reason, serviceMessage: r.serviceMessage } };
}

/** A refusal caused by a credential this run added that has not propagated yet: when to send again, if still within the time allowed. */
function propagationRetry(e: Endpoint, step: Extract<Step, { kind: 'failed' }>, env: StepEnv): Step | undefined {
  const p = env.prepared.get(e.id);
  if (!p || p.createdIds.size === 0 || !isPropagationRefusal(step.failure)) return undefined;
  const wait = Math.min(PROPAGATION_MAX_MS, PROPAGATION_FIRST_MS * 2 ** p.retries);
  const at = env.clock.now() + wait;
  if (at >= p.retryUntil) return undefined;
  p.retries++;
  return { kind: 'later', at, next: { kind: 'send', attempt: 1 } };
}

/** done: after a conversion, the credential the service does not use goes (only one this run added). */
async function tidyApp(e: Endpoint, step: Extract<Step, { kind: 'done' }>, env: StepEnv): Promise<void> {
  const p = env.prepared.get(e.id);
  const r = step.result;
  if (!p || !env.entra || (r.outcome !== 'converted' && r.outcome !== 'federated')) return;
  let used: { issuer?: string; subject?: string } = { issuer: r.issuer, subject: r.subject };
  if (!used.issuer || !used.subject) {
    // The answer did not say which credential the service uses: read the connection back.
    const current = await env.port.get(e.id, { deadline: env.deadline }).catch(() => null);
    if (current) used = federationFields(current);
  }
  await tidy(p, used, env.entra);
  env.onPrepared?.(e, p);
}

/** failed: the instruction for the admin, with the identity named when the message needs it. */
async function explain(e: Endpoint, step: Extract<Step, { kind: 'failed' }>, env: StepEnv): Promise<Step> {
  const retry = propagationRetry(e, step, env);
  if (retry) return retry;
  const f = step.failure;
  const pastDeadline = env.deadline !== undefined && env.clock.now() >= env.deadline;
  if ((f.status === 403 || isAadSilentFailure(f)) && !env.ctx.identity && env.port.whoAmI && !pastDeadline) {
    env.identity ??= env.port.whoAmI().catch(() => undefined);
    env.ctx.identity = await env.identity;
  }
  let reason = step.background ? explainBackgroundFailure(f.message, e, env.ctx) : explainFailure(f, e, env.ctx);
  const prepared = env.prepared.get(e.id);
  if (prepared && env.entra && isPropagationRefusal(f)) {
    // The credentials are on the app, yet the service still tried Entra itself (or found none it
    // could use). They stay: a later run reuses them, once they work.
    const seconds = Math.round(env.waitTimeoutMs / 1000);
    reason = msg(
      'FailPreparedNotUsed',
      prepared.app.displayName,
      prepared.credentials.map((c) => `${c.issuer} ${c.subject}`).join('; '),
      prepared.retries,
      seconds,
    );
  } else if (prepared && env.entra && prepared.createdIds.size > 0 && step.definite) {
    // Certainly refused for another reason (not an Administrator, …): the app goes back to how it
    // was. After a failed read (a poll refused) the conversion may still finish: the credentials stay.
    await rollback(prepared, env.entra);
    env.onPrepared?.(e, prepared);
  }
  if (reason.key === 'FailManualNoCredential') {
    // The service may already know the issuer and subject it expects (docs/service-behaviour.md §17):
    // if it shows them, name them exactly; otherwise the message says where to read them.
    const current = pastDeadline ? null : await env.port.get(e.id, { deadline: env.deadline }).catch(() => null);
    const { issuer, subject } = current ? federationFields(current) : { issuer: undefined, subject: undefined };
    if (issuer && subject) reason = msg('FailManualNoCredentialKnown', reason.args[0], reason.args[1], issuer, subject);
  }
  return { kind: 'done', result: { ...baseResult(e), outcome: 'failed', reason, serviceMessage: f.message || undefined } };
}

/**
 * Runs the steps of one connection until it is done, interrupted, or waiting for a background job
 * (polls are the scheduler's: they share one deadline).
 */
export async function advance(e: Endpoint, first: Step, env: StepEnv): Promise<Extract<Step, { kind: 'done' | 'interrupted' | 'wait' | 'later' }>> {
  let step = first;
  for (;;) {
    switch (step.kind) {
      case 'prepare':
        step = await prepareApp(e, env);
        break;
      case 'send':
        step = await send(e, step, env);
        break;
      case 'readBack':
        step = await readBack(e, step, env);
        break;
      case 'failed':
        step = await explain(e, step, env);
        break;
      case 'done':
        await tidyApp(e, step, env);
        return step;
      case 'wait':
      case 'later':
      case 'interrupted':
        return step;
    }
  }
}
