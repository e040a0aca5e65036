// Keeps `npm run bench` working: a tiny run of every scenario, checked for shape, never for speed
// (figures come from real runs, recorded in docs/performance.md).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/report.ts';
import { cleanEnv } from '../helpers/cli.ts';
import { createPostgresDatabase, postgresReachable } from '../helpers/db.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MINUTE = 60_000;

function runBench(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'bench', '--', ...args], {
      cwd: ROOT,
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 8 * MINUTE);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const TINY = ['--jobs', '300', '--projects', '2', '--latency-pages', '3', '--latency-ms', '20', '--json'];

function expectFigures(result: BenchResult, scenarios: string[]): void {
  const s = result.scenarios;
  if (scenarios.includes('ceilings')) {
    expect(s.fetchCeiling?.jobs).toBe(300);
    expect(s.fetchCeiling?.jobsPerSecond).toBeGreaterThan(0);
    expect(s.writeCeiling?.rows).toBeGreaterThan(300);
    expect(s.writeCeiling?.rowsPerSecond).toBeGreaterThan(0);
    expect(s.cold?.ratioToCeiling).toBeGreaterThan(0);
  }
  expect(s.cold).toMatchObject({ jobs: 300, rows: s.writeCeiling?.rows ?? (expect.any(Number) as number) });
  expect(s.cold?.jobsPerSecond).toBeGreaterThan(0);
  expect(s.warm).toMatchObject({ jobs: 300, unchanged: 300, rowVersions: { jobs: 0, rules: 0, parsingSettings: 0, statusChanges: 0 } });
  expect(s.warm?.ratioToCold).toBeGreaterThan(0);
  if (scenarios.includes('latency')) {
    expect(s.latency).toMatchObject({ pages: 3, latencyMs: 20 });
    expect(s.latency?.ratio).toBeGreaterThan(0);
  }
  if (scenarios.includes('memory')) {
    expect(s.memory?.runs.map((r) => r.jobs)).toEqual([300, 3000]);
    for (const run of s.memory?.runs ?? []) expect(run.maxRssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(s.memory?.ratio).toBeGreaterThan(0);
  }
  expect(result.targets.length).toBeGreaterThan(0);
}

describe('npm run bench (smoke)', () => {
  it(
    'runs every scenario against Postgres and reports figures as JSON',
    async (ctx) => {
      if (!(await postgresReachable())) return ctx.skip();
      const { url, drop } = await createPostgresDatabase();
      try {
        const r = await runBench(TINY, { DATABASE_URL: url });
        expect(r.stderr).not.toMatch(/Error/);
        expect(r.code).toBe(0);
        const result = JSON.parse(r.stdout) as BenchResult;
        expect(result.options).toMatchObject({ db: 'postgres', jobs: 300, projects: 2 });
        expectFigures(result, ['ceilings', 'cold', 'warm', 'latency', 'memory']);
      } finally {
        await drop();
      }
    },
    9 * MINUTE,
  );

  it(
    'runs the ceilings and a cold + warm sync on embedded PGlite',
    async () => {
      const r = await runBench([...TINY, '--db', 'pglite', '--scenario', 'ceilings', '--scenario', 'warm'], {});
      expect(r.code, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout) as BenchResult;
      expect(result.options).toMatchObject({ db: 'pglite' });
      expectFigures(result, ['ceilings', 'warm']);
    },
    9 * MINUTE,
  );
});
