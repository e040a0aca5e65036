// `classify-sync status` for people (a block of lines per project that fits the terminal) and tools
// (JSON: an array of objects, one per project, with stable snake_case keys). Pure: the command reads
// the database and the config, this module only decides what they say.
import type { ApiVersion } from '../config.ts';
import type { StoredLastRun, StoredProjectStatus, StoredWalkState } from '../db/state.ts';
import { nextFullWalk } from '../plan.ts';
import { count, printable, when, wrap } from './text.ts';

/** One project, as `status --format json` prints it. Times are ISO 8601 (UTC) or null. */
export interface ProjectStatus {
  project_id: string;
  /** The config's name, else the one a sync stored, else null. */
  name: string | null;
  /** Listed in the config (or CLASSIFY_SYNC_PROJECTS); false: only the database knows it. */
  configured: boolean;
  /** The API version the next sync walks it with, as far as is known: `--api`/`api` when fixed, else the one last detected. */
  api_version: ApiVersion | null;
  /** The version `--api auto` last chose for it, and when (null: never detected). */
  detected_api_version: ApiVersion | null;
  detected_at: string | null;
  /** The last walk that reached its last page, and its kind. */
  last_complete_walk_at: string | null;
  last_complete_walk_kind: 'full' | 'incremental' | null;
  /** When the last complete full walk started. */
  last_full_walk_at: string | null;
  /** A saved page token (or unfinished slices): the next sync resumes that walk. The token itself is never shown. */
  walk_in_progress: boolean;
  walk_kind: 'full' | 'incremental' | null;
  walk_started_at: string | null;
  /** Pages the walk in progress has stored (0 when none is). */
  walk_pages: number;
  /** Slices of an unfinished sliced walk, and how many are left (0: not a sliced walk). */
  walk_slices: number;
  walk_slices_left: number;
  /** The next sync (unforced) walks in full, and why. */
  full_walk_due: boolean;
  full_walk_due_reason: string | null;
  /** When fullRefreshDays make the next full walk due (null: none completed yet, or every walk is full: v1). */
  next_full_walk_due_at: string | null;
  /** The project's last run that was not skipped. */
  last_run_status: string | null;
  last_run_mode: string | null;
  last_run_started_at: string | null;
  last_run_finished_at: string | null;
  last_run_pages: number | null;
  last_run_error: string | null;
  last_run_warning: string | null;
  /** sync_rejects rows not settled yet. */
  open_rejects: number;
  /** Stored jobs not marked deleted, and those marked deleted. */
  jobs_stored: number;
  jobs_deleted: number;
}

export interface StatusInput {
  /** The projects to show, in order. */
  projectIds: readonly string[];
  configured: ReadonlyMap<string, { name: string | undefined }>;
  storedNames: ReadonlyMap<string, string>;
  stored: StoredProjectStatus;
  /** The configured `api`: auto, or a fixed version. */
  api: 'auto' | ApiVersion;
  fullRefreshDays: number;
  nowMs: number;
}

const isVersion = (v: string | null | undefined): v is ApiVersion => v === 'v1' || v === 'v2';
const walkKind = (v: string | null): 'full' | 'incremental' | null => (v === 'full' || v === 'incremental' ? v : null);

/** The sync_state row whose walk state is the project's: the version in use (fixed or detected), else the newest. */
function stateInUse(states: readonly StoredWalkState[], version: ApiVersion | null): StoredWalkState | undefined {
  if (version !== null) return states.find((s) => s.apiVersion === version);
  return [...states].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
}

export function projectStatuses(input: StatusInput): ProjectStatus[] {
  return input.projectIds.map((id): ProjectStatus => {
    const states = input.stored.states.filter((s) => s.projectId === id);
    const detected = states.filter((s) => s.detectedAt !== null).sort((a, b) => (b.detectedAt ?? '').localeCompare(a.detectedAt ?? ''))[0];
    const detectedVersion = isVersion(detected?.apiVersion) ? detected.apiVersion : null;
    const fixed = input.api === 'auto' ? null : input.api;
    const state = stateInUse(states, fixed ?? detectedVersion);
    const version = fixed ?? detectedVersion ?? (isVersion(state?.apiVersion) ? state.apiVersion : null);
    const inProgress = state !== undefined && (state.hasPageToken || state.slices > 0);
    const next =
      version === null
        ? { reason: 'no full walk has completed yet', dueAtMs: undefined }
        : nextFullWalk({
            apiVersion: version,
            nowMs: input.nowMs,
            fullRefreshDays: input.fullRefreshDays,
            state: {
              lastFullWalkMs: state?.lastFullWalkMs ?? undefined,
              lastCompleteWalkStartedMs: state?.lastCompleteWalkStartedMs ?? undefined,
            },
          });
    const run: StoredLastRun | undefined = input.stored.lastRuns.get(id);
    const jobs = input.stored.jobs.get(id);
    return {
      project_id: id,
      name: input.configured.get(id)?.name ?? input.storedNames.get(id) ?? null,
      configured: input.configured.has(id),
      api_version: version,
      detected_api_version: detectedVersion,
      detected_at: detected?.detectedAt ?? null,
      last_complete_walk_at: state?.lastCompleteWalkAt ?? null,
      last_complete_walk_kind: state?.lastCompleteWalkFull == null ? null : state.lastCompleteWalkFull ? 'full' : 'incremental',
      last_full_walk_at: state?.lastFullWalkAt ?? null,
      walk_in_progress: inProgress,
      // Rows written before walks had kinds were full walks (as the planner reads them).
      walk_kind: inProgress ? (walkKind(state.walkKind) ?? 'full') : null,
      walk_started_at: inProgress ? state.walkStartedAt : null,
      walk_pages: inProgress ? state.walkPages : 0,
      walk_slices: inProgress ? state.slices : 0,
      walk_slices_left: inProgress ? state.slicesLeft : 0,
      full_walk_due: next.reason !== undefined,
      full_walk_due_reason: next.reason ?? null,
      next_full_walk_due_at: next.dueAtMs === undefined ? null : new Date(next.dueAtMs).toISOString(),
      last_run_status: run?.status ?? null,
      last_run_mode: run?.mode ?? null,
      last_run_started_at: run?.startedAt ?? null,
      last_run_finished_at: run?.finishedAt ?? null,
      last_run_pages: run?.pages ?? null,
      last_run_error: run?.error ?? null,
      last_run_warning: run?.warning ?? null,
      open_rejects: input.stored.openRejects.get(id) ?? 0,
      jobs_stored: jobs?.live ?? 0,
      jobs_deleted: jobs?.deleted ?? 0,
    };
  });
}

