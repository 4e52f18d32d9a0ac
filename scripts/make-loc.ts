// Writes task.loc.json and Strings/resources.resjson/en-US/resources.resjson from task.json, the
// way microsoft/azure-pipelines-tasks does (make-util.js), so the task can be localized: every
// user-facing string of task.json becomes an `ms-resource:loc.*` key. `npm run loc` after editing
// task.json; a test fails when the files are out of date.
import * as fs from 'fs';
import * as path from 'path';

type Json = Record<string, any>;

export function localize(task: Json): { locJson: Json; resjson: Record<string, string> } {
  const res: Record<string, string> = {};
  const loc = JSON.parse(JSON.stringify(task)) as Json;
  const put = (key: string, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined;
    res[key] = value;
    return `ms-resource:${key}`;
  };
  for (const field of ['friendlyName', 'helpMarkDown', 'description', 'instanceNameFormat', 'releaseNotes']) {
    if (typeof task[field] === 'string') loc[field] = put(`loc.${field}`, task[field]);
  }
  for (const g of loc.groups ?? []) g.displayName = put(`loc.group.displayName.${g.name}`, g.displayName);
  for (const i of loc.inputs ?? []) {
    i.label = put(`loc.input.label.${i.name}`, i.label);
    if (i.helpMarkDown !== undefined) i.helpMarkDown = put(`loc.input.help.${i.name}`, i.helpMarkDown);
  }
  for (const k of Object.keys(loc.messages ?? {})) loc.messages[k] = put(`loc.messages.${k}`, task.messages[k]);
  return { locJson: loc, resjson: res };
}

export function locFiles(taskDir: string): Record<string, string> {
  const task = JSON.parse(fs.readFileSync(path.join(taskDir, 'task.json'), 'utf8')) as Json;
  const { locJson, resjson } = localize(task);
  return {
    [path.join(taskDir, 'task.loc.json')]: JSON.stringify(locJson, null, 2) + '\n',
    [path.join(taskDir, 'Strings', 'resources.resjson', 'en-US', 'resources.resjson')]: JSON.stringify(resjson, null, 2) + '\n',
  };
}

if (require.main === module) {
  const taskDir = path.resolve(__dirname, '..', '..', 'tasks', 'ConvertToWif');
  for (const [file, text] of Object.entries(locFiles(taskDir))) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    console.log(`wrote ${path.relative(process.cwd(), file)}`);
  }
}
