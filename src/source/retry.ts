// The retry policy for API requests, decided in one place (p-retry does the looping).
// What retries: network errors, timeouts, 408/409/429/5xx and 200s whose body is not a page
// (see ApiError.retryable). Everything else fails its project at once.
import pRetry from 'p-retry';
import { ApiError } from './http.ts';

export interface RetryPolicy {
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
  maxElapsedMs: number;
}

export interface RetryEvent {
  attempt: number;
  error: ApiError;
  waitMs: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function isRetryable(error: unknown): error is ApiError {
  return error instanceof ApiError && error.retryable;
}

/**
 * Runs `attempt` until it succeeds, fails permanently, or the budget (retries, elapsed time) is spent.
 * Backoff is exponential with jitter; a server's Retry-After is honoured (capped by maxRetryAfterMs).
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  policy: RetryPolicy,
  options: { signal?: AbortSignal | undefined; onRetry?: ((event: RetryEvent) => void) | undefined } = {},
): Promise<T> {
  return pRetry(attempt, {
    retries: policy.retries,
    factor: 2,
    minTimeout: policy.minDelayMs,
    maxTimeout: policy.maxDelayMs,
    randomize: true,
    maxRetryTime: policy.maxElapsedMs,
    signal: options.signal,
    shouldRetry: ({ error }) => isRetryable(error),
    onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
      if (!isRetryable(error) || retriesLeft <= 0) return;
      // p-retry adds its own backoff after this; a server-requested wait comes on top of it.
      const waitMs = Math.min(error.retryAfterMs ?? 0, policy.maxRetryAfterMs);
      options.onRetry?.({ attempt: attemptNumber, error, waitMs });
      if (waitMs > 0) await sleep(waitMs, options.signal);
    },
  });
}
