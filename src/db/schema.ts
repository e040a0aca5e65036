// The SQL contract analysts query. Names here are public: extend, never rename.
// Status, mode and lang are plain text (no DB enums): upstream adds values without notice.
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'string' });
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** One row per classify job, as last seen upstream. */
export const classifyJobs = pgTable(
  'classify_jobs',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id').notNull(),
    organizationId: text('organization_id'),
    apiVersion: text('api_version').notNull(),
    status: text('status').notNull(),
    /** succeeded | failed | partial | cancelled | in_progress | unknown, the same for every API version. */
    outcome: text('outcome').notNull(),
    mode: text('mode'),
    userId: text('user_id').notNull(),
    errorMessage: text('error_message'),
    jobRecordId: text('job_record_id'),
    createdAt: tstz('created_at'),
    effectiveAt: tstz('effective_at'),
    updatedAt: tstz('updated_at'),
    // v2 fields (null for v1 jobs)
    fileInput: text('file_input'),
    documentInputType: text('document_input_type'),
    configurationId: text('configuration_id'),
    parseJobId: text('parse_job_id'),
    transactionId: text('transaction_id'),
    resultType: text('result_type'),
    resultConfidence: doublePrecision('result_confidence'),
    resultReasoning: text('result_reasoning'),
    /** The item as received (NUL characters removed); unknown fields survive here. */
    raw: jsonb('raw').notNull(),
    firstSeenAt: tstz('first_seen_at').notNull().defaultNow(),
    /** When this row's content was last written (unchanged items do not touch it). */
    syncedAt: tstz('synced_at').notNull().defaultNow(),
    lastRunId: uuid('last_run_id'),
    /** Set when a complete walk no longer saw the job upstream; cleared if it reappears. */
    deletedAt: tstz('deleted_at'),
    /**
     * 16 bytes standing for everything a sync stores of the job (its columns, raw, rules and parsing
     * settings): a re-sync compares digests first and sends the content of new and changed jobs only.
     * Null on rows stored before it existed; their next sync sets it (one row version each, once).
     */
    contentDigest: bytea('content_digest'),
  },
  (t) => [
    index('classify_jobs_project_created_idx').on(t.projectId, t.createdAt),
    index('classify_jobs_project_outcome_idx').on(t.projectId, t.outcome, t.createdAt),
    // Covering indexes of the live jobs for the reporting views and the report's window filters: the
    // outcome figures are then index-only scans (EXPLAIN notes in docs/queries.md).
    index('classify_jobs_live_project_created_idx')
      .on(t.projectId, t.createdAt, t.outcome, t.updatedAt)
      .where(sql`deleted_at IS NULL`),
    index('classify_jobs_live_created_idx')
      .on(t.createdAt, t.projectId, t.outcome, t.updatedAt)
      .where(sql`deleted_at IS NULL`),
    // Jobs still in progress are few: a tiny index makes "stuck for more than a day" instant.
    index('classify_jobs_in_progress_idx')
      .on(t.createdAt)
      .where(sql`outcome = 'in_progress' AND deleted_at IS NULL`),
  ],
);

/** A job's rules, in upstream order. */
export const classifyJobRules = pgTable(
  'classify_job_rules',
  {
    jobId: text('job_id')
      .notNull()
      .references(() => classifyJobs.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    type: text('type').notNull(),
    description: text('description').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.position] }),
    // Hash, not btree: a btree entry is capped at 2 704 bytes, so a long rule type would be unstorable,
    // while a hash index keeps only a hash code and still serves `WHERE type = …`.
    index('classify_job_rules_type_idx').using('hash', t.type),
  ],
);

/** A job's parsing settings; no row when the job has none. */
export const classifyJobParsingSettings = pgTable('classify_job_parsing_settings', {
  jobId: text('job_id')
    .primaryKey()
    .references(() => classifyJobs.id, { onDelete: 'cascade' }),
  lang: text('lang'),
  maxPages: integer('max_pages'),
  /** 0-based page numbers. */
  targetPages: integer('target_pages').array(),
  /** v2's 1-based page spec as received, e.g. "1,3,5-7" (null for v1). */
  targetPagesSpec: text('target_pages_spec'),
});

