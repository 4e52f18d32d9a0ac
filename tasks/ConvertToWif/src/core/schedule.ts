// Many connections: the ledger of every connection's outcome, and the scheduling of their steps
// (steps.ts): the changes with at most `concurrency` in flight, then the polls of those a background
// job finishes, under one deadline (waitTimeoutSeconds). Cancellation stops new work at once.
//
// The ledger always holds the truth as far as the task knows it, so whatever happens to the run
// (a crash, a cancellation), the report written from it says what was changed.

import pLimit from 'p-limit';
import { baseResult, federationFields } from './endpoint';
import { Classified } from './eligibility';
import { AppFinding, EntraRun, Prepared } from './entra';
import { ConnectionResult, Endpoint, Impact, Message, Options, RunContext, changesNothing, msg } from './model';
import { Clock, EndpointPort } from './ports';
import { Limit, impactSkipReason } from './impact';
import { Step, StepEnv, advance, firstStep, poll } from './steps';

/**
 * What a dry run can learn without changing anything: the ids of the connections the identity
 * administers (a listing with actionFilter=manage), so the plan can warn about a 403 to come.
 */
export interface DryRunPreview {
  manageable: Set<string>;
  identity?: string;
}

/** What was learnt before anything is sent: the dry-run permission preview, the impact check and the apps in Entra. */
export interface Findings {
  preview?: DryRunPreview;
  impacts?: Map<string, Impact>;
  apps?: Map<string, AppFinding>;
}

/** The outcome of every connection before anything is sent: skips, federated, planned, and the ones to change. */
export function initialResults(classified: Classified[], opts: Options, ctx: RunContext, findings: Findings = {}): ConnectionResult[] {
  const { preview, impacts, apps } = findings;
  return classified.map(({ endpoint: e, decision, selected }) => {
    const impact = impacts?.get(e.id);
    const found = apps?.get(e.id);
    const r: ConnectionResult = {
      ...baseResult(e),
      selected,
      ...(impact ? { impact } : {}),
      ...(found?.app ? { app: found.app, identityKind: 'app' as const } : {}),
      ...(found?.credentials?.length ? { credentials: found.credentials } : {}),
      ...(found?.note ? { appFinding: found.note } : {}),
    };
    if (decision.kind === 'federated') return { ...r, outcome: 'federated', ...federationFields(e) };
    if (decision.kind === 'skip') return { ...r, outcome: 'skipped', reason: decision.reason };
    if (changesNothing(opts)) {
      const denied = preview && !preview.manageable.has(e.id.toLowerCase());
      const identity = preview?.identity ?? `${ctx.project.name} Build Service`;
      if (denied) return { ...r, outcome: 'planned', reason: msg('PlannedNotAdministrator', identity, e.name, ctx.project.name) };
      if (found?.problem?.outcome === 'skipped')
        return { ...r, outcome: 'skipped', reason: found.problem.reason, serviceMessage: found.problem.serviceMessage };
      // Foreseen: the real run would fail this way (the summary lists it under "needs attention").
      if (found?.problem) return { ...r, outcome: 'planned', reason: found.problem.reason, serviceMessage: found.problem.serviceMessage };
      if (found?.credentials) {
        const adding = found.credentials.filter((c) => c.change === 'wouldCreate').length;
        return {
          ...r,
          outcome: 'planned',
          reason:
            adding > 0 ? msg('PlannedAddCredentials', adding, found.app?.displayName ?? '?') : msg('PlannedCredentialsReady', found.app?.displayName ?? '?'),
        };
      }
      return { ...r, outcome: 'planned' };
    }
    return { ...r, outcome: 'skipped', reason: msg('SkipNotAttempted') };
  });
}

