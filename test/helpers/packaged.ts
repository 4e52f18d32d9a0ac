// The task as users get it: `packageExtension` builds the .vsix once per test process, and its
// unzipped tasks/ConvertToWif/index.js is what the packaged-task tests run.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { extractVsix, packageExtension } from '../../scripts/package';

let built: Promise<{ entry: string; dir: string; files: string[]; bytes: number; vsixPath: string }> | undefined;

/** Packages the extension (once) and returns the unzipped task's entry and the VSIX's file list. */
export function packaged(): Promise<{ entry: string; dir: string; files: string[]; bytes: number; vsixPath: string }> {
  built ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cwif-packaged-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    const pkg = await packageExtension({ outDir: path.join(dir, 'out'), quiet: true });
    const files = await extractVsix(pkg.vsixPath, path.join(dir, 'vsix'));
    return { entry: path.join(dir, 'vsix', 'tasks', 'ConvertToWif', 'index.js'), dir: path.join(dir, 'vsix'), files, bytes: pkg.bytes, vsixPath: pkg.vsixPath };
  })();
  return built;
}

/** Just the entry of the packaged task. */
export const packagedEntry = async (): Promise<string> => (await packaged()).entry;
