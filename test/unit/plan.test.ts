import { describe, expect, it } from 'vitest';
import type { WalkState } from '../../src/db/walks.ts';
import { pagesSaved, planWalk, type PlanInput } from '../../src/plan.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 3, 10);

const afterFullWalk: WalkState = {
  pageToken: undefined,
  walkPages: 0,
  lastCompleteWalkAt: undefined,
  walkKind: 'full',
  walkFilter: null,
  lastCompleteWalkStartedMs: NOW - DAY,
  lastFullWalkMs: NOW - 3 * DAY,
  slices: [],
  lastFullWalkPages: 40,
};

function plan(overrides: Partial<PlanInput> = {}, state: Partial<WalkState> = {}) {
  return planWalk({
    apiVersion: 'v2',
    nowMs: NOW,
    lookbackHours: 48,
    fullRefreshDays: 7,
    forceFull: false,
    fromStart: false,
    ...overrides,
    state: { ...afterFullWalk, ...state },
  });
}

describe('planWalk', () => {
  it("walks v2 incrementally from the last complete walk's start minus the lookback", () => {
    expect(plan()).toMatchObject({
      mode: 'incremental',
      kind: 'incremental',
      resumeToken: undefined,
      filter: { createdAtOnOrAfter: new Date(NOW - DAY - 48 * HOUR).toISOString() },
    });
    expect(plan({ lookbackHours: 0 }).filter).toEqual({ createdAtOnOrAfter: new Date(NOW - DAY).toISOString() });
  });

  it('walks in full when no full walk completed, when one is due, when asked, and always on v1', () => {
    const full = { mode: 'full', kind: 'full', filter: undefined };
    expect(plan({}, { lastFullWalkMs: undefined, lastCompleteWalkStartedMs: undefined })).toMatchObject({
      ...full,
      reason: 'no full walk has completed yet',
    });
    expect(plan({}, { lastFullWalkMs: NOW - 7 * DAY })).toMatchObject({
      ...full,
      reason: expect.stringContaining('7.0 days ago') as string,
    });
    expect(plan({}, { lastFullWalkMs: NOW - 7 * DAY + 1 })).toMatchObject({ mode: 'incremental' });
    expect(plan({ fullRefreshDays: 0 })).toMatchObject(full);
    expect(plan({ forceFull: true })).toMatchObject({ ...full, reason: 'a full walk was asked for' });
    expect(plan({ forceFull: true, fromStart: true })).toMatchObject({ ...full, reason: 'backfill' });
    expect(plan({ apiVersion: 'v1' })).toMatchObject({ ...full, reason: 'v1 cannot filter by creation time' });
  });

  it('resumes a saved full walk, even when a full walk is asked for', () => {
    const saved = { pageToken: 'tok', walkPages: 12, walkKind: 'full' as const };
    for (const overrides of [{}, { forceFull: true }, { apiVersion: 'v1' as const }]) {
      expect(plan(overrides, saved)).toMatchObject({
        mode: 'resume',
        kind: 'full',
        resumeToken: 'tok',
        pagesBefore: 12,
        filter: undefined,
      });
    }
    // Rows from before walks had kinds were full walks.
    expect(plan({}, { ...saved, walkKind: undefined })).toMatchObject({ mode: 'resume', kind: 'full' });
    // backfill without --resume starts over.
    expect(plan({ forceFull: true, fromStart: true }, saved)).toMatchObject({ mode: 'full', resumeToken: undefined, pagesBefore: 0 });
  });

  it('resumes a saved incremental walk with its own filter, unless a full walk is due', () => {
    const filter = { createdAtOnOrAfter: '2026-04-01T00:00:00.000Z' };
    const saved = { pageToken: 'tok', walkPages: 3, walkKind: 'incremental' as const, walkFilter: filter };
    expect(plan({}, saved)).toMatchObject({ mode: 'resume', kind: 'incremental', filter, resumeToken: 'tok', pagesBefore: 3 });
    expect(plan({ forceFull: true }, saved)).toMatchObject({ mode: 'full', kind: 'full', resumeToken: undefined });
    expect(plan({}, { ...saved, lastFullWalkMs: NOW - 8 * DAY })).toMatchObject({ mode: 'full', resumeToken: undefined });
    // A filter this version cannot read is not resumed blindly: a fresh incremental walk instead.
    expect(plan({}, { ...saved, walkFilter: { createdAtOnOrAfter: 'yesterday' } })).toMatchObject({
      mode: 'incremental',
      resumeToken: undefined,
    });
  });
});

describe('pagesSaved', () => {
  it('compares an incremental walk with the last full walk', () => {
    expect(pagesSaved('incremental', 40, 3)).toBe(37);
    expect(pagesSaved('incremental', 2, 5)).toBe(-3);
    expect(pagesSaved('incremental', undefined, 3)).toBeUndefined();
    expect(pagesSaved('full', 40, 40)).toBe(0);
  });
});
