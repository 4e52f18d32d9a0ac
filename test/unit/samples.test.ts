// The ready-to-copy pipelines in samples/ are valid YAML and use only the task's real inputs
// with allowed values; the classic-release walkthrough names the real labels.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { parse } from 'yaml';
import { repoRoot, taskJsonPath } from '../helpers/localize';

interface TaskInput {
  name: string;
  type: string;
  label: string;
  options?: Record<string, string>;
}
const taskJson = JSON.parse(fs.readFileSync(taskJsonPath, 'utf8')) as {
  name: string;
  friendlyName: string;
  version: { Major: number };
  inputs: TaskInput[];
  groups: Array<{ displayName: string }>;
};
const inputs = new Map(taskJson.inputs.map((i) => [i.name, i]));
const samplesDir = path.join(repoRoot, 'samples');
const ref = `${taskJson.name}@${taskJson.version.Major}`;

/** Every step anywhere in the document that runs this task. */
function taskSteps(node: unknown, found: Array<Record<string, unknown>> = []): Array<Record<string, unknown>> {
  if (Array.isArray(node)) node.forEach((n) => taskSteps(n, found));
  else if (node && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o['task'] === ref) found.push(o);
    Object.values(o).forEach((v) => taskSteps(v, found));
  }
  return found;
}

describe('samples/', () => {
  const ymls = fs.readdirSync(samplesDir).filter((f) => f.endsWith('.yml'));

  it('has the promised samples', () => {
    assert.deepEqual(ymls, [
      '01-convert-dry-run-first.yml',
      '02-canary-rollout.yml',
      '03-weekly-hygiene-report.yml',
      '04-revert.yml',
      '06-unattended-with-entra.yml',
      '07-move-off-retiring-issuer.yml',
      '08-weekly-issuer-check.yml',
      '09-organization-hygiene.yml',
    ]);
  });

  for (const file of ymls) {
    it(`${file}: valid YAML using only real inputs and allowed values`, () => {
      const doc = parse(fs.readFileSync(path.join(samplesDir, file), 'utf8')) as unknown;
      const steps = taskSteps(doc);
      assert.ok(steps.length > 0, `${file} has no ${ref} step`);
      for (const step of steps) {
        for (const [name, value] of Object.entries((step['inputs'] ?? {}) as Record<string, unknown>)) {
          const input = inputs.get(name);
          assert.ok(input, `${file}: unknown input '${name}'`);
          const text = String(value);
          if (/^\$\{\{.*\}\}$|^\$\(.*\)$/.test(text.trim())) continue; // template expression or variable
          if (input.type === 'boolean') assert.match(text, /^(true|false)$/i, `${file}: ${name}`);
          if (input.type === 'pickList') assert.ok(Object.keys(input.options ?? {}).includes(text), `${file}: ${name}=${text}`);
          if (/Count$|^max|^concurrency$|Seconds$|Days$/.test(name)) assert.match(text, /^\d+$/, `${file}: ${name}`);
        }
      }
    });
  }

  it('the classic release walkthrough names the task, its groups and its labels as the editor shows them', () => {
    const md = fs.readFileSync(path.join(samplesDir, '05-classic-release.md'), 'utf8');
    assert.ok(md.includes(taskJson.friendlyName));
    for (const g of taskJson.groups) assert.ok(md.includes(`*${g.displayName}*`), g.displayName);
    for (const label of [...md.matchAll(/\*([A-Z][^*]+)\*/g)].map((m) => m[1]).filter((l) => taskJson.inputs.some((i) => l.startsWith(i.label)))) {
      assert.ok(
        taskJson.inputs.some((i) => i.label === label),
        label,
      );
    }
    assert.ok(md.includes(inputs.get('action')!.options!['revert']));
  });
});
