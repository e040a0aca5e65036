// The core sync end to end over v1: simulator → runSync → rows, on real Postgres and on embedded PGlite.
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { startSimulator, type Simulator, type V1Job } from '../../src/simulator/index.ts';
import type { Backend } from '../helpers/db.ts';
import { useBackend, usePostgres } from '../helpers/fixtures.ts';
import { count, expectedRaw, settledRowWrites, storedRaw, sync, syncAlone, testConfig } from '../helpers/harness.ts';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const FORBIDDEN = '33333333-3333-4333-8333-333333333333';
const NOW = Date.parse('2026-11-01T00:00:00Z');

const backends: Backend[] = ['pglite', 'postgres'];

describe.each(backends)('sync on %s', (backend) => {
  let sim: Simulator;
  const tdb = useBackend(backend);

  beforeEach(async () => {
    sim = await startSimulator({
      projects: [
        { id: A, jobs: 230 },
        { id: B, jobs: 57 },
        { id: FORBIDDEN, jobs: 5, access: 'forbidden' },
      ],
      now: NOW,
    });
  });
  afterEach(async () => {
    await sim?.stop();
  });

  it('stores every page of every project, rules and parsing settings included', async () => {
    const result = await sync(testConfig(sim, { api: 'v1', projects: [A, B], pageSize: 25 }), tdb());
    expect(result.status).toBe('succeeded');
    const db = tdb().database.db;
    for (const id of [A, B]) expect(await storedRaw(db, id)).toEqual(expectedRaw(sim, id));
    expect(result.projects.map((p) => [p.projectId, p.pages, p.inserted])).toEqual([
      [A, 10, 230],
      [B, 3, 57],
    ]);

    const jobs = sim.jobs(A);
    const rulesExpected = jobs.reduce((n, j) => n + j.rules.length, 0);
    expect(
      await count(
        db,
        sql`SELECT count(*) AS n FROM classify_job_rules r JOIN classify_jobs j ON j.id = r.job_id WHERE j.project_id = ${A}`,
      ),
    ).toBe(rulesExpected);
    const withParsing = jobs.filter((j) => j.parsing_configuration != null).length;
    expect(
      await count(
        db,
        sql`SELECT count(*) AS n FROM classify_job_parsing_settings s JOIN classify_jobs j ON j.id = s.job_id WHERE j.project_id = ${A}`,
      ),
    ).toBe(withParsing);

    // One job in detail: columns, rule order, 0-based target pages.
    const job = jobs.find((j) => j.parsing_configuration?.target_pages && j.rules.length > 1) as V1Job;
    const [row] = await queryRows<Record<string, unknown>>(
      db,
      sql`SELECT status, outcome, user_id, api_version, created_at FROM classify_jobs WHERE id = ${job.id}`,
    );
    expect(row).toMatchObject({ status: job.status, user_id: job.user_id, api_version: 'v1' });
    const rules = await queryRows<{ type: string; position: number }>(
      db,
      sql`SELECT type, position FROM classify_job_rules WHERE job_id = ${job.id} ORDER BY position`,
    );
    expect(rules.map((r) => r.type)).toEqual(job.rules.map((r) => r.type));
    const [ps] = await queryRows<{ target_pages: number[]; lang: string }>(
      db,
      sql`SELECT target_pages, lang FROM classify_job_parsing_settings WHERE job_id = ${job.id}`,
    );
    expect(ps?.target_pages).toEqual(job.parsing_configuration?.target_pages);

    const [run] = await queryRows<{ status: string; jobs_inserted: number; pages: number }>(
      db,
      sql`SELECT status, jobs_inserted, pages FROM sync_runs`,
    );
    expect(run).toEqual({ status: 'succeeded', jobs_inserted: 287, pages: 13 });
  });

  it('converges through API faults and counts the retries', async () => {
    sim.setFaults({ rate: 0.3, kinds: ['429', '500', '502', '503', 'reset', 'truncated'], retryAfterSeconds: 0.01 });
    const result = await sync(testConfig(sim, { api: 'v1', projects: [A, B], pageSize: 20 }), tdb());
    expect(result.status).toBe('succeeded');
    for (const id of [A, B]) expect(await storedRaw(tdb().database.db, id)).toEqual(expectedRaw(sim, id));
    const retries = result.projects.reduce((n, p) => n + p.retries, 0);
    const faults = Object.values(sim.stats.faults).reduce((n, f) => n + f, 0);
    expect(faults).toBeGreaterThan(0);
    expect(retries).toBe(faults);
    expect(await count(tdb().database.db, sql`SELECT sum(retries) AS n FROM sync_run_projects`)).toBe(retries);
  });

  it('fails a forbidden project and a wrong key clearly while the others are stored', async () => {
    const config = testConfig(sim, { api: 'v1', configFile: undefined, projects: [A, FORBIDDEN] });
    const result = await sync(config, tdb());
    expect(result.status).toBe('partial');
    const forbidden = result.projects.find((p) => p.projectId === FORBIDDEN);
    expect(forbidden?.status).toBe('failed');
    expect(forbidden?.error).toMatch(/HTTP 403 .*LLAMA_CLOUD_API_KEY/);
    expect((await storedRaw(tdb().database.db, A)).size).toBe(230);

    const wrong = await sync(testConfig(sim, { api: 'v1', projects: [B], env: { LLAMA_CLOUD_API_KEY: 'wrong-key-123' } }), tdb());
    expect(wrong.status).toBe('failed');
    expect(wrong.projects[0]?.error).toMatch(/HTTP 401 Invalid authentication token: check LLAMA_CLOUD_API_KEY/);
    expect(wrong.projects[0]?.error).not.toContain('wrong-key-123');
    expect((await storedRaw(tdb().database.db, B)).size).toBe(0);
  });

  it('quarantines malformed items with their payload and stores the rest of the page', async () => {
    sim.insertRawItem(B, { id: 'bad-1', project_id: B, rules: 'not a list', status: 'SUCCESS', user_id: 'u' });
    sim.insertRawItem(B, { project_id: B, rules: [], status: 'SUCCESS', user_id: 'u', note: 'no id' });
    sim.insertRawItem(B, 'just a string');
    const result = await sync(testConfig(sim, { api: 'v1', projects: [B], pageSize: 100 }), tdb());
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', rejects: 3, inserted: 57 });
    const rejects = await queryRows<{ reason: string; payload: string; project_id: string }>(
      tdb().database.db,
      sql`SELECT reason, payload, project_id FROM sync_rejects ORDER BY id`,
    );
    expect(rejects).toHaveLength(3);
    expect(rejects.map((r) => r.project_id)).toEqual([B, B, B]);
    expect(rejects.find((r) => r.payload.includes('bad-1'))?.reason).toMatch(/rules/);
    expect(rejects.find((r) => r.payload.includes('no id'))?.reason).toMatch(/id/);
  });

  it('handles the same id twice in a page and across pages (last one wins)', async () => {
    const [first, second] = sim.jobs(B) as [V1Job, V1Job];
    // The duplicates take the places of items moved to the last page: a page with more items than
    // page_size asked for would be refused as invalid.
    const moved: unknown[] = [];
    sim.setOnPage(({ pageIndex, body }) => {
      if (pageIndex === 0) {
        moved.push(...body.items.slice(18));
        return {
          ...body,
          items: [...body.items.slice(0, 18), { ...first, status: 'CANCELLED' }, { ...first, status: 'ERROR', error_message: 'late' }],
        };
      }
      if (pageIndex === 1) {
        moved.push(...body.items.slice(19));
        return { ...body, items: [...body.items.slice(0, 19), { ...second }] };
      }
      return pageIndex === 2 ? { ...body, items: [...body.items, ...moved.splice(0)] } : undefined;
    });
    const result = await sync(testConfig(sim, { api: 'v1', projects: [B], pageSize: 20 }), tdb());
    expect(result.status).toBe('succeeded');
    const [row] = await queryRows<{ status: string; error_message: string }>(
      tdb().database.db,
      sql`SELECT status, error_message FROM classify_jobs WHERE id = ${first.id}`,
    );
    expect(row).toBeDefined();
    expect(await count(tdb().database.db, sql`SELECT count(*) AS n FROM classify_jobs`)).toBe(57);
  });

  it('applies upstream changes on the next sync: updates, removed rules, deletions, and reappearance', async () => {
    const config = testConfig(sim, { api: 'v1', projects: [A], pageSize: 50 });
    await sync(config, tdb());
    const [changed, trimmed, removed] = sim.jobs(A) as [V1Job, V1Job, V1Job];
    sim.upsertJob(A, { ...changed, status: 'ERROR', error_message: 'Document could not be parsed' });
    sim.upsertJob(A, { ...trimmed, rules: [{ type: 'memo', description: 'an internal memo or note' }], parsing_configuration: null });
    sim.removeJob(A, removed.id);
    const second = await sync(config, tdb());
    expect(second.projects[0]).toMatchObject({ inserted: 0, updated: 2, unchanged: 227, deleted: 1 });
    const db = tdb().database.db;
    expect(await storedRaw(db, A)).toEqual(expectedRaw(sim, A));
    const [c] = await queryRows<{ status: string; outcome: string; error_message: string }>(
      db,
      sql`SELECT status, outcome, error_message FROM classify_jobs WHERE id = ${changed.id}`,
    );
    expect(c).toEqual({ status: 'ERROR', outcome: 'failed', error_message: 'Document could not be parsed' });
    expect(await queryRows(db, sql`SELECT type FROM classify_job_rules WHERE job_id = ${trimmed.id}`)).toEqual([{ type: 'memo' }]);
    expect(await count(db, sql`SELECT count(*) AS n FROM classify_job_parsing_settings WHERE job_id = ${trimmed.id}`)).toBe(0);
    expect(await count(db, sql`SELECT count(*) AS n FROM classify_jobs WHERE id = ${removed.id} AND deleted_at IS NOT NULL`)).toBe(1);
    // The status move is in the history; the first sighting was a change from null.
    expect(
      await queryRows(db, sql`SELECT from_status, to_status FROM classify_job_status_changes WHERE job_id = ${changed.id} ORDER BY id`),
    ).toEqual([
      { from_status: null, to_status: changed.status },
      { from_status: changed.status, to_status: 'ERROR' },
    ]);

    sim.upsertJob(A, removed);
    const third = await sync(config, tdb());
    expect(third.projects[0]).toMatchObject({ updated: 1, deleted: 0 });
    expect(await count(db, sql`SELECT count(*) AS n FROM classify_jobs WHERE id = ${removed.id} AND deleted_at IS NULL`)).toBe(1);
  });

  it('never marks deletions when the API suddenly returns an empty project, unless told to', async () => {
    await sync(testConfig(sim, { api: 'v1', projects: [B] }), tdb());
    for (const job of sim.jobs(B)) sim.removeJob(B, job.id);
    const result = await sync(testConfig(sim, { api: 'v1', projects: [B] }), tdb());
    expect(result.projects[0]?.deleted).toBe(0);
    expect(result.projects[0]?.warning).toMatch(/deletions skipped.*--allow-mass-delete/);
    expect(await count(tdb().database.db, sql`SELECT count(*) AS n FROM classify_jobs WHERE deleted_at IS NULL`)).toBe(57);
    expect(
      await queryRows(
        tdb().database.db,
        sql`SELECT warning IS NOT NULL AS warned FROM sync_run_projects WHERE project_id = ${B} ORDER BY started_at DESC LIMIT 1`,
      ),
    ).toEqual([{ warned: true }]);

    const forced = await sync(testConfig(sim, { api: 'v1', projects: [B], allowMassDelete: true }), tdb());
    expect(forced.projects[0]?.deleted).toBe(57);
  });

  it('resumes an interrupted walk from its saved page token and converges', async () => {
    const config = testConfig(sim, { api: 'v1', projects: [A], pageSize: 10 });
    await sync(config, tdb());
    const controller = new AbortController();
    const first = await sync(config, tdb(), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.pages === 7) controller.abort();
      },
    });
    expect(first.status).toBe('cancelled');
    expect(first.projects[0]).toMatchObject({ status: 'cancelled', pages: 7 });
    const db = tdb().database.db;
    const [state] = await queryRows<{ page_token: string | null; walk_pages: number }>(
      db,
      sql`SELECT page_token, walk_pages FROM sync_state`,
    );
    expect(state?.page_token).toBeTruthy();
    expect(state?.walk_pages).toBe(7);

    // A stored job that disappears in the part of the walk still ahead is detected by the resumed walk.
    const seen = await queryRows<{ id: string }>(db, sql`SELECT unnest(job_ids) AS id FROM sync_walk_seen`);
    expect(seen).toHaveLength(70);
    const seenIds = new Set(seen.map((r) => r.id));
    const gone = sim.jobs(A).find((j) => !seenIds.has(j.id)) as V1Job;
    sim.removeJob(A, gone.id);
    const second = await sync(config, tdb());
    // 229 jobs in pages of 10 = 23 pages, 7 already stored.
    expect(second.projects[0]).toMatchObject({ status: 'succeeded', mode: 'resume', deleted: 1, pages: 16 });
    expect(await storedRaw(db, A)).toEqual(expectedRaw(sim, A));
  });

  it('restarts from the first page when the API refuses the saved token', async () => {
    const controller = new AbortController();
    const config = testConfig(sim, { api: 'v1', projects: [A], pageSize: 10 });
    await sync(config, tdb(), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.pages === 3) controller.abort();
      },
    });
    sim.invalidateTokens();
    const result = await sync(config, tdb());
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', mode: 'full', pages: 23 });
    expect(await storedRaw(tdb().database.db, A)).toEqual(expectedRaw(sim, A));
  });

  it('ends a token loop with a clear error, keeping what was stored', async () => {
    let firstToken: string | null | undefined;
    sim.setOnPage(({ pageIndex, body }) => {
      if (pageIndex === 0) firstToken = body.next_page_token;
      return pageIndex >= 1 ? { ...body, next_page_token: firstToken } : undefined;
    });
    const result = await sync(testConfig(sim, { api: 'v1', projects: [A], pageSize: 10 }), tdb());
    expect(result.projects[0]?.status).toBe('failed');
    expect(result.projects[0]?.error).toMatch(/token loop/);
    // The page that repeats a token is not stored; the next sync starts the walk over.
    expect(result.projects[0]?.pages).toBe(1);
    expect(await count(tdb().database.db, sql`SELECT count(*) AS n FROM classify_jobs`)).toBe(10);
    expect(await queryRows(tdb().database.db, sql`SELECT page_token FROM sync_state`)).toEqual([{ page_token: null }]);
  });
});

describe('a repeat sync with nothing changed upstream (real Postgres)', () => {
  const tdb = usePostgres();

  it('writes no row version in the job tables', async () => {
    const sim = await startSimulator({ projects: [{ id: A, jobs: 300 }], now: NOW });
    try {
      const config = testConfig(sim, { api: 'v1', projects: [A] });
      await syncAlone(config, tdb());
      const db = tdb().database.db;
      const tables = ['classify_jobs', 'classify_job_rules', 'classify_job_parsing_settings', 'classify_job_status_changes'];
      const before = await settledRowWrites(db, tables);
      expect(before[0]).toBe(300);
      const again = await syncAlone(config, tdb());
      expect(again.projects[0]).toMatchObject({ inserted: 0, updated: 0, unchanged: 300, deleted: 0 });
      expect(await settledRowWrites(db, tables)).toEqual(before);
    } finally {
      await sim.stop();
    }
  });
});
