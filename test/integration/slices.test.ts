// Sliced full walks (v2): a project walked as creation-time slices in parallel stores exactly what the
// unfiltered list serves — jobs on a shared boundary once, jobs without created_at too — resumes every
// slice from its own token, and marks deletions after a complete walk only.
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/worker/metrics.ts';
import { startSimulator, type SimProjectSpec, type Simulator, type SimulatorOptions } from '../../src/simulator/index.ts';
import { useBackend, usePostgres } from '../helpers/fixtures.ts';
import { storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { expectedRawV2 } from '../helpers/v2.ts';

const NOW = Date.UTC(2026, 2, 1);
const P = '11111111-1111-4111-8111-111111111111';
const PGLITE_TIMEOUT_MS = 180_000;

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

async function simulator(jobs: number, options: Partial<SimulatorOptions> = {}, project: Partial<SimProjectSpec> = {}): Promise<Simulator> {
  sim = await startSimulator({ projects: [{ id: P, jobs, oddities: false, ...project }], now: NOW, apis: ['v2'], ...options });
  return sim;
}

/** A logger whose lines the test reads. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'info',
    destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  });
  return { log, lines };
}

const walkRows = (tdb: ReturnType<ReturnType<typeof usePostgres>>) =>
  queryRows<{ slice: number; done: boolean; has_token: boolean; pages: number }>(
    tdb.database.db,
    sql`SELECT slice, done, page_token IS NOT NULL AS has_token, pages FROM sync_walk_slices ORDER BY slice`,
  );

describe.each(['postgres', 'pglite'] as const)('sliced full walk (%s)', (backend) => {
  const database = useBackend(backend);

  it(
    'stores exactly the unfiltered list, each job once, and records its slices',
    async () => {
      const s = await simulator(1200);
      const tdb = database();
      const result = await sync(testConfig(s, { projects: [P], api: 'v2', pageSize: 20, slices: 4 }), tdb, { full: true });
      const project = result.projects[0];
      expect(project).toMatchObject({ status: 'succeeded', slices: 4, jobsSeen: 1200, inserted: 1200, unchanged: 0 });
      expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(s, P));
      const [recorded] = await queryRows<{ slices: number; status: string }>(
        tdb.database.db,
        sql`SELECT slices, status FROM sync_run_projects WHERE run_id = ${result.runId}`,
      );
      expect(recorded).toEqual({ slices: 4, status: 'succeeded' });
      // Complete: nothing of the walk is left to resume.
      expect(await walkRows(tdb)).toEqual([]);
    },
    PGLITE_TIMEOUT_MS,
  );
});

describe('sliced full walk', () => {
  const database = usePostgres();

  it('a re-walk takes its boundaries from the stored jobs: jobs created exactly on one are stored and counted once', async () => {
    const s = await simulator(900);
    const tdb = database();
    const config = testConfig(s, { projects: [P], api: 'v2', pageSize: 20, slices: 3 });
    await sync(config, tdb, { full: true });
    // A clump of jobs at one instant: the stored quantiles (percentile_disc) put a boundary on a job's created_at.
    // Served newest first: ranks 200..499 share the instant of rank 350, so ascending they are ranks 401..700
    // and the 2/3 quantile (the 600th) is that instant.
    const served = s.jobsV2(P);
    const clump = served[350]?.created_at as string;
    for (const job of served.slice(200, 500)) s.upsertJobV2(P, { ...job, created_at: clump });
    await sync(config, tdb, { full: true });
    const { log, lines } = capturingLogger();
    const again = await sync(config, tdb, { full: true, log });
    const planned = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('sliced walk'));
    expect(planned).toMatchObject({ slices: 3 });
    expect(planned?.msg).toContain('boundaries from the stored jobs');
    const boundaries = (planned?.boundaries as string[]).map((b) => Date.parse(b));
    expect(boundaries).toContain(Date.parse(clump));
    expect(again.projects[0]).toMatchObject({ status: 'succeeded', jobsSeen: 900, inserted: 0, updated: 0, unchanged: 900, deleted: 0 });
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(s, P));
  });

  it('jobs without created_at: a walk is not sliced when the API says there are some', async () => {
    const s = await simulator(1000, {}, { data: { withoutCreatedAtShare: 0.05 } });
    const tdb = database();
    const { log, lines } = capturingLogger();
    const result = await sync(testConfig(s, { projects: [P], api: 'v2', pageSize: 20, slices: 4 }), tdb, { full: true, log });
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', slices: 1, jobsSeen: 1000 });
    expect(lines.some((l) => /jobs have no created_at, which no creation-time filter lists/.test(String(l.msg)))).toBe(true);
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(s, P));
  });

  it('a job without created_at that appears during the walk is stored by one pass over the whole list', async () => {
    const s = await simulator(600);
    const tdb = database();
    const template = s.jobsV2(P)[0];
    let added = false;
    s.setOnPage(({ pageIndex }) => {
      if (pageIndex === 2 && !added && template) {
        added = true;
        s.upsertJobV2(P, { ...template, id: 'job-without-created-at', created_at: null });
      }
      return undefined;
    });
    const result = await sync(testConfig(s, { projects: [P], api: 'v2', pageSize: 20, slices: 3 }), tdb, { full: true });
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', slices: 3, jobsSeen: 601, inserted: 601 });
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(s, P));
  });

  it('without total_size the walk is one cursor chain', async () => {
    const s = await simulator(500, { totalSize: false });
    const tdb = database();
    const result = await sync(testConfig(s, { projects: [P], api: 'v2', pageSize: 20, slices: 4 }), tdb, { full: true });
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', slices: 1, jobsSeen: 500 });
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(s, P));
  });

  it('an interrupted sliced walk resumes every slice from its own token, then detects deletions', async () => {
    const s = await simulator(1000);
    const tdb = database();
    const config = testConfig(s, { projects: [P], api: 'v2', pageSize: 20, slices: 4 });
    await sync(config, tdb, { full: true });
    // Upstream loses two jobs before the next full walk.
    const [gone1, gone2] = s.jobsV2(P);
    s.removeJob(P, gone1?.id as string);
    s.removeJob(P, gone2?.id as string);
    const stop = new AbortController();
    let served = 0;
    // Pages of the walk only (the planning probes ask for one item).
    s.setOnPage(({ body }) => {
      if (body.items.length > 1 && ++served === 12) stop.abort();
      return undefined;
    });
    const first = await sync(config, tdb, { full: true, signal: stop.signal });
    expect(first.projects[0]).toMatchObject({ status: 'cancelled', slices: 4 });
    const saved = await walkRows(tdb);
    expect(saved.map((r) => r.slice)).toEqual([0, 1, 2, 3]);
    expect(saved.some((r) => r.has_token)).toBe(true);
    const storedBefore = first.projects[0]?.pages ?? 0;
    s.setOnPage(undefined);
    const requestsBefore = s.stats.pages;
    const second = await sync(config, tdb);
    expect(second.projects[0]).toMatchObject({ status: 'succeeded', mode: 'resume', kind: 'full', deleted: 2 });
    // Resumed, not restarted: the pages stored before are not fetched again (the two counts cover 50 pages,
    // plus the page each slice had in flight when it stopped).
    expect(storedBefore + (second.projects[0]?.pages ?? 0)).toBeLessThanOrEqual(50 + 4);
    expect(s.stats.pages - requestsBefore).toBeLessThan(50);
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(s, P));
    const deleted = await queryRows<{ id: string }>(
      tdb.database.db,
      sql`SELECT id FROM classify_jobs WHERE deleted_at IS NOT NULL ORDER BY id`,
    );
    expect(deleted.map((r) => r.id)).toEqual([gone1?.id, gone2?.id].sort());
    expect(await walkRows(tdb)).toEqual([]);
  });

  it('slices share the key budget: never more requests in flight than maxInFlight', async () => {
    const s = await simulator(800, { latencyMs: 15 });
    const tdb = database();
    let inFlight = 0;
    let peak = 0;
    const track = async (input: string | URL | Request, init?: RequestInit) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      try {
        return await realFetch(input, init);
      } finally {
        inFlight -= 1;
      }
    };
    const realFetch = globalThis.fetch;
    globalThis.fetch = track;
    try {
      const config = { ...testConfig(s, { projects: [P], api: 'v2', pageSize: 20, slices: 6 }), maxInFlight: 2 };
      const result = await sync(config, tdb, { full: true });
      expect(result.projects[0]).toMatchObject({ status: 'succeeded', slices: 6, jobsSeen: 800 });
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(peak).toBe(2);
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(s, P));
  });

  it('under a rate limit every job is stored, and the run record counts the 429s the API sent', async () => {
    const s = await simulator(600, { rateLimit: 10 });
    const tdb = database();
    const metrics = createMetrics({ projectIds: [P], freshness: () => Promise.resolve([]) });
    const result = await sync(testConfig(s, { projects: [P], api: 'v2', pageSize: 20, slices: 4 }), tdb, {
      full: true,
      observer: metrics.observer,
    });
    metrics.runFinished(result, 1);
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', jobsSeen: 600 });
    const exported = await metrics.registry.metrics();
    expect(exported).toContain(`classify_sync_rate_limited_total{project="${P}"} ${s.stats.rateLimited}`);
    expect(exported).toMatch(new RegExp(`classify_sync_request_rate\\{project="${P}"\\} \\d`));
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(s, P));
    const [row] = await queryRows<{ requests: number; rate_limited: number; requests_per_second: number; run_limited: number }>(
      tdb.database.db,
      sql`SELECT p.requests, p.rate_limited, p.requests_per_second, r.rate_limited AS run_limited
        FROM sync_run_projects p JOIN sync_runs r ON r.id = p.run_id WHERE p.run_id = ${result.runId}`,
    );
    expect(row).toMatchObject({ requests: s.stats.requests, rate_limited: s.stats.rateLimited, run_limited: s.stats.rateLimited });
    expect(s.stats.rateLimited).toBeGreaterThan(0);
    expect(row?.requests_per_second).toBeGreaterThan(0);
  });
});
