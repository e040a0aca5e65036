// The worker as it runs in production: `classify-sync worker` child processes against real Postgres
// and the simulator (in this process), observed through rows, exit codes, logs and HTTP answers.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.ts';
import { queryRows, type Db } from '../../src/db/connect.ts';
import { startSimulator, type SimProjectSpec, type Simulator, type SimulatorOptions } from '../../src/simulator/index.ts';
import { openTestDatabase, postgresReachable, type TestDatabase } from '../helpers/db.ts';
import { count, expectedRaw, storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { projectLockKey } from '../../src/db/runs.ts';
import {
  advisoryLocks,
  eventually,
  killWorkers,
  parsePrometheus,
  sampleValue,
  spawnWorker,
  workerSessions,
  type LogLine,
} from '../helpers/worker.ts';

const NOW = Date.UTC(2026, 2, 1);
const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const DAILY = '0 2 * * *';

const pgUp = await postgresReachable();

interface Setup {
  sim: Simulator;
  tdb: TestDatabase;
  db: Db;
  url: string;
  env: Record<string, string>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await killWorkers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(projects: SimProjectSpec[], simOptions: Partial<SimulatorOptions> = {}, fileConfig?: object): Promise<Setup> {
  // v1 only: the default --api auto falls back to it, and the data compares in v1 shape.
  const sim = await startSimulator({ projects, seed: 11, now: NOW, apis: ['v1'], ...simOptions });
  cleanups.push(() => sim.stop());
  const tdb = await openTestDatabase('postgres');
  cleanups.push(() => tdb.close());
  const url = tdb.url ?? '';
  const env: Record<string, string> = {
    DATABASE_URL: url,
    LLAMA_CLOUD_BASE_URL: sim.url,
    LLAMA_CLOUD_API_KEY: sim.apiKey,
    CLASSIFY_SYNC_PROJECTS: projects.map((p) => p.id).join(','),
  };
  if (fileConfig) {
    const file = join(mkdtempSync(join(tmpdir(), 'classify-sync-worker-')), 'config.json');
    writeFileSync(file, JSON.stringify(fileConfig));
    env.CLASSIFY_SYNC_CONFIG = file;
  }
  return { sim, tdb, db: tdb.database.db, url, env };
}

interface ProjectRow {
  run_id: string;
  project_id: string;
  status: string;
  pages: number;
  mode: string | null;
  warning: string | null;
  error: string | null;
  run_status: string;
  run_error: string | null;
}

function projectRows(db: Db): Promise<ProjectRow[]> {
  return queryRows<ProjectRow>(
    db,
    sql`
    SELECT p.run_id, p.project_id, p.status, p.pages, p.mode, p.warning, p.error, r.status AS run_status, r.error AS run_error
    FROM sync_run_projects p JOIN sync_runs r ON r.id = p.run_id ORDER BY p.started_at`,
  );
}

/** Pages stored so far by the run in flight. */
async function pagesInFlight(db: Db): Promise<number> {
  return count(db, sql`SELECT coalesce(max(pages), 0)::int AS n FROM sync_run_projects WHERE status = 'running'`);
}

/** Holds a SHARE lock on classify_jobs, so every page transaction blocks at its first write. */
async function blockPageTransactions(url: string): Promise<{ release: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE classify_jobs IN SHARE MODE');
  return {
    release: async () => {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

/** Every page stored by the walks so far is whole: all its jobs, each with its rules, and its seen ids. */
async function expectWholePages(db: Db, pageSize: number): Promise<number> {
  const [state] = await queryRows<{ walk_pages: number; page_token: string | null }>(
    db,
    sql`SELECT walk_pages, page_token FROM sync_state`,
  );
  const pages = state?.walk_pages ?? 0;
  expect(await count(db, sql`SELECT count(*)::int AS n FROM classify_jobs`)).toBe(pages * pageSize);
  expect(await count(db, sql`SELECT count(DISTINCT job_id)::int AS n FROM classify_job_rules`)).toBe(pages * pageSize);
  expect(await count(db, sql`SELECT count(*)::int AS n FROM sync_walk_seen`)).toBe(pages);
  expect(
    await count(
      db,
      sql`
    SELECT count(*)::int AS n FROM (SELECT unnest(job_ids) AS id FROM sync_walk_seen) s
    WHERE s.id NOT IN (SELECT id FROM classify_jobs)`,
    ),
  ).toBe(0);
  return pages;
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> & { projects: Record<string, unknown>[] } }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> & { projects: Record<string, unknown>[] } };
}

const isLine =
  (msg: string, extra: Partial<LogLine> = {}) =>
  (line: LogLine) =>
    line.msg === msg && Object.entries(extra).every(([key, value]) => line[key] === value);

describe.runIf(pgUp)('classify-sync worker (processes, real Postgres)', () => {
  it('two replicas on a 2-second schedule sync each project exactly once per tick, and record the lock skips', async () => {
    const { sim, db, env } = await setup(
      [
        { id: A, jobs: 30 },
        { id: B, jobs: 30 },
      ],
      { latencyMs: 20 },
    );
    const args = ['--schedule', '*/2 * * * * *', '--page-size', '10'];
    const workers = [spawnWorker(args, env), spawnWorker(args, env)];

    // Both catch up at start (nothing synced yet), then tick; wait for four scheduled runs in each.
    await Promise.all(
      workers.map((w) =>
        eventually(() => w.lines.filter(isLine('run finished', { reason: 'schedule' })).length >= 4, 'four scheduled runs', 45_000),
      ),
    );
    for (const w of workers) w.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);

    const runs = new Map<string, LogLine>();
    for (const w of workers) for (const line of w.lines.filter(isLine('run started'))) runs.set(String(line.runId), line);
    const rows = await projectRows(db);
    expect(rows.every((r) => runs.has(r.run_id))).toBe(true);

    // Ticks that began after the start-up catch-up runs had finished, and that no stop cut short.
    const [catchUp] = await queryRows<{ ended: string }>(
      db,
      sql`
      SELECT max(finished_at)::text AS ended FROM sync_runs
      WHERE id IN ${[...runs.values()].filter((l) => l.reason === 'catch-up').map((l) => String(l.runId))}`,
    );
    const catchUpEnded = Date.parse(catchUp?.ended ?? '');
    expect(Number.isNaN(catchUpEnded)).toBe(false);
    const bySlot = new Map<string, ProjectRow[]>();
    for (const row of rows) {
      const slot = runs.get(row.run_id)?.slot;
      if (typeof slot !== 'string' || Date.parse(slot) <= catchUpEnded) continue;
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), row]);
    }
    const ticks = [...bySlot].filter(([, slotRows]) => slotRows.every((r) => r.run_status !== 'cancelled'));
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    for (const [slot, slotRows] of ticks) {
      for (const project of [A, B]) {
        const statuses = slotRows
          .filter((r) => r.project_id === project)
          .map((r) => r.status)
          .sort();
        // One replica synced it; the other (if its tick ran) skipped it.
        expect({ slot, project, statuses }).toEqual({
          slot,
          project,
          statuses: statuses.length === 2 ? ['skipped', 'succeeded'] : ['succeeded'],
        });
      }
    }

    const skips = rows.filter((r) => r.status === 'skipped');
    expect(skips.every((r) => /holds the project lock|already synced this project since/.test(r.warning ?? ''))).toBe(true);
    expect(skips.some((r) => /holds the project lock/.test(r.warning ?? ''))).toBe(true);
    expect(rows.some((r) => r.status === 'abandoned' || r.status === 'failed')).toBe(false);

    // No duplicates: the stored data is exactly upstream's, and each job's first sighting was recorded once.
    for (const project of [A, B]) expect(await storedRaw(db, project)).toEqual(expectedRaw(sim, project));
    expect(await count(db, sql`SELECT count(*)::int AS n FROM classify_job_status_changes`)).toBe(60);
  });

  it('SIGTERM in the middle of a slow walk: exits 0, the run is cancelled with whole pages only, and the next sync resumes', async () => {
    const { sim, tdb, db, url, env } = await setup([{ id: A, jobs: 200 }], { latencyMs: 150 });
    const worker = spawnWorker(['--run-now', '--page-size', '10'], env);
    await eventually(async () => (await pagesInFlight(db)) >= 3, 'three pages stored');
    worker.kill('SIGTERM');

    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.stderr()).toBe('');
    expect(worker.lines.some(isLine('worker stopped'))).toBe(true);
    const [row] = await projectRows(db);
    expect(row).toMatchObject({ project_id: A, status: 'cancelled', run_status: 'cancelled' });
    const pages = await expectWholePages(db, 10);
    expect(pages).toBe(row?.pages);
    expect(pages).toBeLessThan(20);
    expect(await count(db, sql`SELECT count(*)::int AS n FROM sync_state WHERE page_token IS NOT NULL`)).toBe(1);
    // Locks released and pool closed: nothing of the worker is left in Postgres.
    expect(await advisoryLocks(db)).toBe(0);
    expect(await workerSessions(url)).toEqual([]);

    sim.setLatency(0);
    const next = await sync(testConfig(sim, { projects: [A], pageSize: 10 }), tdb);
    expect(next.projects[0]).toMatchObject({ status: 'succeeded', mode: 'resume', pages: 20 - pages });
    expect(await storedRaw(db, A)).toEqual(expectedRaw(sim, A));
  });

  it('a second signal while a page transaction is blocked exits at once; the next run marks that run abandoned', async () => {
    const { sim, tdb, db, url, env } = await setup([{ id: A, jobs: 40 }]);
    const blocker = await blockPageTransactions(url);
    const worker = spawnWorker(['--run-now', '--page-size', '10'], env);
    await eventually(async () => (await workerSessions(url)).some((s) => s.waiting), 'a page transaction waiting on the lock');
    worker.kill('SIGTERM');
    await worker.waitForLine(isLine('stopping: no new page starts; the page being stored commits'), 'stopping');
    worker.kill('SIGTERM');

    expect(await worker.exited).toEqual({ code: 143, signal: null });
    expect(worker.stderr()).toMatch(/^classify-sync: SIGTERM again: exiting at once/);
    expect((await projectRows(db))[0]).toMatchObject({ status: 'running', run_status: 'running' });

    await blocker.release();
    // The dead client's transaction never commits: no page of it is stored.
    await eventually(async () => (await workerSessions(url)).length === 0, 'the dead sessions to end');
    expect(await expectWholePages(db, 10)).toBe(0);

    const next = await sync(testConfig(sim, { projects: [A], pageSize: 10 }), tdb);
    expect(next.status).toBe('succeeded');
    const rows = await projectRows(db);
    expect(rows[0]).toMatchObject({
      status: 'abandoned',
      run_status: 'abandoned',
      error: expect.stringMatching(/^abandoned: its process \(.+, pid \d+\) stopped/) as string,
    });
    expect(await storedRaw(db, A)).toEqual(expectedRaw(sim, A));
  });

  it('exits 1 when stopping takes longer than shutdownTimeoutMs', async () => {
    const { db, url, env } = await setup([{ id: A, jobs: 40 }], {}, { shutdownTimeoutMs: 500 });
    const blocker = await blockPageTransactions(url);
    const worker = spawnWorker(['--run-now', '--page-size', '10'], env);
    await eventually(async () => (await workerSessions(url)).some((s) => s.waiting), 'a page transaction waiting on the lock');
    worker.kill('SIGTERM');

    expect(await worker.exited).toEqual({ code: 1, signal: null });
    expect(worker.stderr()).toBe('classify-sync: did not stop within 500 ms (shutdownTimeoutMs): exiting anyway\n');
    await blocker.release();
    await eventually(async () => (await workerSessions(url)).length === 0, 'the dead sessions to end');
    expect(await expectWholePages(db, 10)).toBe(0);
  });

  it('SIGKILL mid-walk: the next run marks the old run abandoned, resumes from the saved token and converges', async () => {
    const { sim, tdb, db, env } = await setup([{ id: A, jobs: 200 }], { latencyMs: 100 });
    const worker = spawnWorker(['--run-now', '--page-size', '10'], env);
    await eventually(async () => (await pagesInFlight(db)) >= 3, 'three pages stored');
    worker.kill('SIGKILL');
    expect(await worker.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await projectRows(db))[0]).toMatchObject({ status: 'running', run_status: 'running' });

    // Postgres ends the dead process's sessions, and with them its advisory locks.
    await eventually(async () => (await advisoryLocks(db)) === 0, 'the dead sessions to release their locks');
    const pages = await expectWholePages(db, 10);
    sim.setLatency(0);
    const next = await sync(testConfig(sim, { projects: [A], pageSize: 10 }), tdb);
    expect(next.projects[0]).toMatchObject({ status: 'succeeded', mode: 'resume', pages: 20 - pages });

    const rows = await projectRows(db);
    expect(rows[0]).toMatchObject({
      status: 'abandoned',
      run_status: 'abandoned',
      run_error: expect.stringMatching(/^abandoned: its process \(.+, pid \d+\) stopped without finishing the run/) as string,
    });
    expect(rows[1]).toMatchObject({ status: 'succeeded', run_status: 'succeeded', mode: 'resume' });
    const [old] = await queryRows<{ pages: number }>(db, sql`SELECT pages FROM sync_runs WHERE status = 'abandoned'`);
    expect(old?.pages).toBe(pages);
    expect(await storedRaw(db, A)).toEqual(expectedRaw(sim, A));
  });

  it('/healthz is 503 while a project fails or goes stale and 200 when all are fresh; /metrics counters match the run records', async () => {
    const { sim, tdb, db, env } = await setup(
      [
        { id: A, jobs: 25 },
        { id: B, jobs: 15, faults: { rate: 1, kinds: ['500'] } },
      ],
      {},
      { retry: { retries: 1, minDelayMs: 5, maxDelayMs: 10 } },
    );
    const worker = spawnWorker(['--run-now', '--page-size', '10', '--metrics-port', '0'], env);
    const { port } = await worker.waitForLine(isLine('serving /healthz and /metrics'), 'metrics port');
    const base = `http://127.0.0.1:${String(port)}`;
    await worker.waitForLine(isLine('run finished'), 'the run-now run');

    const failing = await getJson(`${base}/healthz`);
    expect(failing.status).toBe(503);
    expect(failing.body).toMatchObject({ status: 'stale', staleAfterHours: 36 });
    expect(failing.body.projects).toEqual([
      { id: A, lastSuccessAt: expect.any(String) as string, lastStatus: 'succeeded', stale: false },
      { id: B, lastSuccessAt: null, lastStatus: 'failed', stale: true },
    ]);

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheus(await res.text());
    const [run] = await queryRows<{
      status: string;
      pages: number;
      jobs_inserted: number;
      jobs_unchanged: number;
      jobs_updated: number;
      jobs_deleted: number;
      rejects: number;
      retries: number;
    }>(
      db,
      sql`
      SELECT status, pages, jobs_inserted, jobs_unchanged, jobs_updated, jobs_deleted, rejects, retries FROM sync_runs`,
    );
    expect(run?.status).toBe('partial');
    expect(sampleValue(samples, 'classify_sync_runs_total', { status: 'partial' })).toBe(1);
    expect(sampleValue(samples, 'classify_sync_run_duration_seconds_count', { status: 'partial' })).toBe(1);
    expect(
      sampleValue(samples, 'classify_sync_pages_total', { project: A }) + sampleValue(samples, 'classify_sync_pages_total', { project: B }),
    ).toBe(run?.pages);
    expect(sampleValue(samples, 'classify_sync_pages_total', { project: A })).toBe(3);
    const jobs = (change: string) =>
      sampleValue(samples, 'classify_sync_jobs_total', { project: A, change }) +
      sampleValue(samples, 'classify_sync_jobs_total', { project: B, change });
    expect([jobs('insert'), jobs('update'), jobs('unchanged'), jobs('delete')]).toEqual([
      run?.jobs_inserted,
      run?.jobs_updated,
      run?.jobs_unchanged,
      run?.jobs_deleted,
    ]);
    expect(jobs('insert')).toBe(25);
    expect(sampleValue(samples, 'classify_sync_rejects_total', { project: A })).toBe(run?.rejects);
    expect(sampleValue(samples, 'classify_sync_http_retries_total', { status: '500' })).toBe(run?.retries);
    expect(run?.retries).toBe(1);
    // Project A: --api auto probes v2 (404 on this v1-only simulator) and v1 (200), then walks 3 pages.
    expect(sampleValue(samples, 'classify_sync_request_duration_seconds_count', { status: '200' })).toBe(4);
    expect(sampleValue(samples, 'classify_sync_request_duration_seconds_count', { status: '500' })).toBe(2);
    expect(sampleValue(samples, 'classify_sync_projects_total', { project: B, status: 'failed' })).toBe(1);
    expect(sampleValue(samples, 'classify_sync_rate_limited_total', { project: A })).toBe(0);
    expect(sampleValue(samples, 'classify_sync_request_rate', { project: A })).toBeGreaterThan(0);
    expect(sampleValue(samples, 'classify_sync_last_success_timestamp_seconds', { project: B })).toBe(0);
    const lastSuccessA = sampleValue(samples, 'classify_sync_last_success_timestamp_seconds', { project: A });
    expect(Math.abs(lastSuccessA * 1000 - Date.parse(String(failing.body.projects[0]?.lastSuccessAt)))).toBeLessThan(1);
    expect(sampleValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds')).toBe(true);

    // B recovers (synced here by a `sync` next to the worker): every replica's /healthz sees it.
    sim.setFaults(undefined, B);
    expect((await sync(testConfig(sim, { projects: [A, B], pageSize: 10 }), tdb)).status).toBe('succeeded');
    const healthy = await getJson(`${base}/healthz`);
    expect(healthy.status).toBe(200);
    expect(healthy.body.status).toBe('ok');
    expect(healthy.body.projects.map((p) => p.lastStatus)).toEqual(['succeeded', 'succeeded']);

    // A's last success ages past staleAfterHours (36 h).
    await db.execute(sql`UPDATE sync_run_projects SET started_at = started_at - interval '37 hours',
      finished_at = finished_at - interval '37 hours' WHERE project_id = ${A}`);
    const stale = await getJson(`${base}/healthz`);
    expect(stale.status).toBe(503);
    expect(stale.body.projects).toEqual([
      { id: A, lastSuccessAt: expect.any(String) as string, lastStatus: 'succeeded', stale: true },
      { id: B, lastSuccessAt: expect.any(String) as string, lastStatus: 'succeeded', stale: false },
    ]);
    expect(Date.now() - Date.parse(String(stale.body.projects[0]?.lastSuccessAt))).toBeGreaterThan(36 * 3_600_000);

    expect((await fetch(`${base}/nope`)).status).toBe(404);
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });

  it('catches up at start the projects whose last success is older than one schedule interval, and only those', async () => {
    const { sim, tdb, db, env } = await setup([
      { id: A, jobs: 20 },
      { id: B, jobs: 20 },
    ]);
    expect((await sync(testConfig(sim, { projects: [A, B], pageSize: 10 }), tdb)).status).toBe('succeeded');
    await db.execute(sql`UPDATE sync_run_projects SET started_at = started_at - interval '2 days',
      finished_at = finished_at - interval '2 days' WHERE project_id = ${A}`);
    await db.execute(sql`UPDATE sync_run_projects SET started_at = started_at - interval '1 hour',
      finished_at = finished_at - interval '1 hour' WHERE project_id = ${B}`);

    const worker = spawnWorker(['--schedule', DAILY, '--page-size', '10'], env);
    const decision = await worker.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('catch-up'), 'the catch-up decision');
    expect(decision).toMatchObject({ projects: [A], intervalMs: 86_400_000 });
    const finished = await worker.waitForLine(isLine('run finished', { reason: 'catch-up' }), 'the catch-up run');
    expect(finished.status).toBe('succeeded');
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });

    const rows = (await projectRows(db)).filter((r) => r.run_id === finished.runId);
    expect(rows.map((r) => [r.project_id, r.status])).toEqual([[A, 'succeeded']]);
  });

  it('retries a failed project after retryFailedAfterMinutes, then twice as late, and syncs it once the fault is gone', async () => {
    const { sim, db, env } = await setup(
      [
        { id: A, jobs: 12 },
        { id: B, jobs: 12, faults: { rate: 1, kinds: ['500'] } },
      ],
      {},
      { retryFailedAfterMinutes: 0.05, retry: { retries: 0 } },
    );
    const worker = spawnWorker(['--schedule', DAILY, '--page-size', '10', '--metrics-port', '0'], env);
    const { port } = await worker.waitForLine(isLine('serving /healthz and /metrics'), 'metrics port');
    const scheduled = (attempt: number) => (l: LogLine) =>
      typeof l.msg === 'string' && l.msg.startsWith('retry scheduled') && l.attempt === attempt;

    // The catch-up run fails B: a retry 3 s later; that one fails too: the next 6 s after it.
    const first = await worker.waitForLine(scheduled(1), 'the first retry decision');
    expect(first).toMatchObject({ projects: [B], delayMs: 3000, msg: 'retry scheduled: the projects that failed sync again in 3 s' });
    const second = await worker.waitForLine(scheduled(2), 'the second retry decision');
    expect(second).toMatchObject({ projects: [B], delayMs: 6000 });
    expect(Date.parse(String(second.retryAt))).toBeLessThan(Date.parse(String(second.nextRunAt)));
    sim.setFaults(undefined, B);

    const recovered = await worker.waitForLine(isLine('run finished', { reason: 'retry', status: 'succeeded' }), 'the successful retry');
    const health = await getJson(`http://127.0.0.1:${String(port)}/healthz`);
    expect(health.status).toBe(200);
    const samples = parsePrometheus(await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text());
    expect(sampleValue(samples, 'classify_sync_project_retries_scheduled_total', { project: B })).toBe(2);
    expect(sampleValue(samples, 'classify_sync_project_retries_scheduled_total', { project: A })).toBe(0);
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });

    // Only B was retried; A synced once, in the catch-up run.
    const rows = await projectRows(db);
    expect(rows.filter((r) => r.project_id === A).map((r) => r.status)).toEqual(['succeeded']);
    expect(rows.filter((r) => r.project_id === B).map((r) => r.status)).toEqual(['failed', 'failed', 'succeeded']);
    expect(rows.find((r) => r.project_id === B && r.status === 'succeeded')?.run_id).toBe(recovered.runId);
    expect(worker.lines.filter(isLine('retrying the projects that failed')).map((l) => l.attempt)).toEqual([1, 2]);
    expect(await storedRaw(db, B)).toEqual(expectedRaw(sim, B));
  });

  it('refuses an invalid cron expression at start with a one-line error and exit 1', async () => {
    const worker = spawnWorker(['--schedule', '61 * * * *'], { LLAMA_CLOUD_API_KEY: 'k', CLASSIFY_SYNC_PROJECTS: A });
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    expect(worker.stderr()).toBe(
      'classify-sync: --schedule: "61 * * * *" is not a cron expression (61 is a invalid expression for minute): use e.g. "0 2 * * *" (see classify-sync --help)\n',
    );
  });
});

