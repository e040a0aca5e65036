// GET /api/v2/classify — the v2 list of classify jobs (docs/api-versions.md): same envelope and
// paging as v1, page_size capped at 100 (a 422 above), and filters on status, configuration, ids and
// creation time.

import { V2_STATUSES } from './data-v2.ts';
import { detailReply } from './http.ts';
import { paginate } from './paging.ts';
import { authenticate, pageReply, QueryChecks, ReplyError, requireProject, type Route } from './routes.ts';
import { parseTimestampMs, type ServedEntry } from './store.ts';

export const V2_JOBS_PATH = '/api/v2/classify';
export const V2_DEFAULT_PAGE_SIZE = 50;
export const V2_MAX_PAGE_SIZE = 100;

export const v2ListJobs: Route = {
  method: 'GET',
  path: V2_JOBS_PATH,
  api: 'v2',
  handle(ctx) {
    const key = authenticate(ctx);

    const query = new QueryChecks(ctx.url);
    // Optional upstream; required here because our client always sends it (and it picks the data set).
    const projectId = query.required('project_id');
    const pageSize = query.integer('page_size', 1, V2_MAX_PAGE_SIZE);
    const pageToken = query.optional('page_token') || undefined;
    const status = query.oneOf('status', V2_STATUSES);
    const configurationId = query.optional('configuration_id');
    const jobIds = query.all('job_ids');
    const after = query.dateTime('created_at_on_or_after', parseTimestampMs);
    const before = query.dateTime('created_at_on_or_before', parseTimestampMs);
    query.done();

    const project = requireProject(ctx, key, projectId, 'v2');
    const ids = jobIds.length > 0 ? new Set(jobIds) : undefined;
    const where = (entry: ServedEntry): boolean => {
      const item = (typeof entry.item === 'object' && entry.item !== null ? entry.item : {}) as Record<string, unknown>;
      if (ids && (entry.id === undefined || !ids.has(entry.id))) return false;
      if (status !== undefined && item.status !== status) return false;
      if (configurationId !== undefined && item.configuration_id !== configurationId) return false;
      // A job without a (readable) created_at matches no creation-time filter.
      if (after !== undefined && (entry.createdMs === null || entry.createdMs < after)) return false;
      if (before !== undefined && (entry.createdMs === null || entry.createdMs > before)) return false;
      return true;
    };
    const filtered = ids || status || configurationId || after !== undefined || before !== undefined;
    // Tokens are bound to the filter too: a token used with other filters is refused, as upstream's would be.
    const filterKey = JSON.stringify([status, configurationId, jobIds, after, before]);
    const result = paginate(
      project.v2.served(filtered ? where : undefined),
      Math.min(pageSize ?? V2_DEFAULT_PAGE_SIZE, ctx.sim.maxPageSize),
      pageToken,
      {
        tokens: ctx.sim.tokens,
        scope: `v2:${project.id}:${filterKey}`,
        totalSize: ctx.sim.totalSize,
      },
    );
    if (!result.ok) throw new ReplyError(detailReply(400, 'Invalid page token'));
    return pageReply(ctx, project.id, result.pageIndex, result.body);
  },
};
