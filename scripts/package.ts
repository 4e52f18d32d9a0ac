// Builds the Marketplace VSIX:
//   1. bundles tasks/ConvertToWif/index.ts with esbuild into a fresh staging folder,
//   2. stages task.json, icon.png (+ task.loc.json, Strings/ if present) and the extension files,
//   3. runs tfx from node_modules (offline) and fails on ANY `warning:` line (tfx exits 0 on a broken task),
//   4. opens the VSIX and checks its contents.
//
// `npm run package` = `npm run build && node build/scripts/package.js`. The public version comes
// from vss-extension.json as is (no bumping here; `npm run version -- patch|minor` does that).
//
// `npm run package -- --dev` (option `dev: true`) builds a private variant that installs next to
// the public one: extension id convert-to-wif-dev, name suffixed " (dev)", `public: false`, and a
// task with its own fixed GUID and name ConvertToWifDev (tfx --override cannot change task ids).
// Its version is `Major.Minor.<dev patch>`, the same for the extension and the task, where the dev
// patch grows with the build time (seconds since DEV_PATCH_EPOCH) or is given with
// `-- --dev-patch N`: the Marketplace rejects an upload whose version is not higher than the one
// it has, and the agent re-downloads a task only when its version changes. The public variant
// keeps the source version. Only the staged copies are rewritten, never the source files.
//
// Links: the manifest's `links` and `repository` hold the tokens {publisher}, {id} and {repository};
// the staged manifest gets them filled in from vss-extension.json and package.json "repository"
// (while package.json names no repository, the staged manifest has no `repository`). The staged
// task.json's top-level helpMarkDown (and its localized copies) gets a link to the extension's
// Marketplace page appended. `npm run package` warns, without failing, while the publisher is
// still the placeholder.
import { spawn } from 'child_process';
import * as fs from 'fs';
import { builtinModules, createRequire } from 'module';
import * as os from 'os';
import * as path from 'path';
import * as esbuild from 'esbuild';

export interface PackageOptions {
  /** Where tfx writes the VSIX (created if missing). Default: `out/` at the repository root. */
  outDir?: string;
  /** No progress output. */
  quiet?: boolean;
  /** Build the private dev variant (own extension id, task GUID and name, growing version). */
  dev?: boolean;
  /** The dev variant's patch number (default: devPatch(now)). Only with `dev`. */
  devPatch?: number;
  /** The build time the dev patch is derived from (default: now). */
  now?: Date;
}

export interface PackageResult {
  vsixPath: string;
  bytes: number;
  /** Every file (not directory) entry of the VSIX, sorted. */
  files: string[];
  /** Lines to show (not failures): the placeholder publisher, no repository set. */
  warnings: string[];
}

const TASK = 'ConvertToWif';
const TASK_DIR = `tasks/${TASK}`;
const MAX_VSIX_BYTES = 1024 * 1024;
/** Execution handlers the task must declare (microsoft/azure-pipelines-tasks docs/migrateNode24.md; docs/service-behaviour.md §15). */
const REQUIRED_HANDLERS = ['Node20_1', 'Node24'];
const TASK_LIB = 'azure-pipelines-task-lib';

/** The dev variant's identity: fixed, so an installed dev extension is updated, not duplicated. */
export const DEV = {
  extensionId: 'convert-to-wif-dev',
  nameSuffix: ' (dev)',
  taskId: '925624fb-36f7-4f42-b68f-d6ed2ce623ac',
  taskName: 'ConvertToWifDev',
  /** Used when "<friendlyName> (dev)" would exceed the 40 characters tfx allows. */
  friendlyNameFallback: 'Convert to WIF (dev)',
} as const;
const MAX_FRIENDLY_NAME = 40;

/** The dev variant's friendlyName: " (dev)" appended if it stays within 40 characters. */
export function devFriendlyName(friendlyName: string): string {
  const suffixed = `${friendlyName}${DEV.nameSuffix}`;
  return suffixed.length <= MAX_FRIENDLY_NAME ? suffixed : DEV.friendlyNameFallback;
}

/** Dev patch numbers count the seconds since this instant (2024-01-01T00:00:00Z). */
export const DEV_PATCH_EPOCH = Date.UTC(2024, 0, 1);
/** The largest version part the Marketplace and the task version (32-bit integers) accept: 2^31 - 1, reached in 2092. */
export const MAX_VERSION_PART = 2 ** 31 - 1;

