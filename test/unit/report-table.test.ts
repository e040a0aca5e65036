// The report's table format at a terminal's width: no line wider, the essential columns kept, the
// others abbreviated, cut or dropped in the documented order; a daily trend without rows of zeros.
import { describe, expect, it } from 'vitest';
import { NO_JOBS, type DailyRow, type Report } from '../../src/report/data.ts';
import { DEFAULT_WIDTH, renderTable } from '../../src/report/table.ts';

const LONG_ID = '7c1e5a3b-90d2-4e8f-b6a4-2f0c9d8e7a61';
const NAMED = '11111111-1111-4111-8111-111111111111';

function day(projectId: string, date: string, jobs: number, failed: number): DailyRow {
  return {
    ...NO_JOBS,
    project_id: projectId,
    day: date,
    jobs,
    finished: jobs,
    succeeded: jobs - failed,
    failed,
    failure_rate: jobs === 0 ? null : failed / jobs,
    p50_duration_seconds: 12,
    p95_duration_seconds: 95,
  };
}

const report: Report = {
  generated_at: '2026-12-03T10:00:00.000Z',
  since: '2026-11-03T10:00:00.000Z',
  until: '2026-12-03T10:00:00.000Z',
  database: 'embedded PGlite in ./data/a-rather-long-directory-name-for-the-embedded-database-that-goes-on/pglite',
  projects: [
    { project_id: NAMED, name: 'Acme invoices (production, EU)' },
    { project_id: LONG_ID, name: null },
  ],
  outcomes: [
    {
      ...NO_JOBS,
      project_id: NAMED,
      jobs: 1_234_567,
      finished: 1_200_000,
      succeeded: 1_100_000,
      failed: 99_000,
      partial: 1_000,
      cancelled: 12_345,
      in_progress: 34_567,
      unknown: 12,
      failure_rate: 0.0825,
      p50_duration_seconds: 95,
      p95_duration_seconds: 4000,
    },
    { ...NO_JOBS, project_id: LONG_ID },
  ],
  daily: [day(NAMED, '2026-11-21', 400_000, 30_000), day(NAMED, '2026-11-23', 800_000, 69_000), day(NAMED, '2026-12-03', 34_567, 0)],
  top_errors: [
    {
      project_id: NAMED,
      rank: 1,
      outcome: 'failed',
      error_pattern: 'document <uuid> could not be parsed: the PDF has an encrypted stream at offset <n> and no password was given',
      jobs: 70_000,
      first_seen: '2026-11-21T08:00:00.000Z',
      last_seen: '2026-11-23T09:00:00.000Z',
      example: 'document … could not be parsed',
    },
  ],
  rule_types: [
    {
      project_id: NAMED,
      rule_type: 'invoice-or-receipt-with-line-items-and-a-total',
      jobs: 1_000_000,
      share: 0.81,
      failed: 90_000,
      failure_rate: 0.09,
    },
  ],
  freshness: [
    {
      project_id: NAMED,
      last_success_at: '2026-12-03T02:00:00.000Z',
      age_seconds: 28_800,
      last_sync_at: '2026-12-03T02:00:00.000Z',
      last_status: 'succeeded',
      last_error: null,
      jobs_stored: 1_234_567,
    },
    {
      project_id: LONG_ID,
      last_success_at: null,
      age_seconds: null,
      last_sync_at: '2026-12-03T02:00:00.000Z',
      last_status: 'failed',
      last_error: 'HTTP 403 forbidden: the key in LLAMA_CLOUD_API_KEY may not read this project: keys are project-scoped',
      jobs_stored: 0,
    },
  ],
};

/** The lines of a section: from its title to the next blank line. */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(title));
  expect(start, title).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l === '');
  return lines.slice(start, end === -1 ? undefined : end);
}

/** A table's header cells (split on two spaces or more). */
const headerCells = (line: string | undefined) => (line ?? '').trim().split(/ {2,}/);

