// One request budget per API key, shared by every project and slice of a run that uses the key: how
// many requests may be in flight, how fast they may start, and when the API asked everyone to wait.
//
// - In flight: at most `maxInFlight`. A 429 is about the rate, not about concurrency: halving the
//   requests in flight would let one slow or hanging request hold up every project of the key.
// - Rate (additive increase, multiplicative decrease): none at first (or `maxRequestsPerSecond`). A 429
//   sets it to 90 % of the rate the API accepted requests of the key at over the last second (answers
//   other than 429, errors included: the rate limit did not refuse them), at most once a second (the
//   429s of one burst are one signal). It then grows back, quickly (25 % a second) up to 85 % of the
//   highest rate refused in the last 30 s and slowly (0.5 % of it a second) above: a steady limit
//   upstream costs a 429 now and then, not a stream of them, while 429s that come whatever the rate (an
//   overloaded API) cannot ratchet it down to nothing. Starts are spaced evenly at the rate (no burst
//   after a pause).
// - Retry-After: a 429's wait holds every request of the key, not only the one that got it.
// See docs/performance.md.

const WINDOW_MS = 1000;
/** How long a refused rate is remembered as the ceiling the rate grows back to. */
const MEMORY_MS = 30_000;
/** Share of the accepted rate kept after a 429. */
const DECREASE = 0.9;
/** Below this share of the refused rate the rate grows fast (per second: ×1.25), above it slowly. */
const CAUTION = 0.85;
const FAST_GROWTH_PER_S = 0.25;
const SLOW_GROWTH_PER_S = 0.005;
const MIN_RATE = 0.1;
/** Wait after a 429 without Retry-After. */
const DEFAULT_PAUSE_MS = 1000;

export interface BudgetOptions {
  maxInFlight: number;
  maxRequestsPerSecond?: number | undefined;
  /** Longest wait a 429's Retry-After may impose (config retry.maxRetryAfterMs). Default 60 s. */
  maxPauseMs?: number | undefined;
  /** Milliseconds, monotonic (tests pass a fake clock). */
  now?: (() => number) | undefined;
}

export interface BudgetStats {
  /** Requests started. */
  requests: number;
  /** Requests answered 429. */
  rateLimited: number;
  /** The request rate allowed now (requests/s); undefined while no rate applies. */
  rate: number | undefined;
}

/** What became of a request that held a place in the budget. */
export type Outcome = { kind: 'ok' } | { kind: 'rate-limited'; retryAfterMs: number | undefined } | { kind: 'other' };

export type Release = (outcome: Outcome) => void;

export class RequestBudget {
  readonly #maxInFlight: number;
  readonly #maxRate: number;
  readonly #now: () => number;
  #inFlight = 0;
  #rate: number;
  readonly #maxPauseMs: number;
  /** The rates refused (accepted when a 429 came) in the last MEMORY_MS: the slow-growth zone starts below their highest. */
  readonly #refused: { at: number; rate: number }[] = [];
  #nextStartMs = 0;
  #pauseUntilMs = 0;
  #lastDecreaseMs = -Infinity;
  #lastGrowthMs: number | undefined;
  /** When requests were answered with anything but 429, over the last WINDOW_MS. */
  readonly #accepted: number[] = [];
  readonly #waiting: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerDueMs = Infinity;
  #requests = 0;
  #rateLimited = 0;

  constructor(options: BudgetOptions) {
    this.#maxInFlight = Math.max(1, options.maxInFlight);
    this.#maxRate = options.maxRequestsPerSecond ?? Infinity;
    this.#now = options.now ?? (() => performance.now());
    this.#maxPauseMs = options.maxPauseMs ?? 60_000;
    this.#rate = this.#maxRate;
  }

