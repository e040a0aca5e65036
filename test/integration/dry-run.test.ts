// `sync --dry-run` and `backfill --dry-run` through the real binary: after upstream changes they print
// what a real run then does (inserts, updates, unchanged, deletions, rejects), and no table of the
// database changes by a byte, on Postgres and on PGlite.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, queryRows, type Db } from '../../src/db/connect.ts';
import { sqlState } from '../../src/db/errors.ts';
import { startSimulator, type Simulator, type V1Job } from '../../src/simulator/index.ts';
import { runCli, writeConfig } from '../helpers/cli.ts';
import { createPostgresDatabase, postgresReachable, type Backend } from '../helpers/db.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { sync, testConfig } from '../helpers/harness.ts';

const P = 'd1000000-0000-4000-8000-0000000000d1';
const Q = 'd2000000-0000-4000-8000-0000000000d2';
const FORBIDDEN = 'd3000000-0000-4000-8000-0000000000d3';
const KEY = 'llx-dry-run-key-0123456789abcdefghij';
const NOW = Date.parse('2026-11-01T00:00:00Z');

/** Every table's (and materialized view's) row count and a digest of its rows, by name. */
async function snapshot(db: Db): Promise<Record<string, string>> {
  const relations = await queryRows<{ name: string }>(
    db,
    sql`SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
      WHERE table_schema IN ('public', 'drizzle') AND table_type = 'BASE TABLE'
      UNION ALL SELECT format('%I.%I', schemaname, matviewname) FROM pg_matviews WHERE schemaname = 'public'
      ORDER BY 1`,
  );
  const state: Record<string, string> = {};
  for (const { name } of relations) {
    const [row] = await queryRows<{ n: number; digest: string }>(
      db,
      sql.raw(`SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS digest FROM ${name} AS t`),
    );
    state[name] = `${row?.n} rows ${row?.digest}`;
  }
  return state;
}

/** The database a test's commands run against, as the command line is told of it, and its snapshot. */
interface Target {
  env: Record<string, string>;
  args: string[];
  snapshot(): Promise<Record<string, string>>;
}

function pgliteTarget(): Target {
  const dir = join(mkdtempSync(join(tmpdir(), 'cs-dry-run-')), 'db');
  return {
    env: {},
    args: ['--pglite-dir', dir],
    // Opened between commands only: one process owns a PGlite directory at a time.
    snapshot: async () => {
      const database = await connect({ databaseUrl: undefined, pgliteDir: dir, readOnly: true });
      try {
        return await snapshot(database.db);
      } finally {
        await database.close();
      }
    },
  };
}

/** The dry-run lines of a project. */
const dryLine = (stdout: string, project: string) =>
  stdout.split('\n').filter((l) => l.startsWith(`classify-sync: dry run: project ${project} `));

