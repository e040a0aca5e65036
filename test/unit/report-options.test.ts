// The report's flag values: what --since and --format accept and how they are read.
import { describe, expect, it } from 'vitest';
import { parseFormat, parseSince, ReportOptionError } from '../../src/report/options.ts';
import { duration, percent, printable, windowDays } from '../../src/report/text.ts';

const NOW = new Date('2026-11-29T18:30:00.000Z');

describe('--since', () => {
  it.each([
    ['90m', '2026-11-29T17:00:00.000Z'],
    ['12h', '2026-11-29T06:30:00.000Z'],
    ['7d', '2026-11-22T18:30:00.000Z'],
    ['30D', '2026-10-30T18:30:00.000Z'],
    ['2w', '2026-11-15T18:30:00.000Z'],
    ['2026-01-01', '2026-01-01T00:00:00.000Z'],
    ['2026-11-01T08:00:00Z', '2026-11-01T08:00:00.000Z'],
    ['2026-11-01 10:00+02:00', '2026-11-01T08:00:00.000Z'],
  ])('reads %s as %s', (value, expected) => {
    expect(parseSince(value, NOW).toISOString()).toBe(expected);
  });

  it.each(['', 'yesterday', '7', '7y', '2026-02-30', '2026-13-01', '2026-11-01T08:00:00', '1 week'])('refuses %j', (value) => {
    expect(() => parseSince(value, NOW)).toThrow(ReportOptionError);
    expect(() => parseSince(value, NOW)).toThrow(/--since takes a duration like 12h, 7d or 2w, or a date like 2026-01-01/);
  });

  it('refuses a date in the future', () => {
    expect(() => parseSince('2026-12-01', NOW)).toThrow('--since 2026-12-01 is in the future');
  });
});

describe('--format', () => {
  it('defaults to table and accepts json, csv, html', () => {
    expect(parseFormat(undefined)).toBe('table');
    expect(['json', 'csv', 'html'].map(parseFormat)).toEqual(['json', 'csv', 'html']);
    expect(() => parseFormat('pdf')).toThrow('--format takes table, json, csv, html; got "pdf"');
  });
});

describe('figures for people', () => {
  it('formats durations, rates and control characters', () => {
    expect([0.84, 42, 95, 4000, 200_000, null].map(duration)).toEqual(['0.8s', '42s', '1m 35s', '1h 6m', '2d 7h', '–']);
    expect([0, 0.1234, 1, null].map(percent)).toEqual(['0.0%', '12.3%', '100.0%', '–']);
    expect(printable('a\nb\t\u001b[2Jc\u009b')).toBe('a b ?[2Jc?');
  });

  it('lists every UTC day of the window, both ends included', () => {
    expect(windowDays({ since: '2026-11-27T18:30:00.000Z', until: '2026-11-29T18:30:00.000Z' })).toEqual([
      '2026-11-27',
      '2026-11-28',
      '2026-11-29',
    ]);
  });
});
