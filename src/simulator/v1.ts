// GET /api/v1/classifier/jobs — the v1 list of classify jobs (seed file list-classify-jobs-v1.txt).

import { detailReply } from './http.ts';
import { paginate } from './paging.ts';
import { authenticate, pageReply, QueryChecks, ReplyError, requireProject, type Route } from './routes.ts';

export const V1_JOBS_PATH = '/api/v1/classifier/jobs';

/** Page size when the client sends none (upstream documents no default; 50 is a common FastAPI choice). */
export const V1_DEFAULT_PAGE_SIZE = 50;

export const v1ListJobs: Route = {
  method: 'GET',
  path: V1_JOBS_PATH,
  api: 'v1',
  handle(ctx) {
    const key = authenticate(ctx);

    const query = new QueryChecks(ctx.url);
    // Optional upstream; required here because our client always sends it (and it picks the data set).
    const projectId = query.required('project_id');
    const pageSize = query.integer('page_size', 1);
    // An empty token means "no token", as for an empty next_page_token.
    const pageToken = query.optional('page_token') || undefined;
    query.done();

    const project = requireProject(ctx, key, projectId, 'v1');
    // Larger pages are clamped, not refused (unlike v2, where page_size > 100 is a 422).
    const size = Math.min(pageSize ?? V1_DEFAULT_PAGE_SIZE, ctx.sim.maxPageSize);
    const result = paginate(project.v1.served(), size, pageToken, {
      tokens: ctx.sim.tokens,
      scope: `v1:${project.id}`,
      totalSize: ctx.sim.totalSize,
    });
    if (!result.ok) throw new ReplyError(detailReply(400, 'Invalid page token'));
    return pageReply(ctx, project.id, result.pageIndex, result.body);
  },
};
