// Incremental nightly syncs (v2). The bar: after any sequence of upstream changes, incremental syncs
// plus the next full walk leave the job tables exactly as full walks alone do, and an incremental
// sync never marks a deletion. Nights pass on an injected clock.
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { queryRows, type Db } from '../../src/db/connect.ts';
import { seededRandom, type Random } from '../../src/simulator/prng.ts';
import { startSimulator, type Simulator, type V2Job } from '../../src/simulator/index.ts';
import { openTestDatabase, type Backend, type TestDatabase } from '../helpers/db.ts';
import { count, storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { expectedRawV2, jobTables, runProject } from '../helpers/v2.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 2, 1);
/** PGlite's WASM start and migrations alone take tens of seconds on a busy machine. */
const PGLITE_TIMEOUT_MS = 180_000;
const P = '11111111-1111-4111-8111-111111111111';
const iso = (ms: number) => new Date(ms).toISOString();

let sim: Simulator | undefined;
const databases: TestDatabase[] = [];
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
  await Promise.all(databases.splice(0).map((d) => d.close()));
});

async function database(backend: Backend = 'postgres'): Promise<TestDatabase> {
  const tdb = await openTestDatabase(backend);
  databases.push(tdb);
  return tdb;
}

function pickFrom<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
}

const isInFlight = (job: V2Job) => job.status === 'PENDING' || job.status === 'RUNNING';

/** A job created at `createdMs`, shaped like the seeded ones (a clone of `template` with its own id). */
function newJob(random: Random, template: V2Job, id: string, createdMs: number): V2Job {
  const status = pickFrom(random, ['PENDING', 'RUNNING', 'RUNNING', 'COMPLETED', 'FAILED']);
  return {
    ...structuredClone(template),
    id,
    status,
    created_at: iso(createdMs),
    updated_at: iso(createdMs + 5_000),
    result: status === 'COMPLETED' ? { type: template.configuration.rules[0]?.type ?? null, confidence: 0.8, reasoning: 'matched' } : null,
    error_message: status === 'FAILED' ? 'No text could be extracted from the document' : null,
  };
}

/** Moves an in-flight job on: finished (either way) or from PENDING to RUNNING. */
function moveOn(random: Random, job: V2Job, atMs: number): V2Job {
  const status = job.status === 'PENDING' && random() < 0.3 ? 'RUNNING' : pickFrom(random, ['COMPLETED', 'FAILED']);
  return {
    ...job,
    status,
    updated_at: iso(atMs),
    result:
      status === 'COMPLETED' ? { type: job.configuration.rules[0]?.type ?? null, confidence: 0.91, reasoning: 'finished late' } : null,
    error_message: status === 'FAILED' ? 'Parse job timed out after 900 seconds' : null,
  };
}

async function deletedCount(db: Db): Promise<number> {
  return count(db, sql`SELECT count(*)::int AS n FROM classify_jobs WHERE deleted_at IS NOT NULL`);
}

