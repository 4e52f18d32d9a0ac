// The task-lib adapter: what the agent hands the task (inputs, variables, the job token, proxy and
// certificate settings) and what the task hands back (log, outputs, summary, result).

import type { AgentConnection, OutputFiles } from '../core/ports';
import * as fs from 'fs';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';
import { IProxyConfiguration, ICertConfiguration } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import { logSafe, mdCode, mdText } from '../core/escape';
import { INPUT_NAMES, RawInputs } from '../core/inputs';
import { Localize, Message, msg } from '../core/model';

export type { OutputFiles } from '../core/ports';

/**
 * `mkdir -p`, one level at a time: Node 24's `mkdirSync(…, { recursive: true })` never returns for a
 * path under /proc (seen with 24.22), and a task must not hang on a bad reportPath.
 */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) {
    if (path.dirname(d) === d) break;
    missing.unshift(d);
  }
  for (const d of missing) fs.mkdirSync(d);
}

export class TaskIO {
  private readonly secrets: string[] = [];

  constructor(taskJsonDir: string) {
    tl.setResourcePath(path.join(taskJsonDir, 'task.json'));
  }

  readonly loc: Localize = (key, ...args) => this.redact(tl.loc(key, ...args));
  render = (m: Message): string => this.loc(m.key, ...m.args);

  rawInputs(): RawInputs {
    const raw: RawInputs = {};
    for (const name of INPUT_NAMES) raw[name] = name === 'accessToken' ? this.secretInput(name) : tl.getInput(name, false);
    return raw;
  }

  /**
   * task-lib's getInput writes `name=value` to the debug stream (task.js getInput). For a secret
   * input that line is dropped: the task never prints a token, even in debug output, and does not
   * rely on the agent's masking alone.
   */
  private secretInput(name: string): string | undefined {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- restored below and always called with process.stdout
    const write = process.stdout.write;
    const prefix = `##vso[task.debug]${name}=`;
    process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      if (typeof chunk === 'string' && chunk.startsWith(prefix)) return true;
      return (write as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    };
    try {
      return tl.getInput(name, false);
    } finally {
      process.stdout.write = write;
    }
  }

  collectionUri(): string | undefined {
    return tl.getVariable('System.CollectionUri') || tl.getEndpointUrl('SYSTEMVSSCONNECTION', true) || undefined;
  }

  project(): { id?: string; name?: string } {
    return { id: tl.getVariable('System.TeamProjectId') || undefined, name: tl.getVariable('System.TeamProject') || undefined };
  }

  /**
   * The pipeline variable ConvertToWif.RequestTimeoutSeconds (env CONVERTTOWIF_REQUESTTIMEOUTSECONDS):
   * how long one request may take, 1-600 s; anything else warns and gives the default.
   */
  requestTimeoutSeconds(defaultSeconds = 60): number {
    const raw = tl.getVariable('ConvertToWif.RequestTimeoutSeconds');
    if (raw === undefined || raw.trim() === '') return defaultSeconds;
    const n = /^\s*\d{1,4}\s*$/.test(raw) ? Number(raw) : NaN;
    if (n >= 1 && n <= 600) return n;
    this.warning(this.loc('RequestTimeoutInvalid', raw.slice(0, 100), defaultSeconds));
    return defaultSeconds;
  }

  tempDir(): string {
    return tl.getVariable('Agent.TempDirectory') || process.cwd();
  }

  /** The job's OAuth token (tl.getEndpointAuthorization: azure-pipelines-task-lib node/task.ts; docs/service-behaviour.md §15); undefined when the job has none. */
  jobToken(): string | undefined {
    const auth = tl.getEndpointAuthorization('SYSTEMVSSCONNECTION', true);
    if (!auth || (auth.scheme ?? '').toLowerCase() !== 'oauth') return undefined;
    return auth.parameters?.['AccessToken'] || undefined;
  }

  collectionId(): string | undefined {
    return tl.getVariable('System.CollectionId') || undefined;
  }

