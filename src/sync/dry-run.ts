// A dry run (`sync --dry-run`, `backfill --dry-run`): the walk of a real run, with a store that only
// reads. Each page is compared with what is stored instead of written: a job is an insert (its id is
// not stored), an update (stored with another digest, or marked deleted), unchanged (same digest), or
// rejected (normalize refused it, or its id is stored under another project). A full walk's deletions
// are the project's live stored jobs it did not see, and the same mass-delete guard judges them.
//
// Nothing here writes: run records, walk state, seen ids and rejects are kept in memory or not at
// all, and the database sessions are read-only besides (connect.ts, readOnly), so a write that
// slipped in would fail the run instead of changing data. What the walk would have written stays in
// memory (ids and digests of its inserts and updates, ids of the live jobs it saw), so a job listed
// twice counts once, as the real walk would count it.
import type { Db } from '../db/connect.ts';
import type { PageResult, QuarantinedItem, StorePageInput } from '../db/pages.ts';
import { retrying } from '../db/retry.ts';
import { projectsSyncedSince } from '../db/runs.ts';
import { seenLiveJobIds, storedJobs } from '../db/stored.ts';
import {
  createdAtQuantiles,
  detectedVersion,
  jobIdsToRefresh,
  loadWalkState,
  massDeleteGuard,
  newSlices,
  storedCreatedAt,
  type CompleteWalkInput,
  type CompleteWalkResult,
} from '../db/walks.ts';
import type { SyncStore } from './store.ts';

/** What a project's dry walk would have written, so far. */
interface WalkMemory {
  /** The walk was begun from its first page (else it resumes one whose seen ids are stored). */
  begun: boolean;
  /** Digests (hex) of the jobs it would have inserted or updated, by id. */
  written: Map<string, string>;
  /** Ids of the project's live stored jobs it saw: what it would not mark deleted. */
  seenLive: Set<string>;
  /** Jobs it would have inserted, and deleted ones it would have brought back. */
  inserted: number;
  revived: number;
}

export interface DryRun {
  /** The run's store: reads go to the database, writes go nowhere. */
  store: SyncStore;
  /** Compares a page with what is stored; counts as storePage would. */
  storePage: (input: StorePageInput) => Promise<PageResult>;
}

const nothing = (): Promise<void> => Promise.resolve();

export function dryRun(db: Db): DryRun {
  const walks = new Map<string, WalkMemory>();
  const memoryOf = (projectId: string): WalkMemory => {
    let memory = walks.get(projectId);
    if (!memory) {
      memory = { begun: false, written: new Map(), seenLive: new Set(), inserted: 0, revived: 0 };
      walks.set(projectId, memory);
    }
    return memory;
  };
  const reads = retrying(db, {
    projectsSyncedSince,
    loadWalkState,
    storedCreatedAt,
    createdAtQuantiles,
    jobIdsToRefresh,
    detectedVersion,
    seenLiveJobIds,
    storedJobs,
  });

  const completeWalk = async (input: CompleteWalkInput): Promise<CompleteWalkResult> => {
    if (!input.detectDeletions) return { deleted: 0, warning: undefined };
    const memory = memoryOf(input.projectId);
    if (!memory.begun) for (const id of await reads.seenLiveJobIds(input.projectId, input.apiVersion)) memory.seenLive.add(id);
    const { count } = await reads.storedCreatedAt(input.projectId);
    const missing = Math.max(0, count - memory.seenLive.size);
    // The guard judges the live jobs as the real walk leaves them: with its inserts and revivals.
    const guard = massDeleteGuard({
      live: count + memory.inserted + memory.revived,
      missing,
      minSeenShare: input.minSeenShare,
      allowMassDelete: input.allowMassDelete,
    });
    return { deleted: missing, warning: guard === undefined ? undefined : `the mass-delete guard would stop these deletions: ${guard}` };
  };

  const store: SyncStore = {
    startRun: nothing,
    finishRun: nothing,
    startProject: nothing,
    finishProject: nothing,
    skipProject: nothing,
    rememberProjects: nothing,
    restartSlice: nothing,
    projectsSyncedSince: reads.projectsSyncedSince,
    loadWalkState: reads.loadWalkState,
    storedCreatedAt: reads.storedCreatedAt,
    createdAtQuantiles: reads.createdAtQuantiles,
    jobIdsToRefresh: reads.jobIdsToRefresh,
    beginWalk: (projectId) => {
      walks.delete(projectId);
      memoryOf(projectId).begun = true;
      return Promise.resolve();
    },
    addSlices: (_projectId, _apiVersion, first, ranges) => Promise.resolve(newSlices(first, ranges)),
    rememberDetectedVersion: (projectId) => reads.detectedVersion(projectId),
    completeWalk,
  };

  const storePage = async (input: StorePageInput): Promise<PageResult> => {
    const rejectIds = input.rejects.flatMap((r) => (r.id === undefined ? [] : [r.id]));
    const stored = new Map((await reads.storedJobs(input.jobs.map((j) => j.job.id).concat(rejectIds))).map((s) => [s.id, s]));
    // Only now, the query done, is the memory changed: a retried page counts once.
    const memory = memoryOf(input.projectId);
    const own = (id: string) => {
      const row = stored.get(id);
      return row !== undefined && row.projectId === input.projectId ? row : undefined;
    };
    const counts = { inserted: 0, updated: 0, unchanged: 0 };
    const quarantined: QuarantinedItem[] = [];
    for (const { job, digest } of input.jobs) {
      const hex = digest.toString('hex');
      const row = stored.get(job.id);
      if (row !== undefined && row.projectId !== input.projectId) {
        quarantined.push({ id: job.id, reason: `id is already stored under project ${row.projectId}: it would be quarantined` });
        continue;
      }
      if (row !== undefined && !row.deleted && input.trackSeen) memory.seenLive.add(job.id);
      const earlier = memory.written.get(job.id);
      const current = earlier ?? (row === undefined || row.deleted ? undefined : (row.digest ?? undefined));
      if (current === hex) {
        counts.unchanged += 1;
        continue;
      }
      if (earlier === undefined && row === undefined) {
        counts.inserted += 1;
        memory.inserted += 1;
      } else {
        counts.updated += 1;
        if (earlier === undefined && row?.deleted) memory.revived += 1;
      }
      memory.written.set(job.id, hex);
    }
    // A rejected item with an id is still listed upstream: its stored job is seen, not deleted.
    if (input.trackSeen) for (const id of rejectIds) if (own(id)?.deleted === false) memory.seenLive.add(id);
    const jobsSeen = input.jobs.length - quarantined.length;
    return { jobsSeen, ...counts, rejects: input.rejects.length + quarantined.length, quarantined };
  };

  return { store, storePage };
}
