// Every ```sql block of docs/queries.md runs on a database synced from the simulator, on Postgres and on
// PGlite, and returns rows; some answers are checked against figures computed from sim.jobs().
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { simProjectId, startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { openTestDatabase, type Backend, type TestDatabase } from '../helpers/db.ts';
import { DAY_MS, expectedTopErrors, factsOf, type JobFacts } from '../helpers/expected.ts';
import { sync, testConfig } from '../helpers/harness.ts';

const DOC = new URL('../../docs/queries.md', import.meta.url);
const SEED = 5;
const A = simProjectId(SEED, 0);
const B = simProjectId(SEED, 1);
const C = simProjectId(SEED, 2);

interface Block {
  /** The number of the question (### N. …) the block answers; 0 outside the questions. */
  question: number;
  sql: string;
}

function sqlBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let question = 0;
  let current: string[] | undefined;
  for (const line of markdown.split('\n')) {
    if (current) {
      if (line.startsWith('```')) {
        blocks.push({ question, sql: current.join('\n') });
        current = undefined;
      } else {
        current.push(line);
      }
      continue;
    }
    const heading = /^#{2,3} (?:(\d+)\. )?/.exec(line);
    if (heading) question = Number(heading[1] ?? 0);
    if (line.trim() === '```sql') current = [];
  }
  return blocks;
}

const blocks = sqlBlocks(readFileSync(DOC, 'utf8'));

it('docs/queries.md answers ten numbered questions with one sql block each', () => {
  expect(blocks.filter((b) => b.question > 0).map((b) => b.question)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

describe.each<Backend>(['postgres', 'pglite'])('docs/queries.md on %s', (backend) => {
  let tdb: TestDatabase;
  let sim: Simulator;
  let jobs: JobFacts[];
  const moved = { toSuccess: 2, toError: 1 };
  const results = new Map<number, Record<string, unknown>[]>();

  beforeAll(async () => {
    tdb = await openTestDatabase(backend);
    // Dated up to the start of today, so "last 30 days" and "more than a day" find jobs.
    const now = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    sim = await startSimulator({
      apis: ['v1'],
      projects: [
        { id: A, jobs: 300 },
        { id: B, jobs: 150 },
        { id: C, jobs: 3, access: 'forbidden' },
      ],
      seed: SEED,
      now,
    });
    const config = testConfig(sim, { projects: [A, B, C] });
    await sync(config, tdb);
    // Upstream moves between two syncs, for the status-change question.
    const pending = sim.jobs(A).filter((j) => j.status === 'PENDING');
    for (const job of pending.slice(0, moved.toSuccess)) sim.upsertJob(A, { ...job, status: 'SUCCESS' });
    for (const job of pending.slice(moved.toSuccess, moved.toSuccess + moved.toError)) {
      sim.upsertJob(A, { ...job, status: 'ERROR', error_message: 'No text could be extracted from the document' });
    }
    await sync(config, tdb);
    jobs = [A, B].flatMap((p) => sim.jobs(p).map(factsOf));
    for (const block of blocks) {
      results.set(block.question, await queryRows<Record<string, unknown>>(tdb.database.db, sql.raw(block.sql)));
    }
  });
  afterAll(async () => {
    await sim?.stop();
    await tdb?.close();
  });

  it.each(blocks.map((b) => [b.question, b.sql.split('\n')[0]] as const))('question %i (%s) returns rows', (question) => {
    expect(results.get(question)?.length).toBeGreaterThan(0);
  });

  it('1: weekly failure rates add up to the data set', () => {
    const rows = results.get(1) ?? [];
    for (const project of [A, B]) {
      const mine = rows.filter((r) => r.project_id === project);
      const own = jobs.filter((j) => j.projectId === project);
      expect(mine.reduce((sum, r) => sum + Number(r.jobs), 0)).toBe(own.length);
      expect(mine.reduce((sum, r) => sum + Number(r.failed), 0)).toBe(own.filter((j) => j.outcome === 'failed').length);
      for (const r of mine) expect(Number(r.failure_rate)).toBeLessThanOrEqual(1);
    }
  });

  it('3: the stuck jobs are exactly the in-progress jobs older than a day', () => {
    const cutoff = Date.now() - DAY_MS;
    const expected = jobs
      .filter((j) => j.outcome === 'in_progress' && (j.createdMs ?? Infinity) < cutoff)
      .map((j) => j.id)
      .sort();
    expect((results.get(3) ?? []).map((r) => r.job_id).sort()).toEqual(expected);
    expect(expected.length).toBeGreaterThan(5);
  });

  it('4: each rule type gets its most frequent error among failed jobs', () => {
    const rows = results.get(4) ?? [];
    const failed = jobs.filter((j) => j.outcome === 'failed' && j.errorPattern !== undefined);
    const types = new Set(failed.flatMap((j) => [...j.ruleTypes]));
    expect(rows.map((r) => r.rule_type).sort()).toEqual([...types].sort());
    for (const row of rows) {
      const counts = new Map<string, number>();
      for (const j of failed.filter((f) => f.ruleTypes.has(String(row.rule_type)))) {
        counts.set(j.errorPattern ?? '', (counts.get(j.errorPattern ?? '') ?? 0) + 1);
      }
      const top = Math.max(...counts.values());
      expect(Number(row.failed_jobs)).toBe(top);
      expect(counts.get(String(row.error_pattern))).toBe(top);
    }
  });

  it('7: three errors per project, most frequent first', () => {
    const rows = results.get(7) ?? [];
    const expected = expectedTopErrors(jobs).filter((e) => e.rank <= 3);
    expect(rows.map((r) => [r.project_id, r.rank, r.outcome, r.error_pattern, r.jobs]).sort()).toEqual(
      expected.map((e) => [e.project_id, e.rank, e.outcome, e.error_pattern, e.jobs]).sort(),
    );
  });

  it('8: the project whose key is refused is stale; the synced ones are not', () => {
    const rows = results.get(8) ?? [];
    expect(rows.map((r) => r.project_id)).toEqual([C]);
    expect(rows[0]).toMatchObject({ last_success_at: null, last_status: 'failed', jobs_stored: 0 });
  });

  it('9: the status moves between the two syncs', () => {
    expect((results.get(9) ?? []).map((r) => [r.project_id, r.from_status, r.to_status, Number(r.jobs)])).toEqual([
      [A, 'PENDING', 'SUCCESS', moved.toSuccess],
      [A, 'PENDING', 'ERROR', moved.toError],
    ]);
  });

  it('10: only rule types used by at least 20 jobs, highest failure rate first', () => {
    const rows = results.get(10) ?? [];
    for (const r of rows) expect(Number(r.jobs)).toBeGreaterThanOrEqual(20);
    const rates = rows.map((r) => Number(r.failure_rate));
    expect(rates).toEqual([...rates].sort((a, b) => b - a));
  });
});
