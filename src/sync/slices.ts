// Splitting a full v2 walk of one project into creation-time slices walked in parallel, each its own
// cursor chain (docs/performance.md, "Sliced full walks"). Pure but for the probes it is handed.
//
// Exact by construction:
// - The first slice has no lower bound and the last no upper bound, so every created_at falls in one.
// - Adjacent slices share their boundary instant (both filters are inclusive upstream): a job created
//   exactly on it is listed by both, and the walk keeps its first sighting only (BoundaryDedup); a job a
//   microsecond past it is listed by one. Nothing depends on the precision of upstream's timestamps.
// - Jobs without created_at match no time filter. A walk is sliced only when the API says there are
//   none (the unfiltered total_size equals the total of jobs created since 1970) and the database holds
//   none; the same check after the slices decides whether a pass over the whole list must follow.
import type { SliceRange } from '../db/walks.ts';

/** Roughly the pages a slice should have: fewer and the probes and start-up cost more than they save. */
export const PAGES_PER_SLICE = 25;
/** A lower bound every job's created_at is past: "created since then" = "has a created_at". */
export const EPOCH = '1970-01-01T00:00:00.000Z';
const DAY_MS = 86_400_000;
/** Ages (days before now) of the probes that locate a first backfill's jobs in time. */
const PROBE_AGES_DAYS = [0.25, 1, 3, 7, 14, 30, 60, 90, 180, 365, 730, 1825, 3650];

export interface TimeFilter {
  createdAtOnOrAfter?: string | undefined;
  createdAtOnOrBefore?: string | undefined;
}

/** total_size of the list with these filters (a page of one item); undefined when the API gives none. */
export type CountProbe = (filter: TimeFilter) => Promise<number | undefined>;

export interface StoredDates {
  /** Live stored jobs of the project. */
  count: number;
  /** ...of which without created_at. */
  withoutCreatedAt: number;
  /** created_at quantiles of the stored jobs at the fractions asked (ISO, ascending). */
  quantiles(fractions: number[]): Promise<string[]>;
}

export interface SlicePlanInput {
  count: CountProbe;
  stored: StoredDates;
  /** Config `slices`. */
  slices: number | 'auto';
  /** At most this many slices for auto (config maxInFlight). */
  maxSlices: number;
  pageSize: number;
  nowMs: number;
}

export type SlicePlan =
  { sliced: false; reason: string; total: number | undefined } | { sliced: true; ranges: SliceRange[]; total: number; reason: string };

/** How many slices a list of `total` jobs gets. */
export function sliceCount(total: number, slices: number | 'auto', maxSlices: number, pageSize: number): number {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const wanted = slices === 'auto' ? Math.min(maxSlices, Math.ceil(pages / PAGES_PER_SLICE)) : slices;
  return Math.max(1, Math.min(wanted, pages));
}

/** Does the API list jobs without created_at (that no slice could see)? undefined: it cannot tell. */
export async function jobsWithoutCreatedAt(count: CountProbe): Promise<{ total: number | undefined; missing: number | undefined }> {
  const [total, dated] = await Promise.all([count({}), count({ createdAtOnOrAfter: EPOCH })]);
  if (total === undefined || dated === undefined) return { total, missing: undefined };
  return { total, missing: Math.max(0, total - dated) };
}

