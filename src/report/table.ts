// The report as plain-text tables for a terminal (the default format, and the demo's summary).
import { projectLabel, type Report } from './data.ts';
import { count, dailySeries, duration, emptyDaysSpanned, percent, printable, truncate, when, widthOf, windowLabel, wrap } from './text.ts';

interface Column {
  header: string;
  /** The header when the table is wider than its width. */
  short?: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
  /** Longer cells are cut with an ellipsis. */
  max?: number;
  /** When the table is too wide, its cells may be cut down to this width (a bar is scaled down). */
  min?: number;
  /** When it is too wide even so, columns are dropped, the lowest `drop` first; a column without one stays. */
  drop?: number;
  /** A cell wider than the column goes on over the next lines (broken between words) instead of being cut. */
  wrap?: boolean;
  /** How a cell is cut to `width`; default: an ellipsis at the end. */
  cut?: (cell: string, width: number) => string;
}

const BAR_WIDTH = 24;
/** What a column that may be cut keeps at least, when nothing else is left to drop. */
const NARROWEST = 4;

/**
 * Columns separated by two spaces, a rule under the header, no borders: copy-paste friendly. A table
 * wider than `width` is fitted, in this order, until it fits: 1. the short headers; 2. the columns with
 * a `min` narrowed down to it (the widest first), their cells cut or, `wrap`, broken over lines;
 * 3. columns dropped by their `drop` order; 4. the columns with a `min` narrowed further, to NARROWEST;
 * 5. every line cut at `width`.
 */
export function textTable(columns: readonly Column[], rows: readonly (readonly string[])[], width = Infinity): string {
  const cells = rows.map((row) => columns.map((c, i) => truncate(printable(row[i] ?? ''), c.max ?? Infinity)));
  let headers = columns.map((c) => c.header);
  const natural = () => columns.map((_, i) => Math.max(widthOf(headers[i] ?? ''), ...cells.map((r) => widthOf(r[i] ?? ''))));
  let widths = natural();
  let shown = columns.map((_, i) => i);
  const total = () => shown.reduce((sum, i) => sum + (widths[i] ?? 0), 0) + 2 * Math.max(0, shown.length - 1);
  const shrink = (floor: (c: Column, header: string) => number | undefined) => {
    while (total() > width) {
      const shrinkable = shown.filter((i) => {
        const f = floor(columns[i] as Column, headers[i] ?? '');
        return f !== undefined && (widths[i] ?? 0) > f;
      });
      if (shrinkable.length === 0) return;
      const widest = shrinkable.reduce((a, b) => ((widths[b] ?? 0) > (widths[a] ?? 0) ? b : a));
      widths[widest] = (widths[widest] ?? 0) - 1;
    }
  };
  if (total() > width) {
    headers = columns.map((c) => c.short ?? c.header);
    widths = natural();
  }
  shrink((c, header) => (c.min === undefined ? undefined : Math.max(c.min, widthOf(header))));
  const droppable = shown.filter((i) => columns[i]?.drop !== undefined).sort((a, b) => (columns[a]?.drop ?? 0) - (columns[b]?.drop ?? 0));
  for (const i of droppable) {
    if (total() <= width) break;
    shown = shown.filter((j) => j !== i);
  }
  shrink((c, header) => (c.min === undefined ? undefined : Math.max(NARROWEST, widthOf(header))));

  const fit = (text: string, i: number) => {
    const w = widths[i] ?? 0;
    return widthOf(text) <= w ? text : (columns[i]?.cut ?? truncate)(text, w);
  };
  const pad = (text: string, i: number) => {
    const fill = ' '.repeat(Math.max(0, (widths[i] ?? 0) - widthOf(text)));
    return columns[i]?.align === 'right' ? fill + text : text + fill;
  };
  const line = (row: readonly string[]) => {
    const pieces = shown.map((i) => (columns[i]?.wrap ? wrap(row[i] ?? '', widths[i] ?? 0) : [fit(row[i] ?? '', i)]));
    const height = Math.max(1, ...pieces.map((p) => p.length));
    return Array.from({ length: height }, (_, k) => {
      const text = pieces
        .map((p, j) => pad(p[k] ?? '', shown[j] ?? 0))
        .join('  ')
        .trimEnd();
      return widthOf(text) <= width ? text : truncate(text, width);
    }).join('\n');
  };
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...cells.map(line)].join('\n');
}

export interface TableOptions {
  /** The demo's summary: outcomes, the top 3 errors and freshness only. */
  short?: boolean | undefined;
  /** No line is wider (the terminal's columns; DEFAULT_WIDTH when unknown): see textTable for how tables fit. */
  width?: number | undefined;
}

/** The width of a report for no terminal, or one that does not say (a file, a pipe). */
export const DEFAULT_WIDTH = 100;

