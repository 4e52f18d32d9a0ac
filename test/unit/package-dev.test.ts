// `npm run package -- --dev`: a private variant with its own extension id, task GUID and name, so
// it installs next to the public extension, and its own growing version (Major.Minor.<dev patch>),
// so every dev upload is accepted. Packages into a temporary folder; the sources must stay untouched.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DEV,
  DEV_PATCH_EPOCH,
  MAX_VERSION_PART,
  PLACEHOLDER_PUBLISHER,
  devFriendlyName,
  devPatch,
  devVersion,
  extractVsix,
  helpWithLink,
  marketplaceUrl,
  packageExtension,
} from '../../scripts/package';

// build/test/unit -> repository root
const root = path.resolve(__dirname, '..', '..', '..');
const TASK = 'tasks/ConvertToWif';

const taskVersionOf = (task: { version: { Major: number; Minor: number; Patch: number } }) =>
  `${task.version.Major}.${task.version.Minor}.${task.version.Patch}`;
const identityVersion = (xml: string) => /<Identity\b[^>]*\bVersion="([^"]*)"/.exec(xml)?.[1];

/** Packages one variant into `work`, unzips it, and returns the extension and task versions inside the VSIX. */
async function packagedVersions(work: string, name: string, opts: Parameters<typeof packageExtension>[0]) {
  const pkg = await packageExtension({ outDir: path.join(work, name), quiet: true, ...opts });
  const dir = path.join(work, `${name}-vsix`);
  await extractVsix(pkg.vsixPath, dir);
  const task = JSON.parse(fs.readFileSync(path.join(dir, TASK, 'task.json'), 'utf8'));
  const loc = fs.existsSync(path.join(dir, TASK, 'task.loc.json')) ? JSON.parse(fs.readFileSync(path.join(dir, TASK, 'task.loc.json'), 'utf8')) : undefined;
  return {
    vsix: path.basename(pkg.vsixPath),
    extension: identityVersion(fs.readFileSync(path.join(dir, 'extension.vsixmanifest'), 'utf8')),
    task: taskVersionOf(task),
    loc: loc ? taskVersionOf(loc) : undefined,
  };
}