function checkPatch(patch: number, what: string): number {
  if (!Number.isSafeInteger(patch) || patch < 0 || patch > MAX_VERSION_PART) fail(`${what} must be an integer from 0 to ${MAX_VERSION_PART}, got ${patch}`);
  return patch;
}

/** The dev variant's patch number at `now`: whole seconds since DEV_PATCH_EPOCH, so a later build gets a higher one. */
export function devPatch(now: Date): number {
  return checkPatch(
    Math.floor((now.getTime() - DEV_PATCH_EPOCH) / 1000),
    `the dev patch for ${now.toISOString()} (seconds since ${new Date(DEV_PATCH_EPOCH).toISOString()})`,
  );
}

/** `Major.Minor.<patch>` of a `Major.Minor.Patch` version. */
export function devVersion(version: string, patch: number): string {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!m) fail(`'${version}' is not a version of the form <major>.<minor>.<patch>`);
  return `${Number(m[1])}.${Number(m[2])}.${checkPatch(patch, 'the dev patch')}`;
}

/** The publisher vss-extension.json ships with until someone sets theirs. */
export const PLACEHOLDER_PUBLISHER = 'your-publisher-id';

/** The extension's page on the Visual Studio Marketplace (its content is overview.md). */
export function marketplaceUrl(publisher: string, id: string): string {
  return `https://marketplace.visualstudio.com/items?itemName=${encodeURIComponent(publisher)}.${encodeURIComponent(id)}`;
}

/** The repository URL of package.json "repository" (a string or `{ url }`), without a `git+` prefix; undefined when unset. */
export function repositoryUrl(pkg: { repository?: unknown }): string | undefined {
  const r = pkg.repository;
  const url = typeof r === 'string' ? r : r && typeof r === 'object' ? (r as { url?: unknown }).url : undefined;
  return typeof url === 'string' && url.trim() ? url.trim().replace(/^git\+/, '') : undefined;
}

/** What `npm run package` prints as warnings (it does not fail on them). */
export function packageWarnings(publisher: string, repository: string | undefined): string[] {
  const out: string[] = [];
  if (publisher === PLACEHOLDER_PUBLISHER) {
    out.push(
      `package: WARNING: vss-extension.json "publisher" is still the placeholder '${PLACEHOLDER_PUBLISHER}': this VSIX cannot be published, and its links and the task's help link point at a Marketplace page that does not exist. ` +
        'Set "publisher" in vss-extension.json to your Marketplace publisher id (https://marketplace.visualstudio.com/manage), then run `npm run package` again.',
    );
  }
  if (!repository)
    out.push('package: note: package.json names no "repository": the VSIX links to no source repository (set "repository" there once it is public).');
  return out;
}

/** Fills {publisher}, {id} and {repository} in a manifest string; any other token, or {repository} without one, is an error. */
function fillTokens(text: string, values: { publisher: string; id: string; repository?: string }, where: string): string {
  return text.replace(/\{([A-Za-z]+)\}/g, (token, name: string) => {
    const v = (values as Record<string, string | undefined>)[name];
    if (v === undefined) fail(`${where}: unknown token ${token} (use {publisher}, {id} or {repository})`);
    return v;
  });
}

/**
 * The manifest with its links filled in: `links.*.uri` and `repository.uri` with their tokens
 * replaced; `repository` dropped while package.json names none. Other fields are kept as they are.
 */
export function manifestWithLinks(manifest: any, values: { publisher: string; id: string; repository?: string }): any {
  const out = JSON.parse(JSON.stringify(manifest));
  for (const [name, link] of Object.entries((out.links ?? {}) as Record<string, { uri?: string }>)) {
    if (typeof link?.uri !== 'string') fail(`vss-extension.json links.${name} has no "uri"`);
    link.uri = fillTokens(link.uri, values, `vss-extension.json links.${name}.uri`);
  }
  if (out.repository) {
    const uri = out.repository.uri;
    if (typeof uri !== 'string') fail('vss-extension.json repository has no "uri"');
    if (/\{repository\}/.test(uri) && !values.repository) delete out.repository;
    else out.repository.uri = fillTokens(uri, values, 'vss-extension.json repository.uri');
  }
  return out;
}

