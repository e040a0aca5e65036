// What a database error is: its SQLSTATE, whether the data caused it, and its one-line description.
// Which errors are retried: retry.ts. https://www.postgresql.org/docs/current/errcodes-appendix.html

/**
 * Five characters with at least one digit: every SQLSTATE has one, while Node's socket error codes
 * (EPIPE, ECONNRESET) have none; 'EPIPE' must not be taken for a (non-retryable) SQLSTATE.
 */
const SQLSTATE = /^(?=.*\d)[0-9A-Z]{5}$/;

export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SQLSTATE.test(code)) return code;
  }
  return undefined;
}

/**
 * SQLSTATEs of a statement refused because of the values it carries, not the connection or the
 * server: data exceptions (class 22: a date out of range, a bad time zone offset), program limits
 * (class 54: an index entry too large) and the per-row integrity checks (NOT NULL, CHECK). Storing the
 * rows apart finds the one at fault; running the same statement again would fail the same way.
 */
const DATA_CLASSES = new Set(['22', '54']);
const DATA_SQLSTATES = new Set(['23502', '23514']);

export function isDataError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && (DATA_CLASSES.has(state.slice(0, 2)) || DATA_SQLSTATES.has(state));
}

/**
 * The driver's own words for a database error, on one line, with its SQLSTATE. Drizzle wraps driver
 * errors in "Failed query: <the statement>\nparams: <every value>", which for a page is the whole page:
 * never show that to an operator.
 */
export function describeDbError(error: unknown): string {
  let chosen: unknown = error;
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    chosen = e;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && SQLSTATE.test(code)) break;
  }
  const message =
    String((chosen as { message?: unknown })?.message ?? chosen)
      .split('\n')[0]
      ?.trim()
      .slice(0, 300) ?? '';
  const state = sqlState(error);
  return state === undefined ? message : `${message} (SQLSTATE ${state})`;
}
