// The page statement: the unit of progress of a sync. A page's jobs, their rules and parsing settings,
// its rejects, the walk's seen ids, the run counters and the next page token commit together or not at
// all, so a crash at any moment resumes cleanly from the saved token.
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { ApiVersion } from '../config.ts';
import type { NormalizedJob, Reject } from '../normalize.ts';
import { arrayLiteral, queryRows, type Db } from './connect.ts';
import { describeDbError, isDataError } from './errors.ts';
import {
  classifyJobParsingSettings,
  classifyJobRules,
  classifyJobStatusChanges,
  classifyJobs,
  syncRejects,
  syncRunProjects,
  syncState,
  syncWalkSeen,
  syncWalkSlices,
} from './schema.ts';

// A page's rows travel as JSON text parameters, read back with jsonb_to_recordset: the statement
// stays short whatever the page size (Postgres parses no VALUES list of rows × columns placeholders,
// and the client binds a few strings instead of building thousands of parameters). jsonb, not json:
// the text is parsed once, and each job's `raw` is then copied as jsonb instead of parsed again.

type Columns = readonly (readonly [key: string, column: PgColumn])[];

function columnsOf<T extends PgTable>(table: T, keys: readonly (keyof T['_']['columns'] & string)[]): Columns {
  const all: Record<string, PgColumn> = getTableColumns(table);
  return keys.map((key) => [key, all[key] as PgColumn] as const);
}

/** Every column a normalized job carries (the whole of NormalizedJob['job']), by its schema.ts name. */
const JOB_ITEM_KEYS = [
  'id',
  'projectId',
  'organizationId',
  'apiVersion',
  'status',
  'outcome',
  'mode',
  'userId',
  'errorMessage',
  'jobRecordId',
  'createdAt',
  'effectiveAt',
  'updatedAt',
  'fileInput',
  'documentInputType',
  'configurationId',
  'parseJobId',
  'transactionId',
  'resultType',
  'resultConfidence',
  'resultReasoning',
  'raw',
] as const satisfies readonly (keyof NormalizedJob['job'])[];
// A column added to normalize's output must be added above, or it would silently not be stored.
type UnstoredJobKey = Exclude<keyof NormalizedJob['job'], (typeof JOB_ITEM_KEYS)[number]>;
const _everyJobKeyStored: [UnstoredJobKey] extends [never] ? true : UnstoredJobKey = true;

/** What the page statement writes of a job: its columns and its digest (NormalizedJob['digest']). */
const JOB_COLUMNS = columnsOf(classifyJobs, [...JOB_ITEM_KEYS, 'contentDigest']);
const RULE_COLUMNS = columnsOf(classifyJobRules, ['jobId', 'position', 'type', 'description']);
const PARSING_COLUMNS = columnsOf(classifyJobParsingSettings, ['jobId', 'lang', 'maxPages', 'targetPages', 'targetPagesSpec']);

const names = (columns: Columns, prefix = ''): SQL => sql.raw(columns.map(([, c]) => `${prefix}"${c.name}"`).join(', '));

/** Characters per JSON parameter; see jsonParts. */
const JSON_PART_CHARS = 32_000;

/**
 * Rows as JSON arrays of at most ~JSON_PART_CHARS characters each. One JSON text per page would be a
 * string of a few hundred kilobytes, and V8 puts strings over 128 KiB in fresh memory of their own:
 * on a small VM the page faults of each one cost milliseconds per page (measured: bench/, docs/performance.md).
 */
function jsonParts(rows: readonly object[]): string[] {
  const parts: string[] = [];
  let part: string[] = [];
  let size = 0;
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (size + json.length > JSON_PART_CHARS && part.length > 0) {
      parts.push(`[${part.join(',')}]`);
      part = [];
      size = 0;
    }
    part.push(json);
    size += json.length + 1;
  }
  parts.push(`[${part.join(',')}]`);
  return parts;
}

