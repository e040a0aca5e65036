// The simulator's opt-in data options change only what they name, deterministically.
import { describe, expect, it } from 'vitest';
import { seedProjectJobs } from '../../src/simulator/index.ts';

const P = 'p1';
const NOW = Date.parse('2026-11-01T00:00:00Z');

describe('seedProjectJobs data options', () => {
  const plain = seedProjectJobs(P, 500, { now: NOW });

  it('withoutCreatedAtShare nulls created_at of about that share, and changes nothing else', () => {
    const jobs = seedProjectJobs(P, 500, { now: NOW, withoutCreatedAtShare: 0.1 });
    const undated = jobs.filter((j) => j.created_at === null);
    expect(undated.length).toBeGreaterThan(25);
    expect(undated.length).toBeLessThan(80);
    expect(jobs.map((j) => ({ ...j, created_at: null }))).toEqual(plain.map((j) => ({ ...j, created_at: null })));
    expect(seedProjectJobs(P, 500, { now: NOW, withoutCreatedAtShare: 0.1 })).toEqual(jobs);
  });

  it("longErrorChars makes the first failed job's message exactly that long, starting as before", () => {
    const jobs = seedProjectJobs(P, 500, { now: NOW, longErrorChars: 200_000 });
    const index = plain.findIndex((j) => j.status === 'ERROR');
    const message = jobs[index]?.error_message ?? '';
    expect(message).toHaveLength(200_000);
    expect(message.startsWith(`${plain[index]?.error_message ?? ''} (response body: AAAA`)).toBe(true);
    expect(jobs.filter((_, i) => i !== index)).toEqual(plain.filter((_, i) => i !== index));
  });

  it('refuses a share outside 0..1', () => {
    expect(() => seedProjectJobs(P, 10, { withoutCreatedAtShare: 2 })).toThrow(/withoutCreatedAtShare must be between 0 and 1/);
  });
});
