import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  type ColumnSample,
  chiSquarePValue,
  DRIFT_METHOD_REGISTRY,
  DRIFT_METHODS,
  defaultMethod,
  driftScore,
  histogramCounts,
  jensenShannonDistance,
  populationStabilityIndex,
  sturgesEdges,
  wassersteinDistance,
  zTestPValue,
} from './drift-methods.js';
import { ks2samp } from './ks.js';
import { toSample } from './samples.js';

const num = (...v: number[]): ColumnSample => ({
  kind: 'numerical',
  values: Float64Array.from(v).sort(),
  integer: false,
});
const cat = (counts: Record<string, number>): ColumnSample => ({
  kind: 'categorical',
  counts: new Map(Object.entries(counts)),
  size: Object.values(counts).reduce((a, b) => a + b, 0),
});
const range = (n: number, f: (i: number) => number = (i) => i) => Array.from({ length: n }, (_, i) => f(i));

// Expected values below come from SciPy 1.17.1 / NumPy 2.4 (printed by hand in the venv).
describe('drift statistics, known values', () => {
  it('Wasserstein distance', () => {
    expect(wassersteinDistance(Float64Array.of(0, 1, 3), Float64Array.of(5, 6, 8))).toBeCloseTo(5, 12);
    expect(wassersteinDistance(Float64Array.of(1, 2, 2, 7), Float64Array.of(0, 3.5, 9))).toBeCloseTo(2, 12);
  });

  it('chi-squared p-value (scipy.stats.chisquare)', () => {
    // Reference 25/25/50 scaled to 100 current rows against 30/20/50: statistic 2, p = e^-1.
    const p = chiSquarePValue(
      new Map([
        ['a', 25],
        ['b', 25],
        ['c', 50],
      ]),
      100,
      new Map([
        ['a', 30],
        ['b', 20],
        ['c', 50],
      ]),
      100,
    );
    expect(p).toBeCloseTo(0.36787944117144245, 14);
  });

  it('a category the reference never saw makes chi-squared infinite (p = 0)', () => {
    expect(
      chiSquarePValue(
        new Map([
          ['a', 5],
          ['b', 5],
        ]),
        10,
        new Map([
          ['a', 5],
          ['b', 4],
          ['new', 1],
        ]),
        10,
      ),
    ).toBe(0);
  });

  it('Z-test: identical single values give p = 1; a clear shift gives a small p', () => {
    expect(zTestPValue(new Map([['x', 10]]), 10, new Map([['x', 7]]), 7)).toBe(1);
    const p = zTestPValue(
      new Map([
        ['a', 80],
        ['b', 20],
      ]),
      100,
      new Map([
        ['a', 50],
        ['b', 50],
      ]),
      100,
    );
    // z = 0.3 / sqrt(0.35 * 0.65 * 0.02) = 4.4475; p = 2 (1 - Φ(z)).
    expect(p).toBeGreaterThan(8.6e-6);
    expect(p).toBeLessThan(8.8e-6);
  });

  it('Jensen-Shannon distance (scipy.spatial.distance.jensenshannon)', () => {
    expect(jensenShannonDistance(Float64Array.of(0.2, 0.3, 0.5), Float64Array.of(0.5, 0.3, 0.2))).toBeCloseTo(
      0.25770974832606103,
      14,
    );
    expect(jensenShannonDistance(Float64Array.of(0.5, 0.5), Float64Array.of(0.5, 0.5))).toBe(0);
  });

  it('PSI', () => {
    const p = Float64Array.of(0.5, 0.5);
    const q = Float64Array.of(0.25, 0.75);
    expect(populationStabilityIndex(p, q)).toBeCloseTo(0.25 * Math.log(2) - 0.25 * Math.log(2 / 3), 14);
  });

  it('KS two-sample exact p-value (scipy.stats.ks_2samp)', () => {
    const r = ks2samp(Float64Array.of(1, 2, 3, 4, 5), Float64Array.of(3, 4, 5, 6, 7, 8));
    expect(r.statistic).toBe(0.5);
    expect(r.pValue).toBeCloseTo(0.35714285714285715, 14);
    expect(r.mode).toBe('exact');
  });

  it('Sturges edges and histogram counts (np.histogram_bin_edges / np.histogram)', () => {
    expect([...sturgesEdges(0, 99, 100, false)]).toEqual([
      0, 12.375, 24.75, 37.125, 49.5, 61.875, 74.25, 86.625, 99,
    ]);
    expect([
      ...histogramCounts(Float64Array.of(0, 0.5, 1, 1.5, 2, 2, 3), Float64Array.of(0, 1, 2, 3)),
    ]).toEqual([2, 2, 3]);
  });
});

