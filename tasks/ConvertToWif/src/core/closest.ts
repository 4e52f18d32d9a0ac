// When a selection matches nothing, the names the user probably meant: the project's connection
// names ranked by edit distance to the entries (wildcards left out), closest first.

/** Levenshtein distance, case-insensitive, bounded work: both strings are cut to 200 characters. */
export function editDistance(a: string, b: string): number {
  const s = Array.from(a.toLowerCase().slice(0, 200));
  const t = Array.from(b.toLowerCase().slice(0, 200));
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[t.length];
}

/** Up to `n` names closest to any of the entries; all names (sorted) when no entry is given. */
export function closestNames(entries: string[], names: string[], n = 5): string[] {
  const wanted = entries.map((e) => e.replace(/[*?]/g, '')).filter((e) => e.length > 0);
  const unique = [...new Set(names)];
  if (wanted.length === 0) return unique.sort().slice(0, n);
  // An entry like `prd-*` is compared with the whole name and with its start (and end) of the same
  // length, so `prod-ledger` ranks close to it.
  const distance = (w: string, name: string) =>
    Math.min(editDistance(w, name), editDistance(w, name.slice(0, w.length)) + 0.5, editDistance(w, name.slice(-w.length)) + 0.5);
  const scored = unique.map((name) => ({ name, d: Math.min(...wanted.map((w) => distance(w, name))) }));
  return scored
    .sort((x, y) => x.d - y.d || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))
    .slice(0, n)
    .map((x) => x.name);
}
