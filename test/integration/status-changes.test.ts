// classify_job_status_changes: one row per observed status change, written with the page.
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryRows, type Db } from '../../src/db/connect.ts';
import { simProjectId, startSimulator, type Simulator } from '../../src/simulator/index.ts';
import type { Backend } from '../helpers/db.ts';
import { useBackend } from '../helpers/fixtures.ts';
import { sync, testConfig } from '../helpers/harness.ts';

const SEED = 11;
const NOW = Date.UTC(2026, 9, 1);
const A = simProjectId(SEED, 0);
const B = simProjectId(SEED, 1);

interface Change {
  job_id: string;
  project_id: string;
  from_status: string | null;
  to_status: string;
  run_id: string;
}

async function changes(db: Db): Promise<Change[]> {
  return queryRows<Change>(
    db,
    sql`
    SELECT job_id, project_id, from_status, to_status, run_id::text AS run_id
    FROM classify_job_status_changes ORDER BY id`,
  );
}

describe.each<Backend>(['postgres', 'pglite'])('status changes on %s', (backend) => {
  const tdb = useBackend(backend);
  let sim: Simulator;

  beforeEach(async () => {
    sim = await startSimulator({
      apis: ['v1'],
      projects: [
        { id: A, jobs: 60 },
        { id: B, jobs: 25 },
      ],
      seed: SEED,
      now: NOW,
    });
  });
  afterEach(async () => {
    await sim.stop();
  });

  it('records the first sighting as a change from null, then only the jobs whose status moved upstream', async () => {
    const config = testConfig(sim, { projects: [A, B], pageSize: 10 });
    const first = await sync(config, tdb());
    const initial = await changes(tdb().database.db);
    const expectedFirst = [A, B].flatMap((p) =>
      sim.jobs(p).map((j) => ({
        job_id: j.id,
        project_id: p,
        from_status: null,
        to_status: j.status,
        run_id: first.runId,
      })),
    );
    expect(initial).toHaveLength(85);
    expect(new Set(initial.map((c) => JSON.stringify(c)))).toEqual(new Set(expectedFirst.map((c) => JSON.stringify(c))));

    const pending = sim.jobs(A).filter((j) => j.status === 'PENDING');
    const succeeded = sim.jobs(B).find((j) => j.status === 'SUCCESS');
    expect(pending.length).toBeGreaterThanOrEqual(2);
    if (!succeeded) throw new Error('fixture: project B needs a SUCCESS job');
    const [moveToSuccess, moveToError] = pending;
    if (!moveToSuccess || !moveToError) throw new Error('fixture: project A needs two PENDING jobs');
    sim.upsertJob(A, { ...moveToSuccess, status: 'SUCCESS', updated_at: new Date(NOW).toISOString() });
    sim.upsertJob(A, { ...moveToError, status: 'ERROR', error_message: 'No text could be extracted from the document' });
    // A change of something other than the status rewrites the job but is not a status change.
    sim.upsertJob(B, { ...succeeded, mode: succeeded.mode === 'FAST' ? 'MULTIMODAL' : 'FAST' });

    const second = await sync(config, tdb());
    expect(second.projects.map((p) => p.updated)).toEqual([2, 1]);
    const after = await changes(tdb().database.db);
    expect(after.slice(0, 85)).toEqual(initial);
    expect(after.slice(85)).toEqual(
      expect.arrayContaining([
        { job_id: moveToSuccess.id, project_id: A, from_status: 'PENDING', to_status: 'SUCCESS', run_id: second.runId },
        { job_id: moveToError.id, project_id: A, from_status: 'PENDING', to_status: 'ERROR', run_id: second.runId },
      ]),
    );
    expect(after).toHaveLength(87);
  });

  it('writes no row when a re-sync finds every job unchanged', async () => {
    const config = testConfig(sim, { projects: [A, B] });
    await sync(config, tdb());
    const before = await changes(tdb().database.db);
    const again = await sync(config, tdb());
    expect(again.projects.map((p) => [p.unchanged, p.updated, p.inserted])).toEqual([
      [60, 0, 0],
      [25, 0, 0],
    ]);
    expect(await changes(tdb().database.db)).toEqual(before);
  });
});
