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
/** The single-project scenarios, tiny: 3 pages of one project; single-memory 5 pages. */
const SINGLE = ['--single-jobs', '300', '--single-memory-jobs', '500', '--rate', '50'];
const SINGLE_SCENARIOS = ['single-latency', 'single-rate', 'single-cpu', 'single-memory'];

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

const exact = { exact: true, problems: [] };

function expectSingleFigures(result: BenchResult, slices = 'auto'): void {
  const s = result.scenarios;
  expect(s.singleLatency).toMatchObject({ jobs: 300, serialPages: 3, latencyMs: 20, slices, stored: exact });
  expect(s.singleLatency?.pages).toBeGreaterThanOrEqual(3);
  expect(s.singleLatency?.fixedSeconds).toBeGreaterThan(0);
  expect(s.singleLatency?.floorSeconds).toBeCloseTo(0.06);
  expect(s.singleLatency?.ratio).toEqual(expect.any(Number));

  expect(s.singleRate).toMatchObject({ jobs: 300, rate: 50, slices, stored: exact });
  const rate = s.singleRate;
  expect(rate?.requestsNeeded).toBeGreaterThanOrEqual(3);
  expect(rate?.requests).toBe((rate?.requestsNeeded ?? 0) + (rate?.rateLimited ?? 0));
  expect(rate?.rateLimitedShare).toBeGreaterThanOrEqual(0);
  expect(rate?.floorSeconds).toBeCloseTo((rate?.requestsNeeded ?? 0) / 50);
  expect(rate?.ratio).toBeGreaterThan(0);
  expect(rate?.syncSaw429).toBeGreaterThanOrEqual(0);
  expect(rate?.syncRetries).toBeGreaterThanOrEqual(rate?.syncSaw429 ?? 0);

  const cpu = s.singleCpu;
  expect(cpu).toMatchObject({
    jobs: 300,
    slices,
    resync: { unchanged: 300, rowVersions: { jobs: 0, rules: 0, parsingSettings: 0, statusChanges: 0 } },
    stored: { cold: exact, resync: exact },
    perRow: { rows: cpu?.rows, stored: exact },
  });
  expect(cpu?.rows).toBeGreaterThan(300);
  expect(cpu?.cold.jobsPerSecond).toBeGreaterThan(0);
  expect(cpu?.perRow?.jobsPerSecond).toBeGreaterThan(0);
  expect(cpu?.speedUp).toBeGreaterThan(0);
  expect(cpu?.resync.ratioToCold).toBeGreaterThan(0);

  expect(s.singleMemory).toMatchObject({ jobs: 500, db: 'pglite', slices, stored: exact });
  expect(s.singleMemory?.maxRssBytes).toBeGreaterThan(10 * 1024 * 1024);

  const scenarios = new Set(result.targets.map((t) => t.scenario));
  for (const name of SINGLE_SCENARIOS) expect(scenarios).toContain(name);
  expect(result.targets.filter((t) => t.target === 'stored = served').every((t) => t.met)).toBe(true);
}

describe('npm run bench (smoke)', () => {
  it(
    'runs every scenario against Postgres and reports figures as JSON',
    async (ctx) => {
      if (!(await postgresReachable())) return ctx.skip();
      const { url, drop } = await createPostgresDatabase();
      try {
        const r = await runBench([...TINY, ...SINGLE], { DATABASE_URL: url });
        expect(r.stderr).not.toMatch(/Error|FAILED/);
        expect(r.code).toBe(0);
        const result = JSON.parse(r.stdout) as BenchResult;
        expect(result.options).toMatchObject({ db: 'postgres', jobs: 300, projects: 2, singleJobs: 300, rate: 50, slices: 'auto' });
        expectFigures(result, ['ceilings', 'cold', 'warm', 'latency', 'memory']);
        expectSingleFigures(result);
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

  it(
    'runs the single-project scenarios on embedded PGlite, with a fixed number of slices',
    async () => {
      const r = await runBench([...TINY, ...SINGLE, '--db', 'pglite', '--scenario', 'single', '--slices', '2'], {});
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/FAILED/);
      const result = JSON.parse(r.stdout) as BenchResult;
      expect(result.options).toMatchObject({ db: 'pglite', slices: '2', scenarios: SINGLE_SCENARIOS });
      expect(result.scenarios.cold).toBeUndefined();
      expectSingleFigures(result, '2');
    },
    9 * MINUTE,
  );
});
