import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestBudget, RequestBudgets } from '../../src/source/budget.ts';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

const clock = () => Date.now();

/** Starts `n` acquisitions; resolves to the times (ms) each one got its place. */
function startTimes(budget: RequestBudget, n: number, onStart: (release: (ok?: boolean) => void, i: number) => void = (r) => r()) {
  const times: number[] = [];
  const all = Array.from({ length: n }, async (_, i) => {
    const release = await budget.acquire();
    times[i] = Date.now();
    onStart((ok = true) => release(ok ? { kind: 'ok' } : { kind: 'other' }), i);
  });
  return { times, done: Promise.all(all) };
}

describe('RequestBudget', () => {
  it('never lets more than maxInFlight requests run at once', async () => {
    const budget = new RequestBudget({ maxInFlight: 3, now: clock });
    const held: (() => void)[] = [];
    const { times, done } = startTimes(budget, 5, (release) => held.push(() => release()));
    await vi.advanceTimersByTimeAsync(10);
    expect(times.filter((t) => t !== undefined)).toHaveLength(3);
    held.shift()?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(times.filter((t) => t !== undefined)).toHaveLength(4);
    for (const release of held.splice(0)) release();
    await vi.advanceTimersByTimeAsync(0);
    for (const release of held.splice(0)) release();
    await done;
    expect(budget.stats()).toMatchObject({ requests: 5, rateLimited: 0, rate: undefined });
  });

  it('spaces starts at maxRequestsPerSecond', async () => {
    const budget = new RequestBudget({ maxInFlight: 8, maxRequestsPerSecond: 4, now: clock });
    const { times, done } = startTimes(budget, 5);
    await vi.advanceTimersByTimeAsync(2_000);
    await done;
    expect(times).toEqual([0, 250, 500, 750, 1000]);
  });

  it("one 429's Retry-After holds every request of the key, then the rate is 90 % of what was served", async () => {
    const budget = new RequestBudget({ maxInFlight: 8, now: clock });
    // Ten served at once, then one refused with Retry-After 500 ms.
    for (let i = 0; i < 10; i++) (await budget.acquire())({ kind: 'ok' });
    (await budget.acquire())({ kind: 'rate-limited', retryAfterMs: 500 });
    expect(budget.stats()).toMatchObject({ rateLimited: 1 });
    expect(budget.stats().rate).toBeCloseTo(9);
    const { times, done } = startTimes(budget, 3);
    await vi.advanceTimersByTimeAsync(2_000);
    await done;
    // Nothing before the pause ends; then evenly spaced at ~9 requests/s.
    expect(times[0]).toBe(500);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(110);
    expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(110);
  });

  it('the 429s of one burst decrease once, and the rate grows back slowly near the refused rate', async () => {
    const budget = new RequestBudget({ maxInFlight: 8, now: clock });
    for (let i = 0; i < 10; i++) (await budget.acquire())({ kind: 'ok' });
    const burst = await Promise.all(Array.from({ length: 4 }, () => budget.acquire()));
    for (const release of burst) release({ kind: 'rate-limited', retryAfterMs: 100 });
    expect(budget.stats()).toMatchObject({ rateLimited: 4 });
    expect(budget.stats().rate).toBeCloseTo(9);
    // Served at the allowed rate for 10 s: from 9 (above 85 % of 10) it creeps up by 0.5 % of 10 a second.
    const until = Date.now() + 10_000;
    const served = (async () => {
      while (Date.now() < until) {
        const release = await budget.acquire();
        release({ kind: 'ok' });
      }
    })();
    await vi.advanceTimersByTimeAsync(10_500);
    await served;
    const rate = budget.stats().rate as number;
    expect(rate).toBeGreaterThan(9.3);
    expect(rate).toBeLessThan(9.8);
  });

  it('a waiting request gives up when its signal aborts', async () => {
    const budget = new RequestBudget({ maxInFlight: 1, now: clock });
    await budget.acquire();
    const stop = new AbortController();
    const waiting = budget.acquire(stop.signal);
    stop.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
  });
});

describe('RequestBudgets', () => {
  it('one budget per API key', () => {
    const budgets = new RequestBudgets({ maxInFlight: 2 });
    expect(budgets.for('key-a')).toBe(budgets.for('key-a'));
    expect(budgets.for('key-a')).not.toBe(budgets.for('key-b'));
  });
});
