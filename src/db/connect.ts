// DATABASE_URL → a node-postgres pool; unset → embedded PGlite. Both give the same Drizzle type and
// run the same committed migrations.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { redactUrl, type Config } from '../config.ts';
import { errorMessage } from '../errors.ts';
import { sqlState } from './errors.ts';
import type { Logger } from '../log.ts';
import { createPgliteDir, pgliteStartParams, walCheckpoints } from './pglite.ts';
import * as schema from './schema.ts';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export class DatabaseError extends Error {
  override name = 'DatabaseError';
}

export interface Database {
  readonly db: Db;
  readonly kind: 'postgres' | 'pglite';
  /** Where the data goes, safe to print (no password). */
  readonly description: string;
  /** Applies pending migrations; concurrent callers are serialized by an advisory lock. Returns the ones it applied. */
  migrate(): Promise<MigrationReport>;
  /** Tags of the migrations the database lacks, oldest first (all of them before its first migrate). */
  pendingMigrations(): Promise<string[]>;
  /**
   * Runs `fn` while holding a session-level advisory lock on a dedicated connection, so the lock is
   * freed by Postgres if this process dies. Returns `{ acquired: false }` without running `fn` when
   * another session holds it.
   */
  tryWithLock<T>(key: string, fn: () => Promise<T>): Promise<{ acquired: true; value: T } | { acquired: false }>;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle', import.meta.url));
const MIGRATE_LOCK = 'classify-sync:migrate';

export interface MigrationReport {
  /** Tags of the migrations this call applied (e.g. 0006_sliced_walks), in order; empty: the schema was current. */
  applied: string[];
  /** Tag of the newest migration there is. */
  latest: string | undefined;
}

/** The committed migrations, oldest first (drizzle-kit's journal: when = the migration's folderMillis). */
function journal(): { when: number; tag: string }[] {
  const parsed = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as {
    entries: { when: number; tag: string }[];
  };
  return parsed.entries;
}

/** folderMillis of the migrations a database has recorded (none when drizzle's table does not exist yet). */
async function recordedMigrations(query: (text: string) => Promise<{ rows: { created_at: unknown }[] }>): Promise<Set<number>> {
  try {
    const { rows } = await query('SELECT created_at FROM drizzle.__drizzle_migrations');
    return new Set(rows.map((r) => Number(r.created_at)));
  } catch {
    return new Set();
  }
}

/** Tags of the committed migrations the database has not recorded. */
async function pendingMigrations(query: (text: string) => Promise<{ rows: { created_at: unknown }[] }>): Promise<string[]> {
  const recorded = await recordedMigrations(query);
  return journal()
    .filter((e) => !recorded.has(e.when))
    .map((e) => e.tag);
}

/** Runs `apply` and says which migrations it applied. */
async function reportMigrations(
  query: (text: string) => Promise<{ rows: { created_at: unknown }[] }>,
  apply: () => Promise<void>,
): Promise<MigrationReport> {
  const before = await recordedMigrations(query);
  await apply();
  const after = await recordedMigrations(query);
  const entries = journal();
  return { applied: entries.filter((e) => after.has(e.when) && !before.has(e.when)).map((e) => e.tag), latest: entries.at(-1)?.tag };
}

/** Rows of a raw query, whichever driver runs it. */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  // Both drivers' results carry `rows`; the Drizzle type over either driver does not say so.
  const result: unknown = await db.execute(query);
  return (result as { rows: T[] }).rows;
}

/**
 * A Postgres array literal of `values`, every element quoted (`"` and `\` escaped): one text
 * parameter, read the same by every driver, whatever the values hold.
 */
export function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
}

