// tasks/ConvertToWif/task.json: the rules tfx only warns about (it still exits 0 and packs a task
// the agent or the UI then rejects), and the consistency of task.json with the task's code:
// inputs, groups, visible rules, output variables and message keys.
//
// Reads only files inside the repository (a fresh clone has no copy of the official schema): the official schema is
// checked separately by `npm run check:schema`.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// build/test/unit -> repository root
const root = path.resolve(__dirname, '..', '..', '..');
const TASK_DIR = path.join(root, 'tasks', 'ConvertToWif');

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TASK_NAME = /^[A-Za-z0-9-]+$/;
const INPUT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
const REQUIRED_HANDLERS = ['Node20_1', 'Node24'];
const ENTRY_TARGET = 'index.js';
const MIN_AGENT = '3.232.1';

/** What the task's code does, as far as task.json is concerned. */
export interface CodeFacts {
  /** Output variables the code sets (`output('x'` / `setVariable('x'`). */
  outputsSet: Set<string>;
  /** Message keys the code uses, each with where (file:line). */
  keysUsed: Map<string, string[]>;
  /** Uses of a message key the code analysis could not resolve to a fixed set of keys. */
  unresolved: string[];
}

// ---------------------------------------------------------------------------------------
// visibleRule: `a = x && b != y || c = z`

export interface RuleClause {
  input: string;
  op: string;
  value: string;
}

const CLAUSE = /^([A-Za-z][A-Za-z0-9_]*)\s*(==|!=|<=|>=|=|<|>|\b(?:NotContains|Contains|NotStartsWith|StartsWith|NotEndsWith|EndsWith)\b)\s*(.*)$/;

/** Splits a visibleRule into its clauses; a clause that does not parse is returned as an error. */
export function parseVisibleRule(rule: string): { clauses: RuleClause[]; errors: string[] } {
  const clauses: RuleClause[] = [];
  const errors: string[] = [];
  for (const part of rule.split(/&&|\|\|/)) {
    const text = part.trim();
    const m = CLAUSE.exec(text);
    if (!m) errors.push(`'${text}' is not of the form <input> <operator> <value>`);
    else clauses.push({ input: m[1], op: m[2], value: m[3].trim() });
  }
  return { clauses, errors };
}

// ---------------------------------------------------------------------------------------
// task.json

const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const sameSet = (a: unknown, b: string[]): boolean => Array.isArray(a) && a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** Keys spelled like helpMarkDown with another casing (`helpMarkdown` is silently ignored). */
function helpCasing(obj: Record<string, unknown>, where: string): string[] {
  return Object.keys(obj)
    .filter((k) => k.toLowerCase() === 'helpmarkdown' && k !== 'helpMarkDown')
    .map((k) => `${where}: '${k}' must be spelled 'helpMarkDown' (other casings are ignored)`);
}

