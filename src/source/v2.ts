// v2: GET /api/v2/classify (the current API; see /work/shared/API-NOTES.md). Request parameters only:
// items are validated one by one in normalize.ts, so one bad item never costs its page.
import { z } from 'zod';
import type { PageParams } from './page.ts';

export const V2_PATH = '/api/v2/classify';
/** v2 answers 422 to a page_size above 100. */
export const V2_MAX_PAGE_SIZE = 100;

/** The list filters a walk may use (v2 only: v1 cannot filter). */
export const listFilterSchema = z.strictObject({
  /** `created_at_on_or_after` (inclusive), an ISO 8601 date-time. */
  createdAtOnOrAfter: z.iso.datetime({ offset: true }).optional(),
  /** `job_ids`, sent as a repeated key (`job_ids=a&job_ids=b`). */
  jobIds: z.array(z.string().min(1)).min(1).optional(),
});
export type ListFilter = z.infer<typeof listFilterSchema>;

export function v2PageUrl(baseUrl: string, params: PageParams, filter: ListFilter = {}): URL {
  const url = new URL(V2_PATH, `${baseUrl}/`);
  url.searchParams.set('project_id', params.projectId);
  if (params.organizationId) url.searchParams.set('organization_id', params.organizationId);
  url.searchParams.set('page_size', String(Math.min(params.pageSize, V2_MAX_PAGE_SIZE)));
  if (params.pageToken) url.searchParams.set('page_token', params.pageToken);
  if (filter.createdAtOnOrAfter) url.searchParams.set('created_at_on_or_after', filter.createdAtOnOrAfter);
  for (const id of filter.jobIds ?? []) url.searchParams.append('job_ids', id);
  return url;
}