/** `SELECT … FROM jsonb_to_recordset(…)` over the parts: the rows under their SQL column names and types. */
function rowsFromJson(rows: readonly object[], columns: Columns): SQL {
  const select = columns.map(([key, c]) => `r."${key}" AS "${c.name}"`).join(', ');
  const types = columns.map(([key, c]) => `"${key}" ${c.getSQLType()}`).join(', ');
  const parts = sql.join(
    jsonParts(rows).map((part) => sql`${part}::text`),
    sql`, `,
  );
  return sql`SELECT ${sql.raw(select)} FROM unnest(ARRAY[${parts}]) AS part, jsonb_to_recordset(part::jsonb) AS r(${sql.raw(types)})`;
}

/** `SET a = excluded.a, …` for an upsert of `columns`, keys excepted. */
function setExcluded(columns: Columns): SQL {
  return sql.raw(columns.map(([, c]) => `"${c.name}" = excluded."${c.name}"`).join(', '));
}

/** `(t.a, t.b) IS DISTINCT FROM (excluded.a, excluded.b)`: an upsert rewrites a row only when it differs. */
function differs(table: string, columns: Columns): SQL {
  return sql.raw(
    `(${columns.map(([, c]) => `${table}."${c.name}"`).join(', ')}) IS DISTINCT FROM (${columns.map(([, c]) => `excluded."${c.name}"`).join(', ')})`,
  );
}

/**
 * What makes a stored job differ from an incoming one: its digest, which stands for everything stored
 * of it (null on a row stored before digests existed: rewritten once, with its digest), or its coming
 * back from the deleted. An unchanged item writes no row version.
 */
const jobChanged = (stored: string, incoming: string): SQL =>
  sql.raw(`${stored}.content_digest IS DISTINCT FROM ${incoming}.content_digest OR ${stored}.deleted_at IS NOT NULL`);

/** Columns an upsert overwrites; `first_seen_at` is kept from the first sighting. */
const JOB_SET = sql.join(
  [
    setExcluded(JOB_COLUMNS.filter(([key]) => key !== 'id')),
    sql.raw('last_run_id = excluded.last_run_id, synced_at = excluded.synced_at, deleted_at = NULL'),
  ],
  sql`, `,
);
const RULE_VALUES = RULE_COLUMNS.filter(([key]) => key !== 'jobId' && key !== 'position');
const PARSING_VALUES = PARSING_COLUMNS.filter(([key]) => key !== 'jobId');

export interface PageCounts {
  jobsSeen: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejects: number;
}

/** An item the page statement quarantined (Postgres refused it, or its id belongs to another project). */
export interface QuarantinedItem {
  id: string;
  reason: string;
}

export interface PageResult extends PageCounts {
  /** Quarantined while storing (normalize's rejects are the caller's own). */
  quarantined: QuarantinedItem[];
}

export interface StorePageInput {
  runId: string;
  projectId: string;
  apiVersion: ApiVersion;
  pageNumber: number;
  jobs: readonly NormalizedJob[];
  rejects: readonly Reject[];
  /** Token of the page after this one; undefined when this is the last page. */
  nextPageToken: string | undefined;
  retries: number;
  totalSize: number | undefined;
  /** Record the page's ids for deletion detection (complete walks only). */
  trackSeen: boolean;
  /** Save nextPageToken as the walk's resume point (default true; false for walks that are not resumed). */
  checkpoint?: boolean | undefined;
  /** The slice of a sliced walk the page belongs to: its checkpoint is the slice's (sync_walk_slices). */
  slice?: number | undefined;
}

/** The checkpoint of a walk of one cursor chain: the token and page count in sync_state. */
function serialCheckpoint(input: StorePageInput): SQL {
  return sql`state AS (
      UPDATE ${syncState} SET page_token = ${input.nextPageToken ?? null}, walk_pages = ${input.pageNumber}, updated_at = now()
      WHERE ${input.checkpoint !== false} AND project_id = ${input.projectId} AND api_version = ${input.apiVersion}
    )`;
}

/** The checkpoint of one slice of a sliced walk; sync_state counts the walk's pages of every slice. */
function sliceCheckpoint(input: StorePageInput, slice: number): SQL {
  const next = input.nextPageToken ?? null;
  return sql`state AS (
      UPDATE ${syncState} SET walk_pages = walk_pages + 1, updated_at = now()
      WHERE project_id = ${input.projectId} AND api_version = ${input.apiVersion}
    ),
    slice_state AS (
      UPDATE ${syncWalkSlices} SET page_token = ${next}, pages = ${input.pageNumber}, done = ${next === null}
      WHERE project_id = ${input.projectId} AND api_version = ${input.apiVersion} AND slice = ${slice}
    )`;
}

