// Runs a task entry the way the agent does: a separate node process, inputs as INPUT_*,
// the job token as the SYSTEMVSSCONNECTION endpoint, a clean environment, and the
// ##vso[...] logging commands parsed back out of stdout.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface RunTaskOptions {
  /** Absolute path of index.js (compiled build/tasks/ConvertToWif/index.js or an unzipped VSIX's). */
  entry: string;
  /** -> INPUT_<NAME upper-case> env vars. */
  inputs?: Record<string, string>;
  /** SYSTEM_COLLECTIONURI */
  collectionUri: string;
  /** SYSTEM_TEAMPROJECTID */
  projectId?: string;
  /** SYSTEM_TEAMPROJECT */
  projectName?: string;
  /**
   * -> ENDPOINT_AUTH_SYSTEMVSSCONNECTION = {"parameters":{"AccessToken":token},"scheme":"OAuth"}
   *    and ENDPOINT_URL_SYSTEMVSSCONNECTION = collectionUri; null/undefined -> neither is set.
   */
  jobToken?: string | null;
  /** Extra environment (applied last, so it can override anything above). */
  env?: Record<string, string>;
  /** Default 60000; the child is killed and the promise rejects on timeout. */
  timeoutMs?: number;
  /** Send `signal` to the child `afterMs` after it started (cancellation tests). */
  signalAfterMs?: { signal: NodeJS.Signals; afterMs: number };
  /** The node binary to run the task with (default: the one running the tests). */
  node?: string;
  /** More signals, each `afterMs` after the start (a second cancellation while the report is written). */
  signals?: Array<{ signal: NodeJS.Signals; afterMs: number }>;
  /** AGENT_TEMPDIRECTORY to use (another step of the same job); default a fresh folder. */
  tempDir?: string;
}

export interface TaskRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /**
   * From ##vso[task.complete result=…;]message. When the task completes more than once, the
   * worst result wins, as on the agent (Succeeded < SucceededWithIssues < Failed < Cancelled
   * < Skipped < Abandoned); on a tie, the later message wins.
   */
  result?: { result: string; message: string };
  /** From ##vso[task.issue type=error|warning;…]message and ##vso[task.logissue …]message. */
  errors: string[];
  warnings: string[];
  /** ##vso[task.setvariable variable=…;isOutput=…;issecret=…]value (last write wins). */
  variables: Record<string, { value: string; isOutput: boolean; isSecret: boolean }>;
  /** ##vso[task.uploadsummary]path, or ##vso[task.addattachment type=Distributedtask.Core.Summary;name=…]path */
  summaryPath?: string;
  /** The summary section's name on the run page (addattachment's name; uploadsummary uses the file name). */
  summaryTitle?: string;
  /** ##vso[task.setsecret]value */
  secretsMasked: string[];
  /** The AGENT_TEMPDIRECTORY used (a fresh mkdtemp per run; the caller may rm it). */
  tempDir: string;
  /** Parsed JSON at variables.reportPath.value, if that file exists. */
  report?: unknown;
}

/** One parsed ##vso[area.action key=value;…]message line. */
export interface VsoCommand {
  command: string;
  properties: Record<string, string>;
  message: string;
}

const VSO_PREFIX = '##vso[';

const ESCAPES: Record<string, string> = {
  '%AZP25': '%',
  '%25': '%',
  '%3B': ';',
  '%0D': '\r',
  '%0A': '\n',
  '%5D': ']',
};

/**
 * Decodes the logging-command escapes in one pass. task-lib writes `%` as `%AZP25` (and `;`
 * `\r` `\n` `]` as `%3B` `%0D` `%0A` `%5D` in properties, `\r` `\n` in messages); because every
 * literal `%` is escaped, one left-to-right pass over all tokens is unambiguous.
 */
export function unescapeVso(s: string): string {
  return s.replace(/%(?:AZP25|25|3B|0D|0A|5D)/gi, (t) => ESCAPES[t.toUpperCase()] ?? t);
}

/** Parses a stdout line holding a logging command (anywhere in the line, as the agent does). */
export function parseVsoLine(line: string): VsoCommand | undefined {
  const start = line.indexOf(VSO_PREFIX);
  if (start < 0) return undefined;
  const rest = line.slice(start + VSO_PREFIX.length);
  const close = rest.indexOf(']');
  if (close < 0) return undefined;
  const head = rest.slice(0, close).trim();
  const space = head.indexOf(' ');
  const command = (space < 0 ? head : head.slice(0, space)).toLowerCase();
  const properties: Record<string, string> = {};
  if (space >= 0) {
    for (const part of head.slice(space + 1).split(';')) {
      const p = part.trim();
      if (!p) continue;
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      properties[p.slice(0, eq).trim().toLowerCase()] = unescapeVso(p.slice(eq + 1));
    }
  }
  return { command, properties, message: unescapeVso(rest.slice(close + 1)) };
}

