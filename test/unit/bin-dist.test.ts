// bin/classify-sync.js runs dist/ only while it is the build of src/ as it is now, else the sources
// (tsx): a developer's edit must take effect at once, never run as a stale build. Each case sets up a
// package directory with a copy of bin/, a one-line src/main.ts and a one-line dist/main.js that say
// which of them ran.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// File times come from a coarse clock (a few ms per tick): a pause puts two writes in different ticks.
const TICK_MS = 50;

let root: string;

function write(path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

function pause(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, TICK_MS);
}

/** What `npm run build` does: touch dist/.build-start (prebuild), then tsc writes the outputs. */
function build(outputs: string[] = ['main.js']): void {
  pause();
  write('dist/.build-start', '');
  for (const output of outputs) write(`dist/${output}`, `console.log('dist');\n`);
}

/** Which of the two the bin ran. */
function ran(): string {
  return execFileSync(process.execPath, [join(root, 'bin/classify-sync.js')], { encoding: 'utf8' }).trim();
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cs-bin-'));
  for (const file of ['classify-sync.js', 'fresh.js']) {
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync(join(REPO, 'bin', file), join(root, 'bin', file));
  }
  symlinkSync(join(REPO, 'node_modules'), join(root, 'node_modules'), 'dir');
  write('package.json', JSON.stringify({ type: 'module' }));
  write('tsconfig.json', '{}\n');
  write('tsconfig.build.json', '{ "extends": "./tsconfig.json" }\n');
  // A type annotation: only tsx can run this file.
  write('src/main.ts', `const from: string = 'src';\nconsole.log(from);\n`);
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

it('runs the sources when there is no build, and the build once there is one', () => {
  expect(ran()).toBe('src');
  build();
  expect(ran()).toBe('dist');
});

it('runs the sources once a source changed after the build started, until the next build', () => {
  build();
  pause();
  write('src/main.ts', `const from: string = 'src';\nconsole.log(from);\n// edited\n`);
  expect(ran()).toBe('src');
  build();
  expect(ran()).toBe('dist');
});

it('sees an edit whose old mtime was put back (cp -p, tar, rsync -t)', () => {
  const before = statSync(join(root, 'src/main.ts'));
  build();
  pause();
  write('src/main.ts', `const from: string = 'src';\nconsole.log(from);\n`);
  utimesSync(join(root, 'src/main.ts'), before.atime, before.mtime);
  expect(ran()).toBe('src');
});

it('runs the sources after a file was added or removed under src/', () => {
  write('src/commands/extra.ts', 'export {};\n');
  build(['main.js', 'commands/extra.js']);
  expect(ran()).toBe('dist');
  pause();
  rmSync(join(root, 'src/commands/extra.ts'));
  expect(ran()).toBe('src');
});

it('runs the sources when a build stopped before writing every output', () => {
  write('src/extra.ts', 'export {};\n');
  // Declaration files have no output of their own.
  write('src/types.d.ts', 'export {};\n');
  build(['main.js']);
  expect(ran()).toBe('src');
  write('dist/extra.js', 'export {};\n');
  expect(ran()).toBe('dist');
  // A later build that has not got as far as main.js yet.
  build([]);
  expect(ran()).toBe('src');
});

it('runs the sources when a tsconfig changed after the build', () => {
  build();
  pause();
  write('tsconfig.build.json', '{ "extends": "./tsconfig.json", "compilerOptions": { "target": "ES2022" } }\n');
  expect(ran()).toBe('src');
});