export async function planSlices(input: SlicePlanInput): Promise<SlicePlan> {
  if (input.slices === 1) return { sliced: false, reason: 'slices 1', total: undefined };
  if (input.stored.withoutCreatedAt > 0) {
    return { sliced: false, total: undefined, reason: `${input.stored.withoutCreatedAt} stored jobs have no created_at` };
  }
  const { total, missing } = await jobsWithoutCreatedAt(input.count);
  if (total === undefined || missing === undefined) {
    return { sliced: false, total, reason: 'the list gives no total_size, so a sliced walk could not be checked complete' };
  }
  if (missing > 0) return { sliced: false, total, reason: `${missing} jobs have no created_at, which no creation-time filter lists` };
  const n = sliceCount(total, input.slices, input.maxSlices, input.pageSize);
  if (n <= 1) return { sliced: false, total, reason: `${total} jobs fit one slice` };

  const fractions = Array.from({ length: n - 1 }, (_, i) => (i + 1) / n);
  // A re-walk knows where its jobs are: the stored ones' quantiles cost no request.
  const fromStore = input.stored.count >= total / 2;
  const boundaries = fromStore
    ? await input.stored.quantiles(fractions)
    : await probedQuantiles(input.count, total, fractions, input.nowMs);
  const ranges = rangesBetween(boundaries);
  if (ranges.length <= 1) return { sliced: false, total, reason: 'the jobs were all created at one instant' };
  return {
    sliced: true,
    total,
    ranges,
    reason: `${total} jobs in ${ranges.length} creation-time slices (boundaries from ${fromStore ? 'the stored jobs' : 'count probes'})`,
  };
}

/**
 * created_at quantiles estimated from counts of jobs created on or after a few instants spread over
 * ten years (more of them recently), interpolated linearly in time between the probes.
 */
async function probedQuantiles(count: CountProbe, total: number, fractions: number[], nowMs: number): Promise<string[]> {
  const times = PROBE_AGES_DAYS.map((days) => nowMs - days * DAY_MS).sort((a, b) => a - b);
  const counts = await Promise.all(times.map((t) => count({ createdAtOnOrAfter: new Date(t).toISOString() })));
  // Points of "jobs created at or after t", oldest first; past the newest probe the count falls to 0 at now.
  const points: [number, number][] = times.map((t, i) => [t, Math.min(total, counts[i] ?? total)]);
  points.push([nowMs, 0]);
  return fractions.map((f) => {
    const after = total * (1 - f);
    const first = points[0] as [number, number];
    if (after >= first[1]) return new Date(first[0]).toISOString();
    for (let i = 0; i + 1 < points.length; i++) {
      const [t0, c0] = points[i] as [number, number];
      const [t1, c1] = points[i + 1] as [number, number];
      if (c0 >= after && after >= c1) {
        const share = c0 === c1 ? 0 : (c0 - after) / (c0 - c1);
        return new Date(Math.round(t0 + share * (t1 - t0))).toISOString();
      }
    }
    return new Date(nowMs).toISOString();
  });
}

/** Slices between boundaries (ISO, any order, duplicates allowed): open at both ends, sharing each boundary. */
export function rangesBetween(boundaries: readonly string[]): SliceRange[] {
  const sorted = [...new Set(boundaries.map((b) => new Date(b).toISOString()))].sort();
  const ranges: SliceRange[] = [];
  let lower: string | undefined;
  for (const b of sorted) {
    ranges.push({ createdAtOnOrAfter: lower, createdAtOnOrBefore: b });
    lower = b;
  }
  ranges.push({ createdAtOnOrAfter: lower, createdAtOnOrBefore: undefined });
  return ranges;
}

/**
 * Keeps the first sighting of a job listed by two slices: one created exactly on their shared
 * boundary. Only jobs whose created_at reads as a boundary's millisecond are remembered, so the set
 * stays tiny whatever the walk's size.
 */
export class BoundaryDedup {
  readonly #boundaries: Set<number>;
  readonly #seen = new Set<string>();

  constructor(ranges: readonly SliceRange[]) {
    this.#boundaries = new Set(ranges.flatMap((r) => (r.createdAtOnOrBefore ? [Date.parse(r.createdAtOnOrBefore)] : [])));
  }

  /** False when the job was already taken from another slice in this walk. */
  first(id: string, createdAt: string | null): boolean {
    if (createdAt === null || !this.#boundaries.has(Date.parse(createdAt))) return true;
    if (this.#seen.has(id)) return false;
    this.#seen.add(id);
    return true;
  }
}