describe.runIf(pgUp)('runs next to each other (real Postgres)', () => {
  it('a `sync` while another session holds a project lock skips that project, says why, and exits 0', async () => {
    const { sim, db, url, env } = await setup([
      { id: A, jobs: 12 },
      { id: B, jobs: 12 },
    ]);
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    cleanups.push(() => holder.end());
    await holder.query('SELECT pg_advisory_lock(hashtext($1))', [projectLockKey(A)]);

    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const code = await main(['sync', '--page-size', '10', '--log-level', 'silent'], { env, stdout, stderr });
    expect(code).toBe(0);
    expect(err).toContain(`classify-sync: project ${A} skipped: another process is syncing this project now (it holds the project lock)\n`);
    expect(err).toContain(`classify-sync: project ${B} succeeded (v1, full): 2 pages, 12 jobs`);
    const rows = (await projectRows(db)).sort((x, y) => x.project_id.localeCompare(y.project_id));
    expect(rows).toMatchObject([
      {
        project_id: A,
        status: 'skipped',
        warning: 'another process is syncing this project now (it holds the project lock)',
        run_status: 'succeeded',
      },
      { project_id: B, status: 'succeeded', run_status: 'succeeded' },
    ]);
    expect(await storedRaw(db, A)).toEqual(new Map());
    expect(await storedRaw(db, B)).toEqual(expectedRaw(sim, B));
  });

  it('a scheduled run skips a project another run synced since the slot, and syncs it once the slot is newer', async () => {
    const { sim, tdb, db } = await setup([{ id: A, jobs: 12 }]);
    const config = testConfig(sim, { projects: [A], pageSize: 10 });
    const slot = new Date(Date.now() - 1000);
    expect((await sync(config, tdb, { trigger: 'worker' })).status).toBe('succeeded');

    const sameSlot = await sync(config, tdb, { trigger: 'worker', skipSyncedSince: slot });
    expect(sameSlot.status).toBe('skipped');
    expect(sameSlot.projects[0]).toMatchObject({
      status: 'skipped',
      warning: `another run already synced this project since ${slot.toISOString()}`,
    });

    const nextSlot = await sync(config, tdb, { trigger: 'worker', skipSyncedSince: new Date() });
    expect(nextSlot.projects[0]).toMatchObject({ status: 'succeeded', pages: 2 });
    expect((await projectRows(db)).map((r) => r.status)).toEqual(['succeeded', 'skipped', 'succeeded']);
  });
});
