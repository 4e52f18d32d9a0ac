// Small pure helpers shared by the emulator's server and services (Node built-ins only).
import * as crypto from 'crypto';
import * as http from 'http';

export type Obj = Record<string, any>;

export const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
export const ieq = (a: unknown, b: unknown) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Case-insensitive property lookup (the service binds JSON and parameter dictionaries case-insensitively). */
export function prop(o: Obj | undefined, key: string): unknown {
  if (!isObj(o)) return undefined;
  const k = Object.keys(o).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : o[k];
}

export function deleteKeys(o: Obj, keys: string[]): void {
  for (const k of Object.keys(o)) if (keys.includes(k.toLowerCase())) delete o[k];
}

/** A stable fake identity id (GUID-shaped) for a display name. */
export function identityId(name: string): string {
  const h = crypto.createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The timers of one emulated server: sleeps and later calls that `close()` cancels at once, and the server closed with them. */
export class ServerTimers {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Runs `fn` after `ms`, unless the server closes first. */
  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  sleep(ms: number): Promise<void> {
    if (!(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => this.later(ms, resolve));
  }

  /** Cancels every pending timer and closes the server with its open connections. */
  close(server: import('http').Server): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
