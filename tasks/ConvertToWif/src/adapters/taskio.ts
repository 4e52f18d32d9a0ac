// The task-lib adapter: what the agent hands the task (inputs, variables, the job token, proxy and
// certificate settings) and what the task hands back (log, outputs, summary, result).

import * as fs from 'fs';
import * as path from 'path';
import * as tl from 'azure-pipelines-task-lib/task';
import { IProxyConfiguration, ICertConfiguration } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import { INPUT_NAMES, RawInputs } from '../core/inputs';
import { Localize, Message } from '../core/model';

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

  /** The job's OAuth token (conventions §2); undefined when the job has none. */
  jobToken(): string | undefined {
    const auth = tl.getEndpointAuthorization('SYSTEMVSSCONNECTION', true);
    if (!auth || (auth.scheme ?? '').toLowerCase() !== 'oauth') return undefined;
    return auth.parameters?.['AccessToken'] || undefined;
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
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }

  info(text: string): void {
    console.log(this.redact(text));
  }
  debug(text: string): void {
    tl.debug(this.redact(text));
  }
  warning(text: string): void {
    tl.warning(this.redact(text));
  }
  error(text: string): void {
    tl.error(this.redact(text));
  }

  output(name: string, value: string | number): void {
    tl.setVariable(name, String(value), false, true);
  }

  writeFile(file: string, content: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, this.redact(content), 'utf8');
  }

  uploadSummary(markdown: string): void {
    const file = path.join(this.tempDir(), 'ConvertToWif-summary.md');
    this.writeFile(file, markdown);
    tl.uploadSummary(file);
  }

  result(kind: 'Succeeded' | 'SucceededWithIssues' | 'Failed' | 'Cancelled', message: string): void {
    tl.setResult(tl.TaskResult[kind], this.redact(message));
  }
}
