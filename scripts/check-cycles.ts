// Finds import cycles among the task's TypeScript files and prints every one:
//
//   npm run check:cycles [-- --dir <folder>]      (default folder: tasks/ConvertToWif)
//
// Reads every `*.ts` under the folder (node_modules excepted) with the TypeScript compiler API and
// follows its relative module specifiers only (`./x`, `../y`; packages and node built-ins are not
// part of the graph): `import … from`, `import type … from`, `export … from`, `import x = require()`,
// `require()`, `import()` and `import('…')` types. A type-only import counts like any other: it
// still ties the two files together. A specifier resolves to `<spec>.ts`, `<spec>` (if it ends in
// .ts), `<spec>.js` -> `.ts`, or `<spec>/index.ts`; one that names no file in the folder is ignored.
//
// Exit 0: no cycle. Exit 1: at least one cycle (each printed, with the import lines that make it),
// or the folder is missing.
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

/** One import from a file in the set to another file in the set. */
export interface ImportEdge {
  from: string;
  to: string;
  /** 1-based line of the import in `from`. */
  line: number;
  /** `import type` / `export type` / an `import('…')` type: no run-time dependency, still a cycle. */
  typeOnly: boolean;
  /** The specifier as written. */
  specifier: string;
}

/** A cycle: files[0] imports files[1] … imports files[0]; edges[i] is the import files[i] -> files[i+1]. */
export interface Cycle {
  files: string[];
  edges: ImportEdge[];
}

/** Stops enumerating after this many cycles (the count of elementary cycles can explode). */
const MAX_CYCLES = 1000;

/** Every `*.ts` file under `dir` (absolute paths, sorted), node_modules excepted. */
export function tsFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') out.push(...tsFilesUnder(full));
    } else if (entry.isFile() && entry.name.endsWith('.ts')) out.push(full);
  }
  return out.sort();
}

function resolveRelative(fromFile: string, spec: string, known: Set<string>): string | undefined {
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = [`${base}.ts`, base, base.replace(/\.js$/, '.ts'), path.join(base, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && known.has(c));
}

/** The relative module specifiers of one file, with their line and whether they are type-only. */
export function importsOf(file: string, text: string): Array<{ specifier: string; line: number; typeOnly: boolean }> {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: Array<{ specifier: string; line: number; typeOnly: boolean }> = [];
  const add = (node: ts.Node, spec: ts.Expression | undefined, typeOnly: boolean) => {
    if (!spec || !ts.isStringLiteralLike(spec) || !/^\.\.?(\/|$)/.test(spec.text)) return;
    out.push({ specifier: spec.text, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const allTypes =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name &&
            !!clause.namedBindings &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node, node.moduleSpecifier, allTypes);
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal, true);
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1) {
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if (isImport || isRequire) add(node, node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The import graph among `files` (absolute paths): one edge per importing statement that resolves to a file of the set. */
export function importGraph(files: string[]): ImportEdge[] {
  const known = new Set(files.map((f) => path.resolve(f)));
  const edges: ImportEdge[] = [];
  for (const file of [...known].sort()) {
    for (const imp of importsOf(file, fs.readFileSync(file, 'utf8'))) {
      const to = resolveRelative(file, imp.specifier, known);
      if (to) edges.push({ from: file, to, ...imp });
    }
  }
  return edges;
}

/**
 * Every elementary cycle of the graph, each once: it starts at its smallest file (in sorted order)
 * and is found by walking only through files after that one. A file importing itself is a cycle of
 * one. Several imports between the same two files count as one edge (the first is reported).
 */
export function findCycles(edges: ImportEdge[]): Cycle[] {
  const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort();
  const order = new Map(nodes.map((n, i) => [n, i]));
  const next = new Map<string, Map<string, ImportEdge>>();
  for (const e of edges) {
    const m = next.get(e.from) ?? new Map<string, ImportEdge>();
    if (!m.has(e.to)) m.set(e.to, e);
    next.set(e.from, m);
  }
  const cycles: Cycle[] = [];
  for (const start of nodes) {
    const min = order.get(start)!;
    const pathFiles: string[] = [start];
    const pathEdges: ImportEdge[] = [];
    const onPath = new Set<string>([start]);
    const walk = (node: string): void => {
      for (const [to, edge] of next.get(node) ?? []) {
        if (cycles.length >= MAX_CYCLES) return;
        if (to === start) cycles.push({ files: [...pathFiles], edges: [...pathEdges, edge] });
        else if (order.get(to)! > min && !onPath.has(to)) {
          pathFiles.push(to);
          pathEdges.push(edge);
          onPath.add(to);
          walk(to);
          onPath.delete(to);
          pathEdges.pop();
          pathFiles.pop();
        }
      }
    };
    walk(start);
  }
  return cycles;
}

/** The cycles among the `*.ts` files under `dir`. */
export function checkCycles(dir: string): { files: string[]; cycles: Cycle[] } {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`no such folder: ${dir}`);
  const files = tsFilesUnder(path.resolve(dir));
  return { files, cycles: findCycles(importGraph(files)) };
}

/** The report lines for `cycles`, paths relative to `base`, forward slashes. */
export function formatCycles(cycles: Cycle[], base: string): string[] {
  const rel = (f: string) => path.relative(base, f).split(path.sep).join('/');
  const lines: string[] = [];
  cycles.forEach((c, i) => {
    lines.push(`  ${i + 1}. ${[...c.files, c.files[0]].map(rel).join(' -> ')}`);
    for (const e of c.edges) lines.push(`       ${rel(e.from)}:${e.line} imports ${e.typeOnly ? 'type-only ' : ''}'${e.specifier}'`);
  });
  return lines;
}

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the repository root (no package.json above ${__dirname})`);
    dir = parent;
  }
  return dir;
}

export function main(argv: string[], out: (s: string) => void = console.log, err: (s: string) => void = console.error): number {
  let dir = path.join(repoRoot(), 'tasks', 'ConvertToWif');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dir' && argv[i + 1]) dir = path.resolve(argv[++i]);
    else {
      err(`check-cycles: unknown argument '${argv[i]}' (usage: check-cycles [--dir <folder>])`);
      return 1;
    }
  }
  let res: ReturnType<typeof checkCycles>;
  try {
    res = checkCycles(dir);
  } catch (e) {
    err(`check-cycles: FAILED: ${(e as Error).message}`);
    return 1;
  }
  const cwdRel = path.relative(process.cwd(), dir) || '.';
  const shown = cwdRel.startsWith('..') || path.isAbsolute(cwdRel) ? dir : cwdRel;
  if (res.cycles.length === 0) {
    out(`check-cycles: no import cycle among ${res.files.length} file(s) under ${shown}`);
    return 0;
  }
  const more = res.cycles.length >= MAX_CYCLES ? ` (stopped at ${MAX_CYCLES})` : '';
  err(`check-cycles: ${res.cycles.length} import cycle(s)${more} among ${res.files.length} file(s) under ${shown}:`);
  for (const line of formatCycles(res.cycles, dir)) err(line);
  return 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