export interface ConnectOptions {
  databaseUrl: string | undefined;
  pgliteDir: string;
  /** Pool size for Postgres; a sync needs about one per project in parallel plus one per lock. */
  maxConnections?: number | undefined;
  /** How its sessions are named in pg_stat_activity (default classify-sync). */
  applicationName?: string | undefined;
  /**
   * Every session read-only (default_transaction_read_only): a statement that would write fails with
   * SQLSTATE 25006 instead. Advisory locks still work. An embedded directory without a database is
   * refused instead of created.
   */
  readOnly?: boolean | undefined;
}

/** Sessions whose every transaction is read-only (https://www.postgresql.org/docs/current/runtime-config-client.html). */
const READ_ONLY_SETTING = ['-c', 'default_transaction_read_only=on'] as const;

/**
 * Opens the configured database and applies pending migrations: what every command starts with.
 * `readOnly` (a dry run) opens read-only sessions and applies nothing: a database with pending
 * migrations is refused, with what to run.
 */
export async function openDatabase(
  config: Config,
  log: Logger,
  options: { readOnly?: boolean } = {},
): Promise<Database & { migrations: MigrationReport }> {
  // Per project in parallel: one connection holding its advisory lock; for the page transactions one
  // per project, or per slice of a sliced walk (as many as requests may be in flight); plus the run's
  // own lock and a few for run bookkeeping and /healthz.
  const database = await connect({
    databaseUrl: config.databaseUrl,
    pgliteDir: config.pgliteDir,
    maxConnections: config.concurrency + Math.max(config.concurrency, config.maxInFlight) + 3,
    readOnly: options.readOnly,
  });
  log.info({ database: database.description, kind: database.kind, readOnly: Boolean(options.readOnly) }, 'database connected');
  if (options.readOnly) {
    const pending = await database.pendingMigrations();
    if (pending.length > 0) {
      await database.close();
      throw new DatabaseError(
        `${database.description} has ${pending.length} pending migration${pending.length === 1 ? '' : 's'} (${pending.join(', ')}) ` +
          'and a dry run applies none: run classify-sync migrate first',
      );
    }
    return Object.assign(database, { migrations: { applied: [], latest: journal().at(-1)?.tag } });
  }
  const migrations = await database.migrate();
  if (migrations.applied.length > 0) log.info({ applied: migrations.applied }, 'migrations applied');
  return Object.assign(database, { migrations });
}

export async function connect(options: ConnectOptions): Promise<Database> {
  return options.databaseUrl
    ? connectPostgres(options.databaseUrl, options.maxConnections ?? 10, options.applicationName ?? 'classify-sync', options.readOnly)
    : connectPglite(options.pgliteDir, options.readOnly);
}

/** SQLSTATE 3D000: the database named in the URL does not exist on the server. */
const INVALID_CATALOG_NAME = '3D000';

/** "database x does not exist: create it (createdb …)", with the URL's host, port and user (never its password). */
function missingDatabase(url: string, description: string): string {
  // pg's own reading of the URL (a client that never connects), so the names are the ones it used.
  const parsed = new pg.Client({ connectionString: url });
  const options = [
    parsed.host ? `-h ${shellWord(parsed.host)}` : '',
    parsed.port ? `-p ${parsed.port}` : '',
    parsed.user ? `-U ${shellWord(parsed.user)}` : '',
  ].filter((o) => o !== '');
  const name = parsed.database ?? '';
  return `database ${JSON.stringify(name)} does not exist (${description}): create it (createdb ${[...options, shellWord(name)].join(' ')}), or fix DATABASE_URL`;
}