/**
 * What was settled before the statement that closes the page, carried into it: the page's unchanged
 * jobs (found by their digests), and what the parts of a split page stored.
 */
interface Carried {
  jobsSeen: number;
  inserted: number;
  updated: number;
  /** Quarantined by the parts (foreign ids). */
  rejects: number;
  /** Ids of the unchanged jobs and of the ones the parts stored, for the walk's seen ids and for settling open rejects. */
  ids: string[];
}

const NOTHING_CARRIED: Carried = { jobsSeen: 0, inserted: 0, updated: 0, rejects: 0, ids: [] };

interface StatementResult {
  inserted: number;
  updated: number;
  foreign: QuarantinedItem[];
}

/**
 * Stores one page in one transaction, inside an explicit BEGIN/COMMIT: first a small statement sends
 * the page's (id, digest) pairs and learns which jobs are new or changed (unchangedJobs); only those
 * are sent whole, to the page statement, which also writes the whole page's bookkeeping. A re-sync
 * with nothing changed thus sends no job content and writes no job row. A server keeps executing a
 * statement whose client has died (e.g. one blocked on a lock while the worker was stopped) and would
 * autocommit a lone statement after the process, and its project lock, are gone, racing the next
 * walk's checkpoint. With COMMIT sent only by a live process, a dead one's page is rolled back. Jobs
 * must be unique by id (normalizePage does that).
 *
 * When Postgres refuses the statement because of the data (isDataError: a value it cannot hold, a key
 * it cannot index), the page is stored again in parts, in one transaction: halves under savepoints,
 * split further where they fail, until each refused job stands alone and is quarantined in
 * sync_rejects with Postgres' words; then the page's rejects, seen ids, counters and checkpoint are
 * written by a last statement. k refused jobs of n cost about 2·k·log2(n) statements, only then.
 */
export async function storePage(db: Db, input: StorePageInput): Promise<PageResult> {
  try {
    return await db.transaction(async (tx) => {
      const { changed, unchanged } = await unchangedJobs(tx, input.projectId, input.jobs);
      const result = await pageStatement(tx, input, changed, input.rejects, unchanged, true);
      return pageResult(changed.length, input.rejects.length, result, unchanged, []);
    });
  } catch (error) {
    if (input.jobs.length === 0 || !isDataError(error)) throw error;
  }
  return db.transaction(async (tx) => {
    const { changed, unchanged: carried } = await unchangedJobs(tx, input.projectId, input.jobs);
    const refused: Reject[] = [];
    const foreign: QuarantinedItem[] = [];
    const storeParts = async (jobs: readonly NormalizedJob[]): Promise<void> => {
      try {
        const part = await tx.transaction((sp) => pageStatement(sp, input, jobs, [], NOTHING_CARRIED, false));
        const foreignIds = new Set(part.foreign.map((f) => f.id));
        carried.jobsSeen += jobs.length - foreignIds.size;
        carried.inserted += part.inserted;
        carried.updated += part.updated;
        carried.rejects += foreignIds.size;
        for (const j of jobs) carried.ids.push(j.job.id);
        foreign.push(...part.foreign);
      } catch (error) {
        if (!isDataError(error)) throw error;
        const [only] = jobs;
        if (jobs.length === 1 && only) {
          refused.push({
            id: only.job.id,
            reason: `Postgres refused the item: ${describeDbError(error)}`,
            payload: JSON.stringify(only.job.raw),
          });
          return;
        }
        const half = Math.ceil(jobs.length / 2);
        await storeParts(jobs.slice(0, half));
        await storeParts(jobs.slice(half));
      }
    };
    await storeParts(changed);
    const rejects = [...input.rejects, ...refused];
    const closing = await pageStatement(tx, input, [], rejects, carried, true);
    const quarantined = [...foreign, ...refused.map((r) => ({ id: r.id ?? '', reason: r.reason }))];
    return pageResult(0, rejects.length, closing, carried, quarantined);
  });
}