describe.each([60, 80, 100, 160])('the table at %i columns', (width) => {
  const text = renderTable(report, { width });

  it('has no line wider than the terminal', () => {
    const wide = text.split('\n').filter((l) => [...l].length > width);
    expect(wide).toEqual([]);
  });

  it('keeps the essential columns of every table', () => {
    const outcomes = section(text, 'Outcomes by project');
    const header = headerCells(outcomes[1]);
    expect(header[0]).toBe('project');
    expect(header).toEqual(expect.arrayContaining(['jobs', 'failed']));
    expect(header.some((h) => h === 'succeeded' || h === 'ok')).toBe(true);
    expect(header.some((h) => h === 'failure rate' || h === 'fail %')).toBe(true);
    expect(outcomes[3]).toMatch(/^Acme invoic.* 1,234,567 +1,100,000 +99,000 .*8\.3%/);

    const trend = section(text, 'Daily trend: Acme');
    expect(headerCells(trend.find((l) => l.startsWith('day')))).toEqual(expect.arrayContaining(['day', 'jobs', 'failed']));
    expect(trend.find((l) => l.startsWith('2026-11-23'))).toMatch(/^2026-11-23 +800,000 .*69,000 .*8\.6%/);

    const errors = section(text, 'Acme invoices (production, EU):');
    expect(headerCells(errors[1]).slice(0, 2)).toEqual(['#', 'jobs']);
    expect(headerCells(errors[1])).toContain('error');
    expect(errors[3]).toMatch(/^ {2}1 +70,000 .*document <uuid> could not/);

    const fresh = section(text, 'Sync freshness');
    expect(headerCells(fresh[1])).toEqual(expect.arrayContaining(['project', 'age', 'last sync', 'last error']));
    expect(fresh.find((l) => l.startsWith(LONG_ID.slice(0, 8)))).toMatch(/ never +failed +.*HTTP 403/);
  });
});

describe('fitting order', () => {
  it('at 160 columns nothing is abbreviated or dropped', () => {
    const outcomes = section(renderTable(report, { width: 160 }), 'Outcomes by project');
    expect(headerCells(outcomes[1])).toEqual([
      'project',
      'jobs',
      'succeeded',
      'failed',
      'partial',
      'cancelled',
      'in progress',
      'unknown',
      'failure rate',
      'p50 duration',
      'p95 duration',
    ]);
    expect(outcomes[3]).toContain('Acme invoices (production, EU)');
  });

  it('narrower: short headers first, then long cells cut, then the least essential columns dropped', () => {
    const at100 = headerCells(section(renderTable(report, { width: 100 }), 'Outcomes by project')[1]);
    expect(at100).toEqual(['project', 'jobs', 'ok', 'failed', 'part.', 'canc.', 'running', 'unk.', 'fail %', 'p50', 'p95']);
    const at60 = section(renderTable(report, { width: 60 }), 'Outcomes by project');
    expect(headerCells(at60[1])).toEqual(['project', 'jobs', 'ok', 'failed', 'fail %', 'p95']);
    expect(at60[3]).toMatch(/^Acme invoic… +1,234,567/);
  });

  it('without a width: DEFAULT_WIDTH, 100', () => {
    expect(DEFAULT_WIDTH).toBe(100);
    expect(renderTable(report)).toBe(renderTable(report, { width: 100 }));
  });
});

describe('the daily trend', () => {
  it('summarizes each run of days without jobs in one line', () => {
    const trend = section(renderTable(report, { width: 100 }), 'Daily trend: Acme');
    const days = trend.slice(3);
    expect(days.map((l) => l.replace(/ {2,}.*/, (rest) => (rest.includes('no jobs') ? rest : '')))).toEqual([
      '2026-11-03 … 2026-11-20  no jobs (18 days)',
      '2026-11-21',
      '2026-11-22  no jobs',
      '2026-11-23',
      '2026-11-24 … 2026-12-02  no jobs (9 days)',
      '2026-12-03',
    ]);
  });

  it('a project without jobs in the window says so once', () => {
    expect(section(renderTable(report, { width: 100 }), `Daily trend: ${LONG_ID}`)).toEqual([
      `Daily trend: ${LONG_ID} (UTC days; █ jobs, ▒ of them failed)`,
      '(no jobs in the window)',
    ]);
  });
});
