// Property (fast-check): generated valid items stored through the real normalizePage + storePage into
// Postgres read back unchanged, NUL aside: raw, columns, timestamps to the microsecond, rules, parsing.
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { storePage } from '../../src/db/pages.ts';
import { normalizePage } from '../../src/normalize.ts';
import { expectedOutcome, job, withoutNul, type GeneratedJob } from '../helpers/arbitraries.ts';
import { openTestDatabase, postgresReachable, type TestDatabase } from '../helpers/db.ts';
import { report } from '../helpers/reliability.ts';

const PROJECT = 'a0000000-0000-4000-8000-0000000000a0';
const RUN_ID = 'a0000000-0000-4000-8000-0000000000a1';
const RUNS = 60;

interface StoredJob {
  id: string;
  status: string;
  outcome: string;
  mode: string | null;
  user_id: string;
  error_message: string | null;
  job_record_id: string | null;
  raw: unknown;
  created_us: string | null;
  updated_us: string | null;
  effective_us: string | null;
}

describe('round trip through normalization and Postgres (property)', () => {
  let tdb: TestDatabase;

  beforeAll(async () => {
    if (await postgresReachable()) tdb = await openTestDatabase('postgres');
  });
  afterAll(async () => {
    await tdb?.close();
  });

  it(`${RUNS} generated pages of valid items read back unchanged, NUL aside`, async (ctx) => {
    if (!tdb) return ctx.skip();
    const db = tdb.database.db;
    // Up to 6 jobs a page, each id unique within its page.
    const page = fc
      .array(fc.nat(), { minLength: 1, maxLength: 6 })
      .chain((slots) => fc.tuple(...slots.map((_, i) => job(PROJECT, `j${i}-`))));
    let items = 0;
    // Printed with the figures, so a run can be replayed (fast-check prints its seed on failure too).
    const seed = Number(process.env.PROPERTY_SEED ?? Date.now() % 2 ** 31);
    await fc.assert(
      fc.asyncProperty(page, async (generated: GeneratedJob[]) => {
        await tdb.reset();
        const normalized = normalizePage(
          generated.map((g) => g.item),
          { projectId: PROJECT, organizationId: undefined, apiVersion: 'v1' },
        );
        expect(normalized.rejects).toEqual([]);
        await storePage(db, {
          runId: RUN_ID,
          projectId: PROJECT,
          apiVersion: 'v1',
          pageNumber: 1,
          jobs: normalized.jobs,
          rejects: [],
          nextPageToken: undefined,
          retries: 0,
          totalSize: undefined,
          trackSeen: true,
        });
        items += generated.length;

        const rows = new Map(
          (
            await queryRows<StoredJob>(
              db,
              sql`
        SELECT id, status, outcome, mode, user_id, error_message, job_record_id, raw,
          (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_us,
          (extract(epoch FROM updated_at) * 1000000)::bigint::text AS updated_us,
          (extract(epoch FROM effective_at) * 1000000)::bigint::text AS effective_us
        FROM classify_jobs`,
            )
          ).map((r) => [r.id, r]),
        );
        const rules = await queryRows<{ job_id: string; position: number; type: string; description: string }>(
          db,
          sql`SELECT job_id, position, type, description FROM classify_job_rules ORDER BY job_id, position`,
        );
        const parsing = new Map(
          (
            await queryRows<{ job_id: string; lang: string | null; max_pages: number | null; target_pages: number[] | null }>(
              db,
              sql`SELECT job_id, lang, max_pages, target_pages FROM classify_job_parsing_settings`,
            )
          ).map((p) => [p.job_id, p]),
        );

        expect(rows.size).toBe(generated.length);
        for (const { item, times } of generated) {
          const expected = withoutNul(item) as Record<string, unknown>;
          const row = rows.get(expected.id as string);
          expect(row).toBeDefined();
          expect(row?.raw).toEqual(expected);
          expect(row).toMatchObject({
            status: expected.status,
            outcome: expectedOutcome(expected.status as string),
            mode: expected.mode ?? null,
            user_id: expected.user_id,
            error_message: expected.error_message ?? null,
            job_record_id: expected.job_record_id ?? null,
            created_us: times.created_at?.toString() ?? null,
            updated_us: times.updated_at?.toString() ?? null,
            effective_us: times.effective_at?.toString() ?? null,
          });
          expect(rules.filter((r) => r.job_id === expected.id).map((r) => [r.position, r.type, r.description])).toEqual(
            (expected.rules as { type: string; description: string }[]).map((r, i) => [i, r.type, r.description]),
          );
          const pc = expected.parsing_configuration as Record<string, unknown> | null | undefined;
          expect(parsing.get(expected.id as string) ?? null).toEqual(
            pc == null
              ? null
              : {
                  job_id: expected.id,
                  lang: pc.lang ?? null,
                  max_pages: pc.max_pages ?? null,
                  target_pages: pc.target_pages ?? null,
                },
          );
        }
      }),
      {
        numRuns: RUNS,
        seed,
        // Shrinking re-runs database round trips by the hundred; the first counterexample says enough.
        endOnFailure: true,
      },
    );
    report('property-roundtrip', { runs: RUNS, items, seed, failures: 0 });
  }, 180_000);
});
