// `npm start`: builds and verifies the .vsix, unzips it, starts the built-in Azure DevOps emulator
// with a realistic project (test/emulator/seeds/demo.json) and runs the PACKAGED task against it
// the way the agent does: first a dry run, then the conversion. Prints what a pipeline log and run
// summary would show. No Azure DevOps account needed; nothing leaves this machine.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadSeed, startEmulator } from '../test/emulator/server';
import { TaskRun, runTask } from '../test/helpers/runTask';
import { extractVsix, packageExtension } from './package';

const root = path.resolve(__dirname, '..', '..');

/** The pipeline log as a person reads it: plain lines, issues and the result; no other ##vso noise. */
function show(run: TaskRun): void {
  for (const line of run.stdout.split(/\r?\n/)) {
    const issue = /^##vso\[task\.issue type=(error|warning)[^\]]*\](.*)$/.exec(line);
    if (issue) console.log(`  ${issue[1].toUpperCase()}: ${issue[2].replace(/%0A/g, '\n    ')}`);
    else if (line && !line.startsWith('##vso[')) console.log(`  ${line}`);
  }
  console.log(`  RESULT: ${run.result?.result ?? '(none)'}`);
  if (run.summaryPath) {
    console.log('\n  --- run summary (Extensions tab) ---\n');
    console.log(fs.readFileSync(run.summaryPath, 'utf8').replace(/^/gm, '  '));
  }
}

async function main(): Promise<void> {
  const outDir = path.join(root, 'out');
  const pkg = await packageExtension({ outDir, quiet: true });
  console.log(`Packaged ${path.relative(root, pkg.vsixPath)} (${(pkg.bytes / 1024).toFixed(1)} KiB)`);
  const unzipped = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-vsix-'));
  await extractVsix(pkg.vsixPath, unzipped);
  const entry = path.join(unzipped, 'tasks', 'ConvertToWif', 'index.js');

  const seed = loadSeed(path.join(root, 'test', 'emulator', 'seeds', 'demo.json'));
  const emu = await startEmulator(seed);
  const project = seed.projects[0];
  const jobToken = seed.identities[0].token;
  console.log(`Emulator: ${emu.url} project '${project.name}', ${seed.endpoints.length} service connections\n`);
  try {
    const common = { entry, collectionUri: emu.url, projectId: project.id, projectName: project.name, jobToken };
    console.log('=== 1. Dry run: ConvertToWif@1 with dryRun: true ===');
    const dry = await runTask({ ...common, inputs: { dryRun: 'true' } });
    show(dry);
    console.log('=== 2. Convert: ConvertToWif@1 with waitTimeoutSeconds: 30 ===');
    const before = emu.requests.length;
    const real = await runTask({ ...common, inputs: { waitTimeoutSeconds: '30', reportPath: path.join(outDir, 'demo-report.json') } });
    show(real);
    const sent = emu.requests.slice(before);
    console.log(
      `Requests the conversion run sent: ${sent.length} (${sent.filter((r) => r.method === 'PUT').length} conversion PUTs, ${sent.filter((r) => r.method === 'GET').length} GETs).`,
    );
    console.log(`JSON report of the conversion run: ${real.variables['reportPath']?.value}`);
    for (const r of [dry, real]) fs.rmSync(r.tempDir, { recursive: true, force: true });
  } finally {
    await emu.close();
    fs.rmSync(unzipped, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
