// Runs the Azure DevOps service-endpoint emulator until SIGINT/SIGTERM.
//   node build/test/emulator/cli.js [--seed path] [--port N] [--host H] [--latency MS]
import * as fs from 'fs';
import * as path from 'path';
import { loadSeed, startEmulator } from './server';

function defaultSeedPath(): string {
  // build/test/emulator -> repo root; fall back to a seed beside this file (ts-node / copied assets).
  const candidates = [path.resolve(__dirname, '../../../test/emulator/seeds/demo.json'), path.resolve(__dirname, 'seeds/demo.json')];
  return candidates.find((p) => fs.existsSync(p)) ?? candidates[0];
}

function parseArgs(argv: string[]): { seed: string; port: number; host: string; latencyMs: number } {
  const out = { seed: defaultSeedPath(), port: 0, host: '127.0.0.1', latencyMs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--seed') out.seed = path.resolve(value());
    else if (arg === '--port') out.port = Number(value());
    else if (arg === '--host') out.host = value();
    else if (arg === '--latency') out.latencyMs = Number(value());
    else if (arg === '--help' || arg === '-h') {
      console.log('Usage: node build/test/emulator/cli.js [--seed path] [--port N] [--host H] [--latency MS]');
      process.exit(0);
    } else throw new Error(`Unknown argument: ${arg}`);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) throw new Error(`Invalid --port: ${out.port}`);
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const seed = loadSeed(args.seed);
  const emu = await startEmulator(seed, { port: args.port, host: args.host, latencyMs: args.latencyMs });
  const project = seed.projects[0];
  console.log(`Azure DevOps service-endpoint emulator (seed: ${args.seed})`);
  console.log(`  collection URL : ${emu.url}`);
  if (project) console.log(`  project        : ${project.name} (${project.id})`);
  for (const p of seed.projects.slice(1)) console.log(`  other project  : ${p.name} (${p.id})`);
  console.log('  tokens (Authorization: Bearer <token>):');
  for (const i of seed.identities) console.log(`    ${i.token.padEnd(20)} -> ${i.name} (${i.kind ?? 'user'})`);
  if (project && seed.identities[0]) {
    console.log('  try:');
    console.log(`    curl -s -H "Authorization: Bearer ${seed.identities[0].token}" \\`);
    console.log(`      "${emu.url}${encodeURIComponent(project.name)}/_apis/serviceendpoint/endpoints?type=azurerm&includeFailed=true&api-version=7.1"`);
  }
  console.log('Press Ctrl+C to stop.');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping (${emu.requests.length} requests served).`);
    emu.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
