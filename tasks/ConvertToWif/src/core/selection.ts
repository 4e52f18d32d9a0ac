// Which connections the user selected with `connections` / `excludeConnections`.
//
// Patterns are names, ids, or wildcards with `*` (any run of characters) and `?` (one character,
// i.e. one Unicode code point), matched case-insensitively against the whole name. Everything else
// is literal: connection names may contain `/`, `[`, `(` or `{`, which glob libraries (picomatch,
// minimatch) treat as syntax, so a glob library would select the wrong connections here.
//
// No regular expression for the pattern: a backtracking RegExp compiled from `*a*a*a…*b` takes exponential time on
// a long name (and blocks the event loop, so the task cannot even react to SIGTERM). The pattern is
// split on `*` into fixed-length segments instead: the first is anchored at the start of the name,
// the last at the end, and each middle one is matched at its leftmost position (for `*` that
// leftmost choice is always right, since it leaves the most room for the rest). That costs at most
// O(name length x pattern length) per test, usually a few comparisons.

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

// ---------------------------------------------------------------------------------------------
// Case folding, one code point at a time (so `?` still stands for one code point of the name).

// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/;

const isOneCodePoint = (s: string): boolean => s.length === 1 || (s.length === 2 && s.codePointAt(0)! > 0xffff);

/** Whether two single code points are equal under a RegExp's `iu` case folding (what the matcher always used). */
function sameIgnoringCase(a: string, b: string): boolean {
  // One literal character, no quantifier: constant time, nothing to backtrack.
  return new RegExp(`^${a.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')}$`, 'iu').test(b);
}

/**
 * The case-insensitive key of one (non-ASCII) code point: the lower case of its upper case, so that
 * `ς`, `σ` and `Σ`, `ß` and `ẞ`, `k` and the Kelvin sign meet; else its lower case; else itself.
 * Never more than one code point (a character whose case mapping expands, like `İ`, stays itself),
 * and only a key that a RegExp with the `iu` flags (simple case folding, what the previous matcher
 * used) calls equal to the character: `ı` has the upper case `I` but does not fold to `i`.
 */
function foldCodePoint(ch: string): string {
  const upper = ch.toUpperCase();
  for (const key of [(isOneCodePoint(upper) ? upper : ch).toLowerCase(), ch.toLowerCase()]) {
    if (key === ch || (isOneCodePoint(key) && sameIgnoringCase(ch, key))) return key;
  }
  return ch;
}

const foldCache = new Map<string, string>();

/** Case-folds a string code point by code point: the result has as many code points as `s`. */
function fold(s: string): string {
  if (ASCII.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    let f = foldCache.get(ch);
    if (f === undefined) {
      f = foldCodePoint(ch);
      if (foldCache.size < 4096) foldCache.set(ch, f);
    }
    out += f;
  }
  return out;
}

/** The code points of an already folded string. */
function codePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.codePointAt(i)!;
    out.push(c);
    if (c > 0xffff) i++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The matcher

/** `?` in a segment. */
const ANY = -1;

interface Compiled {
  text: string;
  /** `text` lower-cased, compared with connection ids. */
  idKey: string;
  /** Folded text when the entry has no `*` and no `?`: then it matches names by equality. */
  exact?: string;
  /** Otherwise: the segments between `*`s (code points, ANY for `?`); empty first/last segments kept. */
  segments: number[][];
  /** Whether the entry has a `*` at all (without one, the single segment is the whole name). */
  star: boolean;
  /** The fewest code points a matching name has. */
  minLength: number;
  /** The first code point every matching name starts with, or ANY when the entry starts with `*` or `?`. */
  lead: number;
  /** The last code point every matching name ends with, or ANY when the entry ends with `*` or `?`. */
  tail: number;
}

function compile(text: string): Compiled {
  const idKey = text.toLowerCase();
  if (!text.includes('*') && !text.includes('?')) return { text, idKey, exact: fold(text), segments: [], star: false, minLength: 0, lead: ANY, tail: ANY };
  const parts = fold(text).split('*');
  const star = parts.length > 1;
  // Runs of `*` leave empty middle parts: drop them (the first and last say whether it is anchored).
  const segments = parts
    .filter((p, i) => i === 0 || i === parts.length - 1 || p.length > 0)
    .map((p) => codePoints(p).map((c) => (c === 0x3f /* ? */ ? ANY : c)));
  const minLength = segments.reduce((n, s) => n + s.length, 0);
  const first = segments[0];
  const last = segments[segments.length - 1];
  const lead = first.length > 0 ? first[0] : ANY;
  const tail = last.length > 0 ? last[last.length - 1] : ANY;
  return { text, idKey, segments, star, minLength, lead, tail };
}

/** Whether `seg` matches `name` at code point `at` (the caller checked it fits). */
function matchesAt(name: number[], at: number, seg: number[]): boolean {
  for (let j = 0; j < seg.length; j++) {
    const c = seg[j];
    if (c !== ANY && c !== name[at + j]) return false;
  }
  return true;
}

