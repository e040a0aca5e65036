import { describe, expect, it } from 'vitest';
import { closest } from '../../src/suggest.ts';

describe('closest', () => {
  const flags = ['full', 'resume', 'page-size', 'concurrency', 'slices', 'project', 'log-level'];
  it('finds what a mistyped name meant', () => {
    expect(closest('full-refresh', flags)).toBe('full');
    expect(closest('concurency', flags)).toBe('concurrency');
    expect(closest('pagesize', ['pageSize', 'pgliteDir', 'maxPages'])).toBe('pageSize');
    expect(closest('page_size', flags)).toBe('page-size');
    expect(closest('projects', flags)).toBe('project');
    expect(closest('loglevel', flags)).toBe('log-level');
    expect(closest('snyc', ['sync', 'backfill', 'migrate', 'worker', 'report', 'demo'])).toBe('sync');
  });
  it('suggests nothing when nothing is close', () => {
    expect(closest('frobnicate', flags)).toBeUndefined();
    expect(closest('x', flags)).toBeUndefined();
    expect(closest('anything', [])).toBeUndefined();
  });
});
