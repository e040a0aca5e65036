// `classify-sync status` and `classify-sync reset` through the real binary, against the bundled
// simulator and a real Postgres: what status prints equals what the database holds (without an API
// key), and a reset makes the next sync a full walk from the first page, keeping or deleting rows.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { queryRows, type Db } from '../../src/db/connect.ts';
import type { ProjectStatus } from '../../src/report/status.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { BIN, cleanEnv, runCli, writeConfig, type CliResult } from '../helpers/cli.ts';
import { createPostgresDatabase, openTestDatabase, postgresReachable, type TestDatabase } from '../helpers/db.ts';
import { count } from '../helpers/harness.ts';

const A = 'a5000000-0000-4000-8000-00000000000a';
const B = 'b5000000-0000-4000-8000-00000000000b';
/** A project without malformed items (a job without created_at would keep a walk from being sliced). */
const C = 'c5000000-0000-4000-8000-00000000000c';
const A_JOBS = 120;
const B_JOBS = 45;
const PAGE_SIZE = 10;
const A_PAGES = A_JOBS / PAGE_SIZE + 1; // + the page of the malformed item below
const DAY_MS = 86_400_000;

const available = await postgresReachable();

describe.runIf(available)('status and reset (CLI child process, real Postgres, simulator)', () => {
  let sim: Simulator;
  let tdb: TestDatabase;
  /** The environment of status and reset: a database, and no API key or base URL. */
  let dbEnv: Record<string, string>;
  /** The environment of a sync. */
  let syncEnv: Record<string, string>;
  let config: string;
  let db: Db;

  const settings = { pageSize: PAGE_SIZE, api: 'auto', slices: 1, fullRefreshDays: 7 };
  const projects = [
    { id: A, name: 'acme' },
    { id: B, name: 'globex' },
  ];

  beforeAll(async () => {
    sim = await startSimulator({
      apis: ['v2'],
      projects: [
        { id: A, jobs: A_JOBS },
        { id: B, jobs: B_JOBS },
        { id: C, jobs: A_JOBS },
      ],
      now: Date.parse('2026-11-01T00:00:00Z'),
    });
    // One malformed item each: an open reject per project.
    sim.insertRawItemV2(A, { id: 'bad-a', project_id: A, status: 12345 });
    sim.insertRawItemV2(B, { id: 'bad-b', project_id: B, status: 12345 });
    config = writeConfig({ ...settings, projects });
  });
  afterAll(async () => {
    await sim?.stop();
  });
  beforeEach(async () => {
    tdb = await openTestDatabase('postgres');
    db = tdb.database.db;
    dbEnv = { DATABASE_URL: tdb.url as string };
    syncEnv = { ...dbEnv, LLAMA_CLOUD_API_KEY: sim.apiKey, LLAMA_CLOUD_BASE_URL: sim.url };
  });
  afterEach(async () => {
    await tdb?.close();
  });

  async function syncCli(args: string[] = [], configFile = config): Promise<CliResult> {
    return runCli(['sync', '--config', configFile, ...args], syncEnv);
  }

  async function statusJson(args: string[] = []): Promise<ProjectStatus[]> {
    const result = await runCli(['status', '--config', config, '--format', 'json', ...args], dbEnv);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as ProjectStatus[];
  }

  /** The latest sync_run_projects row of a project. */
  async function lastRun(projectId: string) {
    const [row] = await queryRows<{ mode: string; pages: number; status: string }>(
      db,
      sql`SELECT mode, pages, status FROM sync_run_projects WHERE project_id = ${projectId} ORDER BY started_at DESC LIMIT 1`,
    );
    return row;
  }

  /** Row counts of a project in every table a sync writes. */
  async function rowsOf(projectId: string) {
    const jobs = sql`(SELECT id FROM classify_jobs WHERE project_id = ${projectId})`;
    return {
      jobs: await count(db, sql`SELECT count(*) AS n FROM classify_jobs WHERE project_id = ${projectId}`),
      rules: await count(db, sql`SELECT count(*) AS n FROM classify_job_rules WHERE job_id IN ${jobs}`),
      parsing: await count(db, sql`SELECT count(*) AS n FROM classify_job_parsing_settings WHERE job_id IN ${jobs}`),
      statusChanges: await count(db, sql`SELECT count(*) AS n FROM classify_job_status_changes WHERE project_id = ${projectId}`),
      runRecords: await count(db, sql`SELECT count(*) AS n FROM sync_run_projects WHERE project_id = ${projectId}`),
      rejects: await count(db, sql`SELECT count(*) AS n FROM sync_rejects WHERE project_id = ${projectId}`),
      state: await count(db, sql`SELECT count(*) AS n FROM sync_state WHERE project_id = ${projectId}`),
      seen: await count(db, sql`SELECT count(*) AS n FROM sync_walk_seen WHERE project_id = ${projectId}`),
      names: await count(db, sql`SELECT count(*) AS n FROM sync_projects WHERE project_id = ${projectId}`),
    };
  }

  it('status after a sync: json and table say what the database holds, with no API key in the environment', async () => {
    const synced = await syncCli();
    expect(synced.code, synced.stderr).toBe(0);
    expect(dbEnv).not.toHaveProperty('LLAMA_CLOUD_API_KEY');

    const statuses = await statusJson();
    expect(statuses.map((s) => s.project_id)).toEqual([A, B]);
    for (const s of statuses) {
      const [state] = await queryRows<{ last_complete: string; last_full: string; detected: string }>(
        db,
        sql`SELECT to_char(last_complete_walk_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last_complete,
            to_char(last_full_walk_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last_full,
            to_char(detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS detected
          FROM sync_state WHERE project_id = ${s.project_id} AND api_version = 'v2'`,
      );
      const jobs = await count(db, sql`SELECT count(*) AS n FROM classify_jobs WHERE project_id = ${s.project_id} AND deleted_at IS NULL`);
      const open = await count(db, sql`SELECT count(*) AS n FROM sync_rejects WHERE project_id = ${s.project_id} AND settled_at IS NULL`);
      expect(s).toMatchObject({
        name: s.project_id === A ? 'acme' : 'globex',
        configured: true,
        api_version: 'v2',
        detected_api_version: 'v2',
        detected_at: state?.detected,
        last_complete_walk_at: state?.last_complete,
        last_complete_walk_kind: 'full',
        last_full_walk_at: state?.last_full,
        walk_in_progress: false,
        walk_pages: 0,
        full_walk_due: false,
        next_full_walk_due_at: new Date(Date.parse(state?.last_full ?? '') + 7 * DAY_MS).toISOString(),
        last_run_status: 'succeeded',
        last_run_mode: 'full',
        last_run_error: null,
        open_rejects: open,
        jobs_stored: jobs,
        jobs_deleted: 0,
      });
      expect(open).toBe(1);
    }
    expect(statuses[0]?.jobs_stored).toBe(A_JOBS);
    expect(statuses[1]?.jobs_stored).toBe(B_JOBS);

    // --project narrows; a config without B still shows B, by the name the sync stored.
    const onlyA = writeConfig({ ...settings, projects: [{ id: A }] });
    const narrowed = await runCli(['status', '--config', onlyA, '--format', 'json', '--project', B], dbEnv);
    expect(narrowed.code, narrowed.stderr).toBe(0);
    expect((JSON.parse(narrowed.stdout) as ProjectStatus[]).map((s) => [s.project_id, s.name, s.configured])).toEqual([
      [B, 'globex', false],
    ]);

    const table = await runCli(['status', '--config', config], dbEnv);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stderr).toBe('');
    const lines = table.stdout.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(100);
    expect(lines[0]).toBe(`classify-sync status: 2 projects in ${tdb.url ?? ''}`);
    expect(lines).toContain(`acme (${A})`);
    expect(lines).toContain(`globex (${B})`);
    expect(lines).toContain(`  jobs            ${A_JOBS} stored`);
    expect(lines).toContain(`  open rejects    1`);
    expect(lines).toContain(`  walk            none in progress`);
    expect(lines).toContain(`  next full walk  ${when(statuses[0]?.next_full_walk_due_at ?? '')}`);
  }, 120_000);

  it('status of a walk in progress shows its pages, never its token; reset makes the next sync a full walk from page 1', async () => {
    // The API fails for good after the walk's third page: the token of page 4 stays saved.
    let served = 0;
    sim.setOnPage(({ projectId, body }) => {
      // Pages of the walk only: the version probe asks for one item.
      if (projectId === A && body.items.length > 1 && ++served === 3) sim.setFaults({ rate: 1, kinds: ['503'] }, A);
      return undefined;
    });
    let interrupted: CliResult;
    try {
      interrupted = await syncCli(['--project', A]);
    } finally {
      sim.setOnPage(undefined);
      sim.setFaults(undefined, A);
    }
    expect(interrupted.code).toBe(2);
    const [saved] = await queryRows<{ page_token: string | null; walk_pages: number }>(
      db,
      sql`SELECT page_token, walk_pages FROM sync_state WHERE project_id = ${A} AND api_version = 'v2'`,
    );
    expect(saved?.page_token).toBeTruthy();
    expect(saved?.walk_pages).toBe(3);

    const [status] = await statusJson(['--project', A]);
    expect(status).toMatchObject({
      project_id: A,
      walk_in_progress: true,
      walk_kind: 'full',
      walk_pages: 3,
      last_complete_walk_at: null,
      full_walk_due: true,
      full_walk_due_reason: 'no full walk has completed yet',
      last_run_status: 'failed',
      jobs_stored: 30,
    });
    expect(status?.last_run_error).toContain('503');
    const table = await runCli(['status', '--config', config, '--project', A], dbEnv);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/\n {2}walk {12}in progress \(full, started \d{4}-\d\d-\d\d \d\d:\d\d UTC\): 3 pages, page token saved\n/);
    expect(table.stdout).toMatch(/ {2}last run {8}failed .* \(full, 3 pages\): .*503/);
    const json = await runCli(['status', '--config', config, '--format', 'json'], dbEnv);
    for (const output of [table.stdout, json.stdout]) expect(output).not.toContain(saved?.page_token);

    const reset = await runCli(['reset', '--config', config, '--project', A, '--yes'], dbEnv);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stderr).toBe(
      `classify-sync: forgot walk state of ${A} (acme): 1 saved token, 3 seen pages, the walk history of 1 API version; 0 jobs deleted\n`,
    );
    // The rows stay.
    expect((await rowsOf(A)).jobs).toBe(30);
    const [after] = await statusJson(['--project', A]);
    expect(after).toMatchObject({ walk_in_progress: false, detected_api_version: null, jobs_stored: 30, last_run_status: 'failed' });

    // Without the reset this sync would resume at page 4; now it walks every page from the first.
    const next = await syncCli(['--project', A]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('walk planned: no full walk has completed yet');
    expect(await lastRun(A)).toEqual({ mode: 'full', pages: A_PAGES, status: 'succeeded' });
  }, 120_000);

  it('status of an unfinished sliced walk counts its slices and pages as stored; reset forgets them all', async () => {
    const sliced = writeConfig({ ...settings, projects: [{ id: C, name: 'initech' }], slices: 3 });
    let served = 0;
    sim.setOnPage(({ projectId, body }) => {
      if (projectId === C && body.items.length > 1 && ++served === 4) sim.setFaults({ rate: 1, kinds: ['503'] }, C);
      return undefined;
    });
    let interrupted: CliResult;
    try {
      interrupted = await syncCli([], sliced);
    } finally {
      sim.setOnPage(undefined);
      sim.setFaults(undefined, C);
    }
    expect(interrupted.code).toBe(2);
    const [slices] = await queryRows<{ slices: number; left: number; tokens: number; walk_pages: number }>(
      db,
      sql`SELECT count(*)::int AS slices, (count(*) FILTER (WHERE NOT done))::int AS left,
          (count(*) FILTER (WHERE page_token IS NOT NULL))::int AS tokens,
          (SELECT walk_pages FROM sync_state WHERE project_id = ${C} AND api_version = 'v2') AS walk_pages
        FROM sync_walk_slices WHERE project_id = ${C}`,
    );
    expect(slices?.slices).toBeGreaterThanOrEqual(3);
    expect(slices?.walk_pages).toBeGreaterThanOrEqual(1);

    const [status] = await statusJson(['--config', sliced, '--project', C]);
    expect(status).toMatchObject({
      walk_in_progress: true,
      walk_kind: 'full',
      walk_pages: slices?.walk_pages,
      walk_slices: slices?.slices,
      walk_slices_left: slices?.left,
      jobs_stored: await count(db, sql`SELECT count(*) AS n FROM classify_jobs WHERE project_id = ${C}`),
    });
    const table = await runCli(['status', '--config', sliced], dbEnv);
    expect(table.stdout).toContain(
      `: ${slices?.walk_pages} page${slices?.walk_pages === 1 ? '' : 's'}, ${slices?.slices} slices saved (${slices?.left} left)\n`,
    );

    const seen = await count(db, sql`SELECT count(*) AS n FROM sync_walk_seen WHERE project_id = ${C}`);
    const reset = await runCli(['reset', '--config', sliced, '--project', C, '--yes'], dbEnv);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stderr).toBe(
      `classify-sync: forgot walk state of ${C} (initech): ${slices?.tokens} saved token${slices?.tokens === 1 ? '' : 's'}, ` +
        `${seen} seen page${seen === 1 ? '' : 's'}, ${slices?.slices} walk slices, the walk history of 1 API version; 0 jobs deleted\n`,
    );
    expect(await count(db, sql`SELECT count(*) AS n FROM sync_walk_slices WHERE project_id = ${C}`)).toBe(0);
    const next = await syncCli([], sliced);
    expect(next.code, next.stderr).toBe(0);
    expect(await lastRun(C)).toMatchObject({ mode: 'full', status: 'succeeded' });
    expect(await count(db, sql`SELECT count(*) AS n FROM classify_jobs WHERE project_id = ${C}`)).toBe(A_JOBS);
  }, 120_000);

  it('reset after complete walks: the next sync is full instead of incremental, and the jobs stay', async () => {
    expect((await syncCli(['--project', A])).code).toBe(0);
    expect((await syncCli(['--project', A])).code).toBe(0);
    expect((await lastRun(A))?.mode).toBe('incremental');
    const before = await rowsOf(A);
    const [incremental] = await statusJson(['--project', A]);
    expect(incremental).toMatchObject({ last_complete_walk_kind: 'incremental', last_run_mode: 'incremental', full_walk_due: false });

    const reset = await runCli(['reset', '--config', config, '--project', A, '--yes'], dbEnv);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stderr).toBe(
      `classify-sync: forgot walk state of ${A} (acme): 0 saved tokens, 0 seen pages, the walk history of 1 API version; 0 jobs deleted\n`,
    );
    expect(await rowsOf(A)).toEqual({ ...before, state: 0 });
    const [forgotten] = await statusJson(['--project', A]);
    expect(forgotten).toMatchObject({
      last_complete_walk_at: null,
      full_walk_due: true,
      full_walk_due_reason: 'no full walk has completed yet',
      jobs_stored: A_JOBS,
    });

    const next = await syncCli(['--project', A]);
    expect(next.code, next.stderr).toBe(0);
    expect(await lastRun(A)).toEqual({ mode: 'full', pages: A_PAGES, status: 'succeeded' });
    expect((await rowsOf(A)).jobs).toBe(A_JOBS);
  }, 120_000);

  it("reset --delete-data deletes that project's jobs, children, run records, rejects and name, and no other project's", async () => {
    expect((await syncCli()).code).toBe(0);
    const a = await rowsOf(A);
    const b = await rowsOf(B);
    expect(a).toMatchObject({ jobs: A_JOBS, rejects: 1, runRecords: 1, names: 1, state: 1 });
    expect(a.rules).toBeGreaterThan(0);
    expect(a.statusChanges).toBeGreaterThan(0);

    const reset = await runCli(['reset', '--config', config, '--project', A, '--yes', '--delete-data'], dbEnv);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stderr).toBe(
      `classify-sync: forgot walk state of ${A} (acme): 0 saved tokens, 0 seen pages, the walk history of 1 API version; ` +
        `${A_JOBS} jobs (with their rules, parsing settings and ${a.statusChanges} status changes), 1 run record and 1 reject deleted\n`,
    );
    expect(await rowsOf(A)).toEqual({
      jobs: 0,
      rules: 0,
      parsing: 0,
      statusChanges: 0,
      runRecords: 0,
      rejects: 0,
      state: 0,
      seen: 0,
      names: 0,
    });
    expect(await rowsOf(B)).toEqual(b);
    // The reporting views no longer count A's jobs.
    expect(await count(db, sql`SELECT count(*) AS n FROM classify_outcomes_daily WHERE project_id = ${A}`)).toBe(0);
    expect(await count(db, sql`SELECT count(*) AS n FROM classify_outcomes_daily WHERE project_id = ${B}`)).toBeGreaterThan(0);
  }, 120_000);

  it('reset off a terminal without --yes refuses (exit 1) and changes nothing', async () => {
    expect((await syncCli()).code).toBe(0);
    const before = await rowsOf(A);
    for (const args of [[], ['--delete-data']]) {
      const refused = await runCli(['reset', '--config', config, '--project', A, ...args], dbEnv);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toBe(
        `classify-sync: not resetting the ${args.length > 0 ? 'walk state and data' : 'walk state'} of project ${A} without confirmation: pass --yes\n`,
      );
    }
    expect(await rowsOf(A)).toEqual(before);
  }, 120_000);

  it('reset on a terminal asks first (y/N): no answer but y leaves the project as it was', async () => {
    expect((await syncCli()).code).toBe(0);
    const before = await rowsOf(A);
    const onTerminal = async (answer: string) => {
      // `script` runs the command on a pseudo-terminal (util-linux), as a user's shell would; -e: its exit code.
      const command = [process.execPath, BIN, 'reset', '--config', config, '--project', A].map((a) => `'${a}'`).join(' ');
      const child = spawn('script', ['-qec', command, '/dev/null'], { env: cleanEnv(dbEnv), stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => {
        output += d.toString();
      });
      // The terminal keeps the typed line until reset reads it; stdin stays open until the command exits.
      child.stdin.write(`${answer}\n`);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      return { code, output: output.replace(/\r/g, '') };
    };
    const question = `Forget the walk state of ${A} (acme)? Its next sync walks it in full from the first page; its jobs stay. [y/N] `;

    const declined = await onTerminal('n');
    expect(declined.code).toBe(1);
    expect(declined.output).toContain(`${question}classify-sync: project ${A} (acme) left as it was\n`);
    expect(await rowsOf(A)).toEqual(before);

    const confirmed = await onTerminal('y');
    expect(confirmed.code, confirmed.output).toBe(0);
    expect(confirmed.output).toContain(`${question}classify-sync: forgot walk state of ${A} (acme): 0 saved tokens`);
    expect(await rowsOf(A)).toEqual({ ...before, state: 0 });
  }, 120_000);

  it('reset while another process holds the project lock (a sync of it is running): exit 1, nothing reset', async () => {
    expect((await syncCli()).code).toBe(0);
    const before = await rowsOf(A);
    const holder = new pg.Client({ connectionString: tdb.url });
    await holder.connect();
    try {
      // The key a sync holds while it walks the project (db/runs.ts projectLockKey).
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`classify-sync:project:${A}`]);
      const locked = await runCli(['reset', '--config', config, '--project', A, '--yes', '--delete-data'], dbEnv);
      expect(locked.code).toBe(1);
      expect(locked.stderr).toBe(
        `classify-sync: project ${A} (acme) is being synced now (another process holds its lock): nothing reset; try again when that sync has finished\n`,
      );
      expect(await rowsOf(A)).toEqual(before);
    } finally {
      await holder.end();
    }
  }, 120_000);

  it('reset: --project is required, and one neither configured nor in the database is refused', async () => {
    const missing = await runCli(['reset', '--config', config, '--yes'], dbEnv);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'classify-sync: reset takes one --project <id>: the project whose walk state to forget (see classify-sync --help)\n',
    );
    const unknown = await runCli(['reset', '--config', config, '--project', 'no-such-project', '--yes'], dbEnv);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^classify-sync: project no-such-project is neither in the config nor in postgres:\/\/.*: check the id/);
  }, 60_000);

  it('status --project for a project neither configured nor in the database: exit 1', async () => {
    const unknown = await runCli(['status', '--config', config, '--project', 'no-such-project'], dbEnv);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^classify-sync: project no-such-project not in postgres:\/\/.* \(no job or sync of it\)/);
  }, 60_000);
});

