// When the worker retries a failed project: the timetable an operator can expect, on a fake clock.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { decideRetry, type RetryDecision } from '../../src/worker/retry.ts';

const MINUTE = 60_000;
const SLOT = Date.UTC(2026, 2, 1, 2, 0);
const NEXT_SLOT = new Date(SLOT + 24 * 60 * MINUTE);

function configFile(content: object): string {
  const file = join(mkdtempSync(join(tmpdir(), 'classify-sync-retry-')), 'config.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

/** Every retry of one failure when each retry fails too and takes `syncMinutes`: minutes after the slot. */
function timetable(afterMinutes: number, syncMinutes: number, nextSlot = NEXT_SLOT): { retries: number[]; last: RetryDecision } {
  let clock = SLOT + syncMinutes * MINUTE;
  const retries: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const decision = decideRetry({ afterMinutes, attempt, failedAt: clock, nextSlot });
    if (!decision.retry) return { retries, last: decision };
    clock = decision.at.getTime();
    retries.push((clock - SLOT) / MINUTE);
    clock += syncMinutes * MINUTE;
  }
}

describe('retrying a failed project before the next slot', () => {
  it('defaults to 30 minutes and reads retryFailedAfterMinutes from the config file', () => {
    expect(loadConfig({}, {}).retryFailedAfterMinutes).toBe(30);
    expect(loadConfig({}, { CLASSIFY_SYNC_CONFIG: configFile({ retryFailedAfterMinutes: 5 }) }).retryFailedAfterMinutes).toBe(5);
  });

  it('waits 30, 60, 120 … minutes after each failure and stops before the next nightly slot', () => {
    // Failures that take no time: retries 30, 90, 210, 450 and 930 min after the slot; the next (1890) is past it.
    const { retries, last } = timetable(30, 0);
    expect(retries).toEqual([30, 90, 210, 450, 930]);
    expect(last).toMatchObject({ retry: false, reason: 'next slot first', attempt: 6, delayMs: 960 * MINUTE, nextSlot: NEXT_SLOT });
  });

  it('counts each wait from the end of the failed attempt', () => {
    // Each sync takes 10 minutes before it fails: 10+30, 50+60, 120+120, 250+240, 500+480.
    expect(timetable(30, 10).retries).toEqual([40, 110, 240, 490, 980]);
  });

  it('never retries at or after the next slot: the slot syncs the project anyway', () => {
    const hourly = new Date(SLOT + 60 * MINUTE);
    expect(timetable(30, 0, hourly).retries).toEqual([30]);
    // A retry due exactly at the slot is left to the slot.
    expect(decideRetry({ afterMinutes: 30, attempt: 1, failedAt: SLOT + 30 * MINUTE, nextSlot: hourly })).toMatchObject({
      retry: false,
      reason: 'next slot first',
    });
    expect(timetable(90, 0, hourly).retries).toEqual([]);
  });

  it('does not retry when retryFailedAfterMinutes is 0', () => {
    expect(decideRetry({ afterMinutes: 0, attempt: 1, failedAt: SLOT, nextSlot: NEXT_SLOT })).toEqual({ retry: false, reason: 'disabled' });
  });

  it('takes fractions of a minute (0.5: 30 seconds, then 60, 120 …)', () => {
    const first = decideRetry({ afterMinutes: 0.5, attempt: 1, failedAt: SLOT, nextSlot: NEXT_SLOT });
    expect(first).toEqual({ retry: true, attempt: 1, delayMs: 30_000, at: new Date(SLOT + 30_000) });
    expect(decideRetry({ afterMinutes: 0.5, attempt: 3, failedAt: SLOT, nextSlot: NEXT_SLOT })).toMatchObject({ delayMs: 120_000 });
  });

  it('refuses a negative value, naming the setting', () => {
    const file = configFile({ retryFailedAfterMinutes: -1 });
    expect(() => loadConfig({}, { CLASSIFY_SYNC_CONFIG: file })).toThrow(
      `config file ${file}: retryFailedAfterMinutes: Too small: expected number to be >=0 (see config/classify-sync.example.json)`,
    );
  });
});