function stampManifestLinks(manifestFile: string, values: { publisher: string; id: string; repository?: string }): void {
  const manifest = manifestWithLinks(readJson(manifestFile, 'the staged vss-extension.json'), values);
  fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
}

/** The task's top-level help with the documentation link appended. */
export function helpWithLink(help: string, url: string): string {
  return `${help.trimEnd()} [Documentation](${url})`;
}

/**
 * Appends the link to the extension's Marketplace page to the STAGED task.json's top-level
 * helpMarkDown and to each culture's loc.helpMarkDown (shown instead when the task is localized).
 */
function stampTaskHelp(taskStage: string, url: string): void {
  const taskFile = path.join(taskStage, 'task.json');
  const task = readJson(taskFile, 'the staged task.json');
  if (typeof task.helpMarkDown !== 'string' || !task.helpMarkDown) fail('task.json has no top-level helpMarkDown');
  if (/\]\(https?:/.test(task.helpMarkDown)) fail(`task.json helpMarkDown already holds a link (the package step adds it): ${task.helpMarkDown}`);
  task.helpMarkDown = helpWithLink(task.helpMarkDown, url);
  fs.writeFileSync(taskFile, JSON.stringify(task, null, 2) + '\n');
  const strings = path.join(taskStage, 'Strings', 'resources.resjson');
  if (!fs.existsSync(strings)) return;
  for (const culture of fs.readdirSync(strings)) {
    const file = path.join(strings, culture, 'resources.resjson');
    if (!fs.existsSync(file)) continue;
    const res = readJson(file, `the staged ${culture} resources`);
    if (typeof res['loc.helpMarkDown'] !== 'string') continue;
    res['loc.helpMarkDown'] = helpWithLink(res['loc.helpMarkDown'], url);
    fs.writeFileSync(file, JSON.stringify(res, null, 2) + '\n');
  }
}

class PackageError extends Error {}

function fail(message: string): never {
  throw new PackageError(message);
}

/** The repository root: the nearest ancestor of this file holding a package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) fail(`cannot find the repository root (no package.json above ${__dirname})`);
    dir = parent;
  }
  return dir;
}

function readJson(file: string, what: string): any {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    fail(`cannot read ${what} (${file}): ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    fail(`${what} is not valid JSON (${file}): ${(err as Error).message}`);
  }
}

function copyRequired(from: string, to: string, what: string): void {
  if (!fs.existsSync(from)) fail(`${what} is missing: ${from}`);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

/** Files under `dir`, relative to it, with forward slashes. */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

const NODE_BUILTINS = new Set(builtinModules);
function isBuiltin(spec: string): boolean {
  return spec.startsWith('node:') || NODE_BUILTINS.has(spec) || NODE_BUILTINS.has(spec.split('/')[0]);
}

// ---------------------------------------------------------------------------------------
// 1. Bundle

async function bundleTask(root: string, taskStage: string, log: (s: string) => void): Promise<void> {
  const entry = path.join(root, TASK_DIR, 'index.ts');
  if (!fs.existsSync(entry)) fail(`task entry is missing: ${entry}`);
  const outfile = path.join(taskStage, 'index.js');
  let result: esbuild.BuildResult<{ metafile: true }>;
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: true,
      legalComments: 'none',
      sourcemap: false,
      metafile: true,
      logLevel: 'silent',
    });
  } catch (err) {
    const errors = (err as { errors?: esbuild.Message[] }).errors;
    const detail = errors?.length ? (await esbuild.formatMessages(errors, { kind: 'error', color: false })).join('') : (err as Error).message;
    fail(`esbuild failed to bundle ${path.relative(root, entry)}:\n${detail}`);
  }
  if (result.warnings.length > 0) {
    const text = (await esbuild.formatMessages(result.warnings, { kind: 'warning', color: false })).join('');
    fail(`esbuild reported ${result.warnings.length} warning(s) while bundling:\n${text}`);
  }

  // Exactly one copy of task-lib: two copies would mean two vaults / two sets of state.
  const taskLibRoots = new Set<string>();
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /^(.*?node_modules\/azure-pipelines-task-lib)\//.exec(input.replace(/\\/g, '/'));
    if (m) taskLibRoots.add(m[1]);
  }
  if (taskLibRoots.size !== 1) {
    fail(
      `expected exactly one ${TASK_LIB} in the bundle, found ${taskLibRoots.size}` +
        (taskLibRoots.size ? `: ${[...taskLibRoots].join(', ')}` : '') +
        ` (check \`npm ls ${TASK_LIB}\`)`,
    );
  }

  // The agent never runs npm install: the bundle may only require node built-ins.
  const externals = new Set<string>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imp of output.imports) if (imp.external && !isBuiltin(imp.path)) externals.add(imp.path);
  }
  if (externals.size > 0) fail(`the bundle still requires non-built-in modules at run time: ${[...externals].join(', ')}`);

  const bytes = fs.statSync(outfile).size;
  log(
    `bundled ${path.relative(root, entry)} -> ${TASK_DIR}/index.js (${bytes} bytes, ${Object.keys(result.metafile.inputs).length} inputs, task-lib: ${[...taskLibRoots][0]})`,
  );
}

