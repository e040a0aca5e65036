// The report as plain-text tables for a terminal (the default format, and the demo's summary).
import { projectLabel, type Report } from './data.ts';
import { count, dailySeries, duration, percent, printable, truncate, when, windowLabel } from './text.ts';

interface Column {
  header: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
  /** Longer cells are cut with an ellipsis. */
  max?: number;
}

const BAR_WIDTH = 24;

/** Columns separated by two spaces, a rule under the header, no borders: copy-paste friendly. */
export function textTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => columns.map((c, i) => truncate(printable(row[i] ?? ''), c.max ?? Infinity)));
  const widths = columns.map((c, i) => Math.max([...c.header].length, ...cells.map((r) => [...(r[i] ?? '')].length)));
  const pad = (text: string, i: number) => {
    const fill = ' '.repeat(Math.max(0, (widths[i] ?? 0) - [...text].length));
    return columns[i]?.align === 'right' ? fill + text : text + fill;
  };
  const line = (row: readonly string[]) => row.map(pad).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => '─'.repeat(w))), ...cells.map(line)].join('\n');
}

export interface TableOptions {
  /** The demo's summary: outcomes, the top 3 errors and freshness only. */
  short?: boolean;
}

export function renderTable(report: Report, options: TableOptions = {}): string {
  const label = (id: string) => projectLabel(report, id);
  const out: string[] = [];
  const section = (title: string, body: string) => out.push(`\n${title}\n${body}`);
  out.push(
    `Classify jobs report: ${report.projects.length} project${report.projects.length === 1 ? '' : 's'}, ` +
      `jobs created in the ${windowLabel(report)}`,
  );
  if (!options.short) out.push(`Database: ${report.database}`);

  if (report.projects.length === 0) {
    out.push('\nNo projects in the database yet: run `classify-sync sync` first.');
    return `${out.join('\n')}\n`;
  }

  section(
    'Outcomes by project',
    textTable(
      [
        { header: 'project', max: 36 },
        { header: 'jobs', align: 'right' },
        { header: 'succeeded', align: 'right' },
        { header: 'failed', align: 'right' },
        { header: 'partial', align: 'right' },
        { header: 'cancelled', align: 'right' },
        { header: 'in progress', align: 'right' },
        { header: 'unknown', align: 'right' },
        { header: 'failure rate', align: 'right' },
        { header: 'p50 duration', align: 'right' },
        { header: 'p95 duration', align: 'right' },
      ],
      report.outcomes.map((o) => [
        label(o.project_id),
        count(o.jobs),
        count(o.succeeded),
        count(o.failed),
        count(o.partial),
        count(o.cancelled),
        count(o.in_progress),
        count(o.unknown),
        percent(o.failure_rate),
        duration(o.p50_duration_seconds),
        duration(o.p95_duration_seconds),
      ]),
    ) + '\n(failure rate = failed ÷ finished jobs; durations of finished jobs, created → last update)',
  );

  for (const project of options.short ? [] : report.projects) {
    const series = dailySeries(report, project.project_id);
    const max = Math.max(0, ...series.map((d) => d.jobs));
    section(
      `Daily trend: ${label(project.project_id)} (UTC days; █ jobs, ▒ of them failed)`,
      max === 0
        ? '(no jobs in the window)'
        : textTable(
            [
              { header: 'day' },
              { header: 'jobs', align: 'right' },
              { header: 'succeeded', align: 'right' },
              { header: 'failed', align: 'right' },
              { header: 'partial', align: 'right' },
              { header: 'cancelled', align: 'right' },
              { header: 'in progress', align: 'right' },
              { header: 'failure rate', align: 'right' },
              { header: '' },
            ],
            series.map((d) => [
              d.day,
              count(d.jobs),
              count(d.succeeded),
              count(d.failed),
              count(d.partial),
              count(d.cancelled),
              count(d.in_progress),
              percent(d.failure_rate),
              bar(d.jobs, d.failed, max),
            ]),
          ),
    );
  }

  const perProject = options.short ? 3 : 5;
  out.push(`\nTop errors (up to ${perProject} per project; ids and numbers in messages shown as <uuid>, <hex>, <n>)`);
  for (const [i, project] of report.projects.entries()) {
    const errors = report.top_errors.filter((e) => e.project_id === project.project_id && e.rank <= perProject);
    out.push(
      `${i === 0 ? '' : '\n'}${label(project.project_id)}:`,
      errors.length === 0
        ? '  (no error messages in the window)'
        : textTable(
            [
              { header: '#', align: 'right' },
              { header: 'jobs', align: 'right' },
              { header: 'outcome' },
              { header: 'last seen' },
              { header: 'error', max: 100 },
            ],
            errors.map((e) => [String(e.rank), count(e.jobs), e.outcome, when(e.last_seen).slice(0, 10), e.error_pattern]),
          ).replace(/^/gm, '  '),
    );
  }

  for (const project of options.short ? [] : report.projects) {
    const rules = report.rule_types.filter((r) => r.project_id === project.project_id);
    section(
      `Rule types: ${label(project.project_id)} (jobs with at least one rule of the type)`,
      rules.length === 0
        ? '(no jobs in the window)'
        : textTable(
            [
              { header: 'rule type', max: 50 },
              { header: 'jobs', align: 'right' },
              { header: 'share of jobs', align: 'right' },
              { header: 'failed', align: 'right' },
              { header: 'failure rate', align: 'right' },
            ],
            rules.map((r) => [r.rule_type, count(r.jobs), percent(r.share), count(r.failed), percent(r.failure_rate)]),
          ),
    );
  }

  section(
    'Sync freshness',
    textTable(
      [
        { header: 'project', max: 36 },
        { header: 'last success' },
        { header: 'age', align: 'right' },
        { header: 'last sync' },
        { header: 'jobs stored', align: 'right' },
        { header: 'last error', max: 70 },
      ],
      report.freshness.map((f) => [
        label(f.project_id),
        when(f.last_success_at),
        f.age_seconds === null ? 'never' : duration(f.age_seconds),
        f.last_status ?? 'never',
        count(f.jobs_stored),
        f.last_error ?? '',
      ]),
    ),
  );
  return `${out.join('\n')}\n`;
}

/** A bar of `jobs` scaled to the busiest day, its failed part drawn lighter at the end. */
function bar(jobs: number, failed: number, max: number): string {
  const total = jobs === 0 ? 0 : Math.max(1, Math.round((jobs / max) * BAR_WIDTH));
  const bad = failed === 0 ? 0 : Math.min(total, Math.max(1, Math.round((failed / max) * BAR_WIDTH)));
  return '█'.repeat(total - bad) + '▒'.repeat(bad);
}