/** One row each time a sync observes a job's status change; the first sighting is a change from null. */
export const classifyJobStatusChanges = pgTable(
  'classify_job_status_changes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    jobId: text('job_id').notNull(),
    projectId: text('project_id').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status').notNull(),
    observedAt: tstz('observed_at').notNull().defaultNow(),
    runId: uuid('run_id'),
  },
  (t) => [
    index('classify_job_status_changes_job_idx').on(t.jobId, t.observedAt),
    index('classify_job_status_changes_project_idx').on(t.projectId, t.observedAt),
  ],
);

/** What a run did, counted the same way for the whole run and for each of its projects. */
const runCounters = () => ({
  pages: integer('pages').notNull().default(0),
  jobsSeen: integer('jobs_seen').notNull().default(0),
  jobsInserted: integer('jobs_inserted').notNull().default(0),
  jobsUpdated: integer('jobs_updated').notNull().default(0),
  jobsUnchanged: integer('jobs_unchanged').notNull().default(0),
  jobsDeleted: integer('jobs_deleted').notNull().default(0),
  rejects: integer('rejects').notNull().default(0),
  retries: integer('retries').notNull().default(0),
  /** API requests sent (every attempt, retries and 429s included). */
  requests: integer('requests').notNull().default(0),
  /** Requests the API refused with 429 (rate limited). */
  rateLimited: integer('rate_limited').notNull().default(0),
});

/** One row per command run. */
export const syncRuns = pgTable('sync_runs', {
  id: uuid('id').primaryKey(),
  /** sync | backfill | worker | demo */
  trigger: text('trigger').notNull(),
  /** running | succeeded | partial | failed | cancelled | abandoned (its process died) | skipped (every project was) */
  status: text('status').notNull(),
  startedAt: tstz('started_at').notNull().defaultNow(),
  finishedAt: tstz('finished_at'),
  projects: integer('projects').notNull().default(0),
  projectsFailed: integer('projects_failed').notNull().default(0),
  ...runCounters(),
  error: text('error'),
  /** Something the run could not do that is no failure of its projects, e.g. its view refresh timed out. */
  warning: text('warning'),
  host: text('host'),
  pid: integer('pid'),
});

/** One row per project of a run. */
export const syncRunProjects = pgTable(
  'sync_run_projects',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => syncRuns.id, { onDelete: 'cascade' }),
    projectId: text('project_id').notNull(),
    apiVersion: text('api_version'),
    /** full | incremental | resume (of a full or incremental walk) */
    mode: text('mode'),
    /** running | succeeded | failed | cancelled | skipped (why: in `warning`) | abandoned (its process died) */
    status: text('status').notNull(),
    startedAt: tstz('started_at').notNull().defaultNow(),
    finishedAt: tstz('finished_at'),
    ...runCounters(),
    totalSize: integer('total_size'),
    error: text('error'),
    warning: text('warning'),
    /**
     * Pages an incremental walk did not request, against the last full walk's page count (negative when
     * it cost more); 0 for full walks; null when there is nothing to compare with.
     */
    pagesSaved: integer('pages_saved'),
    /** Creation-time slices the walk ran as (1: one cursor chain); null before the walk was planned. */
    slices: integer('slices'),
    /** Requests per second the project's walk reached (requests ÷ wall time of the walk). */
    requestsPerSecond: doublePrecision('requests_per_second'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.projectId] }), index('sync_run_projects_project_idx').on(t.projectId, t.startedAt)],
);

/** Per project and API version: where an unfinished walk stands, and when walks last completed. */
export const syncState = pgTable(
  'sync_state',
  {
    projectId: text('project_id').notNull(),
    apiVersion: text('api_version').notNull(),
    /** Token of the next page of an unfinished walk; null when no walk is in progress. */
    pageToken: text('page_token'),
    walkStartedAt: tstz('walk_started_at'),
    walkPages: integer('walk_pages').notNull().default(0),
    lastCompleteWalkAt: tstz('last_complete_walk_at'),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
    /** full | incremental: the kind of the walk in progress (what a saved page token resumes). */
    walkKind: text('walk_kind'),
    /** The list filter of the walk in progress, e.g. {"createdAtOnOrAfter":"…"}; null for a full walk. */
    walkFilter: jsonb('walk_filter'),
    /** When the last complete walk (of either kind) started: the next incremental window counts back from it. */
    lastCompleteWalkStartedAt: tstz('last_complete_walk_started_at'),
    /** When the last complete full walk started (full walks are due fullRefreshDays after it). */
    lastFullWalkAt: tstz('last_full_walk_at'),
    /** Pages of the last complete full walk (the baseline of sync_run_projects.pages_saved). */
    lastFullWalkPages: integer('last_full_walk_pages'),
    /** Set on the row of the version `--api auto` last chose for the project (null on the other version's row). */
    detectedAt: tstz('detected_at'),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.apiVersion] })],
);

