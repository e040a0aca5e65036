// Database faults: the sync's connections terminated mid-run, serialization failures and deadlocks.
// The page transaction is the unit that is retried (src/db/errors.ts decides which SQLSTATEs retry);
// every test ends with the database equal to what the API serves.
import { setTimeout as delay } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { isDataError, sqlState } from '../../src/db/errors.ts';
import { isRetryableDbError } from '../../src/db/retry.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { runCli, writeConfig, type CliResult } from '../helpers/cli.ts';
import { expectedRaw, storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { adminClient, memoryLogger, report, seeded } from '../helpers/reliability.ts';

const A = 'db000000-0000-4000-8000-00000000000a';
const B = 'db000000-0000-4000-8000-00000000000b';
const NOW = Date.parse('2026-11-01T00:00:00Z');

/** Only the page transaction (storePage) inserts jobs: a backend running this is inside a page transaction. */
// The page statement: one multi-statement CTE that starts with the incoming rows (src/db/pages.ts).
const PAGE_TRANSACTION_SQL = /^\s*WITH incoming AS/i;

describe('database faults (real Postgres)', () => {
  const tdb = usePostgres();
  let sim: Simulator | undefined;
  let admin: pg.Client | undefined;

  beforeEach(async () => {
    admin = await adminClient(tdb().url as string);
  });
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
    await admin?.end();
  });

  it('a CLI sync survives its connections being terminated inside page transactions and in the pool, and converges', async () => {
    sim = await startSimulator({
      apis: ['v1'],
      projects: [
        { id: A, jobs: 360 },
        { id: B, jobs: 240 },
      ],
      now: NOW,
      latencyMs: 5,
    });
    // Test-only: each job insert statement sleeps 40 ms, so a page transaction is wide enough to be hit.
    await admin!.query(`
      CREATE FUNCTION test_slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.04); RETURN NULL; END $$;
      CREATE TRIGGER test_slow_insert AFTER INSERT ON classify_jobs FOR EACH STATEMENT EXECUTE FUNCTION test_slow_insert();`);
    const random = seeded(5);
    const kills = { inPageTransaction: 0, idle: 0 };
    /** Each project's committed walk position when the last kill landed. */
    let atLastKill = new Map<string, number>();
    const walkPositions = async () =>
      new Map(
        (
          await admin!.query<{ project_id: string; walk_pages: number }>(
            'SELECT project_id, walk_pages FROM sync_state WHERE walk_pages > 0',
          )
        ).rows.map((r) => [r.project_id, r.walk_pages]),
      );
    let running = true;
    const killer = (async () => {
      while (running) {
        await delay(8);
        // Mid-run: while both walks are under way (60 pages in all; B's 24 end around the 48th), so the kills
        // hit page transactions and the pool, not a project's first or last bookkeeping statements (see
        // docs/reliability.md).
        const pages = sim.stats.pages;
        if (pages < 4 || pages > 42) continue;
        // Only once both projects committed a page since the last kill: the page it hit went through, so no
        // page is killed twice (5 attempts each).
        const positions = await walkPositions();
        if (positions.size < 2) continue; // both walks under way: the guard below needs a position for each
        if ([...atLastKill].some(([project, walked]) => positions.get(project) === walked)) continue;
        const { rows } = await admin!.query<{ pid: number; state: string; query: string; in_tx: boolean; idle_ms: number }>(`
          SELECT pid, state, query, xact_start IS NOT NULL AS in_tx,
                 extract(epoch FROM now() - state_change) * 1000 AS idle_ms
          FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'classify-sync'`);
        // Inside the slow job insert of a page transaction.
        const inPage = kills.inPageTransaction < 10 ? rows.filter((r) => r.state === 'active' && PAGE_TRANSACTION_SQL.test(r.query)) : [];
        // Idle in the pool for a while, not a client being checked out this very moment.
        const idle = kills.idle < 4 && random() < 0.1 ? rows.filter((r) => r.state === 'idle' && r.idle_ms > 50) : [];
        const target = inPage[0] ?? idle[0];
        if (!target) continue;
        // Still in the state it was picked in, checked in the statement that kills it.
        const {
          rows: [done],
        } = await admin!.query<{ ok: boolean }>(
          `
          SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE pid = $1 AND state = $2 AND (xact_start IS NOT NULL) = $3`,
          [target.pid, target.state, target.in_tx],
        );
        if (!done?.ok) continue;
        if (target.in_tx) kills.inPageTransaction += 1;
        else kills.idle += 1;
        atLastKill = positions;
      }
    })();

    const config = writeConfig({ projects: [{ id: A }, { id: B }], pageSize: 10 });
    let r: CliResult;
    try {
      r = await runCli(['sync', '--config', config, '--api', 'v1'], {
        LLAMA_CLOUD_API_KEY: sim.apiKey,
        LLAMA_CLOUD_BASE_URL: sim.url,
        DATABASE_URL: tdb().url,
      });
    } finally {
      running = false;
      await killer;
    }

    const logLines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const pageRetries = logLines.filter((l) => l.msg === 'page transaction failed, retrying');
    report('db-terminate', {
      pagesServed: sim.stats.pages,
      killsInPageTransaction: kills.inPageTransaction,
      killsIdle: kills.idle,
      pageTransactionRetries: pageRetries.length,
      exitCode: String(r.code),
    });
    expect(r.stderr).toMatch(new RegExp(`project ${A} succeeded \\(v1, full\\): 36 pages, 360 jobs`));
    expect(r.stderr).toMatch(new RegExp(`project ${B} succeeded \\(v1, full\\): 24 pages, 240 jobs`));
    expect(r.code).toBe(0);
    expect(kills.inPageTransaction).toBeGreaterThanOrEqual(3);
    // Kills inside page transactions cost those pages an attempt, and the pages were tried again. (Not one
    // retry per kill: a kill that lands as the transaction commits is seen by the next checkout instead.)
    expect(pageRetries.length).toBeGreaterThanOrEqual(3);
    expect(pageRetries.every((l) => /terminat|connection|ECONNRESET|EPIPE/i.test(String(l.err)))).toBe(true);
    for (const id of [A, B]) expect(await storedRaw(tdb().database.db, id)).toEqual(expectedRaw(sim, id));
    const [run] = await queryRows<{ status: string }>(tdb().database.db, sql`SELECT status FROM sync_runs`);
    expect(run?.status).toBe('succeeded');
  }, 180_000); // a CLI process walking 60 slow pages

  it('serialization failures (40001) and deadlocks (40P01) are retried at the page transaction and converge', async () => {
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: A, jobs: 90 }], now: NOW });
    // Test-only: the 1st, 2nd, 4th, 5th, 7th and 8th job insert statements fail, alternating SQLSTATEs.
    // A sequence counts them: nextval() is not rolled back with the failed transaction.
    await admin!.query(`
      CREATE SEQUENCE test_fault_seq;
      CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE n bigint := nextval('test_fault_seq');
      BEGIN
        IF n <= 8 AND n % 3 <> 0 THEN
          IF n % 2 = 1 THEN RAISE EXCEPTION 'injected serialization failure %', n USING ERRCODE = '40001';
          ELSE RAISE EXCEPTION 'injected deadlock %', n USING ERRCODE = '40P01'; END IF;
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER test_fault BEFORE INSERT ON classify_jobs FOR EACH STATEMENT EXECUTE FUNCTION test_fault();`);
    const { log, lines } = memoryLogger();
    const result = await sync(testConfig(sim, { projects: [A], pageSize: 10 }), tdb(), { log });

    const retried = lines()
      .filter((l) => l.msg === 'page transaction failed, retrying')
      .map((l) => String(l.err));
    report('db-serialization', { injected: 6, pageTransactionRetries: retried.length, status: result.status });
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', pages: 9, inserted: 90 });
    expect(retried).toHaveLength(6);
    expect(retried.filter((m) => m.includes('injected serialization failure'))).toHaveLength(3);
    expect(retried.filter((m) => m.includes('injected deadlock'))).toHaveLength(3);
    expect(await storedRaw(tdb().database.db, A)).toEqual(expectedRaw(sim, A));
    // Nothing of a failed attempt survives: each status change is recorded once.
    const [changes] = await queryRows<{ n: number }>(tdb().database.db, sql`SELECT count(*)::int AS n FROM classify_job_status_changes`);
    expect(changes?.n).toBe(90);
  });

  it('a permanent database error fails its project at once with a one-line error, and is not retried', async () => {
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: A, jobs: 30 }], now: NOW });
    await admin!.query(`
      CREATE SEQUENCE test_fault_seq;
      CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM nextval('test_fault_seq'); RAISE EXCEPTION 'permission denied for the test' USING ERRCODE = '42501'; END $$;
      CREATE TRIGGER test_fault BEFORE INSERT ON classify_jobs FOR EACH STATEMENT EXECUTE FUNCTION test_fault();`);
    const result = await sync(testConfig(sim, { projects: [A], pageSize: 10 }), tdb());
    expect(result.status).toBe('failed');
    expect(result.projects[0]?.error).toMatch(/^database error: .*permission denied for the test.*check the database, then run again/);
    expect(result.projects[0]?.error).not.toContain('\n');
    const {
      rows: [attempts],
    } = await admin!.query<{ n: string }>('SELECT last_value::text AS n FROM test_fault_seq');
    expect(attempts?.n).toBe('1');
  });

  it('classifies the SQLSTATEs Postgres really sends', async () => {
    const cases: [string, boolean][] = [
      ['40001', true],
      ['40P01', true],
      ['55P03', true],
      ['57P01', true],
      ['08006', true],
      ['53300', true],
      ['23505', false],
      ['22001', false],
      ['22008', false],
      ['54000', false],
      ['42P01', false],
      ['28P01', false],
    ];
    for (const [state, retryable] of cases) {
      const error = await admin!.query(`DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '${state}'; END $$`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(sqlState(error)).toBe(state);
      expect([state, isRetryableDbError(error)]).toEqual([state, retryable]);
      // Only errors caused by the values of a row split a page (refused.test.ts); the others fail or retry it.
      expect([state, isDataError(error)]).toEqual([state, ['22001', '22008', '54000'].includes(state)]);
      // Wrapped the way drizzle wraps it (DrizzleQueryError with the driver error as cause).
      expect(isRetryableDbError(new Error('Failed query: insert …', { cause: error }))).toBe(retryable);
    }
    // A socket error code is not a SQLSTATE: a broken pipe to the server is retried.
    expect(isRetryableDbError(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBe(true);
    expect(sqlState(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).toBeUndefined();
  });
});