  stats(): BudgetStats {
    return {
      requests: this.#requests,
      rateLimited: this.#rateLimited,
      rate: Number.isFinite(this.#rate) ? this.#rate : undefined,
    };
  }

  /** Waits for a place (in flight, rate, pause), then holds it until `release` is called once. */
  async acquire(signal?: AbortSignal): Promise<Release> {
    while (true) {
      signal?.throwIfAborted();
      const waitMs = this.#waitMs();
      if (waitMs === 0) break;
      await this.#park(waitMs, signal);
    }
    const now = this.#now();
    this.#inFlight += 1;
    this.#requests += 1;
    if (Number.isFinite(this.#rate)) this.#nextStartMs = Math.max(now, this.#nextStartMs) + 1000 / this.#rate;
    let released = false;
    return (outcome) => {
      if (released) return;
      released = true;
      this.#inFlight -= 1;
      this.#settle(outcome);
      this.#wakeAll();
    };
  }

  /** 0 when a request may start now; else how long until it might (Infinity: until a release). */
  #waitMs(): number {
    if (this.#inFlight >= this.#maxInFlight) return Infinity;
    const now = this.#now();
    const until = Math.max(this.#pauseUntilMs, Number.isFinite(this.#rate) ? this.#nextStartMs : 0);
    return until > now ? until - now : 0;
  }

  #settle(outcome: Outcome): void {
    const now = this.#now();
    while (this.#accepted.length > 0 && (this.#accepted[0] as number) < now - WINDOW_MS) this.#accepted.shift();
    if (outcome.kind !== 'rate-limited') {
      this.#accepted.push(now);
      if (outcome.kind === 'ok') this.#grow(now);
      return;
    }
    this.#rateLimited += 1;
    this.#pauseUntilMs = Math.max(this.#pauseUntilMs, now + Math.min(outcome.retryAfterMs ?? DEFAULT_PAUSE_MS, this.#maxPauseMs));
    this.#lastGrowthMs = undefined;
    // The 429s of one burst are one signal: decrease once per window.
    if (now - this.#lastDecreaseMs < WINDOW_MS) return;
    this.#lastDecreaseMs = now;
    const refused = Math.min(this.#rate, Math.max(this.#accepted.length, MIN_RATE));
    this.#refused.push({ at: now, rate: refused });
    this.#rate = Math.min(this.#maxRate, Math.max(MIN_RATE, DECREASE * refused));
  }

  /** The highest rate refused in the last MEMORY_MS (Infinity when none was). */
  #ceiling(now: number): number {
    while (this.#refused.length > 1 && (this.#refused[0] as { at: number }).at < now - MEMORY_MS) this.#refused.shift();
    return this.#refused.reduce((max, r) => Math.max(max, r.rate), this.#refused.length > 0 ? 0 : Infinity);
  }

  #grow(now: number): void {
    if (!Number.isFinite(this.#rate)) return;
    const last = this.#lastGrowthMs ?? now;
    this.#lastGrowthMs = now;
    const seconds = Math.max(0, now - last) / 1000;
    const ceiling = this.#ceiling(now);
    const perSecond = this.#rate < CAUTION * ceiling ? FAST_GROWTH_PER_S * this.#rate : SLOW_GROWTH_PER_S * ceiling;
    this.#rate = Math.min(this.#maxRate, this.#rate + perSecond * seconds);
  }

  #park(waitMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.#waiting.indexOf(wake);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal?.reason as Error);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiting.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (Number.isFinite(waitMs)) this.#wakeIn(waitMs);
    });
  }

  /** One timer for every waiter: the earliest time one of them may start. */
  #wakeIn(ms: number): void {
    const due = this.#now() + ms;
    if (this.#timer !== undefined && this.#timerDueMs <= due) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerDueMs = due;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerDueMs = Infinity;
        this.#wakeAll();
      },
      Math.max(1, Math.ceil(ms)),
    );
  }

  #wakeAll(): void {
    const waiting = this.#waiting.splice(0);
    for (const wake of waiting) wake();
  }
}

/** The budgets of one run, one per API key (the key itself is only a map key, never shown). */
export class RequestBudgets {
  readonly #budgets = new Map<string, RequestBudget>();
  constructor(private readonly options: BudgetOptions) {}

  for(apiKey: string): RequestBudget {
    let budget = this.#budgets.get(apiKey);
    if (budget === undefined) {
      budget = new RequestBudget(this.options);
      this.#budgets.set(apiKey, budget);
    }
    return budget;
  }
}
