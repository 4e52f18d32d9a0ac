// The fault machinery shared by every emulated host (Azure DevOps, Entra, Graph, the agent's OIDC
// endpoint): what a test injects (Fault) and the queue that hands a matching fault to a request.
// How a fault is answered is each host's business (its error shape); the kinds mean the same
// everywhere. Node built-ins only.
import { ieq } from './util';

export interface Fault {
  method?: string;
  path?: string | RegExp;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  count?: number;
  /**
   * 'respond' (default): answer status/headers/body instead of the service. 'reset': destroy the
   * socket unanswered. 'apply-then-reset': handle the request, then destroy the socket. 'delay':
   * wait delayMs, then handle it. The kinds below imitate what a hostile or broken network path
   * (proxy, load balancer, captive portal) or a concurrent actor does to a request:
   * - 'redirect': answer `status` (default 302) with `Location: location`, unhandled. Front doors
   *   and proxies redirect; typed-rest-client follows 301/302/303/307/308 by default and its
   *   handlers add the Authorization header to the new request (HttpClient.ts `request`,
   *   `_prepareRequest`), so a redirect to another host would carry the token there.
   * - 'cut-body': handle the request, send the real status and headers with the full
   *   Content-Length, write half of the body and destroy the socket (a connection dropped
   *   mid-answer by a proxy or a restarting front end).
   * - 'sign-in': answer 203 with the HTML sign-in page, unhandled: what Azure DevOps answers a
   *   rejected credential on some routes instead of a 401 (the "203 Non-Authoritative
   *   Information" sign-in page that azure-devops-node-api's callers see as a null result).
   * - 'dribble': handle the request, then write the answer one byte every intervalMs (a stalled
   *   proxy or a slow-loris path; an idle socket timeout never trips on it).
   * - 'flip-first': before handling a PUT, move the stored connection to the scheme the body asks
   *   for, as another run or a person in the web UI converting (or reverting) it between this
   *   run's listing and its PUT; the real handler then answers, e.g. its 400 "neither an
   *   upgrade or a downgrade".
   * - 'duplicate-entry': handle a listing, then append a copy of its first entry with the id in
   *   upper case (a listing that names one connection twice, as a paging or replication glitch).
   */
  kind?: 'respond' | 'reset' | 'apply-then-reset' | 'delay' | 'redirect' | 'cut-body' | 'sign-in' | 'dribble' | 'flip-first' | 'duplicate-entry';
  delayMs?: number;
  /** 'redirect': the Location header (absolute URL). */
  location?: string;
  /** 'dribble': milliseconds between two bytes of the answer (default 1000). */
  intervalMs?: number;
}

/** Faults waiting for requests: the first one whose method and path match is taken, `count` times. */
export class FaultQueue {
  private faults: Array<Fault & { remaining: number }> = [];

  add(f: Fault): void {
    this.faults.push({ ...f, remaining: f.count ?? 1 });
  }

  take(method: string, path: string): (Fault & { remaining: number }) | undefined {
    const f = this.faults.find(
      (x) =>
        x.remaining > 0 &&
        (!x.method || ieq(x.method, method)) &&
        (x.path === undefined || (typeof x.path === 'string' ? path.includes(x.path) : ((x.path.lastIndex = 0), x.path.test(path)))),
    );
    if (!f) return undefined;
    f.remaining--;
    this.faults = this.faults.filter((x) => x.remaining > 0);
    return f;
  }
}