describe('default method choice (Evidently DataDriftPreset)', () => {
  it('≤ 1000 reference values: KS for numbers, chi-squared for 3+ values, Z for 2', () => {
    expect(defaultMethod('numerical', num(...range(1000)), num(...range(10)))).toBe('ks');
    expect(defaultMethod('numerical', num(1, 2, 3, 1), num(4, 5))).toBe('chisquare');
    expect(defaultMethod('numerical', num(0, 1, 0), num(1))).toBe('z');
    expect(defaultMethod('categorical', cat({ a: 3, b: 4 }), cat({ c: 1 }))).toBe('chisquare');
    expect(defaultMethod('categorical', cat({ a: 3 }), cat({ b: 1 }))).toBe('z');
  });

  it('> 1000 reference values: Wasserstein for numbers with > 5 values, Jensen-Shannon otherwise', () => {
    expect(defaultMethod('numerical', num(...range(1001)), num(1))).toBe('wasserstein');
    expect(defaultMethod('numerical', num(...range(1001, (i) => i % 5)), num(1))).toBe('jensenshannon');
    expect(defaultMethod('categorical', cat({ a: 600, b: 401 }), cat({ a: 1 }))).toBe('jensenshannon');
  });

  it('Wasserstein is normalised by the reference std, floored at 0.001', () => {
    const constant = num(...range(1001, () => 3));
    const r = driftScore('wasserstein', constant, num(3.01, 3.01));
    expect(r.score).toBeCloseTo(0.01 / 0.001, 6);
    expect(r.drifted).toBe(true);
  });

  it('KS decides drift at p ≤ threshold, the others at p < threshold or distance ≥ threshold', () => {
    const r = driftScore('ks', num(1, 2, 3, 4, 5), num(3, 4, 5, 6, 7, 8), 0.35714285714285715);
    expect(r.drifted).toBe(true);
    const d = driftScore('jensenshannon', cat({ a: 1, b: 1 }), cat({ a: 1, b: 1 }), 0);
    expect(d.drifted).toBe(true);
  });
});

describe('samples', () => {
  it('drop missing values and ±Infinity, as Evidently does', () => {
    const s = toSample(
      {
        kind: 'number',
        values: Float64Array.of(3, Number.NaN, 1, Number.POSITIVE_INFINITY, 2, Number.NEGATIVE_INFINITY),
      },
      'numerical',
    );
    expect(s.kind === 'numerical' && [...s.values]).toEqual([1, 2, 3]);
  });

  it('count categories by value, merging the dictionary and skipping missing codes', () => {
    const s = toSample(
      { kind: 'string', codes: Int32Array.of(0, 1, -1, 0, 2), dictionary: ['a', 'b', 'c'] },
      'categorical',
    );
    expect(s.kind === 'categorical' && Object.fromEntries(s.counts)).toEqual({ a: 2, b: 1, c: 1 });
    expect(s.kind === 'categorical' && s.size).toBe(4);
  });

  it('refuse text analysed as numbers', () => {
    expect(() =>
      toSample({ kind: 'string', codes: Int32Array.of(0), dictionary: ['a'] }, 'numerical'),
    ).toThrow(/text column/);
  });
});

describe('the drift method registry', () => {
  it('describes every method once, as Evidently registers its stattests', () => {
    expect(Object.keys(DRIFT_METHOD_REGISTRY).sort()).toEqual([...DRIFT_METHODS].sort());
    for (const [name, d] of Object.entries(DRIFT_METHOD_REGISTRY)) {
      expect(d.name).toBe(name);
      expect(d.defaultThreshold).toBe(d.score === 'p_value' ? 0.05 : 0.1);
      expect(d.kinds.length).toBeGreaterThan(0);
    }
    // p-value methods drift below the threshold, distances at or above it.
    expect(DRIFT_METHOD_REGISTRY.chisquare.drifted(0.05, 0.05)).toBe(false);
    expect(DRIFT_METHOD_REGISTRY.ks.drifted(0.05, 0.05)).toBe(true);
    expect(DRIFT_METHOD_REGISTRY.psi.drifted(0.1, 0.1)).toBe(true);
  });

  it('stats/ stands alone: no module in it imports the report summaries', () => {
    const dir = new URL('.', import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      expect(readFileSync(new URL(file, dir), 'utf8'), file).not.toMatch(/from '\.\.\/(summary|report)/);
    }
  });
});
