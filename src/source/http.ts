// One HTTP GET against LlamaCloud: timeout, auth header, same-origin redirects only, a capped body
// read, and a typed ApiError. Headers are never logged; error texts carry the API's `detail`, never
// the request's credentials.
import { errorMessage } from '../errors.ts';

/** Statuses the official LlamaCloud clients retry (plus every 5xx). */
const RETRYABLE_STATUSES = new Set([408, 409, 429]);

export type ApiErrorKind = 'http' | 'network' | 'timeout' | 'invalid-body' | 'too-large' | 'redirect';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly kind: ApiErrorKind,
    readonly status: number | undefined,
    readonly detail: string | undefined,
    readonly retryable: boolean,
    /** Server-requested wait before the next attempt, if it sent one. */
    readonly retryAfterMs: number | undefined = undefined,
  ) {
    super(message);
  }
}

/** Is this status worth another attempt? `x-should-retry` overrides, as in the official clients. */
export function isRetryableStatus(status: number, shouldRetryHeader?: string | null): boolean {
  if (shouldRetryHeader === 'true') return true;
  if (shouldRetryHeader === 'false') return false;
  return RETRYABLE_STATUSES.has(status) || status >= 500;
}

/** `retry-after-ms` first, then `retry-after` in seconds or as an HTTP date. */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.ceil(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The API's `detail`: a string, or FastAPI validation errors flattened to "loc: msg". */
export function extractDetail(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { detail?: unknown };
    const { detail } = parsed;
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail)) {
      return detail
        .map(
          (d: { loc?: unknown[]; msg?: unknown }) =>
            `${Array.isArray(d.loc) ? d.loc.join('.') : '?'}: ${typeof d.msg === 'string' ? d.msg : JSON.stringify(d.msg ?? '')}`,
        )
        .join('; ');
    }
  } catch {
    // not JSON: an HTML error page or an empty body
  }
  const text = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 0 ? text.slice(0, 200) : undefined;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Same-origin hops followed per request: enough for a moved path, short of a loop. */
export const MAX_REDIRECTS = 5;

/** Scheme, host and port of a URL, never its credentials, path or query (they may carry secrets). */
function originOf(url: URL): string {
  return url.origin === 'null' ? url.protocol : url.origin;
}

/**
 * Where a redirect from `from` leads, when it may be followed. Only the same origin: what another
 * origin serves is not this API's data (and fetch would hand it the request minus the key), so it
 * is refused for good, not retried.
 */
export function redirectTarget(from: URL, location: string | null, status: number): URL {
  let to: URL | undefined;
  try {
    if (location !== null) to = new URL(location, from);
  } catch {
    // an unparseable Location: reported below like a missing one
  }
  if (to === undefined) {
    throw new ApiError(
      `HTTP ${status} redirect without a usable Location header: check LLAMA_CLOUD_BASE_URL`,
      'redirect',
      status,
      undefined,
      false,
    );
  }
  if (to.origin !== from.origin) {
    throw new ApiError(
      `the API redirected to another origin (${originOf(to)}): refusing to follow; check LLAMA_CLOUD_BASE_URL`,
      'redirect',
      status,
      undefined,
      false,
    );
  }
  return to;
}

/**
 * Reads at most `maxBytes` of a body; a larger one is refused without buffering it all. `inspect`
 * sees each chunk as it arrives and may refuse the body early by throwing.
 */
async function readCapped(response: Response, maxBytes: number, inspect?: (chunk: Uint8Array) => void): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge(maxBytes);
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      await response.body.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    try {
      inspect?.(chunk);
    } catch (error) {
      await response.body.cancel().catch(() => undefined);
      throw error;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(`response body larger than ${maxBytes} bytes (maxResponseBytes)`, 'too-large', 200, undefined, false);
}

export interface GetJsonOptions {
  apiKey: string;
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal | undefined;
  /** Sees the body chunk by chunk before it is parsed; throws (an ApiError) to refuse it early. */
  inspect?: ((chunk: Uint8Array) => void) | undefined;
}

/** fetch's reasons for a URL it will not send to, whatever the network does (undici's "bad port", "unknown scheme"). */
const UNSENDABLE = /^(bad port|unknown scheme|invalid url|url scheme must be)/i;

/** GET `url` and parse its JSON body; any failure is an ApiError that says whether to retry. */
export async function getJson(url: URL, options: GetJsonOptions): Promise<unknown> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let response: Response;
  let body: string;
  try {
    // fetch would follow any redirect; 'manual' hands back the 3xx so the origin can be checked.
    let at = url;
    for (let hops = 0; ; hops++) {
      response = await fetch(at, {
        headers: { authorization: `Bearer ${options.apiKey}`, accept: 'application/json' },
        redirect: 'manual',
        signal,
      });
      if (!REDIRECT_STATUSES.has(response.status)) break;
      await response.body?.cancel().catch(() => undefined);
      if (hops >= MAX_REDIRECTS) {
        throw new ApiError(
          `more than ${MAX_REDIRECTS} redirects (a redirect loop): check LLAMA_CLOUD_BASE_URL`,
          'redirect',
          response.status,
          undefined,
          false,
        );
      }
      at = redirectTarget(at, response.headers.get('location'), response.status);
    }
    body = await readCapped(response, options.maxBytes, options.inspect);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (options.signal?.aborted) throw options.signal.reason ?? error;
    if (timeout.aborted) {
      throw new ApiError(`no response within ${options.timeoutMs} ms (requestTimeoutMs)`, 'timeout', undefined, undefined, true);
    }
    const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
    const reason = cause?.code ?? cause?.message ?? errorMessage(error);
    // fetch refuses some URLs before sending anything (a blocked port, a scheme it cannot speak): no retry helps.
    const permanent = UNSENDABLE.test(reason);
    throw new ApiError(`network error reaching ${url.origin}: ${reason}`, 'network', undefined, undefined, !permanent);
  }

  if (!response.ok) {
    const detail = extractDetail(body);
    const retryable = isRetryableStatus(response.status, response.headers.get('x-should-retry'));
    const retryAfterMs = parseRetryAfter(response.headers);
    throw new ApiError(`HTTP ${response.status}${detail ? ` ${detail}` : ''}`, 'http', response.status, detail, retryable, retryAfterMs);
  }
  try {
    return JSON.parse(body) as unknown;
  } catch {
    // A 200 with a truncated or garbled body: the next attempt will most likely be whole.
    throw new ApiError(`HTTP 200 with a body that is not JSON (${body.length} bytes)`, 'invalid-body', 200, undefined, true);
  }
}
