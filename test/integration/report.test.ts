// `classify-sync report` as a user runs it: exit codes, what it prints, and numbers that equal both the
// simulator's data set (computed in TypeScript) and the reporting views.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/commands/shared.ts';
import { connect, queryRows } from '../../src/db/connect.ts';
import type { Report } from '../../src/report/data.ts';
import { CSV_COLUMNS } from '../../src/report/csv.ts';
import { runReport } from '../../src/commands/report.ts';
import { simProjectId, startSimulator, type Simulator, type V1Job } from '../../src/simulator/index.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';
import {
  createdSince,
  DAY_MS,
  expectedDaily,
  expectedRuleTypes,
  expectedTopErrors,
  expectedTotals,
  factsOf,
  type JobFacts,
} from '../helpers/expected.ts';
import { captureIo, parseCsv, runCliInProcess } from '../helpers/cli-inprocess.ts';
import { sync, testConfig } from '../helpers/harness.ts';
import { approx } from '../helpers/rows.ts';

const SEED = 21;
const NOW = Date.UTC(2026, 9, 15, 12);
const A = simProjectId(SEED, 0);
const B = simProjectId(SEED, 1);
const C = simProjectId(SEED, 2);
/** Upstream text that must not become markup, terminal escapes or a spreadsheet formula. */
const EVIL = '=HYPERLINK("http://evil.example/x","open") <img src=x onerror=alert(1)> \u001b[31mred\u001b[0m, done';
const SINCE_14D = new Date(NOW - 14 * DAY_MS).toISOString();

let sim: Simulator;
let tdb: TestDatabase;
let env: Record<string, string>;
let configDir: string;
let configFile: string;

function facts(): JobFacts[] {
  return [A, B, C].flatMap((p) => sim.jobs(p).map(factsOf)).filter((f) => f.projectId !== C);
}

const byProject = <T extends { project_id: string }>(rows: T[], key: (r: T) => string = () => '') =>
  [...rows].sort((a, b) => a.project_id.localeCompare(b.project_id) || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

function withMs(rows: Report['top_errors']) {
  return byProject(
    rows.map(({ first_seen, last_seen, ...rest }) => ({
      ...rest,
      first_seen_ms: first_seen === null ? undefined : Date.parse(first_seen),
      last_seen_ms: last_seen === null ? undefined : Date.parse(last_seen),
    })),
    (r) => String(r.rank).padStart(4, '0'),
  );
}

/** Checks every section of a report against figures computed from the data set. */
function expectReportToMatch(report: Report, jobs: readonly JobFacts[], projects: readonly string[]) {
  expect(report.projects.map((p) => p.project_id).sort()).toEqual([...projects].sort());
  const zero = {
    jobs: 0,
    finished: 0,
    succeeded: 0,
    failed: 0,
    partial: 0,
    cancelled: 0,
    in_progress: 0,
    unknown: 0,
    failure_rate: null,
    p50_duration_seconds: null,
    p95_duration_seconds: null,
  };
  const totals = new Map(expectedTotals(jobs).map((t) => [t.project_id, t]));
  expect(byProject(report.outcomes)).toEqual(approx(byProject(projects.map((p) => totals.get(p) ?? { project_id: p, ...zero }))));
  expect(byProject(report.daily, (d) => d.day)).toEqual(approx(expectedDaily(jobs)));
  expect(byProject(report.rule_types, (r) => r.rule_type)).toEqual(approx(expectedRuleTypes(jobs)));
  expect(withMs(report.top_errors)).toEqual(approx(expectedTopErrors(jobs).filter((e) => e.rank <= 10)));
}

async function jsonReport(args: string[]): Promise<Report> {
  const result = await runCliInProcess(['report', '--format', 'json', ...args], env);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(EXIT.ok);
  return JSON.parse(result.stdout) as Report;
}

beforeAll(async () => {
  sim = await startSimulator({
    apis: ['v1'],
    projects: [
      { id: A, jobs: 260 },
      { id: B, jobs: 120 },
      { id: C, jobs: 3, access: 'forbidden' },
    ],
    seed: SEED,
    now: NOW,
  });
  const template = sim.jobs(A)[0] as V1Job;
  sim.upsertJob(A, {
    ...template,
    id: 'evil-job',
    status: 'ERROR',
    error_message: EVIL,
    created_at: new Date(NOW - 2 * DAY_MS).toISOString(),
    updated_at: new Date(NOW - 2 * DAY_MS + 90_000).toISOString(),
  });
  tdb = await openTestDatabase('postgres');
  await sync(testConfig(sim, { projects: [A, B, C] }), tdb);
  env = { DATABASE_URL: tdb.url ?? '' };
  configDir = mkdtempSync(join(tmpdir(), 'cs-report-'));
  configFile = join(configDir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      projects: [
        { id: A, name: 'acme' },
        { id: C, name: '<b>initech</b> & "co"' },
      ],
    }),
  );
});