/**
 * The job ids each page of the current walk saw, kept outside the job tables so a repeat sync writes
 * no job row, and persisted with the page token so a resumed walk can still detect deletions.
 */
export const syncWalkSeen = pgTable(
  'sync_walk_seen',
  {
    projectId: text('project_id').notNull(),
    apiVersion: text('api_version').notNull(),
    /** The slice of a sliced walk the page belongs to (0 for a walk of one cursor chain). */
    slice: integer('slice').notNull().default(0),
    pageNumber: integer('page_number').notNull(),
    jobIds: text('job_ids').array().notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.apiVersion, t.slice, t.pageNumber] })],
);

/**
 * The slices of an unfinished sliced full walk (v2): each a creation-time range walked as its own cursor
 * chain, with its own saved page token, so an interrupted walk resumes every slice where it stopped.
 * Adjacent slices share their boundary instant (both filters are inclusive). Empty when no sliced
 * walk is in progress; see docs/performance.md.
 */
export const syncWalkSlices = pgTable(
  'sync_walk_slices',
  {
    projectId: text('project_id').notNull(),
    apiVersion: text('api_version').notNull(),
    slice: integer('slice').notNull(),
    /** created_at_on_or_after as sent (null: no lower bound); a page token is only valid with the same filters. */
    createdAtOnOrAfter: text('created_at_on_or_after'),
    /** created_at_on_or_before as sent (null: no upper bound). */
    createdAtOnOrBefore: text('created_at_on_or_before'),
    /** Unfiltered: a pass over the whole list for the jobs without created_at that no slice can see. */
    unfiltered: boolean('unfiltered').notNull().default(false),
    /** Token of the slice's next page; null before its first page and once it is done. */
    pageToken: text('page_token'),
    pages: integer('pages').notNull().default(0),
    done: boolean('done').notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.apiVersion, t.slice] })],
);

/**
 * The projects syncs have run for, with the name the config gave them, so a report or `status` read
 * without the config file still shows projects by name. Upserted at the start of every run; a run
 * whose config gives no name (e.g. ids from CLASSIFY_SYNC_PROJECTS) keeps the stored one.
 */
export const syncProjects = pgTable('sync_projects', {
  projectId: text('project_id').primaryKey(),
  /** The project's `name` in the config of the last run that gave one; null if none ever did. */
  name: text('name'),
  firstSeenAt: tstz('first_seen_at').notNull().defaultNow(),
  /** When the name last changed (or the row was added). */
  updatedAt: tstz('updated_at').notNull().defaultNow(),
});

/** Items that failed validation, or that Postgres refused, with their raw payload, so nothing is lost. */
export const syncRejects = pgTable(
  'sync_rejects',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    runId: uuid('run_id'),
    projectId: text('project_id').notNull(),
    apiVersion: text('api_version'),
    reason: text('reason').notNull(),
    /** The raw item text. */
    payload: text('payload').notNull(),
    receivedAt: tstz('received_at')
      .notNull()
      .default(sql`now()`),
    /** The item's id when it had a usable one (null otherwise). */
    jobId: text('job_id'),
    /**
     * Null while the reject is open: its job may still be stored, and incremental syncs ask for it by id.
     * Set when the job was stored, when a later reject of the same id replaced this one, when a full walk
     * no longer saw the id, and at once for items without a usable id.
     */
    settledAt: tstz('settled_at'),
  },
  (t) => [
    index('sync_rejects_project_idx').on(t.projectId, t.receivedAt),
    // Open rejects are few: the page statement settles them by a probe of this small index.
    index('sync_rejects_open_idx')
      .on(t.projectId)
      .where(sql`settled_at IS NULL`),
  ],
);

export type JobRow = typeof classifyJobs.$inferInsert;
export type RuleRow = typeof classifyJobRules.$inferInsert;
export type ParsingRow = typeof classifyJobParsingSettings.$inferInsert;

// The reporting views (docs/queries.md) are part of the same contract.
export * from './views.ts';
