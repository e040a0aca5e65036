// Deletion safety: deletes by absence only after a complete walk, never when the walk saw too little of
// what is stored (a warning instead), and `--allow-mass-delete` overrides that.
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.ts';
import { queryRows } from '../../src/db/connect.ts';
import { completeWalk } from '../../src/db/walks.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { runCli } from '../helpers/cli.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { count, expectedRaw, storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { report } from '../helpers/reliability.ts';

const P = 'de000000-0000-4000-8000-0000000000de';
const NOW = Date.parse('2026-11-01T00:00:00Z');

describe('deletion safety (real Postgres)', () => {
  const tdb = usePostgres();
  let sim: Simulator | undefined;

  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  const deletedIds = async () =>
    (await queryRows<{ id: string }>(tdb().database.db, sql`SELECT id FROM classify_jobs WHERE deleted_at IS NOT NULL ORDER BY id`)).map(
      (r) => r.id,
    );

  it('an interrupted walk never deletes, however it ends; the walk that completes deletes exactly what went away', async () => {
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: P, jobs: 200 }], now: NOW });
    const config: Config = testConfig(sim, { projects: [P], pageSize: 10 });
    await sync(config, tdb());
    const gone = sim
      .jobs(P)
      .filter((_, i) => i % 40 === 7)
      .map((j) => j.id)
      .sort();
    for (const id of gone) sim.removeJob(P, id);
    const endings: string[] = [];

    // 1. The API fails for good from the 5th page on.
    sim.setOnPage(({ pageIndex }) => {
      if (pageIndex === 3) sim?.setFaults({ rate: 1, kinds: ['503'] }, P);
      return undefined;
    });
    const failed = await sync(config, tdb());
    expect(failed.projects[0]).toMatchObject({ status: 'failed', pages: 4, deleted: 0 });
    expect(await deletedIds()).toEqual([]);
    endings.push('api-failure');
    sim.setFaults(undefined, P);
    sim.setOnPage(undefined);

    // 2. Stopped (SIGINT/SIGTERM in the CLI) after two more pages of the resumed walk.
    const controller = new AbortController();
    const cancelled = await sync(config, tdb(), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.pages - p.resumedPages === 2) controller.abort();
      },
    });
    expect(cancelled.projects[0]).toMatchObject({ status: 'cancelled', mode: 'resume', pages: 2, deleted: 0 });
    expect(await deletedIds()).toEqual([]);
    endings.push('cancelled');

    // 3. More pages than maxPages allows.
    const tooLong = await sync(Object.freeze({ ...config, maxPages: 8 }), tdb());
    expect(tooLong.projects[0]?.status).toBe('failed');
    expect(tooLong.projects[0]?.error).toMatch(/more than 8 pages in one walk \(maxPages\)/);
    expect(await deletedIds()).toEqual([]);
    endings.push('max-pages');

    // 4. A token loop (the walk starts over after it).
    let firstToken: string | null | undefined;
    sim.setOnPage(({ pageIndex, body }) => {
      if (pageIndex === 0) firstToken = body.next_page_token;
      return pageIndex === 12 ? { ...body, next_page_token: firstToken } : undefined;
    });
    const looped = await sync(config, tdb());
    expect(looped.projects[0]?.error).toMatch(/token loop/);
    expect(await deletedIds()).toEqual([]);
    endings.push('token-loop');
    sim.setOnPage(undefined);

    // The first walk that completes deletes exactly the five jobs that went away, nothing else.
    const complete = await sync(config, tdb());
    expect(complete.projects[0]).toMatchObject({ status: 'succeeded', deleted: 5 });
    expect(await deletedIds()).toEqual(gone);
    expect(await storedRaw(tdb().database.db, P)).toEqual(expectedRaw(sim, P));
    report('deletion', { interruptedWalks: endings.length, endings: endings.join('/'), wronglyDeleted: 0, deletedAfterCompleteWalk: 5 });
  });

  it('completing a walk a second time (a retry after a lost commit acknowledgement) deletes nothing', async () => {
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: P, jobs: 100 }], now: NOW });
    // v1: every sync is a full walk that detects deletions.
    const config = testConfig(sim, { projects: [P], pageSize: 50, allowMassDelete: true, api: 'v1' });
    await sync(config, tdb());
    for (const job of sim.jobs(P).slice(0, 10)) sim.removeJob(P, job.id);
    const result = await sync(config, tdb());
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', deleted: 10 });

    // The database committed the walk's end, the client never heard so, and runs it again: the walk's seen
    // ids are gone by now, so every stored job looks unseen, and --allow-mass-delete lifts the share guard.
    const again = await completeWalk(tdb().database.db, {
      runId: result.runId,
      projectId: P,
      apiVersion: 'v1',
      detectDeletions: true,
      minSeenShare: 0.5,
      allowMassDelete: true,
    });
    expect(again).toEqual({ deleted: 0, warning: undefined });
    expect(await storedRaw(tdb().database.db, P)).toEqual(expectedRaw(sim, P));
  });

  it('the share under which deletes are skipped is configurable (massDeleteMinShare)', async () => {
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: P, jobs: 100 }], now: NOW });
    const config = testConfig(sim, { projects: [P], pageSize: 50 });
    await sync(config, tdb());
    for (const job of sim.jobs(P).slice(0, 30)) sim.removeJob(P, job.id);

    const strict = await sync(Object.freeze({ ...config, massDeleteMinShare: 0.8 }), tdb());
    expect(strict.projects[0]).toMatchObject({ status: 'succeeded', deleted: 0 });
    expect(strict.projects[0]?.warning).toBe(
      'deletions skipped: the walk saw 70 of 100 stored jobs (under 80%); if the project really lost them, run again with --allow-mass-delete',
    );
    const [recorded] = await queryRows<{ warning: string }>(
      tdb().database.db,
      sql`SELECT warning FROM sync_run_projects WHERE run_id = ${strict.runId}`,
    );
    expect(recorded?.warning).toBe(strict.projects[0]?.warning);

    const byDefault = await sync(config, tdb());
    expect(byDefault.projects[0]).toMatchObject({ status: 'succeeded', deleted: 30, warning: undefined });
    expect(await storedRaw(tdb().database.db, P)).toEqual(expectedRaw(sim, P));
  });

  it('CLI: an emptied project is a warning and exit 0; --allow-mass-delete applies the deletes', async () => {
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: P, jobs: 57 }], now: NOW });
    await sync(testConfig(sim, { projects: [P] }), tdb());
    for (const job of sim.jobs(P)) sim.removeJob(P, job.id);
    const env = { LLAMA_CLOUD_API_KEY: sim.apiKey, LLAMA_CLOUD_BASE_URL: sim.url, DATABASE_URL: tdb().url };

    const guarded = await runCli(['sync', '--project', P], env);
    expect(guarded.code).toBe(0);
    expect(guarded.stderr).toContain(
      `project ${P} succeeded (v1, full): 1 pages, 0 jobs (0 new, 0 updated, 0 unchanged, 0 deleted), 0 rejected, 0 retries; ` +
        'warning: deletions skipped: the walk saw 0 of 57 stored jobs (under 50%); if the project really lost them, run again with --allow-mass-delete',
    );
    expect(await count(tdb().database.db, sql`SELECT count(*) AS n FROM classify_jobs WHERE deleted_at IS NULL`)).toBe(57);

    const forced = await runCli(['sync', '--project', P, '--allow-mass-delete'], env);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain('(0 new, 0 updated, 0 unchanged, 57 deleted)');
    expect(forced.stderr).not.toContain('warning');
    expect(await count(tdb().database.db, sql`SELECT count(*) AS n FROM classify_jobs WHERE deleted_at IS NOT NULL`)).toBe(57);
  }, 180_000); // two CLI processes
});
