import * as assert from 'node:assert/strict';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { compilePattern, makeSelection, splitList } from '../../tasks/ConvertToWif/src/core/selection';

const e = (name: string, id = 'a1b2c3d4-0000-4000-8000-000000000000') => ({ id, name });

describe('selection (connections / excludeConnections)', () => {
  it('splits one per line or comma-separated, trimming blanks', () => {
    assert.deepEqual(splitList(' prod-* , dev-1\r\n\n  qa ?\n,'), ['prod-*', 'dev-1', 'qa ?']);
    assert.deepEqual(splitList(''), []);
    assert.deepEqual(splitList(undefined), []);
  });

  it('matches * and ? against the whole name, case-insensitively', () => {
    const p = compilePattern('PROD-*');
    assert.equal(p.test(e('prod-payments')), true);
    assert.equal(p.test(e('preprod-payments')), false);
    assert.equal(compilePattern('dev-?').test(e('dev-1')), true);
    assert.equal(compilePattern('dev-?').test(e('dev-12')), false);
    assert.equal(compilePattern('Prod – Zürich*').test(e('prod – zürich (payments)')), true);
  });

  it('treats every other character literally (names may hold / [ ( { . +)', () => {
    assert.equal(compilePattern('team/a [prod] (x) {y} a.b+c').test(e('team/a [prod] (x) {y} a.b+c')), true);
    assert.equal(compilePattern('a.b').test(e('axb')), false);
    assert.equal(compilePattern('[ab]').test(e('a')), false);
    assert.equal(compilePattern('*/*').test(e('team/app')), true);
  });

  it('matches a connection id exactly, in any case', () => {
    const id = 'A1B2C3D4-0000-4000-8000-0000000000AA';
    assert.equal(compilePattern(id).test(e('whatever', id.toLowerCase())), true);
    assert.equal(compilePattern(id.slice(0, 8)).test(e('whatever', id)), false);
  });

  it('selects everything when connections is empty, then removes excludes', () => {
    const s = makeSelection([], ['*-sandbox']);
    assert.equal(s.isSelected(e('prod')), true);
    assert.equal(s.isSelected(e('dev-sandbox')), false);
    const t = makeSelection(['prod-*', 'qa'], ['prod-legacy']);
    assert.deepEqual(
      ['prod-a', 'prod-legacy', 'qa', 'dev'].map((n) => t.isSelected(e(n))),
      [true, false, true, false],
    );
  });

  it('names the connections entries that matched nothing', () => {
    const s = makeSelection(['prod-*', 'typo-conn'], []);
    assert.deepEqual(s.unmatched([e('prod-a'), e('dev')]), ['typo-conn']);
  });

  it('matches ? to one code point, also an emoji or a letter outside the BMP', () => {
    assert.equal(compilePattern('deploy-?').test(e('deploy-🚀')), true);
    assert.equal(compilePattern('deploy-??').test(e('deploy-🚀')), false);
    assert.equal(compilePattern('?-*-?').test(e('𝒜-prod-🚀')), true);
    assert.equal(compilePattern('🚀*').test(e('🚀 rocket')), true);
    assert.equal(compilePattern('*🚀').test(e('rocket 🚀')), true);
  });

  it('folds case like a case-insensitive Unicode RegExp (ς σ Σ, ß ẞ, k and the Kelvin sign; ı stays apart)', () => {
    assert.equal(compilePattern('ΟΔΟΣ*').test(e('οδος-prod')), true);
    assert.equal(compilePattern('*ς').test(e('ΟΔΟΣ')), true);
    assert.equal(compilePattern('STRAẞE').test(e('straße')), true);
    assert.equal(compilePattern('\u212A8s-?').test(e('k8s-1')), true);
    assert.equal(compilePattern('ı*').test(e('Istanbul')), false);
    assert.equal(compilePattern('İ*').test(e('İzmir')), true);
    assert.equal(makeSelection(['ΟΔΟΣ'], []).isSelected(e('οδος')), true);
  });

  it('anchors the first and last segments and finds the middle ones in order', () => {
    assert.equal(compilePattern('a*b*c').test(e('aXbYc')), true);
    assert.equal(compilePattern('a*b*c').test(e('aXcYb')), false);
    assert.equal(compilePattern('a*a').test(e('a')), false);
    assert.equal(compilePattern('a**a').test(e('aa')), true);
    assert.equal(compilePattern('*ab*ab*').test(e('xabab')), true);
    assert.equal(compilePattern('*ab*ab*').test(e('xaba')), false);
    assert.equal(compilePattern('*').test(e('')), true);
    assert.equal(compilePattern('?*').test(e('')), false);
    assert.equal(compilePattern('*?x?*').test(e('axb')), true);
  });

  it('the same entries behave the same in makeSelection (Sets, grouping) as one by one', () => {
    const entries = ['prod-*', 'Prod-Ledger', '?ev-*', '*-legacy', 'A1B2C3D4-0000-4000-8000-0000000000AA', '🚀*', '*'];
    const names = ['prod-ledger', 'dev-1', 'rev-2', 'app-legacy', 'whatever', '🚀 x', '', 'x'];
    for (const entry of entries) {
      const s = makeSelection([entry], []);
      for (const name of names) {
        const id = name === 'whatever' ? 'a1b2c3d4-0000-4000-8000-0000000000aa' : 'ffffffff-0000-4000-8000-000000000000';
        assert.equal(s.isSelected(e(name, id)), compilePattern(entry).test(e(name, id)), `${entry} vs ${name}`);
      }
    }
    const s = makeSelection(['prod-*', 'dev-1', 'nothing-*', 'DEV-1'], ['prod-legacy*']);
    assert.deepEqual(s.unmatched([e('prod-a'), e('Dev-1')]), ['nothing-*']);
    assert.equal(s.isSelected(e('PROD-legacy-x')), false);
  });

  it('a pathological wildcard (*a*a*…*b against 60 a) answers false at once', async function () {
    // The previous matcher compiled `*` to `.*` in a backtracking RegExp: this ran for minutes and
    // blocked the event loop. The match runs in a worker so that a regression fails this test at the
    // timeout instead of hanging the test run.
    this.timeout(2000);
    const module = path.resolve(__dirname, '..', '..', 'tasks', 'ConvertToWif', 'src', 'core', 'selection.js');
    const worker = new Worker(
      `const { parentPort } = require('worker_threads');
       const { compilePattern, makeSelection } = require(${JSON.stringify(module)});
       const name = 'a'.repeat(60);
       const pattern = '*a'.repeat(13) + '*b';
       const q = '*?'.repeat(30) + '*b';
       parentPort.postMessage([
         compilePattern(pattern).test({ id: 'x', name }),
         makeSelection([pattern], []).isSelected({ id: 'x', name }),
         makeSelection([], [pattern]).isSelected({ id: 'x', name }),
         compilePattern(q).test({ id: 'x', name: name + name }),
         compilePattern(pattern).test({ id: 'x', name: name + 'b' }),
       ]);`,
      { eval: true },
    );
    worker.unref();
    try {
      const result = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      assert.deepEqual(result, [false, false, true, false, true]);
    } finally {
      await worker.terminate();
    }
  });

  describe('agrees with a reference matcher on random patterns and names', () => {
    // The reference: dynamic programming over code points, characters compared by a one-character
    // case-insensitive Unicode RegExp (the old matcher's notion of equal letters).
    const escape = (ch: string) => ch.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
    const eq = new Map<string, boolean>();
    const same = (a: string, b: string): boolean => {
      const key = `${a}\u0000${b}`;
      let v = eq.get(key);
      if (v === undefined) eq.set(key, (v = new RegExp(`^${escape(a)}$`, 'iu').test(b)));
      return v;
    };
    const reference = (pattern: string, name: string): boolean => {
      const p = Array.from(pattern);
      const n = Array.from(name);
      // m[j]: p[0..i) matches n[0..j)
      let m = Array.from({ length: n.length + 1 }, (_, j) => j === 0);
      for (const pc of p) {
        const next = new Array<boolean>(n.length + 1).fill(false);
        if (pc === '*') {
          next[0] = m[0];
          for (let j = 1; j <= n.length; j++) next[j] = m[j] || next[j - 1];
        } else {
          for (let j = 1; j <= n.length; j++) next[j] = m[j - 1] && (pc === '?' || same(pc, n[j - 1]));
        }
        m = next;
      }
      return m[n.length];
    };

    // mulberry32, fixed seed: deterministic cases.
    let state = 0x9e3779b9;
    const rand = () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const nameChars = [
      'a',
      'A',
      'b',
      'B',
      '-',
      '.',
      '/',
      '[',
      ']',
      '(',
      ')',
      '{',
      '}',
      '+',
      '\\',
      '^',
      '$',
      '|',
      ' ',
      '🚀',
      '𝒜',
      'ß',
      'ẞ',
      'σ',
      'ς',
      'Σ',
      'ı',
      'I',
      'i',
      'İ',
      'k',
      '\u212A',
      'é',
      'É',
      '\n',
    ];
    const patternChars = [...nameChars, '*', '*', '?', '?'];
    const str = (chars: readonly string[], max: number) => Array.from({ length: Math.floor(rand() * (max + 1)) }, () => pick(chars)).join('');

    it('3,000 random pairs, and each pattern against a name built to match it', () => {
      for (let i = 0; i < 3000; i++) {
        const pattern = str(patternChars, 8);
        const name = rand() < 0.5 ? str(nameChars, 10) : Array.from(pattern, (c) => (c === '*' ? str(nameChars, 3) : c === '?' ? pick(nameChars) : c)).join('');
        const want = reference(pattern, name);
        const id = 'ffffffff-0000-4000-8000-000000000000';
        assert.equal(compilePattern(pattern).test(e(name, id)), want, `pattern ${JSON.stringify(pattern)} name ${JSON.stringify(name)}`);
        assert.equal(
          makeSelection([pattern], []).isSelected(e(name, id)),
          want,
          `makeSelection: pattern ${JSON.stringify(pattern)} name ${JSON.stringify(name)}`,
        );
      }
    });

    it('many patterns at once select what any one of them selects', () => {
      for (let i = 0; i < 200; i++) {
        const include = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => str(patternChars, 5));
        const exclude = rand() < 0.5 ? [] : Array.from({ length: 1 + Math.floor(rand() * 3) }, () => str(patternChars, 5));
        const s = makeSelection(include, exclude);
        const names = Array.from({ length: 10 }, () => str(nameChars, 6));
        for (const name of names) {
          const want = include.some((p) => reference(p, name)) && !exclude.some((p) => reference(p, name));
          assert.equal(
            s.isSelected(e(name, `id-${name}`)),
            want,
            `include ${JSON.stringify(include)} exclude ${JSON.stringify(exclude)} name ${JSON.stringify(name)}`,
          );
        }
        const all = names.map((n) => e(n, `id-${n}`));
        assert.deepEqual(
          s.unmatched(all),
          include.filter((p) => !names.some((n) => reference(p, n))),
        );
      }
    });
  });
});