describe('incremental nightly syncs', () => {
  it('equal full walks after the next full walk, see every new job and status move, and never mark deletions', async () => {
    sim = await startSimulator({ projects: [{ id: P, jobs: 400 }], now: NOW, apis: ['v2'] });
    const inc = await database();
    const ref = await database();
    // The mass-delete guard off: an incremental sync must not mark deletions on its own account.
    const config = { ...testConfig(sim, { projects: [P], pageSize: 25 }), massDeleteMinShare: 0 };
    expect([config.api, config.lookbackHours, config.fullRefreshDays]).toEqual(['auto', 48, 7]);
    const random = seededRandom(7, 'nights');
    let t = NOW;
    const clock = () => t;

    const first = await sync(config, inc, { clock });
    await sync(config, ref, { clock, full: true });
    expect(first.projects[0]).toMatchObject({ status: 'succeeded', mode: 'full', apiVersion: 'v2' });
    let lastFullPages = first.projects[0]?.pages ?? 0;
    expect(await jobTables(inc.database.db)).toEqual(await jobTables(ref.database.db));

    /** Jobs deleted upstream since inc's last full walk, and old finished jobs changed where an incremental walk cannot see. */
    const deletedSinceFull = new Set<string>();
    const invisibleSinceFull = new Set<string>();
    const modes: string[] = [];

    for (let night = 1; night <= 9; night++) {
      const dayStart = t;
      t = NOW + night * DAY;
      const upstream = sim.jobsV2(P);
      const template = upstream[0] as V2Job;
      // New jobs created during the day.
      for (let i = 0; i < 15; i++)
        sim.upsertJobV2(P, newJob(random, template, `night${night}-job${i}`, dayStart + (1 + random() * 22) * HOUR));
      // In-flight jobs move on, old and recent alike (old ones are refreshed by id, recent ones re-walked).
      const inFlight = upstream.filter(isInFlight);
      for (let i = 0; i < 6 && inFlight.length > 0; i++) {
        const job = inFlight.splice(Math.floor(random() * inFlight.length), 1)[0] as V2Job;
        sim.upsertJobV2(P, moveOn(random, job, t - HOUR));
      }
      // Deletions: an old finished job and a recent one.
      const finished = upstream.filter((j) => !isInFlight(j) && !invisibleSinceFull.has(j.id));
      for (const victim of [pickFrom(random, finished.slice(-200)), pickFrom(random, finished.slice(0, 40))]) {
        sim.removeJob(P, victim.id);
        deletedSinceFull.add(victim.id);
      }
      // Twice a week a job finished long ago changes anyway: only a full walk can see that.
      if (night % 3 === 2) {
        const old = pickFrom(
          random,
          upstream.filter(
            (j) => j.status === 'COMPLETED' && Date.parse(j.created_at ?? '') < NOW - 30 * DAY && !deletedSinceFull.has(j.id),
          ),
        );
        sim.upsertJobV2(P, { ...old, result: { type: null, confidence: 0.5, reasoning: `re-scored on night ${night}` } });
        invisibleSinceFull.add(old.id);
      }

      const deletedBefore = await deletedCount(inc.database.db);
      const result = await sync(config, inc, { clock });
      await sync(config, ref, { clock, full: true });
      const run = result.projects[0];
      if (!run) throw new Error('no project result');
      modes.push(run.mode);
      expect(run.status).toBe('succeeded');

      if (run.mode === 'incremental') {
        // Never a deletion, and cheaper than a full walk by what the run record says.
        expect(run.deleted).toBe(0);
        expect(await deletedCount(inc.database.db)).toBe(deletedBefore);
        expect(run.pages).toBeLessThan(lastFullPages / 2);
        expect(await runProject(inc.database.db, result.runId, P)).toMatchObject({
          mode: 'incremental',
          jobs_deleted: 0,
          pages_saved: lastFullPages - run.pages,
        });
        // Exact for everything it can see: every upstream job as served, except the invisible changes;
        // the jobs deleted upstream are still live until a full walk.
        const stored = await storedRaw(inc.database.db, P);
        const expected = expectedRawV2(sim, P);
        for (const id of invisibleSinceFull) expected.delete(id);
        for (const [id, raw] of expected) expect(stored.get(id), `job ${id}`).toEqual(raw);
        expect([...stored.keys()].filter((id) => !expected.has(id) && !invisibleSinceFull.has(id)).sort()).toEqual(
          [...deletedSinceFull].sort(),
        );
      } else {
        // The full walk: now the tables are exactly those of full walks only.
        expect(await jobTables(inc.database.db)).toEqual(await jobTables(ref.database.db));
        expect(run.deleted).toBe(deletedSinceFull.size);
        lastFullPages = run.pages;
        deletedSinceFull.clear();
        invisibleSinceFull.clear();
      }
    }
    // Full walks are due fullRefreshDays (7) after the last full walk started.
    expect(modes).toEqual([
      'incremental',
      'incremental',
      'incremental',
      'incremental',
      'incremental',
      'incremental',
      'full',
      'incremental',
      'incremental',
    ]);

    // `sync --full` on the last night: the two histories meet again.
    expect(invisibleSinceFull.size).toBeGreaterThan(0);
    const forced = await sync(config, inc, { clock, full: true });
    expect(forced.projects[0]).toMatchObject({ mode: 'full', deleted: deletedSinceFull.size, pagesSaved: 0 });
    expect(await jobTables(inc.database.db)).toEqual(await jobTables(ref.database.db));
    expect(await storedRaw(inc.database.db, P)).toEqual(expectedRawV2(sim, P));
  });
});

