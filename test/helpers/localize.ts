// Renders task.json messages the way tl.loc does (util.format), for tests of the pure core.
import * as fs from 'fs';
import * as path from 'path';
import { format } from 'util';
import { Localize } from '../../tasks/ConvertToWif/src/core/model';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const taskJsonPath = path.join(repoRoot, 'tasks', 'ConvertToWif', 'task.json');
const messages: Record<string, string> = JSON.parse(fs.readFileSync(taskJsonPath, 'utf8')).messages;

export const loc: Localize = (key, ...args) => {
  const text = messages[key];
  if (text === undefined) throw new Error(`message key ${key} is not in task.json`);
  return format(text, ...args);
};
