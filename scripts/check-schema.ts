// Validates tasks/ConvertToWif/task.json against the official task.json schema (draft-04):
// tasks.schema.json of microsoft/azure-pipelines-task-lib. The schema is never copied into the
// repository and this script does not guess where a copy lives: the caller names it with
// `--schema <file>` (`.ci/run` passes the copy its CI machine provides, and skips this check
// without one). `npm test` does not depend on it.
//
//   npm run check:schema -- --schema <tasks.schema.json> [--task <task.json>]
//
// Exit 0: valid. Exit 1: invalid (each error printed with its instancePath), no --schema, or a
// file is missing.
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv-draft-04';
import type { ErrorObject } from 'ajv';

/** The repository root: the nearest ancestor of this file holding a package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the repository root (no package.json above ${__dirname})`);
    dir = parent;
  }
  return dir;
}

const USAGE = 'usage: check-schema --schema <tasks.schema.json> [--task <task.json>]';
/** Where the schema comes from, for the error messages. */
const SCHEMA_SOURCE =
  'Pass --schema <file> naming a copy of the official task.json schema: tasks.schema.json in microsoft/azure-pipelines-task-lib ' +
  '(https://github.com/microsoft/azure-pipelines-task-lib/blob/master/tasks.schema.json); it is not part of this repository.';

export interface SchemaCheck {
  taskPath: string;
  schemaPath: string;
  /** One line per error: `<instancePath>: <message> (<details>)`. Empty when valid. */
  errors: string[];
}

function readJson(file: string, what: string): unknown {
  const text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not valid JSON (${file}): ${(err as Error).message}`);
  }
}

/** A readable line for one ajv error, led by where in task.json it is. */
export function formatError(e: ErrorObject): string {
  const where = e.instancePath === '' ? '(root)' : e.instancePath;
  const params = e.params as Record<string, unknown>;
  let detail = '';
  if (e.keyword === 'additionalProperties') detail = ` '${String(params['additionalProperty'])}'`;
  else if (e.keyword === 'enum') detail = `: ${JSON.stringify(params['allowedValues'])}`;
  else if (e.keyword === 'pattern' || e.keyword === 'type' || e.keyword === 'required') detail = ` (${JSON.stringify(params)})`;
  return `${where}: ${e.message ?? e.keyword}${detail} [schema ${e.schemaPath}]`;
}

export function checkSchema(taskPath: string, schemaPath: string): SchemaCheck {
  if (!fs.existsSync(schemaPath)) {
    throw new Error(`the task.json schema is missing: ${schemaPath}\n${SCHEMA_SOURCE}`);
  }
  if (!fs.existsSync(taskPath)) throw new Error(`task.json is missing: ${taskPath}`);
  const schema = readJson(schemaPath, 'the schema') as Record<string, unknown>;
  const task = readJson(taskPath, 'task.json');
  // unicodeRegExp: false: one of the schema's patterns is not valid under the `u` flag.
  const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
  const validate = ajv.compile(schema);
  const errors = validate(task) ? [] : (validate.errors ?? []).map(formatError);
  return { taskPath, schemaPath, errors };
}

function main(argv: string[]): number {
  const root = repoRoot();
  let taskPath = path.join(root, 'tasks', 'ConvertToWif', 'task.json');
  let schemaPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if ((argv[i] === '--task' || argv[i] === '--schema') && value) {
      if (argv[i] === '--task') taskPath = path.resolve(value);
      else schemaPath = path.resolve(value);
      i++;
    } else {
      console.error(`check-schema: unknown argument '${argv[i]}' (${USAGE})`);
      return 1;
    }
  }
  if (!schemaPath) {
    console.error(`check-schema: FAILED: no --schema given (${USAGE}).\n${SCHEMA_SOURCE}`);
    return 1;
  }
  let res: SchemaCheck;
  try {
    res = checkSchema(taskPath, schemaPath);
  } catch (err) {
    console.error(`check-schema: FAILED: ${(err as Error).message}`);
    return 1;
  }
  const rel = path.relative(process.cwd(), res.taskPath);
  const task = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : res.taskPath;
  if (res.errors.length > 0) {
    console.error(`check-schema: ${task} does not match ${res.schemaPath}: ${res.errors.length} error(s):`);
    for (const e of res.errors) console.error(`  ${e}`);
    return 1;
  }
  console.log(`check-schema: ${task} matches ${res.schemaPath}`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
