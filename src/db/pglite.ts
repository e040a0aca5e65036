// How the embedded database (PGlite: Postgres compiled to WASM, running in this process as a
// single-user backend) is started, so that its memory and its disk use stay bounded whatever the
// number of jobs. Figures and the reasons behind each setting: docs/pglite-memory.md.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';

/**
 * Postgres settings given to the embedded database at every start, as `-c name=value` options: they
 * override postgresql.conf, so directories created by earlier versions get them too. None of them
 * trades durability: synchronous_commit and full_page_writes stay on, so a commit's WAL has been
 * written out when the page's transaction returns, and a process killed mid-write cannot leave a torn
 * page behind. (PGlite starts Postgres with fsync off: what it writes survives the process, not an
 * operating-system crash; that is PGlite's own choice, unchanged here.)
 */
export const PGLITE_SETTINGS = {
  // The buffer pool is allocated, and touched, in full when PGlite starts (its shared memory is
  // zeroed WASM memory): resident from the first second, and WASM memory is never given back. The
  // default 128MB kept ~150MB of the process resident, over a quarter of its RSS. Pages evicted from
  // 16MB are read again from the OS page cache (the data files are ordinary files): more read and
  // write calls, about as many bytes reaching the disk, no risk (a dirty page is written to its file
  // before its buffer is reused, and the WAL holds every committed change).
  shared_buffers: '16MB',
  // By default 1/32 of shared_buffers, which would now be 512kB, less than the WAL of one page of
  // 100 jobs (~500kB): the backend would write it out in pieces mid-statement. 4MB is what it had with
  // the default buffer pool. Each commit still writes its WAL out before it returns (synchronous_commit).
  wal_buffers: '4MB',
  // A single-user backend has no checkpointer, and Postgres starts a checkpoint on WAL volume only
  // under a postmaster: here pg_wal would keep every byte of WAL ever written (~5 kB per job stored,
  // 513MB after 100 000 jobs) until the database is closed. `walCheckpoints` below checkpoints instead;
  // these two bound how many old segments a checkpoint keeps for reuse rather than deleting.
  max_wal_size: '128MB',
  min_wal_size: '32MB',
  // Sorts and hashes of a maintenance command (CREATE INDEX in a migration, VACUUM) may take this
  // much, and in WASM memory it stays resident once taken. Migrations index small or empty tables.
  maintenance_work_mem: '16MB',
} as const;

/**
 * WAL written since the last checkpoint that triggers the next one: half of max_wal_size, about where
 * Postgres' checkpointer would start one (max_wal_size / (1 + checkpoint_completion_target)). A
 * checkpoint writes the dirty buffers (at most shared_buffers) and lets the segments before it go.
 * More often would add full-page images to the WAL (the first change of each page after a checkpoint
 * logs the whole page: at every 32MB, 2.5 times the WAL of no checkpoint at 100 000 jobs), less often
 * lets pg_wal grow further.
 */
export const CHECKPOINT_WAL_BYTES = 64 * 1024 * 1024;

/** PGlite's own start options plus PGLITE_SETTINGS. */
export function pgliteStartParams(defaults: readonly string[]): string[] {
  return [...defaults, ...Object.entries(PGLITE_SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
}

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

// Runs in the child: creating PGlite on an empty directory runs initdb, then the database starts once
// and shuts down cleanly.
const INIT_SCRIPT = `
const { PGlite } = await import('@electric-sql/pglite');
const [dir, params] = process.argv.slice(1);
const pg = await PGlite.create(dir, { startParams: JSON.parse(params) });
await pg.close();
`;

/**
 * Creates the embedded database in `dir` if it holds none yet, in a short-lived child process.
 * PGlite runs initdb in a second, in-memory PGlite instance next to the first, with its own WASM
 * heap, a copy of that heap and a tar of the new directory: creating a database in-process took the
 * process to ~900 MB of RSS before the first query, 800 MB of it still resident after a full garbage
 * collection. In a child it all goes back to the system when the child exits, and this process only
 * ever opens an existing database.
 */
export async function createPgliteDir(dir: string, startParams: readonly string[]): Promise<void> {
  if (dir.startsWith('memory://') || existsSync(join(dir, 'PG_VERSION'))) return;
  // The child resolves the package from this one's installation, so it runs there; hence the absolute path.
  const child = spawn(process.execPath, ['--input-type=module', '-e', INIT_SCRIPT, resolve(dir), JSON.stringify(startParams)], {
    cwd: PACKAGE_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const code = await new Promise<number | null>((done, fail) => {
    child.once('error', fail);
    child.once('close', done);
  });
  if (code !== 0) throw new Error(`initdb exited with code ${code}: ${stderr.trim()}`);
}

/**
 * Checkpoints the embedded database whenever CHECKPOINT_WAL_BYTES of WAL have been written since the
 * last one: the checkpointer's work, which a single-user backend does not do. Call it after a
 * transaction commits; it costs one query, and a checkpoint every few thousand jobs stored.
 */
export function walCheckpoints(client: PGlite, everyBytes = CHECKPOINT_WAL_BYTES): () => Promise<void> {
  let since: string | undefined;
  let running: Promise<void> | undefined;
  const check = async () => {
    // The redo point of the last checkpoint (the shutdown checkpoint when the database was opened).
    since ??= (await client.query<{ lsn: string }>('SELECT redo_lsn::text AS lsn FROM pg_control_checkpoint()')).rows[0]?.lsn;
    const { rows } = await client.query<{ due: boolean; lsn: string }>(
      'SELECT pg_current_wal_insert_lsn() - $1::pg_lsn >= $2 AS due, pg_current_wal_insert_lsn()::text AS lsn',
      [since, everyBytes],
    );
    const row = rows[0];
    if (!row?.due) return;
    await client.exec('CHECKPOINT');
    since = row.lsn;
  };
  return async () => {
    // Concurrent commits (one per project) share one check rather than queue several.
    running ??= check().finally(() => {
      running = undefined;
    });
    await running;
  };
}
