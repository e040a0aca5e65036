// Whether a bench run stored exactly what the simulator serves: every job once, live, with its status,
// its number of rules and its parsing settings or none, and nothing else. A fast run that lost or
// duplicated rows is no result. The expected rows come from the simulator's own seeding (the data is
// fixed by seed and project id; only the timestamps follow the simulator's clock, so they are not
// compared), normalized as every writer here normalizes them.
import { sql } from 'drizzle-orm';
import { connect, queryRows } from '../src/db/connect.ts';
import { normalizePage } from '../src/normalize.ts';
import { DEFAULT_SEED, seedProjectJobs, toV2Job } from '../src/simulator/index.ts';
import type { BenchDatabase } from './databases.ts';

export interface ExpectedJob {
  projectId: string;
  status: string;
  rules: number;
  parsing: boolean;
}

export interface ExpectedData {
  jobs: Map<string, ExpectedJob>;
  rules: number;
  parsing: number;
}

/** Normalizing in slices of this many items keeps the intermediate rows small for 100 000 jobs. */
const CHUNK = 1_000;

/** What the simulator of `startSimulatorProcess` serves for these projects, in `api`'s shape. */
export function expectedData(projectIds: readonly string[], jobsPerProject: number, api: 'v1' | 'v2'): ExpectedData {
  const expected: ExpectedData = { jobs: new Map(), rules: 0, parsing: 0 };
  for (const projectId of projectIds) {
    const seeded = seedProjectJobs(projectId, jobsPerProject, { seed: DEFAULT_SEED });
    for (let i = 0; i < seeded.length; i += CHUNK) {
      const slice = seeded.slice(i, i + CHUNK);
      const items = api === 'v2' ? slice.map((job) => toV2Job(job, DEFAULT_SEED)) : slice;
      const page = normalizePage(items, { projectId, organizationId: undefined, apiVersion: api });
      if (page.rejects.length > 0) throw new Error(`the simulator's data for ${projectId} has ${page.rejects.length} rejected items`);
      for (const { job, rules, parsing } of page.jobs) {
        expected.jobs.set(job.id, { projectId, status: job.status, rules: rules.length, parsing: parsing !== undefined });
        expected.rules += rules.length;
        expected.parsing += parsing ? 1 : 0;
      }
    }
  }
  return expected;
}

export interface Exactness {
  exact: boolean;
  /** The first few differences, for the failure line. */
  problems: string[];
}

interface StoredJob {
  id: string;
  project_id: string;
  status: string;
  live: boolean;
  rules: number;
  parsing: boolean;
}

const MAX_PROBLEMS = 5;

/** Compares the job tables of `target` (whose writer has finished and closed it) with `expected`. */
export async function checkStored(target: BenchDatabase, expected: ExpectedData): Promise<Exactness> {
  const database = await connect({ databaseUrl: target.url, pgliteDir: target.pgliteDir ?? 'unused', maxConnections: 1 });
  let stored: StoredJob[];
  let ruleRows: number;
  let parsingRows: number;
  try {
    stored = await queryRows<StoredJob>(
      database.db,
      sql`
      SELECT j.id, j.project_id, j.status, j.deleted_at IS NULL AS live, coalesce(r.n, 0)::int AS rules, p.job_id IS NOT NULL AS parsing
      FROM classify_jobs j
      LEFT JOIN (SELECT job_id, count(*) AS n FROM classify_job_rules GROUP BY job_id) r ON r.job_id = j.id
      LEFT JOIN classify_job_parsing_settings p ON p.job_id = j.id`,
    );
    const [counts] = await queryRows<{ rules: number; parsing: number }>(
      database.db,
      sql`SELECT (SELECT count(*) FROM classify_job_rules)::int AS rules, (SELECT count(*) FROM classify_job_parsing_settings)::int AS parsing`,
    );
    ruleRows = counts?.rules ?? 0;
    parsingRows = counts?.parsing ?? 0;
  } finally {
    await database.close();
  }

  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(text);
  };
  let missing = expected.jobs.size;
  let unexpected = 0;
  for (const row of stored) {
    const want = expected.jobs.get(row.id);
    if (!want) {
      unexpected += 1;
      continue;
    }
    missing -= 1;
    const got = { projectId: row.project_id, status: row.status, rules: row.rules, parsing: row.parsing };
    if (!row.live) problem(`job ${row.id} is marked deleted`);
    else if (JSON.stringify(got) !== JSON.stringify(want))
      problem(`job ${row.id}: stored ${JSON.stringify(got)}, served ${JSON.stringify(want)}`);
  }
  if (missing > 0) problems.unshift(`${missing} of ${expected.jobs.size} served jobs not stored`);
  if (unexpected > 0) problems.unshift(`${unexpected} stored jobs the simulator does not serve`);
  if (ruleRows !== expected.rules) problem(`${ruleRows} rule rows, ${expected.rules} expected`);
  if (parsingRows !== expected.parsing) problem(`${parsingRows} parsing-settings rows, ${expected.parsing} expected`);
  return { exact: problems.length === 0, problems };
}
