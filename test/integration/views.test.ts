// The reporting views against the simulator's known data set, on real Postgres and on PGlite.
// Expected figures are computed in TypeScript from sim.jobs() (test/helpers/expected.ts), not from SQL.
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryRows, type Db } from '../../src/db/connect.ts';
import { simProjectId, startSimulator, type Simulator, type V1Job } from '../../src/simulator/index.ts';
import type { Backend } from '../helpers/db.ts';
import { useBackend, usePostgres } from '../helpers/fixtures.ts';
import { expectedDaily, expectedRuleTypes, expectedTopErrors, factsOf, type JobFacts } from '../helpers/expected.ts';
import { sync, testConfig } from '../helpers/harness.ts';
import { approx } from '../helpers/rows.ts';

const SEED = 7;
const NOW = Date.UTC(2026, 9, 15, 12);
const A = simProjectId(SEED, 0);
const B = simProjectId(SEED, 1);
const C = simProjectId(SEED, 2);

function facts(sim: Simulator): JobFacts[] {
  return [A, B].flatMap((p) => sim.jobs(p).map(factsOf));
}

async function dailyRows(db: Db) {
  const rows = await queryRows<Record<string, unknown> & { project_id: string; day: string }>(
    db,
    sql`
    SELECT project_id, day::text AS day, jobs, finished, succeeded, failed, partial, cancelled, in_progress, unknown,
      failure_rate, p50_duration_seconds, p95_duration_seconds
    FROM classify_outcomes_daily`,
  );
  return rows.sort((a, b) => a.project_id.localeCompare(b.project_id) || a.day.localeCompare(b.day));
}

async function ruleTypeRows(db: Db) {
  const rows = await queryRows<Record<string, unknown> & { project_id: string; rule_type: string }>(
    db,
    sql`
    SELECT project_id, rule_type, jobs, share, failed, failure_rate FROM classify_rule_type_usage`,
  );
  return rows.sort((a, b) => a.project_id.localeCompare(b.project_id) || (a.rule_type < b.rule_type ? -1 : 1));
}

async function topErrorRows(db: Db) {
  // Milliseconds, truncated like JavaScript's Date.parse truncates the simulator's microseconds.
  const rows = await queryRows<{ project_id: string; rank: number } & Record<string, unknown>>(
    db,
    sql`
    SELECT project_id, outcome, error_pattern, jobs,
      floor(extract(epoch FROM first_seen) * 1000)::float8 AS first_seen_ms,
      floor(extract(epoch FROM last_seen) * 1000)::float8 AS last_seen_ms,
      example, rank
    FROM classify_top_errors`,
  );
  return rows.sort((a, b) => a.project_id.localeCompare(b.project_id) || a.rank - b.rank);
}

async function expectViewsToMatch(db: Db, sim: Simulator) {
  const jobs = facts(sim);
  expect(await dailyRows(db)).toEqual(approx(expectedDaily(jobs)));
  expect(await ruleTypeRows(db)).toEqual(approx(expectedRuleTypes(jobs)));
  expect(await topErrorRows(db)).toEqual(approx(expectedTopErrors(jobs)));
}

