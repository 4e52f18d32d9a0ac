// Makes images/summary.png for the Marketplace page: runs the packaged task against the emulator's
// demo project (dry run, so the picture shows the plan, the impact check and the reasons), renders
// the run summary markdown to HTML and captures it with headless Chromium (Debian's `chromium`
// package: apt-get install chromium). Run by hand: `npm run build && node build/scripts/screenshot.js`.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { marked } from 'marked';
import { loadSeed, startEmulator } from '../test/emulator/server';
import { runTask } from '../test/helpers/runTask';
import { extractVsix, packageExtension } from './package';

const root = path.resolve(__dirname, '..', '..');

const STYLE = `
  body { font-family: 'Segoe UI', 'DejaVu Sans', sans-serif; font-size: 13px; color: #201f1e; background: #fff; margin: 0; }
  .frame { border: 1px solid #e1dfdd; margin: 16px; }
  .tab { background: #f8f8f8; border-bottom: 1px solid #e1dfdd; padding: 10px 16px; font-weight: 600; }
  .tab span { border-bottom: 2px solid #0078d4; padding-bottom: 8px; }
  .content { padding: 4px 20px 20px; }
  h3 { font-size: 18px; font-weight: 600; margin: 14px 0 8px; }
  h4 { font-size: 14px; font-weight: 600; margin: 18px 0 6px; }
  table { border-collapse: collapse; width: 100%; margin: 4px 0; }
  th, td { border: 1px solid #e1dfdd; padding: 5px 8px; text-align: left; vertical-align: top; }
  th { background: #f3f2f1; font-weight: 600; }
  code { font-family: 'DejaVu Sans Mono', monospace; font-size: 11px; background: #f3f2f1; padding: 1px 3px; word-break: break-all; }
`;

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-shot-'));
  const pkg = await packageExtension({ outDir: path.join(work, 'out'), quiet: true });
  await extractVsix(pkg.vsixPath, path.join(work, 'vsix'));
  const seed = loadSeed(path.join(root, 'test', 'emulator', 'seeds', 'demo.json'));
  const emu = await startEmulator(seed);
  try {
    const run = await runTask({
      entry: path.join(work, 'vsix', 'tasks', 'ConvertToWif', 'index.js'),
      inputs: { dryRun: 'true', impactCheck: 'warn' },
      collectionUri: emu.url,
      projectId: seed.projects[0].id,
      projectName: seed.projects[0].name,
      jobToken: seed.identities[0].token,
    });
    if (!run.summaryPath) throw new Error(`the task uploaded no summary:\n${run.stdout}`);
    const markdown = fs.readFileSync(run.summaryPath, 'utf8');
    const html = `<!doctype html><html><head><meta charset="utf-8"><style>${STYLE}</style></head><body>
      <div class="frame"><div class="tab"><span>Convert to workload identity federation</span></div>
      <div class="content">${await marked.parse(markdown)}</div></div></body></html>`;
    const page = path.join(work, 'summary.html');
    fs.writeFileSync(page, html);
    const out = path.join(root, 'images', 'summary.png');
    execFileSync(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${path.join(work, 'profile')}`,
        '--hide-scrollbars',
        '--window-size=1280,1000',
        `--screenshot=${out}`,
        `file://${page}`,
      ],
      { stdio: 'inherit', timeout: 60_000 },
    );
    fs.rmSync(run.tempDir, { recursive: true, force: true });
    console.log(`wrote ${path.relative(root, out)}`);
  } finally {
    await emu.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