/** A word as a POSIX shell reads it: bare when it is plain, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

async function connectPostgres(url: string, max: number, applicationName: string, readOnly = false): Promise<Database> {
  const description = redactUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: applicationName,
    ...(readOnly && { options: READ_ONLY_SETTING.join(' ') }),
  });
  // An idle client dropped by the server must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  // Nor a checked-out one: pg-pool listens only while a client is idle, and a connection killed inside a
  // transaction (pg_terminate_backend, failover) emits 'error' with nobody listening, an uncaught exception.
  // With this listener its statement fails instead, the pool drops the client, and the page is retried.
  pool.on('connect', (client) => client.on('error', () => undefined));
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    if (sqlState(error) === INVALID_CATALOG_NAME) throw new DatabaseError(missingDatabase(url, description));
    throw new DatabaseError(
      `database ${description} is unreachable (${errorMessage(error)}): check DATABASE_URL and that Postgres is running`,
    );
  }
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  // drizzle-orm 0.45 sends BEGIN before the try/finally that releases its pooled client, so a BEGIN that
  // fails (the connection died while idle in the pool) leaks the client for good: the pool shrinks and
  // pool.end() never returns (drizzle-team/drizzle-orm#6023, #6241). So every transaction runs on a client
  // checked out here, always released, and destroyed when the transaction failed.
  db.transaction = async (fn, config) => {
    const client = await pool.connect();
    let failure: Error | undefined;
    try {
      return await (drizzlePg(client, { schema }) as unknown as Db).transaction(fn, config);
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(failure);
    }
  };

  async function tryWithLock<T>(key: string, fn: () => Promise<T>) {
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key]);
      if (!rows[0]?.ok) return { acquired: false as const };
      try {
        return { acquired: true as const, value: await fn() };
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  return {
    db,
    kind: 'postgres',
    description,
    tryWithLock,
    pendingMigrations: () => pendingMigrations((text) => pool.query(text)),
    async migrate() {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATE_LOCK]);
        try {
          return await reportMigrations(
            (text) => client.query(text),
            () => migratePg(drizzlePg(client), { migrationsFolder: MIGRATIONS_DIR }),
          );
        } finally {
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATE_LOCK]).catch(() => undefined);
        }
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

async function connectPglite(dir: string, readOnly = false): Promise<Database> {
  // Loaded only when used: the WASM build is large and Postgres users never need it.
  const [{ PGlite }, { drizzle }, { migrate }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ]);
  let client: InstanceType<typeof PGlite>;
  const startParams = [...pgliteStartParams(PGlite.defaultStartParams), ...(readOnly ? READ_ONLY_SETTING : [])];
  if (readOnly && !dir.startsWith('memory://') && !existsSync(join(dir, 'PG_VERSION'))) {
    throw new DatabaseError(
      `no embedded database in ${dir}, and a read-only run creates none: point --pglite-dir at the directory a sync wrote (or set DATABASE_URL)`,
    );
  }
  try {
    if (!dir.startsWith('memory://')) mkdirSync(dir, { recursive: true });
    await createPgliteDir(dir, startParams);
    client = await PGlite.create(dir, { startParams });
  } catch (error) {
    throw new DatabaseError(
      `embedded database in ${dir} cannot be opened (${errorMessage(error)}): is another classify-sync using it? set DATABASE_URL or --pglite-dir`,
    );
  }
  const db = drizzle({ client, schema }) as unknown as Db;
  // Every transaction that commits may be the one after which the WAL is due a checkpoint. A failed
  // checkpoint does not fail the transaction, which has committed: the next commit tries again.
  const checkpoint = walCheckpoints(client);
  const transaction = db.transaction.bind(db);
  db.transaction = async (fn, config) => {
    const value = await transaction(fn, config);
    await checkpoint().catch(() => undefined);
    return value;
  };
  const held = new Set<string>();
  return {
    db,
    kind: 'pglite',
    description: `embedded PGlite in ${dir}`,
    // One process owns a PGlite directory, so an in-process lock is the whole story.
    async tryWithLock(key, fn) {
      if (held.has(key)) return { acquired: false };
      held.add(key);
      try {
        return { acquired: true, value: await fn() };
      } finally {
        held.delete(key);
      }
    },
    pendingMigrations: () => pendingMigrations((text) => client.query(text)),
    migrate: () =>
      reportMigrations(
        (text) => client.query(text),
        () => migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS_DIR }),
      ),
    close: () => client.close(),
  };
}
