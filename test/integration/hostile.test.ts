// Hostile and odd input: every case ends in correct storage, a quarantined reject, or a clear
// per-project error, and the project's well-formed jobs are stored exactly either way.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.ts';
import { queryRows } from '../../src/db/connect.ts';
import { startSimulator, type Simulator, type V1Job } from '../../src/simulator/index.ts';
import { getJson } from '../../src/source/http.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { expectedRaw, storedRaw, sync, testConfig, v1Item } from '../helpers/harness.ts';
import { memoryLogger, report } from '../helpers/reliability.ts';

const H = 'ee000000-0000-4000-8000-0000000000ee';
const NOW = Date.parse('2026-11-01T00:00:00Z');
const MB = 1_000_000;

/** A valid v1 item of project H; `over` replaces or (with undefined) removes fields. */
const item = (id: string, over: Record<string, unknown> = {}) => v1Item(id, H, over);

describe('hostile and odd input (real Postgres)', () => {
  const tdb = usePostgres({ shared: true });
  let sim: Simulator;
  const counted = { stored: 0, rejected: 0, projectErrors: 0 };

  afterAll(() => {
    report('hostile', {
      oddItemsStoredCorrectly: counted.stored,
      itemsQuarantined: counted.rejected,
      clearProjectErrors: counted.projectErrors,
      lost: 0,
    });
  });
  beforeEach(async () => {
    sim = await startSimulator({ apis: ['v1'], projects: [{ id: H, jobs: 25 }], now: NOW, maxPageSize: 10 });
  });
  afterEach(async () => {
    await sim?.stop();
  });

  const config = (over: Partial<Config> = {}): Config =>
    Object.freeze({ ...testConfig(sim, { api: 'v1', projects: [H], pageSize: 10 }), ...over });
  // Asks for 20 while the API serves 10 a page (maxPageSize): a hook may add items to a page
  // without making it larger than asked for, which would be an invalid page.
  const roomy = () => config({ pageSize: 20 });
  const db = () => tdb().database.db;
  const row = async (id: string) =>
    (
      await queryRows<Record<string, unknown>>(
        db(),
        sql`
    SELECT status, outcome, mode, user_id, error_message, raw,
      (extract(epoch FROM created_at) * 1000000)::bigint::text AS created_us,
      (extract(epoch FROM updated_at) * 1000000)::bigint::text AS updated_us,
      (extract(epoch FROM effective_at) * 1000000)::bigint::text AS effective_us
    FROM classify_jobs WHERE id = ${id}`,
      )
    )[0];

  it.each([
    ['a number where a string belongs', item('bad-type', { status: 42 }), /^status: /],
    ['a number as user_id', item('bad-user', { user_id: 7 }), /^user_id: /],
    ['a missing required field (user_id)', item('no-user', { user_id: undefined }), /^user_id: /],
    ['a missing required field (project_id)', item('no-project', { project_id: undefined }), /^project_id: /],
    ['rules that are an object', item('rules-object', { rules: { type: 'invoice' } }), /^rules: /],
    ['rules that are null', item('rules-null', { rules: null }), /^rules: /],
    ['a rule without a description', item('rule-half', { rules: [{ type: 'invoice' }] }), /^rules\.0\.description: /],
    ['an unparseable timestamp', item('bad-time', { created_at: 'last Tuesday' }), /^created_at: .*not an ISO 8601 timestamp/],
    ['an impossible date', item('bad-date', { updated_at: '2026-02-30T10:00:00Z' }), /^updated_at: .*not a valid date/],
    [
      'a page number that is a string',
      item('bad-pages', { parsing_configuration: { target_pages: ['1'] } }),
      /^parsing_configuration\.target_pages\.0: /,
    ],
    [
      'an item of another project',
      item('other-project', { project_id: 'ff000000-0000-4000-8000-0000000000ff' }),
      /^project_id .* is not the project being synced/,
    ],
    ['a bare number', 42, /^item: /],
    ['null', null, /^item: /],
    ['an array', [item('in-array')], /^item: /],
  ])('quarantines %s with its reason and payload, and stores the rest', async (_name, bad, reason) => {
    sim.insertRawItem(H, bad);
    const result = await sync(config(), tdb());
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', rejects: 1, inserted: 25 });
    expect(await storedRaw(db(), H)).toEqual(expectedRaw(sim, H));
    const rejects = await queryRows<{ reason: string; payload: string; project_id: string; run_id: string }>(
      db(),
      sql`SELECT reason, payload, project_id, run_id FROM sync_rejects`,
    );
    expect(rejects).toHaveLength(1);
    expect(rejects[0]?.reason).toMatch(reason);
    expect(JSON.parse(rejects[0]?.payload ?? '')).toEqual(bad);
    expect(rejects[0]).toMatchObject({ project_id: H, run_id: result.runId });
    counted.rejected += 1;
  });

  it('stores NUL-free text: U+0000 removed, lone surrogates replaced, in columns, rules, keys and raw', async () => {
    sim.insertRawItem(
      H,
      item('nul', {
        error_message: 'before\u0000after \ud800 lone \udfff end',
        rules: [{ type: 'in\u0000voice', description: 'with a NUL \u0000 and a lone \udbff surrogate' }],
        x_extra: { 'key\u0000': ['v\u0000', { deep: 'x\ud83d' }] },
      }),
    );
    expect((await sync(config(), tdb())).projects[0]).toMatchObject({ status: 'succeeded', rejects: 0, inserted: 26 });
    const r = await row('nul');
    expect(r?.error_message).toBe('beforeafter \ufffd lone \ufffd end');
    expect((r?.raw as Record<string, unknown>).x_extra).toEqual({ key: ['v', { deep: 'x\ufffd' }] });
    expect(await queryRows(db(), sql`SELECT type, description FROM classify_job_rules WHERE job_id = 'nul'`)).toEqual([
      { type: 'invoice', description: 'with a NUL  and a lone \ufffd surrogate' },
    ]);
    counted.stored += 1;
  });

  it('stores 1 MB strings and a 100 000-element target_pages whole', async () => {
    const big = 'é'.repeat(MB / 2) + 'x'.repeat(MB / 2);
    const pages = Array.from({ length: 100_000 }, (_, i) => i * 3);
    sim.insertRawItem(
      H,
      item('big', {
        error_message: big,
        rules: [{ type: 'invoice', description: big }],
        parsing_configuration: { lang: 'en', max_pages: null, target_pages: pages },
      }),
    );
    expect((await sync(config(), tdb())).projects[0]).toMatchObject({ status: 'succeeded', rejects: 0, inserted: 26 });
    const [stored] = await queryRows<{ msg: string; descr: string; pages: number[] }>(
      db(),
      sql`
      SELECT j.error_message AS msg, r.description AS descr, s.target_pages AS pages
      FROM classify_jobs j JOIN classify_job_rules r ON r.job_id = j.id JOIN classify_job_parsing_settings s ON s.job_id = j.id
      WHERE j.id = 'big'`,
    );
    expect(stored?.msg).toBe(big);
    expect(stored?.descr).toBe(big);
    expect(stored?.pages).toEqual(pages);
    expect(await storedRaw(db(), H)).toEqual(new Map([...expectedRaw(sim, H), ['big', (await row('big'))?.raw]]));
    counted.stored += 2;
  });

  it('reads timestamps with offsets, without a zone (UTC), and with microseconds as the same instants', async () => {
    sim.insertRawItem(
      H,
      item('t-offset', {
        created_at: '2026-03-04T05:06:07.123456+05:30',
        updated_at: '2026-03-04T05:06:07-0800',
        effective_at: '2026-03-04T05:06+01',
      }),
    );
    sim.insertRawItem(H, item('t-naive', { created_at: '2026-03-04T05:06:07', updated_at: '2026-03-04 05:06:07.5', effective_at: null }));
    sim.insertRawItem(
      H,
      item('t-micro', { created_at: '2026-03-04T05:06:07.000001Z', updated_at: '2026-03-04T05:06:07.1234569z', effective_at: undefined }),
    );
    expect((await sync(config(), tdb())).projects[0]).toMatchObject({ status: 'succeeded', rejects: 0, inserted: 28 });
    const us = (iso: string, micros = 0) => String(BigInt(Date.parse(iso)) * 1000n + BigInt(micros));
    expect(await row('t-offset')).toMatchObject({
      created_us: us('2026-03-03T23:36:07.123Z', 456),
      updated_us: us('2026-03-04T13:06:07Z'),
      effective_us: us('2026-03-04T04:06:00Z'),
    });
    expect(await row('t-naive')).toMatchObject({
      created_us: us('2026-03-04T05:06:07Z'),
      updated_us: us('2026-03-04T05:06:07.500Z'),
      effective_us: null,
    });
    // Postgres keeps microseconds: the 7th digit is cut, not rounded.
    expect(await row('t-micro')).toMatchObject({
      created_us: us('2026-03-04T05:06:07Z', 1),
      updated_us: us('2026-03-04T05:06:07.123Z', 456),
      effective_us: null,
    });
    // raw keeps the text as received.
    expect(((await row('t-offset'))?.raw as Record<string, unknown>).created_at).toBe('2026-03-04T05:06:07.123456+05:30');
    counted.stored += 3;
  });

  it('keeps unknown enum values as received (outcome "unknown") and extra fields in raw, warning once per value', async () => {
    const extra = { x_new_field: { nested: [1, 'two', { three: true }] }, 'a key with spaces': null };
    sim.insertRawItem(
      H,
      item('odd-enums-1', { status: 'ARCHIVED', mode: 'TURBO', parsing_configuration: { lang: 'xx-klingon' }, ...extra }),
    );
    sim.insertRawItem(H, item('odd-enums-2', { status: 'ARCHIVED', mode: 'TURBO' }));
    // A status that is also the name of an Object.prototype member is just as unknown.
    sim.insertRawItem(H, item('odd-enums-3', { status: 'constructor' }));
    const { log, lines } = memoryLogger();
    expect((await sync(config(), tdb(), { log })).projects[0]).toMatchObject({ status: 'succeeded', rejects: 0, inserted: 28 });
    expect(await row('odd-enums-1')).toMatchObject({
      status: 'ARCHIVED',
      outcome: 'unknown',
      mode: 'TURBO',
      raw: expect.objectContaining(extra) as object,
    });
    expect(await row('odd-enums-3')).toMatchObject({ status: 'constructor', outcome: 'unknown' });
    expect(await queryRows(db(), sql`SELECT lang FROM classify_job_parsing_settings WHERE job_id = 'odd-enums-1'`)).toEqual([
      { lang: 'xx-klingon' },
    ]);
    const warnings = lines()
      .filter((l) => l.msg === 'unexpected value')
      .map((l) => String(l.warning));
    expect(warnings.sort()).toEqual([
      'unknown lang "xx-klingon" (stored as received)',
      'unknown mode "TURBO" (stored as received)',
      'unknown status "ARCHIVED" (stored as received, outcome \'unknown\')',
      'unknown status "constructor" (stored as received, outcome \'unknown\')',
    ]);
    counted.stored += 3;
  });

  it('stores SQL-looking strings literally, in ids, columns, rules and keys', async () => {
    const evil = [
      `'); DROP TABLE classify_jobs; --`,
      `Robert'); DELETE FROM sync_state; --`,
      '$1',
      `\\x00 E'\\\\' ; SELECT pg_sleep(10); --`,
      '"; TRUNCATE sync_runs; --',
    ];
    sim.insertRawItem(
      H,
      item(evil[0] as string, {
        user_id: evil[1],
        error_message: evil[3],
        job_record_id: evil[2],
        status: evil[4],
        rules: evil.map((e) => ({ type: e, description: e })),
        [evil[0] as string]: evil,
      }),
    );
    expect((await sync(config(), tdb())).projects[0]).toMatchObject({ status: 'succeeded', rejects: 0, inserted: 26 });
    const r = await row(evil[0] as string);
    expect(r).toMatchObject({ user_id: evil[1], error_message: evil[3], status: evil[4] });
    expect((r?.raw as Record<string, unknown>)[evil[0] as string]).toEqual(evil);
    expect(
      (await queryRows<{ type: string }>(db(), sql`SELECT type FROM classify_job_rules WHERE job_id = ${evil[0]} ORDER BY position`)).map(
        (x) => x.type,
      ),
    ).toEqual(evil);
    expect(await storedRaw(db(), H)).toHaveProperty('size', 26);
    counted.stored += 1;
  });

  it('keeps a "__proto__" key of an extra field as data', async () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}') as Record<string, unknown>;
    sim.insertRawItem(H, item('proto', { x_meta: hostile }));
    expect((await sync(config(), tdb())).projects[0]).toMatchObject({ status: 'succeeded', rejects: 0, inserted: 26 });
    const [stored] = await queryRows<{ meta: string }>(
      db(),
      sql`SELECT (raw -> 'x_meta')::text AS meta FROM classify_jobs WHERE id = 'proto'`,
    );
    expect(JSON.parse(stored?.meta ?? 'null')).toEqual(hostile);
    expect(Object.keys(JSON.parse(stored?.meta ?? '{}') as object).sort()).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    counted.stored += 1;
  });

  it('quarantines an item nested too deep to process instead of failing its project on every sync', async () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    // Served as text: the simulator's own JSON.stringify could not write it either.
    const ok = sim.jobs(H).slice(0, 10);
    sim.setOnPage(({ pageIndex, body }) =>
      pageIndex === 0
        ? `{"items":[${ok.map((j) => JSON.stringify(j)).join(',')},{"id":"deep","x":${'['.repeat(20_000)}"bottom"${']'.repeat(20_000)}}],"next_page_token":${JSON.stringify(body.next_page_token)}}`
        : undefined,
    );
    const result = await sync(roomy(), tdb());
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', rejects: 1, inserted: 25 });
    expect(await storedRaw(db(), H)).toEqual(expectedRaw(sim, H));
    const [reject] = await queryRows<{ reason: string; payload: string }>(db(), sql`SELECT reason, payload FROM sync_rejects`);
    expect(reject?.reason).toMatch(/nested deeper than \d+ levels/);
    // The payload keeps the item down to the cut.
    expect(JSON.parse(reject?.payload ?? '{}')).toMatchObject({ id: 'deep' });
    expect(reject?.payload).toContain('(cut: nested deeper than 256 levels)');
    counted.rejected += 1;
  });

  it('retries a malformed JSON page; when it stays malformed the project fails clearly, keeps its pages, and resumes later', async () => {
    let garbled = 0;
    sim.setOnPage(({ pageIndex }) => {
      if (pageIndex !== 1) return undefined;
      garbled += 1;
      return '{"items": [{"id": "cut-off-he';
    });
    const failed = await sync(config(), tdb());
    expect(failed.projects[0]).toMatchObject({ status: 'failed', pages: 1 });
    expect(failed.projects[0]?.error).toMatch(
      /^HTTP 200 with a body that is not JSON \(\d+ bytes\): the API kept failing after retries; run again later \(the walk resumes from its saved page\)$/,
    );
    expect(garbled).toBe(7); // the first attempt and 6 retries
    expect((await storedRaw(db(), H)).size).toBe(10);
    counted.projectErrors += 1;

    // Transient garbling (and a JSON body that is not a page) is retried within the run.
    let served = 0;
    sim.setOnPage(({ pageIndex }) => {
      if (pageIndex !== 1 || served++ >= 2) return undefined;
      return served === 1 ? '<html>oops</html>' : { items: 'not a list' };
    });
    const resumed = await sync(config(), tdb());
    expect(resumed.projects[0]).toMatchObject({ status: 'succeeded', mode: 'resume', retries: 2 });
    expect(await storedRaw(db(), H)).toEqual(expectedRaw(sim, H));
  });

  it("walks past an empty page that still has a next token, and stores a page fuller than the API's usual (within page_size)", async () => {
    let held: unknown[] = [];
    sim.setOnPage(({ pageIndex, body }) => {
      if (pageIndex === 0) {
        held = body.items;
        return { ...body, items: [] };
      }
      if (pageIndex === 1) return { ...body, items: [...held, ...body.items] };
      return undefined;
    });
    const result = await sync(roomy(), tdb());
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', pages: 3, inserted: 25, deleted: 0 });
    expect(await storedRaw(db(), H)).toEqual(expectedRaw(sim, H));
    counted.stored += 1;
  });

  it('the same id twice in a page keeps the later one, and a later page wins over an earlier one', async () => {
    const [x] = sim.jobs(H) as [V1Job];
    sim.setOnPage(({ pageIndex, body }) => {
      if (pageIndex === 0)
        return { ...body, items: [...body.items, { ...x, status: 'PENDING' }, { ...x, status: 'ERROR', error_message: 'second in page' }] };
      if (pageIndex === 2) return { ...body, items: [...body.items, { ...x, status: 'CANCELLED', error_message: 'later page' }] };
      return undefined;
    });
    const first = await sync(roomy(), tdb());
    expect(first.projects[0]).toMatchObject({ status: 'succeeded', rejects: 0, inserted: 25, deleted: 0 });
    expect(await row(x.id)).toMatchObject({ status: 'CANCELLED', outcome: 'cancelled', error_message: 'later page' });
    expect(await queryRows(db(), sql`SELECT count(*)::int AS n FROM classify_jobs`)).toEqual([{ n: 25 }]);

    sim.setOnPage(undefined);
    await sync(config(), tdb());
    expect(await storedRaw(db(), H)).toEqual(expectedRaw(sim, H));
    counted.stored += 1;
  });

  it('refuses a page over maxResponseBytes at once, without retrying, with a line that says what to change', async () => {
    sim.setOnPage(({ pageIndex, body }) =>
      pageIndex === 1 ? { ...body, items: [...body.items, item('huge', { error_message: 'x'.repeat(200_000) })] } : undefined,
    );
    const before = sim.stats.requests;
    const result = await sync(config({ maxResponseBytes: 100_000 }), tdb());
    expect(result.projects[0]).toMatchObject({ status: 'failed', pages: 1, retries: 0 });
    expect(result.projects[0]?.error).toBe(
      'response body larger than 100000 bytes (maxResponseBytes): raise maxResponseBytes or lower --page-size',
    );
    expect(sim.stats.requests - before).toBe(2);
    counted.projectErrors += 1;
  });
});

describe('the response size cap', () => {
  let server: Server;
  let base: string;
  let written = 0;
  let closed: Promise<void>;

  beforeAll(async () => {
    // An endless chunked body with no Content-Length: only a reader that stops can finish.
    server = createServer((req, res) => {
      written = 0;
      closed = new Promise((resolve) => res.on('close', resolve));
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      res.write('{"items":[');
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );

  it('defaults to 64 MiB and stops reading an endless body at the cap', async () => {
    expect(loadConfig({}, {}).maxResponseBytes).toBe(64 * 1024 * 1024);
    const cap = 1024 * 1024;
    await expect(getJson(new URL(`${base}/jobs`), { apiKey: 'k', timeoutMs: 30_000, maxBytes: cap })).rejects.toMatchObject({
      kind: 'too-large',
      retryable: false,
      message: `response body larger than ${cap} bytes (maxResponseBytes)`,
    });
    await closed;
    // The server could only push what socket buffers hold beyond what was read.
    expect(written).toBeLessThan(cap + 8 * 1024 * 1024);
  });
});
