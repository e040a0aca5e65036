// The two physical limits a sync runs against, measured in the same run as the sync:
// - fetch ceiling: walking every page from the simulator and normalizing it, storing nothing
//   (the same page fetcher, walk and normalization the sync uses, projects in parallel as the sync);
// - write ceiling: COPY of the same normalized rows (jobs, rules, parsing settings) into the empty
//   tables of a freshly migrated database (same columns, keys, indexes and foreign keys).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { loadConfig } from '../src/config.ts';
import { connect } from '../src/db/connect.ts';
import { normalizePage, type NormalizedJob } from '../src/normalize.ts';
import { projectPageFetcher } from '../src/source/client.ts';
import { pages } from '../src/source/pages.ts';
import { processCpuMs, type BenchDatabase } from './databases.ts';
import type { SimulatorProcess } from './simulator.ts';

export interface WalkFigures {
  jobs: number;
  pages: number;
  wallMs: number;
  /** CPU time of this process during the walk. */
  cpuMs: number;
}

export interface WalkOptions {
  pageSize: number;
  concurrency: number;
  /** Receives every normalized page (untimed uses only: it slows the walk). */
  onJobs?: (projectId: string, jobs: readonly NormalizedJob[]) => void;
}

async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Walks every project of the simulator like the sync does, without storing anything. */
export async function walkAll(sim: SimulatorProcess, options: WalkOptions): Promise<WalkFigures> {
  const config = loadConfig(
    { baseUrl: sim.url, projects: sim.projectIds, pageSize: options.pageSize, concurrency: options.concurrency },
    { LLAMA_CLOUD_API_KEY: sim.apiKey },
  );
  let jobs = 0;
  let pageCount = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await forEachBounded(config.projects, config.concurrency, async (project) => {
    const fetchPage = projectPageFetcher(config, { ...project, apiKey: sim.apiKey }, 'v1');
    for await (const page of pages(fetchPage, { maxPages: config.maxPages })) {
      const normalized = normalizePage(page.items, { projectId: project.id, organizationId: project.organizationId, apiVersion: 'v1' });
      jobs += normalized.jobs.length;
      pageCount += 1;
      options.onJobs?.(project.id, normalized.jobs);
    }
  });
  const wallMs = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  return { jobs, pages: pageCount, wallMs, cpuMs: (user + system) / 1000 };
}

// ---- COPY ----

const JOB_COLUMNS = [
  'id',
  'project_id',
  'organization_id',
  'api_version',
  'status',
  'outcome',
  'mode',
  'user_id',
  'error_message',
  'job_record_id',
  'created_at',
  'effective_at',
  'updated_at',
  'raw',
  'last_run_id',
] as const;
const RULE_COLUMNS = ['job_id', 'position', 'type', 'description'] as const;
const PARSING_COLUMNS = ['job_id', 'lang', 'max_pages', 'target_pages', 'target_pages_spec'] as const;

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One value in COPY text format (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2). */
function copyValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (Array.isArray(value)) text = `{${value.join(',')}}`;
  else if (typeof value === 'object') text = JSON.stringify(value);
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
  else text = JSON.stringify(value);
  return text.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c] ?? c);
}

const copyLine = (values: readonly unknown[]) => `${values.map(copyValue).join('\t')}\n`;

export interface CopyData {
  jobs: number;
  rules: number;
  parsing: number;
  /** Per project: COPY text of each table, in chunks. */
  byProject: Map<string, { jobs: string[]; rules: string[]; parsing: string[] }>;
}

