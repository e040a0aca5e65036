// Which database errors are worth running a statement or transaction again, decided once by SQLSTATE,
// and the one wrapper that does it (graphile-worker's withRetries has the same shape). Each unit it
// runs is atomic (one statement, or one transaction), so running it again after a failure is safe.
// https://www.postgresql.org/docs/current/errcodes-appendix.html
import pRetry from 'p-retry';
import type { Db } from './connect.ts';
import { sqlState } from './errors.ts';

const RETRYABLE_SQLSTATES: Readonly<Record<string, string>> = {
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '55P03': 'lock_not_available',
  '57P01': 'admin_shutdown', // also what pg_terminate_backend sends
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '53300': 'too_many_connections',
  '08000': 'connection_exception',
  '08001': 'sqlclient_unable_to_establish_sqlconnection',
  '08003': 'connection_does_not_exist',
  '08006': 'connection_failure',
};

/** Errors of the connection itself (node-postgres reports these without a SQLSTATE). */
const CONNECTION_MESSAGES = [/Connection terminated/i, /ECONNRESET/, /ECONNREFUSED/, /EPIPE/, /Client has encountered a connection error/i];

export function isRetryableDbError(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== undefined) return state in RETRYABLE_SQLSTATES;
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && CONNECTION_MESSAGES.some((re) => re.test(message))) return true;
  }
  return false;
}

/** How many times a unit is tried when the database drops the connection or deadlocks it. */
export const DB_ATTEMPTS = 5;

export interface DbRetryOptions {
  /** Told about each failed attempt that will be tried again. */
  onRetry?: ((event: { attempt: number; error: unknown }) => void) | undefined;
}

/** Runs `fn` again (with jittered backoff, up to DB_ATTEMPTS in all) while it fails with a retryable error. */
export function withDbRetries<T>(fn: () => Promise<T>, options: DbRetryOptions = {}): Promise<T> {
  return pRetry(fn, {
    retries: DB_ATTEMPTS - 1,
    minTimeout: 200,
    randomize: true,
    shouldRetry: ({ error }) => isRetryableDbError(error),
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0 && isRetryableDbError(error)) options.onRetry?.({ attempt: attemptNumber, error });
    },
  });
}

type Tail<T extends readonly unknown[]> = T extends readonly [unknown, ...infer Rest] ? Rest : never;

/** Functions of a database handle first, then their own arguments (the SQL modules' shape). */
type DbFunctions = Record<string, (db: Db, ...args: never[]) => Promise<unknown>>;

export type Retrying<F extends DbFunctions> = { readonly [K in keyof F]: (...args: Tail<Parameters<F[K]>>) => ReturnType<F[K]> };

/**
 * `fns` bound to `db`, each call retried by withDbRetries: the retries live in the handle, so call
 * sites stay plain (`await store.finishRun(runId, status)`).
 */
export function retrying<F extends DbFunctions>(db: Db, fns: F): Retrying<F> {
  const bound: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(fns)) bound[name] = (...args) => withDbRetries(() => fn(db, ...args));
  return bound as unknown as Retrying<F>;
}
