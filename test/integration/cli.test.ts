// The command line as a new user meets it: exit codes, one-line errors on stderr, JSON logs on stdout.
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { postgresReachable } from '../helpers/db.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { runCli, writeConfig } from '../helpers/cli.ts';
import { count, expectedRaw, storedRaw } from '../helpers/harness.ts';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const FORBIDDEN = 'cccccccc-0000-4000-8000-000000000003';
const KEY = 'llx-test-key-0123456789abcdefghij';

describe('classify-sync CLI', () => {
  let sim: Simulator;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!(await postgresReachable())) return;
    sim = await startSimulator({
      projects: [
        { id: A, jobs: 120 },
        { id: B, jobs: 30 },
        { id: FORBIDDEN, jobs: 3, access: 'forbidden' },
      ],
      apiKey: KEY,
      // A deployment that still serves only v1: the default --api auto must find it.
      apis: ['v1'],
      now: Date.parse('2026-11-01T00:00:00Z'),
    });
  });
  afterAll(async () => {
    await sim?.stop();
  });
  const tdb = usePostgres();
  beforeEach(() => {
    env = { LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: sim.url, DATABASE_URL: tdb().url as string };
  });

  it('exits 0 when every project synced, with JSON log lines that carry runId and projectId', async () => {
    const config = writeConfig({ projects: [{ id: A, name: 'invoices' }, { id: B }] });
    const r = await runCli(['sync', '--config', config], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`project ${A} \\(invoices\\) succeeded \\(v1, full\\): 2 pages, 120 jobs`));
    for (const id of [A, B]) expect(await storedRaw(tdb().database.db, id)).toEqual(expectedRaw(sim, id));
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const synced = lines.filter((l) => l.msg === 'project synced');
    expect(synced.map((l) => l.projectId).sort()).toEqual([A, B].sort());
    expect(lines.filter((l) => l.projectId !== undefined).every((l) => typeof l.runId === 'string')).toBe(true);
    expect(lines.some((l) => String(l.database).includes('postgres://'))).toBe(true);
  });

  it('stores the configured names, so a report without the config shows projects by name', async () => {
    const named = writeConfig({ projects: [{ id: A, name: 'invoices' }, { id: B }] });
    expect((await runCli(['sync', '--config', named], env)).code).toBe(0);
    const names = async () =>
      Object.fromEntries(
        (
          await queryRows<{ project_id: string; name: string | null }>(
            tdb().database.db,
            sql`SELECT project_id, name FROM sync_projects ORDER BY project_id`,
          )
        ).map((r) => [r.project_id, r.name]),
      );
    expect(await names()).toEqual({ [A]: 'invoices', [B]: null });

    // No config file at all: every format names the project from the database.
    const json = await runCli(['report', '--format', 'json'], env);
    expect(json.code, json.stderr).toBe(0);
    // Sorted by label: the name, else the id.
    expect((JSON.parse(json.stdout) as { projects: unknown[] }).projects).toEqual([
      { project_id: B, name: null },
      { project_id: A, name: 'invoices' },
    ]);
    const table = await runCli(['report'], env);
    expect(table.stdout).toContain('invoices');
    expect((await runCli(['report', '--format', 'csv'], env)).stdout).toContain(`outcomes,${A},invoices`);
    expect((await runCli(['report', '--format', 'html'], env)).stdout).toContain('invoices');

    // A run that names no project (ids from the environment) keeps the stored names; a new name replaces the old.
    expect((await runCli(['sync'], { ...env, CLASSIFY_SYNC_PROJECTS: `${A},${B}` })).code).toBe(0);
    expect(await names()).toEqual({ [A]: 'invoices', [B]: null });
    const renamed = writeConfig({
      projects: [
        { id: A, name: 'invoices-eu' },
        { id: B, name: 'contracts' },
      ],
    });
    expect((await runCli(['sync', '--config', renamed], env)).code).toBe(0);
    expect(await names()).toEqual({ [A]: 'invoices-eu', [B]: 'contracts' });
  });

  it('exits 2 when some projects failed, one line each on stderr with the status, detail and what to do', async () => {
    const r = await runCli(['sync', '--project', A, '--project', FORBIDDEN], env);
    expect(r.code).toBe(2);
    const failures = r.stderr.split('\n').filter((l) => l.includes('failed'));
    expect(failures).toEqual([
      `classify-sync: project ${FORBIDDEN} failed: HTTP 403 You do not have access to this project: the key in LLAMA_CLOUD_API_KEY may not read this project: keys are project-scoped, give this project its own apiKeyEnv`,
    ]);
    expect((await storedRaw(tdb().database.db, A)).size).toBe(120);
  });

  it('a wrong key writes no job, exits 2, and never prints the key', async () => {
    const wrongKey = 'llx-wrong-key-zyxwvutsrqponmlkjih';
    const r = await runCli(['sync', '--project', B], { ...env, LLAMA_CLOUD_API_KEY: wrongKey });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/HTTP 401 Invalid authentication token: check LLAMA_CLOUD_API_KEY/);
    expect(r.stdout + r.stderr).not.toContain(wrongKey);
    expect(await count(tdb().database.db, sql`SELECT count(*) AS n FROM classify_jobs`)).toBe(0);
  });

  it('uses a per-project key from the variable the config names', async () => {
    const config = writeConfig({ projects: [{ id: A, apiKeyEnv: 'KEY_FOR_A' }] });
    const r = await runCli(['sync', '--config', config], { ...env, LLAMA_CLOUD_API_KEY: 'llx-not-this-one', KEY_FOR_A: KEY });
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(KEY);
  });

  it('exits 1 with the field path when the config file is invalid', async () => {
    const config = writeConfig({ projects: [{ id: A, apiKey: 'in-the-file' }], pageSize: 1000 });
    const r = await runCli(['sync', '--config', config], env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/config file .*: (projects\.0|pageSize)/);
  });

  it('exits 1 when the database is unreachable, without printing its password', async () => {
    const r = await runCli(['sync', '--project', A], { ...env, DATABASE_URL: 'postgres://postgres:pw-s3cret-value@127.0.0.1:9/nope' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:9\/nope is unreachable.*check DATABASE_URL/);
    expect(r.stdout + r.stderr).not.toContain('pw-s3cret-value');
  });

  it.each([
    [['sync'], /no projects to sync: pass --project/],
    [['sync', '--project', A, '--page-size', 'ten'], /--page-size takes a whole number/],
    [['sync', '--project', A, '--page-size', '500'], /--page-size: /],
    [['sync', '--bogus'], /Unknown option '--bogus'.*--help/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('exits 1 on %j with a one-line reason', async (args, message) => {
    const r = await runCli(args, env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
  });

  it('exits 1 when no API key is set at all', async () => {
    const r = await runCli(['sync', '--project', A], { ...env, LLAMA_CLOUD_API_KEY: undefined });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no API key: set LLAMA_CLOUD_API_KEY/);
  });

  it('backfill walks from the first page and logs progress lines off a TTY', async () => {
    const first = await runCli(['sync', '--project', A, '--page-size', '10'], env);
    expect(first.code).toBe(0);
    const r = await runCli(['backfill', '--project', A, '--page-size', '10'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/12 pages, 120 jobs \(0 new, 0 updated, 120 unchanged, 0 deleted\)/);
    const progress = r.stdout.split('\n').filter((l) => l.includes('"msg":"progress"'));
    expect(progress.length).toBeGreaterThan(0);
    expect(JSON.parse(progress[0] as string)).toMatchObject({ projectId: A, totalSize: 120 });
  });

  it('migrate on a migrated database says where, and that its schema is current', async () => {
    const r = await runCli(['migrate'], env);
    expect(r.code).toBe(0);
    // The test database was migrated by its fixture already.
    expect(r.stderr).toMatch(/^classify-sync: postgres:\/\/\S+ is current \(\d{4}_\w+\): no migration to apply\n$/);
  });

  it('prints help with exit 0', async () => {
    const r = await runCli(['--help'], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit codes: 0 every project synced/);
  });
});

it('the example config file is valid and documents every field', async () => {
  const { fileSchema } = await import('../../src/config.ts');
  const example = JSON.parse(readFileSync(new URL('../../config/classify-sync.example.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  expect(fileSchema.safeParse(example).success).toBe(true);
  const documented = readFileSync(new URL('../../config/README.md', import.meta.url), 'utf8');
  for (const key of Object.keys(fileSchema.shape).filter((k) => k !== '$schema')) {
    expect(Object.keys(example)).toContain(key);
    expect(documented).toContain(`\`${key}`);
  }
});
