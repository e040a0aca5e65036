// `classify-sync demo` ends with a short table report of what it synced.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { selfCommand } from '../../src/commands/shared.ts';
import { runCliInProcess } from '../helpers/cli-inprocess.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'classify-sync.js');

/** A command as a user runs it from the repository, with only PATH in the environment. */
function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

it('demo syncs the bundled simulator and prints a short report: outcomes, top errors, freshness', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-demo-'));
  try {
    const { code, stdout } = await runCliInProcess(['demo', '--pglite-dir', dir], {});
    expect(code).toBe(0);
    const report = stdout.slice(stdout.indexOf('Classify jobs report:'));
    expect(report).toMatch(/^Classify jobs report: 3 projects, jobs created in the last 30 days/);
    expect(report).toMatch(/^acme +\d+ +\d+ +\d+ +\d+ +\d+ +\d+ +0 +\d+\.\d% /m);
    expect(report).toMatch(/^initech \(no access\) +0 +0 +0 +0 +0 +0 +0 +– /m);
    expect(report).toContain('\nTop errors (up to 3 per project;');
    expect(report).toMatch(/^globex \(flaky API\) +\d{4}-\d\d-\d\d \d\d:\d\d UTC .* succeeded +260$/m);
    expect(report).toMatch(/^initech \(no access\) +– +never +failed +0 +HTTP 403/m);
    expect(report).not.toContain('Daily trend');
    expect(stdout).toContain(`npx classify-sync report --pglite-dir ${dir}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('the commands the demo suggests are the ones that work where it ran: `classify-sync` from PATH, `node <script>` otherwise', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-demo-'));
  try {
    // A `classify-sync` on PATH, as the image has (/usr/local/bin/classify-sync) and a global install makes.
    symlinkSync(BIN, join(dir, 'classify-sync'));
    const env = { PATH: `${dir}${delimiter}${process.env.PATH ?? ''}` };
    const demo = await run('classify-sync', ['demo', '--pglite-dir', join(dir, 'db')], env);
    expect(demo.code).toBe(0);
    const hint = /^The whole report: (classify-sync report --pglite-dir \S+) \(/m.exec(demo.stdout)?.[1];
    expect(hint).toBe(`classify-sync report --pglite-dir ${join(dir, 'db')}`);
    expect(demo.stdout).toContain('DATABASE_URL=postgres://… classify-sync sync --project <id>');
    expect(demo.stdout).not.toContain('npx ');
    const [command = '', ...args] = (hint ?? '').split(' ');
    const report = await run(command, args, env);
    expect({ code: report.code, stderr: report.stderr }).toEqual({ code: 0, stderr: '' });
    expect(report.stdout).toMatch(/^Classify jobs report: 3 projects/);

    // Started as `node bin/classify-sync.js`: that is what it suggests.
    const direct = await run(process.execPath, [BIN, 'demo', '--pglite-dir', join(dir, 'db')], env);
    expect(direct.stdout).toContain(`The whole report: node bin/classify-sync.js report --pglite-dir ${join(dir, 'db')} (`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('hints `npx classify-sync` under a package manager, `classify-sync` from PATH, else `node <script>`', () => {
  expect(selfCommand('npm/11.19.1', '/repo/bin/classify-sync.js', '/repo')).toBe('npx classify-sync');
  expect(selfCommand(undefined, undefined, '/repo')).toBe('npx classify-sync');
  expect(selfCommand(undefined, '/usr/local/bin/classify-sync', '/app')).toBe('classify-sync');
  expect(selfCommand(undefined, '/app/dist/main.js', '/app')).toBe('node dist/main.js');
  expect(selfCommand(undefined, '/repo/bin/classify-sync.js', '/elsewhere')).toBe('node /repo/bin/classify-sync.js');
});
