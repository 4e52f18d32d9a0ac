// Runs the compiled task against a fresh emulator, as the agent would, and gives tests a view of
// the outcome: the parsed run, the JSON report, and what the emulator saw and now stores. A seed
// with an `entra` section also gets the Entra world (token endpoint, Graph, OIDC endpoint) beside
// the Azure DevOps emulator, which sees its federated credentials (attachDirectory).
import * as fs from 'fs';
import * as path from 'path';
import type { Report } from '../../tasks/ConvertToWif/src/core/report';
import { startEntraWorld, type EntraWorld } from '../emulator/entraWorld';
import { Emulator, Seed, startEmulator } from '../emulator/server';
import { agentConnectionEnv, directoryOf, type AgentConnection } from './agent';
import { PROJECT } from './endpoints';
import { repoRoot } from './localize';
import { RunTaskOptions, TaskRun, runTask } from './runTask';
import { JOB_TOKEN, SeedEndpoint, seed } from './seed';

export const ENTRY = path.join(repoRoot, 'build', 'tasks', 'ConvertToWif', 'index.js');

/** The JSON report the task wrote, as the core defines it. */
export type ReportJson = Report;

export class Harness {
  emu?: Emulator;
  /** The Entra world, when the seed has an `entra` section. */
  world?: EntraWorld;
  private organizationId = '';
  private readonly runs: TaskRun[] = [];

  async start(endpoints: SeedEndpoint[], extra: Partial<Seed> = {}): Promise<Emulator> {
    await this.close();
    const s = seed(endpoints, extra);
    this.organizationId = s.organization.id;
    this.emu = await startEmulator(s);
    if (s.entra) {
      // The OIDC endpoint reads the emulator's live connections (a converted one has its issuer and subject).
      this.world = await startEntraWorld(s, { azureDevOps: this.emu });
      this.emu.attachDirectory(directoryOf(this.world));
    }
    return this.emu;
  }

  /**
   * Runs the task once on the current emulator; requests are those sent by this run only. The
   * task gets SYSTEM_COLLECTIONID (the seed's organization id), with an Entra world also
   * SYSTEM_OIDCREQUESTURI and NODE_EXTRA_CA_CERTS, and with `connection` that connection as its
   * `entraConnection` input (agentConnectionEnv); `env` is applied last.
   */
  async run(
    inputs: Record<string, string> = {},
    o: {
      connection?: AgentConnection;
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
      env: { ...this.agentEnv(o.connection), ...o.env },
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
      connection?: AgentConnection;
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

  /** What the agent sets besides the inputs and the job token. */
  private agentEnv(connection: AgentConnection | undefined): Record<string, string> {
    const env: Record<string, string> = { SYSTEM_COLLECTIONID: this.organizationId };
    if (this.world) Object.assign(env, { SYSTEM_OIDCREQUESTURI: this.world.oidcRequestUri, NODE_EXTRA_CA_CERTS: this.world.caFile });
    if (connection) Object.assign(env, agentConnectionEnv(connection, this.world, { organizationId: this.organizationId }));
    return env;
  }

  async close(): Promise<void> {
    const world = this.world;
    this.world = undefined;
    await Promise.all([this.emu?.close(), world?.close()]);
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
