// Replies in FastAPI's shapes: `{"detail": "..."}` for errors, a list of issues for 422 validation errors.

/** A fully rendered HTTP response; routes return these and the server writes them. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** True for a served list page (counted in stats.pages). */
  page?: boolean;
}

/** One entry of a FastAPI 422 body (pydantic v2 error shape). */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
  input?: unknown;
  ctx?: Record<string, unknown>;
}

const JSON_TYPE = 'application/json';

export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return rawReply(status, JSON.stringify(value), JSON_TYPE, headers);
}

export function rawReply(status: number, body: string, contentType: string, headers: Record<string, string> = {}): Reply {
  return { status, headers: body === '' ? { ...headers } : { 'content-type': contentType, ...headers }, body };
}

export function detailReply(status: number, detail: string, headers: Record<string, string> = {}): Reply {
  return jsonReply(status, { detail }, headers);
}

export function validationReply(issues: ValidationIssue[]): Reply {
  return jsonReply(422, { detail: issues });
}
