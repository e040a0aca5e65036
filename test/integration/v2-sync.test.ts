// `--api v2`: a full walk of GET /api/v2/classify stores exactly what the API serves, on Postgres and PGlite.
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { outcomeOf } from '../../src/normalize.ts';
import { startSimulator, type Simulator, type V2Job } from '../../src/simulator/index.ts';
import type { TestDatabase } from '../helpers/db.ts';
import { useBackend, usePostgres } from '../helpers/fixtures.ts';
import { storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { expectedRawV2, runProject } from '../helpers/v2.ts';

const NOW = Date.UTC(2026, 2, 1);
/** PGlite's WASM start and migrations alone take tens of seconds on a busy machine. */
const PGLITE_TIMEOUT_MS = 180_000;
const P = '11111111-1111-4111-8111-111111111111';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function setup(tdb: TestDatabase, jobs: number) {
  sim = await startSimulator({ projects: [{ id: P, jobs }], now: NOW, apis: ['v2'] });
  return { sim, tdb, db: tdb.database.db };
}

describe.each(['postgres', 'pglite'] as const)('v2 full sync (%s)', (backend) => {
  const database = useBackend(backend);

  it(
    'stores every job exactly as the simulator serves it, in the v2 columns',
    async () => {
      const { sim, tdb, db } = await setup(database(), 260);
      const result = await sync(testConfig(sim, { projects: [P], api: 'v2', pageSize: 100 }), tdb);

      expect(result.projects[0]).toMatchObject({
        status: 'succeeded',
        apiVersion: 'v2',
        mode: 'full',
        pages: 3,
        jobsSeen: 260,
        inserted: 260,
        rejects: 0,
      });
      expect(await runProject(db, result.runId, P)).toMatchObject({ api_version: 'v2', mode: 'full', status: 'succeeded', pages_saved: 0 });
      expect(await storedRaw(db, P)).toEqual(expectedRawV2(sim, P));

      const jobs = await queryRows<Record<string, unknown>>(
        db,
        sql`
      SELECT id, api_version, status, outcome, mode, file_input, document_input_type, configuration_id, parse_job_id,
        transaction_id, result_type, result_confidence, result_reasoning, error_message FROM classify_jobs`,
      );
      const byId = new Map(jobs.map((j) => [j.id, j]));
      for (const job of sim.jobsV2(P)) {
        expect(byId.get(job.id)).toEqual({
          id: job.id,
          api_version: 'v2',
          status: job.status,
          outcome: outcomeOf(job.status),
          mode: 'FAST',
          file_input: job.file_input,
          document_input_type: job.document_input_type,
          configuration_id: job.configuration_id ?? null,
          parse_job_id: job.parse_job_id ?? null,
          transaction_id: job.transaction_id ?? null,
          result_type: job.result?.type ?? null,
          result_confidence: job.result?.confidence ?? null,
          result_reasoning: job.result?.reasoning ?? null,
          error_message: job.error_message ?? null,
        });
      }

      // The rules in order, and the page spec both verbatim and as v1's 0-based pages (the seeded v1 twin is the oracle).
      const rules = await queryRows<{ job_id: string; type: string; description: string }>(
        db,
        sql`
      SELECT job_id, type, description FROM classify_job_rules ORDER BY job_id, position`,
      );
      const expectedRules = sim
        .jobsV2(P)
        .flatMap((j) => j.configuration.rules.map((r) => ({ job_id: j.id, type: r.type, description: r.description })));
      expect(rules).toEqual(expectedRules.sort((a, b) => (a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0)));
      const parsing = await queryRows<{
        job_id: string;
        lang: string | null;
        target_pages: number[] | null;
        target_pages_spec: string | null;
      }>(
        db,
        sql`
      SELECT job_id, lang, target_pages, target_pages_spec FROM classify_job_parsing_settings`,
      );
      const v1Pages = new Map(sim.jobs(P).map((j) => [j.id, j.parsing_configuration?.target_pages ?? null]));
      const v2Specs = new Map(sim.jobsV2(P).map((j) => [j.id, j.configuration.parsing_configuration?.target_pages ?? null]));
      expect(parsing.length).toBe(sim.jobsV2(P).filter((j) => j.configuration.parsing_configuration != null).length);
      expect(parsing.filter((p) => p.target_pages_spec !== null).length).toBeGreaterThan(10);
      for (const row of parsing) {
        expect(row.target_pages_spec).toBe(v2Specs.get(row.job_id));
        expect(row.target_pages).toEqual(v1Pages.get(row.job_id));
      }
      expect(await queryRows(db, sql`SELECT count(*)::int AS n FROM sync_rejects`)).toEqual([{ n: 0 }]);
    },
    PGLITE_TIMEOUT_MS,
  );
});

describe('v2 validation and quarantine', () => {
  const database = usePostgres();

  it('quarantines bad items, stores odd-but-valid ones, and keeps page_size at 100 or under', async () => {
    const { sim, tdb, db } = await setup(database(), 120);
    const template = sim.jobsV2(P)[0] as V2Job;
    const badSpec = {
      ...structuredClone(template),
      id: 'cls_bad_spec',
      configuration: { ...template.configuration, parsing_configuration: { lang: 'en', target_pages: '1-999999999' } },
    };
    sim.insertRawItemV2(P, badSpec);
    sim.insertRawItemV2(P, {
      id: 'cls_no_config',
      project_id: P,
      user_id: 'u',
      status: 'COMPLETED',
      file_input: 'f',
      document_input_type: 'url',
    });
    sim.upsertJobV2(P, { ...structuredClone(template), id: 'cls_01HZX8QUEUED', status: 'QUEUED' });

    // A config that asks for more than v2 allows still sends 100: the simulator would answer 422.
    const config = { ...testConfig(sim, { projects: [P], api: 'v2' }), pageSize: 150 };
    const result = await sync(config, tdb);
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', jobsSeen: 121, rejects: 2 });

    const rejects = await queryRows<{ reason: string; payload: string; api_version: string }>(
      db,
      sql`
      SELECT reason, payload, api_version FROM sync_rejects ORDER BY reason COLLATE "C"`,
    );
    expect(rejects.map((r) => [r.api_version, r.reason.split(':')[0], (JSON.parse(r.payload) as { id: string }).id])).toEqual([
      ['v2', 'configuration.parsing_configuration.target_pages', 'cls_bad_spec'],
      ['v2', 'configuration', 'cls_no_config'],
    ]);
    expect(rejects[0]?.reason).toContain('above the limit');
    expect(await queryRows(db, sql`SELECT id, status, outcome FROM classify_jobs WHERE id = 'cls_01HZX8QUEUED'`)).toEqual([
      { id: 'cls_01HZX8QUEUED', status: 'QUEUED', outcome: 'unknown' },
    ]);
    // The rejected item with an id still counts as listed: it is not marked deleted later.
    expect(await queryRows(db, sql`SELECT count(*)::int AS n FROM classify_jobs WHERE deleted_at IS NOT NULL`)).toEqual([{ n: 0 }]);
  });
});