describe.runIf(available)('status changes nothing', () => {
  it('on a database whose schema is behind: says to run migrate, and applies nothing', async () => {
    const empty = await createPostgresDatabase();
    try {
      const result = await runCli(['status'], { DATABASE_URL: empty.url });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(
        /^classify-sync: the schema of postgres:\/\/.* is behind \(\d+ migrations not applied, 0000_.*\): run classify-sync migrate\n$/,
      );
      const client = new pg.Client({ connectionString: empty.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        );
        expect(rows[0]?.n).toBe(0);
      } finally {
        await client.end();
      }
    } finally {
      await empty.drop();
    }
  }, 60_000);
});

describe('status --pglite-dir', () => {
  it('a directory without a database: says so, exit 1, and creates nothing', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cs-status-')), 'typo');
    const result = await runCli(['status', '--pglite-dir', dir], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `classify-sync: no embedded database in ${dir}: point --pglite-dir at the directory a sync wrote (or set DATABASE_URL)\n`,
    );
    expect(existsSync(dir)).toBe(false);
  });
});

/** "2026-11-29T08:15:00.000Z" → "2026-11-29 08:15 UTC", as the table prints times. */
function when(value: string): string {
  return `${value.slice(0, 10)} ${value.slice(11, 16)} UTC`;
}
