// Emulator seeds: reading a seed file, checking it, and resolving relative times ("-3d").
import * as fs from 'fs';
import { MAX_FICS_PER_IDENTITY, MI_FIC_NAME_RE } from './arm';
import { PROJECT_STATES } from './projects';
import type { AadSilentFailureDelivery, EntraSeed, ExecutionResult, IdentityKind, MigrationMode, Seed } from './types';
import { isObj } from './util';

const EXECUTION_RESULTS: ExecutionResult[] = ['succeeded', 'succeededWithIssues', 'failed', 'canceled', 'skipped', 'abandoned'];
const IDENTITY_KINDS: IdentityKind[] = ['user', 'service'];
const AAD_SILENT_FAILURE_DELIVERIES: AadSilentFailureDelivery[] = ['sync-500', 'sync-400', 'async'];
const MIGRATION_MODES: MigrationMode[] = ['switches', '404', '403', '500'];
const RELATIVE_TIME_RE = /^-(\d+)([dhm])$/;
const TIME_UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };

export function validateSeed(seed: Seed, where: string): void {
  const fail = (m: string) => {
    throw new Error(`Invalid emulator seed (${where}): ${m}`);
  };
  if (!seed || typeof seed !== 'object') fail('not an object');
  if (!seed.organization?.name || !seed.organization?.id) fail('organization.name and organization.id are required');
  for (const k of ['projects', 'identities', 'defaultAdministrators', 'endpoints'] as const) {
    if (!Array.isArray(seed[k])) fail(`${k} must be an array`);
  }
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string' && x);
  const projectIds = new Set<string>();
  for (const p of seed.projects) {
    if (typeof p?.id !== 'string' || !p.id || typeof p.name !== 'string' || !p.name) fail('each project needs id and name');
    if (projectIds.has(p.id.toLowerCase())) fail(`duplicate project id ${p.id}`);
    projectIds.add(p.id.toLowerCase());
    if (p.state !== undefined && !PROJECT_STATES.includes(p.state)) fail(`project ${p.name}: state must be one of ${PROJECT_STATES.join(', ')}`);
    if (p.visibility !== undefined && p.visibility !== 'private' && p.visibility !== 'public')
      fail(`project ${p.name}: visibility must be 'private' or 'public'`);
    if (p.hiddenFrom !== undefined && !strings(p.hiddenFrom)) fail(`project ${p.name}: hiddenFrom must be an array of identity names`);
    for (const k of ['unreadable', 'deleted'] as const) if (p[k] !== undefined && p[k] !== true) fail(`project ${p.name}: ${k} must be true when set`);
  }
  if (seed.projectPageSize !== undefined && !(Number.isInteger(seed.projectPageSize) && seed.projectPageSize > 0)) {
    fail('projectPageSize must be a positive integer');
  }
  for (const i of seed.identities) {
    if (typeof i?.token !== 'string' || !i.token || typeof i.name !== 'string' || !i.name) fail('each identity needs token and name');
    if (i.projects !== undefined && !strings(i.projects)) fail(`identity ${i.name}: projects must be an array of project names or ids`);
    // Absent: 'user' (a person whose Entra sign-in Azure DevOps holds).
    if (i.kind !== undefined && !IDENTITY_KINDS.includes(i.kind)) fail(`identity ${i.name}: kind must be 'user' or 'service'`);
  }
  const deliveries = AAD_SILENT_FAILURE_DELIVERIES.map((d) => `'${d}'`).join(', ');
  if (seed.aadSilentFailure !== undefined && !AAD_SILENT_FAILURE_DELIVERIES.includes(seed.aadSilentFailure)) {
    fail(`aadSilentFailure must be one of ${deliveries}`);
  }
  const ids = new Set<string>();
  for (const ep of seed.endpoints) {
    const id = String((ep.id as string | undefined) ?? '').toLowerCase();
    if (!id || !ep.name || !ep.type) fail(`endpoint ${JSON.stringify(ep.name ?? ep.id)} needs id, name and type`);
    if (ids.has(id)) fail(`duplicate endpoint id ${id}`);
    ids.add(id);
    const refs = ep.serviceEndpointProjectReferences;
    if (!Array.isArray(refs) || !refs.length) fail(`endpoint ${String(ep.name)} needs serviceEndpointProjectReferences`);
    const delivery = ep.emulator?.aadSilentFailure;
    if (delivery !== undefined && !AAD_SILENT_FAILURE_DELIVERIES.includes(delivery)) {
      fail(`endpoint ${String(ep.name)}: emulator.aadSilentFailure must be one of ${deliveries}`);
    }
    const migration = ep.emulator?.migration;
    if (migration !== undefined && !MIGRATION_MODES.includes(migration)) {
      fail(`endpoint ${String(ep.name)}: emulator.migration must be one of ${MIGRATION_MODES.map((m) => `'${m}'`).join(', ')}`);
    }
    const executions = ep.emulator?.executions;
    if (executions !== undefined && !Array.isArray(executions)) fail(`endpoint ${String(ep.name)}: emulator.executions must be an array`);
    for (const [i, x] of (executions ?? []).entries()) {
      const at = `endpoint ${String(ep.name)}: emulator.executions[${i}]`;
      if (x?.planType !== 'Build' && x?.planType !== 'Release') fail(`${at}.planType must be 'Build' or 'Release'`);
      if (!Number.isInteger(x.definitionId) || !Number.isInteger(x.runId)) fail(`${at} needs integer definitionId and runId`);
      if (typeof x.definitionName !== 'string' || !x.definitionName) fail(`${at} needs definitionName`);
      if (!isTime(x.startTime)) fail(`${at}.startTime must be an ISO date or an offset like "-3d"`);
      if (x.finishTime !== undefined && !isTime(x.finishTime)) fail(`${at}.finishTime must be an ISO date or an offset like "-3d"`);
      if (x.result !== undefined && !EXECUTION_RESULTS.includes(x.result)) fail(`${at}.result must be one of ${EXECUTION_RESULTS.join(', ')}`);
    }
  }
  if (seed.executionPageSize !== undefined && !(Number.isInteger(seed.executionPageSize) && seed.executionPageSize > 0)) {
    fail('executionPageSize must be a positive integer');
  }
  for (const [id, b] of Object.entries(seed.builds ?? {})) {
    if (!/^\d+$/.test(id) || !b || !Number.isInteger(b.definitionId) || !Array.isArray(b.records)) {
      fail(`builds["${id}"] needs a numeric key, an integer definitionId and records[]`);
    }
    for (const r of b.records) {
      if (!r?.id || !r.type || typeof r.name !== 'string') fail(`builds["${id}"]: each record needs id, type and name`);
      if (r.task && !(r.task.id && r.task.name && r.task.version)) fail(`builds["${id}"]: record ${r.name}: task needs id, name and version`);
    }
  }
  for (const [id, pl] of Object.entries(seed.pipelines ?? {})) {
    if (!/^\d+$/.test(id) || !pl?.name) fail(`pipelines["${id}"] needs a numeric key and a name`);
    if (pl.preview !== undefined && !['ok', 'forbidden', 'not-yaml'].includes(pl.preview))
      fail(`pipelines["${id}"].preview must be 'ok', 'forbidden' or 'not-yaml'`);
  }
  if (seed.migration !== undefined && !MIGRATION_MODES.includes(seed.migration)) {
    fail(`migration must be one of ${MIGRATION_MODES.map((m) => `'${m}'`).join(', ')}`);
  }
  if (seed.entra !== undefined) validateEntraSeed(seed.entra, where);
  if (seed.taskDefinitions !== undefined) {
    if (!Array.isArray(seed.taskDefinitions)) fail('taskDefinitions must be an array');
    for (const d of seed.taskDefinitions) {
      const v = d?.version;
      if (!d?.id || !d.name || typeof d.author !== 'string' || !v || ![v.major, v.minor, v.patch].every(Number.isInteger)) {
        fail(`taskDefinitions: ${JSON.stringify(d?.name ?? d)} needs id, name, author and version {major, minor, patch}`);
      }
    }
  }
}