afterAll(async () => {
  await sim.stop();
  await tdb.close();
  rmSync(configDir, { recursive: true, force: true });
});

describe('report numbers', () => {
  it('json: outcomes, daily trend, rule types and top errors of the window equal the data set', async () => {
    const report = await jsonReport(['--since', SINCE_14D]);
    expect(report.since).toBe(SINCE_14D);
    const inWindow = createdSince(facts(), Date.parse(SINCE_14D));
    expect(inWindow.length).toBeGreaterThan(40);
    expect(inWindow.length).toBeLessThan(facts().length / 3);
    expectReportToMatch(report, inWindow, [A, B, C]);
  });

  it('json over the whole history returns exactly what the views return', async () => {
    const report = await jsonReport(['--since', '2000-01-01']);
    expectReportToMatch(report, facts(), [A, B, C]);
    const db = tdb.database.db;
    const daily = await queryRows(
      db,
      sql`SELECT project_id, day::text AS day, jobs, finished, succeeded, failed, partial,
      cancelled, in_progress, unknown, failure_rate, p50_duration_seconds, p95_duration_seconds FROM classify_outcomes_daily`,
    );
    expect(byProject(report.daily, (d) => d.day)).toEqual(byProject(daily as Report['daily'], (d) => d.day));
    const rules = await queryRows(db, sql`SELECT project_id, rule_type, jobs, share, failed, failure_rate FROM classify_rule_type_usage`);
    expect(byProject(report.rule_types, (r) => r.rule_type)).toEqual(byProject(rules as Report['rule_types'], (r) => r.rule_type));
    const errors = await queryRows(
      db,
      sql`SELECT project_id, rank, outcome, error_pattern, jobs,
      to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS first_seen,
      to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS last_seen, example
      FROM classify_top_errors WHERE rank <= 10`,
    );
    expect(withMs(report.top_errors)).toEqual(withMs(errors as Report['top_errors']));
    const fresh = await queryRows<{ project_id: string; jobs_stored: number; last_status: string }>(
      db,
      sql`
      SELECT project_id, jobs_stored, last_status FROM sync_freshness`,
    );
    expect(
      byProject(report.freshness.map((f) => ({ project_id: f.project_id, jobs_stored: f.jobs_stored, last_status: f.last_status }))),
    ).toEqual(byProject(fresh));
    expect(report.freshness.find((f) => f.project_id === A)).toMatchObject({ jobs_stored: 261, last_status: 'succeeded' });
  });

  it('defaults to the last 30 days and narrows to --project', async () => {
    const { io, out } = captureIo(env);
    expect(await runReport({ format: 'json', project: [B] }, io, () => NOW)).toBe(EXIT.ok);
    const report = JSON.parse(out()) as Report;
    const since = NOW - 30 * DAY_MS;
    expect(report.since).toBe(new Date(since).toISOString());
    expectReportToMatch(
      report,
      createdSince(facts(), since).filter((f) => f.projectId === B),
      [B],
    );
  });

  it('--project the database does not know: says so, exit 1, no report', async () => {
    const { io, out, err } = captureIo(env);
    expect(await runReport({ format: 'json', project: [B, 'no-such-project'] }, io, () => NOW)).toBe(EXIT.cannotRun);
    expect(out()).toBe('');
    expect(err()).toMatch(
      /^classify-sync: project no-such-project not in postgres:\/\/\S+ \(no job or sync of it\): check the id, or sync it first\n$/,
    );
  });
});

