// Test databases: a fresh Postgres database per test (real server), or an in-memory PGlite per file.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connect, type Database } from '../../src/db/connect.ts';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const inCi = Boolean(process.env.CI);

let reachable: Promise<boolean> | undefined;

/**
 * Is the test Postgres up? In CI an unreachable server is an error (the suite must not pass by
 * skipping); elsewhere the Postgres suites are skipped with a loud note, and the PGlite ones still run.
 */
export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (error) {
      const message = `Postgres at ${TEST_DATABASE_URL} is unreachable (${(error as Error).message})`;
      if (inCi) throw new Error(`${message}: CI needs it (start it, or set TEST_DATABASE_URL)`, { cause: error });
      process.stderr.write(`\n!! ${message}: Postgres suites are SKIPPED; set TEST_DATABASE_URL to run them.\n\n`);
      return false;
    }
  })();
  return reachable;
}

/** Creates an empty database on the test server and returns its URL and a drop function. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `cs_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export type Backend = 'postgres' | 'pglite';

export interface TestDatabase {
  database: Database;
  /** DATABASE_URL for a child process (Postgres only). */
  url: string | undefined;
  /** Empties every table (between tests sharing one PGlite). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const TABLES = [
  'classify_job_rules',
  'classify_job_parsing_settings',
  'classify_job_status_changes',
  'classify_jobs',
  'sync_run_projects',
  'sync_runs',
  'sync_state',
  'sync_walk_seen',
  'sync_rejects',
];

export async function openTestDatabase(backend: Backend): Promise<TestDatabase> {
  if (backend === 'pglite') {
    const database = await connect({ databaseUrl: undefined, pgliteDir: 'memory://' });
    await database.migrate();
    return {
      database,
      url: undefined,
      reset: async () => {
        await database.db.execute(`TRUNCATE ${TABLES.join(', ')} CASCADE` as never);
      },
      close: () => database.close(),
    };
  }
  const { url, drop } = await createPostgresDatabase();
  // Named apart from the code under test, so tests can tell a worker's sessions from their own.
  const database = await connect({ databaseUrl: url, pgliteDir: 'unused', applicationName: 'classify-sync-test' });
  await database.migrate();
  return {
    database,
    url,
    reset: async () => {
      await database.db.execute(`TRUNCATE ${TABLES.join(', ')} CASCADE` as never);
    },
    close: async () => {
      await database.close();
      await drop();
    },
  };
}
