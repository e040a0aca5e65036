// Request-rate limit per API key: a token bucket in front of the app, like an API gateway's.

import { performance } from 'node:perf_hooks';
import { detailReply, type Reply } from './http.ts';

/** Float slack so a bucket refilled for exactly the advertised Retry-After counts as holding a token. */
const EPSILON = 1e-9;

interface Bucket {
  tokens: number;
  /** performance.now() of the last refill. */
  at: number;
}

/** The outcome of one request against its key's bucket. */
export type RateDecision = { ok: true } | { ok: false; nextTokenAt: number };

/**
 * One bucket per key: refills `rate` tokens a second up to max(1, rate) (one second of burst); a
 * request takes one token or is refused. Refused requests take nothing.
 */
export class RateLimiter {
  readonly rate: number;
  readonly capacity: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #clock: () => number;

  constructor(rate: number, clock: () => number = () => performance.now()) {
    assertRateLimit(rate);
    this.rate = rate;
    this.capacity = Math.max(1, rate);
    this.#clock = clock;
  }

  now(): number {
    return this.#clock();
  }

  take(key: string): RateDecision {
    const now = this.#clock();
    const bucket = this.#buckets.get(key) ?? { tokens: this.capacity, at: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) * this.rate) / 1000);
    bucket.at = now;
    this.#buckets.set(key, bucket);
    if (bucket.tokens + EPSILON >= 1) {
      bucket.tokens = Math.max(0, bucket.tokens - 1);
      return { ok: true };
    }
    return { ok: false, nextTokenAt: now + ((1 - bucket.tokens) * 1000) / this.rate };
  }
}

/**
 * The 429 of a refused request: `Retry-After` in seconds until the next token, rounded up to the
 * millisecond and written with three decimals (e.g. "0.250"), a form src/source/http.ts's
 * parseRetryAfter reads (digits, optionally a dot and digits); never below 0.001.
 */
export function rateLimitReply(nextTokenAt: number, now: number): Reply {
  const ms = Math.max(1, Math.ceil(nextTokenAt - now));
  return detailReply(429, 'Rate limit exceeded', { 'retry-after': (ms / 1000).toFixed(3) });
}

export function assertRateLimit(rate: number): void {
  if (!(Number.isFinite(rate) && rate > 0)) throw new Error(`rateLimit must be a positive number of requests per second, got ${rate}`);
}