/** The Entra section (tenants, apps, clients): ids present and unique, credentials complete. */
export function validateEntraSeed(entra: EntraSeed, where: string): void {
  const fail = (m: string) => {
    throw new Error(`Invalid emulator seed (${where}): entra: ${m}`);
  };
  if (!isObj(entra) || !Array.isArray(entra.tenants)) fail('tenants must be an array');
  if (entra.propagationDelayMs !== undefined && !(typeof entra.propagationDelayMs === 'number' && entra.propagationDelayMs >= 0)) {
    fail('propagationDelayMs must be a number >= 0');
  }
  for (const k of ['armPageSize'] as const) {
    const v = entra[k];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) fail(`${k} must be a positive integer`);
  }
  const w = entra.armConcurrentWriteWindowMs;
  if (w !== undefined && !(typeof w === 'number' && w >= 0)) fail('armConcurrentWriteWindowMs must be a number >= 0');
  const appIds = new Set<string>();
  const clientIds = new Set<string>();
  const identities = new Set<string>();
  const subscriptionTenants = new Map<string, string>();
  // Applications first (any tenant), so a managed identity reusing an app's client id is caught.
  for (const t of entra.tenants ?? []) for (const a of t?.applications ?? []) if (a?.appId) appIds.add(String(a.appId).toLowerCase());
  const seen = new Set<string>();
  for (const t of entra.tenants) {
    if (!t?.id) fail('each tenant needs an id');
    for (const a of t.applications ?? []) {
      if (!a?.appId || !a.objectId || typeof a.displayName !== 'string') fail(`tenant ${t.id}: each application needs appId, objectId and displayName`);
      if (seen.has(a.appId.toLowerCase())) fail(`application ${a.appId} is seeded twice (an app has one home tenant)`);
      seen.add(a.appId.toLowerCase());
      for (const f of a.federatedIdentityCredentials ?? []) {
        if (!f?.name || !f.issuer || !f.subject) fail(`application ${a.appId}: each federated credential needs name, issuer and subject`);
      }
      for (const c of [...(a.passwordCredentials ?? []), ...(a.keyCredentials ?? [])]) {
        if (!c?.keyId || !isTime(c.endDateTime)) fail(`application ${a.appId}: each secret or certificate needs keyId and endDateTime`);
      }
    }
    for (const p of t.servicePrincipals ?? []) if (!p?.appId) fail(`tenant ${t.id}: each service principal needs appId`);
    if (t.subscriptions !== undefined && !(Array.isArray(t.subscriptions) && t.subscriptions.every((x) => typeof x === 'string' && x))) {
      fail(`tenant ${t.id}: subscriptions must be an array of ids`);
    }
    for (const m of t.managedIdentities ?? []) {
      const at = `tenant ${t.id}: managed identity ${JSON.stringify(m?.name)}`;
      for (const k of ['subscriptionId', 'resourceGroup', 'name', 'clientId', 'principalId'] as const) {
        if (typeof m?.[k] !== 'string' || !m[k]) fail(`${at} needs ${k}`);
      }
      const key = `${m.subscriptionId}/${m.resourceGroup}/${m.name}`.toLowerCase();
      if (identities.has(key)) fail(`${at} is seeded twice in resource group ${m.resourceGroup}`);
      identities.add(key);
      const client = m.clientId.toLowerCase();
      if (appIds.has(client) || clientIds.has(client)) fail(`${at}: client id ${m.clientId} is already an application's or another identity's`);
      clientIds.add(client);
      const owner = subscriptionTenants.get(m.subscriptionId.toLowerCase());
      if (owner !== undefined && owner !== t.id.toLowerCase()) fail(`${at}: subscription ${m.subscriptionId} belongs to tenant ${owner}`);
      subscriptionTenants.set(m.subscriptionId.toLowerCase(), t.id.toLowerCase());
      for (const k of ['writers', 'readers'] as const) {
        const v = m[k];
        if (v !== undefined && !(Array.isArray(v) && v.every((x) => typeof x === 'string' && x))) fail(`${at}: ${k} must be an array of client ids`);
      }
      const fics = m.federatedIdentityCredentials ?? [];
      if (fics.length > MAX_FICS_PER_IDENTITY) fail(`${at}: at most ${MAX_FICS_PER_IDENTITY} federated credentials`);
      for (const f of fics) {
        if (!f?.name || !f.issuer || !f.subject) fail(`${at}: each federated credential needs name, issuer and subject`);
        if (!MI_FIC_NAME_RE.test(f.name)) fail(`${at}: federated credential name ${JSON.stringify(f.name)} does not match ${MI_FIC_NAME_RE.source}`);
      }
    }
    for (const x of t.subscriptions ?? []) {
      const owner = subscriptionTenants.get(x.toLowerCase());
      if (owner !== undefined && owner !== t.id.toLowerCase()) fail(`tenant ${t.id}: subscription ${x} belongs to tenant ${owner}`);
      subscriptionTenants.set(x.toLowerCase(), t.id.toLowerCase());
    }
  }
}

function isTime(v: unknown): boolean {
  return typeof v === 'string' && (RELATIVE_TIME_RE.test(v) || !Number.isNaN(Date.parse(v)));
}

/**
 * Replaces relative times ("-3d", "-12h", "-45m": that long before nowMs) in every startTime /
 * finishTime field of the seed with ISO strings. Other values are left as they are.
 */
export function resolveRelativeTimes<T>(value: T, nowMs: number): T {
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) {
        const m = (k === 'startTime' || k === 'finishTime') && typeof x === 'string' ? RELATIVE_TIME_RE.exec(x) : null;
        if (m) v[k] = new Date(nowMs - Number(m[1]) * TIME_UNIT_MS[m[2]]).toISOString();
        else walk(x);
      }
    }
  };
  walk(value);
  return value;
}

/**
 * Reads a seed file; top-level keys starting with "comment" are ignored. Relative times ("-3d")
 * are kept as written here and resolved by startEmulator.
 */
export function loadSeed(file: string): Seed {
  const seed = JSON.parse(fs.readFileSync(file, 'utf8')) as Seed & Record<string, unknown>;
  for (const k of Object.keys(seed)) if (k.toLowerCase().startsWith('comment')) delete seed[k];
  validateSeed(seed, file);
  return seed;
}
