// `npm run bench -- --selection`: how fast `connections` / `excludeConnections` select with many
// entries. 10,000 entries (half exact names or ids, half `*` / `?` patterns) against 5,000
// realistic connection names: makeSelection(), isSelected() for every name and unmatched() (what
// the task does), median of a few runs. In-process, no packaging, no emulator; asserts nothing.
import { makeSelection } from '../tasks/ConvertToWif/src/core/selection';

export const SELECTION = { patterns: 10_000, names: 5_000, runs: 5 } as const;

export interface SelectionBench {
  patterns: number;
  wildcardPatterns: number;
  names: number;
  runs: number;
  /** Per run: makeSelection + isSelected over every name + unmatched, in ms. */
  totalMs: number[];
  medianMs: number;
  /** Medians of the parts. */
  compileMedianMs: number;
  isSelectedMedianMs: number;
  unmatchedMedianMs: number;
  selected: number;
  unmatched: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The inputs: deterministic (a seeded PRNG), so runs compare. */
export function selectionInputs(): { names: Array<{ id: string; name: string }>; patterns: string[] } {
  let state = 0x2545f491;
  const rand = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const envs = ['prod', 'dev', 'test', 'qa', 'shared', 'sandbox', 'Prod', 'DEV'];
  const apps = ['payments-api', 'payments-web', 'ledger', 'identity', 'search', 'billing', 'reporting', 'k8s-platform', 'data-lake', 'edge'];
  const regions = ['westeurope', 'northeurope', 'eastus', 'eastus2', 'uksouth', 'swedencentral'];
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const names = Array.from({ length: SELECTION.names }, (_, i) => {
    const n = String(i).padStart(4, '0');
    const shape = i % 10;
    const name =
      shape < 6
        ? `${pick(envs)}-${pick(apps)}-${pick(regions)}-${n}`
        : shape < 8
          ? `team-${String(i % 40).padStart(2, '0')}/${pick(apps)} [${pick(regions)}] (${pick(envs)})`
          : shape < 9
            ? `${pick(envs)} – Zürich ${pick(apps)} ${n}`
            : `${pick(apps)}-${n}${i % 3 === 0 ? '-legacy' : ''} 🚀`;
    return { id: `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`, name };
  });
  const patterns = Array.from({ length: SELECTION.patterns }, (_, i) => {
    const target = pick(names);
    switch (i % 10) {
      case 0:
      case 1:
        return target.name; // an exact name
      case 2:
        return target.name.toUpperCase(); // in another case
      case 3:
        return `${target.name.slice(0, -2)}x${i}`; // a typo: matches nothing
      case 4:
        return target.id.toUpperCase(); // an id
      case 5:
        return `${target.name.slice(0, 4 + (i % 7))}*`; // prefix
      case 6:
        return `*${target.name.slice(-6)}`; // suffix
      case 7:
        return `${pick(envs)}-*-${pick(regions)}-*${String(i % 100).padStart(2, '0')}`; // several segments
      case 8:
        return `?${target.name.slice(1, 8)}*-00?${i % 10}`; // with ?
      default:
        return `*${pick(apps)}*${pick(regions)}*x${i}`; // matches nothing, scans the name
    }
  });
  return { names, patterns };
}

export function benchSelection(): SelectionBench {
  const { names, patterns } = selectionInputs();
  const once = () => {
    const t0 = process.hrtime.bigint();
    const s = makeSelection(patterns, []);
    const t1 = process.hrtime.bigint();
    let selected = 0;
    for (const e of names) if (s.isSelected(e)) selected++;
    const t2 = process.hrtime.bigint();
    const unmatched = s.unmatched(names).length;
    const t3 = process.hrtime.bigint();
    const ms = (a: bigint, b: bigint) => Number(b - a) / 1e6;
    return { compile: ms(t0, t1), isSelected: ms(t1, t2), unmatched: ms(t2, t3), total: ms(t0, t3), selected, unmatchedCount: unmatched };
  };
  once(); // warm-up (JIT), not counted
  const runs = Array.from({ length: SELECTION.runs }, once);
  return {
    patterns: patterns.length,
    wildcardPatterns: patterns.filter((p) => /[*?]/.test(p)).length,
    names: names.length,
    runs: runs.length,
    totalMs: runs.map((r) => r.total),
    medianMs: median(runs.map((r) => r.total)),
    compileMedianMs: median(runs.map((r) => r.compile)),
    isSelectedMedianMs: median(runs.map((r) => r.isSelected)),
    unmatchedMedianMs: median(runs.map((r) => r.unmatched)),
    selected: runs[0].selected,
    unmatched: runs[0].unmatchedCount,
  };
}

/** Prints the result (or its JSON). */
export function printSelectionBench(r: SelectionBench, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  const f = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(
    `ConvertToWif selection bench: ${r.patterns.toLocaleString('en')} entries (${r.wildcardPatterns.toLocaleString('en')} with * or ?) x ${r.names.toLocaleString('en')} names, median of ${r.runs}`,
  );
  console.log(`selected ${r.selected} of ${r.names} names; ${r.unmatched} entries matched nothing`);
  console.log('');
  const rows: Array<[string, string]> = [
    ['makeSelection + isSelected x names + unmatched', `${f(r.medianMs)} (${r.totalMs.map((ms) => ms.toFixed(0)).join(', ')})`],
    ['  makeSelection', f(r.compileMedianMs)],
    ['  isSelected for every name', f(r.isSelectedMedianMs)],
    ['  unmatched', f(r.unmatchedMedianMs)],
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}
