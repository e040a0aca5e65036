import { describe, expect, it } from 'vitest';
import { normalizePage, normalizeV2Item, type NormalizeContext } from '../../src/normalize.ts';

const P = 'proj-1';
const ctx: NormalizeContext = { projectId: P, organizationId: 'org-1', apiVersion: 'v2' };

function item(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'cls_01HZX8', // v2 ids need not be uuids
    project_id: P,
    user_id: 'user-1',
    status: 'COMPLETED',
    document_input_type: 'file_id',
    file_input: 'file-123',
    configuration: {
      rules: [
        { type: 'invoice', description: 'contains invoice number and total' },
        { type: 'receipt', description: 'a point-of-sale receipt' },
      ],
      mode: 'FAST',
      parsing_configuration: { lang: 'de', max_pages: 10, target_pages: '1,3,5-7' },
    },
    result: { type: 'invoice', confidence: 0.92, reasoning: 'Has an invoice number.' },
    error_message: null,
    configuration_id: 'cfg-1',
    transaction_id: 'txn_1',
    parse_job_id: null,
    created_at: '2026-03-01T10:00:00Z',
    updated_at: '2026-03-01T10:00:05.123456Z',
    ...overrides,
  };
}

describe('normalizeV2Item', () => {
  it('maps a v2 item onto the job, rules and parsing settings rows', () => {
    const result = normalizeV2Item(item(), ctx);
    if (!result.ok) throw new Error(result.reject.reason);
    expect(result.warnings).toEqual([]);
    expect(result.value.job).toMatchObject({
      id: 'cls_01HZX8',
      projectId: P,
      organizationId: 'org-1',
      apiVersion: 'v2',
      status: 'COMPLETED',
      outcome: 'succeeded',
      mode: 'FAST',
      userId: 'user-1',
      errorMessage: null,
      jobRecordId: null,
      effectiveAt: null,
      createdAt: '2026-03-01T10:00:00Z',
      updatedAt: '2026-03-01T10:00:05.123456Z',
      fileInput: 'file-123',
      documentInputType: 'file_id',
      configurationId: 'cfg-1',
      parseJobId: null,
      transactionId: 'txn_1',
      resultType: 'invoice',
      resultConfidence: 0.92,
      resultReasoning: 'Has an invoice number.',
    });
    expect(result.value.rules).toEqual([
      { jobId: 'cls_01HZX8', position: 0, type: 'invoice', description: 'contains invoice number and total' },
      { jobId: 'cls_01HZX8', position: 1, type: 'receipt', description: 'a point-of-sale receipt' },
    ]);
    expect(result.value.parsing).toEqual({
      jobId: 'cls_01HZX8',
      lang: 'de',
      maxPages: 10,
      targetPages: [0, 2, 4, 5, 6],
      targetPagesSpec: '1,3,5-7',
    });
  });

  it.each([
    ['COMPLETED', 'succeeded'],
    ['FAILED', 'failed'],
    ['CANCELLED', 'cancelled'],
    ['PENDING', 'in_progress'],
    ['RUNNING', 'in_progress'],
  ])('gives status %s the outcome %s', (status, outcome) => {
    const result = normalizeV2Item(item({ status, result: null }), ctx);
    expect(result.ok && result.value.job.outcome).toBe(outcome);
  });

  it('stores an unknown status as received, with outcome unknown and a warning', () => {
    const result = normalizeV2Item(item({ status: 'QUEUED' }), ctx);
    if (!result.ok) throw new Error(result.reject.reason);
    expect(result.value.job).toMatchObject({ status: 'QUEUED', outcome: 'unknown' });
    expect(result.warnings).toEqual([expect.stringContaining('unknown status "QUEUED"')]);
  });

  it('rejects a malformed or absurd page spec instead of failing the page', () => {
    for (const spec of ['0', '3-1', '1,,2', 'all', '1-999999999']) {
      const result = normalizeV2Item(item({ configuration: { rules: [], parsing_configuration: { target_pages: spec } } }), ctx);
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.reject.reason).toMatch(/^configuration\.parsing_configuration\.target_pages: page spec/);
      expect(result.reject.id).toBe('cls_01HZX8');
      expect(JSON.parse(result.reject.payload)).toMatchObject({ configuration: { parsing_configuration: { target_pages: spec } } });
    }
  });

  it('keeps a blank or null spec without target pages', () => {
    for (const spec of ['', null]) {
      const result = normalizeV2Item(
        item({ configuration: { rules: [], parsing_configuration: { lang: 'en', target_pages: spec } } }),
        ctx,
      );
      if (!result.ok) throw new Error(result.reject.reason);
      expect(result.value.parsing).toMatchObject({ targetPages: null, targetPagesSpec: spec });
    }
    const none = normalizeV2Item(item({ configuration: { rules: [], parsing_configuration: null } }), ctx);
    expect(none.ok && none.value.parsing).toBeUndefined();
  });

  it('rejects items missing what v2 requires, or of another project', () => {
    const { configuration: _c, ...noConfiguration } = item();
    const { file_input: _f, ...noInput } = item();
    expect(normalizeV2Item(noConfiguration, ctx)).toMatchObject({
      ok: false,
      reject: { reason: expect.stringContaining('configuration') as string },
    });
    expect(normalizeV2Item(noInput, ctx)).toMatchObject({ ok: false, reject: { reason: expect.stringContaining('file_input') as string } });
    expect(normalizeV2Item(item({ project_id: 'other' }), ctx)).toMatchObject({
      ok: false,
      reject: { reason: expect.stringContaining('not the project') as string },
    });
  });

  it('warns about, but keeps, values outside what the API documents', () => {
    const result = normalizeV2Item(
      item({
        document_input_type: 's3_uri',
        result: { type: null, confidence: 1.5, reasoning: '' },
        configuration: { rules: [], mode: 'SLOW', parsing_configuration: { lang: 'ch_sim' } },
      }),
      ctx,
    );
    if (!result.ok) throw new Error(result.reject.reason);
    expect(result.value.job).toMatchObject({ documentInputType: 's3_uri', resultConfidence: 1.5, resultType: null, mode: 'SLOW' });
    expect(result.warnings).toHaveLength(4);
  });
});

describe('normalizePage', () => {
  it("reads items with the walked version's schema", () => {
    const v2 = normalizePage([item()], ctx);
    expect(v2.jobs.map((j) => j.job.id)).toEqual(['cls_01HZX8']);
    // The same item read as v1 lacks v1's top-level rules: a reject, not a v2 job.
    const asV1 = normalizePage([item()], { ...ctx, apiVersion: 'v1' });
    expect(asV1.jobs).toEqual([]);
    expect(asV1.rejects[0]?.reason).toMatch(/^rules/);
  });
});

describe('secrets the API echoes back (v2)', () => {
  it('are stored as *** in the columns, result and raw', () => {
    const KEY = 'llx-echoed-key-v2-89';
    const r = normalizeV2Item(
      item({
        status: 'FAILED',
        error_message: `upstream refused key ${KEY}`,
        result: { type: 'invoice', confidence: 0.5, reasoning: `saw ${KEY}` },
      }),
      { ...ctx, secrets: [KEY] },
    );
    if (!r.ok) throw new Error(r.reject.reason);
    expect(r.value.job.errorMessage).toBe('upstream refused key ***');
    expect(r.value.job.resultReasoning).toBe('saw ***');
    expect(JSON.stringify(r.value)).not.toContain(KEY);
  });
});
