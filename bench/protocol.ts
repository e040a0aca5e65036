// What a sync child reports to the bench (bench/sync-child.ts → bench/run.ts, over IPC).

/** The tables whose row versions a repeat sync must not write. */
export const JOB_TABLES = ['classify_jobs', 'classify_job_rules', 'classify_job_parsing_settings', 'classify_job_status_changes'] as const;
export type TableCounts = Record<(typeof JOB_TABLES)[number], number>;

export interface SyncChildReport {
  status: string;
  /** Wall time of runSync alone (process start, connection and migrations excluded). */
  wallMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** CPU time of the run's Postgres backends (undefined for PGlite, whose CPU is in the above). */
  dbCpuMs: number | undefined;
  /** Peak resident set size of the sync process, bytes. */
  maxRssBytes: number;
  pages: number;
  jobsSeen: number;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
  rejects: number;
  /** Requests retried, as the run counts them (sync_run_projects.retries). */
  retries: number;
  /** The run's requests by HTTP status ("200", "429", ...) or error kind, as its observer saw them. */
  requestsByStatus: Record<string, number>;
  /** Rows stored after the run. */
  rows: TableCounts;
  /** n_tup_ins + n_tup_upd + n_tup_del from pg_stat_user_tables, before and after the run. */
  rowVersionsBefore: TableCounts;
  rowVersionsAfter: TableCounts;
}
