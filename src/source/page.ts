// The page envelope both API versions share: { items, next_page_token?, total_size? }.
import { z } from 'zod';
import { ApiError } from './http.ts';

export interface PageParams {
  projectId: string;
  organizationId?: string | undefined;
  pageSize: number;
  pageToken?: string | undefined;
}

export interface Page {
  /** Items as received; each is validated on its own by normalize. */
  items: unknown[];
  /** Absent, null or empty upstream = last page. */
  nextPageToken: string | undefined;
  totalSize: number | undefined;
}

const envelopeSchema = z.looseObject({
  items: z.array(z.unknown()),
  next_page_token: z.string().nullish(),
  total_size: z.number().nullish(),
});

/** A 200 whose body is not a page is treated like a garbled response: retryable. */
export function parsePage(body: unknown): Page {
  const parsed = envelopeSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || 'body';
    throw new ApiError(`HTTP 200 with a body that is not a page (${where}: ${issue?.message ?? 'invalid'})`, 'invalid-body', 200, undefined, true);
  }
  const { items, next_page_token: next, total_size: total } = parsed.data;
  return { items, nextPageToken: next ? next : undefined, totalSize: total ?? undefined };
}