  oidcRequestUri(): string | undefined {
    return tl.getVariable('System.OidcRequestUri') || undefined;
  }

  /**
   * A connection input as the agent hands it over (ENDPOINT_AUTH_{id}, ENDPOINT_DATA_{id}_{KEY},
   * ENDPOINT_URL_{id}; task-lib reads them, and keeps the authorization out of the environment).
   */
  agentConnection(id: string): AgentConnection | undefined {
    const auth = tl.getEndpointAuthorization(id, true);
    const url = tl.getEndpointUrl(id, true);
    if (!auth && !url) return undefined;
    // From the authorization object, not getEndpointAuthorizationParameter: that one writes each
    // value it returns to the debug log (azure-pipelines-task-lib task.js), the secret included.
    const params = Object.entries(auth?.parameters ?? {});
    const p = (k: string) => params.find(([name]) => name.toLowerCase() === k)?.[1] || undefined;
    const d = (k: string) => tl.getEndpointDataParameter(id, k, true) || undefined;
    return {
      id,
      scheme: auth?.scheme || undefined,
      tenantId: p('tenantid'),
      clientId: p('serviceprincipalid'),
      secret: p('serviceprincipalkey'),
      authorityUrl: d('environmentAuthorityUrl'),
      graphUrl: d('microsoftGraphUrl'),
      environment: d('environment'),
      url: url || undefined,
    };
  }

  proxy(url: string): IProxyConfiguration | undefined {
    const p = tl.getHttpProxyConfiguration(url);
    return p ? { proxyUrl: p.proxyUrl, proxyUsername: p.proxyUsername, proxyPassword: p.proxyPassword, proxyBypassHosts: p.proxyBypassHosts } : undefined;
  }

  cert(): ICertConfiguration | undefined {
    const c = tl.getHttpCertConfiguration();
    return c ? { caFile: c.caFile, certFile: c.certFile, keyFile: c.keyFile, passphrase: c.passphrase } : undefined;
  }

  /** Registers a secret: masked by the agent, and removed by the task itself from anything it prints. */
  secret(value: string): void {
    if (!value) return;
    this.secrets.push(value);
    tl.setSecret(value);
  }

  redact(text: string): string {
    let out = text;
    // Looked for first: a report of 10,000 connections is a 10 MB string, and split/join copies it whole.
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('***');
    return out;
  }

  /** As redact, also for the secrets as markdown escaping wrote them (a token holds `_`, which mdText escapes). */
  private redactMarkdown(text: string): string {
    let out = this.redact(text);
    for (const s of this.secrets) for (const form of [mdText(s), mdCode(s).slice(1, -1)]) if (form && out.includes(form)) out = out.split(form).join('***');
    return out;
  }

  // Every line goes through logSafe: text from the service or the inputs can never become a logging
  // command or start a new line (escape.ts).
  info(text: string): void {
    console.log(logSafe(this.redact(text)));
  }
  debug(text: string): void {
    tl.debug(logSafe(this.redact(text)));
  }
  warning(text: string): void {
    tl.warning(logSafe(this.redact(text)));
  }
  error(text: string): void {
    tl.error(logSafe(this.redact(text)));
  }

  output(name: string, value: string | number): void {
    tl.setVariable(name, logSafe(String(value)), false, true);
  }

  /**
   * Checks, before anything is sent, that the report can be written where it is asked for (the
   * folder is created), and picks file names no other ConvertToWif step of this job uses: two steps
   * in one job must not overwrite each other's report or summary. A message when it cannot be used.
   */
  prepareOutputFiles(reportPathInput: string | undefined): OutputFiles | Message {
    const temp = this.tempDir();
    const free = (base: string, ext: string, n: number) => path.join(temp, n === 1 ? `${base}.${ext}` : `${base}-${n}.${ext}`);
    let n = 1;
    while (fs.existsSync(free('ConvertToWif-summary', 'md', n)) || (!reportPathInput && fs.existsSync(free('ConvertToWif-report', 'json', n)))) n++;
    const reportPath = reportPathInput ? path.resolve(reportPathInput) : free('ConvertToWif-report', 'json', n);
    const summaryPath = free('ConvertToWif-summary', 'md', n);
    for (const file of [reportPath, summaryPath]) {
      const problem = this.writableProblem(file);
      if (problem) return file === reportPath && reportPathInput ? msg('InputReportPathBad', reportPathInput, problem) : msg('TempNotWritable', file, problem);
    }
    const handoffPath = path.join(path.dirname(reportPath), n === 1 ? 'ConvertToWif-handoff.md' : `ConvertToWif-handoff-${n}.md`);
    return { reportPath, summaryPath, handoffPath };
  }

