// Azure Resource Manager for user-assigned managed identities (docs/service-behaviour.md §19): the
// routes, the shapes the task accepts and ARM's error shape. Pure functions only; EntraClient
// (entraClient.ts) sends the requests with its ARM token, pacing and retry policy.
//
// - GET {arm}subscriptions/{sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities?api-version=2023-01-31
//   → {value: [{id, name, properties: {tenantId, principalId, clientId}}], nextLink};
// - GET {identity id}/federatedIdentityCredentials?api-version=2023-01-31 → {value: [{id, name,
//   properties: {issuer, subject, audiences}}], nextLink};
// - PUT {identity id}/federatedIdentityCredentials/{name}?api-version=2023-01-31 with
//   {properties: {issuer, subject, audiences}} → 201 created, 200 updated;
// - errors {error: {code, message}} (AuthorizationFailed, ResourceNotFound, SubscriptionNotFound, …).

import type { FederatedCredential, ManagedIdentity } from '../core/ports';
import type { Peer, RawAnswer } from './http';

export const ARM_API_VERSION = '2023-01-31';
export const ARM_PEER: Peer = {
  name: 'Azure Resource Manager',
  check: 'the Azure Resource Manager URL of entraConnection and any proxy between the agent and Azure Resource Manager',
};
/** The name of a federated identity credential on a managed identity (create-or-update: federatedIdentityCredentialResourceName). */
export const MI_FIC_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9-_]{2,119}$/;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * /subscriptions/{guid}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}:
 * a resource group of 1 to 90 letters, digits, '_', '-', '.', '(' and ')', not ending with '.'; an
 * identity name of 3 to 128 letters, digits, '-' and '_', starting with a letter or a digit.
 */
const IDENTITY_ID_RE =
  /^\/subscriptions\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/resourceGroups\/([\w().-]{0,89}[\w()-])\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([a-zA-Z0-9][a-zA-Z0-9_-]{2,127})$/i;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : undefined);
const guid = (v: unknown): string | undefined => (typeof v === 'string' && GUID.test(v) ? v.toLowerCase() : undefined);

/** The parts of a user-assigned identity's resource id, or undefined when it has another shape. */
export function parseIdentityId(resourceId: unknown): { subscriptionId: string; resourceGroup: string; name: string } | undefined {
  if (typeof resourceId !== 'string' || resourceId.length > 400) return undefined;
  const m = IDENTITY_ID_RE.exec(resourceId);
  return m ? { subscriptionId: m[1].toLowerCase(), resourceGroup: m[2], name: m[3] } : undefined;
}

/** The resource id, checked before any URL is built from it (no '..', no query, no other provider). */
export function requireIdentityId(resourceId: string): string {
  if (!parseIdentityId(resourceId)) {
    throw new RangeError(
      `The resource id of a user-assigned managed identity must be /subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}, not '${String(resourceId).slice(0, 200)}'.`,
    );
  }
  return resourceId;
}

export function requireFicName(name: string): string {
  if (typeof name !== 'string' || !MI_FIC_NAME_RE.test(name)) {
    throw new RangeError(
      `The name of a federated credential on a managed identity must be 3 to 120 letters, digits, '-' or '_', starting with a letter or a digit, not '${String(name).slice(0, 130)}'.`,
    );
  }
  return name;
}

export const identitiesPath = (subscriptionId: string): string => `subscriptions/${subscriptionId}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`;
export const credentialsPath = (resourceId: string): string => `${resourceId.replace(/^\//, '')}/federatedIdentityCredentials`;

/** The client id of a listed identity (lower case), or undefined when the entry has none the task can read. */
export function listedClientId(v: unknown): string | undefined {
  return isObj(v) && isObj(v.properties) ? guid(v.properties.clientId) : undefined;
}

/** A listed or read identity as the port shows it; undefined when its id or client id has another shape. */
export function normalizeIdentity(v: unknown): ManagedIdentity | undefined {
  if (!isObj(v) || !isObj(v.properties)) return undefined;
  const parts = parseIdentityId(v.id);
  const clientId = guid(v.properties.clientId);
  if (!parts || !clientId) return undefined;
  const mi: ManagedIdentity = { resourceId: v.id as string, ...parts, clientId };
  const principalId = guid(v.properties.principalId);
  const tenantId = guid(v.properties.tenantId);
  if (principalId) mi.principalId = principalId;
  if (tenantId) mi.tenantId = tenantId;
  return mi;
}

/** A federated identity credential of a managed identity: id is ARM's resource id (or the name when there is none). */
export function normalizeArmCredential(v: unknown): FederatedCredential | undefined {
  if (!isObj(v) || !isObj(v.properties)) return undefined;
  const name = str(v.name, 200);
  const issuer = str(v.properties.issuer, 1000);
  const subject = str(v.properties.subject, 1000);
  if (!name || !issuer || !subject) return undefined;
  const id = str(v.id, 1000) ?? name;
  const a = v.properties.audiences;
  const audiences = Array.isArray(a) ? a.slice(0, 10).flatMap((x) => (typeof x === 'string' ? [x.slice(0, 600)] : [])) : [];
  return { id, name, issuer, subject, audiences };
}

/**
 * An error answer in the shape Microsoft Graph and Azure Resource Manager share, {error: {code,
 * message}}: the code when it is a plain word, the message bounded, else what the answer was.
 */
export function apiFailure(status: number, a: Pick<RawAnswer, 'json' | 'result' | 'html' | 'text'>, service: string): { code?: string; message: string } {
  const e = a.json && isObj(a.result) && isObj(a.result.error) ? a.result.error : undefined;
  const code = str(e?.code, 100);
  const message = str(e?.message, 1000);
  return {
    code: code && /^[\w.-]+$/.test(code) ? code : undefined,
    message:
      message ||
      (a.html ? `HTTP ${status}: ${service} answered with an HTML page instead of JSON` : `HTTP ${status}${a.text ? `: ${a.text.slice(0, 300)}` : ''}`),
  };
}

/** ARM's error {error: {code, message}}. */
export const armFailure = (status: number, a: Pick<RawAnswer, 'json' | 'result' | 'html' | 'text'>) => apiFailure(status, a, 'Azure Resource Manager');