export function renderTable(report: Report, options: TableOptions = {}): string {
  const width = Math.max(20, options.width ?? DEFAULT_WIDTH);
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
    return fitted(out, width);
  }

  section(
    'Outcomes by project',
    textTable(
      [
        { header: 'project', max: 36, min: 12 },
        { header: 'jobs', align: 'right' },
        { header: 'succeeded', short: 'ok', align: 'right' },
        { header: 'failed', align: 'right' },
        { header: 'partial', short: 'part.', align: 'right', drop: 3 },
        { header: 'cancelled', short: 'canc.', align: 'right', drop: 2 },
        { header: 'in progress', short: 'running', align: 'right', drop: 4 },
        { header: 'unknown', short: 'unk.', align: 'right', drop: 1 },
        { header: 'failure rate', short: 'fail %', align: 'right' },
        { header: 'p50 duration', short: 'p50', align: 'right', drop: 5 },
        { header: 'p95 duration', short: 'p95', align: 'right', drop: 6 },
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
      width,
    ) + '\n(failure rate = failed ÷ finished jobs; durations of finished jobs, created → last update)',
  );

  for (const project of options.short ? [] : report.projects) {
    const series = dailySeries(report, project.project_id);
    const max = Math.max(0, ...series.map((d) => d.jobs));
    section(
      `Daily trend: ${label(project.project_id)} (UTC days; █ jobs, ▒ of them failed)`,
      max === 0 ? '(no jobs in the window)' : dailyTable(series, max, width),
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
              { header: 'outcome', drop: 2 },
              { header: 'last seen', drop: 1 },
              { header: 'error', max: 100, min: 20, wrap: true },
            ],
            errors.map((e) => [String(e.rank), count(e.jobs), e.outcome, when(e.last_seen).slice(0, 10), e.error_pattern]),
            width - 2,
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
              { header: 'rule type', max: 50, min: 12 },
              { header: 'jobs', align: 'right' },
              { header: 'share of jobs', short: 'share', align: 'right', drop: 1 },
              { header: 'failed', align: 'right' },
              { header: 'failure rate', short: 'fail %', align: 'right' },
            ],
            rules.map((r) => [r.rule_type, count(r.jobs), percent(r.share), count(r.failed), percent(r.failure_rate)]),
            width,
          ),
    );
  }

  section(
    'Sync freshness',
    textTable(
      [
        { header: 'project', max: 36, min: 12 },
        { header: 'last success', drop: 1 },
        { header: 'age', align: 'right' },
        { header: 'last sync' },
        { header: 'jobs stored', short: 'jobs', align: 'right', drop: 2 },
        { header: 'last error', max: 70, min: 16, wrap: true },
      ],
      report.freshness.map((f) => [
        label(f.project_id),
        when(f.last_success_at),
        f.age_seconds === null ? 'never' : duration(f.age_seconds),
        f.last_status ?? 'never',
        count(f.jobs_stored),
        f.last_error ?? '',
      ]),
      width,
    ),
  );
  return fitted(out, width);
}

/** The report's lines, each wrapped to `width` (the tables fit already; titles and notes are wrapped between words). */
function fitted(out: readonly string[], width: number): string {
  return `${out
    .join('\n')
    .split('\n')
    .flatMap((l) => wrap(l, width))
    .join('\n')}\n`;
}

/** A project's days, a row each; a run of days without jobs as one line ("… no jobs (18 days)"), not rows of zeros. */
function dailyTable(series: ReturnType<typeof dailySeries>, max: number, width: number): string {
  const spans = emptyDaysSpanned(series);
  const days = spans.flatMap((s) => ('day' in s ? [s.day] : []));
  const [header = '', rule = '', ...rows] = textTable(
    [
      { header: 'day' },
      { header: 'jobs', align: 'right' },
      { header: 'succeeded', short: 'ok', align: 'right', drop: 5 },
      { header: 'failed', align: 'right' },
      { header: 'partial', short: 'part.', align: 'right', drop: 2 },
      { header: 'cancelled', short: 'canc.', align: 'right', drop: 1 },
      { header: 'in progress', short: 'running', align: 'right', drop: 3 },
      { header: 'failure rate', short: 'fail %', align: 'right' },
      { header: '', min: 8, drop: 4, cut: scaleBar },
    ],
    days.map((d) => [
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
    width,
  ).split('\n');
  let next = 0;
  const lines = spans.map((s) => {
    if ('day' in s) return rows[next++] ?? '';
    const { first, last, days: n } = s.empty;
    return n === 1 ? `${first}  no jobs` : `${first} … ${last}  no jobs (${n} days)`;
  });
  return [header, rule, ...lines].join('\n');
}
/** A bar of `jobs` scaled to the busiest day, its failed part drawn lighter at the end. */
function bar(jobs: number, failed: number, max: number): string {
  const total = jobs === 0 ? 0 : Math.max(1, Math.round((jobs / max) * BAR_WIDTH));
  const bad = failed === 0 ? 0 : Math.min(total, Math.max(1, Math.round((failed / max) * BAR_WIDTH)));
  return '█'.repeat(total - bad) + '▒'.repeat(bad);
}

/** A bar drawn `width` wide instead of BAR_WIDTH: both parts scaled, a part that was there kept visible. */
function scaleBar(cell: string, width: number): string {
  const scaled = (n: number) => (n === 0 ? 0 : Math.max(1, Math.round((n * width) / BAR_WIDTH)));
  const bad = [...cell].filter((c) => c === '▒').length;
  const total = Math.min(width, scaled([...cell].length));
  const light = Math.min(total, scaled(bad));
  return '█'.repeat(total - light) + '▒'.repeat(light);
}