/** Whether the wildcard entry `p` matches the folded name `name` (code points). */
function matchesName(p: Compiled, name: number[]): boolean {
  const n = name.length;
  if (n < p.minLength) return false;
  const segs = p.segments;
  if (!p.star) return n === p.minLength && matchesAt(name, 0, segs[0]);
  const first = segs[0];
  const last = segs[segs.length - 1];
  if (!matchesAt(name, 0, first)) return false;
  const end = n - last.length;
  if (!matchesAt(name, end, last)) return false;
  let pos = first.length;
  for (let k = 1; k < segs.length - 1; k++) {
    const seg = segs[k];
    const limit = end - seg.length;
    let at = pos;
    while (at <= limit && !matchesAt(name, at, seg)) at++;
    if (at > limit) return false;
    pos = at + seg.length;
  }
  return true;
}

/** A connection name folded once, its code points computed on first use. */
class Subject {
  private cps?: number[];
  readonly idKey: string;
  constructor(
    readonly folded: string,
    id: string,
  ) {
    this.idKey = id.toLowerCase();
  }
  static of(e: Pick<Endpoint, 'id' | 'name'>): Subject {
    return new Subject(fold(e.name), e.id);
  }
  get codePoints(): number[] {
    return (this.cps ??= codePoints(this.folded));
  }
}

function testOne(p: Compiled, s: Subject): boolean {
  if (s.idKey === p.idKey) return true;
  if (p.exact !== undefined) return s.folded === p.exact;
  const name = s.codePoints;
  return matchesName(p, name);
}

export function compilePattern(text: string): Pattern {
  const p = compile(text);
  return { text, test: (e) => testOne(p, Subject.of(e)) };
}

/**
 * Many entries at once: exact names and ids in maps, wildcard entries grouped by the first code
 * point a matching name must start with (or else the last one it must end with), so a name is
 * tested against few of them.
 */
const NONE: Compiled[] = [];

class PatternSet {
  private readonly exact = new Map<string, Compiled[]>();
  private readonly ids = new Map<string, Compiled[]>();
  private readonly byLead = new Map<number, Compiled[]>();
  private readonly byTail = new Map<number, Compiled[]>();
  private readonly others: Compiled[] = [];
  private readonly wildcards: number;

  constructor(readonly entries: Compiled[]) {
    const add = <K>(map: Map<K, Compiled[]>, key: K, p: Compiled) => {
      const list = map.get(key);
      if (list) list.push(p);
      else map.set(key, [p]);
    };
    for (const p of entries) {
      add(this.ids, p.idKey, p);
      if (p.exact !== undefined) add(this.exact, p.exact, p);
      else if (p.lead !== ANY) add(this.byLead, p.lead, p);
      else if (p.tail !== ANY) add(this.byTail, p.tail, p);
      else this.others.push(p);
    }
    this.wildcards = entries.length - [...this.exact.values()].reduce((n, l) => n + l.length, 0);
  }

  get size(): number {
    return this.entries.length;
  }

  /** The wildcard entries that may match `name` (each in exactly one of the lists). */
  private candidates(name: number[]): Compiled[][] {
    if (name.length === 0) return [this.others];
    return [this.byLead.get(name[0]) ?? NONE, this.byTail.get(name[name.length - 1]) ?? NONE, this.others];
  }

  /** Whether any entry matches. */
  matches(s: Subject): boolean {
    if (this.exact.has(s.folded) || this.ids.has(s.idKey)) return true;
    if (this.wildcards === 0) return false;
    const name = s.codePoints;
    for (const list of this.candidates(name)) for (const p of list) if (matchesName(p, name)) return true;
    return false;
  }

  /** Adds every entry that matches `s` to `matched`. */
  collect(s: Subject, matched: Set<Compiled>): void {
    for (const p of this.exact.get(s.folded) ?? []) matched.add(p);
    for (const p of this.ids.get(s.idKey) ?? []) matched.add(p);
    if (this.wildcards === 0) return;
    const name = s.codePoints;
    for (const list of this.candidates(name)) for (const p of list) if (!matched.has(p) && matchesName(p, name)) matched.add(p);
  }
}

export interface Selection {
  isSelected(e: Pick<Endpoint, 'id' | 'name'>): boolean;
  /** `connections` entries that matched none of the given endpoints (worth a warning: likely a typo). */
  unmatched(all: Array<Pick<Endpoint, 'id' | 'name'>>): string[];
}

export function makeSelection(include: string[], exclude: string[]): Selection {
  const inc = new PatternSet(include.map(compile));
  const exc = new PatternSet(exclude.map(compile));
  return {
    isSelected: (e) => {
      const s = Subject.of(e);
      return (inc.size === 0 || inc.matches(s)) && !(exc.size > 0 && exc.matches(s));
    },
    unmatched: (all) => {
      const matched = new Set<Compiled>();
      for (const e of all) inc.collect(Subject.of(e), matched);
      return inc.entries.filter((p) => !matched.has(p)).map((p) => p.text);
    },
  };
}