describe.each<Backend>(['postgres', 'pglite'])('dry run on %s', (backend) => {
  const tdb = backend === 'postgres' ? usePostgres() : undefined;
  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });
  const target = (): Target =>
    tdb ? { env: { DATABASE_URL: tdb().url as string }, args: [], snapshot: () => snapshot(tdb().database.db) } : pgliteTarget();

  it('after upstream changes: prints what a real run then does, serial or sliced, and changes nothing', async () => {
    // No odd items: jobs without created_at would keep the walk from being sliced.
    sim = await startSimulator({ projects: [{ id: P, jobs: 120, oddities: false }], apiKey: KEY, now: NOW });
    const db = target();
    const env = { ...db.env, LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: sim.url };
    const config = writeConfig({ projects: [{ id: P, name: 'invoices' }] });
    const run = (...args: string[]) => runCli([...args, '--config', config, '--page-size', '20', ...db.args], env, { timeoutMs: 120_000 });
    const seeded = await run('sync', '--full');
    expect(seeded.code, seeded.stderr).toBe(0);

    const jobs: V1Job[] = sim.jobs(P);
    for (const job of jobs.slice(0, 4)) sim.removeJob(P, job.id);
    for (const job of jobs.slice(10, 13)) sim.upsertJob(P, { ...job, user_id: `${job.user_id}-moved` });
    for (const [i, job] of jobs.slice(20, 25).entries()) sim.upsertJob(P, { ...job, id: `d1000000-0000-4000-8000-00000000100${i}` });
    // An item normalize refuses: counted as rejected, never quarantined.
    sim.insertRawItemV2(P, { id: 'd1000000-0000-4000-8000-0000000010ff', project_id: P, status: 42, created_at: '2026-10-01T00:00:00Z' });
    const before = await db.snapshot();

    const truth = 'would insert 5, update 3, leave 113 unchanged, mark 4 deleted, reject 1';
    const full = await run('sync', '--full', '--dry-run', '--slices', '1');
    expect(full.code, full.stderr).toBe(0);
    expect(dryLine(full.stdout, P)).toEqual([`classify-sync: dry run: project ${P} (invoices) ${truth} (v2, full walk, 7 pages)`]);
    // Its logs are on stderr: stdout is the report alone.
    expect(full.stdout.trim().split('\n')).toHaveLength(1);

    const backfill = await run('backfill', '--dry-run', '--slices', '1');
    expect(backfill.code, backfill.stderr).toBe(0);
    expect(dryLine(backfill.stdout, P)).toEqual([`classify-sync: dry run: project ${P} (invoices) ${truth} (v2, full walk, 7 pages)`]);

    // Three creation-time slices: a job created on a shared boundary is listed by two, counted once.
    const sliced = await run('backfill', '--dry-run', '--slices', '3');
    expect(sliced.code, sliced.stderr).toBe(0);
    expect(sliced.stderr).toContain('"msg":"sliced walk: ');
    expect(dryLine(sliced.stdout, P)).toEqual([expect.stringContaining(`(invoices) ${truth} (v2, full walk, `)]);

    expect(await db.snapshot()).toEqual(before);

    const real = await run('sync', '--full', '--slices', '1');
    expect(real.code, real.stderr).toBe(0);
    expect(real.stderr).toContain(`(v2, full): 7 pages, 121 jobs (5 new, 3 updated, 113 unchanged, 4 deleted), 1 rejected`);
    // And now there is nothing left to do.
    const again = await run('sync', '--full', '--dry-run');
    expect(dryLine(again.stdout, P)).toEqual([
      expect.stringContaining('would insert 0, update 0, leave 121 unchanged, mark 0 deleted, reject 1'),
    ]);
  }, 300_000);

  it('reports the deletions the mass-delete guard would stop, and says it would', async () => {
    sim = await startSimulator({ projects: [{ id: P, jobs: 60 }], apiKey: KEY, now: NOW });
    const db = target();
    const env = { ...db.env, LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: sim.url };
    const run = (...args: string[]) => runCli([...args, '--project', P, ...db.args], env, { timeoutMs: 120_000 });
    expect((await run('sync', '--full')).code).toBe(0);
    for (const job of sim.jobs(P).slice(0, 40)) sim.removeJob(P, job.id);
    const before = await db.snapshot();

    const guarded = await run('sync', '--full', '--dry-run');
    expect(guarded.code, guarded.stderr).toBe(0);
    expect(dryLine(guarded.stdout, P)).toEqual([
      `classify-sync: dry run: project ${P} would insert 0, update 0, leave 20 unchanged, mark 40 deleted, reject 0 (v2, full walk, 1 pages); ` +
        'the mass-delete guard would stop these deletions: the walk saw 20 of 60 stored jobs (under 50%); ' +
        'if the project really lost them, run again with --allow-mass-delete',
    ]);
    const allowed = await run('sync', '--full', '--dry-run', '--allow-mass-delete');
    expect(dryLine(allowed.stdout, P)).toEqual([
      `classify-sync: dry run: project ${P} would insert 0, update 0, leave 20 unchanged, mark 40 deleted, reject 0 (v2, full walk, 1 pages)`,
    ]);
    expect(await db.snapshot()).toEqual(before);

    // What the real runs then do.
    const real = await run('sync', '--full');
    expect(real.stderr).toContain(
      '(0 new, 0 updated, 20 unchanged, 0 deleted), 0 rejected, 0 retries; warning: deletions skipped: the walk saw 20 of 60',
    );
    expect((await run('sync', '--full', '--allow-mass-delete')).stderr).toContain('(0 new, 0 updated, 20 unchanged, 40 deleted)');
  }, 300_000);
});

