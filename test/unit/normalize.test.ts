import { describe, expect, it } from 'vitest';
import { cleanString, normalizePage, normalizeTimestamp, normalizeV1Item, outcomeOf } from '../../src/normalize.ts';

const ctx = { projectId: 'p1', organizationId: 'org1', apiVersion: 'v1' as const };

function item(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'job-1',
    project_id: 'p1',
    user_id: 'u1',
    status: 'SUCCESS',
    rules: [
      { type: 'invoice', description: 'contains an invoice number' },
      { type: 'receipt', description: 'a till receipt' },
    ],
    created_at: '2026-01-02T03:04:05.123456Z',
    updated_at: '2026-01-02T03:05:00Z',
    effective_at: '2026-01-02T03:04:05Z',
    error_message: null,
    job_record_id: 'rec-1',
    mode: 'FAST',
    parsing_configuration: { lang: 'en', max_pages: 5, target_pages: [0, 2] },
    ...over,
  };
}

describe('normalizeV1Item', () => {
  it('maps a complete item to job, ordered rules and parsing settings', () => {
    const r = normalizeV1Item(item(), ctx);
    if (!r.ok) throw new Error(r.reject.reason);
    expect(r.value.job).toMatchObject({
      id: 'job-1',
      projectId: 'p1',
      organizationId: 'org1',
      apiVersion: 'v1',
      status: 'SUCCESS',
      outcome: 'succeeded',
      mode: 'FAST',
      userId: 'u1',
      jobRecordId: 'rec-1',
      createdAt: '2026-01-02T03:04:05.123456Z',
    });
    expect(r.value.rules.map((x) => [x.position, x.type])).toEqual([
      [0, 'invoice'],
      [1, 'receipt'],
    ]);
    expect(r.value.parsing).toEqual({ jobId: 'job-1', lang: 'en', maxPages: 5, targetPages: [0, 2], targetPagesSpec: null });
    expect(r.warnings).toEqual([]);
  });

  it('has no parsing row when the job has no parsing configuration (absent or null)', () => {
    for (const pc of [undefined, null]) {
      const r = normalizeV1Item(item({ parsing_configuration: pc }), ctx);
      expect(r.ok && r.value.parsing).toBeUndefined();
    }
  });

  it('keeps unknown status, mode and lang as received, with a warning each', () => {
    const r = normalizeV1Item(item({ status: 'ARCHIVED', mode: 'TURBO', parsing_configuration: { lang: 'xx' } }), ctx);
    if (!r.ok) throw new Error(r.reject.reason);
    expect(r.value.job.status).toBe('ARCHIVED');
    expect(r.value.job.outcome).toBe('unknown');
    expect(r.value.job.mode).toBe('TURBO');
    expect(r.warnings).toHaveLength(3);
  });

  it('keeps unknown extra fields in raw and removes NUL and lone surrogates everywhere', () => {
    const r = normalizeV1Item(item({ error_message: 'bad\u0000 byte \ud800', x_extra: { 'k\u0000': 'v\u0000' } }), ctx);
    if (!r.ok) throw new Error(r.reject.reason);
    expect(r.value.job.errorMessage).toBe('bad byte \ufffd');
    expect((r.value.job.raw as Record<string, unknown>).x_extra).toEqual({ k: 'v' });
  });

  it.each([
    ['no id', { id: undefined }, 'id'],
    ['rules not a list', { rules: 'invoice' }, 'rules'],
    ['wrong type', { status: 42 }, 'status'],
    ['unparseable timestamp', { created_at: 'yesterday' }, 'created_at'],
    ['impossible date', { created_at: '2026-02-30T00:00:00Z' }, 'created_at'],
    ['max_pages beyond integer', { parsing_configuration: { max_pages: 2 ** 40 } }, 'max_pages'],
    ['another project', { project_id: 'p2' }, 'project_id'],
  ])('rejects an item with %s, naming the field and keeping the payload', (_name, over, field) => {
    const r = normalizeV1Item(item(over), ctx);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reject.reason).toContain(field);
    expect(JSON.parse(r.reject.payload)).toMatchObject({ user_id: 'u1' });
  });

  it('rejects non-objects', () => {
    for (const bad of [null, 'job', 42, []]) expect(normalizeV1Item(bad, ctx).ok).toBe(false);
  });
});

