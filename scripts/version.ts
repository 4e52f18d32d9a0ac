// Bumps the extension and the task version together:
//
//   npm run version -- patch     1.4.2 -> 1.4.3
//   npm run version -- minor     1.4.2 -> 1.5.0
//
// The agent caches tasks by version, so a code change without a task version bump never reaches
// pipelines. The extension version (vss-extension.json) is kept equal to the task version
// `Major.Minor.Patch` (task.json), with Major staying 1: a new Major means a new task (renamed
// inputs or changed defaults) and is not done here. Also writes the version into task.loc.json and
// adds a `## <version> - <date>` heading to CHANGELOG.md if it is missing.
//
// Files are edited textually (only the version numbers change), never re-serialized.
import * as fs from 'fs';
import * as path from 'path';

export type BumpKind = 'patch' | 'minor';
export const BUMP_KINDS: readonly BumpKind[] = ['patch', 'minor'];

export class VersionError extends Error {}

const TASK_DIR = path.join('tasks', 'ConvertToWif');
const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;

/** The next version of `current` ("1.4.2"): patch -> 1.4.3, minor -> 1.5.0 (Major is kept). */
export function bump(current: string, kind: string): string {
  if (!BUMP_KINDS.includes(kind as BumpKind)) {
    throw new VersionError(
      `unknown version bump '${kind}': use patch or minor` +
        (kind === 'major' ? ' (a new Major is a new task version with its own migration, not a bump)' : ''),
    );
  }
  const m = SEMVER.exec(current);
  if (!m) throw new VersionError(`'${current}' is not a version of the form <major>.<minor>.<patch>`);
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return kind === 'minor' ? `${major}.${minor + 1}.0` : `${major}.${minor}.${patch + 1}`;
}

interface TaskVersion {
  Major: number;
  Minor: number;
  Patch: number;
}

