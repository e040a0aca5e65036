import { describe, expect, it } from 'vitest';
import { BoundaryDedup, planSlices, rangesBetween, sliceCount, type CountProbe, type StoredDates } from '../../src/sync/slices.ts';

const NOW = Date.UTC(2026, 2, 1);
const DAY = 86_400_000;
const noneStored: StoredDates = { count: 0, withoutCreatedAt: 0, quantiles: () => Promise.resolve([]) };

/** A count probe over a list of creation times (null: no created_at), as the API counts with inclusive filters. */
function countOver(times: readonly (number | null)[], withTotal = true): CountProbe & { calls: number } {
  const probe = (filter: { createdAtOnOrAfter?: string | undefined; createdAtOnOrBefore?: string | undefined }) => {
    probe.calls += 1;
    if (!withTotal) return Promise.resolve(undefined);
    const after = filter.createdAtOnOrAfter === undefined ? undefined : Date.parse(filter.createdAtOnOrAfter);
    const before = filter.createdAtOnOrBefore === undefined ? undefined : Date.parse(filter.createdAtOnOrBefore);
    const filtered = after !== undefined || before !== undefined;
    return Promise.resolve(
      times.filter((t) => (t === null ? !filtered : (after === undefined || t >= after) && (before === undefined || t <= before))).length,
    );
  };
  probe.calls = 0;
  return probe;
}

/** Jobs per range, counted the way the walk takes them (each job once, on a shared boundary by the first range). */
function perRange(times: readonly number[], boundaries: readonly string[]): number[] {
  const ranges = rangesBetween(boundaries);
  const counts = ranges.map(() => 0);
  for (const t of times) {
    const i = ranges.findIndex(
      (r) =>
        (r.createdAtOnOrAfter === undefined || t >= Date.parse(r.createdAtOnOrAfter)) &&
        (r.createdAtOnOrBefore === undefined || t <= Date.parse(r.createdAtOnOrBefore)),
    );
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

describe('sliceCount', () => {
  it('auto: about 25 pages a slice, at most maxSlices; n: never more slices than pages', () => {
    expect(sliceCount(20_000, 'auto', 8, 100)).toBe(8);
    expect(sliceCount(5_000, 'auto', 8, 100)).toBe(2);
    expect(sliceCount(260, 'auto', 8, 100)).toBe(1);
    expect(sliceCount(300, 16, 8, 100)).toBe(3);
    expect(sliceCount(0, 4, 8, 100)).toBe(1);
  });
});

describe('rangesBetween', () => {
  it('open at both ends, adjacent ranges sharing each boundary, duplicates merged', () => {
    const b = ['2026-02-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00Z'];
    expect(rangesBetween(b)).toEqual([
      { createdAtOnOrAfter: undefined, createdAtOnOrBefore: '2026-01-01T00:00:00.000Z' },
      { createdAtOnOrAfter: '2026-01-01T00:00:00.000Z', createdAtOnOrBefore: '2026-02-01T00:00:00.000Z' },
      { createdAtOnOrAfter: '2026-02-01T00:00:00.000Z', createdAtOnOrBefore: undefined },
    ]);
  });
});

describe('planSlices', () => {
  const input = (count: CountProbe, over: Partial<Parameters<typeof planSlices>[0]> = {}) => ({
    count,
    stored: noneStored,
    slices: 'auto' as const,
    maxSlices: 8,
    pageSize: 100,
    nowMs: NOW,
    ...over,
  });

  it('splits a first backfill into balanced slices from count probes', async () => {
    // Growth: most jobs recent, some a year old.
    const times = Array.from({ length: 20_000 }, (_, i) => NOW - Math.floor((((i * 7919) % 20_000) ** 2 / 20_000 ** 2) * 400 * DAY));
    const probe = countOver(times);
    const plan = await planSlices(input(probe));
    expect(plan.sliced).toBe(true);
    if (!plan.sliced) return;
    expect(plan.ranges).toHaveLength(8);
    const boundaries = plan.ranges.flatMap((r) => (r.createdAtOnOrBefore ? [r.createdAtOnOrBefore] : []));
    const counts = perRange(times, boundaries);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(20_000);
    for (const c of counts) expect(c).toBeLessThan((20_000 / 8) * 1.6);
    // Two totals and one round of probes in time.
    expect(probe.calls).toBeLessThanOrEqual(15);
  });

  it('a re-walk takes the stored quantiles and asks for the totals only', async () => {
    const probe = countOver(Array.from({ length: 5_000 }, (_, i) => NOW - i * 60_000));
    const asked: number[][] = [];
    const stored: StoredDates = {
      count: 5_000,
      withoutCreatedAt: 0,
      quantiles: (f) => {
        asked.push(f);
        return Promise.resolve(['2026-02-25T00:00:00.000Z']);
      },
    };
    const plan = await planSlices(input(probe, { stored }));
    expect(asked).toEqual([[0.5]]);
    expect(plan).toMatchObject({ sliced: true, total: 5_000 });
    expect(probe.calls).toBe(2);
  });

  it('stays one cursor chain when it could not be exact or would not help', async () => {
    const times = Array.from({ length: 5_000 }, (_, i) => NOW - i * 60_000);
    expect(await planSlices(input(countOver(times, false)))).toMatchObject({
      sliced: false,
      reason: expect.stringMatching(/total_size/) as unknown,
    });
    expect(await planSlices(input(countOver([...times, null])))).toMatchObject({
      sliced: false,
      reason: '1 jobs have no created_at, which no creation-time filter lists',
    });
    expect(await planSlices(input(countOver(times), { stored: { ...noneStored, withoutCreatedAt: 3 } }))).toMatchObject({ sliced: false });
    expect(await planSlices(input(countOver(times.slice(0, 800))))).toMatchObject({ sliced: false, reason: '800 jobs fit one slice' });
    expect(await planSlices(input(countOver(times), { slices: 1 }))).toMatchObject({ sliced: false });
  });
});

describe('BoundaryDedup', () => {
  it('keeps the first sighting of a job on a shared boundary, whatever the precision of its created_at', () => {
    const dedup = new BoundaryDedup(rangesBetween(['2026-01-01T00:00:00.000Z']));
    expect(dedup.first('a', '2026-01-01T00:00:00Z')).toBe(true);
    expect(dedup.first('a', '2026-01-01T01:00:00+01:00')).toBe(false);
    // Microseconds past the boundary: listed by one slice only, kept.
    expect(dedup.first('b', '2026-01-01T00:00:00.000500Z')).toBe(true);
    expect(dedup.first('c', '2026-01-02T00:00:00Z')).toBe(true);
    expect(dedup.first('c', '2026-01-02T00:00:00Z')).toBe(true);
    expect(dedup.first('d', null)).toBe(true);
  });
});
