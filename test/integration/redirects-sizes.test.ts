// Redirects and page sizes: an API that sends the sync elsewhere, or more than it asked for, fails
// that project with one line and stores nothing it should not; a same-origin redirect just works.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { MAX_PAGE_TOKEN_CHARS } from '../../src/source/pages.ts';
import { runCliInProcess } from '../helpers/cli-inprocess.ts';
import { postgresReachable } from '../helpers/db.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { count, expectedRaw, storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { report } from '../helpers/reliability.ts';

const H = 'ee000000-0000-4000-8000-0000000000ee';
const K = 'dd000000-0000-4000-8000-0000000000dd';
const NOW = Date.parse('2026-11-01T00:00:00Z');
const OVERSIZED_ITEMS = 100_000;

/** A valid v1 item of project H (~450 bytes, the size of the report's 45 MB page of 100 000). */
function item(id: string): Record<string, unknown> {
  return {
    id,
    project_id: H,
    user_id: 'user-1',
    status: 'SUCCESS',
    mode: 'FAST',
    rules: [{ type: 'invoice', description: 'an invoice with a number and a total' }],
    created_at: '2026-10-01T00:00:00Z',
    updated_at: '2026-10-01T00:01:00Z',
    effective_at: '2026-10-01T00:01:00Z',
    error_message: null,
    job_record_id: null,
    parsing_configuration: { lang: 'en', max_pages: 5, target_pages: [0] },
  };
}

const redirectLine = (origin: string) => `the API redirected to another origin (${origin}): refusing to follow; check LLAMA_CLOUD_BASE_URL`;
const oversizedLine =
  'HTTP 200 with more items than the 10 asked for (page_size): the API kept failing after retries; run again later (the walk resumes from its saved page)';