/**
 * Sorts the page's jobs by their digests, without sending their content: the unchanged ones (stored
 * under this project, live, with the same digest) are carried into the page statement as seen; all
 * others are `changed` and go through it: new, changed, stored without a digest yet, deleted, or
 * stored under another project (quarantined there).
 *
 * A correlated subquery, not NOT EXISTS: it is one primary key probe per id whatever the statistics
 * say, where an anti join planned from a project's stale row estimate (a backfill outgrows it within
 * minutes) hashes every stored job of the project, on each page.
 */
async function unchangedJobs(
  db: Db,
  projectId: string,
  jobs: readonly NormalizedJob[],
): Promise<{ changed: NormalizedJob[]; unchanged: Carried }> {
  if (jobs.length === 0) return { changed: [], unchanged: { ...NOTHING_CARRIED, ids: [] } };
  const ids = arrayLiteral(jobs.map((j) => j.job.id));
  const digests = arrayLiteral(jobs.map((j) => `\\x${j.digest.toString('hex')}`));
  const rows = await queryRows<{ i: number }>(
    db,
    sql`
    SELECT incoming.i::int AS i
    FROM unnest(${ids}::text[], ${digests}::bytea[]) WITH ORDINALITY AS incoming(id, digest, i)
    WHERE (SELECT stored.content_digest = incoming.digest AND stored.project_id = ${projectId} AND stored.deleted_at IS NULL
      FROM ${classifyJobs} AS stored WHERE stored.id = incoming.id) IS NOT TRUE`,
  );
  const changedAt = new Set(rows.map((r) => Number(r.i) - 1));
  const changed: NormalizedJob[] = [];
  const unchanged: Carried = { ...NOTHING_CARRIED, ids: [] };
  jobs.forEach((job, i) => {
    if (changedAt.has(i)) changed.push(job);
    else unchanged.ids.push(job.job.id);
  });
  unchanged.jobsSeen = unchanged.ids.length;
  return { changed, unchanged };
}

function pageResult(jobs: number, rejects: number, result: StatementResult, carried: Carried, quarantined: QuarantinedItem[]): PageResult {
  const jobsSeen = jobs - result.foreign.length + carried.jobsSeen;
  const inserted = result.inserted + carried.inserted;
  const updated = result.updated + carried.updated;
  return {
    jobsSeen,
    inserted,
    updated,
    unchanged: jobsSeen - inserted - updated,
    rejects: rejects + result.foreign.length + carried.rejects,
    quarantined: [...result.foreign, ...quarantined],
  };
}

/**
 * The page statement over `jobs` (all of the page's, or a part of them) and `rejects`; with
 * `closesPage` it also writes the page's bookkeeping: the seen ids (its own and `carried.ids`),
 * the settled rejects, the checkpoint and the run counters (its own counts plus `carried`).
 *
 * - The incoming jobs (the page's new and changed ones, see unchangedJobs) are compared again with the
 *   stored ones in SQL, by digest (one index lookup each): only new or changed jobs reach the upsert,
 *   so an unchanged job is neither written nor locked (ON CONFLICT DO UPDATE locks a row even when its
 *   WHERE skips the update) and its rules and parsing settings are not touched. The same lookup reads
 *   the status a job had, for the status history, and the project it is stored under: an id stored
 *   under another project is quarantined, never overwritten (ids are global upstream; the upsert's
 *   WHERE repeats the check for a row inserted meanwhile).
 * - A changed job's rules and parsing settings are upserted where they differ; the ones it no longer
 *   has are deleted (looked up by job id, so only updated jobs cost anything).
 * - Open rejects of the page's ids are settled: the job is stored now, or a new reject replaces them.
 *
 * Data-modifying CTEs all see the statement's snapshot
 * (https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING): they touch
 * disjoint rows here, and foreign keys are checked at the end of the statement, after the jobs exist.
 */