  /**
   * Why `file` cannot be written (creating its folder if needed), or undefined when it can. The
   * report is written to a temporary file beside it and renamed, so the folder itself must be
   * writable, not only the file; and the target must be a regular file (never a device or a folder).
   */
  private writableProblem(file: string): string | undefined {
    const code = (err: unknown) => String((err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? err);
    try {
      const st = fs.statSync(file);
      if (st.isDirectory()) return this.loc('PathIsFolder');
      if (!st.isFile()) return this.loc('PathNotAFile');
      fs.accessSync(file, fs.constants.W_OK);
    } catch (err) {
      if (code(err) === 'ENOTDIR') return this.loc('PathUnderFile');
      if (code(err) !== 'ENOENT') return this.loc('PathNotWritable', code(err));
    }
    const dir = path.dirname(file);
    try {
      makeFolders(dir);
      const probe = path.join(dir, `.ConvertToWif-probe-${process.pid}-${Date.now()}`);
      fs.writeFileSync(probe, '', { flag: 'wx' });
      fs.unlinkSync(probe);
      return undefined;
    } catch (err) {
      return code(err) === 'ENOTDIR' || code(err) === 'EEXIST' ? this.loc('PathUnderFile') : this.loc('PathNotWritable', code(err));
    }
  }

  /** Writes a file whole or not at all: a temporary file renamed over the target (a second signal cannot leave half a report). */
  writeFile(file: string, content: string | Iterable<string>): void {
    makeFolders(path.dirname(file));
    const temp = `${file}.${process.pid}.tmp`;
    if (typeof content === 'string') fs.writeFileSync(temp, this.redact(content), 'utf8');
    else {
      // Piece by piece: each piece is a whole value of the report (a secret never spans two), redacted on its own.
      const fd = fs.openSync(temp, 'w');
      try {
        for (const piece of content) fs.writeSync(fd, this.redact(piece), null, 'utf8');
      } catch (err) {
        fs.closeSync(fd);
        fs.rmSync(temp, { force: true });
        throw err;
      }
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  }

  /** Writes the run summary and attaches it under `title` (the section name on the run's Extensions tab). */
  uploadSummary(file: string, markdown: string | Iterable<string>, title: string): void {
    // Line by line when in pieces: a secret never spans a line break, so each line is redacted on its own.
    this.writeFile(file, typeof markdown === 'string' ? this.redactMarkdown(markdown) : mapIterable(markdown, (m) => this.redactMarkdown(m)));
    tl.addAttachment('Distributedtask.Core.Summary', logSafe(this.redact(title)), file);
  }

  /**
   * The agent cancels a task with SIGINT, then SIGTERM. The handlers stay for the whole run, so a
   * second signal while the report is being written does not kill the process.
   */
  onCancel(handler: () => void): void {
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  }

  /** Resolves once everything written to stdout and stderr has been handed to the agent. */
  flush(): Promise<void> {
    return new Promise((resolve) => process.stdout.write('', () => process.stderr.write('', () => resolve())));
  }

  result(kind: 'Succeeded' | 'SucceededWithIssues' | 'Failed' | 'Cancelled', message: string): void {
    tl.setResult(tl.TaskResult[kind], logSafe(this.redact(message)));
  }
}

function* mapIterable<T, U>(items: Iterable<T>, f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item);
}
