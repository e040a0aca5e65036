// Items Postgres refuses, and items that would cross projects: whatever a page holds, exactly the
// items at fault are quarantined in sync_rejects, the rest of the page, its checkpoint and the walk go
// on, and the next sync of the project succeeds.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.ts';
import { queryRows, type Db } from '../../src/db/connect.ts';
import { storePage } from '../../src/db/pages.ts';
import { startProject, startRun } from '../../src/db/runs.ts';
import { beginWalk } from '../../src/db/walks.ts';
import { contentDigest, normalizePage } from '../../src/normalize.ts';
import { HOSTILE_ERROR_CHARS, hostileItems, startSimulator, type Simulator, type V1Job, type V2Job } from '../../src/simulator/index.ts';
import { runCli } from '../helpers/cli.ts';
import type { Backend } from '../helpers/db.ts';
import { useBackend, usePostgres } from '../helpers/fixtures.ts';
import { count, expectedRaw, storedRaw, sync, testConfig, v1Item } from '../helpers/harness.ts';
import { memoryLogger, report } from '../helpers/reliability.ts';
import { expectedRawV2 } from '../helpers/v2.ts';

const A = 'aa000000-0000-4000-8000-0000000000aa';
const B = 'bb000000-0000-4000-8000-0000000000bb';
const NOW = Date.parse('2026-11-01T00:00:00Z');
const DAY = 86_400_000;

const counted = { upFront: 0, bisected: 0, storedWhole: 0, foreign: 0, refreshed: 0, lost: 0 };
afterAll(() => report('refused', counted));

const runProject = async (db: Db, runId: string, projectId: string) =>
  (
    await queryRows<Record<string, unknown>>(
      db,
      sql`
  SELECT status, pages, jobs_seen, jobs_inserted, jobs_unchanged, rejects FROM sync_run_projects
  WHERE run_id = ${runId} AND project_id = ${projectId}`,
    )
  )[0];

interface RejectRow {
  job_id: string | null;
  reason: string;
  payload: string;
  settled: boolean;
}
const rejects = (db: Db) =>
  queryRows<RejectRow>(
    db,
    sql`
  SELECT job_id, reason, payload, settled_at IS NOT NULL AS settled FROM sync_rejects ORDER BY id`,
  );