// ---------------------------------------------------------------------------------------
// 3. tfx

interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new PackageError(`${path.basename(args[0] ?? cmd)} did not finish within ${timeoutMs / 1000} s\n${stdout}${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function tfxPath(root: string): string {
  try {
    return createRequire(path.join(root, 'package.json')).resolve('tfx-cli/_build/tfx-cli.js');
  } catch {
    fail('tfx-cli is not installed (run `npm ci`): cannot resolve tfx-cli/_build/tfx-cli.js');
  }
}

// tfx colours its output even into a pipe; the escape character is what is matched here.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

async function runTfx(root: string, stage: string, outDir: string, log: (s: string) => void): Promise<{ path?: string; lines: string[] }> {
  const tfx = tfxPath(root);
  const args = [
    tfx,
    'extension',
    'create',
    '--root',
    stage,
    '--manifest-globs',
    'vss-extension.json',
    '--output-path',
    outDir,
    '--no-prompt',
    '--no-color',
    '--json',
  ];
  const res = await run(process.execPath, args, root, 5 * 60 * 1000);
  const lines = `${res.stdout}\n${res.stderr}`
    .replace(ANSI, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  for (const line of lines) log(`  tfx| ${line}`);
  if (res.code !== 0) fail(`tfx extension create exited with code ${res.code}:\n${lines.join('\n')}`);
  // tfx exits 0 on a broken task and only prints `warning:` lines (on stdout, even with --json).
  const warnings = lines.filter((l) => /^\s*warning\b/i.test(l));
  if (warnings.length > 0) fail(`tfx reported ${warnings.length} warning line(s) (treated as errors):\n${warnings.join('\n')}`);
  // With --json the warnings (if any) precede the JSON object on stdout.
  const out = res.stdout.replace(ANSI, '');
  const start = out.search(/^\{/m);
  if (start >= 0) {
    try {
      const parsed = JSON.parse(out.slice(start)) as { path?: string };
      if (typeof parsed.path === 'string') return { path: parsed.path, lines };
    } catch {
      // fall back to the expected file name below
    }
  }
  return { lines };
}

// ---------------------------------------------------------------------------------------
// 4. Verify the VSIX

/** The little of JSZip we use; loaded from tfx-cli's own dependency (no extra devDependency). */
interface ZipEntry {
  name: string;
  dir: boolean;
  async(type: 'string'): Promise<string>;
  async(type: 'nodebuffer'): Promise<Buffer>;
}
interface Zip {
  files: Record<string, ZipEntry>;
  file(name: string): ZipEntry | null;
}
interface JSZipStatic {
  loadAsync(data: Buffer): Promise<Zip>;
}

function loadJsZip(root: string): JSZipStatic {
  try {
    const fromTfx = createRequire(path.join(root, 'package.json')).resolve('tfx-cli/package.json');
    return createRequire(fromTfx)('jszip') as JSZipStatic;
  } catch (err) {
    fail(`cannot load jszip (a dependency of tfx-cli): ${(err as Error).message}`);
  }
}

/** Unzips a VSIX into `destDir` (used by the demo and the packaged-task test to run what ships). */
export async function extractVsix(vsixPath: string, destDir: string): Promise<string[]> {
  const zip = await loadJsZip(repoRoot()).loadAsync(fs.readFileSync(vsixPath));
  const written: string[] = [];
  for (const entry of Object.values(zip.files)) {
    if (entry.dir) continue;
    const target = path.resolve(destDir, entry.name);
    if (!target.startsWith(path.resolve(destDir) + path.sep)) fail(`unsafe path in the VSIX: ${entry.name}`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, await entry.async('nodebuffer'));
    written.push(entry.name);
  }
  return written.sort();
}

interface Expectation {
  publisher: string;
  id: string;
  version: string;
  /** The task identity task.json must carry (the dev one for the dev variant). */
  task: { id: string; name: string; friendlyName: string };
  /** The task version (`Major.Minor.Patch`) task.json must carry. */
  taskVersion: string;
  /** The dev variant must not be public. */
  dev: boolean;
  /** Files staged in the task folder, relative to it. */
  taskFiles: string[];
  /** Staged task.json bytes (the source with the help link stamped in), to compare with the packaged copy. */
  taskJson: Buffer;
  /** The page the task's help and the manifest's links point at. */
  marketplaceUrl: string;
  /** Extension-level files other than the manifests. */
  extensionFiles: string[];
}

async function verifyVsix(root: string, vsixPath: string, exp: Expectation): Promise<string[]> {
  const bytes = fs.statSync(vsixPath).size;
  if (bytes > MAX_VSIX_BYTES) fail(`the VSIX is ${bytes} bytes, over the ${MAX_VSIX_BYTES}-byte budget`);

  const zip = await loadJsZip(root).loadAsync(fs.readFileSync(vsixPath));
  const files = Object.values(zip.files)
    .filter((f) => !f.dir)
    .map((f) => f.name)
    .sort();
  const problems: string[] = [];

  // Whole-package allowlist: the tfx manifests, the extension files and the task folder.
  const expected = new Set<string>([
    '[Content_Types].xml',
    'extension.vsixmanifest',
    'extension.vsomanifest',
    ...exp.extensionFiles,
    ...exp.taskFiles.map((f) => `${TASK_DIR}/${f}`),
  ]);
  for (const f of files) if (!expected.has(f)) problems.push(`unexpected file in the VSIX: ${f}`);
  for (const f of expected) if (!files.includes(f)) problems.push(`missing from the VSIX: ${f}`);
  for (const f of files) {
    if (/(^|\/)(node_modules|tests?)\//.test(f) || /\.(ts|map)$/.test(f) || /(^|\/)\.taskkey$/.test(f)) {
      problems.push(`forbidden file in the VSIX: ${f}`);
    }
  }

  // The task folder holds exactly task.json, icon.png, index.js (+ task.loc.json, Strings/**).
  const taskFolder = files.filter((f) => f.startsWith(`${TASK_DIR}/`)).map((f) => f.slice(TASK_DIR.length + 1));
  for (const f of taskFolder) {
    if (!['task.json', 'icon.png', 'index.js', 'task.loc.json'].includes(f) && !f.startsWith('Strings/')) {
      problems.push(`the task folder may only hold task.json, icon.png, index.js, task.loc.json, Strings/: found ${f}`);
    }
  }
  for (const f of ['task.json', 'icon.png', 'index.js']) {
    if (!taskFolder.includes(f)) problems.push(`${TASK_DIR}/${f} is missing from the VSIX`);
  }

  // task.json parses and every execution target (Node20_1 and Node24 at least) is present.
  const taskJsonEntry = zip.file(`${TASK_DIR}/task.json`);
  if (taskJsonEntry) {
    const raw = await taskJsonEntry.async('nodebuffer');
    if (!raw.equals(exp.taskJson)) problems.push(`${TASK_DIR}/task.json in the VSIX differs from the staged${exp.dev ? ' dev' : ''} task.json`);
    let taskJson: any;
    try {
      taskJson = JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
    } catch (err) {
      problems.push(`${TASK_DIR}/task.json in the VSIX is not valid JSON: ${(err as Error).message}`);
    }
    if (taskJson) {
      for (const key of ['id', 'name', 'friendlyName'] as const) {
        if (taskJson[key] !== exp.task[key])
          problems.push(`task.json ${key} is '${taskJson[key]}', expected '${exp.task[key]}'${exp.dev ? ' (dev variant)' : ''}`);
      }
      const v = taskJson.version as { Major?: unknown; Minor?: unknown; Patch?: unknown } | undefined;
      const taskVersion = `${String(v?.Major)}.${String(v?.Minor)}.${String(v?.Patch)}`;
      if (taskVersion !== exp.taskVersion) problems.push(`task.json version is ${taskVersion}, expected ${exp.taskVersion}${exp.dev ? ' (dev variant)' : ''}`);
      if (typeof taskJson.helpMarkDown !== 'string' || !taskJson.helpMarkDown.includes(`](${exp.marketplaceUrl})`))
        problems.push(`task.json helpMarkDown does not link the extension's page ${exp.marketplaceUrl}: ${taskJson.helpMarkDown}`);
      const execution = (taskJson.execution ?? {}) as Record<string, { target?: string }>;
      for (const handler of REQUIRED_HANDLERS) {
        if (!execution[handler]) problems.push(`task.json does not declare the ${handler} execution handler`);
      }
      for (const [handler, spec] of Object.entries(execution)) {
        const target = spec?.target;
        if (!target) {
          problems.push(`task.json execution.${handler} has no target`);
          continue;
        }
        const inZip = path.posix.normalize(`${TASK_DIR}/${target.replace(/\\/g, '/')}`);
        if (!files.includes(inZip)) problems.push(`task.json execution.${handler}.target names ${target}, which is not in the VSIX`);
      }
    }
  }

  // The extension manifest carries the identity we expect.
  const vsixManifest = zip.file('extension.vsixmanifest');
  if (vsixManifest) {
    const xml = await vsixManifest.async('string');
    const identity = /<Identity\b[^>]*>/.exec(xml)?.[0] ?? '';
    const attr = (name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(identity)?.[1];
    if (attr('Id') !== exp.id || attr('Publisher') !== exp.publisher || attr('Version') !== exp.version) {
      problems.push(
        `extension.vsixmanifest identity ${attr('Publisher')}.${attr('Id')}@${attr('Version')} does not match vss-extension.json ${exp.publisher}.${exp.id}@${exp.version}`,
      );
    }
    const flags = /<GalleryFlags>([^<]*)<\/GalleryFlags>/.exec(xml)?.[1] ?? '';
    if (exp.dev && /\bPublic\b/.test(flags)) problems.push(`the dev variant must not be public (GalleryFlags: ${flags})`);
    for (const m of xml.matchAll(/<Property Id="(Microsoft\.VisualStudio\.Services\.Links\.[^"]+)" Value="([^"]*)"/g)) {
      if (/[{}]/.test(m[2])) problems.push(`extension.vsixmanifest ${m[1]} still holds a token: ${m[2]}`);
    }
    if (!xml.includes(`Id="Microsoft.VisualStudio.Services.Links.Getstarted" Value="${exp.marketplaceUrl.replace(/&/g, '&amp;')}"`))
      problems.push(`extension.vsixmanifest does not link the extension's page ${exp.marketplaceUrl} as "Get started"`);
  }
  const vsoManifest = zip.file('extension.vsomanifest');
  if (vsoManifest) {
    const vso = JSON.parse(await vsoManifest.async('string')) as { contributions?: Array<{ type?: string; properties?: { name?: string } }> };
    const task = vso.contributions?.find((c) => c.type === 'ms.vss-distributed-task.task');
    if (task?.properties?.name !== TASK_DIR) problems.push(`extension.vsomanifest has no task contribution named ${TASK_DIR}`);
  }

  if (problems.length > 0) fail(`the VSIX ${vsixPath} failed verification:\n  - ${problems.join('\n  - ')}`);
  return files;
}

