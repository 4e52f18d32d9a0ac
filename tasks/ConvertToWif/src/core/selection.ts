// Which connections the user selected with `connections` / `excludeConnections`.
//
// Patterns are names, ids, or wildcards with `*` (any run of characters) and `?` (one character),
// matched case-insensitively against the whole name. Everything else is literal: connection names
// may contain `/`, `[`, `(` or `{`, which glob libraries (picomatch, minimatch) treat as syntax, so
// a glob library would select the wrong connections here.

import { Endpoint } from './model';

export interface Pattern {
  text: string;
  test(endpoint: Pick<Endpoint, 'id' | 'name'>): boolean;
}

/** Splits a multiLine input into entries: one per line or comma-separated, trimmed, empties dropped. */
export function splitList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(/[\r\n,]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function compilePattern(text: string): Pattern {
  const body = Array.from(text)
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${body}$`, 'isu');
  const id = text.toLowerCase();
  return {
    text,
    test: (e) => re.test(e.name) || e.id.toLowerCase() === id,
  };
}

export interface Selection {
  isSelected(e: Pick<Endpoint, 'id' | 'name'>): boolean;
  /** `connections` entries that matched none of the given endpoints (worth a warning: likely a typo). */
  unmatched(all: Array<Pick<Endpoint, 'id' | 'name'>>): string[];
}

export function makeSelection(include: string[], exclude: string[]): Selection {
  const inc = include.map(compilePattern);
  const exc = exclude.map(compilePattern);
  return {
    isSelected: (e) => (inc.length === 0 || inc.some((p) => p.test(e))) && !exc.some((p) => p.test(e)),
    unmatched: (all) => inc.filter((p) => !all.some((e) => p.test(e))).map((p) => p.text),
  };
}
