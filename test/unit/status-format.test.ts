// status' pure part: what it concludes from the stored rows (the next full walk by the planner's rule,
// the version in use, a walk in progress) and a table that fits the terminal whatever the text.
import { describe, expect, it } from 'vitest';
import { describeReset } from '../../src/commands/reset.ts';
import type { StoredProjectStatus, StoredWalkState } from '../../src/db/state.ts';
import { projectStatuses, renderStatusTable, type StatusInput } from '../../src/report/status.ts';
import { wrap } from '../../src/report/text.ts';

const DAY_MS = 86_400_000;
const NOW = Date.parse('2026-12-03T12:00:00.000Z');
const LAST_FULL = '2026-11-30T02:00:00.000Z';

function state(over: Partial<StoredWalkState> = {}): StoredWalkState {
  return {
    projectId: 'p1',
    apiVersion: 'v2',
    detectedAt: '2026-12-03T02:00:00.000Z',
    hasPageToken: false,
    walkKind: 'incremental',
    walkStartedAt: '2026-12-03T02:00:00.000Z',
    walkPages: 0,
    lastCompleteWalkAt: '2026-12-03T02:05:00.000Z',
    lastCompleteWalkFull: false,
    lastFullWalkAt: LAST_FULL,
    lastFullWalkMs: Date.parse(LAST_FULL),
    lastCompleteWalkStartedMs: Date.parse('2026-12-03T02:00:00.000Z'),
    slices: 0,
    slicesLeft: 0,
    updatedAt: '2026-12-03T02:05:00.000Z',
    ...over,
  };
}

function input(states: StoredWalkState[], over: Partial<StatusInput> = {}, stored: Partial<StoredProjectStatus> = {}): StatusInput {
  return {
    projectIds: ['p1'],
    configured: new Map([['p1', { name: 'acme' }]]),
    storedNames: new Map(),
    stored: { states, lastRuns: new Map(), openRejects: new Map(), jobs: new Map(), ...stored },
    api: 'auto',
    fullRefreshDays: 7,
    nowMs: NOW,
    ...over,
  };
}

describe('projectStatuses', () => {
  it('the next full walk is due fullRefreshDays after the last full walk started', () => {
    const [s] = projectStatuses(input([state()]));
    expect(s).toMatchObject({
      name: 'acme',
      api_version: 'v2',
      detected_api_version: 'v2',
      last_complete_walk_kind: 'incremental',
      full_walk_due: false,
      next_full_walk_due_at: new Date(Date.parse(LAST_FULL) + 7 * DAY_MS).toISOString(),
      walk_in_progress: false,
    });
    const [overdue] = projectStatuses(input([state()], { fullRefreshDays: 2 }));
    expect(overdue).toMatchObject({
      full_walk_due: true,
      full_walk_due_reason: 'the last full walk started 3.4 days ago (fullRefreshDays 2)',
    });
  });

  it('v1 walks in full every time; a project never walked is due at once', () => {
    const [v1] = projectStatuses(input([state({ apiVersion: 'v1' })], { api: 'v1' }));
    expect(v1).toMatchObject({ api_version: 'v1', full_walk_due: true, full_walk_due_reason: 'v1 cannot filter by creation time' });
    const [never] = projectStatuses(input([]));
    expect(never).toMatchObject({ api_version: null, full_walk_due: true, jobs_stored: 0, last_run_status: null });
  });

  it('a walk in progress: its pages and slices; the state of the version in use, not the other one', () => {
    const v1Row = state({ apiVersion: 'v1', detectedAt: null, hasPageToken: true, walkPages: 9, updatedAt: '2026-12-03T11:00:00.000Z' });
    const v2Row = state({ hasPageToken: false, walkKind: 'full', walkPages: 12, slices: 4, slicesLeft: 1 });
    const [s] = projectStatuses(input([v1Row, v2Row]));
    expect(s).toMatchObject({
      api_version: 'v2',
      walk_in_progress: true,
      walk_kind: 'full',
      walk_pages: 12,
      walk_slices: 4,
      walk_slices_left: 1,
    });
    const [fixed] = projectStatuses(input([v1Row, v2Row], { api: 'v1' }));
    expect(fixed).toMatchObject({ api_version: 'v1', walk_in_progress: true, walk_pages: 9, walk_slices: 0 });
  });
});

