// One sync in its own process, run the way the CLI runs `backfill` (same config loading, database
// opening, migrations and runSync), reporting to the bench over IPC: wall time of the run, CPU
// time, peak RSS, rows stored and row versions written. Its own process so its peak RSS is its own.
//
//   node --import tsx bench/sync-child.ts --project <id>... [--pglite-dir <dir>] [--page-size <n>]
//     [--concurrency <n>] [--api v1|v2|auto] [--slices <n|auto>] [--full]
//   env: LLAMA_CLOUD_BASE_URL, LLAMA_CLOUD_API_KEY, DATABASE_URL (unset: PGlite)
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/db/connect.ts';
import { loadConfig } from '../src/config.ts';
import { queryRows, type Database } from '../src/db/connect.ts';
import { createLogger } from '../src/log.ts';
import { runSync } from '../src/sync/run.ts';
import { processCpuMs, withClient } from './databases.ts';
import { JOB_TABLES, type SyncChildReport, type TableCounts } from './protocol.ts';

const STATS_QUERY = `SELECT relname, (n_tup_ins + n_tup_upd + n_tup_del)::bigint AS n FROM pg_stat_user_tables
  WHERE relname IN (${JOB_TABLES.map((t) => `'${t}'`).join(', ')})`;

function toCounts(rows: { relname: string; n: string | number }[]): TableCounts {
  const counts = Object.fromEntries(JOB_TABLES.map((t) => [t, 0])) as TableCounts;
  for (const row of rows) counts[row.relname as keyof TableCounts] = Number(row.n);
  return counts;
}

/**
 * PGlite is one backend: flushing its own pending statistics is enough. A Postgres backend flushes
 * its statistics when it exits (or within seconds when idle), so after the run the pool is closed
 * and the figures are read once no other backend is connected to the bench database, until two
 * readings agree (a backend leaves pg_stat_activity a moment before its last flush).
 */
async function rowVersions(database: Database, databaseUrl: string | undefined, afterClose: boolean): Promise<TableCounts> {
  if (database.kind === 'pglite') {
    await database.db.execute(sql`SELECT pg_stat_force_next_flush()`);
    return toCounts(await queryRows(database.db, sql.raw(STATS_QUERY)));
  }
  const pause = () => new Promise((resolve) => setTimeout(resolve, 250));
  return withClient(databaseUrl as string, async (client) => {
    for (let attempt = 0; afterClose && attempt < 80; attempt++) {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      if (rows[0]?.n === 0) break;
      await pause();
    }
    let last = '';
    for (let attempt = 0; attempt < 40; attempt++) {
      const { rows } = await client.query<{ relname: string; n: string }>(STATS_QUERY);
      const text = JSON.stringify(toCounts(rows));
      if (text === last) break;
      last = text;
      await pause();
    }
    return JSON.parse(last) as TableCounts;
  });
}

/**
 * CPU time of this run's Postgres backends so far (the bench database is the run's own, so every
 * backend on it is this process's), read before the pool closes. Undefined for PGlite, which runs
 * inside this process: its CPU is in the process's own figure.
 */
async function backendCpuMs(database: Database): Promise<number | undefined> {
  if (database.kind !== 'postgres') return undefined;
  const rows = await queryRows<{ pid: number }>(database.db, sql`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`);
  return processCpuMs(rows.map((r) => r.pid));
}

async function rowCounts(database: Database): Promise<TableCounts> {
  const rows = await queryRows<{ relname: string; n: string }>(
    database.db,
    sql.raw(JOB_TABLES.map((t) => `SELECT '${t}' AS relname, count(*)::bigint AS n FROM ${t}`).join(' UNION ALL ')),
  );
  return toCounts(rows);
}

async function main(): Promise<SyncChildReport> {
  const { values } = parseArgs({
    options: {
      project: { type: 'string', multiple: true },
      'pglite-dir': { type: 'string' },
      'page-size': { type: 'string' },
      concurrency: { type: 'string' },
      api: { type: 'string' },
      slices: { type: 'string' },
      // Walk in full even when an incremental walk would do, as `backfill` does: a re-sync then
      // fetches and compares every job.
      full: { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'warn' },
    },
  });
  const config = loadConfig(
    {
      projects: values.project,
      pgliteDir: values['pglite-dir'],
      pageSize: values['page-size'] === undefined ? undefined : Number(values['page-size']),
      concurrency: values.concurrency === undefined ? undefined : Number(values.concurrency),
      api: values.api,
      slices: values.slices === undefined || values.slices === 'auto' ? values.slices : Number(values.slices),
      logLevel: values['log-level'],
    },
    process.env,
  );
  const log = createLogger({ level: config.logLevel, secrets: config.secrets });
  const database = await openDatabase(config, log);
  let closed = false;
  try {
    const rowVersionsBefore = await rowVersions(database, config.databaseUrl, false);
    const cpu = process.cpuUsage();
    const requestsByStatus: Record<string, number> = {};
    const observer = {
      request: ({ status }: { status: string }) => {
        requestsByStatus[status] = (requestsByStatus[status] ?? 0) + 1;
      },
    };
    const started = performance.now();
    const result = await runSync({ config, database, log, trigger: 'backfill', fromStart: true, full: values.full, observer });
    const wallMs = performance.now() - started;
    const { user, system } = process.cpuUsage(cpu);
    const dbCpuMs = await backendCpuMs(database);
    const rows = await rowCounts(database);
    if (database.kind === 'postgres') {
      await database.close();
      closed = true;
    }
    const rowVersionsAfter = await rowVersions(database, config.databaseUrl, true);
    const sum = (key: 'pages' | 'jobsSeen' | 'inserted' | 'updated' | 'unchanged' | 'deleted' | 'rejects' | 'retries') =>
      result.projects.reduce((n, p) => n + p[key], 0);
    const failed = result.projects.find((p) => p.error);
    if (failed) process.stderr.write(`bench sync: project ${failed.projectId} failed: ${failed.error}\n`);
    return {
      status: result.status,
      wallMs,
      cpuUserMs: user / 1000,
      cpuSystemMs: system / 1000,
      dbCpuMs,
      // Node reports maxRSS in kibibytes.
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      pages: sum('pages'),
      jobsSeen: sum('jobsSeen'),
      inserted: sum('inserted'),
      updated: sum('updated'),
      unchanged: sum('unchanged'),
      deleted: sum('deleted'),
      rejects: sum('rejects'),
      retries: sum('retries'),
      requestsByStatus,
      rows,
      rowVersionsBefore,
      rowVersionsAfter,
    };
  } finally {
    if (!closed) await database.close();
    log.flush();
  }
}

const report = await main();
if (process.send) process.send(report);
else process.stdout.write(`${JSON.stringify(report)}\n`);
process.disconnect?.();
