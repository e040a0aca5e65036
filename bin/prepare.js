// `npm ci` and `npm install` run this (package.json "prepare"): it compiles dist/ so that
// bin/classify-sync.js starts from the build instead of compiling the sources with tsx on every run.
// It never fails the install: a missing or failed build only means bin/classify-sync.js runs the
// sources, as it always could. (Where there is no bin/ at all, such as the image's dependency stages,
// package.json does not even load this file.)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** @param {string} reason */
function skip(reason) {
  console.warn(`classify-sync: not compiling dist/ (${reason}); bin/classify-sync.js runs the sources with tsx`);
}

if (!existsSync(new URL('../src', import.meta.url)) || !existsSync(new URL('../tsconfig.build.json', import.meta.url))) {
  skip('no sources here');
} else if (!existsSync(new URL('../node_modules/typescript', import.meta.url))) {
  skip('TypeScript is not installed: --omit=dev');
} else {
  // The same npm that runs this install, when it says which; `npm run build` includes its prebuild step.
  const npm = process.env.npm_execpath;
  const result = npm
    ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) skip(`npm run build failed${result.error ? `: ${result.error.message}` : ''}`);
}
