// scripts/version.ts: `npm run version -- patch|minor` moves the extension and the task version
// together. Runs only on temporary copies, never on the repository's files.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { addChangelogEntry, bump, bumpRepo } from '../../scripts/version';

// build/test/unit -> repository root
const root = path.resolve(__dirname, '..', '..', '..');
const script = path.join(root, 'build', 'scripts', 'version.js');
const TASK = 'tasks/ConvertToWif';

describe('version bump', () => {
  it('bump(): patch and minor (minor resets patch), Major kept', () => {
    assert.equal(bump('1.0.0', 'patch'), '1.0.1');
    assert.equal(bump('1.4.9', 'patch'), '1.4.10');
    assert.equal(bump('1.4.9', 'minor'), '1.5.0');
    assert.equal(bump('1.0.0', 'minor'), '1.1.0');
  });

  it('bump(): rejects anything but patch and minor, and versions that are not x.y.z', () => {
    assert.throws(() => bump('1.0.0', 'major'), /unknown version bump 'major': use patch or minor/);
    assert.throws(() => bump('1.0.0', 'Patch'), /use patch or minor/);
    assert.throws(() => bump('1.0.0', ''), /use patch or minor/);
    assert.throws(() => bump('1.0', 'patch'), /not a version/);
    assert.throws(() => bump('v1.0.0', 'patch'), /not a version/);
  });

  it('addChangelogEntry(): adds the heading on top once, moving Unreleased entries under it', () => {
    const log = '# Changelog\n\nIntro.\n\n## 1.0.0 - 2026-01-01\n\n- First.\n';
    const once = addChangelogEntry(log, '1.0.1', '2026-02-02');
    assert.equal(once, '# Changelog\n\nIntro.\n\n## 1.0.1 - 2026-02-02\n\n- \n\n## 1.0.0 - 2026-01-01\n\n- First.\n');
    assert.equal(addChangelogEntry(once, '1.0.1', '2026-03-03'), once, 'not added twice');
    assert.equal(
      addChangelogEntry('# C\n\n## [Unreleased]\n\n- Fix.\n\n## 1.0.0 - 2026-01-01\n', '1.0.1', '2026-02-02'),
      '# C\n\n## [Unreleased]\n\n## 1.0.1 - 2026-02-02\n\n- Fix.\n\n## 1.0.0 - 2026-01-01\n',
    );
    assert.match(addChangelogEntry(undefined, '1.0.1', '2026-02-02'), /^# Changelog\n[\s\S]*\n## 1\.0\.1 - 2026-02-02\n\n- \n$/);
  });

  describe('on a temporary copy of the repository files', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-version-'));
      fs.mkdirSync(path.join(dir, TASK), { recursive: true });
      fs.copyFileSync(path.join(root, 'vss-extension.json'), path.join(dir, 'vss-extension.json'));
      for (const f of ['task.json', 'task.loc.json']) {
        if (fs.existsSync(path.join(root, TASK, f))) fs.copyFileSync(path.join(root, TASK, f), path.join(dir, TASK, f));
      }
      if (fs.existsSync(path.join(root, 'CHANGELOG.md'))) fs.copyFileSync(path.join(root, 'CHANGELOG.md'), path.join(dir, 'CHANGELOG.md'));
      // Start from a known version, whatever the repository is at.
      const setAll = (file: string, from: RegExp, to: string) => fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(from, to));
      setAll(path.join(dir, 'vss-extension.json'), /("version"\s*:\s*")[^"]*"/, '$1' + '1.2.3"');
      for (const f of ['task.json', 'task.loc.json']) {
        const file = path.join(dir, TASK, f);
        if (!fs.existsSync(file)) continue;
        setAll(file, /("Minor"\s*:\s*)\d+/, '$1' + '2');
        setAll(file, /("Patch"\s*:\s*)\d+/, '$1' + '3');
      }
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const read = (rel: string) => fs.readFileSync(path.join(dir, rel), 'utf8');
    /** Lines that differ between two texts of the same line count. */
    const changedLines = (a: string, b: string) => {
      const x = a.split('\n');
      const y = b.split('\n');
      assert.equal(x.length, y.length, 'the edit must not add or remove lines');
      return x.flatMap((line, i) => (line === y[i] ? [] : [`${line.trim()} -> ${y[i].trim()}`]));
    };

    it('patch: bumps the manifest, task.json, task.loc.json and CHANGELOG.md, touching only the numbers', () => {
      const before = { manifest: read('vss-extension.json'), task: read(`${TASK}/task.json`) };
      const res = bumpRepo(dir, 'patch', '2026-02-02');
      assert.equal(res.from, '1.2.3');
      assert.equal(res.to, '1.2.4');
      assert.equal(JSON.parse(read('vss-extension.json')).version, '1.2.4');
      assert.deepEqual(JSON.parse(read(`${TASK}/task.json`)).version, { Major: 1, Minor: 2, Patch: 4 });
      assert.deepEqual(changedLines(before.manifest, read('vss-extension.json')), ['"version": "1.2.3", -> "version": "1.2.4",']);
      assert.deepEqual(changedLines(before.task, read(`${TASK}/task.json`)), ['"Patch": 3 -> "Patch": 4']);
      if (fs.existsSync(path.join(dir, TASK, 'task.loc.json'))) {
        assert.deepEqual(JSON.parse(read(`${TASK}/task.loc.json`)).version, { Major: 1, Minor: 2, Patch: 4 });
      }
      assert.match(read('CHANGELOG.md'), /\n## 1\.2\.4 - 2026-02-02\n\n- \n/);
      assert.ok(res.files.includes('CHANGELOG.md'));
    });

    it('minor via the CLI (--root): resets Patch; a bad argument changes nothing', () => {
      const bad = spawnSync(process.execPath, [script, '--root', dir, 'major'], { encoding: 'utf8' });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /expected one argument, patch or minor; got 'major'.*usage: npm run version -- patch\|minor/);
      const none = spawnSync(process.execPath, [script, '--root', dir], { encoding: 'utf8' });
      assert.equal(none.status, 1);
      assert.match(none.stderr, /got nothing/);
      assert.equal(JSON.parse(read('vss-extension.json')).version, '1.2.3');

      const ok = spawnSync(process.execPath, [script, '--root', dir, 'minor'], { encoding: 'utf8' });
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /1\.2\.3 -> 1\.3\.0/);
      assert.equal(JSON.parse(read('vss-extension.json')).version, '1.3.0');
      assert.deepEqual(JSON.parse(read(`${TASK}/task.json`)).version, { Major: 1, Minor: 3, Patch: 0 });
    });

    it('refuses when the extension and the task versions have drifted apart', () => {
      const file = path.join(dir, 'vss-extension.json');
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"1.2.3"', '"1.2.5"'));
      assert.throws(() => bumpRepo(dir, 'patch'), /vss-extension.json is at 1.2.5 but task.json at 1.2.3/);
      assert.deepEqual(JSON.parse(read(`${TASK}/task.json`)).version, { Major: 1, Minor: 2, Patch: 3 }, 'nothing written');
    });

    it('refuses `npm version` (it would run the "version" script as a lifecycle hook)', () => {
      const res = spawnSync(process.execPath, [script, '--root', dir, 'patch'], { encoding: 'utf8', env: { ...process.env, npm_command: 'version' } });
      assert.equal(res.status, 1);
      assert.match(res.stderr, /does not use `npm version`/);
    });
  });
});
