// A resumed walk's progress counts the pages earlier runs stored: what backfill and a long sync show.
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import type { Progress } from '../../src/sync/project.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { sync, testConfig } from '../helpers/harness.ts';

const P = 'ab000000-0000-4000-8000-0000000000ab';
const NOW = Date.parse('2026-11-01T00:00:00Z');

describe('progress of a resumed walk (real Postgres)', () => {
  const tdb = usePostgres();
  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.stop();
    sim = undefined;
  });

  /** Stops the walk after `pages` pages, resumes it and returns the resumed run's progress. */
  async function resumedProgress(config: ReturnType<typeof testConfig>, pages: number, slices = 1): Promise<Progress[]> {
    const controller = new AbortController();
    const first = await sync(config, tdb(), {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.pages >= pages) controller.abort();
      },
    });
    expect(first.projects[0]?.status).toBe('cancelled');
    const seen: Progress[] = [];
    const second = await sync(config, tdb(), { onProgress: (p) => seen.push(p) });
    expect(second.projects[0]).toMatchObject({ status: 'succeeded', mode: 'resume', slices });
    return seen;
  }

  it('one cursor chain: pages go on from the stored ones, jobs count them too, up to the whole walk', async () => {
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: P, jobs: 230 }], now: NOW });
    const seen = await resumedProgress(testConfig(sim, { projects: [P], pageSize: 10 }), 7);
    expect(seen[0]).toMatchObject({ pages: 8, resumedPages: 7, jobs: 80, jobsThisRun: 10, totalSize: 230 });
    expect(seen.at(-1)).toMatchObject({ pages: 23, resumedPages: 7, jobs: 230, jobsThisRun: 160 });
  });

  it('a sliced walk: the pages all its slices stored before', async () => {
    sim = await startSimulator({ apis: ['v2'], projects: [{ id: P, jobs: 400 }], now: NOW });
    const config = testConfig(sim, { projects: [P], pageSize: 10, slices: 4 });
    const seen = await resumedProgress(config, 9, 4);
    const before = seen[0]?.resumedPages ?? 0;
    expect(before).toBeGreaterThanOrEqual(9);
    expect(seen[0]?.pages).toBe(before + 1);
    expect(seen.at(-1)?.jobs).toBe(before * 10 + (seen.at(-1)?.jobsThisRun ?? 0));
    expect(seen.at(-1)?.pages).toBeGreaterThanOrEqual(40);
  });
});
