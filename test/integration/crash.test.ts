// Crashes: the CLI killed with SIGKILL at random moments of a backfill. Every kill leaves whole pages
// only, and the next sync resumes from the saved page token and converges to the exact data set.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { startCli, runCli, writeConfig, type CliResult } from '../helpers/cli.ts';
import { openTestDatabase, postgresReachable, type TestDatabase } from '../helpers/db.ts';
import { expectedRaw, storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { report, seeded } from '../helpers/reliability.ts';

const P = 'c0000000-0000-4000-8000-00000000000c';
const JOBS = 600;
const PAGE_SIZE = 10;
const PAGES = JOBS / PAGE_SIZE;
const TRIALS = 10;
const SEED = 2026;
/** Per response while a backfill runs: a 60-page walk lasts about a second, room for a kill anywhere in it. */
const LATENCY_MS = 15;

describe('SIGKILL during a backfill (CLI child process, real Postgres)', () => {
  let sim: Simulator;
  let tdb: TestDatabase;
  let env: Record<string, string>;
  let configFile: string;

  beforeAll(async () => {
    if (!(await postgresReachable())) return;
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: P, jobs: JOBS }], now: Date.parse('2026-11-01T00:00:00Z') });
    tdb = await openTestDatabase('postgres');
    env = { LLAMA_CLOUD_API_KEY: sim.apiKey, LLAMA_CLOUD_BASE_URL: sim.url, DATABASE_URL: tdb.url as string };
    configFile = writeConfig({ projects: [{ id: P }], pageSize: PAGE_SIZE });
  });
  afterAll(async () => {
    await sim?.stop();
    await tdb?.close();
  });

  /** Backfills from scratch and SIGKILLs the CLI `delayMs` after the simulator starts serving page `killPage`. */
  async function killedBackfill(killPage: number, delayMs: number): Promise<CliResult> {
    await tdb.reset();
    sim.setLatency(LATENCY_MS);
    const run = startCli(['backfill', '--config', configFile], env);
    let armed = false;
    sim.setOnPage(({ pageIndex }) => {
      if (pageIndex === killPage && !armed) {
        armed = true;
        setTimeout(() => run.child.kill('SIGKILL'), delayMs);
      }
      return undefined;
    });
    try {
      return await run.done;
    } finally {
      sim.setOnPage(undefined);
    }
  }

  /** What a kill left behind: whole pages only, every count agreeing with the saved walk position. */
  async function assertWholePages(): Promise<{ walkPages: number; token: string | null }> {
    const db = tdb.database.db;
    const [state] = await queryRows<{ walk_pages: number; page_token: string | null }>(
      db,
      sql`SELECT walk_pages, page_token FROM sync_state`,
    );
    const walkPages = state?.walk_pages ?? 0;
    const stored = await storedRaw(db, P);
    expect(stored.size).toBe(walkPages * PAGE_SIZE);
    // Each stored job has all its rules and parsing settings: no page was half written.
    const expected = new Map(sim.jobs(P).map((j) => [j.id, j]));
    const [children] = await queryRows<{ rules: number; parsing: number }>(
      db,
      sql`
      SELECT (SELECT count(*) FROM classify_job_rules)::int AS rules, (SELECT count(*) FROM classify_job_parsing_settings)::int AS parsing`,
    );
    const storedJobs = [...stored.keys()].map((id) => expected.get(id));
    expect(storedJobs.every((j) => j !== undefined)).toBe(true);
    expect(children?.rules).toBe(storedJobs.reduce((n, j) => n + (j?.rules.length ?? 0), 0));
    expect(children?.parsing).toBe(storedJobs.filter((j) => j?.parsing_configuration != null).length);
    // The walk's seen ids and the run record advanced in the same transactions.
    const [seen] = await queryRows<{ pages: number; ids: number }>(
      db,
      sql`
      SELECT count(*)::int AS pages, coalesce(sum(cardinality(job_ids)), 0)::int AS ids FROM sync_walk_seen`,
    );
    expect(seen).toEqual({ pages: walkPages, ids: walkPages * PAGE_SIZE });
    const [runPages] = await queryRows<{ pages: number }>(db, sql`SELECT pages FROM sync_run_projects`);
    expect(runPages?.pages).toBe(walkPages);
    return { walkPages, token: state?.page_token ?? null };
  }

  it(`${TRIALS} kills at seeded random moments: whole pages only, and the next sync resumes and converges`, async (ctx) => {
    if (!sim) return ctx.skip();
    const random = seeded(SEED);
    const trials: { killPage: number; delayMs: number; walkPages: number; resumedPages: number }[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      // A kill somewhere from the 4th to the 53rd page served, at any moment of that page's round trip.
      const killPage = 3 + Math.floor(random() * 50);
      const delayMs = Math.floor(random() * 20);
      const killed = await killedBackfill(killPage, delayMs);
      expect(killed.signal, `trial ${trial}: the CLI was not killed but exited ${killed.code}: ${killed.stderr}`).toBe('SIGKILL');
      const { walkPages, token } = await assertWholePages();
      expect(walkPages).toBeGreaterThan(0);
      expect(walkPages).toBeLessThan(PAGES);
      expect(token).not.toBeNull();

      // Latency only matters while there is a process to kill.
      sim.setLatency(0);
      const before = sim.stats.pages;
      if (trial === 0) {
        // As a user would: the next `classify-sync sync` resumes.
        const resumed = await runCli(['sync', '--config', configFile], env);
        expect(resumed.code, resumed.stderr).toBe(0);
        expect(resumed.stdout).toContain('walk planned: resuming an unfinished full walk');
        expect(resumed.stderr).toContain(`project ${P} succeeded (v1, resume): ${PAGES - walkPages} pages`);
      } else if (trial === TRIALS - 1) {
        // The API no longer accepts the saved token (400): the walk starts over instead of failing.
        sim.invalidateTokens();
        const restarted = await runCli(['sync', '--config', configFile], env);
        expect(restarted.code, restarted.stderr).toBe(0);
        expect(restarted.stdout).toContain('the API refused the saved page token; walking from the first page');
        expect(restarted.stderr).toContain(`project ${P} succeeded (v1, full): ${PAGES} pages, ${JOBS} jobs`);
      } else {
        const resumed = await sync(testConfig(sim, { projects: [P], pageSize: PAGE_SIZE }), tdb);
        expect(resumed.projects[0]).toMatchObject({ status: 'succeeded', mode: 'resume', pages: PAGES - walkPages, deleted: 0 });
      }
      const fetched = sim.stats.pages - before;
      // The pages left (stored counts are exact above); more only if a response was so slow it timed out.
      expect(fetched).toBeGreaterThanOrEqual(trial === TRIALS - 1 ? PAGES : PAGES - walkPages);
      if (trial < TRIALS - 1) expect(fetched).toBeLessThan(PAGES);
      expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRaw(sim, P));
      trials.push({ killPage, delayMs, walkPages, resumedPages: fetched });
    }
    report('crash', {
      trials: trials.length,
      seed: SEED,
      freshWalkPages: PAGES,
      pagesSavedAtKill: trials.map((t) => t.walkPages).join('/'),
      pagesFetchedAfter: trials.map((t) => t.resumedPages).join('/'),
      converged: `${trials.length}/${TRIALS}`,
      lost: 0,
    });
    expect(new Set(trials.map((t) => t.walkPages)).size).toBeGreaterThan(TRIALS / 2);
  }, 600_000); // twelve CLI processes: on a loaded 2-core machine each start can take seconds
});
