// scripts/check-cycles.ts (`npm run check:cycles`): the task's files import each other without a
// cycle, and the checker does find cycles (type-only ones too) in a small synthetic set of files.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { checkCycles, formatCycles } from '../../scripts/check-cycles';

// build/test/unit -> repository root
const root = path.resolve(__dirname, '..', '..', '..');
const taskDir = path.join(root, 'tasks', 'ConvertToWif');
const script = path.join(root, 'build', 'scripts', 'check-cycles.js');

describe('import cycles (npm run check:cycles)', () => {
  it('tasks/ has no import cycle', () => {
    const { files, cycles } = checkCycles(taskDir);
    assert.ok(files.length > 5, `read the task's files (${files.length})`);
    assert.ok(
      files.some((f) => f.endsWith(path.join('src', 'core', 'model.ts'))),
      'src/core/model.ts is among them',
    );
    assert.equal(cycles.length, 0, `import cycles under tasks/ConvertToWif:\n${formatCycles(cycles, taskDir).join('\n')}`);
  });

  describe('on synthetic files', () => {
    let dir: string;
    const write = (files: Record<string, string>) => {
      for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
      }
    };
    const rel = (files: string[]) => files.map((f) => path.relative(dir, f).split(path.sep).join('/'));
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-to-wif-cycles-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('finds a cycle closed by an `import type`, through index.ts and a .js specifier, once', () => {
      write({
        'a.ts': "import { b } from './lib';\nexport const a = b;\n",
        'lib/index.ts': "export * from './b.js';\n",
        'lib/b.ts': "import { c } from '../c';\nexport const b = c;\n",
        'c.ts': "import type { A } from './types';\nimport * as fs from 'fs';\nexport const c = fs.constants.F_OK;\nexport type T = A;\n",
        'types.ts': "import { a } from './a';\nexport type A = typeof a;\n",
        // Not in the cycle: imports into it, and a diamond.
        'd.ts': "import { a } from './a';\nimport { e } from './e';\nimport { f } from './f';\nexport const d = [a, e, f];\n",
        'e.ts': "import { g } from './g';\nexport const e = g;\n",
        'f.ts': "import { g } from './g';\nimport { nothing } from './missing';\nexport const f = [g, nothing];\n",
        'g.ts': 'export const g = 1;\n',
      });
      const { files, cycles } = checkCycles(dir);
      assert.equal(files.length, 9);
      assert.deepEqual(
        cycles.map((c) => rel(c.files)),
        [['a.ts', 'lib/index.ts', 'lib/b.ts', 'c.ts', 'types.ts']],
      );
      const [cycle] = cycles;
      assert.deepEqual(
        cycle.edges.map((e) => [rel([e.from])[0], e.line, e.typeOnly, e.specifier]),
        [
          ['a.ts', 1, false, './lib'],
          ['lib/index.ts', 1, false, './b.js'],
          ['lib/b.ts', 1, false, '../c'],
          ['c.ts', 1, true, './types'],
          ['types.ts', 1, false, './a'],
        ],
      );
    });

    it('finds every cycle: two sharing a file, a self-import, require() and import() types', () => {
      write({
        'x.ts': "import { y } from './y';\nimport { z } from './z';\nexport const x = [y, z];\n",
        'y.ts': "const x = require('./x');\nexport const y = x;\n",
        'z.ts': "export type X = typeof import('./x');\nexport const z = 1;\n",
        'self.ts': "export { s } from './self';\nexport const s = 1;\n",
      });
      const { cycles } = checkCycles(dir);
      assert.deepEqual(cycles.map((c) => rel(c.files)).sort(), [['self.ts'], ['x.ts', 'y.ts'], ['x.ts', 'z.ts']]);
      const z = cycles.find((c) => c.files.length === 2 && c.files[1].endsWith('z.ts'))!;
      assert.equal(z.edges[1].typeOnly, true, "an import('…') type is type-only");
    });

    it('the command prints each cycle and exits 1; 0 without a cycle', () => {
      write({ 'p.ts': "import type { Q } from './q';\nexport type P = Q;\n", 'q.ts': "import type { P } from './p';\nexport type Q = P | 1;\n" });
      const bad = spawnSync(process.execPath, [script, '--dir', dir], { encoding: 'utf8' });
      assert.equal(bad.status, 1, bad.stderr);
      assert.match(bad.stderr, /check-cycles: 1 import cycle\(s\) among 2 file\(s\) under /);
      assert.match(bad.stderr, /1\. p\.ts -> q\.ts -> p\.ts\n\s+p\.ts:1 imports type-only '\.\/q'\n\s+q\.ts:1 imports type-only '\.\/p'/);

      fs.writeFileSync(path.join(dir, 'q.ts'), 'export type Q = 1;\n');
      const good = spawnSync(process.execPath, [script, '--dir', dir], { encoding: 'utf8' });
      assert.equal(good.status, 0, good.stderr);
      assert.match(good.stdout, /check-cycles: no import cycle among 2 file\(s\) under /);

      const missing = spawnSync(process.execPath, [script, '--dir', path.join(dir, 'nope')], { encoding: 'utf8' });
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /check-cycles: FAILED: no such folder/);
    });
  });
});