describe('dry run (real Postgres)', () => {
  const tdb = usePostgres();
  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  it('on an empty database: every job an insert, for every project; still nothing written', async () => {
    sim = await startSimulator({
      projects: [
        { id: P, jobs: 130 },
        { id: Q, jobs: 7 },
      ],
      apiKey: KEY,
      now: NOW,
    });
    const env = { DATABASE_URL: tdb().url as string, LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: sim.url };
    const before = await snapshot(tdb().database.db);
    const r = await runCli(['backfill', '--dry-run', '--project', P, '--project', Q], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `classify-sync: dry run: project ${P} would insert 130, update 0, leave 0 unchanged, mark 0 deleted, reject 0 (v2, full walk, 2 pages)\n` +
        `classify-sync: dry run: project ${Q} would insert 7, update 0, leave 0 unchanged, mark 0 deleted, reject 0 (v2, full walk, 1 pages)\n`,
    );
    expect(await snapshot(tdb().database.db)).toEqual(before);
    expect(Object.entries(before).filter(([name, state]) => !name.startsWith('drizzle.') && !state.startsWith('0 rows'))).toEqual([]);
  });

  it('a project that fails: its one-line error on stderr, the others still reported, exit 2', async () => {
    sim = await startSimulator({
      projects: [
        { id: P, jobs: 30 },
        { id: FORBIDDEN, jobs: 3, access: 'forbidden' },
      ],
      apiKey: KEY,
      now: NOW,
    });
    const env = { DATABASE_URL: tdb().url as string, LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: sim.url };
    const before = await snapshot(tdb().database.db);
    const r = await runCli(['sync', '--dry-run', '--project', P, '--project', FORBIDDEN, '--log-level', 'silent'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `classify-sync: project ${FORBIDDEN} failed: HTTP 403 You do not have access to this project: the key in LLAMA_CLOUD_API_KEY ` +
        'may not read this project: keys are project-scoped, give this project its own apiKeyEnv\n',
    );
    expect(r.stdout).toBe(
      `classify-sync: dry run: project ${P} would insert 30, update 0, leave 0 unchanged, mark 0 deleted, reject 0 (v2, full walk, 1 pages)\n`,
    );
    expect(r.stdout + r.stderr).not.toContain(KEY);
    expect(await snapshot(tdb().database.db)).toEqual(before);
  });

  it('an incremental dry run counts what the incremental sync then stores', async () => {
    const now = Date.now();
    sim = await startSimulator({ projects: [{ id: P, jobs: 80 }], apiKey: KEY, now });
    const env = { DATABASE_URL: tdb().url as string, LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: sim.url };
    const run = (...args: string[]) => runCli([...args, '--project', P, '--log-level', 'warn'], env);
    expect((await run('sync', '--full')).code).toBe(0);
    // Two stored jobs that changed, moved into the walk's window, and one new job in it.
    const recent = new Date(now - 60_000).toISOString();
    const [first, second] = sim.jobs(P) as [V1Job, V1Job];
    for (const job of [first, second]) sim.upsertJob(P, { ...job, created_at: recent, user_id: `${job.user_id}-again` });
    sim.upsertJob(P, { ...first, id: 'd1000000-0000-4000-8000-000000002001', created_at: recent });
    const before = await snapshot(tdb().database.db);

    const dry = await run('sync', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    const figures =
      /would insert (\d+), update (\d+), leave (\d+) unchanged, reject (\d+) \(v2, incremental walk, which marks no deletions/.exec(
        dry.stdout,
      );
    expect(figures, dry.stdout).not.toBeNull();
    expect(await snapshot(tdb().database.db)).toEqual(before);
    const [, inserted, updated, unchanged, rejected] = figures as RegExpExecArray;
    expect([inserted, updated]).toEqual(['1', '2']);
    const real = await run('sync');
    expect(real.stderr).toContain(`(${inserted} new, ${updated} updated, ${unchanged} unchanged, 0 deleted), ${rejected} rejected`);
  });

  it('resuming an interrupted walk: the pages stored before count as seen, as in the real walk', async () => {
    sim = await startSimulator({ projects: [{ id: P, jobs: 100, oddities: false }], apiKey: KEY, now: NOW });
    const config = testConfig(sim, { projects: [P], pageSize: 10 });
    expect((await sync(config, tdb())).projects[0]?.status).toBe('succeeded');
    // A full walk stopped after three pages: its token and the ids those pages saw are stored.
    const controller = new AbortController();
    const stopped = await sync(config, tdb(), {
      full: true,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.pages === 3) controller.abort();
      },
    });
    expect(stopped.projects[0]).toMatchObject({ status: 'cancelled', pages: 3 });
    const seen = new Set(
      (await queryRows<{ id: string }>(tdb().database.db, sql`SELECT unnest(job_ids) AS id FROM sync_walk_seen`)).map((r) => r.id),
    );
    expect(seen.size).toBe(30);
    const unseen = sim.jobs(P).filter((j) => !seen.has(j.id));
    for (const job of unseen.slice(0, 3)) sim.removeJob(P, job.id);
    const changed = unseen[10] as V1Job;
    sim.upsertJob(P, { ...changed, user_id: `${changed.user_id}-moved` });
    const before = await snapshot(tdb().database.db);

    const env = { DATABASE_URL: tdb().url as string, LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: sim.url };
    const run = (...args: string[]) => runCli([...args, '--project', P, '--page-size', '10', '--log-level', 'warn'], env);
    const dry = await run('sync', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe(
      `classify-sync: dry run: project ${P} would insert 0, update 1, leave 66 unchanged, mark 3 deleted, reject 0 ` +
        '(v2, full walk resumed from its saved page token, 7 pages)\n',
    );
    expect(await snapshot(tdb().database.db)).toEqual(before);
    const real = await run('sync');
    expect(real.stderr).toContain('(v2, resume): 7 pages, 67 jobs (0 new, 1 updated, 66 unchanged, 3 deleted), 0 rejected');
  });

  it('refuses a database with pending migrations, and applies none', async () => {
    const bare = await createPostgresDatabase();
    try {
      const r = await runCli(['sync', '--dry-run', '--project', P], { DATABASE_URL: bare.url, LLAMA_CLOUD_API_KEY: KEY });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(
        /^classify-sync: postgres:\/\/\S+ has \d+ pending migrations \(0000_init, .*\) and a dry run applies none: run classify-sync migrate first$/,
      );
      const client = new pg.Client({ connectionString: bare.url });
      await client.connect();
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema IN ('public', 'drizzle')`,
      );
      await client.end();
      expect(rows[0]?.n).toBe(0);
    } finally {
      await bare.drop();
    }
  });
});

it('a dry run on a --pglite-dir without a database says so and creates nothing', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'cs-dry-run-')), 'typo');
  const r = await runCli(['backfill', '--dry-run', '--project', P, '--pglite-dir', dir], { LLAMA_CLOUD_API_KEY: KEY });
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(
    `classify-sync: no embedded database in ${dir}, and a read-only run creates none: point --pglite-dir at the directory a sync wrote (or set DATABASE_URL)\n`,
  );
  expect(existsSync(dir)).toBe(false);
});

describe.each<Backend>(['postgres', 'pglite'])('read-only sessions on %s', (backend) => {
  it('refuse any write (SQLSTATE 25006) and still take advisory locks', async () => {
    let url: string | undefined;
    let drop = (): Promise<void> => Promise.resolve();
    const pgliteDir = join(mkdtempSync(join(tmpdir(), 'cs-read-only-')), 'db');
    if (backend === 'postgres') {
      if (!(await postgresReachable())) return;
      ({ url, drop } = await createPostgresDatabase());
    }
    try {
      const writable = await connect({ databaseUrl: url, pgliteDir });
      await writable.migrate();
      await writable.close();
      const database = await connect({ databaseUrl: url, pgliteDir, readOnly: true });
      try {
        expect(await database.pendingMigrations()).toEqual([]);
        const write = database.db.execute(sql`INSERT INTO sync_projects (project_id, name) VALUES ('p', 'n')`);
        await expect(
          write.then(
            () => 'written',
            (error: unknown) => sqlState(error),
          ),
        ).resolves.toBe('25006');
        const inTransaction = database.db.transaction((tx) => tx.execute(sql`DELETE FROM sync_state`));
        await expect(
          inTransaction.then(
            () => 'written',
            (error: unknown) => sqlState(error),
          ),
        ).resolves.toBe('25006');
        expect(await database.tryWithLock('classify-sync:test', () => Promise.resolve('held'))).toEqual({ acquired: true, value: 'held' });
      } finally {
        await database.close();
      }
    } finally {
      await drop();
    }
  }, 120_000);
});
