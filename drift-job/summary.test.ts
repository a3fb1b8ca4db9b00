import { describe, expect, it } from 'vitest';
import { esc } from './report-html.js';
import { quantile, summarizeColumn } from './summary.js';

describe('summary', () => {
  it('quantiles interpolate linearly, as NumPy does by default', () => {
    const v = Float64Array.of(1, 2, 3, 4);
    expect(quantile(v, 0)).toBe(1);
    expect(quantile(v, 0.5)).toBe(2.5);
    expect(quantile(v, 0.05)).toBeCloseTo(1.15, 12);
    expect(quantile(v, 1)).toBe(4);
    expect(quantile(new Float64Array(0), 0.5)).toBeNaN();
  });

  it('numbers: missing and non-finite counted, statistics on the finite values', () => {
    const s = summarizeColumn(
      'x',
      'number',
      { kind: 'number', values: Float64Array.of(1, 2, 3, Number.NaN) },
      { kind: 'number', values: Float64Array.of(10, Number.POSITIVE_INFINITY, 20) },
    );
    expect(s.reference).toMatchObject({ rows: 4, missing: 1, non_finite: 0, unique: 3 });
    expect(s.reference.numeric).toMatchObject({ mean: 2, min: 1, max: 3, p50: 2 });
    expect(s.reference.numeric!.std).toBeCloseTo(1, 12);
    expect(s.current).toMatchObject({ rows: 3, missing: 1, non_finite: 1, unique: 2 });
    expect(s.histogram!.reference.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('categories: top values with shares, unseen share on the current side', () => {
    const s = summarizeColumn(
      'c',
      'category',
      { kind: 'string', codes: Int32Array.of(0, 0, 1, -1), dictionary: ['a', 'b'] },
      { kind: 'string', codes: Int32Array.of(0, 1, 1, 2), dictionary: ['a', 'z', 'b'] },
    );
    expect(s.reference.top).toEqual([
      { value: 'a', count: 2, share: 2 / 3 },
      { value: 'b', count: 1, share: 1 / 3 },
    ]);
    expect(s.reference.missing).toBe(1);
    expect(s.current.unseen_share).toBe(0.5);
  });
});

describe('report HTML escaping', () => {
  it('escapes every markup character', () => {
    expect(esc(`<img src="x" onerror='y'>&`)).toBe('&lt;img src=&quot;x&quot; onerror=&#39;y&#39;&gt;&amp;');
  });
});
