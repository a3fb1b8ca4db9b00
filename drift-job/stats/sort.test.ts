import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortFinite, sortFloat64 } from './sort.js';

describe('sortFloat64', () => {
  it('orders like Float64Array.prototype.sort, negatives, zeros and duplicates included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 2048, maxLength: 6000 }),
        (xs) => {
          const values = Float64Array.from(xs);
          const want = values.slice().sort();
          const got = sortFloat64(values);
          expect(got.length).toBe(want.length);
          for (let i = 0; i < want.length; i++) expect(Object.is(got[i], want[i]), `index ${i}`).toBe(true);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('sorts a large column of few distinct values and leaves the input alone', () => {
    const values = Float64Array.from({ length: 100_000 }, (_, i) => ((i * 7919) % 13) - 6.5);
    const copy = values.slice();
    const got = sortFloat64(values);
    for (let i = 1; i < got.length; i++) expect(got[i - 1]! <= got[i]!).toBe(true);
    expect(values).toEqual(copy);
  });

  it('drops NaN and ±Infinity and counts them', () => {
    const values = Float64Array.from({ length: 5000 }, (_, i) =>
      i % 10 === 0
        ? Number.NaN
        : i % 17 === 0
          ? Number.NEGATIVE_INFINITY
          : i % 23 === 0
            ? Number.POSITIVE_INFINITY
            : (i % 97) - 50,
    );
    const r = sortFinite(values);
    const finite = values.filter((v) => Number.isFinite(v)).sort();
    expect([...r.values]).toEqual([...finite]);
    expect(r.missing).toBe(values.length - finite.length);
    expect(r.nonFinite).toBe(
      values.filter((v) => v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY).length,
    );
    const small = sortFinite(Float64Array.of(3, Number.NaN, Number.NEGATIVE_INFINITY, 1));
    expect([...small.values]).toEqual([1, 3]);
    expect(small).toMatchObject({ missing: 2, nonFinite: 1 });
  });

  it('counting path (few distinct values) keeps −0 before +0 and matches the built-in sort', () => {
    const values = Float64Array.from({ length: 50_000 }, (_, i) => [0, -0, 2.5, -7, 1e300, -1e-300][i % 6]!);
    const want = values.slice().sort();
    const got = sortFloat64(values);
    for (let i = 0; i < want.length; i++) expect(Object.is(got[i], want[i]), `index ${i}`).toBe(true);
  });
});
