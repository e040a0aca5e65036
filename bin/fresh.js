// Whether dist/ was compiled from src/ as it is now, so bin/classify-sync.js may run it instead of the
// sources. Checked on every start, so it only stats files (a few milliseconds): no hashing, no compiler.
//
// `npm run build` first touches dist/.build-start (its prebuild step), then tsc writes every output. The
// build is current when
//   - nothing under src/ (file or directory) nor a tsconfig changed since that build started: the change
//     time (ctime) is compared as well as the mtime, because ctime cannot be set back (`cp -p`, `tar`,
//     `rsync -t` restore old mtimes) and a directory's changes when a file in it is added, renamed or
//     removed. A source saved while tsc was running counts as a change too;
//   - and every source has its output, written after that start: a build stopped halfway, or tsc run
//     without the prebuild step, leaves older or missing outputs.
// Anything unexpected (no stamp, an unreadable file) means "not current": running the sources is always
// correct, only slower.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const BUILD_START = '.build-start';
const CONFIGS = ['tsconfig.json', 'tsconfig.build.json'];
// What tsc emits for a source, by the source's extension (declaration files emit nothing).
/** @type {ReadonlyArray<[string, string | null]>} */
const OUTPUT_EXTENSION = [
  ['.d.ts', null],
  ['.d.mts', null],
  ['.d.cts', null],
  ['.ts', '.js'],
  ['.mts', '.mjs'],
  ['.cts', '.cjs'],
];

/** @param {import('node:fs').Stats} stat */
function changedAt(stat) {
  return Math.max(stat.mtimeMs, stat.ctimeMs);
}

/** @param {string} name a source's path @returns {string | null} its output's path, if it has one */
function outputOf(name) {
  for (const [extension, output] of OUTPUT_EXTENSION) {
    if (name.endsWith(extension)) return output === null ? null : name.slice(0, -extension.length) + output;
  }
  return null;
}

/**
 * True when `root`/dist holds a complete build of `root`/src as it is now.
 * @param {string} root the package's directory
 */
export function distIsCurrent(root) {
  try {
    const dist = join(root, 'dist');
    const started = statSync(join(dist, BUILD_START)).mtimeMs;
    for (const config of CONFIGS) {
      const stat = statSync(join(root, config), { throwIfNoEntry: false });
      if (stat && changedAt(stat) >= started) return false;
    }
    const pending = [''];
    while (pending.length > 0) {
      const dir = pending.pop();
      const srcDir = join(root, 'src', dir);
      if (changedAt(statSync(srcDir)) >= started) return false;
      for (const entry of readdirSync(srcDir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          pending.push(path);
          continue;
        }
        if (changedAt(statSync(join(root, 'src', path))) >= started) return false;
        const output = outputOf(path);
        if (output !== null && !(statSync(join(dist, output)).mtimeMs >= started)) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}
