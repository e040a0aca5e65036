// Content digests: a page stored again with nothing changed writes no row version and sends no job
// content, yet counts, sees and settles its jobs as before; any change to what is stored is written;
// rows stored before digests existed get theirs once; foreign ids and refused items are quarantined
// as before.
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { queryRows, type Db } from '../../src/db/connect.ts';
import { storePage, type PageResult } from '../../src/db/pages.ts';
import { startProject, startRun } from '../../src/db/runs.ts';
import { beginWalk } from '../../src/db/walks.ts';
import { contentDigest, normalizePage, type NormalizeContext, type NormalizedJob } from '../../src/normalize.ts';
import { startSimulator } from '../../src/simulator/index.ts';
import type { Backend } from '../helpers/db.ts';
import { useBackend, usePostgres } from '../helpers/fixtures.ts';
import { count, settledRowWrites, syncAlone, testConfig, v1Item } from '../helpers/harness.ts';

const A = 'aa000000-0000-4000-8000-0000000000aa';
const B = 'bb000000-0000-4000-8000-0000000000bb';
const JOBS = 20;
const RULE = 'an invoice with a number and a total';

const ctxOf = (projectId: string, organizationId?: string): NormalizeContext => ({ projectId, organizationId, apiVersion: 'v1' });
const idOf = (i: number) => `job-${String(i).padStart(2, '0')}`;
const items = (over: (i: number) => Record<string, unknown> = () => ({})) =>
  Array.from({ length: JOBS }, (_, i) => v1Item(idOf(i), A, over(i)));

let runs = 0;
async function newRun(db: Db, projectId: string): Promise<string> {
  runs += 1;
  const runId = `00000000-0000-4000-8000-${String(runs).padStart(12, '0')}`;
  await startRun(db, { id: runId, trigger: 'sync', projects: 1, host: 'test', pid: 1 });
  await startProject(db, { runId, projectId, apiVersion: 'v1', mode: 'full' });
  return runId;
}

function store(db: Db, runId: string, projectId: string, jobs: readonly NormalizedJob[]): Promise<PageResult> {
  return storePage(db, {
    runId,
    projectId,
    apiVersion: 'v1',
    pageNumber: 1,
    jobs,
    rejects: [],
    nextPageToken: `after-${runId.slice(-2)}`,
    retries: 0,
    totalSize: jobs.length,
    trackSeen: true,
  });
}

const normalized = (list: readonly unknown[], ctx = ctxOf(A)) => normalizePage(list, ctx).jobs;

/** Every row version of the job tables: a row rewritten gets a new xmin, a row added or removed shows. */
async function versions(db: Db): Promise<string[]> {
  const rows = await queryRows<{ v: string }>(
    db,
    sql`
    SELECT 'job ' || id || ' ' || xmin::text AS v FROM classify_jobs
    UNION ALL SELECT 'rule ' || job_id || ' ' || position || ' ' || xmin::text FROM classify_job_rules
    UNION ALL SELECT 'parsing ' || job_id || ' ' || xmin::text FROM classify_job_parsing_settings
    UNION ALL SELECT 'status ' || job_id || ' ' || to_status FROM classify_job_status_changes
    ORDER BY 1`,
  );
  return rows.map((r) => r.v);
}

const runProject = async (db: Db, runId: string) =>
  (
    await queryRows<Record<string, unknown>>(
      db,
      sql`SELECT pages, jobs_seen, jobs_inserted, jobs_updated, jobs_unchanged, rejects FROM sync_run_projects WHERE run_id = ${runId}`,
    )
  )[0];

const walkState = (db: Db, projectId: string) =>
  queryRows(
    db,
    sql`SELECT s.page_token, cardinality(w.job_ids) AS seen FROM sync_state s
      LEFT JOIN sync_walk_seen w USING (project_id, api_version) WHERE s.project_id = ${projectId}`,
  );