// ---------------------------------------------------------------------------------------
// The dev variant

/**
 * Rewrites the STAGED manifest and task files into the dev variant (the sources stay untouched):
 * extension id/name/public/version, task id/name/friendlyName/version, also in task.loc.json and
 * the resjson resources (which hold the displayed friendlyName when the task is localized).
 * `version` (`Major.Minor.Patch`) becomes both the extension and the task version.
 */
function makeDevVariant(stage: string, taskStage: string, version: string, log: (s: string) => void): Expectation['task'] {
  const [Major, Minor, Patch] = version.split('.').map(Number);
  const manifestFile = path.join(stage, 'vss-extension.json');
  const manifest = readJson(manifestFile, 'the staged vss-extension.json');
  if (manifest.id === DEV.extensionId) fail(`vss-extension.json already has the dev extension id ${DEV.extensionId}`);
  manifest.id = DEV.extensionId;
  manifest.name = `${manifest.name}${DEV.nameSuffix}`;
  manifest.public = false;
  manifest.version = version;
  fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');

  const taskFile = path.join(taskStage, 'task.json');
  const task = readJson(taskFile, 'the staged task.json');
  if (String(task.id).toLowerCase() === DEV.taskId || task.name === DEV.taskName) fail(`task.json already carries the dev identity (${task.id}, ${task.name})`);
  const identity = { id: DEV.taskId, name: DEV.taskName, friendlyName: devFriendlyName(String(task.friendlyName ?? '')) };
  Object.assign(task, identity, { version: { ...task.version, Major, Minor, Patch } });
  fs.writeFileSync(taskFile, JSON.stringify(task, null, 2) + '\n');

  const locFile = path.join(taskStage, 'task.loc.json');
  if (fs.existsSync(locFile)) {
    const loc = readJson(locFile, 'the staged task.loc.json');
    Object.assign(loc, { id: identity.id, name: identity.name, version: { ...loc.version, Major, Minor, Patch } });
    fs.writeFileSync(locFile, JSON.stringify(loc, null, 2) + '\n');
  }
  const strings = path.join(taskStage, 'Strings', 'resources.resjson');
  if (fs.existsSync(strings)) {
    for (const culture of fs.readdirSync(strings)) {
      const file = path.join(strings, culture, 'resources.resjson');
      if (!fs.existsSync(file)) continue;
      const res = readJson(file, `the staged ${culture} resources`);
      if (typeof res['loc.friendlyName'] !== 'string') continue;
      res['loc.friendlyName'] = devFriendlyName(res['loc.friendlyName']);
      fs.writeFileSync(file, JSON.stringify(res, null, 2) + '\n');
    }
  }
  log(`dev variant ${version}: extension ${DEV.extensionId} (${manifest.name}, private), task ${identity.name} ${identity.id} "${identity.friendlyName}"`);
  return identity;
}

