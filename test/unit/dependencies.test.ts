// Dependency floors: azure-pipelines-task-lib 5.2.4 or later (its secret handling on newer Node.js;
// the task runs on Node 20 and Node 24), both as the range package.json asks for and as installed.
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../helpers/localize';

const TASK_LIB = 'azure-pipelines-task-lib';
const TASK_LIB_FLOOR = '5.2.4';

type Version = [number, number, number];

/** `x.y.z` (a pre-release or build suffix is not accepted: none of ours has one). */
function parseVersion(v: string): Version {
  const m = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(v.trim());
  if (!m) throw new Error(`not a x.y.z version: '${v}'`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Numeric comparison, part by part: 5.281.0 > 5.2.4. */
function compareVersions(a: string, b: string): number {
  const [x, y] = [parseVersion(a), parseVersion(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

/** The lowest version a package.json range admits: `^x.y.z`, `~x.y.z`, `>=x.y.z` or `x.y.z` (anything else is refused). */
function rangeFloor(range: string): string {
  const m = /^\s*(\^|~|>=)?\s*v?(\d+\.\d+\.\d+)\s*$/.exec(range);
  if (!m) throw new Error(`unsupported version range '${range}': use ^x.y.z, ~x.y.z, >=x.y.z or x.y.z`);
  return m[2];
}

const readJson = (rel: string): any => JSON.parse(fs.readFileSync(path.join(repoRoot, rel), 'utf8'));

describe(`dependency floor: ${TASK_LIB} >= ${TASK_LIB_FLOOR}`, () => {
  it('compares versions numerically, part by part', () => {
    assert.equal(compareVersions('5.281.0', '5.2.4'), 1);
    assert.equal(compareVersions('5.2.4', '5.2.4'), 0);
    assert.equal(compareVersions('5.2.3', '5.2.4'), -1);
    assert.equal(compareVersions('5.10.0', '5.9.9'), 1);
    assert.equal(compareVersions('4.99.99', '5.2.4'), -1);
    assert.equal(rangeFloor('^5.281.0'), '5.281.0');
    assert.equal(rangeFloor('>= 5.2.4'), '5.2.4');
    assert.equal(rangeFloor('5.2.3'), '5.2.3');
    assert.throws(() => rangeFloor('*'), /unsupported version range/);
    assert.throws(() => rangeFloor('5.x'), /unsupported version range/);
  });

  it('package.json asks for it', () => {
    const range = readJson('package.json').dependencies?.[TASK_LIB];
    assert.equal(typeof range, 'string', `package.json has no dependency on ${TASK_LIB}`);
    assert.ok(
      compareVersions(rangeFloor(range), TASK_LIB_FLOOR) >= 0,
      `package.json asks for ${TASK_LIB}@${range}, which admits versions below ${TASK_LIB_FLOOR}`,
    );
  });

  it('package-lock.json and node_modules hold it', () => {
    const lock = readJson('package-lock.json');
    const locked = lock.packages?.[`node_modules/${TASK_LIB}`]?.version;
    assert.equal(typeof locked, 'string', `package-lock.json does not lock ${TASK_LIB}`);
    assert.ok(compareVersions(locked, TASK_LIB_FLOOR) >= 0, `package-lock.json locks ${TASK_LIB} ${locked}, below ${TASK_LIB_FLOOR}`);
    assert.equal(
      lock.packages?.['']?.dependencies?.[TASK_LIB],
      readJson('package.json').dependencies[TASK_LIB],
      'package-lock.json is out of date (npm install)',
    );

    const installed = readJson(`node_modules/${TASK_LIB}/package.json`).version;
    assert.ok(compareVersions(installed, TASK_LIB_FLOOR) >= 0, `node_modules holds ${TASK_LIB} ${installed}, below ${TASK_LIB_FLOOR} (npm ci)`);
    assert.ok(
      compareVersions(installed, rangeFloor(readJson('package.json').dependencies[TASK_LIB])) >= 0,
      `node_modules holds ${TASK_LIB} ${installed}, below package.json's range`,
    );
  });
});
