// One emulated HTTPS host on a loopback port (the Entra token endpoint, Microsoft Graph, the agent's
// OIDC endpoint): TLS with the test certificate (tls.ts), request recording, the shared fault
// machinery (faults.ts: respond, reset, apply-then-reset, delay; a 429 carries Retry-After when the
// fault sets it), latency and JSON replies. What a request means is the handler's business; how an
// injected failure is worded is the host's (its error shape). Plain HTTP is refused: the TLS server
// drops a connection that does not start with a TLS handshake. Node built-ins only.
import * as https from 'https';
import type { TLSSocket } from 'tls';
import { URL } from 'url';
import { FaultQueue, type Fault } from './faults';
import type { Reply } from './types';
import { ServerTimers, parseJson, readBody } from './util';

export interface HostRequest {
  method: string;
  /** Decoded path without the query. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body text ('' when none). */
  raw: string;
  /** The body parsed as JSON, if it is JSON. */
  json: unknown;
}

export interface HostRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Status sent; 0 when a 'reset' fault answered nothing; for 'apply-then-reset' the status that was lost. */
  status: number;
  /** Form fields or JSON body, secrets included (tests assert on them). */
  body?: unknown;
  fault?: NonNullable<Fault['kind']>;
}

export interface HostOptions {
  key: string;
  cert: string;
  /** What an injected 'respond' fault answers when the fault has no body (the host's error shape). */
  faultReply(status: number, headers: Record<string, string> | undefined): Reply;
  handle(req: HostRequest): Reply;
  /** Extra headers on every reply (request ids). */
  headers?(): Record<string, string>;
}

export class HttpsHost {
  url = '';
  readonly requests: HostRecord[] = [];
  latencyMs = 0;
  private readonly faults = new FaultQueue();
  private readonly server: https.Server;
  private readonly timers = new ServerTimers();

  constructor(private readonly options: HostOptions) {
    this.server = https.createServer({ key: options.key, cert: options.cert }, (req, res) => {
      this.onRequest(req, res).catch((e) => {
        if (!res.headersSent) this.send(res, { status: 500, body: { error: 'emulator_error', error_description: String(e) } });
      });
    });
    // A client speaking plain HTTP (or distrusting the certificate) ends here; nothing to answer.
    this.server.on('tlsClientError', (_e, socket: TLSSocket) => socket.destroy());
  }

  addFault(f: Fault): void {
    this.faults.add(f);
  }

  listen(host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => {
        const port = (this.server.address() as { port: number }).port;
        this.url = `https://${host.includes(':') ? `[${host}]` : host}:${port}/`;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return this.timers.close(this.server);
  }

  private async onRequest(req: import('http').IncomingMessage, res: import('http').ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://emulator');
    let path = url.pathname;
    try {
      path = decodeURIComponent(path);
    } catch {
      // keep it as sent
    }
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => {
      query[k] = v;
    });
    const rec: HostRecord = { method, path, query, status: 0 };
    this.requests.push(rec);
    const fault = this.faults.take(method, path);
    if (fault) rec.fault = fault.kind ?? 'respond';
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    const raw = await readBody(req);
    const json = raw ? parseJson(raw) : undefined;
    const form = /application\/x-www-form-urlencoded/i.test(String(req.headers['content-type'] ?? ''))
      ? Object.fromEntries(new URLSearchParams(raw))
      : undefined;
    if (raw) rec.body = form ?? json ?? raw;
    if (fault?.kind === 'delay') await this.timers.sleep(fault.delayMs ?? 0);
    let reply: Reply;
    if (fault && rec.fault === 'respond') {
      reply =
        fault.body !== undefined
          ? { status: fault.status ?? 500, headers: { 'Content-Type': 'application/json; charset=utf-8', ...fault.headers }, body: fault.body }
          : this.options.faultReply(fault.status ?? 500, fault.headers);
    } else reply = this.options.handle({ method, path, query, headers: req.headers, raw, json });
    rec.status = reply.status;
    if (fault?.kind === 'apply-then-reset') {
      req.socket.destroy();
      return;
    }
    await this.timers.sleep(this.latencyMs);
    if (!res.destroyed) this.send(res, reply);
  }

  private send(res: import('http').ServerResponse, reply: Reply): void {
    const headers: Record<string, string> = { ...this.options.headers?.() };
    let payload: string | undefined;
    if (typeof reply.body === 'string') payload = reply.body;
    else if (reply.body !== undefined) {
      payload = JSON.stringify(reply.body);
      headers['Content-Type'] = 'application/json; charset=utf-8';
    }
    Object.assign(headers, reply.headers);
    if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
    res.writeHead(reply.status, headers);
    res.end(payload);
  }
}