/** Turns normalized jobs into COPY text, as the write ceiling's input (built before the clock starts). */
export function copyCollector(runId: string): { data: CopyData; add: (projectId: string, jobs: readonly NormalizedJob[]) => void } {
  const data: CopyData = { jobs: 0, rules: 0, parsing: 0, byProject: new Map() };
  const add = (projectId: string, jobs: readonly NormalizedJob[]) => {
    let text = data.byProject.get(projectId);
    if (!text) {
      text = { jobs: [], rules: [], parsing: [] };
      data.byProject.set(projectId, text);
    }
    let jobLines = '';
    let ruleLines = '';
    let parsingLines = '';
    for (const { job, rules, parsing } of jobs) {
      jobLines += copyLine([
        job.id,
        job.projectId,
        job.organizationId,
        job.apiVersion,
        job.status,
        job.outcome,
        job.mode,
        job.userId,
        job.errorMessage,
        job.jobRecordId,
        job.createdAt,
        job.effectiveAt,
        job.updatedAt,
        job.raw,
        runId,
      ]);
      for (const r of rules) ruleLines += copyLine([r.jobId, r.position, r.type, r.description]);
      if (parsing) parsingLines += copyLine([parsing.jobId, parsing.lang, parsing.maxPages, parsing.targetPages, parsing.targetPagesSpec]);
      data.jobs += 1;
      data.rules += rules.length;
      data.parsing += parsing ? 1 : 0;
    }
    text.jobs.push(jobLines);
    if (ruleLines) text.rules.push(ruleLines);
    if (parsingLines) text.parsing.push(parsingLines);
  };
  return { data, add };
}

export interface CopyFigures {
  jobs: number;
  rows: number;
  wallMs: number;
  /** CPU time of the Postgres backends that ran the COPY (undefined for PGlite). */
  dbCpuMs: number | undefined;
}

/**
 * COPYs every project's rows into the empty tables of `target` (migrated here, before the clock
 * starts): jobs, then rules and parsing settings, one transaction per project, projects on their own
 * connections in parallel like the sync's. PGlite has one connection: projects go one after another.
 */
export async function copyAll(target: BenchDatabase, data: CopyData, concurrency: number): Promise<CopyFigures> {
  const database = await connect({ databaseUrl: target.url, pgliteDir: target.pgliteDir ?? 'unused' });
  await database.migrate();
  await database.close();
  const statements = (t: { jobs: string[]; rules: string[]; parsing: string[] }) => [
    { sql: `COPY classify_jobs (${JOB_COLUMNS.join(', ')}) FROM STDIN`, chunks: t.jobs },
    { sql: `COPY classify_job_rules (${RULE_COLUMNS.join(', ')}) FROM STDIN`, chunks: t.rules },
    { sql: `COPY classify_job_parsing_settings (${PARSING_COLUMNS.join(', ')}) FROM STDIN`, chunks: t.parsing },
  ];
  const projects = [...data.byProject.values()];
  let wallMs: number;
  let dbCpuMs: number | undefined;

  if (target.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: target.url, max: concurrency });
    try {
      // Open the connections before the clock starts, as the sync's pool is open before its run.
      const warm = await Promise.all(Array.from({ length: Math.min(concurrency, projects.length) }, () => pool.connect()));
      const pids = await Promise.all(
        warm.map(async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0),
      );
      for (const c of warm) c.release();
      const cpuBefore = processCpuMs(pids);
      const started = performance.now();
      await forEachBounded(projects, concurrency, async (tables) => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          for (const { sql, chunks } of statements(tables)) {
            if (chunks.length > 0) await pipeline(Readable.from(chunks), client.query(copyFrom(sql)));
          }
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      });
      wallMs = performance.now() - started;
      const cpuAfter = processCpuMs(pids);
      dbCpuMs = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
    } finally {
      await pool.end();
    }
  } else {
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(target.pgliteDir as string);
    try {
      const started = performance.now();
      for (const tables of projects) {
        await db.transaction(async (tx) => {
          for (const { sql, chunks } of statements(tables)) {
            if (chunks.length > 0) await tx.query(sql.replace('FROM STDIN', "FROM '/dev/blob'"), [], { blob: new Blob(chunks) });
          }
        });
      }
      wallMs = performance.now() - started;
    } finally {
      await db.close();
    }
  }
  return { jobs: data.jobs, rows: data.jobs + data.rules + data.parsing, wallMs, dbCpuMs };
}