describe.each(['postgres', 'pglite'] as const)('an interrupted incremental walk (%s)', (backend) => {
  it(
    'resumes the same incremental walk from its saved page token and filter',
    async () => {
      sim = await startSimulator({ projects: [{ id: P, jobs: 150 }], now: NOW, apis: ['v2'] });
      const tdb = await database(backend);
      const db = tdb.database.db;
      const config = testConfig(sim, { projects: [P], pageSize: 20 });
      let t = NOW;
      const clock = () => t;
      const full = await sync(config, tdb, { clock });
      const fullPages = full.projects[0]?.pages ?? 0;

      const template = sim.jobsV2(P)[0] as V2Job;
      const random = seededRandom(3, 'busy-day');
      for (let i = 0; i < 120; i++) sim.upsertJobV2(P, newJob(random, template, `busy-${i}`, NOW + (1 + random() * 20) * HOUR));
      t = NOW + DAY;

      // Stop the run while the third page of the incremental walk is being served.
      const controller = new AbortController();
      sim.setOnPage(({ pageIndex }) => {
        if (pageIndex === 2) controller.abort();
        return undefined;
      });
      const stopped = await sync(config, tdb, { clock, signal: controller.signal });
      sim.setOnPage(undefined);
      expect(stopped.projects[0]).toMatchObject({ status: 'cancelled', mode: 'incremental', pages: 2 });
      const [state] = await queryRows<{ walk_kind: string; walk_filter: unknown; has_token: boolean; walk_pages: number }>(
        db,
        sql`
      SELECT walk_kind, walk_filter, page_token IS NOT NULL AS has_token, walk_pages FROM sync_state WHERE project_id = ${P} AND api_version = 'v2'`,
      );
      const windowStart = iso(NOW - 48 * HOUR);
      expect(state).toEqual({ walk_kind: 'incremental', walk_filter: { createdAtOnOrAfter: windowStart }, has_token: true, walk_pages: 2 });

      // An hour later: the same walk goes on (the simulator refuses its token with any other filter).
      t += HOUR;
      const resumed = await sync(config, tdb, { clock });
      const run = resumed.projects[0];
      expect(run).toMatchObject({ status: 'succeeded', mode: 'resume', kind: 'incremental', deleted: 0 });
      expect(sim.stats.byStatus['400']).toBeUndefined();
      expect(await runProject(db, resumed.runId, P)).toMatchObject({ mode: 'resume', pages_saved: fullPages - 2 - (run?.pages ?? 0) });
      expect(await storedRaw(db, P)).toEqual(expectedRawV2(sim, P));
      // The next window still counts back from when the interrupted walk started, not from the resume.
      const [after] = await queryRows<{ started: string; has_token: boolean }>(
        db,
        sql`
      SELECT to_char(last_complete_walk_started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS started, page_token IS NOT NULL AS has_token
      FROM sync_state WHERE project_id = ${P} AND api_version = 'v2'`,
      );
      expect(after).toEqual({ started: iso(NOW + DAY).slice(0, 19), has_token: false });
    },
    PGLITE_TIMEOUT_MS,
  );
});
