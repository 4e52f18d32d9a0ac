// Fast checks of the packaging inputs (no network, no tfx): the extension manifest's shape and
// the icon sizes. Building and running the VSIX itself is the integration suite's job.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { PLACEHOLDER_PUBLISHER, helpWithLink, manifestWithLinks, marketplaceUrl, packageWarnings, repositoryUrl } from '../../scripts/package';
import { parseRun, parseVsoLine, unescapeVso } from '../helpers/runTask';

// build/test/unit -> repository root
const root = path.resolve(__dirname, '..', '..', '..');
const TASK_DIR = 'tasks/ConvertToWif';

function readJson(rel: string): any {
  return JSON.parse(fs.readFileSync(path.join(root, rel), 'utf8'));
}

/** Width and height from a PNG's IHDR chunk (after checking the signature). */
function pngSize(rel: string): { width: number; height: number } {
  const buf = fs.readFileSync(path.join(root, rel));
  assert.ok(buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), `${rel} is not a PNG`);
  assert.strictEqual(buf.toString('ascii', 12, 16), 'IHDR', `${rel}: first chunk is not IHDR`);
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

describe('vss-extension.json', () => {
  const manifest = readJson('vss-extension.json');

  it('has the Marketplace essentials', () => {
    assert.strictEqual(manifest.manifestVersion, 1);
    assert.strictEqual(manifest.id, 'convert-to-wif');
    assert.match(manifest.publisher, /^[A-Za-z0-9][A-Za-z0-9-]*$/, 'publisher must be a Marketplace publisher id');
    assert.match(manifest.version, /^\d+\.\d+\.\d+$/);
    assert.strictEqual(typeof manifest.name, 'string');
    assert.ok(manifest.name.length > 0 && manifest.name.length <= 200);
    assert.strictEqual(typeof manifest.description, 'string');
    assert.deepStrictEqual(manifest.categories, ['Azure Pipelines']);
    assert.deepStrictEqual(manifest.targets, [{ id: 'Microsoft.VisualStudio.Services' }]);
    assert.deepStrictEqual(manifest.scopes, []);
  });

  it('points at icon, overview and licence files that are packaged', () => {
    assert.strictEqual(manifest.icons?.default, 'images/extension-icon.png');
    assert.strictEqual(manifest.content?.details?.path, 'overview.md');
    assert.strictEqual(manifest.content?.license?.path, 'LICENSE');
    assert.ok(fs.existsSync(path.join(root, 'LICENSE')), 'LICENSE is missing');
    assert.ok(fs.existsSync(path.join(root, manifest.icons.default)), 'the extension icon is missing');
  });

  it('packs the task folder and the addressable icon', () => {
    const files = manifest.files as Array<{ path: string; addressable?: boolean }>;
    assert.ok(Array.isArray(files));
    assert.ok(
      files.some((f) => f.path === TASK_DIR),
      `files must include ${TASK_DIR}`,
    );
    const icon = files.find((f) => f.path === 'images/extension-icon.png');
    assert.ok(icon, 'files must include images/extension-icon.png');
    assert.strictEqual(icon.addressable, true);
  });

  it('contributes exactly the ConvertToWif pipeline task', () => {
    const contributions = manifest.contributions as Array<any>;
    assert.strictEqual(contributions.length, 1);
    const [task] = contributions;
    assert.strictEqual(task.id, 'convert-to-wif-task');
    assert.strictEqual(task.type, 'ms.vss-distributed-task.task');
    assert.deepStrictEqual(task.targets, ['ms.vss-distributed-task.tasks']);
    assert.strictEqual(task.properties?.name, TASK_DIR);
    assert.ok(fs.existsSync(path.join(root, TASK_DIR, 'task.json')), `${TASK_DIR}/task.json is missing`);
  });
});