describe('items Postgres would refuse (real Postgres, v1)', () => {
  const tdb = usePostgres({ shared: true });
  let sim: Simulator;

  beforeEach(async () => {
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: A, jobs: 45 }], now: NOW });
  });
  afterEach(async () => {
    await sim?.stop();
    await tdb.current?.database.db.execute(sql`ALTER TABLE classify_jobs DROP CONSTRAINT IF EXISTS dba_rule`).catch(() => undefined);
  });

  const config = (over: Partial<Config> = {}): Config =>
    Object.freeze({ ...testConfig(sim, { api: 'v1', projects: [A], pageSize: 10 }), ...over });
  const db = () => tdb().database.db;

  it.each([
    ['a 12 000-character job id', v1Item(randomBytes(6000).toString('hex'), A), /^id: longer than 1024 bytes/],
    [
      'created_at in year 0000',
      v1Item('year-zero', A, { created_at: '0000-01-01T00:00:00Z' }),
      /^created_at: year 0000 is outside what Postgres stores/,
    ],
    [
      'updated_at with offset +16:00',
      v1Item('offset-16', A, { updated_at: '2026-10-01T00:01:00+16:00' }),
      /^updated_at: offset \+16:00 is outside what Postgres stores/,
    ],
    [
      'updated_at with offset +99:99',
      v1Item('offset-99', A, { updated_at: '2026-10-01T00:01:00+99:99' }),
      /^updated_at: offset \+99:99 is outside/,
    ],
  ])('quarantines %s before sending it, and the project goes on', async (_name, bad, reason) => {
    sim.insertRawItem(A, bad);
    const first = await sync(config(), tdb());
    expect(first.projects[0]).toMatchObject({ status: 'succeeded', rejects: 1, inserted: 45, deleted: 0 });
    expect(await storedRaw(db(), A)).toEqual(expectedRaw(sim, A));
    const [reject] = await rejects(db());
    expect(reject?.reason).toMatch(reason);
    expect(JSON.parse(reject?.payload ?? '')).toEqual(bad);
    // A 12 000-character id is no id: not kept to be asked for again.
    expect(reject?.job_id).toBe(String(bad.id).length > 1024 ? null : bad.id);

    const again = await sync(config(), tdb());
    expect(again.projects[0]).toMatchObject({ status: 'succeeded', rejects: 1, unchanged: 45 });
    expect(await runProject(db(), again.runId, A)).toMatchObject({ status: 'succeeded', rejects: 1 });
    counted.upFront += 1;
  });

  it('stores a job whose rule type is 3 000 random characters whole (the type index is a hash), and the views refresh', async () => {
    const type = randomBytes(1500).toString('hex');
    sim.insertRawItem(
      A,
      v1Item('long-type', A, {
        rules: [
          { type, description: 'long' },
          { type: 'invoice', description: 'short' },
        ],
      }),
    );
    const result = await sync(config(), tdb());
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', rejects: 0, inserted: 46 });
    expect(await queryRows(db(), sql`SELECT type FROM classify_job_rules WHERE job_id = 'long-type' ORDER BY position`)).toEqual([
      { type },
      { type: 'invoice' },
    ]);
    // The index still answers an equality lookup of the long value.
    expect(await count(db(), sql`SELECT count(*)::int AS n FROM classify_job_rules WHERE type = ${type}`)).toBe(1);
    // The materialized rule-type view (its unique key is a btree) holds it, cut to a bounded prefix.
    expect(
      await queryRows(db(), sql`SELECT jobs FROM classify_rule_type_usage WHERE project_id = ${A} AND rule_type = ${type.slice(0, 500)}`),
    ).toEqual([{ jobs: 1 }]);
    counted.storedWhole += 1;
  });

  it('a refusal no check foresaw: exactly the refused items are quarantined with the SQLSTATE, pages and walk go on, deletions run', async () => {
    // A rule of the database's own (a DBA's CHECK constraint) that some items break, on several pages.
    await db().execute(sql`ALTER TABLE classify_jobs ADD CONSTRAINT dba_rule CHECK (user_id <> 'refused-by-the-database')`);
    const refused = ['r-0', 'r-1', 'r-2', 'r-3'];
    for (const id of refused)
      sim.insertRawItem(
        A,
        v1Item(id, A, { user_id: 'refused-by-the-database', created_at: `2026-0${refused.indexOf(id) + 1}-01T00:00:00Z` }),
      );
    const { log, lines } = memoryLogger();
    const first = await sync(config(), tdb(), { log });
    expect(first.projects[0]).toMatchObject({ status: 'succeeded', rejects: 4, inserted: 45, jobsSeen: 45, unchanged: 0 });
    expect(await storedRaw(db(), A)).toEqual(expectedRaw(sim, A));
    const stored = await rejects(db());
    expect(stored.map((r) => r.job_id).sort()).toEqual(refused);
    for (const r of stored) {
      expect(r.reason).toMatch(
        /^Postgres refused the item: new row for relation "classify_jobs" violates check constraint "dba_rule" \(SQLSTATE 23514\)$/,
      );
      expect(JSON.parse(r.payload)).toMatchObject({ user_id: 'refused-by-the-database' });
    }
    expect(lines().filter((l) => l.msg === 'item quarantined in sync_rejects')).toHaveLength(4);
    // The walk completed: its token is cleared and the run counters add up.
    expect(await queryRows(db(), sql`SELECT page_token, walk_pages FROM sync_state WHERE project_id = ${A}`)).toEqual([
      { page_token: null, walk_pages: 0 },
    ]);
    expect(await runProject(db(), first.runId, A)).toMatchObject({ status: 'succeeded', jobs_seen: 45, jobs_inserted: 45, rejects: 4 });

    // The next full walk succeeds too, and a job gone upstream is marked deleted as after any complete walk;
    // the refused ids are still listed upstream, so they are seen and never marked deleted.
    const gone = sim.jobs(A)[0] as V1Job;
    sim.removeJob(A, gone.id);
    const again = await sync(config(), tdb());
    expect(again.projects[0]).toMatchObject({ status: 'succeeded', rejects: 4, unchanged: 44, deleted: 1 });
    expect(await count(db(), sql`SELECT count(*)::int AS n FROM classify_jobs WHERE deleted_at IS NOT NULL`)).toBe(1);
    counted.bisected += 4;
  });

  it('quarantines an item whose id is stored under another project; the stored job is untouched and never flips', async () => {
    await sim.stop();
    sim = await startSimulator({
      apis: ['v1'],
      projects: [
        { id: A, jobs: 20 },
        { id: B, jobs: 20 },
      ],
      now: NOW,
    });
    const both = (): Config => Object.freeze({ ...testConfig(sim, { api: 'v1', projects: [A, B], pageSize: 10 }), concurrency: 1 });
    await sync(both(), tdb());
    const victim = sim.jobs(A)[3] as V1Job;
    const before = await queryRows(db(), sql`SELECT project_id, status, raw, synced_at::text FROM classify_jobs WHERE id = ${victim.id}`);
    const rulesBefore = await queryRows(
      db(),
      sql`SELECT position, type, description FROM classify_job_rules WHERE job_id = ${victim.id} ORDER BY position`,
    );
    const intruder = {
      ...victim,
      project_id: B,
      status: 'ERROR',
      error_message: 'from project B',
      rules: [{ type: 'other', description: 'b' }],
    };
    sim.insertRawItem(B, intruder);

    const result = await sync(both(), tdb());
    expect(result.projects.map((p) => [p.projectId, p.status, p.rejects, p.inserted, p.updated])).toEqual([
      [A, 'succeeded', 0, 0, 0],
      [B, 'succeeded', 1, 0, 0],
    ]);
    expect(await queryRows(db(), sql`SELECT project_id, status, raw, synced_at::text FROM classify_jobs WHERE id = ${victim.id}`)).toEqual(
      before,
    );
    expect(
      await queryRows(db(), sql`SELECT position, type, description FROM classify_job_rules WHERE job_id = ${victim.id} ORDER BY position`),
    ).toEqual(rulesBefore);
    expect(
      await count(db(), sql`SELECT count(*)::int AS n FROM classify_job_status_changes WHERE job_id = ${victim.id} AND project_id = ${B}`),
    ).toBe(0);
    const [reject] = await queryRows<{ reason: string; payload: string; project_id: string }>(
      db(),
      sql`SELECT reason, payload, project_id FROM sync_rejects`,
    );
    expect(reject).toMatchObject({
      project_id: B,
      reason: `id is already stored under project ${A}: quarantined, the stored job is left as it is (ids are global upstream)`,
    });
    expect(JSON.parse(reject?.payload ?? '')).toEqual(intruder);
    expect(await runProject(db(), result.runId, B)).toMatchObject({ status: 'succeeded', rejects: 1, jobs_seen: 20 });

    // A's next sync finds its job as it left it: nothing to flip back.
    const later = await sync(both(), tdb());
    expect(later.projects[0]).toMatchObject({ projectId: A, inserted: 0, updated: 0, unchanged: 20 });
    expect(await storedRaw(db(), A)).toEqual(expectedRaw(sim, A));
    expect(await storedRaw(db(), B)).toEqual(expectedRaw(sim, B));
    counted.foreign += 1;
  });
});

