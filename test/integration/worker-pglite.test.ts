// The worker in one process on the embedded PGlite database: same schedule logic, in-process locks.
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../src/commands/shared.ts';
import { queryRows } from '../../src/db/connect.ts';
import { silentLogger } from '../../src/log.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { createWorker } from '../../src/worker/schedule.ts';
import { useBackend } from '../helpers/fixtures.ts';
import { count, expectedRaw, storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { eventually } from '../helpers/worker.ts';

const A = 'aaaaaaaa-0000-4000-8000-00000000000a';
let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
});

describe('worker on embedded PGlite', () => {
  const tdb = useBackend('pglite');

  it('syncs at start, keeps a concurrent sync off the project it is walking, and stops between pages', async () => {
    sim = await startSimulator({ projects: [{ id: A, jobs: 200 }], apis: ['v1'], latencyMs: 80, now: Date.UTC(2026, 2, 1) });
    const db = tdb().database.db;
    const config = testConfig(sim, { projects: [A], pageSize: 10 });
    const worker = createWorker({
      config: { ...config, schedule: '0 2 * * *' },
      database: tdb().database,
      log: silentLogger,
      runNow: true,
    });
    await worker.start();
    await eventually(
      async () => (await count(db, sql`SELECT coalesce(max(pages), 0)::int AS n FROM sync_run_projects WHERE status = 'running'`)) >= 2,
      'two pages stored',
    );

    const concurrent = await sync(config, tdb());
    expect(concurrent.status).toBe('skipped');
    expect(concurrent.projects[0]).toMatchObject({
      status: 'skipped',
      warning: 'another process is syncing this project now (it holds the project lock)',
    });
    expect(exitCodeOf(concurrent)).toBe(0);

    await worker.stop();
    const runs = await queryRows<{ trigger: string; status: string }>(db, sql`SELECT trigger, status FROM sync_runs ORDER BY started_at`);
    expect(runs).toEqual([
      { trigger: 'worker', status: 'cancelled' },
      { trigger: 'sync', status: 'skipped' },
    ]);

    sim.setLatency(0);
    const next = await sync(config, tdb());
    expect(next.projects[0]).toMatchObject({ status: 'succeeded', mode: 'resume' });
    expect(await storedRaw(db, A)).toEqual(expectedRaw(sim, A));
  });
});