const versionText = (v: TaskVersion) => `${v.Major}.${v.Minor}.${v.Patch}`;

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new VersionError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function parse(file: string, text: string): any {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new VersionError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function taskVersionOf(file: string, json: any): TaskVersion {
  const v = json?.version;
  if (!v || ![v.Major, v.Minor, v.Patch].every((n) => Number.isInteger(n) && n >= 0)) {
    throw new VersionError(`${file}: "version" must be an object with integer Major, Minor and Patch, found ${JSON.stringify(v)}`);
  }
  return { Major: v.Major, Minor: v.Minor, Patch: v.Patch };
}

/** Without `version`, two JSON documents must be identical (the textual edit touched nothing else). */
function sameExceptVersion(a: any, b: any): boolean {
  const strip = (o: any) => JSON.stringify({ ...o, version: undefined });
  return strip(a) === strip(b);
}

/** Rewrites Minor and Patch inside task.json's `"version": { … }` object, keeping the layout. */
export function setTaskVersion(file: string, text: string, next: TaskVersion): string {
  const objects = [...text.matchAll(/"version"\s*:\s*\{[^{}]*\}/g)];
  if (objects.length !== 1) throw new VersionError(`${file}: expected exactly one "version": { … } object, found ${objects.length}`);
  const [found] = objects;
  let obj = found[0];
  for (const field of ['Minor', 'Patch'] as const) {
    const re = new RegExp(`("${field}"\\s*:\\s*)\\d+`);
    if (!re.test(obj)) throw new VersionError(`${file}: the "version" object has no numeric ${field}`);
    obj = obj.replace(re, `$1${next[field]}`);
  }
  const out = text.slice(0, found.index) + obj + text.slice(found.index + found[0].length);
  const before = parse(file, text);
  const after = parse(file, out);
  if (versionText(taskVersionOf(file, after)) !== versionText(next) || !sameExceptVersion(before, after)) {
    throw new VersionError(`${file}: the version edit did not give ${versionText(next)} (unexpected layout?)`);
  }
  return out;
}

/** Rewrites the manifest's `"version": "<current>"`, keeping the layout. */
export function setExtensionVersion(file: string, text: string, current: string, next: string): string {
  const hits = [...text.matchAll(/("version"\s*:\s*")([^"]*)(")/g)];
  if (hits.length !== 1) throw new VersionError(`${file}: expected exactly one "version": "…", found ${hits.length}`);
  const [hit] = hits;
  if (hit[2] !== current) throw new VersionError(`${file}: "version" is '${hit[2]}', expected '${current}'`);
  const out = text.slice(0, hit.index) + hit[1] + next + hit[3] + text.slice(hit.index + hit[0].length);
  const before = parse(file, text);
  const after = parse(file, out);
  if (after.version !== next || !sameExceptVersion(before, after)) throw new VersionError(`${file}: the version edit did not give ${next}`);
  return out;
}

const CHANGELOG_HEADER = `# Changelog

All notable changes to this extension and its ConvertToWif task. The format follows
[Keep a Changelog](https://keepachangelog.com/en/1.1.0/); the extension version and the task
version (Major.Minor.Patch in task.json) are always the same.
`;

/** CHANGELOG.md with a `## <version> - <date>` section on top (unchanged if it has one). */
export function addChangelogEntry(text: string | undefined, version: string, date: string): string {
  const source = text ?? CHANGELOG_HEADER;
  const escaped = version.replace(/\./g, '\\.');
  if (new RegExp(`^##\\s+\\[?${escaped}\\]?(\\s|$)`, 'm').test(source)) return source;
  const heading = `## ${version} - ${date}`;
  // Keep a Changelog: the entries gathered under "Unreleased" become this version's.
  const unreleased = /^##\s+\[?Unreleased\]?[^\n]*\n/im.exec(source);
  if (unreleased) {
    const end = unreleased.index + unreleased[0].length;
    const rest = source.slice(end);
    const hasEntries = /^\s*[-*]\s+\S/m.test(rest.split(/^##\s/m)[0]);
    return `${source.slice(0, end)}\n${heading}\n${hasEntries ? '' : '\n- \n'}${rest}`;
  }
  const first = /^##\s/m.exec(source);
  const section = `${heading}\n\n- \n\n`;
  if (!first) return `${source.replace(/\n*$/, '')}\n\n${section.replace(/\n+$/, '\n')}`;
  return source.slice(0, first.index) + section + source.slice(first.index);
}

export interface VersionResult {
  from: string;
  to: string;
  /** Files written, relative to the root. */
  files: string[];
}

/** Bumps vss-extension.json, task.json (+ task.loc.json) and CHANGELOG.md under `root`. */
export function bumpRepo(root: string, kind: string, date = new Date().toISOString().slice(0, 10)): VersionResult {
  if (!BUMP_KINDS.includes(kind as BumpKind)) bump('0.0.0', kind); // throws the clear message first
  const manifestFile = path.join(root, 'vss-extension.json');
  const taskFile = path.join(root, TASK_DIR, 'task.json');
  const locFile = path.join(root, TASK_DIR, 'task.loc.json');
  const changelogFile = path.join(root, 'CHANGELOG.md');

  const manifestText = read(manifestFile);
  const manifest = parse(manifestFile, manifestText);
  const taskText = read(taskFile);
  const taskVersion = taskVersionOf(taskFile, parse(taskFile, taskText));
  const current = versionText(taskVersion);
  if (manifest.version !== current) {
    throw new VersionError(
      `vss-extension.json is at ${String(manifest.version)} but task.json at ${current}: they must move together. ` +
        'Make them equal by hand (the higher of the two), then run this again.',
    );
  }
  const to = bump(current, kind);
  const [, minor, patch] = to.split('.').map(Number);
  const next: TaskVersion = { Major: taskVersion.Major, Minor: minor, Patch: patch };

  const writes: Array<[string, string]> = [
    [manifestFile, setExtensionVersion(manifestFile, manifestText, current, to)],
    [taskFile, setTaskVersion(taskFile, taskText, next)],
  ];
  if (fs.existsSync(locFile)) {
    const locText = read(locFile);
    const locVersion = versionText(taskVersionOf(locFile, parse(locFile, locText)));
    if (locVersion !== current) throw new VersionError(`task.loc.json is at ${locVersion} but task.json at ${current}: run \`npm run loc\` first`);
    writes.push([locFile, setTaskVersion(locFile, locText, next)]);
  }
  const changelogText = fs.existsSync(changelogFile) ? read(changelogFile) : undefined;
  const changelog = addChangelogEntry(changelogText, to, date);
  if (changelog !== changelogText) writes.push([changelogFile, changelog]);

  // Everything was computed and checked before the first write.
  for (const [file, text] of writes) fs.writeFileSync(file, text);
  return { from: current, to, files: writes.map(([f]) => path.relative(root, f).replace(/\\/g, '/')) };
}

/** The repository root: the nearest ancestor of this file holding a package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new VersionError(`cannot find the repository root (no package.json above ${__dirname})`);
    dir = parent;
  }
  return dir;
}

const USAGE = 'usage: npm run version -- patch|minor';

export function main(argv: string[], env: NodeJS.ProcessEnv = process.env): number {
  // `npm version …` runs the "version" script as a lifecycle hook: that is not how to version here.
  if (env['npm_command'] === 'version') {
    console.error(`version: this project does not use \`npm version\`; ${USAGE}`);
    return 1;
  }
  let root: string | undefined;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root' && argv[i + 1]) root = path.resolve(argv[++i]);
    else args.push(argv[i]);
  }
  if (args.length !== 1 || !BUMP_KINDS.includes(args[0] as BumpKind)) {
    const got = args.length ? args.map((a) => `'${a}'`).join(' ') : 'nothing';
    const hint = args[0] === 'major' ? ' (a new Major is a new task version with its own migration, not a bump)' : '';
    console.error(`version: expected one argument, patch or minor; got ${got}${hint}. ${USAGE}`);
    return 1;
  }
  try {
    const res = bumpRepo(root ?? repoRoot(), args[0]);
    console.log(`version: ${res.from} -> ${res.to} (${res.files.join(', ')})`);
    console.log(`version: now describe the change under "## ${res.to}" in CHANGELOG.md and set task.json releaseNotes to match.`);
    return 0;
  } catch (err) {
    if (!(err instanceof VersionError)) throw err;
    console.error(`version: FAILED: ${err.message}`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
