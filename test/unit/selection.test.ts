import * as assert from 'node:assert/strict';
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
});
