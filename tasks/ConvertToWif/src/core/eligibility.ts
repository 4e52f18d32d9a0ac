// Which azurerm connections `convert` may change, and why the others are left alone.
// Every connection gets exactly one decision, so nothing is dropped from the report.

import {
  creationModeOf,
  dataOf,
  environmentOf,
  homeProject,
  isScheme,
  isSharedEndpoint,
  issuerKind,
  param,
  schemeOf,
  sharingProjects,
  stateOf,
} from './endpoint';
import { Endpoint, Message, Options, RunContext, Scheme, msg } from './model';
import { Selection } from './selection';

export type Decision =
  | { kind: 'federated' }
  | { kind: 'skip'; reason: Message }
  /** Send the action's change (convert: to federation; revert: back to the secret). */
  | { kind: 'change' };

export interface Classified {
  endpoint: Endpoint;
  decision: Decision;
  /** Matched by `connections` and not removed by `excludeConnections`. */
  selected: boolean;
}

const lower = (s: string | null | undefined): string => (s ?? '').toLowerCase();

/**
 * A conversion that failed earlier (the service stores {Failed, converting_scheme_failed: …} and
 * keeps the secret, docs/service-behaviour.md §4): trying it again is what the web UI's "Try again"
 * does, so convert may send it again; any other failure of the connection needs a person.
 */
const failedConversion = (e: Endpoint): boolean =>
  stateOf(e) === 'failed' && /^converting_scheme_failed/i.test(e.operationStatus?.statusMessage ?? '') && isScheme(e, Scheme.ServicePrincipal);

/** Rules shared by convert and revert: state, sharing and home project. */
function sharedRules(e: Endpoint, opts: Options, ctx: RunContext): Decision | undefined {
  const state = stateOf(e);
  if (state === 'inprogress') return { kind: 'skip', reason: msg('SkipInProgress', e.operationStatus?.statusMessage || 'InProgress') };
  if ((e.isReady === false || state === 'failed') && !(opts.action !== 'revert' && failedConversion(e))) {
    return { kind: 'skip', reason: msg('SkipNotReady', e.operationStatus?.statusMessage || e.operationStatus?.state || 'isReady=false') };
  }
  const home = homeProject(e);
  if (home && lower(home.id) !== lower(ctx.project.id)) return { kind: 'skip', reason: msg('SkipHomedElsewhere', home.name) };
  if (isSharedEndpoint(e) && opts.skipShared) return { kind: 'skip', reason: msg('SkipShared', sharingProjects(e).join(', ')) };
  return undefined;
}

/** convert and report: secret-based connections the service can convert. */
function decideConvert(e: Endpoint, opts: Options, ctx: RunContext, selected: boolean): Decision {
  if (isScheme(e, Scheme.WorkloadIdentityFederation)) return { kind: 'federated' };
  if (!selected) return { kind: 'skip', reason: msg('SkipNotSelected') };
  if (isScheme(e, Scheme.ManagedServiceIdentity)) return { kind: 'skip', reason: msg('SkipManagedIdentity') };
  if (isScheme(e, Scheme.PublishProfile)) return { kind: 'skip', reason: msg('SkipPublishProfile') };
  if (!isScheme(e, Scheme.ServicePrincipal)) return { kind: 'skip', reason: msg('SkipOtherScheme', schemeOf(e) || '(none)') };

  const environment = environmentOf(e);
  if (lower(environment) === 'azurestack') return { kind: 'skip', reason: msg('SkipAzureStack') };
  // docs/service-behaviour.md §6: the docs exclude US Government, and AADSTS900382 means a cloud blocks
  // federation at pipeline run time. Converting could succeed and then break every pipeline,
  // so sovereign clouds are left alone and the user is told why.
  if (lower(environment) !== 'azurecloud') return { kind: 'skip', reason: msg('SkipSovereignCloud', environment) };

  const common = sharedRules(e, opts, ctx);
  if (common) return common;
  if (lower(creationModeOf(e)) === 'manual' && !opts.includeManual) return { kind: 'skip', reason: msg('SkipManual') };
  return { kind: 'change' };
}