describe('redirects and page sizes (real Postgres)', () => {
  const tdb = usePostgres({ shared: true });
  let sim: Simulator;
  /** Another origin that serves items of project H to anyone, key or not. */
  let other: Server;
  let otherOrigin: string;
  let otherRequests = 0;
  const figures = {
    crossOriginRefused: 0,
    requestsToOtherOrigin: 0,
    itemsStoredFromOtherOrigin: 0,
    sameOriginFollowed: 0,
    oversizedAttempts: 0,
    oversizedItemsStored: 0,
  };

  beforeAll(async () => {
    if (!(await postgresReachable())) return;
    other = createServer((_req, res) => {
      otherRequests += 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ items: [item('other-origin-1'), item('other-origin-2')] }));
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    otherOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (other ? other.close(() => resolve()) : resolve()));
    report('redirects-sizes', { ...figures, requestsToOtherOrigin: otherRequests });
  });
  beforeEach(async () => {
    otherRequests = 0;
    sim = await startSimulator({
      apis: ['v1'],
      projects: [
        { id: H, jobs: 25 },
        { id: K, jobs: 15 },
      ],
      now: NOW,
    });
  });
  afterEach(async () => {
    await sim?.stop();
  });

  const config = (over: Partial<Config> = {}): Config =>
    Object.freeze({ ...testConfig(sim, { api: 'v1', projects: [H, K], pageSize: 10 }), ...over });
  const db = () => tdb().database.db;
  const storedFromElsewhere = () =>
    count(db(), sql`SELECT count(*) AS n FROM classify_jobs WHERE id LIKE 'other-origin-%' OR id LIKE 'big-%'`);
  const byId = (result: { projects: { projectId: string }[] }, id: string) => result.projects.find((p) => p.projectId === id);

  it('refuses a cross-origin redirect mid-walk at once: one line, nothing from the other origin, the other project fine, then resumes', async () => {
    sim.setOnPage(({ projectId, pageIndex }) => {
      if (projectId === H && pageIndex === 0) sim.setRedirect({ status: 302, to: `${otherOrigin}/elsewhere` }, H);
      return undefined;
    });
    const result = await sync(config(), tdb());
    expect(result.status).toBe('partial');
    expect(byId(result, H)).toMatchObject({ status: 'failed', pages: 1, retries: 0, error: redirectLine(otherOrigin) });
    expect(byId(result, K)).toMatchObject({ status: 'succeeded', inserted: 15 });
    expect(await storedRaw(db(), K)).toEqual(expectedRaw(sim, K));
    expect((await storedRaw(db(), H)).size).toBe(10);
    expect(sim.stats.byStatus['302']).toBe(1);
    expect(otherRequests).toBe(0);
    figures.itemsStoredFromOtherOrigin += await storedFromElsewhere();
    expect(figures.itemsStoredFromOtherOrigin).toBe(0);
    figures.crossOriginRefused += 1;

    sim.setOnPage(undefined);
    sim.setRedirect(undefined, H);
    const resumed = await sync(config({ projects: config().projects.filter((p) => p.id === H) }), tdb());
    expect(resumed.projects[0]).toMatchObject({ status: 'succeeded', mode: 'resume' });
    expect(await storedRaw(db(), H)).toEqual(expectedRaw(sim, H));
  });

  it.each([301, 307, 308] as const)(
    'sync exits 2 on a cross-origin %i from the first request (version probe included), with one line on stderr',
    async (status) => {
      sim.setRedirect({ status, to: otherOrigin }, H);
      const r = await runCliInProcess(['sync', '--project', H, '--project', K, '--page-size', '10'], {
        LLAMA_CLOUD_API_KEY: sim.apiKey,
        LLAMA_CLOUD_BASE_URL: sim.url,
        DATABASE_URL: tdb().url,
      });
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n').filter((l) => l.includes('failed'))).toEqual([
        `classify-sync: project ${H} failed: ${redirectLine(otherOrigin)}`,
      ]);
      expect(sim.stats.byStatus[String(status)]).toBe(1);
      expect(otherRequests).toBe(0);
      expect(await count(db(), sql`SELECT count(*) AS n FROM classify_jobs WHERE project_id = ${H}`)).toBe(0);
      expect(await storedRaw(db(), K)).toEqual(expectedRaw(sim, K));
      figures.crossOriginRefused += 1;
    },
  );

  it('follows a same-origin redirect on every request and syncs normally', async () => {
    sim.setRedirect({ status: 307 });
    const result = await sync(config(), tdb());
    expect(result.status).toBe('succeeded');
    for (const id of [H, K]) expect(await storedRaw(db(), id)).toEqual(expectedRaw(sim, id));
    // 3 pages of H and 2 of K, each asked for once at the old path.
    expect(sim.stats.byStatus['307']).toBe(5);
    expect(sim.stats.pages).toBe(5);
    figures.sameOriginFollowed += sim.stats.byStatus['307'] ?? 0;
  });

  it('retries a page with far more items than page_size, then fails the project with one line, storing none of them; converges once the API heals', async () => {
    let next: string | null | undefined;
    let big = '';
    let served = 0;
    sim.setOnPage(({ projectId, pageIndex, body }) => {
      if (projectId !== H || pageIndex !== 1) return undefined;
      // 100 000 items (~45 MB), built once: the API ignoring page_size on a large project.
      next = body.next_page_token;
      big ||= JSON.stringify({
        items: Array.from({ length: OVERSIZED_ITEMS }, (_, i) => item(`big-${i}`)),
        next_page_token: next,
      });
      served += 1;
      return big;
    });
    const failed = await sync(config(), tdb());
    expect(byId(failed, H)).toMatchObject({ status: 'failed', pages: 1, retries: 6, error: oversizedLine });
    expect(byId(failed, K)).toMatchObject({ status: 'succeeded', inserted: 15 });
    expect(served).toBe(7); // the first attempt and 6 retries
    expect(Buffer.byteLength(big)).toBeGreaterThan(40_000_000);
    expect((await storedRaw(db(), H)).size).toBe(10);
    figures.oversizedItemsStored += await storedFromElsewhere();
    expect(figures.oversizedItemsStored).toBe(0);
    figures.oversizedAttempts += served;

    // A glitch that heals within the retries: one page slightly over, with a key only a full parse
    // reads as "items", then the oversized page, then the real one.
    served = 0;
    sim.setOnPage(({ projectId, pageIndex, body }) => {
      if (projectId !== H || pageIndex !== 1) return undefined;
      served += 1;
      if (served === 1)
        return `{"it\\u0065ms":${JSON.stringify([...body.items, item('big-extra')])},"next_page_token":${JSON.stringify(body.next_page_token)}}`;
      return served === 2 ? big : undefined;
    });
    const healed = await sync(config(), tdb());
    expect(byId(healed, H)).toMatchObject({ status: 'succeeded', mode: 'resume', retries: 2 });
    expect(await storedRaw(db(), H)).toEqual(expectedRaw(sim, H));
    expect(await storedFromElsewhere()).toBe(0);
    figures.oversizedAttempts += 2;
  });

  it('fails a walk whose API hands out a page token over the length cap, without storing that page', async () => {
    sim.setOnPage(({ projectId, pageIndex, body }) =>
      projectId === H && pageIndex === 1 ? { ...body, next_page_token: 'x'.repeat(MAX_PAGE_TOKEN_CHARS + 1) } : undefined,
    );
    const result = await sync(config(), tdb());
    expect(byId(result, H)).toMatchObject({
      status: 'failed',
      pages: 1,
      retries: 0,
      error: `the API returned a page token of ${MAX_PAGE_TOKEN_CHARS + 1} characters (more than ${MAX_PAGE_TOKEN_CHARS}); the next sync starts the walk over`,
    });
    expect((await storedRaw(db(), H)).size).toBe(10);
    expect(byId(result, K)).toMatchObject({ status: 'succeeded' });
  });
});
