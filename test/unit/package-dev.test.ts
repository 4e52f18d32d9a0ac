// `npm run package -- --dev`: a private variant with its own extension id, task GUID and name, so
// it installs next to the public extension. Packages into a temporary folder; the sources must stay
// untouched.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEV, PLACEHOLDER_PUBLISHER, devFriendlyName, extractVsix, helpWithLink, marketplaceUrl, packageExtension } from '../../scripts/package';

// build/test/unit -> repository root
const root = path.resolve(__dirname, '..', '..', '..');
const TASK = 'tasks/ConvertToWif';

describe('dev variant (npm run package -- --dev)', () => {
  it('devFriendlyName(): " (dev)" only while it fits in 40 characters', () => {
    assert.equal(devFriendlyName('Convert to WIF'), 'Convert to WIF (dev)');
    assert.equal(devFriendlyName('x'.repeat(34)), `${'x'.repeat(34)} (dev)`);
    assert.equal(devFriendlyName('x'.repeat(35)), DEV.friendlyNameFallback);
    assert.ok(DEV.friendlyNameFallback.length <= 40);
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
      assert.equal(path.basename(pkg.vsixPath), `${publicManifest.publisher}.${DEV.extensionId}-${publicManifest.version}.vsix`);
      const dir = path.join(work, 'vsix');
      await extractVsix(pkg.vsixPath, dir);

      const task = JSON.parse(fs.readFileSync(path.join(dir, TASK, 'task.json'), 'utf8'));
      assert.equal(task.id, DEV.taskId);
      assert.equal(task.name, DEV.taskName);
      assert.equal(task.friendlyName, devFriendlyName(publicTask.friendlyName));
      assert.ok(task.friendlyName.length <= 40);
      // Its help links the dev extension's page; everything else is the public task.
      assert.equal(task.helpMarkDown, helpWithLink(publicTask.helpMarkDown, marketplaceUrl(publicManifest.publisher, DEV.extensionId)));
      assert.deepEqual({ ...task, id: 0, name: 0, friendlyName: 0, helpMarkDown: 0 }, { ...publicTask, id: 0, name: 0, friendlyName: 0, helpMarkDown: 0 });
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
