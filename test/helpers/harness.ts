// Runs the compiled task against a fresh emulator, as the agent would, and gives tests a view of
// the outcome: the parsed run, the JSON report, and what the emulator saw and now stores.
import * as fs from 'fs';
import * as path from 'path';
import type { Report } from '../../tasks/ConvertToWif/src/core/report';
import { Emulator, Seed, startEmulator } from '../emulator/server';
import { PROJECT } from './endpoints';
import { repoRoot } from './localize';
import { RunTaskOptions, TaskRun, runTask } from './runTask';
import { JOB_TOKEN, SeedEndpoint, seed } from './seed';

export const ENTRY = path.join(repoRoot, 'build', 'tasks', 'ConvertToWif', 'index.js');

/** The JSON report the task wrote, as the core defines it. */
export type ReportJson = Report;

export class Harness {
  emu?: Emulator;
  private readonly runs: TaskRun[] = [];

  async start(endpoints: SeedEndpoint[], extra: Partial<Seed> = {}): Promise<Emulator> {
    await this.close();
    this.emu = await startEmulator(seed(endpoints, extra));
    return this.emu;
  }

  /** Runs the task once on the current emulator; requests are those sent by this run only. */
  async run(
    inputs: Record<string, string> = {},
    o: {
      token?: string | null;
      entry?: string;
      node?: string;
      env?: Record<string, string>;
      signalAfterMs?: RunTaskOptions['signalAfterMs'];
      signals?: RunTaskOptions['signals'];
      tempDir?: string;
      timeoutMs?: number;
    } = {},
  ) {
    const emu = this.emu!;
    const first = emu.requests.length;
    const run = await runTask({
      entry: o.entry ?? ENTRY,
      inputs: { waitTimeoutSeconds: '20', ...inputs },
      collectionUri: emu.url,
      projectId: PROJECT.id,
      projectName: PROJECT.name,
      jobToken: o.token === undefined ? JOB_TOKEN : o.token,
      signalAfterMs: o.signalAfterMs,
      node: o.node,
      env: o.env,
      signals: o.signals,
      tempDir: o.tempDir,
      timeoutMs: o.timeoutMs,
    });
    this.runs.push(run);
    const report = run.report as ReportJson;
    const requests = emu.requests.slice(first);
    const idOf = (name: string) => report?.connections.find((c) => c.name === name)?.id ?? '';
    const puts = requests.filter((r) => r.method === 'PUT');
    return {
      run,
      report,
      requests,
      puts,
      emu,
      byName: (name: string) => report?.connections.find((c) => c.name === name),
      putsFor: (name: string) => puts.filter((r) => (r.body as { id?: string } | undefined)?.id === idOf(name)),
      stored: (name: string) =>
        emu.endpoint(idOf(name)) as { authorization: { scheme: string; parameters: Record<string, string | null> }; data: Record<string, string> } | undefined,
    };
  }

  /** Starts an emulator with these connections and runs the task once. */
  async go(
    endpoints: SeedEndpoint[],
    inputs: Record<string, string> = {},
    o: {
      seed?: Partial<Seed>;
      token?: string | null;
      entry?: string;
      node?: string;
      env?: Record<string, string>;
      before?: (e: Emulator) => void;
      signalAfterMs?: RunTaskOptions['signalAfterMs'];
      signals?: RunTaskOptions['signals'];
      tempDir?: string;
      timeoutMs?: number;
    } = {},
  ) {
    const emu = await this.start(endpoints, o.seed);
    o.before?.(emu);
    return this.run(inputs, o);
  }

  async close(): Promise<void> {
    await this.emu?.close();
    this.emu = undefined;
    for (const r of this.runs.splice(0)) fs.rmSync(r.tempDir, { recursive: true, force: true });
  }
}

/** Everything the task printed or wrote, for the never-print-a-token checks. */
export function allOutput(run: TaskRun): string {
  const summary = run.summaryPath && fs.existsSync(run.summaryPath) ? fs.readFileSync(run.summaryPath, 'utf8') : '';
  const stdout = run.stdout.replace(/##vso\[task\.setsecret\][^\n]*/g, '');
  return [stdout, run.stderr, summary, JSON.stringify(run.report ?? {})].join('\n');
}
