// v1: GET /api/v1/classifier/jobs (the original spec; see shared seed). Request parameters only:
// items are validated one by one in normalize.ts, so one bad item never costs its page.
import type { PageParams } from './page.ts';

export const V1_PATH = '/api/v1/classifier/jobs';

export function v1PageUrl(baseUrl: string, params: PageParams): URL {
  const url = new URL(V1_PATH, `${baseUrl}/`);
  url.searchParams.set('project_id', params.projectId);
  if (params.organizationId) url.searchParams.set('organization_id', params.organizationId);
  url.searchParams.set('page_size', String(params.pageSize));
  if (params.pageToken) url.searchParams.set('page_token', params.pageToken);
  return url;
}