// The bisection itself, fed rows the up-front checks would have stopped, so that Postgres' own
// refusals (22008, 22009, 54000) reach it: on both backends.
describe.each<Backend>(['postgres', 'pglite'])('the page statement splits a refused page (%s)', (backend) => {
  const tdb = useBackend(backend);

  it("stores every other job of the page, quarantines each refused one with Postgres' words, and checkpoints", async () => {
    const db = tdb().database.db;
    const runId = '00000000-0000-4000-8000-000000000001';
    await startRun(db, { id: runId, trigger: 'sync', projects: 1, host: 'test', pid: 1 });
    await beginWalk(db, A, 'v1');
    await startProject(db, { runId, projectId: A, apiVersion: 'v1', mode: 'full' });
    const good = Array.from({ length: 37 }, (_, i) => v1Item(`g-${String(i).padStart(2, '0')}`, A));
    const page = normalizePage(good, { projectId: A, organizationId: undefined, apiVersion: 'v1' });
    const longId = randomBytes(6000).toString('hex');
    const poisoned = [...page.jobs];
    const poison = (at: number, id: string, change: Record<string, unknown>) => {
      const template = page.jobs[0];
      if (!template) throw new Error('no template');
      const job = { ...template.job, id, ...change, raw: { ...(template.job.raw as object), id } };
      const rules = template.rules.map((r) => ({ ...r, jobId: id }));
      const parsing = template.parsing && { ...template.parsing, jobId: id };
      poisoned.splice(at, 0, { job, rules, parsing, digest: contentDigest(job, rules, parsing) });
    };
    poison(3, 'year-zero', { createdAt: '0000-01-01T00:00:00Z' });
    poison(20, 'offset-16', { updatedAt: '2026-10-01T00:01:00+16:00' });
    poison(30, longId, {});
    const result = await storePage(db, {
      runId,
      projectId: A,
      apiVersion: 'v1',
      pageNumber: 1,
      jobs: poisoned,
      rejects: [],
      nextPageToken: 'next-token',
      retries: 0,
      totalSize: 40,
      trackSeen: true,
    });
    expect(result).toMatchObject({ jobsSeen: 37, inserted: 37, updated: 0, unchanged: 0, rejects: 3 });
    expect(result.quarantined.map((q) => q.id).sort()).toEqual([longId, 'offset-16', 'year-zero'].sort());
    expect(await count(db, sql`SELECT count(*)::int AS n FROM classify_jobs`)).toBe(37);
    expect(await count(db, sql`SELECT count(*)::int AS n FROM classify_job_rules`)).toBe(37);
    const stored = await queryRows<{ job_id: string; reason: string }>(db, sql`SELECT job_id, reason FROM sync_rejects ORDER BY reason`);
    expect(stored).toHaveLength(3);
    expect(stored.map((r) => r.reason)).toEqual(
      expect.arrayContaining([
        'Postgres refused the item: date/time field value out of range: "0000-01-01T00:00:00Z" (SQLSTATE 22008)',
        'Postgres refused the item: time zone displacement out of range: "2026-10-01T00:01:00+16:00" (SQLSTATE 22009)',
        expect.stringMatching(
          /^Postgres refused the item: index row (size \d+ exceeds btree version 4 maximum 2704 for index "classify_jobs_pkey"|requires \d+ bytes, maximum size is 8191) \(SQLSTATE 54000\)$/,
        ),
      ]),
    );
    // The checkpoint and the counters rode with the page.
    expect(await queryRows(db, sql`SELECT page_token, walk_pages FROM sync_state WHERE project_id = ${A}`)).toEqual([
      { page_token: 'next-token', walk_pages: 1 },
    ]);
    expect(await runProject(db, runId, A)).toMatchObject({ pages: 1, jobs_seen: 37, jobs_inserted: 37, jobs_unchanged: 0, rejects: 3 });
    expect(await count(db, sql`SELECT cardinality(job_ids) AS n FROM sync_walk_seen WHERE project_id = ${A}`)).toBe(40);
    counted.bisected += 3;
  });
});

