// The command line's first aid, through the real binary: --version, and "did you mean" for mistyped
// flags, commands and config keys (every config problem reported at once).
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeConfig } from '../helpers/cli.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('classify-sync as a new user types it', () => {
  it('--version and -V print the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag], {});
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(`${VERSION}\n`);
    }
  });

  it.each([
    [['sync', '--full-refresh'], "classify-sync: Unknown option '--full-refresh': did you mean --full? (see classify-sync --help)\n"],
    [
      ['backfill', '--concurency', '2'],
      "classify-sync: Unknown option '--concurency': did you mean --concurrency? (see classify-sync --help)\n",
    ],
    [['report', '--sinse', '7d'], "classify-sync: Unknown option '--sinse': did you mean --since? (see classify-sync --help)\n"],
    [['snyc'], 'classify-sync: unknown command "snyc": did you mean sync? (see classify-sync --help)\n'],
  ])('%j: exit 1 and what was meant', async (args, stderr) => {
    const result = await runCli(args, {});
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(stderr);
  });

  it('a config file with several problems: every one in one line, with what was meant', async () => {
    const file = writeConfig({ pagesize: 50, apiKey: 'not-here', projects: [{ id: 'p1', apikeyenv: 'KEY_P1' }] });
    const result = await runCli(['sync', '--config', file], {});
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('projects.0: unknown key "apikeyenv": did you mean "apiKeyEnv"?');
    expect(result.stderr).toContain('unknown key "pagesize": did you mean "pageSize"?');
    expect(result.stderr).toContain('unknown key "apiKey": keys come from the environment: LLAMA_CLOUD_API_KEY or a project\'s apiKeyEnv');
    expect(result.stderr).not.toContain('not-here');
  });

  it('migrate lists the migrations it applied, then says the schema is current', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cs-migrate-')), 'db');
    const tags = readdirSync(new URL('../../drizzle', import.meta.url))
      .filter((f) => f.endsWith('.sql'))
      .map((f) => f.replace(/\.sql$/, ''))
      .sort();
    const first = await runCli(['migrate', '--pglite-dir', dir], {});
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe(`classify-sync: applied ${tags.length} migrations to embedded PGlite in ${dir}: ${tags.join(', ')}\n`);
    const again = await runCli(['migrate', '--pglite-dir', dir], {});
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toBe(`classify-sync: embedded PGlite in ${dir} is current (${tags.at(-1)}): no migration to apply\n`);

    // report --project for a project this database has never seen: said, exit 1, nothing printed.
    const unknown = await runCli(['report', '--pglite-dir', dir, '--project', 'no-such-project'], {});
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe(
      `classify-sync: project no-such-project not in embedded PGlite in ${dir} (no job or sync of it): check the id, or sync it first\n`,
    );
  }, 180_000);

  it('report --pglite-dir where no database is: says so, exit 1, and creates nothing', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cs-report-')), 'typo');
    const result = await runCli(['report', '--pglite-dir', dir], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `classify-sync: no embedded database in ${dir}: point --pglite-dir at the directory a sync wrote (or set DATABASE_URL)\n`,
    );
    expect(existsSync(dir)).toBe(false);
  });
});
