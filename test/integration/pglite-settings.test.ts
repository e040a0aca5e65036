// The embedded database as the product opens it (openDatabase on a directory): started with the
// settings that bound its memory and disk use, created by initdb in a child process, and checkpointed
// by the product since a single-user Postgres never checkpoints on its own.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, queryRows, type Database } from '../../src/db/connect.ts';
import { CHECKPOINT_WAL_BYTES, PGLITE_SETTINGS } from '../../src/db/pglite.ts';
import { silentLogger } from '../../src/log.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { runSync } from '../../src/sync/run.ts';
import { expectedRaw, storedRaw, testConfig } from '../helpers/harness.ts';

const A = 'aaaaaaaa-0000-4000-8000-00000000000a';

describe('embedded PGlite settings', () => {
  let dir: string;
  let sim: Simulator;
  let database: Database;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cs-pglite-settings-'));
    sim = await startSimulator({ projects: [{ id: A, jobs: 120 }], apis: ['v1'], now: Date.UTC(2026, 2, 1) });
    database = await openDatabase(testConfig(sim, { projects: [A], pgliteDir: join(dir, 'data'), pageSize: 25 }), silentLogger);
  });

  afterAll(async () => {
    await database?.close();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const show = async (name: string) => {
    const [row] = await queryRows<Record<string, string>>(database.db, sql.raw(`SHOW ${name}`));
    return row?.[name];
  };

  it('creates the directory with initdb and starts with every setting', async () => {
    expect(database.kind).toBe('pglite');
    expect(existsSync(join(dir, 'data', 'PG_VERSION'))).toBe(true);
    for (const [name, value] of Object.entries(PGLITE_SETTINGS)) expect({ name, value: await show(name) }).toEqual({ name, value });
    // PGlite's own start options are kept: the settings are added to them, not put in their place.
    expect(await show('search_path')).toBe('public');
    // Nothing here may trade a committed page for speed.
    expect(await show('synchronous_commit')).toBe('on');
    expect(await show('full_page_writes')).toBe('on');
  });

  it('still syncs into PGlite', async () => {
    const config = testConfig(sim, { projects: [A], pgliteDir: join(dir, 'data'), pageSize: 25 });
    const result = await runSync({ config, database, log: silentLogger, trigger: 'sync' });
    expect(result.status).toBe('succeeded');
    expect(await storedRaw(database.db, A)).toEqual(expectedRaw(sim, A));
  });

  it('checkpoints once a transaction has written CHECKPOINT_WAL_BYTES of WAL', async () => {
    const redo = async () =>
      (await queryRows<{ lsn: string }>(database.db, sql`SELECT redo_lsn::text AS lsn FROM pg_control_checkpoint()`))[0]?.lsn;
    const before = await redo();
    // A WAL record of that size, written by a committed transaction: as much WAL as ~6 000 jobs.
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_logical_emit_message(true, 'classify-sync-test', repeat('x', ${CHECKPOINT_WAL_BYTES}))`);
    });
    const after = await redo();
    const [moved] = await queryRows<{ moved: boolean }>(database.db, sql`SELECT ${after}::pg_lsn > ${before}::pg_lsn AS moved`);
    expect(moved?.moved).toBe(true);
  });
});
