import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { locFiles } from '../../scripts/make-loc';
import { repoRoot } from '../helpers/localize';

describe('localization files', () => {
  it('task.loc.json and the en-US resjson match task.json (run `npm run loc` after editing task.json)', () => {
    for (const [file, expected] of Object.entries(locFiles(path.join(repoRoot, 'tasks', 'ConvertToWif')))) {
      assert.ok(fs.existsSync(file), `${path.relative(repoRoot, file)} is missing`);
      assert.equal(fs.readFileSync(file, 'utf8'), expected, `${path.relative(repoRoot, file)} is out of date`);
    }
  });
});
