// The SQL a sync runs around its pages, bound to its database with the database retries built in
// (db/retry.ts): each function is one statement or one transaction, so a retry is safe.
import type { Db } from '../db/connect.ts';
import { retrying, type Retrying } from '../db/retry.ts';
import { rememberProjects } from '../db/projects.ts';
import { finishProject, finishRun, projectsSyncedSince, skipProject, startProject, startRun } from '../db/runs.ts';
import {
  addSlices,
  beginWalk,
  completeWalk,
  createdAtQuantiles,
  jobIdsToRefresh,
  loadWalkState,
  rememberDetectedVersion,
  restartSlice,
  storedCreatedAt,
} from '../db/walks.ts';

const FUNCTIONS = {
  startRun,
  finishRun,
  startProject,
  finishProject,
  skipProject,
  projectsSyncedSince,
  rememberProjects,
  loadWalkState,
  beginWalk,
  addSlices,
  restartSlice,
  storedCreatedAt,
  createdAtQuantiles,
  completeWalk,
  rememberDetectedVersion,
  jobIdsToRefresh,
};

export type SyncStore = Retrying<typeof FUNCTIONS>;

export function syncStore(db: Db): SyncStore {
  return retrying(db, FUNCTIONS);
}
