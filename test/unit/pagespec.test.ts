import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandPageSpec, formatPageSpec, MAX_SPEC_PAGE } from '../../src/pagespec.ts';

function pagesOf(spec: string): number[] {
  const result = expandPageSpec(spec);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(spec)} to expand, got: ${result.reason}`);
  return result.pages;
}

/** A page spec item as a user might write it: a page or a range, with optional spaces. */
const item = fc
  .tuple(fc.integer({ min: 1, max: MAX_SPEC_PAGE }), fc.integer({ min: 0, max: 40 }), fc.boolean(), fc.constantFrom('', ' ', '  '))
  .map(([first, length, asRange, space]) => {
    const last = Math.min(MAX_SPEC_PAGE, first + length);
    const text = asRange || last !== first ? `${space}${first}${space}-${space}${last}${space}` : `${space}${first}${space}`;
    return { text, first, last: asRange || last !== first ? last : first };
  });

describe('expandPageSpec', () => {
  it('turns 1-based pages and ranges into sorted, distinct, 0-based pages', () => {
    expect(pagesOf('1,3,5-7')).toEqual([0, 2, 4, 5, 6]);
    expect(pagesOf('5-7,1')).toEqual([0, 4, 5, 6]);
    expect(pagesOf('1-3,2,3')).toEqual([0, 1, 2]);
    expect(pagesOf(' 1 , 3 - 4 ')).toEqual([0, 2, 3]);
    expect(pagesOf('2-2')).toEqual([1]);
    expect(pagesOf(`${MAX_SPEC_PAGE}`)).toEqual([MAX_SPEC_PAGE - 1]);
  });

  it('reads a blank spec as no pages', () => {
    expect(pagesOf('')).toEqual([]);
    expect(pagesOf('   ')).toEqual([]);
  });

  it.each([
    ['0', /page 0/],
    ['1,0-3', /page 0/],
    ['3-1', /descending range 3-1/],
    ['a', /"a"/],
    ['1,,2', /empty item/],
    ['1,', /empty item/],
    [',1', /empty item/],
    ['1-', /"1-"/],
    ['-1', /"-1"/],
    ['+1', /"\+1"/],
    ['1.5', /"1.5"/],
    ['1-2-3', /"1-2-3"/],
    ['1;2', /"1;2"/],
    ['1-999999999', /above the limit/],
    [`${MAX_SPEC_PAGE + 1}`, /above the limit/],
    ['99999999999999999999999', /above the limit/],
    ['1'.repeat(20_000), /longer than/],
  ])('refuses %j', (spec, reason) => {
    const result = expandPageSpec(spec);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('expands any list of pages and ranges to exactly their union', () => {
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 30 }), (items) => {
        const union = new Set<number>();
        for (const { first, last } of items) for (let page = first; page <= last; page++) union.add(page - 1);
        expect(pagesOf(items.map((i) => i.text).join(','))).toEqual([...union].sort((a, b) => a - b));
      }),
    );
  });

  it('never throws, and whatever it accepts is sorted, distinct and in range', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'0123456789,- x'.split('')), maxLength: 40 }), (spec) => {
        const result = expandPageSpec(spec);
        if (!result.ok) {
          expect(result.reason.length).toBeGreaterThan(0);
          return;
        }
        result.pages.forEach((page, i) => {
          expect(page).toBeGreaterThanOrEqual(0);
          expect(page).toBeLessThan(MAX_SPEC_PAGE);
          if (i > 0) expect(page).toBeGreaterThan(result.pages[i - 1] as number);
        });
      }),
    );
  });

  it('costs no more for a spec repeating a huge range than for the range once', () => {
    const started = performance.now();
    const pages = pagesOf(Array.from({ length: 1000 }, () => `1-${MAX_SPEC_PAGE}`).join(','));
    expect(pages).toHaveLength(MAX_SPEC_PAGE);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('formatPageSpec', () => {
  it('writes the canonical 1-based spec', () => {
    expect(formatPageSpec([0, 2, 4, 5, 6])).toBe('1,3,5-7');
    expect(formatPageSpec([6, 4, 5, 0, 2, 2])).toBe('1,3,5-7');
    expect(formatPageSpec([0, 1])).toBe('1,2');
    expect(formatPageSpec([])).toBe('');
    expect(() => formatPageSpec([-1])).toThrow(RangeError);
  });

  it('round-trips: expand(format(pages)) is the pages, sorted and distinct', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: MAX_SPEC_PAGE - 1 }), { maxLength: 200 }), (pages) => {
        expect(pagesOf(formatPageSpec(pages))).toEqual([...new Set(pages)].sort((a, b) => a - b));
      }),
    );
  });
});