describe.each<Backend>(['postgres', 'pglite'])('content digests (%s)', (backend) => {
  const tdb = useBackend(backend);
  const db = () => tdb().database.db;

  async function stored(): Promise<string[]> {
    await beginWalk(db(), A, 'v1');
    const first = await store(db(), await newRun(db(), A), A, normalized(items()));
    expect(first).toMatchObject({ jobsSeen: JOBS, inserted: JOBS, updated: 0, unchanged: 0 });
    return versions(db());
  }

  it('a page stored again unchanged writes no row version, and counts, sees and settles every job as before', async () => {
    const before = await stored();
    await db().execute(sql`INSERT INTO sync_rejects (project_id, reason, payload, job_id) VALUES (${A}, 'earlier', '{}', ${idOf(5)})`);
    const runId = await newRun(db(), A);
    const again = await store(db(), runId, A, normalized(items()));
    expect(again).toEqual({ jobsSeen: JOBS, inserted: 0, updated: 0, unchanged: JOBS, rejects: 0, quarantined: [] });
    expect(await versions(db())).toEqual(before);
    expect(await runProject(db(), runId)).toEqual({
      pages: 1,
      jobs_seen: JOBS,
      jobs_inserted: 0,
      jobs_updated: 0,
      jobs_unchanged: JOBS,
      rejects: 0,
    });
    expect(await walkState(db(), A)).toEqual([{ page_token: `after-${runId.slice(-2)}`, seen: JOBS }]);
    expect(await count(db(), sql`SELECT count(*)::int AS n FROM sync_rejects WHERE settled_at IS NULL`)).toBe(0);
  });

  const changes: [what: string, change: Record<string, unknown>, check: ReturnType<typeof sql>, expected: unknown][] = [
    ['a field only raw keeps', { x_note: 'changed' }, sql`SELECT raw->>'x_note' AS v FROM classify_jobs WHERE id = ${idOf(7)}`, 'changed'],
    [
      "a rule's description",
      { rules: [{ type: 'invoice', description: 'changed' }] },
      sql`SELECT description AS v FROM classify_job_rules WHERE job_id = ${idOf(7)}`,
      'changed',
    ],
    [
      'the parsing settings',
      { parsing_configuration: { lang: 'en', max_pages: 9, target_pages: [0] } },
      sql`SELECT max_pages AS v FROM classify_job_parsing_settings WHERE job_id = ${idOf(7)}`,
      9,
    ],
    ['the outcome', { status: 'ERROR' }, sql`SELECT outcome AS v FROM classify_jobs WHERE id = ${idOf(7)}`, 'failed'],
  ];

  it.each(changes)('a change of %s is written, and only that job is', async (_, change, check, expected) => {
    const before = await stored();
    const result = await store(db(), await newRun(db(), A), A, normalized(items((i) => (i === 7 ? change : {}))));
    expect(result).toMatchObject({ jobsSeen: JOBS, inserted: 0, updated: 1, unchanged: JOBS - 1 });
    expect((await queryRows<{ v: unknown }>(db(), check)).map((r) => r.v)).toEqual([expected]);
    const after = await versions(db());
    const others = (list: string[]) => list.filter((v) => !v.includes(idOf(7)));
    expect(others(after)).toEqual(others(before));
    expect(after).not.toEqual(before);
  });

  it('a change of what is stored beside the item (its organization) is written', async () => {
    await stored();
    const result = await store(db(), await newRun(db(), A), A, normalized(items(), ctxOf(A, 'org-2')));
    expect(result).toMatchObject({ updated: JOBS, unchanged: 0 });
    expect(await count(db(), sql`SELECT count(*)::int AS n FROM classify_jobs WHERE organization_id = 'org-2'`)).toBe(JOBS);
  });

  it('a job stored before digests existed gets its digest on the next page, once', async () => {
    await stored();
    await db().execute(sql`UPDATE classify_jobs SET content_digest = NULL`);
    const before = await versions(db());
    const upgraded = await store(db(), await newRun(db(), A), A, normalized(items()));
    expect(upgraded).toMatchObject({ jobsSeen: JOBS, inserted: 0, updated: JOBS, unchanged: 0 });
    const rewritten = await versions(db());
    // One new version of each job row; its rules and parsing settings are equal, and left alone.
    expect(rewritten.filter((v) => !v.startsWith('job '))).toEqual(before.filter((v) => !v.startsWith('job ')));
    expect(rewritten.filter((v) => v.startsWith('job ')).filter((v) => before.includes(v))).toEqual([]);
    expect(await count(db(), sql`SELECT count(*)::int AS n FROM classify_jobs WHERE octet_length(content_digest) = 16`)).toBe(JOBS);
    const next = await store(db(), await newRun(db(), A), A, normalized(items()));
    expect(next).toMatchObject({ inserted: 0, updated: 0, unchanged: JOBS });
    expect(await versions(db())).toEqual(rewritten);
  });

  it('a job marked deleted that comes back unchanged is live again', async () => {
    await stored();
    await db().execute(sql`UPDATE classify_jobs SET deleted_at = now() WHERE id = ${idOf(3)}`);
    const result = await store(db(), await newRun(db(), A), A, normalized(items()));
    expect(result).toMatchObject({ inserted: 0, updated: 1, unchanged: JOBS - 1 });
    expect(await count(db(), sql`SELECT count(*)::int AS n FROM classify_jobs WHERE deleted_at IS NOT NULL`)).toBe(0);
  });

  it('an id stored under another project is quarantined, even with the stored digest', async () => {
    const before = await stored();
    await beginWalk(db(), B, 'v1');
    const [victim] = await queryRows<{ digest: Buffer | Uint8Array }>(
      db(),
      sql`SELECT content_digest AS digest FROM classify_jobs WHERE id = ${idOf(3)}`,
    );
    const [intruder, own] = normalized([v1Item(idOf(3), B), v1Item('b-own', B)], ctxOf(B));
    if (!intruder || !own || !victim) throw new Error('no jobs');
    const runId = await newRun(db(), B);
    const result = await store(db(), runId, B, [{ ...intruder, digest: Buffer.from(victim.digest) }, own]);
    expect(result).toMatchObject({ jobsSeen: 1, inserted: 1, updated: 0, unchanged: 0, rejects: 1 });
    expect(result.quarantined.map((q) => q.id)).toEqual([idOf(3)]);
    expect((await versions(db())).filter((v) => !v.includes('b-own'))).toEqual(before);
    expect(await count(db(), sql`SELECT count(*)::int AS n FROM sync_rejects WHERE project_id = ${B} AND job_id = ${idOf(3)}`)).toBe(1);
    expect(await runProject(db(), runId)).toMatchObject({ jobs_seen: 1, jobs_inserted: 1, rejects: 1 });
  });

  it('a refused job among unchanged ones: the page is split, the unchanged stay unwritten and counted', async () => {
    const before = await stored();
    const page = normalized([...items(), v1Item('new-one', A)]);
    const template = page[0];
    if (!template) throw new Error('no template');
    const job = { ...template.job, id: 'year-zero', createdAt: '0000-01-01T00:00:00Z', raw: { id: 'year-zero' } };
    const rules = template.rules.map((r) => ({ ...r, jobId: 'year-zero' }));
    const parsing = template.parsing && { ...template.parsing, jobId: 'year-zero' };
    page.splice(4, 0, { job, rules, parsing, digest: contentDigest(job, rules, parsing) });
    const runId = await newRun(db(), A);
    const result = await store(db(), runId, A, page);
    expect(result).toMatchObject({ jobsSeen: JOBS + 1, inserted: 1, updated: 0, unchanged: JOBS, rejects: 1 });
    expect(result.quarantined.map((q) => q.id)).toEqual(['year-zero']);
    expect((await versions(db())).filter((v) => !v.includes('new-one'))).toEqual(before);
    expect(await runProject(db(), runId)).toEqual({
      pages: 1,
      jobs_seen: JOBS + 1,
      jobs_inserted: 1,
      jobs_updated: 0,
      jobs_unchanged: JOBS,
      rejects: 1,
    });
    expect(await walkState(db(), A)).toEqual([{ page_token: `after-${runId.slice(-2)}`, seen: JOBS + 2 }]);
  });
});