/** What the changes of several projects share, and the impact check read per connection just before its change. */
export interface RunShared {
  /** The run's limiter of changes in flight (all projects together); `concurrency` of its own otherwise. */
  limit?: Limit;
  /**
   * Reads a connection's recent use just before its change, outside the change's slot (so histories
   * are read while other connections convert); under `skip`, one that would break is left alone.
   */
  impact?: { read: (id: string) => Promise<Impact>; mode: 'warn' | 'skip' };
}

export interface ConversionRun {
  /** One entry per classified connection, updated in place as conversions progress. */
  results: ConnectionResult[];
  /** Stop starting new work (cancellation); what is in flight finishes or stays pending. */
  stop(): void;
  /** Resolves when every change has been sent and answered (those a background job finishes are then polled). */
  sent: Promise<void>;
  /** Resolves when every change has ended or the wait ran out. */
  done: Promise<void>;
}

const POLL_FIRST_MS = 1000;
const POLL_MAX_MS = 15000;

/**
 * One entry per connection; a final result keeps the impact found before the change, and the app
 * and credentials as this run left them in Entra (recorded the moment they change).
 */
class Ledger {
  readonly results: ConnectionResult[];
  private readonly index: Map<string, number>;
  constructor(
    results: ConnectionResult[],
    private readonly prepared: Map<string, Prepared>,
  ) {
    this.results = results;
    this.index = new Map(results.map((r, i) => [r.id, i]));
  }
  settle(e: Endpoint, r: ConnectionResult): void {
    const i = this.index.get(e.id)!;
    const { impact, selected } = this.results[i];
    this.results[i] = this.withApp(e, impact ? { ...r, selected, impact } : { ...r, selected });
  }
  /** The credentials changed in Entra: the entry says so now, whatever happens next. */
  annotate(e: Endpoint): void {
    const i = this.index.get(e.id)!;
    this.results[i] = this.withApp(e, this.results[i]);
  }
  private withApp(e: Endpoint, r: ConnectionResult): ConnectionResult {
    const p = this.prepared.get(e.id);
    return p ? { ...r, app: p.app, credentials: p.credentials } : r;
  }
  /** The impact check's finding, read just before the change (it stays with the final result). */
  impact(e: Endpoint, impact: Impact): void {
    const i = this.index.get(e.id)!;
    this.results[i] = { ...this.results[i], impact };
  }
  pending(e: Endpoint, reason: Message): void {
    const i = this.index.get(e.id)!;
    this.results[i] = { ...this.results[i], outcome: 'pending', reason };
  }
}

