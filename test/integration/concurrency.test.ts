// Concurrency: two `classify-sync sync` processes on the same projects at once end in the same data set
// as one, with each upstream change recorded once.
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { startSimulator, type Simulator, type V1Job } from '../../src/simulator/index.ts';
import { runCli } from '../helpers/cli.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { expectedRaw, storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { report } from '../helpers/reliability.ts';

const A = 'cc000000-0000-4000-8000-00000000000a';
const B = 'cc000000-0000-4000-8000-00000000000b';
const NOW = Date.parse('2026-11-01T00:00:00Z');

describe('two syncs at once (CLI child processes, real Postgres)', () => {
  const tdb = usePostgres();
  let sim: Simulator | undefined;

  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  it('end in the same data set as one sync, each change recorded once', async () => {
    sim = await startSimulator({
      apis: ['v1'],
      projects: [
        { id: A, jobs: 300 },
        { id: B, jobs: 200 },
      ],
      now: NOW,
    });
    await sync(testConfig(sim, { projects: [A, B] }), tdb());
    // Upstream changes since: removals, status changes, a new job.
    const removed = sim
      .jobs(A)
      .filter((_, i) => i % 100 === 50)
      .map((j) => j.id)
      .sort();
    for (const id of removed) sim.removeJob(A, id);
    const [b1, b2] = sim.jobs(B) as [V1Job, V1Job];
    sim.upsertJob(B, { ...b1, status: 'CANCELLED', error_message: 'Job was cancelled by the user' });
    sim.upsertJob(B, { ...b2, status: 'ERROR', error_message: 'No text could be extracted from the document' });
    const added = { ...(sim.jobs(A)[0] as V1Job), id: 'cc-new-job', created_at: '2026-10-31T23:00:00Z' };
    sim.upsertJob(A, added);
    // Slow pages, so the two walks overlap for their whole length.
    sim.setLatency(15);

    const env = { LLAMA_CLOUD_API_KEY: sim.apiKey, LLAMA_CLOUD_BASE_URL: sim.url, DATABASE_URL: tdb().url };
    const args = ['sync', '--project', A, '--project', B, '--page-size', '10'];
    const [one, two] = await Promise.all([runCli(args, env), runCli(args, env)]);
    report('concurrency', { processes: 2, exitCodes: `${one.code}/${two.code}`, pagesServed: sim.stats.pages });
    expect([one.code, two.code], one.stderr + two.stderr).toEqual([0, 0]);

    const db = tdb().database.db;
    for (const id of [A, B]) expect(await storedRaw(db, id)).toEqual(expectedRaw(sim, id));
    expect(
      (await queryRows<{ id: string }>(db, sql`SELECT id FROM classify_jobs WHERE deleted_at IS NOT NULL ORDER BY id`)).map((r) => r.id),
    ).toEqual(removed);
    // Each observed change once, however the two runs interleaved.
    const changes = await queryRows<{ job_id: string; from_status: string | null; to_status: string }>(
      db,
      sql`
      SELECT job_id, from_status, to_status FROM classify_job_status_changes
      WHERE job_id IN (${b1.id}, ${b2.id}, ${added.id}) AND observed_at > (SELECT min(finished_at) FROM sync_runs)
      ORDER BY job_id, id`,
    );
    expect(changes).toEqual(
      [
        { job_id: b1.id, from_status: b1.status, to_status: 'CANCELLED' },
        { job_id: b2.id, from_status: b2.status, to_status: 'ERROR' },
        { job_id: added.id, from_status: null, to_status: added.status },
      ].sort((x, y) => (x.job_id < y.job_id ? -1 : 1)),
    );
  }, 180_000); // two CLI processes at once on a 2-core machine
});
