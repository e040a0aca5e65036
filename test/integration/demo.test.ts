// `classify-sync demo` ends with a short table report of what it synced.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCliInProcess } from '../helpers/cli-inprocess.ts';

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