describe('what a page sends (real Postgres)', () => {
  const tdb = usePostgres();
  afterEach(() => vi.restoreAllMocks());

  it('a page with nothing changed sends only ids and digests, no job content', async () => {
    const db = tdb().database.db;
    // Spied on, not replaced: every query still runs, and its arguments are recorded.
    const query = vi.spyOn(pg.Client.prototype, 'query');
    const sent = () => query.mock.calls.map((args) => JSON.stringify(args));
    await beginWalk(db, A, 'v1');
    const runId = await newRun(db, A);
    query.mockClear();
    await store(db, runId, A, normalized(items()));
    // The first time, the jobs travel whole: the rule's text is in what was sent.
    expect(sent().some((s) => s.includes(RULE))).toBe(true);
    const again = await newRun(db, A);
    query.mockClear();
    expect(await store(db, again, A, normalized(items()))).toMatchObject({ unchanged: JOBS });
    expect(sent().filter((s) => s.includes(RULE) || s.includes('user-1'))).toEqual([]);
    expect(sent().some((s) => s.includes(idOf(19)))).toBe(true);
  });
});

describe('a sync after the upgrade that adds digests (real Postgres)', () => {
  const tdb = usePostgres();

  it('rewrites each job once, then a repeat sync writes no row version', async () => {
    const sim = await startSimulator({ projects: [{ id: A, jobs: 150 }], now: Date.parse('2026-11-01T00:00:00Z') });
    try {
      const config = testConfig(sim, { api: 'v1', projects: [A] });
      await syncAlone(config, tdb());
      const db = tdb().database.db;
      await db.execute(sql`UPDATE classify_jobs SET content_digest = NULL`);
      const upgraded = await syncAlone(config, tdb());
      expect(upgraded.projects[0]).toMatchObject({ inserted: 0, updated: 150, unchanged: 0, deleted: 0 });
      expect(await count(db, sql`SELECT count(*)::int AS n FROM classify_jobs WHERE content_digest IS NULL`)).toBe(0);
      const tables = ['classify_jobs', 'classify_job_rules', 'classify_job_parsing_settings', 'classify_job_status_changes'];
      const before = await settledRowWrites(db, tables);
      const again = await syncAlone(config, tdb());
      expect(again.projects[0]).toMatchObject({ inserted: 0, updated: 0, unchanged: 150, deleted: 0 });
      expect(await settledRowWrites(db, tables)).toEqual(before);
    } finally {
      await sim.stop();
    }
  });
});
