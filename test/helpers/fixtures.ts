// Vitest fixtures for the test databases of db.ts: each registers the hooks of the describe block (or
// file) it is called in and returns an accessor to the database of the test running now.
//
// Postgres follows postgresReachable(): outside CI an unreachable server skips the tests, in CI it
// fails them. Call the fixture before registering hooks that use the database: after hooks run in
// reverse order (sequence.hooks 'stack'), so the database is closed after them.
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { openTestDatabase, postgresReachable, type Backend, type TestDatabase } from './db.ts';

export interface FixtureOptions {
  /**
   * One database for the whole describe block (or file), emptied before each test, instead of a fresh
   * one per test, dropped after it.
   */
  shared?: boolean;
}

/**
 * The database of the test running now; `current` is it or undefined (no database: Postgres is
 * unreachable and the test skipped, or outside the hooks), for cleanups that must not throw.
 */
export type TestDatabaseAccessor = (() => TestDatabase) & { readonly current: TestDatabase | undefined };

function accessor(name: string, current: () => TestDatabase | undefined): TestDatabaseAccessor {
  const get = () => {
    const database = current();
    if (!database) throw new Error(`${name}: no test database here (called outside a test, or before its hooks ran?)`);
    return database;
  };
  return Object.defineProperty(get, 'current', { get: current }) as TestDatabaseAccessor;
}

/** A Postgres database on the test server (TEST_DATABASE_URL): a fresh one for each test unless `shared`. */
export function usePostgres(options: FixtureOptions = {}): TestDatabaseAccessor {
  let current: TestDatabase | undefined;
  if (options.shared) {
    beforeAll(async () => {
      if (await postgresReachable()) current = await openTestDatabase('postgres');
    });
    afterAll(async () => {
      await current?.close();
      current = undefined;
    });
    beforeEach(async (ctx) => {
      if (!current) return ctx.skip();
      await current.reset();
    });
  } else {
    beforeEach(async (ctx) => {
      if (!(await postgresReachable())) return ctx.skip();
      current = await openTestDatabase('postgres');
    });
    afterEach(async () => {
      await current?.close();
      current = undefined;
    });
  }
  return accessor('usePostgres()', () => current);
}

/**
 * A database on `backend`, for suites that run on both: Postgres as usePostgres(options) gives it;
 * PGlite always one in-memory database for the whole describe block (its start is slow), emptied
 * before each test.
 */
export function useBackend(backend: Backend, options: FixtureOptions = {}): TestDatabaseAccessor {
  if (backend === 'postgres') return usePostgres(options);
  let current: TestDatabase | undefined;
  beforeAll(async () => {
    current = await openTestDatabase('pglite');
  });
  afterAll(async () => {
    await current?.close();
    current = undefined;
  });
  beforeEach(async () => {
    await current?.reset();
  });
  return accessor("useBackend('pglite')", () => current);
}