/** Starts the action's change for every connection classified `change` (nothing is sent on a dry run or a report). */
export function startConversions(
  classified: Classified[],
  opts: Options,
  ctx: RunContext,
  port: EndpointPort,
  clock: Clock,
  findings: Findings = {},
  /** Aborted (already, or later): start nothing new. */
  cancelled?: AbortSignal,
  /** With entraConnection: the app of each connection is prepared before its conversion. */
  entra?: EntraRun,
  run: RunShared = {},
): ConversionRun {
  const prepared = new Map<string, Prepared>();
  const ledger = new Ledger(initialResults(classified, opts, ctx, findings), prepared);
  const env: StepEnv = {
    port,
    clock,
    ctx: { ...ctx },
    action: opts.action,
    entra,
    prepared,
    onPrepared: (e) => ledger.annotate(e),
    waitTimeoutMs: opts.waitTimeoutSeconds * 1000,
  };
  const limit: Limit = run.limit ?? pLimit(opts.concurrency);
  const waiting = new Map<Endpoint, Extract<Step, { kind: 'wait' }>>();
  // Read on each check rather than through an abort listener: an organization-wide run starts this
  // once per project, and a listener per project would pile up on the run's one signal.
  let halted = false;
  const isStopped = () => halted || cancelled?.aborted === true;

  /** Records where a connection's steps stopped: done, interrupted, or waiting for the background job. */
  const record = (e: Endpoint, step: Extract<Step, { kind: 'done' | 'interrupted' | 'wait' }>): void => {
    if (step.kind === 'done') ledger.settle(e, step.result);
    else if (step.kind === 'interrupted') {
      const p = prepared.get(e.id);
      if (step.applied) ledger.pending(e, msg('PendingInFlight'));
      else if (p && p.createdIds.size > 0) ledger.settle(e, { ...baseResult(e), outcome: 'skipped', reason: msg('SkipCancelledPrepared', p.app.displayName) });
      else ledger.settle(e, { ...baseResult(e), outcome: 'skipped', reason: msg('SkipNotAttempted') });
    } else {
      ledger.pending(e, msg('PendingBackground'));
      waiting.set(e, step);
    }
  };

  /**
   * Runs a connection's steps, each run in a slot of `concurrency`; a `later` (a new credential
   * propagating) is slept out without one. `first`: the change has not started yet, and does not
   * start once the run is stopped.
   */
  const drive = async (e: Endpoint, step: Step, first: boolean): Promise<void> => {
    if (first && run.impact) {
      if (isStopped()) return;
      const impact = await run.impact.read(e.id);
      // A check cut short by a cancellation says nothing about the pipelines: the connection is "not attempted".
      if (isStopped()) return;
      ledger.impact(e, impact);
      const held = run.impact.mode === 'skip' ? impactSkipReason(impact) : undefined;
      if (held) return ledger.settle(e, { ...baseResult(e), outcome: 'skipped', reason: held });
    }
    for (;;) {
      const next = await limit(async () => {
        if (first) {
          if (isStopped()) return undefined;
          ledger.pending(e, msg('PendingInFlight'));
        }
        return advance(e, step, env);
      });
      if (!next) return;
      if (next.kind !== 'later') return record(e, next);
      first = false;
      await clock.sleep(Math.max(0, next.at - clock.now()));
      // Cancelled while waiting to send again: the refused conversion is not sent again.
      if (isStopped()) return record(e, { kind: 'interrupted', applied: false });
      step = next.next;
    }
  };

  /**
   * Polls the connections whose change a background job finishes, in rounds with a growing
   * interval, until each is done or the deadline passes. Every poll settles by the deadline (the
   * port bounds it, and no retry wait ends after it), so the wait never outlasts waitTimeoutSeconds;
   * a poll cut at the deadline leaves the connection pending, and no poll starts at the deadline itself.
   */
  const waitForBackground = async (): Promise<void> => {
    const deadline = clock.now() + opts.waitTimeoutSeconds * 1000;
    env.deadline = deadline;
    let interval = POLL_FIRST_MS;
    while (waiting.size > 0 && clock.now() < deadline && !isStopped()) {
      await clock.sleep(Math.min(interval, deadline - clock.now()));
      if (isStopped() || clock.now() >= deadline) break;
      interval = Math.min(interval * 2, POLL_MAX_MS);
      await Promise.all(
        [...waiting].map(async ([e, step]) => {
          const next = await limit(() => poll(e, step, env, deadline));
          if (next.kind === 'wait') return void waiting.set(e, next);
          waiting.delete(e);
          await drive(e, next, false);
        }),
      );
    }
    for (const [e, step] of waiting) {
      ledger.pending(
        e,
        isStopped() ? msg('PendingCancelled') : step.unsure?.timedOut ? msg('PendingRequestTimedOut') : msg('PendingTimeout', opts.waitTimeoutSeconds),
      );
    }
  };

  const toChange = changesNothing(opts) ? [] : classified.filter((c) => c.decision.kind === 'change').map((c) => c.endpoint);
  const sent = Promise.all(toChange.map((e) => drive(e, firstStep(env), true))).then(() => undefined);
  const done = sent.then(waitForBackground);
  /** Stops new work; the connections already waiting for a background job say so, unless a poll in the grace period settles them. */
  const stop = () => {
    halted = true;
    for (const e of waiting.keys()) ledger.pending(e, msg('PendingCancelled'));
  };
  return { results: ledger.results, stop, sent, done };
}
