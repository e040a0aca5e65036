// v2: GET /api/v2/classify (the current API; see docs/api-versions.md). Request parameters only:
// items are validated one by one in normalize.ts, so one bad item never costs its page.
import { z } from 'zod';
import { MAX_PAGE_SIZE } from '../config.ts';
import type { PageParams } from './page.ts';

export const V2_PATH = '/api/v2/classify';

/** The list filters a walk may use (v2 only: v1 cannot filter). */
export const listFilterSchema = z.strictObject({
  /** `created_at_on_or_after` (inclusive), an ISO 8601 date-time. */
  createdAtOnOrAfter: z.iso.datetime({ offset: true }).optional(),
  /** `created_at_on_or_before` (inclusive), an ISO 8601 date-time. */
  createdAtOnOrBefore: z.iso.datetime({ offset: true }).optional(),
  /** `job_ids`, sent as a repeated key (`job_ids=a&job_ids=b`). */
  jobIds: z.array(z.string().min(1)).min(1).optional(),
});
export type ListFilter = z.infer<typeof listFilterSchema>;

export function v2PageUrl(baseUrl: string, params: PageParams, filter: ListFilter = {}): URL {
  const url = new URL(V2_PATH, `${baseUrl}/`);
  url.searchParams.set('project_id', params.projectId);
  if (params.organizationId) url.searchParams.set('organization_id', params.organizationId);
  url.searchParams.set('page_size', String(Math.min(params.pageSize, MAX_PAGE_SIZE)));
  if (params.pageToken) url.searchParams.set('page_token', params.pageToken);
  if (filter.createdAtOnOrAfter) url.searchParams.set('created_at_on_or_after', filter.createdAtOnOrAfter);
  if (filter.createdAtOnOrBefore) url.searchParams.set('created_at_on_or_before', filter.createdAtOnOrBefore);
  for (const id of filter.jobIds ?? []) url.searchParams.append('job_ids', id);
  return url;
}

/**
 * Job ids per request when jobs are asked for by id: 50 uuids make a ~2.5 KB URL. Ids are also
 * counted by their encoded length, so that a batch of odd, long ids (a reject's id may be up to
 * 1 024 bytes) still fits the 8 KB request line common to proxies and servers.
 */
const ID_BATCH_MAX_IDS = 50;
const ID_BATCH_MAX_CHARS = 6_000;

/** `ids` in request-sized batches, in order. */
export function jobIdBatches(ids: readonly string[]): string[][] {
  const batches: string[][] = [];
  let batch: string[] = [];
  let chars = 0;
  for (const id of ids) {
    const length = encodeURIComponent(id).length + '&job_ids='.length;
    if (batch.length > 0 && (batch.length >= ID_BATCH_MAX_IDS || chars + length > ID_BATCH_MAX_CHARS)) {
      batches.push(batch);
      batch = [];
      chars = 0;
    }
    batch.push(id);
    chars += length;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
