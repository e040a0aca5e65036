// The command line at a terminal, through the real binary in a pseudo-terminal (util-linux `script`):
// readable log lines, and backfill's progress drawn below them without overwriting any; off a
// terminal the logs stay JSON.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { BIN, cleanEnv, runCli } from '../helpers/cli.ts';
import { postgresReachable } from '../helpers/db.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { screen } from '../helpers/screen.ts';

const A = 'aaaaaaaa-0000-4000-8000-0000000000a1';
const B = 'bbbbbbbb-0000-4000-8000-0000000000b2';
const KEY = 'llx-terminal-key-0123456789abcdefgh';
const COLUMNS = 120;

/** Runs the CLI on a pseudo-terminal COLUMNS wide (stdout and stderr both on it); resolves with every byte it wrote. */
function runOnTerminal(args: string[], env: Record<string, string>): Promise<{ code: number | null; bytes: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', `stty cols ${COLUMNS} rows 50; exec ${quoted}`, '/dev/null'], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let bytes = '';
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, bytes }));
  });
}

const LOG_LINE = /^\d\d:\d\d:\d\d (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /;

describe('classify-sync at a terminal', () => {
  let sim: Simulator;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!(await postgresReachable())) return;
    sim = await startSimulator({
      projects: [
        { id: A, jobs: 150 },
        { id: B, jobs: 60 },
      ],
      apiKey: KEY,
      apis: ['v1'],
      now: Date.parse('2026-11-01T00:00:00Z'),
    });
  });
  afterAll(async () => {
    await sim?.stop();
  });
  const tdb = usePostgres();
  beforeEach(() => {
    env = { LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: sim.url, DATABASE_URL: tdb().url as string };
  });

  it('backfill: readable log lines, none overwritten by the progress drawn below them', async () => {
    const { code, bytes } = await runOnTerminal(
      ['backfill', '--project', A, '--project', B, '--page-size', '10', '--log-level', 'debug'],
      env,
    );
    expect(code, bytes).toBe(0);
    expect(bytes).not.toContain('{"level"');
    expect(bytes).not.toContain(KEY);

    // Every log line the process wrote, as written (the block's redraws taken out)...
    const written = bytes
      // eslint-disable-next-line no-control-regex -- the block's erase sequence
      .replace(/\r\x1b\[\d+A\x1b\[J/g, '\n')
      .split(/\r?\n/)
      .filter((l) => LOG_LINE.test(l));
    expect(written.filter((l) => / DEBUG \[\S+\] page stored {2}page=/.test(l))).toHaveLength(15 + 6);
    expect(written.some((l) => l.includes(`INFO  [${A}] project synced  apiVersion=v1 mode=full pages=15`))).toBe(true);
    // ...is on the final screen, whole and in order (a line wider than the terminal takes two rows).
    const rows = screen(bytes, COLUMNS);
    const shown = rows.join('\n');
    let from = 0;
    for (const l of written) {
      const wrapped = (l.match(new RegExp(`.{1,${COLUMNS}}`, 'gu')) ?? []).join('\n');
      const at = shown.indexOf(wrapped, from);
      expect(at, `log line missing or out of order: ${l}`).toBeGreaterThanOrEqual(0);
      from = at + wrapped.length;
    }
    // Below the logs, the final progress of each project, then the result lines (stderr).
    const results = rows.findIndex((r) => r.startsWith('classify-sync: project'));
    expect(rows.slice(results - 2, results + 1)).toEqual([
      expect.stringMatching(new RegExp(`^${A}  pages 15  jobs 150 of ~150  \\d+ jobs/s$`)),
      expect.stringMatching(new RegExp(`^${B}  pages 6  jobs 60 of ~60  \\d+ jobs/s$`)),
      expect.stringMatching(new RegExp(`^classify-sync: project ${A} succeeded \\(v1, full\\): 15 pages, 150 jobs`)),
    ]);
    expect(rows.slice(results).join('')).toMatch(new RegExp(`classify-sync: project ${B} succeeded \\(v1, full\\): 6 pages, 60 jobs`));
    expect(rows.every((r) => [...r].length <= COLUMNS)).toBe(true);
  }, 120_000);

  it('--log-format json keeps JSON lines on a terminal; off one they are JSON unless --log-format pretty', async () => {
    const json = await runOnTerminal(['sync', '--project', B, '--log-format', 'json'], env);
    expect(json.code, json.bytes).toBe(0);
    const logs = screen(json.bytes, COLUMNS).filter((r) => r.startsWith('{'));
    expect(logs.length).toBeGreaterThan(0);
    expect(screen(json.bytes, COLUMNS).some((r) => LOG_LINE.test(r))).toBe(false);

    const piped = await runCli(['sync', '--project', B], env);
    expect(piped.code, piped.stderr).toBe(0);
    const lines = piped.stdout.trim().split('\n');
    for (const l of lines) expect(JSON.parse(l)).toHaveProperty('msg');

    const pretty = await runCli(['sync', '--project', B, '--log-format', 'pretty'], env);
    expect(pretty.code, pretty.stderr).toBe(0);
    const prettyLines = pretty.stdout.trim().split('\n');
    expect(prettyLines.length).toBeGreaterThan(0);
    for (const l of prettyLines) expect(l).toMatch(LOG_LINE);
    expect(pretty.stdout).toMatch(new RegExp(`INFO  \\[${B}\\] project synced  apiVersion=v1 mode=`));
  }, 120_000);

  it('a --log-format or CLASSIFY_SYNC_LOG_FORMAT that is not one of auto, json, pretty: exit 1, one line', async () => {
    const flag = await runCli(['sync', '--project', B, '--log-format', 'yaml'], env);
    expect(flag.code).toBe(1);
    expect(flag.stderr).toMatch(/^classify-sync: --log-format: .*"auto"\|"json"\|"pretty".* \(see classify-sync --help\)\n$/);
    const fromEnv = await runCli(['sync', '--project', B], { ...env, CLASSIFY_SYNC_LOG_FORMAT: 'xml' });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toMatch(/^classify-sync: environment CLASSIFY_SYNC_LOG_FORMAT: .*"pretty"/);
  });
});