// ---------------------------------------------------------------------------------------

export async function packageExtension(opts: PackageOptions = {}): Promise<PackageResult> {
  const log = opts.quiet ? () => undefined : (s: string) => console.log(s);
  const root = repoRoot();
  const outDir = path.resolve(opts.outDir ?? path.join(root, 'out'));

  const manifest = readJson(path.join(root, 'vss-extension.json'), 'vss-extension.json');
  for (const key of ['publisher', 'id', 'version'] as const) {
    if (typeof manifest[key] !== 'string' || !manifest[key]) fail(`vss-extension.json has no "${key}"`);
  }
  const { publisher, version: sourceVersion } = manifest as { publisher: string; version: string };
  const dev = opts.dev === true;
  if (opts.devPatch !== undefined && !dev) fail('a dev patch is only for the dev variant (--dev-patch needs --dev)');
  const id = dev ? DEV.extensionId : (manifest.id as string);
  const srcTask = path.join(root, TASK_DIR);
  const sourceTask = readJson(path.join(srcTask, 'task.json'), 'task.json');
  const sv = (sourceTask.version ?? {}) as { Major?: unknown; Minor?: unknown; Patch?: unknown };
  const sourceTaskVersion = `${String(sv.Major)}.${String(sv.Minor)}.${String(sv.Patch)}`;
  // The dev variant: the source Major.Minor (extension and task agree on it) with a growing patch.
  let version = sourceVersion;
  if (dev) {
    const majorMinor = (v: string) => v.split('.').slice(0, 2).join('.');
    if (majorMinor(sourceVersion) !== majorMinor(sourceTaskVersion))
      fail(`vss-extension.json version ${sourceVersion} and task.json version ${sourceTaskVersion} differ in Major.Minor (npm run version keeps them equal)`);
    version = devVersion(sourceVersion, opts.devPatch ?? devPatch(opts.now ?? new Date()));
  }

  const repository = repositoryUrl(readJson(path.join(root, 'package.json'), 'package.json'));
  const itemUrl = marketplaceUrl(publisher, id);
  const warnings = packageWarnings(publisher, repository);

  const overview = path.join(root, 'overview.md');
  if (!fs.existsSync(overview)) fail(`overview.md is missing at the repository root (${overview}): it is the Marketplace details page`);

  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-stage-'));
  try {
    const taskStage = path.join(stage, TASK_DIR);
    fs.mkdirSync(taskStage, { recursive: true });

    // 1. Bundle; 2. stage the task's non-code files and the extension files.
    await bundleTask(root, taskStage, log);
    copyRequired(path.join(srcTask, 'task.json'), path.join(taskStage, 'task.json'), 'task.json');
    copyRequired(path.join(srcTask, 'icon.png'), path.join(taskStage, 'icon.png'), 'the task icon');
    if (fs.existsSync(path.join(srcTask, 'task.loc.json'))) fs.copyFileSync(path.join(srcTask, 'task.loc.json'), path.join(taskStage, 'task.loc.json'));
    if (fs.existsSync(path.join(srcTask, 'Strings'))) fs.cpSync(path.join(srcTask, 'Strings'), path.join(taskStage, 'Strings'), { recursive: true });

    const extensionFiles = ['overview.md', 'LICENSE', 'CHANGELOG.md', 'images/extension-icon.png', 'images/summary.png'];
    copyRequired(path.join(root, 'vss-extension.json'), path.join(stage, 'vss-extension.json'), 'vss-extension.json');
    for (const f of extensionFiles) copyRequired(path.join(root, f), path.join(stage, f), f);
    const taskIdentity = dev
      ? makeDevVariant(stage, taskStage, version, log)
      : { id: String(sourceTask.id), name: String(sourceTask.name), friendlyName: String(sourceTask.friendlyName) };
    stampManifestLinks(path.join(stage, 'vss-extension.json'), { publisher, id, repository });
    stampTaskHelp(taskStage, itemUrl);
    log(`links: ${itemUrl}${repository ? `, repository ${repository}` : ''}`);
    const taskFiles = listFiles(taskStage);
    log(`staged ${stage}: ${listFiles(stage).join(', ')}`);

    // 3. tfx.
    fs.mkdirSync(outDir, { recursive: true });
    const expectedVsix = path.join(outDir, `${publisher}.${id}-${version}.vsix`);
    fs.rmSync(expectedVsix, { force: true }); // never verify a stale file
    let vsixPath = expectedVsix;
    let files: string[];
    try {
      const tfx = await runTfx(root, stage, outDir, log);
      vsixPath = path.resolve(tfx.path ?? expectedVsix);
      if (!fs.existsSync(vsixPath)) fail(`tfx reported success but the VSIX is not there: ${vsixPath}\n${tfx.lines.join('\n')}`);

      // 4. Verify.
      files = await verifyVsix(root, vsixPath, {
        publisher,
        id,
        version,
        task: taskIdentity,
        taskVersion: dev ? version : sourceTaskVersion,
        dev,
        taskFiles,
        // The staged task.json: the source with the help link (and, for dev, the dev identity).
        taskJson: fs.readFileSync(path.join(taskStage, 'task.json')),
        marketplaceUrl: itemUrl,
        extensionFiles,
      });
    } catch (err) {
      // Leave no broken VSIX behind for someone to upload.
      fs.rmSync(vsixPath, { force: true });
      throw err;
    }
    const bytes = fs.statSync(vsixPath).size;
    log(`verified ${files.length} files in the VSIX`);
    return { vsixPath, bytes, files, warnings };
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const usage = 'usage: npm run package [-- --dev [--dev-patch <N>]]';
  const args = process.argv.slice(2);
  const unknown: string[] = [];
  let dev = false;
  let patch: number | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--dev') dev = true;
    else if (args[i] === '--dev-patch') {
      const value = args[++i];
      if (value === undefined || !/^\d+$/.test(value) || Number(value) > MAX_VERSION_PART) {
        console.error(`package: --dev-patch needs an integer from 0 to ${MAX_VERSION_PART}, got ${value ?? 'nothing'} (${usage})`);
        process.exit(1);
      }
      patch = Number(value);
    } else unknown.push(args[i]);
  }
  if (unknown.length > 0 || (patch !== undefined && !dev)) {
    console.error(`package: ${unknown.length > 0 ? `unknown argument(s) ${unknown.join(' ')}` : '--dev-patch needs --dev'} (${usage})`);
    process.exit(1);
  }
  packageExtension({ dev, devPatch: patch }).then(
    (res) => {
      console.log(`VSIX: ${res.vsixPath} (${res.bytes} bytes, ${(res.bytes / 1024).toFixed(1)} KiB)`);
      for (const w of res.warnings) console.warn(w);
    },
    (err: unknown) => {
      const message = err instanceof PackageError ? err.message : ((err as Error)?.stack ?? String(err));
      console.error(`package: FAILED: ${message}`);
      process.exitCode = 1;
    },
  );
}
