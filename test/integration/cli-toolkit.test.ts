// The command line's first aid, through the real binary: --version, and "did you mean" for mistyped
// flags, commands and config keys (every config problem reported at once).
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES, COMMAND_SPECS, FLAG_SPECS } from '../../src/usage.ts';
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

  it("<command> --help and help <command> print that command's own usage, flags and exit codes", async () => {
    const general = await runCli(['--help'], {});
    for (const command of COMMAND_NAMES.filter((c) => c !== 'simulator')) {
      const viaFlag = await runCli([command, '--help'], {});
      const viaHelp = await runCli(['help', command], {});
      expect(viaFlag.code, command).toBe(0);
      expect(viaHelp).toEqual(viaFlag);
      expect(viaFlag.stdout).toMatch(new RegExp(`^Usage: classify-sync ${command} `));
      const own = new Set<string>([...COMMAND_SPECS[command].flags, 'help']);
      for (const [name, spec] of Object.entries(FLAG_SPECS)) {
        // Each command lists exactly its flags; the general help lists every flag of every command.
        expect(viaFlag.stdout.includes(`  ${spec.usage} `), `${command} ${name}`).toBe(own.has(name));
        expect(general.stdout).toContain(`  ${spec.usage} `);
      }
      for (const text of [viaFlag.stdout, general.stdout]) {
        expect(Math.max(...text.split('\n').map((l) => l.length)), command).toBeLessThanOrEqual(100);
      }
    }
    expect((await runCli(['sync', '--help'], {})).stdout).toContain('Exit codes: 0 every project synced');
    expect((await runCli(['worker', '--help'], {})).stdout).toContain('CLASSIFY_SYNC_SCHEDULE');
    expect((await runCli(['report', '--help'], {})).stdout).not.toContain('LLAMA_CLOUD_API_KEY');
    const simulator = await runCli(['help', 'simulator'], {});
    expect(simulator.code).toBe(0);
    expect(simulator.stdout).toMatch(/^Usage: simulator/);
  }, 120_000);

  it.each([
    [['migrate', '--full'], 'classify-sync: migrate takes no --full (sync takes it) (see classify-sync --help)\n'],
    [['report', '--schedule', 'x'], 'classify-sync: report takes no --schedule (worker takes it) (see classify-sync --help)\n'],
    [['help', 'snyc'], 'classify-sync: unknown command "snyc": did you mean sync? (see classify-sync --help)\n'],
  ])('%j: a flag of another command, or help for no command: exit 1 and what to do', async (args, stderr) => {
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
