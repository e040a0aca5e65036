// Pure: which walk a project's sync does tonight — resume a saved one, walk everything, or walk only
// what may have changed (v2 incremental). See docs/api-versions.md for what each kind can and cannot see.
import type { ApiVersion } from './config.ts';
import type { SliceState, WalkKind, WalkState } from './db/walks.ts';
import { listFilterSchema, type ListFilter } from './source/v2.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export type SyncMode = 'full' | 'incremental' | 'resume';

export interface PlanInput {
  apiVersion: ApiVersion;
  state: WalkState;
  nowMs: number;
  lookbackHours: number;
  fullRefreshDays: number;
  /** `backfill` or `sync --full`: the walk must be full (a saved full walk may still be resumed). */
  forceFull: boolean;
  /** `backfill` without --resume: ignore saved page tokens. */
  fromStart: boolean;
}

export interface WalkPlan {
  /** What sync_run_projects.mode records. */
  mode: SyncMode;
  /** What the walk is: only a full walk may mark deletions. */
  kind: WalkKind;
  /** Incremental walks: jobs created on or after the window start. */
  filter: ListFilter | undefined;
  resumeToken: string | undefined;
  /** Pages the resumed walk had already stored. */
  pagesBefore: number;
  /** The slices of a resumed sliced full walk (undefined: not one). */
  slices: SliceState[] | undefined;
  /** One line for the log: why this walk. */
  reason: string;
}

/**
 * The rules, in order:
 * 1. A saved page token of a full walk is resumed (a full walk is never wasted), and so are the
 *    slices of an unfinished sliced full walk, each from its own token.
 * 2. A saved page token of an incremental walk is resumed with its saved filter, unless a full walk
 *    is due (then the full walk replaces it).
 * 3. A full walk when forced (backfill, --full), for v1 (it cannot filter), when no full walk has
 *    completed, or when the last one started fullRefreshDays ago or more.
 * 4. Otherwise incremental: jobs created since the last complete walk started, minus lookbackHours
 *    (the in-flight jobs created earlier are refreshed by id afterwards).
 */
export function planWalk(input: PlanInput): WalkPlan {
  const { state } = input;
  const fullReason = fullWalkReason(input);
  if (state.slices.length > 0 && !input.fromStart) {
    const left = state.slices.filter((s) => !s.done).length;
    return {
      mode: 'resume',
      kind: 'full',
      filter: undefined,
      resumeToken: undefined,
      pagesBefore: state.walkPages,
      slices: state.slices,
      reason: `resuming an unfinished sliced full walk (${left} of ${state.slices.length} slices left)`,
    };
  }
  if (state.pageToken !== undefined && !input.fromStart) {
    const kind = state.walkKind ?? 'full';
    if (kind === 'full') {
      return {
        mode: 'resume',
        kind,
        filter: undefined,
        resumeToken: state.pageToken,
        pagesBefore: state.walkPages,
        slices: undefined,
        reason: 'resuming an unfinished full walk',
      };
    }
    const filter = listFilterSchema.safeParse(state.walkFilter ?? {});
    if (fullReason === undefined && filter.success && filter.data.createdAtOnOrAfter !== undefined) {
      return {
        mode: 'resume',
        kind,
        filter: filter.data,
        resumeToken: state.pageToken,
        pagesBefore: state.walkPages,
        slices: undefined,
        reason: `resuming an unfinished incremental walk of jobs created on or after ${filter.data.createdAtOnOrAfter}`,
      };
    }
  }
  if (fullReason !== undefined) {
    return { mode: 'full', kind: 'full', filter: undefined, resumeToken: undefined, pagesBefore: 0, slices: undefined, reason: fullReason };
  }
  const windowStart = new Date((state.lastCompleteWalkStartedMs as number) - input.lookbackHours * HOUR_MS).toISOString();
  return {
    mode: 'incremental',
    kind: 'incremental',
    filter: { createdAtOnOrAfter: windowStart },
    resumeToken: undefined,
    pagesBefore: 0,
    slices: undefined,
    reason: `jobs created on or after ${windowStart} (last complete walk minus ${input.lookbackHours} h), then in-flight jobs by id`,
  };
}

function fullWalkReason(input: PlanInput): string | undefined {
  if (input.forceFull) return input.fromStart ? 'backfill' : 'a full walk was asked for';
  return nextFullWalk(input).reason;
}

export interface NextFullWalk {
  /** Why the next sync walks in full (rule 3 of planWalk, unforced); undefined: it is not due yet. */
  reason: string | undefined;
  /** When fullRefreshDays make it due: the last full walk's start plus fullRefreshDays (undefined: never completed, or v1). */
  dueAtMs: number | undefined;
}

/** When a sync (not forced) next walks the project in full: what `status` shows, by the rule planWalk applies. */
export function nextFullWalk(
  input: Pick<PlanInput, 'apiVersion' | 'nowMs' | 'fullRefreshDays'> & {
    state: Pick<WalkState, 'lastFullWalkMs' | 'lastCompleteWalkStartedMs'>;
  },
): NextFullWalk {
  const { state } = input;
  if (input.apiVersion === 'v1') return { reason: 'v1 cannot filter by creation time', dueAtMs: undefined };
  if (state.lastFullWalkMs === undefined || state.lastCompleteWalkStartedMs === undefined) {
    return { reason: 'no full walk has completed yet', dueAtMs: undefined };
  }
  const dueAtMs = state.lastFullWalkMs + input.fullRefreshDays * DAY_MS;
  const ageMs = input.nowMs - state.lastFullWalkMs;
  if (ageMs >= input.fullRefreshDays * DAY_MS) {
    return {
      reason: `the last full walk started ${(ageMs / DAY_MS).toFixed(1)} days ago (fullRefreshDays ${input.fullRefreshDays})`,
      dueAtMs,
    };
  }
  return { reason: undefined, dueAtMs };
}

/**
 * Pages an incremental walk saved against the last full walk (negative when it cost more); 0 for a
 * full walk; undefined when no full walk's page count is known.
 */
export function pagesSaved(kind: WalkKind, lastFullWalkPages: number | undefined, pagesWalked: number): number | undefined {
  if (kind === 'full') return 0;
  return lastFullWalkPages === undefined ? undefined : lastFullWalkPages - pagesWalked;
}
