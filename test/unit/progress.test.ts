// Backfill's (and a long sync's) progress on a terminal: a block of lines below the logs, which are
// written above it and never overwritten; off a terminal, progress log lines.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatProgress, logProgress, longWalksOnly, progressTerminal, ttyProgress } from '../../src/commands/progress.ts';
import { createLogger } from '../../src/log.ts';
import type { Progress } from '../../src/sync/project.ts';
import { screen } from '../helpers/screen.ts';

/** A terminal stream: says it is a TTY, keeps every byte written to it. */
function fakeTty(columns = 100) {
  const stream = {
    isTTY: true as const,
    columns,
    bytes: '',
    write(text: string) {
      stream.bytes += text;
      return true;
    },
  };
  return stream;
}

function pipe() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

const progress = (projectId: string, pages: number, extra: Partial<Progress> = {}): Progress => ({
  projectId,
  pages,
  resumedPages: 0,
  jobs: pages * 10,
  jobsThisRun: pages * 10,
  totalSize: 200,
  elapsedMs: pages * 100,
  ...extra,
});

describe('progress on the terminal the logs use', () => {
  it('every log line survives intact above the block, whose last figures stay at the bottom', () => {
    const stdout = fakeTty(100);
    const stderr = fakeTty(100);
    const terminal = progressTerminal({ stdout, stderr });
    expect(terminal?.logs).toBe(terminal?.block);
    const log = createLogger({ format: 'auto', destination: terminal?.logs });
    let now = 0;
    const reporter = ttyProgress(terminal!.block, ['p1', 'p2'], () => now);
    const written: string[] = [];
    const logLine = (projectId: string, page: number) => {
      const message = `page ${page} stored`;
      log.child({ projectId }).info({ page }, message);
      written.push(message);
    };
    log.info('run started');
    written.push('run started');
    for (let page = 1; page <= 6; page++) {
      for (const id of ['p1', 'p2']) {
        logLine(id, page);
        now += 150;
        reporter.update(progress(id, page));
      }
    }
    log.warn({ projectId: 'p2', status: 429 }, 'request failed, retrying');
    written.push('request failed, retrying');
    reporter.done();

    expect(stderr.bytes).toBe('');
    const rows = screen(stdout.bytes, 100);
    // Each log line once, in order, whole; then the block with each project's last figures.
    const logRows = rows.slice(0, -2);
    expect(logRows).toHaveLength(written.length);
    for (const [i, message] of written.entries()) expect(logRows[i]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d (INFO|WARN) .*${message}`));
    expect(logRows[1]).toMatch(/^\d\d:\d\d:\d\d INFO {2}\[p1\] page 1 stored {2}page=1$/);
    expect(rows.slice(-2)).toEqual([formatProgress(progress('p1', 6)), formatProgress(progress('p2', 6))]);
    expect(rows.at(-1)).toBe('p2  pages 6  jobs 60 of ~200  100 jobs/s');
  });

  it('lines written after done() go below the final block', () => {
    const stdout = fakeTty();
    const terminal = progressTerminal({ stdout, stderr: fakeTty() });
    const reporter = ttyProgress(terminal!.block, ['p1'], () => 0);
    reporter.update(progress('p1', 3));
    reporter.done();
    terminal!.block.write('after\n');
    expect(screen(stdout.bytes, 100)).toEqual([formatProgress(progress('p1', 3)), 'after']);
  });

  it('a block line wider than the terminal is cut, so that redrawing never eats a log line', () => {
    const stdout = fakeTty(40);
    const terminal = progressTerminal({ stdout, stderr: fakeTty(40) });
    let now = 0;
    const reporter = ttyProgress(terminal!.block, ['a-project-id-that-is-rather-long'], () => (now += 200));
    for (let page = 1; page <= 3; page++) {
      terminal!.block.write(`log ${page}\n`);
      reporter.update(progress('a-project-id-that-is-rather-long', page));
    }
    reporter.done();
    const rows = screen(stdout.bytes, 40);
    expect(rows.slice(0, 3)).toEqual(['log 1', 'log 2', 'log 3']);
    expect(rows).toHaveLength(4);
    expect([...(rows[3] ?? '')].length).toBe(39);
    expect(rows[3]).toMatch(/^a-project-id-that-is-rather-long {2}page…$/);
  });

  it('logs go to their own stream when only stderr is a terminal: progress is drawn there alone', () => {
    const stderr = fakeTty();
    const out = pipe();
    const terminal = progressTerminal({ stdout: out.stream, stderr });
    expect(terminal?.logs).toBeUndefined();
    expect(terminal?.block.stream).toBe(stderr);
    expect(progressTerminal({ stdout: out.stream, stderr: pipe().stream })).toBeUndefined();
  });
});

describe('what the progress says', () => {
  it('a resumed walk counts the pages stored before, its jobs as an estimate, and says where it resumed', () => {
    const resumed = progress('p1', 107, { resumedPages: 100, jobs: 1070, jobsThisRun: 70, elapsedMs: 1000 });
    expect(formatProgress(resumed)).toBe('p1  pages 107 (resumed at page 101)  jobs ~1070 of ~200  70 jobs/s');
  });

  it('off a terminal: a log line now and then; a resumed walk says "resumed at page N" once', () => {
    const out = pipe();
    const log = createLogger({ destination: out.stream });
    let now = 0;
    const reporter = logProgress(log, 5000, () => now);
    for (let page = 101; page <= 120; page++) {
      now += 1000;
      reporter.update(progress('p1', page, { resumedPages: 100 }));
    }
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; pages: number; resumedPages: number });
    expect(lines.map((l) => [l.msg, l.pages])).toEqual([
      ['progress: resumed at page 101', 101],
      ['progress', 106],
      ['progress', 111],
      ['progress', 116],
    ]);
  });

  it('sync: only a walk that has run 5 s shows up', () => {
    const stdout = fakeTty();
    const terminal = progressTerminal({ stdout, stderr: fakeTty() });
    const reporter = longWalksOnly(ttyProgress(terminal!.block, ['quick', 'long'], () => 0));
    reporter.update(progress('quick', 2, { elapsedMs: 800 }));
    reporter.update(progress('long', 2, { elapsedMs: 900 }));
    expect(stdout.bytes).toBe('');
    reporter.update(progress('long', 40, { elapsedMs: 5200 }));
    reporter.done();
    expect(screen(stdout.bytes, 100)).toEqual([formatProgress(progress('long', 40, { elapsedMs: 5200 }))]);
  });
});
