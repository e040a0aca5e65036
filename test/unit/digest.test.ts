// The content digest: the same rows always give the same 16 bytes, and anything stored that changes
// changes them (a re-sync relies on both: equal digests are not sent, nor written).
import { describe, expect, it } from 'vitest';
import { contentDigest, normalizePage, type NormalizeContext, type NormalizedJob } from '../../src/normalize.ts';
import { v1Item as harnessItem } from '../helpers/harness.ts';

const v1: NormalizeContext = { projectId: 'p1', organizationId: 'org1', apiVersion: 'v1' };
const v2: NormalizeContext = { ...v1, apiVersion: 'v2' };

const INVOICE = { type: 'invoice', description: 'an invoice with a number and a total' };
const RECEIPT = { type: 'receipt', description: 'a till receipt' };
const PARSING = { lang: 'en', max_pages: 5, target_pages: [0, 2] };
const v1Item = (over: Record<string, unknown> = {}) =>
  harnessItem('job-1', 'p1', { job_record_id: 'rec-1', rules: [INVOICE, RECEIPT], parsing_configuration: PARSING, ...over });

function v2Item(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'cls-1',
    project_id: 'p1',
    user_id: 'u1',
    status: 'COMPLETED',
    file_input: 'dfl-1',
    document_input_type: 'file_id',
    configuration: {
      rules: [{ type: 'invoice', description: 'contains an invoice number' }],
      mode: 'FAST',
      parsing_configuration: { lang: 'en', max_pages: 5, target_pages: '1,3' },
    },
    result: { type: 'invoice', confidence: 0.9, reasoning: 'has a number' },
    created_at: '2026-01-02T03:04:05Z',
    updated_at: '2026-01-02T03:05:00Z',
    ...over,
  };
}

function only(item: unknown, ctx: NormalizeContext = v1): NormalizedJob {
  const { jobs, rejects } = normalizePage([item], ctx);
  const [job] = jobs;
  if (!job) throw new Error(`not a job: ${rejects[0]?.reason}`);
  return job;
}

const hex = (item: unknown, ctx: NormalizeContext = v1) => only(item, ctx).digest.toString('hex');

describe('contentDigest', () => {
  it('is 16 bytes, and the same for the same item in every normalization', () => {
    const job = only(v1Item());
    expect(job.digest).toHaveLength(16);
    expect(hex(v1Item())).toBe(job.digest.toString('hex'));
    expect(contentDigest(job.job, job.rules, job.parsing).equals(job.digest)).toBe(true);
    // Copies of the rows, not the same objects: equal content, equal digest.
    const copy = structuredClone(job);
    expect(contentDigest(copy.job, copy.rules, copy.parsing).equals(job.digest)).toBe(true);
  });

  it('does not depend on the process: pinned values of one v1 and one v2 item', () => {
    // A different value here means every stored job is rewritten once on its next sync: on purpose only.
    const pinnedV1 = { id: 'pin-1', project_id: 'p1', user_id: 'u1', status: 'ERROR', rules: [{ type: 't', description: 'd' }] };
    expect(hex(pinnedV1)).toBe('2eede7192f2a4873d4b3cf81535cb0cb');
    expect(hex(v2Item(), v2)).toBe('51260704ec5b95d646fe5bd0f1ddc76d');
  });

  it('ignores the order of an item’s keys, at any depth (jsonb does too)', () => {
    const item = v1Item({ x_extra: { b: 1, a: [{ d: 2, c: 3 }] } });
    const reordered = Object.fromEntries(Object.entries(item).reverse());
    reordered.x_extra = { a: [{ c: 3, d: 2 }], b: 1 };
    expect(hex(reordered)).toBe(hex(item));
  });

  it('changes with anything stored: a raw-only field, a rule, the parsing settings, the status, the context', () => {
    const base = hex(v1Item());
    const variants: Record<string, string> = {
      'a field only raw keeps': hex(v1Item({ x_note: 'new' })),
      'a null field present': hex(v1Item({ x_note: null })),
      'a rule description': hex(
        v1Item({
          rules: [
            { type: 'invoice', description: 'other' },
            { type: 'receipt', description: 'a till receipt' },
          ],
        }),
      ),
      'the order of the rules': hex(
        v1Item({
          rules: [
            { type: 'receipt', description: 'a till receipt' },
            { type: 'invoice', description: 'contains an invoice number' },
          ],
        }),
      ),
      'one rule fewer': hex(v1Item({ rules: [{ type: 'invoice', description: 'contains an invoice number' }] })),
      'max pages': hex(v1Item({ parsing_configuration: { lang: 'en', max_pages: 6, target_pages: [0, 2] } })),
      'target pages': hex(v1Item({ parsing_configuration: { lang: 'en', max_pages: 5, target_pages: [0] } })),
      'no parsing settings': hex(v1Item({ parsing_configuration: null })),
      'status and outcome': hex(v1Item({ status: 'ERROR' })),
      'a timestamp': hex(v1Item({ updated_at: '2026-01-02T03:05:01Z' })),
      'the organization': hex(v1Item(), { ...v1, organizationId: 'org2' }),
      'no organization': hex(v1Item(), { ...v1, organizationId: undefined }),
    };
    for (const [what, digest] of Object.entries(variants)) expect(digest, what).not.toBe(base);
    expect(new Set(Object.values(variants)).size).toBe(Object.keys(variants).length);
  });

  it('changes with v2 fields stored outside raw’s shape: result, page spec, input', () => {
    const base = hex(v2Item(), v2);
    const variants = [
      v2Item({ result: { type: 'invoice', confidence: 0.8, reasoning: 'has a number' } }),
      v2Item({ file_input: 'dfl-2' }),
      v2Item({
        configuration: {
          rules: [{ type: 'invoice', description: 'contains an invoice number' }],
          mode: 'FAST',
          parsing_configuration: { lang: 'en', max_pages: 5, target_pages: '1-3' },
        },
      }),
    ].map((item) => hex(item, v2));
    for (const digest of variants) expect(digest).not.toBe(base);
  });
});
