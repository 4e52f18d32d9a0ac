// `npm start`: builds and verifies the .vsix, unzips it, starts the built-in Azure DevOps emulator
// with a realistic project (test/emulator/seeds/demo.json) beside loopback HTTPS emulators of
// Microsoft Entra, Microsoft Graph and the agent's OIDC endpoint, and runs the PACKAGED task the way
// the agent does, with the job identity: a dry run; a conversion without entraConnection (the
// automatic connections fail: the job identity has no Entra token, explained); then one with
// entraConnection (the task adds each app's federated credential first; converted, credentials
// listed). Prints what a pipeline log and run summary would show. No account needed; nothing
// leaves this machine.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startEntraWorld } from '../test/emulator/entraWorld';
import { loadSeed, startEmulator } from '../test/emulator/server';
import { agentConnectionEnv, directoryOf } from '../test/helpers/agent';
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
  const world = await startEntraWorld(seed, { azureDevOps: emu });
  emu.attachDirectory(directoryOf(world));
  const project = seed.projects[0];
  const jobToken = seed.identities[0].token;
  const admin = seed.endpoints.find((e) => e.name === 'entra-admin')!;
  const params = (admin.authorization as { parameters: Record<string, string> }).parameters;
  const entraEnv = agentConnectionEnv(
    { id: String(admin.id), scheme: 'WorkloadIdentityFederation', tenantId: params.tenantid, clientId: params.serviceprincipalid },
    world,
    { organizationId: seed.organization.id },
  );
  console.log(`Emulator: ${emu.url} project '${project.name}', ${seed.endpoints.length} service connections`);
  console.log(`Entra: ${world.authorityUrl} (token), ${world.graphUrl} (Graph), agent OIDC endpoint ${new URL(world.oidcRequestUri).origin}\n`);
  const runs: TaskRun[] = [];
  try {
    const common = {
      entry,
      collectionUri: emu.url,
      projectId: project.id,
      projectName: project.name,
      jobToken,
      env: { SYSTEM_COLLECTIONID: seed.organization.id },
    };
    console.log('=== 1. Dry run: ConvertToWif@1 with dryRun: true ===');
    runs.push(await runTask({ ...common, inputs: { dryRun: 'true' } }));
    show(runs[0]);
    console.log('=== 2. Convert without entraConnection: the job identity cannot get an Entra token for the automatic connections ===');
    runs.push(await runTask({ ...common, inputs: { waitTimeoutSeconds: '30' } }));
    show(runs[1]);
    console.log(`=== 3. Convert with entraConnection: entra-admin and includeManual: true ===`);
    const before = emu.requests.length;
    const hosts = Object.values(world.hosts);
    const hostsBefore = hosts.map((h) => h.requests.length);
    runs.push(
      await runTask({
        ...common,
        env: { ...common.env, ...entraEnv },
        inputs: { waitTimeoutSeconds: '30', includeManual: 'true', reportPath: path.join(outDir, 'demo-report.json') },
      }),
    );
    show(runs[2]);
    const sent = emu.requests.slice(before);
    const [entra, graph, oidc] = [world.hosts.entra, world.hosts.graph, world.hosts.oidc].map((h) => h.requests.length - hostsBefore[hosts.indexOf(h)]);
    console.log(
      `Requests of run 3: Azure DevOps ${sent.length} (${sent.filter((r) => r.method === 'PUT').length} conversion PUTs, ${sent.filter((r) => r.method === 'GET').length} GETs), Microsoft Graph ${graph}, Entra token ${entra}, agent OIDC ${oidc}.`,
    );
    console.log(`JSON report of run 3: ${runs[2].variables['reportPath']?.value}`);
  } finally {
    for (const r of runs) fs.rmSync(r.tempDir, { recursive: true, force: true });
    await world.close();
    await emu.close();
    fs.rmSync(unzipped, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