describe('open rejects are asked for again by id (real Postgres, v2 incremental)', () => {
  const tdb = usePostgres();
  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.stop();
  });

  it('stores a job served malformed once as soon as it is served well-formed, and settles its reject', async () => {
    sim = await startSimulator({ apis: ['v2'], projects: [{ id: A, jobs: 60 }], now: NOW });
    const db = tdb().database.db;
    let now = NOW;
    const config = Object.freeze({ ...testConfig(sim, { projects: [A], pageSize: 20 }), massDeleteMinShare: 0 });
    // An old finished job (long before any incremental window), served with a broken field.
    const oldest = sim.jobsV2(A).at(-1) as V2Job;
    sim.removeJob(A, oldest.id);
    sim.insertRawItemV2(A, { ...oldest, user_id: 42 });
    const full = await sync(config, tdb(), { clock: () => now });
    expect(full.projects[0]).toMatchObject({ kind: 'full', status: 'succeeded', rejects: 1, inserted: 59 });
    expect(await rejects(db)).toEqual([expect.objectContaining({ job_id: oldest.id, settled: false })]);

    // Upstream serves it well-formed now; the next sync is incremental and its window misses it.
    now += DAY;
    sim.removeJob(A, oldest.id);
    sim.upsertJobV2(A, oldest);
    const incremental = await sync(config, tdb(), { clock: () => now });
    expect(incremental.projects[0]).toMatchObject({ kind: 'incremental', status: 'succeeded', inserted: 1, rejects: 0 });
    expect(await storedRaw(db, A)).toEqual(expectedRawV2(sim, A));
    expect(await rejects(db)).toEqual([expect.objectContaining({ job_id: oldest.id, settled: true })]);

    // An item that stays malformed is asked for again, quarantined again, and only its latest reject is open.
    const broken = sim.jobsV2(A).at(-2) as V2Job;
    sim.removeJob(A, broken.id);
    sim.insertRawItemV2(A, { ...broken, user_id: 7 });
    now += DAY;
    await sync({ ...config, fullRefreshDays: 0 }, tdb(), { clock: () => now });
    now += DAY;
    const asked = await sync(config, tdb(), { clock: () => now });
    expect(asked.projects[0]).toMatchObject({ kind: 'incremental', rejects: 1 });
    expect((await rejects(db)).filter((r) => r.job_id === broken.id).map((r) => r.settled)).toEqual([true, false]);

    // Gone upstream: the next full walk no longer sees it and settles it.
    sim.removeJob(A, broken.id);
    now += DAY;
    const settled = await sync({ ...config, fullRefreshDays: 0 }, tdb(), { clock: () => now });
    expect(settled.projects[0]).toMatchObject({ kind: 'full', status: 'succeeded', rejects: 0 });
    expect(await count(db, sql`SELECT count(*)::int AS n FROM sync_rejects WHERE settled_at IS NULL`)).toBe(0);
    counted.refreshed += 1;
  });
});