async function pageStatement(
  db: Db,
  input: StorePageInput,
  jobs: readonly NormalizedJob[],
  rejects: readonly Reject[],
  carried: Carried,
  closesPage: boolean,
): Promise<StatementResult> {
  const { runId, projectId, apiVersion } = input;
  const rejectsJson = JSON.stringify(rejects);
  const bookkeeping = closesPage
    ? sql`,
    -- Rejected items that carry an id are still listed upstream: they count as seen.
    seen_ids AS (SELECT ARRAY(SELECT id FROM incoming UNION ALL SELECT id FROM rejects_in WHERE id IS NOT NULL
      UNION ALL SELECT jsonb_array_elements_text(${JSON.stringify(carried.ids)}::jsonb)) AS ids),
    seen AS (
      INSERT INTO ${syncWalkSeen} (project_id, api_version, slice, page_number, job_ids)
      SELECT ${projectId}, ${apiVersion}, ${input.slice ?? 0}::int, ${input.pageNumber}::int, ids FROM seen_ids
      WHERE ${input.trackSeen} AND cardinality(ids) > 0
      ON CONFLICT (project_id, api_version, slice, page_number) DO UPDATE SET job_ids = excluded.job_ids
    ),
    settled AS (
      UPDATE ${syncRejects} SET settled_at = now()
      WHERE project_id = ${projectId} AND settled_at IS NULL AND job_id = ANY ((SELECT ids FROM seen_ids)::text[])
    ),
    ${input.slice === undefined ? serialCheckpoint(input) : sliceCheckpoint(input, input.slice)},
    run AS (
      UPDATE ${syncRunProjects} SET pages = pages + 1, jobs_seen = jobs_seen + counts.seen,
        jobs_inserted = jobs_inserted + counts.inserted, jobs_updated = jobs_updated + counts.updated,
        jobs_unchanged = jobs_unchanged + counts.seen - counts.inserted - counts.updated,
        rejects = rejects + ${rejects.length + carried.rejects} + counts.foreign, retries = retries + ${input.retries},
        total_size = coalesce(${input.totalSize ?? null}::int, total_size)
      FROM (SELECT ${jobs.length + carried.jobsSeen} - c.foreign AS seen, c.inserted + ${carried.inserted} AS inserted,
              c.updated + ${carried.updated} AS updated, c.foreign FROM counts c) AS counts
      WHERE run_id = ${runId} AND project_id = ${projectId}
    )`
    : sql``;
  const [row] = await queryRows<{ inserted: number; updated: number; foreign: unknown }>(
    db,
    sql`
    WITH incoming AS (${rowsFromJson(
      jobs.map((j) => ({ ...j.job, contentDigest: `\\x${j.digest.toString('hex')}` })),
      JOB_COLUMNS,
    )}),
    looked_up AS (
      SELECT incoming.*, stored.id IS NULL OR ${jobChanged('stored', 'incoming')} AS differs,
        stored.project_id AS owner, stored.status AS previous_status
      FROM incoming LEFT JOIN ${classifyJobs} AS stored ON stored.id = incoming.id
    ),
    foreign_ids AS (SELECT id, raw, owner FROM looked_up WHERE owner <> project_id),
    changed AS (SELECT * FROM looked_up WHERE differs AND (owner IS NULL OR owner = project_id)),
    written AS (
      INSERT INTO ${classifyJobs} (${names(JOB_COLUMNS)}, last_run_id, synced_at, deleted_at)
      SELECT ${names(JOB_COLUMNS)}, ${runId}::uuid, now(), NULL FROM changed
      ON CONFLICT (id) DO UPDATE SET ${JOB_SET}
      WHERE classify_jobs.project_id = excluded.project_id AND ${jobChanged('classify_jobs', 'excluded')}
      RETURNING id, (xmax = 0) AS inserted
    ),
    rules_in AS (${rowsFromJson(
      jobs.flatMap((j) => j.rules),
      RULE_COLUMNS,
    )}),
    -- A job inserted by this statement has no rules or parsing settings yet: plain inserts, without
    -- ON CONFLICT's extra index probe and confirmation record per row. Updated jobs upsert theirs.
    rules_inserted AS (
      INSERT INTO ${classifyJobRules} (${names(RULE_COLUMNS)})
      SELECT ${names(RULE_COLUMNS, 'rules_in.')} FROM rules_in JOIN written ON written.id = rules_in.job_id WHERE written.inserted
    ),
    rules_upserted AS (
      INSERT INTO ${classifyJobRules} (${names(RULE_COLUMNS)})
      SELECT ${names(RULE_COLUMNS, 'rules_in.')} FROM rules_in JOIN written ON written.id = rules_in.job_id WHERE NOT written.inserted
      ON CONFLICT (job_id, position) DO UPDATE SET ${setExcluded(RULE_VALUES)}
      WHERE ${differs('classify_job_rules', RULE_VALUES)}
    ),
    rules_removed AS (
      DELETE FROM ${classifyJobRules} AS stored
      WHERE stored.job_id = ANY (ARRAY(SELECT id FROM written WHERE NOT inserted))
        AND NOT EXISTS (SELECT FROM rules_in WHERE rules_in.job_id = stored.job_id AND rules_in.position = stored.position)
    ),
    parsing_in AS (${rowsFromJson(
      jobs.flatMap((j) => (j.parsing ? [j.parsing] : [])),
      PARSING_COLUMNS,
    )}),
    parsing_inserted AS (
      INSERT INTO ${classifyJobParsingSettings} (${names(PARSING_COLUMNS)})
      SELECT ${names(PARSING_COLUMNS, 'parsing_in.')} FROM parsing_in JOIN written ON written.id = parsing_in.job_id WHERE written.inserted
    ),
    parsing_upserted AS (
      INSERT INTO ${classifyJobParsingSettings} (${names(PARSING_COLUMNS)})
      SELECT ${names(PARSING_COLUMNS, 'parsing_in.')} FROM parsing_in JOIN written ON written.id = parsing_in.job_id WHERE NOT written.inserted
      ON CONFLICT (job_id) DO UPDATE SET ${setExcluded(PARSING_VALUES)}
      WHERE ${differs('classify_job_parsing_settings', PARSING_VALUES)}
    ),
    parsing_removed AS (
      DELETE FROM ${classifyJobParsingSettings} AS stored
      WHERE stored.job_id = ANY (ARRAY(SELECT id FROM written WHERE NOT inserted))
        AND NOT EXISTS (SELECT FROM parsing_in WHERE parsing_in.job_id = stored.job_id)
    ),
    status_changes AS (
      INSERT INTO ${classifyJobStatusChanges} (job_id, project_id, from_status, to_status, run_id)
      SELECT changed.id, changed.project_id, changed.previous_status, changed.status, ${runId}::uuid
      FROM changed JOIN written ON written.id = changed.id
      WHERE changed.previous_status IS DISTINCT FROM changed.status
    ),
    rejects_in AS (SELECT * FROM json_to_recordset(${rejectsJson}::json) AS r(id text, reason text, payload text)),
    -- A reject without a usable id can never be asked for again: it is settled from the start.
    rejects_written AS (
      INSERT INTO ${syncRejects} (run_id, project_id, api_version, reason, payload, job_id, settled_at)
      SELECT ${runId}::uuid, ${projectId}, ${apiVersion}, reason, payload, id, CASE WHEN id IS NULL THEN now() END FROM rejects_in
      UNION ALL
      SELECT ${runId}::uuid, ${projectId}, ${apiVersion}, ${FOREIGN_REASON}, raw::text, id, NULL FROM foreign_ids
    ),
    counts AS (
      SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated,
        (SELECT count(*) FROM foreign_ids)::int AS foreign
      FROM written
    )${bookkeeping}
    SELECT inserted, updated,
      (SELECT coalesce(json_agg(json_build_object('id', id, 'reason', ${FOREIGN_REASON})), '[]') FROM foreign_ids) AS foreign
    FROM counts`,
  );
  return { inserted: row?.inserted ?? 0, updated: row?.updated ?? 0, foreign: parseForeign(row?.foreign) };
}

/** Why an item whose id is stored under another project is quarantined (SQL over foreign_ids). */
const FOREIGN_REASON = sql.raw(
  `'id is already stored under project ' || owner || ': quarantined, the stored job is left as it is (ids are global upstream)'`,
);

/** json_agg comes back parsed from node-postgres and as text from some drivers. */
function parseForeign(value: unknown): QuarantinedItem[] {
  const parsed = typeof value === 'string' ? (JSON.parse(value) as unknown) : value;
  return Array.isArray(parsed) ? (parsed as QuarantinedItem[]) : [];
}
