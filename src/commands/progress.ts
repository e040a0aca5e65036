// Live backfill progress: redrawn lines on a terminal, periodic log lines elsewhere.
import type { Logger } from '../log.ts';
import type { Progress } from '../sync/project.ts';

const SECOND = 1000;

export interface ProgressReporter {
  update(progress: Progress): void;
  done(): void;
}

function rate(progress: Progress): number {
  return progress.elapsedMs > 0 ? (progress.jobs * SECOND) / progress.elapsedMs : 0;
}

export function formatProgress(p: Progress): string {
  const total = p.totalSize !== undefined ? ` of ~${p.totalSize}` : '';
  return `${p.projectId}  pages ${p.pages}  jobs ${p.jobs}${total}  ${rate(p).toFixed(0)} jobs/s`;
}

/** Redraws one line per project on a TTY stream (at most every 100 ms). */
export function ttyProgress(stream: NodeJS.WriteStream, projectIds: readonly string[]): ProgressReporter {
  const latest = new Map<string, Progress>();
  let drawn = 0;
  let last = 0;
  const draw = () => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A`);
    const lines = projectIds.map((id) => {
      const p = latest.get(id);
      return p ? formatProgress(p) : `${id}  waiting`;
    });
    stream.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
    drawn = lines.length;
  };
  return {
    update(progress) {
      latest.set(progress.projectId, progress);
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        draw();
      }
    },
    done: draw,
  };
}

/** Logs a progress line per project at most every `intervalMs`. */
export function logProgress(log: Logger, intervalMs = 5 * SECOND): ProgressReporter {
  const lastLogged = new Map<string, number>();
  return {
    update(progress) {
      const now = Date.now();
      if (now - (lastLogged.get(progress.projectId) ?? 0) < intervalMs) return;
      lastLogged.set(progress.projectId, now);
      log.info({ ...progress, jobsPerSecond: Math.round(rate(progress)) }, 'progress');
    },
    done() {},
  };
}