/** Every problem of task.json, given what the code does. Empty when all is well. */
export function checkTaskJson(task: any, code: CodeFacts, entryExists: boolean): string[] {
  const problems: string[] = [];
  const p = (s: string) => problems.push(s);

  // The rules tfx only warns about.
  if (typeof task.id !== 'string' || !GUID.test(task.id)) p(`id '${task.id}' is not a GUID`);
  if (typeof task.name !== 'string' || !TASK_NAME.test(task.name)) p(`name '${task.name}' does not match ^[A-Za-z0-9\\-]+$`);
  if (typeof task.friendlyName !== 'string' || task.friendlyName.length < 1 || task.friendlyName.length > 40) {
    p(`friendlyName must be 1-40 characters: '${task.friendlyName}' has ${typeof task.friendlyName === 'string' ? task.friendlyName.length : 'none'}`);
  }
  if (!isNonEmptyString(task.instanceNameFormat)) p('instanceNameFormat is missing');

  const execution = task.execution;
  if (!execution || typeof execution !== 'object') p('execution is missing');
  else {
    for (const h of REQUIRED_HANDLERS) if (!execution[h]) p(`execution must declare ${h}`);
    if ('Node20' in execution) p('execution declares "Node20": the agent has no such handler and the schema rejects it (use Node20_1)');
    for (const [handler, spec] of Object.entries(execution as Record<string, { target?: unknown }>)) {
      if (spec?.target !== ENTRY_TARGET) p(`execution.${handler}.target is '${String(spec?.target)}': every handler must run ${ENTRY_TARGET}`);
    }
  }
  if (!entryExists) p('the source entry tasks/ConvertToWif/index.ts (bundled to index.js) is missing');
  if (task.minimumAgentVersion !== MIN_AGENT) p(`minimumAgentVersion is '${task.minimumAgentVersion}', expected '${MIN_AGENT}' (Node20_1 + Node24)`);
  if (!sameSet(task.visibility, ['Build', 'Release'])) p(`visibility is ${JSON.stringify(task.visibility)}, expected ["Build","Release"]`);
  if (!sameSet(task.runsOn, ['Agent', 'DeploymentGroup'])) p(`runsOn is ${JSON.stringify(task.runsOn)}, expected ["Agent","DeploymentGroup"]`);
  const v = task.version;
  if (!v || ![v.Major, v.Minor, v.Patch].every((n) => Number.isInteger(n) && n >= 0)) p(`version ${JSON.stringify(v)} needs integer Major, Minor and Patch`);
  problems.push(...helpCasing(task, 'task.json'));

  // Groups and inputs.
  const groups: any[] = Array.isArray(task.groups) ? task.groups : [];
  const groupNames = new Set<string>();
  for (const g of groups) {
    if (!isNonEmptyString(g?.name)) p(`a group has no name: ${JSON.stringify(g)}`);
    else if (groupNames.has(g.name)) p(`group '${g.name}' is declared twice`);
    else groupNames.add(g.name);
    if (!isNonEmptyString(g?.displayName)) p(`group '${g?.name}' has no displayName`);
  }
  const inputs: any[] = Array.isArray(task.inputs) ? task.inputs : [];
  const byName = new Map<string, any>();
  for (const input of inputs) {
    const name = input?.name;
    if (typeof name !== 'string' || !INPUT_NAME.test(name)) p(`input name '${name}' does not match ^[A-Za-z][A-Za-z0-9]*$`);
    else if (byName.has(name)) p(`input '${name}' is declared twice`);
    else byName.set(name, input);
  }
  for (const input of inputs) {
    const where = `input '${input?.name}'`;
    if (!isNonEmptyString(input?.type)) p(`${where} has no type`);
    if (!isNonEmptyString(input?.label)) p(`${where} has no label`);
    if (!isNonEmptyString(input?.helpMarkDown)) p(`${where} has no helpMarkDown`);
    problems.push(...helpCasing(input ?? {}, where));
    if (input?.groupName !== undefined && !groupNames.has(input.groupName)) p(`${where}: groupName '${input.groupName}' is not a declared group`);
    if (input?.type === 'pickList' || input?.type === 'radio') {
      const options = input.options && typeof input.options === 'object' ? Object.keys(input.options) : [];
      if (options.length === 0) p(`${where} (${input.type}) has no options`);
      const editable = String(input.properties?.EditableOptions ?? '').toLowerCase() === 'true';
      if (!editable && options.length > 0 && !options.includes(String(input.defaultValue))) {
        p(`${where}: defaultValue '${input.defaultValue}' is not one of its options (${options.join(', ')})`);
      }
    }
  }
  const checkRule = (rule: unknown, where: string, self?: string) => {
    if (rule === undefined) return;
    if (!isNonEmptyString(rule)) return p(`${where}: visibleRule is empty or not a string`);
    const { clauses, errors } = parseVisibleRule(rule);
    for (const e of errors) p(`${where}: visibleRule ${e}`);
    for (const c of clauses) {
      const target = byName.get(c.input);
      if (!target) {
        p(`${where}: visibleRule names '${c.input}', which is not an input`);
        continue;
      }
      if (c.input === self) p(`${where}: visibleRule depends on the input itself`);
      if (c.op !== '=' && c.op !== '!=' && c.op !== '==') continue;
      const allowed =
        target.type === 'boolean' ? ['true', 'false'] : target.type === 'pickList' || target.type === 'radio' ? Object.keys(target.options ?? {}) : undefined;
      if (allowed && !allowed.some((a) => a.toLowerCase() === c.value.toLowerCase())) {
        p(`${where}: visibleRule compares '${c.input}' with '${c.value}', which it can never be (${allowed.join(', ')})`);
      }
    }
  };
  for (const input of inputs) checkRule(input?.visibleRule, `input '${input?.name}'`, input?.name);
  for (const g of groups) checkRule(g?.visibleRule, `group '${g?.name}'`);

  // Output variables: declared <-> set by the code.
  const declared = new Set<string>();
  for (const o of Array.isArray(task.outputVariables) ? task.outputVariables : []) {
    if (!isNonEmptyString(o?.name)) p(`an output variable has no name: ${JSON.stringify(o)}`);
    else {
      declared.add(o.name);
      if (!code.outputsSet.has(o.name)) p(`output variable '${o.name}' is declared but the code never sets it`);
      if (!isNonEmptyString(o.description)) p(`output variable '${o.name}' has no description`);
    }
  }
  for (const name of code.outputsSet)
    if (!declared.has(name)) p(`the code sets output variable '${name}', which task.json does not declare in outputVariables`);

  // Messages: used keys exist, existing keys are used.
  const messages: Record<string, unknown> = task.messages && typeof task.messages === 'object' ? task.messages : {};
  for (const [key, where] of code.keysUsed) if (!(key in messages)) p(`message key '${key}' is used by the code (${where.join(', ')}) but not in messages`);
  for (const [key, text] of Object.entries(messages)) {
    if (!code.keysUsed.has(key)) p(`message key '${key}' is not used by the code`);
    if (!isNonEmptyString(text)) p(`message '${key}' is empty`);
  }
  for (const u of code.unresolved) p(`cannot tell which message key this uses (make it a literal, a literal union or a template over one): ${u}`);

  return problems;
}