/** Agent ordering of task results: the numerically larger one wins when merged. */
const RESULT_RANK: Record<string, number> = {
  succeeded: 0,
  succeededwithissues: 1,
  failed: 2,
  cancelled: 3,
  canceled: 3,
  skipped: 4,
  abandoned: 5,
};

function isTrue(v: string | undefined): boolean {
  return (v ?? '').trim().toLowerCase() === 'true';
}

/** The minimal environment a task gets, without leaking the test runner's own env. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  const keep = ['PATH', 'HOME'];
  if (process.platform === 'win32') keep.push('Path', 'SystemRoot', 'SYSTEMROOT', 'TEMP', 'TMP', 'USERPROFILE', 'ComSpec', 'PATHEXT');
  for (const k of keep) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

export function runTask(opts: RunTaskOptions): Promise<TaskRun> {
  const tempDir = opts.tempDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-run-'));
  const env: Record<string, string> = {
    ...baseEnv(),
    SYSTEM_COLLECTIONURI: opts.collectionUri,
    AGENT_TEMPDIRECTORY: tempDir,
    AGENT_VERSION: '4.260.0',
    SYSTEM_HOSTTYPE: 'build',
  };
  if (opts.projectId !== undefined) env.SYSTEM_TEAMPROJECTID = opts.projectId;
  if (opts.projectName !== undefined) env.SYSTEM_TEAMPROJECT = opts.projectName;
  for (const [name, value] of Object.entries(opts.inputs ?? {})) {
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  if (opts.jobToken !== undefined && opts.jobToken !== null) {
    env.ENDPOINT_AUTH_SYSTEMVSSCONNECTION = JSON.stringify({ parameters: { AccessToken: opts.jobToken }, scheme: 'OAuth' });
    env.ENDPOINT_URL_SYSTEMVSSCONNECTION = opts.collectionUri;
  }
  Object.assign(env, opts.env ?? {});

  const timeoutMs = opts.timeoutMs ?? 60000;

  return new Promise<TaskRun>((resolve, reject) => {
    const child = spawn(opts.node ?? process.execPath, [opts.entry], { cwd: tempDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));

    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(
        Object.assign(new Error(`task ${opts.entry} did not finish within ${timeoutMs} ms\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`), {
          stdout,
          stderr,
          tempDir,
        }),
      );
    }, timeoutMs);
    const signalTimers = [...(opts.signalAfterMs ? [opts.signalAfterMs] : []), ...(opts.signals ?? [])].map((s) =>
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill(s.signal);
      }, s.afterMs),
    );
    const clearSignals = () => signalTimers.forEach((t) => clearTimeout(t));

    child.on('error', (err) => {
      clearTimeout(timer);
      clearSignals();
      if (settled) return;
      settled = true;
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      clearSignals();
      if (settled) return;
      settled = true;
      try {
        resolve(parseRun(code, stdout, stderr, tempDir));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/** Builds a TaskRun from a finished process's output (exported for tests of the parser). */
export function parseRun(code: number | null, stdout: string, stderr: string, tempDir: string): TaskRun {
  const run: TaskRun = { code, stdout, stderr, errors: [], warnings: [], variables: {}, secretsMasked: [], tempDir };
  for (const rawLine of stdout.split('\n')) {
    const cmd = parseVsoLine(rawLine.replace(/\r$/, ''));
    if (!cmd) continue;
    const p = cmd.properties;
    switch (cmd.command) {
      case 'task.complete': {
        const result = p.result ?? '';
        const prev = run.result;
        const rank = RESULT_RANK[result.toLowerCase()] ?? -1;
        const prevRank = prev ? (RESULT_RANK[prev.result.toLowerCase()] ?? -1) : -Infinity;
        if (rank >= prevRank) run.result = { result, message: cmd.message };
        break;
      }
      case 'task.issue':
      case 'task.logissue': {
        const type = (p.type ?? '').toLowerCase();
        if (type === 'error') run.errors.push(cmd.message);
        else if (type === 'warning') run.warnings.push(cmd.message);
        break;
      }
      case 'task.setvariable': {
        const name = p.variable;
        if (name) run.variables[name] = { value: cmd.message, isOutput: isTrue(p.isoutput), isSecret: isTrue(p.issecret) };
        break;
      }
      case 'task.uploadsummary':
        run.summaryPath = cmd.message;
        run.summaryTitle = path.basename(cmd.message);
        break;
      case 'task.addattachment':
        if ((p.type ?? '').toLowerCase() === 'distributedtask.core.summary') {
          run.summaryPath = cmd.message;
          run.summaryTitle = p.name;
        }
        break;
      case 'task.setsecret':
        run.secretsMasked.push(cmd.message);
        break;
      default:
        break;
    }
  }
  const reportPath = run.variables.reportPath?.value;
  if (reportPath && fs.existsSync(reportPath)) {
    const text = fs.readFileSync(reportPath, 'utf8');
    try {
      run.report = JSON.parse(text);
    } catch (err) {
      throw new Error(`the report at ${reportPath} is not valid JSON: ${(err as Error).message}`);
    }
  }
  return run;
}
