// Builds a real sync against a simulator, the way the CLI does, with fast retries.
import { sql } from 'drizzle-orm';
import { loadConfig, type Config, type ConfigOverrides } from '../../src/config.ts';
import { connect, queryRows, type Db } from '../../src/db/connect.ts';
import { silentLogger } from '../../src/log.ts';
import { cleanJson } from '../../src/normalize.ts';
import type { Simulator } from '../../src/simulator/index.ts';
import { runSync, type SyncOptions } from '../../src/sync/run.ts';
import type { TestDatabase } from './db.ts';

export function testConfig(sim: Simulator, overrides: ConfigOverrides & { env?: Record<string, string> } = {}): Config {
  const { env, ...rest } = overrides;
  const config = loadConfig({ baseUrl: sim.url, ...rest }, { LLAMA_CLOUD_API_KEY: sim.apiKey, ...env });
  return Object.freeze({
    ...config,
    requestTimeoutMs: 2000,
    retry: { retries: 6, minDelayMs: 5, maxDelayMs: 40, maxRetryAfterMs: 50, maxElapsedMs: 30_000 },
  });
}

export function sync(config: Config, tdb: TestDatabase, extra: Partial<SyncOptions> = {}) {
  return runSync({ config, database: tdb.database, log: silentLogger, trigger: 'sync', ...extra });
}

/**
 * A sync on connections of its own, closed after it: a backend reports its row counts to the
 * statistics only now and then while it lives, and always when it exits (see settledRowWrites).
 */
export async function syncAlone(config: Config, tdb: TestDatabase) {
  if (tdb.url === undefined) throw new Error('syncAlone: a Postgres test database only');
  const database = await connect({ databaseUrl: tdb.url, pgliteDir: 'unused', applicationName: 'classify-sync-test' });
  try {
    return await runSync({ config, database, log: silentLogger, trigger: 'sync' });
  } finally {
    await database.close();
  }
}

/** The live jobs of a project as stored: id → raw item. */
export async function storedRaw(db: Db, projectId: string): Promise<Map<string, unknown>> {
  const rows = await queryRows<{ id: string; raw: unknown }>(
    db,
    sql`SELECT id, raw FROM classify_jobs WHERE project_id = ${projectId} AND deleted_at IS NULL`,
  );
  return new Map(rows.map((r) => [r.id, r.raw]));
}

/** What the simulator serves for a project, in the same shape. */
export function expectedRaw(sim: Simulator, projectId: string): Map<string, unknown> {
  return new Map(sim.jobs(projectId).map((j) => [j.id, cleanJson(j)]));
}

export async function count(db: Db, query: ReturnType<typeof sql>): Promise<number> {
  const [row] = await queryRows<{ n: number }>(db, query);
  return Number(row?.n ?? 0);
}

/** Row versions ever written to a table (inserts + updates + deletes), from Postgres' statistics. */
export async function rowWrites(db: Db, table: string): Promise<number> {
  await db.execute(sql`SELECT pg_stat_force_next_flush()`);
  const [row] = await queryRows<{ n: string }>(
    db,
    sql`
    SELECT (n_tup_ins + n_tup_upd + n_tup_del)::text AS n FROM pg_stat_user_tables WHERE relname = ${table}`,
  );
  return Number(row?.n ?? 0);
}

/**
 * rowWrites of each table once the figures stop moving: a backend that has just exited may still be
 * reporting its counts (polls every 200 ms until two reads 1 s apart agree, at most 15 s).
 */
export async function settledRowWrites(db: Db, tables: readonly string[]): Promise<number[]> {
  const read = () => Promise.all(tables.map((t) => rowWrites(db, t)));
  let last = await read();
  let stableSince = Date.now();
  const deadline = Date.now() + 15_000;
  while (Date.now() - stableSince < 1000 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await read();
    if (next.some((n, i) => n !== last[i])) stableSince = Date.now();
    last = next;
  }
  return last;
}

/** A valid v1 item of `project`; `over` replaces or (with undefined) removes fields. */
export function v1Item(id: string, project: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    id,
    project_id: project,
    user_id: 'user-1',
    status: 'SUCCESS',
    mode: 'FAST',
    rules: [{ type: 'invoice', description: 'an invoice with a number and a total' }],
    created_at: '2026-10-01T00:00:00Z',
    updated_at: '2026-10-01T00:01:00Z',
    effective_at: '2026-10-01T00:01:00Z',
    error_message: null,
    job_record_id: null,
    parsing_configuration: { lang: 'en', max_pages: 5, target_pages: [0] },
  };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}