describe('normalizeTimestamp', () => {
  it.each([
    ['2026-01-02T03:04:05Z', '2026-01-02T03:04:05Z'],
    ['2026-01-02T03:04:05', '2026-01-02T03:04:05Z'], // no zone means UTC
    ['2026-01-02 03:04:05.123456', '2026-01-02T03:04:05.123456Z'],
    ['2026-01-02T03:04:05.1234567+02:00', '2026-01-02T03:04:05.123456+02:00'], // Postgres keeps microseconds,
    ['2026-01-02T03:04:05-0530', '2026-01-02T03:04:05-05:30'],
    ['2026-01-02T03:04+01', '2026-01-02T03:04:00+01:00'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z'], // Postgres' first AD year
    ['0096-02-29T00:00:00Z', '0096-02-29T00:00:00Z'], // a leap day of year 96, not of 1996's calendar by accident
    ['9999-12-31T23:59:59-15:59', '9999-12-31T23:59:59-15:59'], // the widest offset Postgres reads
  ])('%s → %s', (input, expected) => {
    expect(normalizeTimestamp(input)).toBe(expected);
  });

  it.each(['', 'now', '2026-13-01T00:00:00Z', '2026-01-01T25:00:00Z', '1767323045', '2026-01-01'])('refuses %j', (input) => {
    expect(() => normalizeTimestamp(input)).toThrow();
  });

  it.each([
    ['0000-01-01T00:00:00Z', /^year 0000 is outside what Postgres stores/],
    ['0100-02-29T00:00:00Z', /^not a valid date/], // 100 is no leap year (Date.UTC would have read 1900, no leap year either)
    ['0004-02-30T00:00:00Z', /^not a valid date/],
    ['2026-01-01T00:00:00+16:00', /^offset \+16:00 is outside what Postgres stores \(at most ±15:59\)/],
    ['2026-01-01T00:00:00-1600', /^offset -16:00 is outside/],
    ['2026-01-01T00:00:00+99:99', /^offset \+99:99 is outside/],
    ['2026-01-01T00:00:00+05:60', /^offset \+05:60 is outside/],
  ])('refuses %j, which Postgres would refuse', (input, reason) => {
    expect(() => normalizeTimestamp(input)).toThrow(reason);
  });
});

describe('normalizePage', () => {
  it('keeps the last of two items with the same id and quarantines the bad ones', () => {
    const page = normalizePage([item({ status: 'PENDING' }), { nope: true }, item({ status: 'ERROR', error_message: 'x' })], ctx);
    expect(page.jobs).toHaveLength(1);
    expect(page.jobs[0]?.job.status).toBe('ERROR');
    expect(page.rejects).toHaveLength(1);
  });
});

it('outcomeOf maps both API versions', () => {
  expect(['SUCCESS', 'COMPLETED', 'ERROR', 'FAILED', 'PARTIAL_SUCCESS', 'CANCELLED', 'PENDING', 'RUNNING', 'X'].map(outcomeOf)).toEqual([
    'succeeded',
    'succeeded',
    'failed',
    'failed',
    'partial',
    'cancelled',
    'in_progress',
    'in_progress',
    'unknown',
  ]);
});

it('cleanString leaves ordinary text alone', () => {
  expect(cleanString("'; DROP TABLE classify_jobs; -- ✓ 🎉")).toBe("'; DROP TABLE classify_jobs; -- ✓ 🎉");
});

describe('secrets the API echoes back', () => {
  const KEY = 'llx-echoed-key-0123';
  const OTHER_KEY = 'llx-other-project-key-4567';
  const withSecrets = { ...ctx, secrets: [KEY, OTHER_KEY] };

  it('are stored as *** in every column, rule and key of raw', () => {
    const r = normalizeV1Item(
      item({
        error_message: `401 from upstream: Authorization: Bearer ${KEY}`,
        rules: [{ type: 'invoice', description: `key ${OTHER_KEY}` }],
        [`x-${KEY}`]: { nested: [`a\u0000${KEY}`] },
      }),
      withSecrets,
    );
    if (!r.ok) throw new Error(r.reject.reason);
    expect(r.value.job.errorMessage).toBe('401 from upstream: Authorization: Bearer ***');
    expect(r.value.rules[0]?.description).toBe('key ***');
    expect(r.value.job.raw).toMatchObject({ 'x-***': { nested: ['a***'] }, error_message: '401 from upstream: Authorization: Bearer ***' });
    expect(JSON.stringify(r.value)).not.toMatch(/llx-echoed|llx-other/);
  });

  it('are stored as *** in a reject: reason, id and payload', () => {
    const page = normalizePage([item({ id: `job-${KEY}`, user_id: 7, note: KEY }), item({ project_id: `other-${KEY}` })], withSecrets);
    expect(page.rejects).toHaveLength(2);
    expect(page.rejects[0]?.id).toBe('job-***');
    expect(page.rejects[1]?.reason).toBe('project_id other-*** is not the project being synced (p1)');
    expect(JSON.stringify(page.rejects)).not.toContain(KEY);
    expect(JSON.parse(page.rejects[0]?.payload ?? '{}')).toMatchObject({ note: '***', user_id: 7 });
  });

  it('leave an item without them unchanged', () => {
    expect(normalizeV1Item(item(), withSecrets)).toEqual(normalizeV1Item(item(), ctx));
  });
});