describe.each<Backend>(['postgres', 'pglite'])('reporting views on %s', (backend) => {
  const tdb = useBackend(backend);
  let sim: Simulator;

  beforeEach(async () => {
    sim = await startSimulator({
      apis: ['v1'],
      projects: [
        { id: A, jobs: 320 },
        { id: B, jobs: 140 },
        { id: C, jobs: 5, access: 'forbidden' },
      ],
      seed: SEED,
      now: NOW,
    });
  });
  afterEach(async () => {
    await sim.stop();
  });

  it('daily outcomes, rule type usage and top errors equal the figures of the synced data set', async () => {
    await sync(testConfig(sim, { projects: [A, B, C] }), tdb());
    const db = tdb().database.db;
    await expectViewsToMatch(db, sim);

    // Sanity of the fixture itself: the data set exercises every part of the views.
    const daily = await dailyRows(db);
    expect(new Set(daily.map((r) => r.project_id))).toEqual(new Set([A, B]));
    expect(daily.length).toBeGreaterThan(60);
    const errors = await topErrorRows(db);
    expect(errors.some((e) => e.error_pattern === 'File too large: <n> MB exceeds the <n> MB limit')).toBe(true);
    expect(errors.some((e) => e.error_pattern === 'Upstream model error (request id req_<hex>): <n> Service Unavailable')).toBe(true);
    // One row per kind of error, however many distinct raw messages it had.
    const rawMessages = new Set(
      sim
        .jobs(A)
        .map((j) => j.error_message)
        .filter(Boolean),
    );
    expect(errors.filter((e) => e.project_id === A).length).toBeLessThan(rawMessages.size / 3);
  });

  it('classify_job_outcomes has one row per live job with outcome, duration, rule count and error pattern', async () => {
    await sync(testConfig(sim, { projects: [A, B] }), tdb());
    const rows = await queryRows<{
      job_id: string;
      project_id: string;
      outcome: string;
      status: string;
      created_day: string;
      duration_seconds: number | null;
      duration: string | null;
      rule_count: number;
      error_pattern: string | null;
    }>(
      tdb().database.db,
      sql`
      SELECT job_id, project_id, outcome, status, created_day::text AS created_day, duration_seconds,
        extract(epoch FROM duration)::float8::text AS duration, rule_count, error_pattern
      FROM classify_job_outcomes`,
    );
    const expected = new Map(facts(sim).map((f) => [f.id, f]));
    expect(rows).toHaveLength(expected.size);
    for (const row of rows) {
      const f = expected.get(row.job_id);
      expect(f, row.job_id).toBeDefined();
      if (!f) continue;
      expect({
        project_id: row.project_id,
        outcome: row.outcome,
        created_day: row.created_day,
        rule_count: row.rule_count,
        error_pattern: row.error_pattern,
      }).toEqual({
        project_id: f.projectId,
        outcome: f.outcome,
        created_day: f.day,
        rule_count: f.ruleCount,
        error_pattern: f.errorPattern ?? null,
      });
      if (f.durationSeconds === undefined) {
        expect(row.duration_seconds).toBeNull();
      } else {
        expect(row.duration_seconds).toBeCloseTo(f.durationSeconds, 2);
        expect(Number(row.duration)).toBeCloseTo(f.durationSeconds, 2);
      }
    }
    expect(rows.some((r) => r.outcome === 'in_progress' && r.duration_seconds === null)).toBe(true);
  });

  it('sync_freshness shows per project the last sync, the last success, its age and the jobs stored', async () => {
    const first = await sync(testConfig(sim, { projects: [A, B, C] }), tdb());
    const rows = await queryRows<{
      project_id: string;
      last_status: string;
      last_error: string | null;
      jobs_stored: number;
      age_seconds: number | null;
      last_success_at: string | null;
      last_success_run_id: string | null;
    }>(
      tdb().database.db,
      sql`
      SELECT project_id, last_status, last_error, jobs_stored, age_seconds, last_success_at::text, last_success_run_id::text
      FROM sync_freshness ORDER BY project_id`,
    );
    const byProject = new Map(rows.map((r) => [r.project_id, r]));
    expect([...byProject.keys()].sort()).toEqual([A, B, C].sort());
    for (const [project, jobs] of [
      [A, 320],
      [B, 140],
    ] as const) {
      const row = byProject.get(project);
      expect(row).toMatchObject({ last_status: 'succeeded', last_error: null, jobs_stored: jobs, last_success_run_id: first.runId });
      expect(row?.age_seconds).toBeGreaterThanOrEqual(0);
      expect(row?.age_seconds).toBeLessThan(120);
    }
    expect(byProject.get(C)).toMatchObject({ last_status: 'failed', jobs_stored: 0, last_success_at: null, age_seconds: null });
    expect(byProject.get(C)?.last_error).toContain('HTTP 403');

    // C fails again later: its last success stays empty; A's last success moves to the new run.
    const second = await sync(testConfig(sim, { projects: [A, C] }), tdb());
    const [a] = await queryRows<{ last_success_run_id: string }>(
      tdb().database.db,
      sql`
      SELECT last_success_run_id::text FROM sync_freshness WHERE project_id = ${A}`,
    );
    expect(a?.last_success_run_id).toBe(second.runId);
  });

  it('the next sync refreshes the views: moved statuses, upstream deletions, new jobs and unknown statuses', async () => {
    const config = testConfig(sim, { projects: [A, B] });
    await sync(config, tdb());
    const jobs = sim.jobs(A);
    const pending = jobs.filter((j) => j.status === 'PENDING').slice(0, 3);
    expect(pending).toHaveLength(3);
    for (const job of pending) {
      sim.upsertJob(A, {
        ...job,
        status: 'ERROR',
        error_message: `Parse job ${job.id} timed out after 901 seconds`,
        updated_at: new Date(NOW).toISOString(),
      });
    }
    const removed = jobs.filter((j) => j.status === 'SUCCESS').slice(0, 5);
    for (const job of removed) sim.removeJob(A, job.id);
    const added: V1Job = {
      ...(jobs[0] as V1Job),
      id: 'job-with-new-status',
      status: 'QUEUED_FOR_REVIEW',
      error_message: 'Needs review: 2 pages',
      created_at: new Date(NOW - 3_600_000).toISOString(),
      updated_at: null,
    };
    sim.upsertJob(A, added);

    await sync(config, tdb());
    await expectViewsToMatch(tdb().database.db, sim);
    const [unknown] = await queryRows<{ n: number }>(
      tdb().database.db,
      sql`
      SELECT sum(unknown)::int AS n FROM classify_outcomes_daily WHERE project_id = ${A}`,
    );
    expect(unknown?.n).toBe(1);
    const [live] = await queryRows<{ n: number }>(
      tdb().database.db,
      sql`
      SELECT sum(jobs)::int AS n FROM classify_outcomes_daily WHERE project_id = ${A}`,
    );
    expect(live?.n).toBe(320 - 5 + 1);
  });
});

describe('materialized views', () => {
  const tdb = usePostgres();

  it('each has the unique index REFRESH ... CONCURRENTLY needs (a migration recreating one must add it again)', async () => {
    const rows = await queryRows<{ matviewname: string; unique_indexes: number }>(
      tdb().database.db,
      sql`
      SELECT m.matviewname, count(i.indexrelid) FILTER (WHERE i.indisunique)::int AS unique_indexes
      FROM pg_matviews m
      LEFT JOIN pg_index i ON i.indrelid = format('%I.%I', m.schemaname, m.matviewname)::regclass
      WHERE m.schemaname = 'public'
      GROUP BY m.matviewname ORDER BY m.matviewname`,
    );
    expect(rows).toEqual([
      { matviewname: 'classify_outcomes_daily', unique_indexes: 1 },
      { matviewname: 'classify_rule_type_usage', unique_indexes: 1 },
      { matviewname: 'classify_top_errors', unique_indexes: 1 },
    ]);
  });
});