/** Compares `Major.Minor.Patch` versions numerically. */
function compareVersions(a: string, b: string): number {
  const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

describe('dev variant (npm run package -- --dev)', () => {
  it('devFriendlyName(): " (dev)" only while it fits in 40 characters', () => {
    assert.equal(devFriendlyName('Convert to WIF'), 'Convert to WIF (dev)');
    assert.equal(devFriendlyName('x'.repeat(34)), `${'x'.repeat(34)} (dev)`);
    assert.equal(devFriendlyName('x'.repeat(35)), DEV.friendlyNameFallback);
    assert.ok(DEV.friendlyNameFallback.length <= 40);
  });

  it('devPatch(): seconds since the epoch, growing with the time, within 0..2^31-1', () => {
    assert.equal(devPatch(new Date(DEV_PATCH_EPOCH)), 0);
    assert.equal(devPatch(new Date('2024-01-01T00:01:00.999Z')), 60);
    const a = devPatch(new Date('2026-05-01T10:00:00Z'));
    const b = devPatch(new Date('2026-05-01T10:00:01Z'));
    assert.ok(b > a, `${b} > ${a}`);
    assert.ok(devPatch(new Date()) <= MAX_VERSION_PART);
    assert.equal(MAX_VERSION_PART, 2 ** 31 - 1);
    assert.throws(() => devPatch(new Date(DEV_PATCH_EPOCH - 1000)), /integer from 0 to 2147483647/);
    assert.throws(() => devPatch(new Date(DEV_PATCH_EPOCH + 2 ** 31 * 1000)), /integer from 0 to 2147483647/);
  });

  it('devVersion(): keeps Major.Minor, replaces Patch; rejects bad versions and patches', () => {
    assert.equal(devVersion('1.1.0', 77), '1.1.77');
    assert.equal(devVersion('1.4.9', 0), '1.4.0');
    assert.throws(() => devVersion('1.1', 1), /not a version/);
    assert.throws(() => devVersion('1.1.0', -1), /integer from 0/);
    assert.throws(() => devVersion('1.1.0', 1.5), /integer from 0/);
    assert.throws(() => devVersion('1.1.0', 2 ** 31), /integer from 0/);
  });

  it('two dev builds made at different times get increasing versions, the extension and the task agreeing; the public build keeps the source version', async function () {
    this.timeout(180_000); // esbuild + tfx, four times
    const sources = ['vss-extension.json', `${TASK}/task.json`, `${TASK}/task.loc.json`].filter((f) => fs.existsSync(path.join(root, f)));
    const before = new Map(sources.map((f) => [f, fs.readFileSync(path.join(root, f))]));
    const publicManifest = JSON.parse(fs.readFileSync(path.join(root, 'vss-extension.json'), 'utf8'));
    const sourceTaskVersion = taskVersionOf(JSON.parse(fs.readFileSync(path.join(root, TASK, 'task.json'), 'utf8')));
    const [major, minor] = String(publicManifest.version).split('.');
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-devver-'));
    try {
      const first = await packagedVersions(work, 'dev1', { dev: true, now: new Date('2026-05-01T10:00:00Z') });
      const second = await packagedVersions(work, 'dev2', { dev: true, now: new Date('2026-05-01T10:00:05Z') });
      for (const v of [first, second]) {
        assert.match(String(v.extension), new RegExp(`^${major}\\.${minor}\\.\\d+$`), 'Major.Minor of the source');
        assert.equal(v.task, v.extension, 'the dev task version matches the dev extension version');
        if (v.loc !== undefined) assert.equal(v.loc, v.extension, 'task.loc.json carries the same version');
        assert.equal(v.vsix, `${publicManifest.publisher}.${DEV.extensionId}-${v.extension}.vsix`);
      }
      assert.ok(compareVersions(String(second.extension), String(first.extension)) > 0, `${second.extension} > ${first.extension}`);
      assert.ok(compareVersions(String(first.extension), String(publicManifest.version)) > 0, 'above the release version');

      const explicit = await packagedVersions(work, 'dev3', { dev: true, devPatch: 42 });
      assert.deepEqual([explicit.extension, explicit.task], [`${major}.${minor}.42`, `${major}.${minor}.42`], '--dev-patch N');

      const pub = await packagedVersions(work, 'public', { now: new Date('2026-05-01T10:00:05Z') });
      assert.deepEqual([pub.extension, pub.task], [publicManifest.version, sourceTaskVersion], 'the public build keeps the source versions');
      await assert.rejects(packageExtension({ outDir: path.join(work, 'x'), quiet: true, devPatch: 1 }), /only for the dev variant/);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    for (const [f, bytes] of before) assert.ok(fs.readFileSync(path.join(root, f)).equals(bytes), `${f} was modified`);
  });

  it('packages the dev identity into the VSIX and leaves the sources alone', async function () {
    this.timeout(180_000); // esbuild + tfx
    const sources = ['vss-extension.json', `${TASK}/task.json`, `${TASK}/task.loc.json`].filter((f) => fs.existsSync(path.join(root, f)));
    const before = new Map(sources.map((f) => [f, fs.readFileSync(path.join(root, f))]));
    const publicTask = JSON.parse(fs.readFileSync(path.join(root, TASK, 'task.json'), 'utf8'));
    const publicManifest = JSON.parse(fs.readFileSync(path.join(root, 'vss-extension.json'), 'utf8'));
    assert.notEqual(DEV.taskId, String(publicTask.id).toLowerCase(), 'the dev task GUID must differ from the public one');

    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-dev-'));
    try {
      const pkg = await packageExtension({ outDir: path.join(work, 'out'), quiet: true, dev: true });
      assert.match(path.basename(pkg.vsixPath), new RegExp(`^${publicManifest.publisher}\\.${DEV.extensionId}-\\d+\\.\\d+\\.\\d+\\.vsix$`));
      const dir = path.join(work, 'vsix');
      await extractVsix(pkg.vsixPath, dir);

      const task = JSON.parse(fs.readFileSync(path.join(dir, TASK, 'task.json'), 'utf8'));
      assert.equal(task.id, DEV.taskId);
      assert.equal(task.name, DEV.taskName);
      assert.equal(task.friendlyName, devFriendlyName(publicTask.friendlyName));
      assert.ok(task.friendlyName.length <= 40);
      // Its help links the dev extension's page; everything else is the public task.
      assert.equal(task.helpMarkDown, helpWithLink(publicTask.helpMarkDown, marketplaceUrl(publicManifest.publisher, DEV.extensionId)));
      const others = { id: 0, name: 0, friendlyName: 0, helpMarkDown: 0, version: { ...publicTask.version, Patch: 0 } };
      assert.deepEqual({ ...task, ...others }, { ...publicTask, ...others });
      assert.deepEqual([task.version.Major, task.version.Minor], [publicTask.version.Major, publicTask.version.Minor]);
      assert.deepEqual(
        pkg.warnings.filter((w) => w.includes('WARNING')).length,
        publicManifest.publisher === PLACEHOLDER_PUBLISHER ? 1 : 0,
        'one warning while the publisher is the placeholder',
      );
      if (fs.existsSync(path.join(dir, TASK, 'task.loc.json'))) {
        const loc = JSON.parse(fs.readFileSync(path.join(dir, TASK, 'task.loc.json'), 'utf8'));
        assert.deepEqual([loc.id, loc.name], [DEV.taskId, DEV.taskName]);
      }

      const xml = fs.readFileSync(path.join(dir, 'extension.vsixmanifest'), 'utf8');
      const identity = /<Identity\b[^>]*>/.exec(xml)?.[0] ?? '';
      assert.match(identity, new RegExp(`\\bId="${DEV.extensionId}"`));
      assert.match(identity, new RegExp(`\\bPublisher="${publicManifest.publisher}"`));
      assert.match(xml, new RegExp(`<DisplayName>${publicManifest.name} \\(dev\\)</DisplayName>`));
      assert.doesNotMatch(xml, /<GalleryFlags>[^<]*\bPublic\b/, 'the dev variant is private');
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    for (const [f, bytes] of before) assert.ok(fs.readFileSync(path.join(root, f)).equals(bytes), `${f} was modified`);
  });
});
