// Comparing rows from SQL with rows computed in TypeScript: floating point figures match to a tolerance.
import { expect } from 'vitest';

/** Durations: the database keeps microseconds, JavaScript dates milliseconds. */
const SECONDS_DIGITS = 2;
/** Ratios are computed the same way on both sides. */
const RATIO_DIGITS = 9;

/** `rows` with every duration, rate and share replaced by a closeTo matcher (null stays null). */
export function approx<T extends Record<string, unknown>>(rows: readonly T[]): Record<string, unknown>[] {
  return rows.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([key, value]) => {
        if (typeof value !== 'number') return [key, value];
        if (key.endsWith('_seconds')) return [key, expect.closeTo(value, SECONDS_DIGITS)];
        if (key.endsWith('_rate') || key === 'share') return [key, expect.closeTo(value, RATIO_DIGITS)];
        return [key, value];
      }),
    ),
  );
}