describe('report formats', () => {
  it('table: readable sections with the figures, names from the config file, no terminal escapes', async () => {
    const { code, stdout, stderr } = await runCliInProcess(['report', '--config', configFile, '--since', SINCE_14D], env);
    expect({ code, stderr }).toEqual({ code: EXIT.ok, stderr: '' });
    for (const title of [
      '\nOutcomes by project\n',
      '\nDaily trend: acme ',
      '\nTop errors (up to 5 per project',
      '\nacme:\n  #  jobs  outcome',
      '\nRule types: acme ',
      '\nSync freshness\n',
    ]) {
      expect(stdout).toContain(title);
    }
    const acme = expectedTotals(createdSince(facts(), Date.parse(SINCE_14D))).find((t) => t.project_id === A);
    const rate = `${((acme?.failure_rate ?? 0) * 100).toFixed(1)}%`;
    expect(stdout).toMatch(new RegExp(`^acme +${acme?.jobs} +${acme?.succeeded} +${acme?.failed} .* ${rate.replace('.', '\\.')} `, 'm'));
    expect(stdout).toContain('<b>initech</b> & "co"');
    expect(stdout).toContain('HTTP 403');
    expect(stdout).not.toContain('\u001b');
    expect(stdout).toContain('?[<n>mred?[<n>m, done'); // ESC shown as '?', digits as <n>
  });

  it.each([
    [60, true, 60],
    [160, true, 160],
    [60, false, 100],
  ])(
    'table on a stdout %i columns wide (a terminal: %s) fits %i columns, trend and essential columns kept',
    async (columns, isTTY, width) => {
      const { io, out } = captureIo(env);
      Object.assign(io.stdout, { isTTY, columns });
      expect(await runReport({ config: configFile, since: SINCE_14D }, io, () => NOW)).toBe(EXIT.ok);
      const lines = out().split('\n');
      expect(lines.filter((l) => [...l].length > width)).toEqual([]);
      expect(lines.some((l) => [...l].length > width - 10)).toBe(true);
      const acme = expectedTotals(createdSince(facts(), Date.parse(SINCE_14D))).find((t) => t.project_id === A);
      const rate = `${((acme?.failure_rate ?? 0) * 100).toFixed(1)}%`;
      expect(out()).toMatch(
        new RegExp(`^acme +${acme?.jobs} +${acme?.succeeded} +${acme?.failed} .* ${rate.replace('.', '\\.')}( |$)`, 'm'),
      );
      expect(out()).toMatch(/^\d{4}-\d\d-\d\d( … \d{4}-\d\d-\d\d)? {2}no jobs|^day +jobs /m);
    },
  );

  it('csv: one file with a section column; the same numbers as json; quoting and formula guard', async () => {
    const report = await jsonReport(['--since', SINCE_14D, '--config', configFile]);
    const { code, stdout } = await runCliInProcess(['report', '--format', 'csv', '--since', SINCE_14D, '--config', configFile], env);
    expect(code).toBe(EXIT.ok);
    const [header, ...rows] = parseCsv(stdout);
    expect(header).toEqual([...CSV_COLUMNS]);
    const records = rows.map(
      (r) => Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, r[i] ?? ''])) as Record<(typeof CSV_COLUMNS)[number], string>,
    );
    const section = (name: string) => records.filter((r) => r.section === name);
    expect(section('outcomes')).toHaveLength(report.outcomes.length);
    expect(section('daily')).toHaveLength(report.daily.length);
    expect(section('top_errors')).toHaveLength(report.top_errors.length);
    expect(section('rule_types')).toHaveLength(report.rule_types.length);
    expect(section('freshness')).toHaveLength(3);
    for (const [i, row] of section('daily').entries()) {
      const d = report.daily[i];
      expect([
        row.project_id,
        row.day,
        Number(row.jobs),
        Number(row.failed),
        row.failure_rate === '' ? null : Number(row.failure_rate),
      ]).toEqual([d?.project_id, d?.day, d?.jobs, d?.failed, d?.failure_rate]);
    }
    expect(section('outcomes').find((r) => r.project_id === A)?.project_name).toBe('acme');
    const evil = section('top_errors').find((r) => r.example.includes('HYPERLINK'));
    expect(evil?.example).toBe(`'${EVIL}`);
    expect(evil?.error_pattern.startsWith("'=HYPERLINK")).toBe(true);
    expect(stdout).toContain('"\'=HYPERLINK(""http://evil.example/x"",""open"")');
  });

  it('html: one self-contained page, every section, a chart per project, all upstream text escaped', async () => {
    const out = join(configDir, 'report.html');
    const { code, stdout, stderr } = await runCliInProcess(
      ['report', '--format', 'html', '--out', out, '--since', SINCE_14D, '--config', configFile],
      env,
    );
    expect({ code, stdout }).toEqual({ code: EXIT.ok, stdout: '' });
    expect(stderr).toBe(`classify-sync: html report written to ${out}\n`);
    const page = readFileSync(out, 'utf8');
    expect(page.startsWith('<!doctype html>')).toBe(true);
    for (const id of ['outcomes', 'daily', 'errors', 'rule-types', 'freshness']) expect(page).toContain(`<section id="${id}">`);
    expect(page.match(/<svg /g)).toHaveLength(2); // A and B have jobs in the window; C has none
    const tags = page.match(/<[a-z][^>]*>/gi) ?? [];
    expect(tags.filter((t) => /^<(script|img|iframe|link|object|embed)\b/i.test(t) || /\s(src|href|on\w+)\s*=/i.test(t))).toEqual([]);
    expect(page).toContain("default-src 'none'");
    expect(page).toContain('&#60;b&#62;initech&#60;/b&#62; &#38; &#34;co&#34;');
    expect(page).toContain('&#60;img src=x onerror=alert(1)&#62;');
    // Tooltips carry the day's figures.
    const acme = expectedDaily(createdSince(facts(), Date.parse(SINCE_14D))).find((d) => d.project_id === A && d.jobs > 0);
    expect(page).toContain(`<title>${acme?.day}: ${acme?.jobs} jobs;`);
  });
});

