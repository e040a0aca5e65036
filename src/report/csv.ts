// The report as ONE CSV (RFC 4180): a `section` column first (outcomes, daily, top_errors, rule_types,
// freshness), then the union of the sections' columns, empty where a section has no such column.
// One stream works with stdout and pipes; filter on `section` to get one table
// (e.g. `csvgrep -c section -m daily`, or pandas `df[df.section == "daily"].dropna(axis=1, how="all")`).
import type { Report } from './data.ts';

export const CSV_COLUMNS = [
  'section',
  'project_id',
  'project_name',
  'day',
  'rank',
  'rule_type',
  'outcome',
  'error_pattern',
  'jobs',
  'finished',
  'succeeded',
  'failed',
  'partial',
  'cancelled',
  'in_progress',
  'unknown',
  'failure_rate',
  'share',
  'p50_duration_seconds',
  'p95_duration_seconds',
  'first_seen',
  'last_seen',
  'example',
  'last_success_at',
  'age_seconds',
  'last_sync_at',
  'last_status',
  'last_error',
  'jobs_stored',
] as const;

/**
 * A cell: numbers as JavaScript prints them (full precision), null as empty, text quoted when needed.
 * Text that a spreadsheet would run as a formula (= + - @ first) gets a leading apostrophe: error
 * messages come from upstream and must not become formulas (OWASP "CSV injection").
 */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function renderCsv(report: Report): string {
  const names = new Map(report.projects.map((p) => [p.project_id, p.name]));
  const sections = {
    outcomes: report.outcomes,
    daily: report.daily,
    top_errors: report.top_errors,
    rule_types: report.rule_types,
    freshness: report.freshness,
  } as const;
  const lines = [CSV_COLUMNS.join(',')];
  for (const [section, rows] of Object.entries(sections)) {
    for (const row of rows) {
      const values: Record<string, unknown> = { ...row, section, project_name: names.get(row.project_id) ?? null };
      lines.push(CSV_COLUMNS.map((column) => cell(values[column])).join(','));
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}
