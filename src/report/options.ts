// Pure parsing of the report's flag values; errors are one line that says what is accepted.

export const REPORT_FORMATS = ['table', 'json', 'csv', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export const DEFAULT_SINCE = '30d';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const UNIT_MS: Readonly<Record<string, number>> = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS, w: 7 * DAY_MS };

export class ReportOptionError extends Error {
  override name = 'ReportOptionError';
}

export function parseFormat(value: string | undefined): ReportFormat {
  const format = value ?? 'table';
  if ((REPORT_FORMATS as readonly string[]).includes(format)) return format as ReportFormat;
  throw new ReportOptionError(`--format takes ${REPORT_FORMATS.join(', ')}; got ${JSON.stringify(format)}`);
}

/**
 * The start of the report's window: a duration back from `now` (`90m`, `12h`, `7d`, `2w`), a UTC date
 * (`2026-01-01`, midnight UTC) or an ISO 8601 date-time with a zone (`2026-01-01T08:00:00Z`).
 */
export function parseSince(value: string, now: Date): Date {
  const text = value.trim();
  const duration = /^(\d+)\s*([mhdw])$/i.exec(text);
  if (duration) {
    const [, amount = '0', unit = 'd'] = duration;
    return new Date(now.getTime() - Number(amount) * (UNIT_MS[unit.toLowerCase()] ?? DAY_MS));
  }
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const [, y, m, d] = day.map(Number) as [number, number, number, number];
    const date = new Date(Date.UTC(y, m - 1, d));
    if (date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d) return notAfter(date, now, value);
  } else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
    const ms = Date.parse(text.replace(' ', 'T'));
    if (!Number.isNaN(ms)) return notAfter(new Date(ms), now, value);
  }
  throw new ReportOptionError(`--since takes a duration like 12h, 7d or 2w, or a date like 2026-01-01; got ${JSON.stringify(value)}`);
}

function notAfter(date: Date, now: Date, value: string): Date {
  if (date.getTime() > now.getTime())
    throw new ReportOptionError(`--since ${value} is in the future: give a past date or a duration like 7d`);
  return date;
}
