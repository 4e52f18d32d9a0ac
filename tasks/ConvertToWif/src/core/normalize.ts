// Turns what the service returned into Endpoint objects the rest of the core can trust: keys
// matched case-insensitively (the casing varies, docs/service-behaviour.md §2), booleans that arrive as strings,
// and entries without an id counted rather than crashing the run.

import { isGuid } from './identity';
import { Endpoint, ProjectReference } from './model';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value of `key` in `obj`, whatever its casing. */
function pick(obj: Json, key: string): unknown {
  if (key in obj) return obj[key];
  const k = Object.keys(obj).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : obj[k];
}
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const bool = (v: unknown): boolean | undefined =>
  typeof v === 'boolean' ? v : v === 'true' || v === 'True' ? true : v === 'false' || v === 'False' ? false : undefined;
/**
 * A string map with its keys lower-cased, once, here: the service's casing of `parameters` and
 * `data` keys varies (docs/service-behaviour.md §2), and the rest of the core reads them by their
 * lower-case name. When two keys differ only in case, the first one wins.
 */
/** A nested value as text, bounded: a hostile answer nested too deep or too big must not take the run down. */
function objectText(x: object): string {
  try {
    const text = JSON.stringify(x);
    return text.length > 10_000 ? `${text.slice(0, 10_000)}…` : text;
  } catch {
    return '(unreadable value)';
  }
}

const stringMap = (v: unknown): Record<string, string | null> | null => {
  if (!isObject(v)) return null;
  const out: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  for (const [k, x] of Object.entries(v)) {
    const key = k.toLowerCase();
    if (key in out) continue;
    out[key] =
      x === null || x === undefined
        ? null
        : typeof x === 'object'
          ? objectText(x)
          : typeof x === 'string'
            ? x
            : typeof x === 'number' || typeof x === 'boolean'
              ? String(x)
              : '(unreadable value)';
  }
  return out;
};

/** One endpoint, or undefined when it has no usable id. `fallbackId` is used for answers about a known connection. */
export function normalizeEndpoint(raw: unknown, fallbackId?: string): Endpoint | undefined {
  if (!isObject(raw)) return undefined;
  const id = str(pick(raw, 'id')) || fallbackId;
  if (!id) return undefined;
  const auth = pick(raw, 'authorization');
  const status = pick(raw, 'operationStatus');
  const refs = pick(raw, 'serviceEndpointProjectReferences');
  return {
    id,
    name: str(pick(raw, 'name')) ?? id,
    // The listing asks for type=azurerm; an entry that does not say otherwise is one.
    type: str(pick(raw, 'type')) ?? 'azurerm',
    url: str(pick(raw, 'url')),
    owner: str(pick(raw, 'owner')),
    isShared: bool(pick(raw, 'isShared')),
    isReady: bool(pick(raw, 'isReady')),
    ...(bool(pick(raw, 'isDisabled')) ? { isDisabled: true } : {}),
    operationStatus: isObject(status) ? { state: str(pick(status, 'state')), statusMessage: str(pick(status, 'statusMessage')) } : null,
    authorization: isObject(auth) ? { scheme: str(pick(auth, 'scheme')), parameters: stringMap(pick(auth, 'parameters')) } : null,
    data: stringMap(pick(raw, 'data')),
    serviceEndpointProjectReferences: Array.isArray(refs)
      ? refs.filter(isObject).map((r): ProjectReference => {
          const p = pick(r, 'projectReference');
          return {
            projectReference: isObject(p) ? { id: str(pick(p, 'id')), name: str(pick(p, 'name')) } : null,
            name: str(pick(r, 'name')),
            description: str(pick(r, 'description')),
          };
        })
      : null,
  };
}

/** Entries of a listing kept so far: the first of each id (case-insensitive), and how many were left out. */
export interface Listing<T> {
  items: T[];
  seen: Set<string>;
  malformed: number;
  duplicates: number;
}
export const emptyListing = <T>(): Listing<T> => ({ items: [], seen: new Set<string>(), malformed: 0, duplicates: 0 });

/**
 * Adds the usable entries of `raw` (as `parse` reads them) to `into`. An id listed twice is one
 * entry: the first is kept, so it gets one request and one line in the report; the others are
 * counted, as are the unusable ones (reported, never silent). Pages of one listing share `into`.
 */
export function addFirstById<T extends { id: string }>(raw: unknown[], parse: (item: unknown) => T | undefined, into: Listing<T>): void {
  for (const item of raw) {
    const e = parse(item);
    if (!e) into.malformed++;
    else if (into.seen.has(e.id.toLowerCase())) into.duplicates++;
    else {
      into.seen.add(e.id.toLowerCase());
      into.items.push(e);
    }
  }
}

/** A listing of connections: every usable endpoint, and how many entries had to be left out. */
export function normalizeListing(raw: unknown[]): { endpoints: Endpoint[]; malformed: number; duplicates: number } {
  const listing = emptyListing<Endpoint>();
  addFirstById(raw, (item) => normalizeEndpoint(item), listing);
  return { endpoints: listing.items, malformed: listing.malformed, duplicates: listing.duplicates };
}

/** Longest project name kept: Azure DevOps allows 64 characters (learn.microsoft.com, Azure DevOps naming restrictions); far beyond is not a name. */
const MAX_PROJECT_NAME_CHARS = 256;

/** One listed project as {id, name} (nothing else of the entry is kept), or undefined when it has no GUID id or no usable name. */
export function normalizeProject(raw: unknown): { id: string; name: string } | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { id, name } = raw as { id?: unknown; name?: unknown };
  if (typeof id !== 'string' || !isGuid(id)) return undefined;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_PROJECT_NAME_CHARS) return undefined;
  return { id, name };
}
