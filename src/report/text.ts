// How figures read for people, shared by the table and HTML formats.
import { NO_JOBS, type DailyRow, type OutcomeFigures, type Report } from './data.ts';

const DAY_MS = 86_400_000;

export const OUTCOMES = ['succeeded', 'partial', 'failed', 'cancelled', 'in_progress', 'unknown'] as const;
export type OutcomeName = (typeof OUTCOMES)[number];
export const OUTCOME_LABELS: Readonly<Record<OutcomeName, string>> = {
  succeeded: 'succeeded',
  partial: 'partial',
  failed: 'failed',
  cancelled: 'cancelled',
  in_progress: 'in progress',
  unknown: 'unknown',
};

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function percent(rate: number | null): string {
  if (rate === null) return '–';
  return `${(rate * 100).toFixed(1)}%`;
}

/** 0.8 → "0.8s", 95 → "1m 35s", 4000 → "1h 6m", 200000 → "2d 7h". */
export function duration(seconds: number | null): string {
  if (seconds === null) return '–';
  if (seconds < 0) return `-${duration(-seconds)}`;
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** "2026-11-29T08:15:00.000Z" → "2026-11-29 08:15 UTC". */
export function when(value: string | null): string {
  return value === null ? '–' : `${value.slice(0, 10)} ${value.slice(11, 16)} UTC`;
}

/** Upstream text for a terminal: control characters (escape sequences, newlines) become spaces or '?'. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  return text.replace(/[\t\n\r]+/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

export function truncate(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

/** Characters a terminal shows for `text` (every character the report prints is one column wide). */
export function widthOf(text: string): number {
  return [...text].length;
}

/**
 * `text` in lines of at most `width` characters, broken between words (a word longer than a line is cut);
 * continuation lines keep the first line's indentation.
 */
export function wrap(text: string, width: number): string[] {
  if (widthOf(text) <= width) return [text];
  const indent = /^ */.exec(text)?.[0] ?? '';
  const room = Math.max(1, width - indent.length);
  const lines: string[] = [];
  let current = '';
  for (const word of text.slice(indent.length).split(/ +/)) {
    let rest = word;
    while (widthOf(rest) > room) {
      if (current) lines.push(current);
      current = '';
      lines.push([...rest].slice(0, room).join(''));
      rest = [...rest].slice(room).join('');
    }
    if (!current) current = rest;
    else if (widthOf(current) + 1 + widthOf(rest) <= room) current += ` ${rest}`;
    else {
      lines.push(current);
      current = rest;
    }
  }
  if (current) lines.push(current);
  return lines.map((l) => indent + l);
}

/** Runs of consecutive days: those with jobs one by one, those without as one span. */
export type DaySpan<T> = { day: T } | { empty: { first: string; last: string; days: number } };

/** Groups the days without jobs of a series into spans (a run of empty days reads as one line, not a row of zeros each). */
export function emptyDaysSpanned<T extends { day: string; jobs: number }>(series: readonly T[]): DaySpan<T>[] {
  const spans: DaySpan<T>[] = [];
  for (const day of series) {
    const last = spans.at(-1);
    if (day.jobs > 0) spans.push({ day });
    else if (last && 'empty' in last) last.empty = { first: last.empty.first, last: day.day, days: last.empty.days + 1 };
    else spans.push({ empty: { first: day.day, last: day.day, days: 1 } });
  }
  return spans;
}

/** Every UTC day of the window, oldest first, as YYYY-MM-DD. */
export function windowDays(report: Pick<Report, 'since' | 'until'>): string[] {
  const first = Math.floor(Date.parse(report.since) / DAY_MS);
  const last = Math.floor(Date.parse(report.until) / DAY_MS);
  const days: string[] = [];
  for (let d = first; d <= last; d++) days.push(new Date(d * DAY_MS).toISOString().slice(0, 10));
  return days;
}

/** A project's days over the whole window, days without jobs as zeros. */
export function dailySeries(report: Report, projectId: string): (Pick<DailyRow, 'day'> & OutcomeFigures)[] {
  const rows = new Map(report.daily.filter((d) => d.project_id === projectId).map((d) => [d.day, d]));
  return windowDays(report).map((day) => rows.get(day) ?? { day, ...NO_JOBS });
}

/** "last 30 days" for a window that ends now, else the dates. */
export function windowLabel(report: Pick<Report, 'since' | 'until'>): string {
  const ms = Date.parse(report.until) - Date.parse(report.since);
  const days = ms / DAY_MS;
  const span = Number.isInteger(days)
    ? `last ${days} day${days === 1 ? '' : 's'}`
    : ms % 3_600_000 === 0
      ? `last ${ms / 3_600_000} hours`
      : `since ${when(report.since)}`;
  return `${span} (${when(report.since)} → ${when(report.until)})`;
}
