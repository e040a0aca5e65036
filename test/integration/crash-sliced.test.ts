// Crashes of a sliced walk: the CLI killed with SIGKILL at random moments of a sliced v2 backfill. Every
// kill leaves whole pages of each slice only, and the next sync resumes every slice from its own saved
// token and converges to the exact data set.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { runCli, startCli, writeConfig, type CliResult } from '../helpers/cli.ts';
import { openTestDatabase, postgresReachable, type TestDatabase } from '../helpers/db.ts';
import { storedRaw } from '../helpers/harness.ts';
import { report, seeded } from '../helpers/reliability.ts';
import { expectedRawV2 } from '../helpers/v2.ts';

const P = 'c1000000-0000-4000-8000-00000000001c';
const JOBS = 1200;
const PAGE_SIZE = 20;
const SLICES = 4;
const TRIALS = 5;
const SEED = 2027;
const LATENCY_MS = 15;

describe('SIGKILL during a sliced backfill (CLI child process, real Postgres)', () => {
  let sim: Simulator;
  let tdb: TestDatabase;
  let env: Record<string, string>;
  let configFile: string;

  beforeAll(async () => {
    if (!(await postgresReachable())) return;
    sim = await startSimulator({ apis: ['v2'], projects: [{ id: P, jobs: JOBS }], now: Date.parse('2026-11-01T00:00:00Z') });
    tdb = await openTestDatabase('postgres');
    env = { LLAMA_CLOUD_API_KEY: sim.apiKey, LLAMA_CLOUD_BASE_URL: sim.url, DATABASE_URL: tdb.url as string };
    configFile = writeConfig({ projects: [{ id: P }], pageSize: PAGE_SIZE, api: 'v2', slices: SLICES });
  });
  afterAll(async () => {
    await sim?.stop();
    await tdb?.close();
  });

  /** Backfills from scratch and SIGKILLs the CLI `delayMs` after the simulator starts serving the `killPage`-th page of the walk. */
  async function killedBackfill(killPage: number, delayMs: number): Promise<CliResult> {
    await tdb.reset();
    sim.setLatency(LATENCY_MS);
    const run = startCli(['backfill', '--config', configFile], env);
    let served = 0;
    sim.setOnPage(({ body }) => {
      // Pages of the walk only: the planning probes ask for one item.
      if (body.items.length > 1 && ++served === killPage) setTimeout(() => run.child.kill('SIGKILL'), delayMs);
      return undefined;
    });
    try {
      return await run.done;
    } finally {
      sim.setOnPage(undefined);
    }
  }

  /** What a kill left: whole pages only, each slice's saved position agreeing with what it stored. */
  async function assertWholePages(): Promise<{ stored: number; slicesWithToken: number }> {
    const db = tdb.database.db;
    const slices = await queryRows<{ slice: number; pages: number; has_token: boolean; done: boolean }>(
      db,
      sql`SELECT slice, pages, page_token IS NOT NULL AS has_token, done FROM sync_walk_slices ORDER BY slice`,
    );
    expect(slices.map((s) => s.slice)).toEqual([0, 1, 2, 3]);
    const stored = await storedRaw(db, P);
    // Every stored job is in the walk's seen ids, page by page of its slice, and nothing else is.
    const seen = await queryRows<{ slice: number; pages: number; ids: number }>(
      db,
      sql`SELECT slice, count(*)::int AS pages, sum(cardinality(job_ids))::int AS ids FROM sync_walk_seen GROUP BY slice ORDER BY slice`,
    );
    expect(seen.reduce((n, s) => n + s.ids, 0)).toBe(stored.size);
    for (const s of slices) {
      const pages = seen.find((x) => x.slice === s.slice)?.pages ?? 0;
      expect(pages, `slice ${s.slice}`).toBe(s.pages);
      // A slice with stored pages either saved its next token or is done.
      if (s.pages > 0) expect(s.has_token || s.done, `slice ${s.slice}`).toBe(true);
    }
    // Each stored job has all its rules and parsing settings: no page was half written.
    const expected = new Map(sim.jobsV2(P).map((j) => [j.id, j]));
    const [children] = await queryRows<{ rules: number; parsing: number }>(
      db,
      sql`SELECT (SELECT count(*) FROM classify_job_rules)::int AS rules, (SELECT count(*) FROM classify_job_parsing_settings)::int AS parsing`,
    );
    const storedJobs = [...stored.keys()].map((id) => expected.get(id));
    expect(storedJobs.every((j) => j !== undefined)).toBe(true);
    expect(children?.rules).toBe(storedJobs.reduce((n, j) => n + (j?.configuration.rules.length ?? 0), 0));
    expect(children?.parsing).toBe(storedJobs.filter((j) => j?.configuration.parsing_configuration != null).length);
    // The run record and the walk's page count advanced in the same transactions.
    const [state] = await queryRows<{ walk_pages: number }>(db, sql`SELECT walk_pages FROM sync_state`);
    const [run] = await queryRows<{ pages: number }>(db, sql`SELECT pages FROM sync_run_projects`);
    const pages = slices.reduce((n, s) => n + s.pages, 0);
    expect(state?.walk_pages).toBe(pages);
    expect(run?.pages).toBe(pages);
    return { stored: stored.size, slicesWithToken: slices.filter((s) => s.has_token).length };
  }

  it(`${TRIALS} kills at seeded random moments: whole pages only, and the next sync resumes every slice and converges`, async (ctx) => {
    if (!sim) return ctx.skip();
    const random = seeded(SEED);
    const trials: { killPage: number; stored: number; fetchedAfter: number }[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const killPage = 5 + Math.floor(random() * 40);
      const delayMs = Math.floor(random() * 20);
      const killed = await killedBackfill(killPage, delayMs);
      expect(killed.signal, `trial ${trial}: the CLI was not killed but exited ${killed.code}: ${killed.stderr}`).toBe('SIGKILL');
      const { stored, slicesWithToken } = await assertWholePages();
      expect(stored).toBeGreaterThan(0);
      expect(stored).toBeLessThan(JOBS);
      expect(slicesWithToken).toBeGreaterThan(0);

      sim.setLatency(0);
      const before = sim.stats.pages;
      const resumed = await runCli(['sync', '--config', configFile], env);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toContain('walk planned: resuming an unfinished sliced full walk');
      expect(resumed.stderr).toContain(`project ${P} succeeded (v2, resume)`);
      // Resumed, not restarted: fewer pages than a whole walk (60, plus one partial last page per slice).
      const fetched = sim.stats.pages - before;
      expect(fetched).toBeLessThan(JOBS / PAGE_SIZE);
      expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(sim, P));
      const [left] = await queryRows<{ n: number }>(tdb.database.db, sql`SELECT count(*)::int AS n FROM sync_walk_slices`);
      expect(left?.n).toBe(0);
      trials.push({ killPage, stored, fetchedAfter: fetched });
    }
    report('crash-sliced', {
      trials: trials.length,
      seed: SEED,
      slices: SLICES,
      jobsStoredAtKill: trials.map((t) => t.stored).join('/'),
      pagesFetchedAfter: trials.map((t) => t.fetchedAfter).join('/'),
      converged: `${trials.length}/${TRIALS}`,
    });
  }, 600_000);
});
