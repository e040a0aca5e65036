// The worker's Prometheus metrics (prom-client), on a registry of its own rather than the global one,
// so nothing leaks between instances (tests) and /metrics shows exactly what is defined here.
// Counters count what this process did since it started; the last-success gauge is read from the
// database on each scrape, so every replica reports the same freshness whichever replica synced.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProjectFreshness } from '../db/runs.ts';
import type { SyncObserver } from '../sync/project.ts';
import type { RunResult } from '../sync/run.ts';

const SECOND = 1000;

export interface Metrics {
  readonly registry: Registry;
  /** Hand this to runSync: requests, retries and pages as they happen. */
  readonly observer: SyncObserver;
  runStarted(): void;
  /** `result` is undefined when the run could not even be recorded (e.g. the database was down). */
  runFinished(result: RunResult | undefined, durationMs: number): void;
  /** A tick fired while a run was still in flight, so it did nothing. */
  tickSkipped(): void;
  /** A failed project's retry was scheduled (before the next slot). */
  retryScheduled(projectId: string): void;
}

export interface MetricsOptions {
  projectIds: readonly string[];
  /** Read on every scrape for the last-success gauge. */
  freshness: () => Promise<ProjectFreshness[]>;
  /** Where a failed freshness read is reported (the scrape still answers). */
  onError?: ((error: unknown) => void) | undefined;
}

export const JOB_CHANGES = ['insert', 'update', 'unchanged', 'delete'] as const;

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const runs = new Counter({
    name: 'classify_sync_runs_total',
    help: 'Runs this process finished, by status (error: the run could not be recorded)',
    labelNames: ['status'] as const,
    registers,
  });
  const runDuration = new Histogram({
    name: 'classify_sync_run_duration_seconds',
    help: 'Wall time of a run, by status',
    labelNames: ['status'] as const,
    buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14_400],
    registers,
  });
  const runInProgress = new Gauge({ name: 'classify_sync_run_in_progress', help: '1 while this process runs a sync', registers });
  const ticksSkipped = new Counter({
    name: 'classify_sync_ticks_skipped_total',
    help: 'Schedule ticks skipped because the previous run was still in flight',
    registers,
  });
  const projects = new Counter({
    name: 'classify_sync_projects_total',
    help: 'Project syncs this process finished, by project and status (skipped: locked or already synced)',
    labelNames: ['project', 'status'] as const,
    registers,
  });
  const retriesScheduled = new Counter({
    name: 'classify_sync_project_retries_scheduled_total',
    help: 'Retries of a failed project this process scheduled before the next slot (retryFailedAfterMinutes), by project',
    labelNames: ['project'] as const,
    registers,
  });
  const pages = new Counter({
    name: 'classify_sync_pages_total',
    help: 'Pages fetched and stored, by project',
    labelNames: ['project'] as const,
    registers,
  });
  const jobs = new Counter({
    name: 'classify_sync_jobs_total',
    help: 'Jobs written by a sync, by project and change (insert, update, unchanged, delete)',
    labelNames: ['project', 'change'] as const,
    registers,
  });
  const rejects = new Counter({
    name: 'classify_sync_rejects_total',
    help: 'Items quarantined in sync_rejects, by project',
    labelNames: ['project'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'classify_sync_http_retries_total',
    help: 'API requests retried, by the status that caused it (or network, timeout, invalid-body)',
    labelNames: ['status'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: 'classify_sync_request_duration_seconds',
    help: 'Duration of each API request attempt, by status',
    labelNames: ['status'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const rateLimited = new Counter({
    name: 'classify_sync_rate_limited_total',
    help: 'API requests the API refused with 429 (rate limited), by project',
    labelNames: ['project'] as const,
    registers,
  });
  const requestRate = new Gauge({
    name: 'classify_sync_request_rate',
    help: "Requests per second each project's last walk reached (its requests over its wall time)",
    labelNames: ['project'] as const,
    registers,
  });
  new Gauge({
    name: 'classify_sync_last_success_timestamp_seconds',
    help: 'When each project last synced successfully (any process; read from the database), 0 if never',
    labelNames: ['project'] as const,
    registers,
    async collect() {
      try {
        for (const f of await options.freshness()) {
          this.set({ project: f.projectId }, f.lastSuccessAt ? f.lastSuccessAt.getTime() / SECOND : 0);
        }
      } catch (error) {
        options.onError?.(error);
      }
    },
  });

  // Series that exist from the start, so rate() and alerts see zeros instead of nothing.
  for (const project of options.projectIds) {
    pages.inc({ project }, 0);
    rejects.inc({ project }, 0);
    rateLimited.inc({ project }, 0);
    retriesScheduled.inc({ project }, 0);
    for (const change of JOB_CHANGES) jobs.inc({ project, change }, 0);
  }

  return {
    registry,
    observer: {
      request: ({ projectId: project, status, durationMs }) => {
        requestDuration.observe({ status }, durationMs / SECOND);
        if (status === '429') rateLimited.inc({ project });
      },
      retry: ({ status }) => retries.inc({ status }),
      page: ({ projectId: project, counts }) => {
        pages.inc({ project });
        jobs.inc({ project, change: 'insert' }, counts.inserted);
        jobs.inc({ project, change: 'update' }, counts.updated);
        jobs.inc({ project, change: 'unchanged' }, counts.unchanged);
        rejects.inc({ project }, counts.rejects);
      },
    },
    runStarted: () => runInProgress.set(1),
    runFinished(result, durationMs) {
      runInProgress.set(0);
      const status = result?.status ?? 'error';
      runs.inc({ status });
      runDuration.observe({ status }, durationMs / SECOND);
      for (const p of result?.projects ?? []) {
        projects.inc({ project: p.projectId, status: p.status });
        jobs.inc({ project: p.projectId, change: 'delete' }, p.deleted);
        if (p.requestsPerSecond !== undefined) requestRate.set({ project: p.projectId }, p.requestsPerSecond);
      }
    },
    tickSkipped: () => ticksSkipped.inc(),
    retryScheduled: (project) => retriesScheduled.inc({ project }),
  };
}