// ---------------------------------------------------------------------------------------
// What the code does. Message keys are always written out as string literals (maps such as
// OUTCOME_LABEL included), never built at run time, so reading the sources' literals finds them all.

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out.sort();
}

/** The message keys (`messageKeys`) the code names as literals, the output variables it sets, and any key built at run time. */
export function analyzeCode(taskDir: string, messageKeys: Set<string>): CodeFacts {
  const facts: CodeFacts = { outputsSet: new Set(), keysUsed: new Map(), unresolved: [] };
  for (const file of tsFiles(taskDir)) {
    const text = fs.readFileSync(file, 'utf8');
    const rel = path.relative(root, file).replace(/\\/g, '/');
    const lineOf = (index: number) => `${rel}:${text.slice(0, index).split('\n').length}`;
    for (const m of text.matchAll(/'([A-Za-z][A-Za-z0-9_]*)'/g)) {
      if (!messageKeys.has(m[1])) continue;
      facts.keysUsed.set(m[1], [...(facts.keysUsed.get(m[1]) ?? []), lineOf(m.index)]);
    }
    // A literal handed to msg()/loc() must be a key; a template literal there is a key built at run time.
    for (const m of text.matchAll(/\b(?:msg|loc)\(\s*'([A-Za-z][A-Za-z0-9_]*)'/g)) {
      if (!facts.keysUsed.has(m[1])) facts.keysUsed.set(m[1], [lineOf(m.index)]);
    }
    for (const m of text.matchAll(/\b(?:msg|loc)\(\s*`[^`]*\$\{/g)) facts.unresolved.push(`${lineOf(m.index)}: a message key built at run time`);
    for (const m of text.matchAll(/\b(?:output|setVariable)\(\s*(['"`])([^'"`$]+)\1/g)) facts.outputsSet.add(m[2]);
  }
  return facts;
}

// ---------------------------------------------------------------------------------------

describe('task.json', () => {
  it('follows the rules tfx only warns about and matches the code (inputs, outputs, messages)', function () {
    this.timeout(120_000); // the TypeScript program takes a few seconds
    const task = JSON.parse(fs.readFileSync(path.join(TASK_DIR, 'task.json'), 'utf8').replace(/^\uFEFF/, ''));
    const problems = checkTaskJson(task, analyzeCode(TASK_DIR, new Set(Object.keys(task.messages))), fs.existsSync(path.join(TASK_DIR, 'index.ts')));
    assert.deepEqual(problems, [], `task.json has ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`);
  });

  it('the code analysis sees the keys of label maps, the output variables, and a key built at run time', function () {
    const task = JSON.parse(fs.readFileSync(path.join(TASK_DIR, 'task.json'), 'utf8').replace(/^\uFEFF/, ''));
    const facts = analyzeCode(TASK_DIR, new Set(Object.keys(task.messages)));
    for (const o of ['converted', 'reverted', 'skipped', 'failed', 'pending', 'planned', 'federated'])
      assert.ok(facts.keysUsed.has(`Outcome_${o}`), `Outcome_${o}`);
    assert.ok(facts.outputsSet.has('convertedCount'));
    assert.ok(facts.keysUsed.size > 50, `only ${facts.keysUsed.size} keys found`);
    assert.deepEqual(facts.unresolved, []);
    // The check can fail: a key built with a template is reported.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cwif-keys-'));
    fs.writeFileSync(path.join(dir, 'x.ts'), 'export const f = (o: string) => msg(`Outcome_${o}`);\n');
    assert.equal(analyzeCode(dir, new Set()).unresolved.length, 1);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('task.json checks catch what tfx lets through', () => {
  const code = (): CodeFacts => ({ outputsSet: new Set(['count']), keysUsed: new Map([['Hello', ['x.ts:1']]]), unresolved: [] });
  const good = () => ({
    id: '7c9b3c29-aa32-42f5-a9cf-11b6ae309b8b',
    name: 'ConvertToWif',
    friendlyName: 'Convert',
    instanceNameFormat: 'Convert',
    version: { Major: 1, Minor: 0, Patch: 0 },
    minimumAgentVersion: '3.232.1',
    visibility: ['Build', 'Release'],
    runsOn: ['Agent', 'DeploymentGroup'],
    execution: { Node20_1: { target: 'index.js' }, Node24: { target: 'index.js' } },
    groups: [{ name: 'g', displayName: 'G', isExpanded: true }],
    inputs: [
      { name: 'mode', type: 'pickList', label: 'Mode', defaultValue: 'a', options: { a: 'A', b: 'B' }, helpMarkDown: 'h' },
      {
        name: 'flag',
        type: 'boolean',
        label: 'Flag',
        defaultValue: 'false',
        helpMarkDown: 'h',
        groupName: 'g',
        visibleRule: 'mode = a && flag2 != true || mode = b',
      },
      { name: 'flag2', type: 'boolean', label: 'Flag 2', defaultValue: 'false', helpMarkDown: 'h' },
    ],
    outputVariables: [{ name: 'count', description: 'd' }],
    messages: { Hello: 'hello %s' },
  });

  it('a good task.json has no problems', () => {
    assert.deepEqual(checkTaskJson(good(), code(), true), []);
  });

  it('parses visible rules with &&, || and !=', () => {
    assert.deepEqual(parseVisibleRule('a = x && b != y || c = z').clauses, [
      { input: 'a', op: '=', value: 'x' },
      { input: 'b', op: '!=', value: 'y' },
      { input: 'c', op: '=', value: 'z' },
    ]);
    assert.equal(parseVisibleRule('a = x && ').errors.length, 1);
  });

  it('reports every problem at once', () => {
    const t: any = good();
    t.id = 'not-a-guid';
    t.name = 'Convert To Wif';
    t.friendlyName = 'x'.repeat(41);
    delete t.instanceNameFormat;
    t.execution = { Node20: { target: 'index.js' }, Node24: { target: 'main.js' } };
    t.minimumAgentVersion = '2.0.0';
    t.visibility = ['Build'];
    t.runsOn = ['Agent'];
    t.inputs[0].defaultValue = 'c';
    t.inputs[1].helpMarkdown = t.inputs[1].helpMarkDown;
    delete t.inputs[1].helpMarkDown;
    t.inputs[1].groupName = 'nope';
    t.inputs[1].visibleRule = 'mode = c && ghost = true';
    delete t.inputs[2].label;
    t.outputVariables.push({ name: 'never', description: 'd' });
    t.messages.Unused = 'u';
    const c = code();
    c.keysUsed.set('Missing', ['y.ts:2']);
    c.outputsSet.add('undeclared');
    const problems = checkTaskJson(t, c, false);
    const expect = [
      /^id /,
      /^name /,
      /^friendlyName .* has 41/,
      /^instanceNameFormat/,
      /must declare Node20_1/,
      /declares "Node20"/,
      /Node24.target is 'main.js'/,
      /source entry/,
      /minimumAgentVersion/,
      /^visibility/,
      /^runsOn/,
      /'mode': defaultValue 'c'/,
      /'flag' has no helpMarkDown/,
      /'helpMarkdown' must be spelled/,
      /groupName 'nope'/,
      /compares 'mode' with 'c'/,
      /names 'ghost'/,
      /'flag2' has no label/,
      /'never' is declared but the code never sets it/,
      /sets output variable 'undeclared'/,
      /'Missing' is used by the code \(y.ts:2\)/,
      /'Unused' is not used/,
    ];
    for (const re of expect)
      assert.ok(
        problems.some((s) => re.test(s)),
        `no problem matches ${re}:\n${problems.join('\n')}`,
      );
    assert.equal(problems.length, expect.length, problems.join('\n'));
  });
});

describe('task.json: the classic editor shows only what applies', () => {
  const task = JSON.parse(fs.readFileSync(path.join(TASK_DIR, 'task.json'), 'utf8')) as {
    inputs: Array<{ name: string; visibleRule?: string; defaultValue?: string }>;
    groups: Array<{ name: string; displayName: string }>;
  };
  const rule = (name: string) => task.inputs.find((i) => i.name === name)?.visibleRule ?? '';

  it('hides the impact-check inputs for revert and maxConnections for report', () => {
    for (const name of ['impactCheck', 'impactDays', 'incompatibleTasks']) assert.match(rule(name), /action != revert/, name);
    assert.match(rule('maxConnections'), /action != report/);
    assert.match(rule('dryRun'), /action != report/);
    assert.match(rule('failOnFindings'), /action = report/);
  });

  it('defaults to impactCheck: skip, and the README names the five input groups the editor shows', () => {
    assert.equal(task.inputs.find((i) => i.name === 'impactCheck')?.defaultValue, 'skip');
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const classic = readme.slice(readme.indexOf('**Classic editor**'), readme.indexOf('## Inputs'));
    assert.equal(task.groups.length, 5);
    for (const g of task.groups) assert.ok(classic.includes(`*${g.displayName}*`), `README's classic editor paragraph names group '${g.displayName}'`);
  });
});