describe('a hostile API through the command line (real Postgres)', () => {
  const tdb = usePostgres();
  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.stop();
  });

  it.for(['v1', 'v2'] as const)('every sync of projects serving hostile items exits 0 and stores the rest exactly (%s)', async (api) => {
    sim = await startSimulator({
      apis: [api],
      projects: [
        { id: A, jobs: 40, hostile: true },
        { id: B, jobs: 40, hostile: true },
      ],
      now: NOW,
    });
    const hostile = hostileItems(A, { seed: 1, now: NOW });
    const quarantined = hostile.filter((h) => h.expect === 'quarantined').length;
    const env = { LLAMA_CLOUD_BASE_URL: sim.url, LLAMA_CLOUD_API_KEY: sim.apiKey, DATABASE_URL: tdb().url };
    const args = ['sync', '--project', A, '--project', B, '--page-size', '10', '--api', api];
    for (const round of [1, 2]) {
      const run = await runCli(args, env, { timeoutMs: 120_000 });
      expect([round, run.code]).toEqual([round, 0]);
      // v2's second sync is incremental: it asks again for the open rejects (the long id is no id: not asked for).
      const rejected = round === 2 && api === 'v2' ? quarantined - 1 : quarantined;
      for (const project of [A, B]) expect(run.stderr).toMatch(new RegExp(`project ${project} succeeded .*, ${rejected} rejected`));
    }
    const db = tdb().database.db;
    for (const project of [A, B]) {
      const stored = new Map([...(api === 'v1' ? expectedRaw(sim, project) : expectedRawV2(sim, project))]);
      for (const h of hostileItems(project, { seed: 1, now: NOW }))
        if (h.expect === 'stored') stored.set(h.v1.id, api === 'v1' ? h.v1 : h.v2);
      expect(await storedRaw(db, project)).toEqual(stored);
      const runs = await queryRows<{ status: string; rejects: number }>(
        db,
        sql`
        SELECT status, rejects FROM sync_run_projects WHERE project_id = ${project} ORDER BY started_at`,
      );
      expect(runs).toEqual([
        { status: 'succeeded', rejects: quarantined },
        { status: 'succeeded', rejects: api === 'v2' ? quarantined - 1 : quarantined },
      ]);
    }
    const [long] = await queryRows<{ message: number; raw: number }>(
      db,
      sql`
      SELECT length(error_message) AS message, length(raw->>'error_message') AS raw FROM classify_jobs WHERE id LIKE '%-hostile-long-error'`,
    );
    expect(long?.message).toBeGreaterThan(HOSTILE_ERROR_CHARS);
    expect(long?.raw).toBe(long?.message);
  });
});
