// Properties of normalization over generated input (fast-check): what holds for every valid item,
// not only for the examples in normalize.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanJson, cleanString, normalizePage, normalizeTimestamp, normalizeV1Item } from '../../src/normalize.ts';
import { expectedOutcome, job, text, timestamp, withoutNul } from '../helpers/arbitraries.ts';
import { report } from '../helpers/reliability.ts';

const ctx = { projectId: 'proj-1', organizationId: undefined, apiVersion: 'v1' as const };
const RUNS = 300;

/** Microseconds since the epoch of a normalized timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)). */
function instantOf(canonical: string): bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|([+-])(\d{2}):(\d{2}))$/.exec(canonical);
  if (!m) throw new Error(`not canonical: ${canonical}`);
  const [, y, mo, d, h, mi, s, frac = '', , sign, oh = '0', om = '0'] = m;
  const utcMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  const year = Number(y);
  // Date.UTC maps years 0-99 to 1900-1999; the generator stays within 1900-2200.
  expect(year).toBeGreaterThanOrEqual(1899);
  return BigInt(utcMs - offsetMs) * 1000n + BigInt(frac.padEnd(6, '0'));
}

describe('normalization properties', () => {
  it('cleanString: never NUL, always well-formed, idempotent, and the identity on clean text', () => {
    const anyText = fc
      .array(fc.oneof(text(10), fc.constantFrom('\u0000', '\ud800', '\udfff', '\ud83d')), { maxLength: 8 })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(anyText, (s) => {
        const clean = cleanString(s);
        expect(clean.includes('\u0000')).toBe(false);
        expect(clean.isWellFormed()).toBe(true);
        expect(cleanString(clean)).toBe(clean);
        if (!s.includes('\u0000') && s.isWellFormed()) expect(clean).toBe(s);
      }),
      { numRuns: RUNS },
    );
  });

  it('normalizeTimestamp keeps the instant to the microsecond, in every form, and is idempotent', () => {
    fc.assert(
      fc.property(timestamp, ({ text: input, micros }) => {
        const canonical = normalizeTimestamp(input);
        expect(instantOf(canonical)).toBe(micros);
        expect(normalizeTimestamp(canonical)).toBe(canonical);
      }),
      { numRuns: RUNS },
    );
  });

  it('every valid item normalizes: columns, ordered rules, parsing settings and raw equal the item, NUL aside', () => {
    fc.assert(
      fc.property(job(ctx.projectId, 'job-'), ({ item, times }) => {
        const result = normalizeV1Item(item, ctx);
        if (!result.ok) throw new Error(`rejected: ${result.reject.reason}`);
        const expected = withoutNul(item) as Record<string, unknown>;
        const { job: row, rules, parsing } = result.value;
        expect(row.raw).toEqual(expected);
        expect(row).toMatchObject({
          id: expected.id,
          projectId: ctx.projectId,
          userId: expected.user_id,
          status: expected.status,
          outcome: expectedOutcome(expected.status as string),
          mode: expected.mode ?? null,
          errorMessage: expected.error_message ?? null,
          jobRecordId: expected.job_record_id ?? null,
        });
        for (const [key, column] of [
          ['created_at', 'createdAt'],
          ['updated_at', 'updatedAt'],
          ['effective_at', 'effectiveAt'],
        ] as const) {
          const value = row[column];
          expect(value === null || value === undefined ? null : instantOf(value)).toBe(times[key] ?? null);
        }
        expect(rules.map((r) => [r.position, r.type, r.description])).toEqual(
          (expected.rules as { type: string; description: string }[]).map((r, i) => [i, r.type, r.description]),
        );
        const pc = expected.parsing_configuration as Record<string, unknown> | null | undefined;
        expect(parsing).toEqual(
          pc == null
            ? undefined
            : {
                jobId: expected.id,
                lang: pc.lang ?? null,
                maxPages: pc.max_pages ?? null,
                targetPages: pc.target_pages ?? null,
                targetPagesSpec: null,
              },
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('a page keeps one job per id, the last sighting, and loses no item: each is a job or a reject', () => {
    const page = fc
      .array(
        fc.oneof(
          job(ctx.projectId, 'p-').map((g) => g.item),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        { maxLength: 12 },
      )
      .chain((items) => fc.shuffledSubarray(items).map((dupes) => [...items, ...dupes]));
    fc.assert(
      fc.property(page, (items) => {
        const { jobs, rejects } = normalizePage(items, ctx);
        const valid = items.filter((i) => normalizeV1Item(i, ctx).ok) as Record<string, unknown>[];
        expect(rejects).toHaveLength(items.length - valid.length);
        const lastById = new Map(valid.map((i) => [cleanString(String(i.id)), cleanJson(i)]));
        expect(new Map(jobs.map((j) => [j.job.id, j.job.raw]))).toEqual(lastById);
      }),
      { numRuns: RUNS / 3 },
    );
    report('property-normalize', { properties: 4, runs: RUNS * 3 + RUNS / 3, failures: 0 });
  });
});