export function renderStatusJson(statuses: readonly ProjectStatus[]): string {
  return `${JSON.stringify(statuses, null, 2)}\n`;
}

const LABEL_WIDTH = 16;
const INDENT = '  ';
const plural = (n: number, word: string) => `${count(n)} ${word}${n === 1 ? '' : 's'}`;

function apiLine(s: ProjectStatus): string {
  if (s.api_version === null) return 'not detected yet (no sync has reached the API)';
  if (s.detected_api_version === null || s.detected_api_version !== s.api_version) return `${s.api_version} (configured)`;
  return `${s.api_version} (detected ${when(s.detected_at)})`;
}

function walkLine(s: ProjectStatus): string {
  if (!s.walk_in_progress) return 'none in progress';
  const since = s.walk_started_at === null ? '' : `, started ${when(s.walk_started_at)}`;
  const saved = s.walk_slices > 0 ? `${s.walk_slices} slices saved (${s.walk_slices_left} left)` : 'page token saved';
  return `in progress (${s.walk_kind ?? 'full'}${since}): ${plural(s.walk_pages, 'page')}, ${saved}`;
}

function nextFullLine(s: ProjectStatus): string {
  if (s.full_walk_due) return `next sync (${s.full_walk_due_reason ?? 'due'})`;
  return s.next_full_walk_due_at === null ? '–' : when(s.next_full_walk_due_at);
}

function lastRunLine(s: ProjectStatus): string {
  if (s.last_run_status === null) return 'none yet';
  const how = [s.last_run_mode, s.last_run_pages === null ? undefined : plural(s.last_run_pages, 'page')].filter(Boolean).join(', ');
  const at = when(s.last_run_finished_at ?? s.last_run_started_at);
  const detail = s.last_run_error ?? s.last_run_warning;
  return `${s.last_run_status} ${at}${how ? ` (${how})` : ''}${detail ? `: ${detail}` : ''}`;
}

/** A project's heading: its name and id, or the id alone. */
export function projectHeading(s: Pick<ProjectStatus, 'project_id' | 'name' | 'configured'>): string {
  const label = s.name === null || s.name === s.project_id ? s.project_id : `${s.name} (${s.project_id})`;
  return s.configured ? label : `${label}, not in the config`;
}

/** The table format: a heading line per project and one line per field, every line at most `width` wide. */
export function renderStatusTable(statuses: readonly ProjectStatus[], options: { database: string; width: number }): string {
  const width = Math.max(40, options.width);
  const out: string[] = [];
  const add = (text: string, indent = '') => {
    for (const l of wrap(printable(text), width - indent.length)) out.push(`${indent}${l}`.trimEnd());
  };
  add(`classify-sync status: ${plural(statuses.length, 'project')} in ${options.database}`);
  if (statuses.length === 0)
    add('No project configured or in the database yet: list projects in the config, then run `classify-sync sync`.');
  for (const s of statuses) {
    out.push('');
    add(projectHeading(s));
    const field = (label: string, value: string) => {
      const lines = wrap(printable(value), width - INDENT.length - LABEL_WIDTH);
      lines.forEach((l, i) => out.push(`${INDENT}${(i === 0 ? label : '').padEnd(LABEL_WIDTH)}${l}`.trimEnd()));
    };
    const lastWalk =
      s.last_complete_walk_at === null
        ? 'none completed yet'
        : `${s.last_complete_walk_kind ?? 'full'}, completed ${when(s.last_complete_walk_at)}`;
    field('API', apiLine(s));
    field('last walk', lastWalk);
    field('walk', walkLine(s));
    field('next full walk', nextFullLine(s));
    field('last run', lastRunLine(s));
    field('open rejects', count(s.open_rejects));
    field('jobs', `${count(s.jobs_stored)} stored${s.jobs_deleted > 0 ? `, ${count(s.jobs_deleted)} marked deleted` : ''}`);
  }
  return `${out.join('\n')}\n`;
}