describe('report errors', () => {
  it.each([
    [['--format', 'pdf'], /^classify-sync: --format takes table, json, csv, html; got "pdf" \(see classify-sync --help\)\n$/],
    [
      ['--since', 'last tuesday'],
      /^classify-sync: --since takes a duration like 12h, 7d or 2w, or a date like 2026-01-01; got "last tuesday"/,
    ],
    [['--since', '2999-01-01'], /^classify-sync: --since 2999-01-01 is in the future/],
    [['--bogus'], /^classify-sync: Unknown option '--bogus'.*\(see classify-sync --help\)\n$/],
    [
      ['--out', '/nonexistent-dir/r.html'],
      /^classify-sync: cannot write the report to \/nonexistent-dir\/r.html \(ENOENT\): check --out\n$/,
    ],
  ])('%j exits 1 with one line', async (args, message) => {
    const { code, stdout, stderr } = await runCliInProcess(['report', ...args], env);
    expect(code).toBe(EXIT.cannotRun);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('exits 1 with one line when the database is unreachable', async () => {
    const { code, stdout, stderr } = await runCliInProcess(['report'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nowhere' });
    expect({ code, stdout }).toEqual({ code: EXIT.cannotRun, stdout: '' });
    expect(stderr).toMatch(/^classify-sync: database postgres:\/\/postgres@127\.0\.0\.1:1\/nowhere is unreachable .*check DATABASE_URL/);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('is listed in --help', async () => {
    const { code, stdout } = await runCliInProcess(['--help']);
    expect(code).toBe(EXIT.ok);
    expect(stdout).toMatch(/^ {2}report {6}/m);
    expect(stdout).toContain('--since <when>');
    expect(stdout).toContain('--format <format>');
    expect((await runCliInProcess(['report', '--help'])).stdout).toContain('--out <file>');
  });
});

describe('report on the embedded database (PGlite)', () => {
  it('reads a PGlite directory synced earlier and gives the same numbers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-report-pglite-'));
    try {
      const database = await connect({ databaseUrl: undefined, pgliteDir: dir });
      await database.migrate();
      const config = testConfig(sim, { projects: [A, B] });
      await sync(config, { database, url: undefined, reset: () => Promise.resolve(), close: () => database.close() });
      await database.close();

      const result = await runCliInProcess(['report', '--format', 'json', '--pglite-dir', dir, '--since', SINCE_14D], {});
      expect(result.code).toBe(EXIT.ok);
      const report = JSON.parse(result.stdout) as Report;
      expect(report.database).toContain('embedded PGlite');
      expectReportToMatch(report, createdSince(facts(), Date.parse(SINCE_14D)), [A, B]);
      expect(report.freshness.map((f) => f.last_status)).toEqual(['succeeded', 'succeeded']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
