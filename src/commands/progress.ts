// Live progress of a sync or backfill: on a terminal a block of lines, one per project, kept below the
// log lines (they are written above it, never over it); elsewhere a progress log line now and then.
import type { LogDestination, Logger } from '../log.ts';
import type { Progress } from '../sync/project.ts';

const SECOND = 1000;
/** `sync` shows progress only for a walk that has run this long: most syncs are incremental and quick. */
export const LONG_WALK_MS = 5 * SECOND;
/** A terminal's width when it does not say. */
const DEFAULT_COLUMNS = 80;

export interface ProgressReporter {
  update(progress: Progress): void;
  done(): void;
}

/** What a block needs of a terminal stream (a tty.WriteStream, or a test's fake). */
export interface TerminalStream {
  write(text: string): unknown;
  columns?: number | undefined;
}

/**
 * A terminal with a block of status lines at its bottom. Whatever is written through it (log lines)
 * appears above the block: the block is erased, the text written, the block drawn again, in one write.
 * Everything the process writes to that terminal while the block is drawn must go through it.
 */
export class LiveBlock implements LogDestination {
  readonly isTTY = true;
  #lines: readonly string[] = [];
  #drawn = 0;
  #released = false;

  constructor(readonly stream: TerminalStream) {}

  /** Writes `text` (whole lines) above the block. */
  write(text: string): boolean {
    const lines = text.endsWith('\n') || text === '' ? text : `${text}\n`;
    this.stream.write(this.#erase() + lines + this.#render());
    return true;
  }

  /** Replaces the block's lines (each cut to the terminal's width, so that none wraps and the erase stays exact). */
  show(lines: readonly string[]): void {
    if (this.#released) return;
    this.#lines = lines;
    this.stream.write(this.#erase() + this.#render());
  }

  /** Leaves the block as it was last drawn, for good: later writes go below it. */
  release(): void {
    this.#released = true;
    this.#lines = [];
    this.#drawn = 0;
  }

  #erase(): string {
    // Back to the first column of the block's first line, then erase to the end of the screen.
    return this.#drawn > 0 ? `\r\x1b[${this.#drawn}A\x1b[J` : '';
  }

  #render(): string {
    // A terminal of unknown size says 0 columns (a pseudo-terminal nobody sized).
    const width = Math.max(1, (this.stream.columns || DEFAULT_COLUMNS) - 1);
    this.#drawn = this.#lines.length;
    return this.#lines.map((l) => `${[...l].length > width ? `${[...l].slice(0, width - 1).join('')}…` : l}\n`).join('');
  }
}

/**
 * Where a run's progress is drawn: on the logs' terminal (stdout) when they go to one, the logger then
 * writing through the block (`logs`); else on stderr when that is a terminal (the logs go elsewhere);
 * undefined when neither is one.
 */
export function progressTerminal(io: {
  stdout: TerminalStream & { isTTY?: boolean | undefined };
  stderr: TerminalStream & { isTTY?: boolean | undefined };
}): { block: LiveBlock; logs: LiveBlock | undefined } | undefined {
  if (io.stdout.isTTY) {
    const block = new LiveBlock(io.stdout);
    return { block, logs: block };
  }
  if (io.stderr.isTTY) return { block: new LiveBlock(io.stderr), logs: undefined };
  return undefined;
}

function rate(progress: Progress): number {
  return progress.elapsedMs > 0 ? (progress.jobsThisRun * SECOND) / progress.elapsedMs : 0;
}

/** The page a resumed walk started at (the first one it stored itself). */
function resumedAt(p: Progress): number {
  return p.resumedPages + 1;
}

export function formatProgress(p: Progress): string {
  const total = p.totalSize !== undefined ? ` of ~${p.totalSize}` : '';
  const resumed = p.resumedPages > 0 ? ` (resumed at page ${resumedAt(p)})` : '';
  const jobs = p.resumedPages > 0 ? `~${p.jobs}` : String(p.jobs);
  return `${p.projectId}  pages ${p.pages}${resumed}  jobs ${jobs}${total}  ${rate(p).toFixed(0)} jobs/s`;
}

/**
 * Redraws the block: a line per project that has reported progress, in `projectIds` order (at most every
 * 100 ms, by `clock`); done() draws the last figures and leaves them on the screen.
 */
export function ttyProgress(block: LiveBlock, projectIds: readonly string[], clock: () => number = Date.now): ProgressReporter {
  const latest = new Map<string, Progress>();
  let last = Number.NEGATIVE_INFINITY;
  const draw = () => block.show(projectIds.flatMap((id) => latest.get(id) ?? []).map(formatProgress));
  return {
    update(progress) {
      latest.set(progress.projectId, progress);
      const now = clock();
      if (now - last >= 100) {
        last = now;
        draw();
      }
    },
    done() {
      if (latest.size > 0) draw();
      block.release();
    },
  };
}

/** Logs a progress line per project at most every `intervalMs`; a resumed walk's first one says where it resumed. */
export function logProgress(log: Logger, intervalMs = 5 * SECOND, clock: () => number = Date.now): ProgressReporter {
  const lastLogged = new Map<string, number>();
  return {
    update(progress) {
      const now = clock();
      const previous = lastLogged.get(progress.projectId);
      if (previous !== undefined && now - previous < intervalMs) return;
      lastLogged.set(progress.projectId, now);
      const message = previous === undefined && progress.resumedPages > 0 ? `progress: resumed at page ${resumedAt(progress)}` : 'progress';
      log.info({ ...progress, jobsPerSecond: Math.round(rate(progress)) }, message);
    },
    done() {},
  };
}

/** `reporter` for the walks that have run LONG_WALK_MS or more (what `sync` shows); quicker ones never appear. */
export function longWalksOnly(reporter: ProgressReporter, afterMs = LONG_WALK_MS): ProgressReporter {
  return {
    update(progress) {
      if (progress.elapsedMs >= afterMs) reporter.update(progress);
    },
    done: () => reporter.done(),
  };
}

/** A run's progress: drawn on `block` when there is a terminal, else logged; `long`: only for walks that have run LONG_WALK_MS. */
export function progressReporter(
  when: 'always' | 'long',
  block: LiveBlock | undefined,
  projects: readonly { id: string }[],
  log: Logger,
): ProgressReporter {
  const reporter = block
    ? ttyProgress(
        block,
        projects.map((p) => p.id),
      )
    : logProgress(log);
  return when === 'long' ? longWalksOnly(reporter) : reporter;
}
