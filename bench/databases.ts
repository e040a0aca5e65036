// Fresh, empty databases for each bench scenario: a new database on the Postgres server, or a new
// PGlite directory. Each is dropped at the end so a run leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export type DbKind = 'postgres' | 'pglite';

export interface BenchDatabase {
  kind: DbKind;
  /** DATABASE_URL of the new database (Postgres only). */
  url: string | undefined;
  /** The new PGlite directory (PGlite only). */
  pgliteDir: string | undefined;
  drop(): Promise<void>;
}

/** Creates an empty database; `adminUrl` is any database on the server (Postgres only). */
export async function freshDatabase(kind: DbKind, adminUrl: string | undefined, keep = false): Promise<BenchDatabase> {
  if (kind === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'cs-bench-pglite-'));
    return {
      kind,
      url: undefined,
      pgliteDir: dir,
      drop: () => {
        if (!keep) rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    };
  }
  if (!adminUrl) throw new Error('--db postgres needs DATABASE_URL (any database on the server; the bench creates its own)');
  const name = `cs_bench_${randomBytes(5).toString('hex')}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    pgliteDir: undefined,
    drop: async () => {
      if (!keep) await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** "PostgreSQL 15.20" / "PGlite 0.5.17 (PostgreSQL 18.7)": what the figures were taken on. */
export async function serverVersion(kind: DbKind, adminUrl: string | undefined): Promise<string> {
  if (kind === 'postgres' && adminUrl) {
    const { rows } = await withClient(adminUrl, (c) => c.query<{ v: string }>('SELECT current_setting($$server_version$$) AS v'));
    return `PostgreSQL ${rows[0]?.v.split(' ')[0] ?? '?'}`;
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create('memory://');
  try {
    const { rows } = await db.query<{ v: string }>('SELECT version() AS v');
    const version = rows[0]?.v ?? '';
    return `${/PGlite [\d.]+/.exec(version)?.[0] ?? 'PGlite'} (PostgreSQL ${/PostgreSQL ([\d.]+)/.exec(version)?.[1] ?? '?'})`;
  } finally {
    await db.close();
  }
}

/**
 * CPU time (user + system) of processes on this machine, e.g. Postgres backends, from /proc;
 * undefined where that cannot be read (not Linux, or the server runs elsewhere or in a container).
 */
export function processCpuMs(pids: readonly number[]): number | undefined {
  if (process.platform !== 'linux') return undefined;
  const ticksPerSecond = 100; // USER_HZ: 100 on every Linux architecture Node runs on
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the parenthesized command name: utime is the 12th, stime the 13th (man 5 proc).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      return undefined;
    }
  }
  return (ticks * 1000) / ticksPerSecond;
}
