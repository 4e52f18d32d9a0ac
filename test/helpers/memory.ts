// In-memory ports for tests of the use case (core/runTask.ts): a Host that records what the task
// writes, and a clock whose sleeps pass at once.
import { RawInputs } from '../../tasks/ConvertToWif/src/core/inputs';
import { Message } from '../../tasks/ConvertToWif/src/core/model';
import { AgentConnection, Clock, Host, OutputFiles, ResultKind } from '../../tasks/ConvertToWif/src/core/ports';
import type { Report } from '../../tasks/ConvertToWif/src/core/report';
import { PROJECT } from './endpoints';
import { loc } from './localize';

export class MemoryHost implements Host {
  lines: Array<{ level: string; text: string }> = [];
  outputs: Record<string, string> = {};
  files: Record<string, string> = {};
  secrets: string[] = [];
  outcome?: { kind: ResultKind; message: string };
  constructor(
    private readonly inputs: RawInputs,
    private readonly proj: { id?: string; name?: string } = PROJECT,
  ) {}
  loc = loc;
  rawInputs = () => this.inputs;
  collectionUri = () => 'https://dev.azure.com/contoso/';
  project = () => this.proj;
  jobToken = () => 'job-token';
  agents: Record<string, AgentConnection> = {};
  collectionId = () => '7a6c1d1e-0000-4000-8000-00000000c0de';
  oidcRequestUri = () => 'https://oidc.example/contoso/_apis/distributedtask/hubs/build/plans/p/jobs/j/oidctoken';
  agentConnection = (id: string) => this.agents[id];
  secret = (v: string) => void this.secrets.push(v);
  info = (text: string) => void this.lines.push({ level: 'info', text });
  debug = (text: string) => void this.lines.push({ level: 'debug', text });
  warning = (text: string) => void this.lines.push({ level: 'warning', text });
  error = (text: string) => void this.lines.push({ level: 'error', text });
  prepareOutputFiles = (): OutputFiles | Message => ({
    reportPath: '/mem/report.json',
    summaryPath: '/mem/summary.md',
    handoffPath: '/mem/ConvertToWif-handoff.md',
  });
  writeFile = (file: string, content: string | Iterable<string>) => void (this.files[file] = typeof content === 'string' ? content : [...content].join(''));
  uploadSummary = (file: string, markdown: string | Iterable<string>) =>
    void (this.files[file] = typeof markdown === 'string' ? markdown : [...markdown].join(''));
  output = (name: string, value: string | number) => void (this.outputs[name] = String(value));
  result = (kind: ResultKind, message: string) => void (this.outcome = { kind, message });
  get report(): Report {
    return JSON.parse(this.files['/mem/report.json']) as Report;
  }
}

/** Starts at 2026-12-01 12:00 UTC; a sleep or a wait moves it forward at once. */
export function clock(): Clock {
  let now = Date.parse('2026-12-01T12:00:00Z');
  return { now: () => now, sleep: async (ms) => void (now += ms), wait: async (ms) => void (now += ms) };
}

/** Starts now; a sleep moves it forward at once and is recorded (the adapters' retry waits), `advance` moves it by hand. */
export function recordingClock(): Clock & { sleeps: number[]; advance(ms: number): void } {
  let t = Date.now();
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: (ms) => {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
    wait: () => Promise.resolve(),
    advance: (ms) => {
      t += ms;
    },
  };
}