describe('renderStatusTable', () => {
  const long = 'x'.repeat(150);
  const error = `HTTP 503: ${'the API kept failing after retries and said so at length '.repeat(4)}${long}`;
  const statuses = projectStatuses(
    input(
      [state({ projectId: long, hasPageToken: true, walkPages: 3, walkKind: 'full' })],
      { projectIds: [long, 'p2'], configured: new Map([[long, { name: `a name that goes on ${long}` }]]) },
      {
        lastRuns: new Map([
          [
            long,
            {
              projectId: long,
              status: 'failed',
              mode: 'resume',
              apiVersion: 'v2',
              startedAt: '2026-12-03T02:00:00.000Z',
              finishedAt: '2026-12-03T02:10:00.000Z',
              pages: 3,
              error,
              warning: null,
            },
          ],
        ]),
        jobs: new Map([[long, { live: 1234567, deleted: 5 }]]),
      },
    ),
  );

  it.each([100, 80, 60, 40])('every line fits %i columns, however long ids, names and errors are', (width) => {
    const text = renderStatusTable(statuses, { database: `postgres://postgres@db.example:5432/${long}`, width });
    const lines = text.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => [...l].length))).toBeLessThanOrEqual(width);
    // Nothing is lost: the words all appear, in order.
    const words = lines.join(' ').replace(/\s+/g, ' ');
    expect(words).toContain('the API kept failing after retries');
    expect(words).toContain('jobs 1,234,567 stored, 5 marked deleted');
    expect(words).toContain('walk in progress (full, started 2026-12-03 02:00 UTC): 3 pages, page token saved');
  });

  it('a project the config does not list, with neither name nor state, shows by its id', () => {
    const text = renderStatusTable(statuses, { database: 'db', width: 100 });
    expect(text).toContain('\np2, not in the config\n');
    expect(text).toContain('\n  last walk       none completed yet\n');
    expect(text).toContain('\n  last run        none yet\n');
  });

  it('terminal escapes in upstream text are neutralized', () => {
    const [s] = projectStatuses(input([state()]));
    const text = renderStatusTable([{ ...s!, last_run_status: 'failed', last_run_error: 'bad \u001b[31mred\u001b[0m\nnext' }], {
      database: 'db',
      width: 100,
    });
    expect(text).not.toContain('\u001b');
    expect(text).toContain('bad ?[31mred?[0m next');
  });
});

describe('wrap', () => {
  it('breaks at spaces, cuts a word longer than the width, never returns a line over it', () => {
    expect(wrap('aa bb cc', 5)).toEqual(['aa bb', 'cc']);
    expect(wrap('abcdefghij k', 4)).toEqual(['abcd', 'efgh', 'ij k']);
    expect(wrap('', 10)).toEqual(['']);
  });
});

describe('describeReset', () => {
  it('says what was forgotten and deleted', () => {
    expect(describeReset('p1 (acme)', { forgotten: { versions: 2, savedTokens: 2, seenPages: 14, slices: 0 }, deleted: undefined })).toBe(
      'forgot walk state of p1 (acme): 2 saved tokens, 14 seen pages, the walk history of 2 API versions; 0 jobs deleted',
    );
    expect(
      describeReset('p1', {
        forgotten: { versions: 0, savedTokens: 0, seenPages: 0, slices: 3 },
        deleted: { jobs: 1, statusChanges: 1, runRecords: 2, rejects: 0 },
      }),
    ).toBe(
      'forgot walk state of p1: 0 saved tokens, 0 seen pages, 3 walk slices, no walk history; ' +
        '1 job (with their rules, parsing settings and 1 status change), 2 run records and 0 rejects deleted',
    );
  });
});