describe('vss-extension.json: publishing', () => {
  const manifest = readJson('vss-extension.json');

  it('is marked Preview, with branding', () => {
    assert.deepStrictEqual(manifest.galleryFlags, ['Preview']);
    assert.match(manifest.branding?.color, /^#[0-9a-f]{6}$/i);
    assert.ok(['dark', 'light'].includes(manifest.branding?.theme), `branding.theme is '${manifest.branding?.theme}', not dark or light`);
  });

  it("links get started, support and license to the extension's own Marketplace page, filled in at package time", () => {
    assert.deepStrictEqual(Object.keys(manifest.links ?? {}).sort(), ['getstarted', 'license', 'support']);
    const item = 'https://marketplace.visualstudio.com/items?itemName={publisher}.{id}';
    assert.strictEqual(manifest.links.getstarted.uri, item);
    assert.strictEqual(manifest.links.support.uri, `${item}&ssr=false#qna`);
    assert.strictEqual(manifest.links.license.uri, 'https://marketplace.visualstudio.com/items/{publisher}.{id}/license');
    assert.deepStrictEqual(manifest.repository, { type: 'git', uri: '{repository}' });
    // No host of the project is invented anywhere in the manifest.
    assert.doesNotMatch(JSON.stringify(manifest), /github\.com|convert-to-wif\/convert-to-wif/);

    const filled = manifestWithLinks(manifest, { publisher: 'contoso', id: 'convert-to-wif' });
    assert.strictEqual(filled.links.getstarted.uri, 'https://marketplace.visualstudio.com/items?itemName=contoso.convert-to-wif');
    assert.strictEqual(filled.links.support.uri, 'https://marketplace.visualstudio.com/items?itemName=contoso.convert-to-wif&ssr=false#qna');
    assert.strictEqual(filled.links.license.uri, 'https://marketplace.visualstudio.com/items/contoso.convert-to-wif/license');
    assert.strictEqual(filled.repository, undefined, 'no repository while package.json names none');
    assert.deepStrictEqual({ ...filled, links: 0, repository: 0 }, { ...manifest, links: 0, repository: 0 }, 'nothing else changes');
    assert.deepStrictEqual(manifestWithLinks(manifest, { publisher: 'contoso', id: 'x', repository: 'https://example.org/r.git' }).repository, {
      type: 'git',
      uri: 'https://example.org/r.git',
    });
    assert.throws(() => manifestWithLinks({ links: { a: { uri: 'https://x/{nope}' } } }, { publisher: 'p', id: 'i' }), /unknown token \{nope\}/);
  });

  it('the project home is package.json "repository" (none yet)', () => {
    assert.strictEqual(repositoryUrl(readJson('package.json')), undefined);
    assert.strictEqual(repositoryUrl({ repository: { type: 'git', url: 'git+https://example.org/r.git' } }), 'https://example.org/r.git');
    assert.strictEqual(repositoryUrl({ repository: 'https://example.org/r' }), 'https://example.org/r');
    assert.strictEqual(repositoryUrl({ repository: { url: ' ' } }), undefined);
  });

  it('ships CHANGELOG.md, addressable, and overview.md links it', () => {
    const files = manifest.files as Array<{ path: string; addressable?: boolean }>;
    assert.deepStrictEqual(
      files.find((f) => f.path === 'CHANGELOG.md'),
      { path: 'CHANGELOG.md', addressable: true },
    );
    assert.ok(fs.existsSync(path.join(root, 'CHANGELOG.md')));
    assert.match(fs.readFileSync(path.join(root, 'overview.md'), 'utf8'), /\]\(CHANGELOG\.md\)/);
  });

  it('the source task.json help names no host; the package step appends the Marketplace page', () => {
    const task = readJson(`${TASK_DIR}/task.json`);
    assert.strictEqual(typeof task.helpMarkDown, 'string');
    assert.doesNotMatch(task.helpMarkDown, /https?:|\]\(/, 'the link is stamped into the staged task.json at package time');
    assert.strictEqual(
      helpWithLink('Grant it first.', marketplaceUrl('contoso', 'convert-to-wif')),
      'Grant it first. [Documentation](https://marketplace.visualstudio.com/items?itemName=contoso.convert-to-wif)',
    );
  });

  it('warns (one line, how to fix it) while the publisher is the placeholder', () => {
    const [warning, ...rest] = packageWarnings(PLACEHOLDER_PUBLISHER, 'https://example.org/r');
    assert.deepStrictEqual(rest, []);
    assert.match(warning, /^package: WARNING: vss-extension\.json "publisher" is still the placeholder 'your-publisher-id'/);
    assert.match(warning, /Set "publisher" in vss-extension\.json to your Marketplace publisher id/);
    assert.doesNotMatch(warning, /\n/);
    assert.deepStrictEqual(packageWarnings('contoso', 'https://example.org/r'), []);
    const notes = packageWarnings('contoso', undefined);
    assert.equal(notes.length, 1);
    assert.match(notes[0], /^package: note: package\.json names no "repository"/);
  });
});

describe('icons', () => {
  it('extension icon is 128x128', () => {
    assert.deepStrictEqual(pngSize('images/extension-icon.png'), { width: 128, height: 128 });
  });

  it('task icon is 32x32 beside task.json', () => {
    assert.deepStrictEqual(pngSize(`${TASK_DIR}/icon.png`), { width: 32, height: 32 });
  });
});

describe('runTask logging-command parser', () => {
  it('decodes property and message escapes in one pass', () => {
    assert.strictEqual(unescapeVso('a%3Bb%0D%0Ac%5Dd%AZP25e%25f'), 'a;b\r\nc]d%e%f');
    // task-lib writes a literal "%3B" as "%AZP253B": it must stay "%3B".
    assert.strictEqual(unescapeVso('%AZP253B'), '%3B');
  });

  it('parses commands anywhere in a line', () => {
    assert.deepStrictEqual(parseVsoLine('prefix ##vso[task.setvariable variable=x;isOutput=true;issecret=false;]v%3Bw'), {
      command: 'task.setvariable',
      properties: { variable: 'x', isoutput: 'true', issecret: 'false' },
      message: 'v;w',
    });
    assert.strictEqual(parseVsoLine('no command here'), undefined);
  });

  it('collects results, issues, variables, summary and secrets', () => {
    const stdout = [
      '##vso[task.setsecret]s3cret',
      '##vso[task.issue type=warning;]careful%0Anow',
      '##vso[task.logissue type=error;code=X;]bad',
      '##vso[task.setvariable variable=convertedCount;isOutput=true;issecret=false;]2',
      '##vso[task.uploadsummary]/tmp/summary.md',
      '##vso[task.issue type=error;source=TaskInternal;]boom',
      '##vso[task.complete result=Failed;]boom',
      '##vso[task.complete result=Succeeded;]later',
    ].join('\r\n');
    const run = parseRun(1, stdout, '', '/tmp/x');
    assert.deepStrictEqual(run.result, { result: 'Failed', message: 'boom' }, 'the worst result wins, as on the agent');
    assert.deepStrictEqual(run.warnings, ['careful\nnow']);
    assert.deepStrictEqual(run.errors, ['bad', 'boom']);
    assert.deepStrictEqual(run.variables, { convertedCount: { value: '2', isOutput: true, isSecret: false } });
    assert.strictEqual(run.summaryPath, '/tmp/summary.md');
    assert.deepStrictEqual(run.secretsMasked, ['s3cret']);
  });
});