/** revert: federated connections whose recovery data the service still keeps (docs/service-behaviour.md §5). */
function decideRevert(e: Endpoint, opts: Options, ctx: RunContext, selected: boolean, now: Date): Decision {
  if (!selected) return { kind: 'skip', reason: msg('SkipNotSelected') };
  if (!isScheme(e, Scheme.WorkloadIdentityFederation)) return { kind: 'skip', reason: msg('SkipRevertNotFederated', schemeOf(e) || '(none)') };
  const deadline = dataOf(e, 'revertSchemeDeadline');
  const at = deadline ? Date.parse(deadline) : NaN;
  if (!deadline || Number.isNaN(at)) return { kind: 'skip', reason: msg('SkipRevertNoDeadline') };
  if (at <= now.getTime()) return { kind: 'skip', reason: msg('SkipRevertExpired', new Date(at).toISOString()) };
  const common = sharedRules(e, opts, ctx);
  if (common) return common;
  // docs/service-behaviour.md §5: the docs say manually created connections cannot be reverted (unverified over REST).
  if (lower(creationModeOf(e)) === 'manual' && !opts.includeManual) return { kind: 'skip', reason: msg('SkipRevertManual') };
  return { kind: 'change' };
}

/**
 * updateIssuer: federated connections of ANY type still on the Azure DevOps issuer (retired
 * 2027-07-01, docs/service-behaviour.md §7, §19); the others are left alone with the reason.
 */
function decideUpdateIssuer(e: Endpoint, opts: Options, ctx: RunContext, selected: boolean): Decision {
  if (!selected) return { kind: 'skip', reason: msg('SkipNotSelected') };
  if (!isScheme(e, Scheme.WorkloadIdentityFederation)) return { kind: 'skip', reason: msg('SkipIssuerNotFederated', schemeOf(e) || '(none)') };
  const kind = issuerKind(param(e, 'workloadIdentityFederationIssuer'));
  if (kind === 'entra') return { kind: 'skip', reason: msg('SkipIssuerAlreadyEntra') };
  if (kind !== 'azuredevops') return { kind: 'skip', reason: msg('SkipIssuerOther', param(e, 'workloadIdentityFederationIssuer') ?? '(none)') };
  // A federation with another cloud (no Entra tenant and client id): it cannot move, and breaks on the date.
  if (!param(e, 'tenantid') || !param(e, 'serviceprincipalid')) return { kind: 'skip', reason: msg('SkipIssuerNotEntraIdentity', '2027-07-01') };
  const environment = environmentOf(e);
  if (environment && lower(environment) === 'azurestack') return { kind: 'skip', reason: msg('SkipAzureStack') };
  if (environment && lower(environment) !== 'azurecloud') return { kind: 'skip', reason: msg('SkipIssuerSovereign', environment) };
  return sharedRules(e, opts, ctx) ?? { kind: 'change' };
}

/** The connection types an action looks at: azurerm for convert and revert; for a report also federated ones of any type; every type for updateIssuer. */
function inScope(e: Endpoint, opts: Options): boolean {
  if (opts.action === 'updateIssuer') return true;
  if (lower(e.type) === 'azurerm') return true;
  return opts.action === 'report' && isScheme(e, Scheme.WorkloadIdentityFederation);
}

/** How many more connections the run may change (maxConnections; a report changes nothing, so it has no limit). */
export interface Budget {
  left: number;
}
export const newBudget = (opts: Pick<Options, 'maxConnections' | 'action'>): Budget => ({
  left: opts.maxConnections > 0 && opts.action !== 'report' ? opts.maxConnections : Infinity,
});

/** One collator for all comparisons: localeCompare with options builds a new one per call (25x slower on 10,000 names). */
const byName = new Intl.Collator('en', { sensitivity: 'base' });

/**
 * Classifies every azurerm connection, in a stable order (by name, then id), and applies
 * `maxConnections` to the eligible ones in that order.
 */
export function classify(
  endpoints: Endpoint[],
  opts: Options,
  ctx: RunContext,
  selection: Selection,
  now = new Date(),
  /** maxConnections left for the run, shared by the projects of an organization-wide run (projects are classified in turn). */
  budget: Budget = newBudget(opts),
): Classified[] {
  const sorted = endpoints.filter((e) => inScope(e, opts)).sort((a, b) => byName.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return sorted.map((endpoint) => {
    const selected = selection.isSelected(endpoint);
    let decision =
      opts.action === 'revert'
        ? decideRevert(endpoint, opts, ctx, selected, now)
        : opts.action === 'updateIssuer'
          ? decideUpdateIssuer(endpoint, opts, ctx, selected)
          : decideConvert(endpoint, opts, ctx, selected);
    if (decision.kind === 'change') {
      if (budget.left <= 0) decision = { kind: 'skip', reason: msg('SkipOverLimit', opts.maxConnections) };
      else budget.left--;
    }
    return { endpoint, decision, selected };
  });
}
