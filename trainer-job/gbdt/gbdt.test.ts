import { describe, expect, it } from 'vitest';
import { Random } from '../random.js';
import { applyBins, computeBins, MAX_BINS, MIN_DATA_IN_BIN, SMALL_TABLE_ROWS } from './binning.js';
import { Booster, DEFAULT_GBDT_PARAMS, type GbdtParams, trainGbdt } from './booster.js';
import { applyBinsToSet, binTrainingSet } from './dataset.js';
import { meanLoss } from './loss.js';
import { featureImportance, predict, predictRaw } from './predict.js';

const params = (over: Partial<GbdtParams> = {}): GbdtParams => ({
  ...DEFAULT_GBDT_PARAMS,
  minDataInLeaf: 5,
  earlyStoppingRounds: 0,
  ...over,
});

describe('binning', () => {
  it('gives each distinct value its own bin when there are few, with float32 bounds', () => {
    const bins = computeBins(Float32Array.from([3, 1, 2, 2, Number.NaN, 1]), MAX_BINS, 200_000, 1);
    expect(Array.from(bins.upper)).toEqual([1, 2, Number.POSITIVE_INFINITY]);
    expect(bins.missingBin).toBe(3);
    expect(Array.from(applyBins(Float32Array.from([1, 1.5, 2, 3, 99, Number.NaN]), bins))).toEqual([
      0, 1, 1, 2, 2, 3,
    ]);
  });

  it('on a small table puts at least MIN_DATA_IN_BIN rows in a bin, as LightGBM does (a rare value joins its neighbour)', () => {
    expect(MIN_DATA_IN_BIN).toBe(3);
    const bins = computeBins(Float32Array.from([1, 1, 1, 2, 2, 3, 4, 5, 5, 5]));
    // 1 ×3 | 2, 3 (2 ×2 alone is too few) | 4, 5: the rest above 3 holds 4 rows.
    expect(Array.from(bins.upper)).toEqual([1, 3, Number.POSITIVE_INFINITY]);
    expect(Array.from(computeBins(Float32Array.from([1, 2, 3])).upper)).toEqual([Number.POSITIVE_INFINITY]);
    // From SMALL_TABLE_ROWS up, a value seen once still has its own bin.
    const large = Float32Array.from({ length: SMALL_TABLE_ROWS }, (_, i) => (i === 0 ? 0 : 1 + (i % 100)));
    expect(computeBins(large).upper[0]).toBe(0);
  });

  it('caps the number of bins and keeps them roughly equally filled', () => {
    const values = Float32Array.from({ length: 10_000 }, (_, i) => i);
    const bins = computeBins(values, 10);
    expect(bins.upper.length).toBe(10);
    const counts = new Array(10).fill(0);
    for (const c of applyBins(values, bins)) counts[c]++;
    for (const c of counts) expect(c).toBeGreaterThanOrEqual(900);
  });
});

describe('gradient boosting', () => {
  it('learns a step function exactly (binary)', () => {
    // Each value three times: enough rows for a bin of its own.
    const x = Float32Array.from({ length: 600 }, (_, i) => Math.floor(i / 3) / 200);
    const y = Float64Array.from(x, (v) => (v > 0.5 ? 1 : 0));
    const model = trainGbdt(binTrainingSet([x], y), undefined, params({ numLeaves: 2 }), 50);
    const p = predict(model, [Float32Array.from([0.1, 0.49, 0.51, 0.9])], 4);
    expect(p[0]).toBeLessThan(0.05);
    expect(p[1]).toBeLessThan(0.05);
    expect(p[2]).toBeGreaterThan(0.95);
    expect(p[3]).toBeGreaterThan(0.95);
    // The only split sits between 0.5 and the next value, on a value seen in training.
    expect(model.trees[0]!.threshold[0]).toBe(Math.fround(100 / 200));
  });

  it('fits a regression target and the leaf value is the Newton step times the learning rate', () => {
    const x = Float32Array.from([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    const y = Float64Array.from([1, 1, 1, 1, 1, 3, 3, 3, 3, 3]);
    const model = trainGbdt(
      binTrainingSet([x], y),
      undefined,
      params({ objective: 'regression', learningRate: 0.5, minDataInLeaf: 1 }),
      1,
    );
    expect(model.baseScore).toBe(2);
    const tree = model.trees[0]!;
    expect(tree.value[tree.left[0]!]).toBeCloseTo(-0.5, 12);
    expect(tree.value[tree.right[0]!]).toBeCloseTo(0.5, 12);
  });

  it('learns where missing values go', () => {
    const rng = new Random(7);
    const n = 2000;
    const x = new Float32Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const missing = rng.next() < 0.3;
      x[i] = missing ? Number.NaN : rng.next();
      // Missing rows behave like high values: positive.
      y[i] = missing || x[i]! > 0.7 ? 1 : 0;
    }
    const model = trainGbdt(binTrainingSet([x], y), undefined, params(), 30);
    const p = predict(model, [Float32Array.from([Number.NaN, 0.2, 0.9])], 3);
    expect(p[0]).toBeGreaterThan(0.9);
    expect(p[1]).toBeLessThan(0.1);
    expect(p[2]).toBeGreaterThan(0.9);
    expect(model.trees[0]!.missingLeft[0]).toBe(false);
  });

  it('sends missing values left when that is where they belong', () => {
    const x = Float32Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? Number.NaN : i));
    const y = Float64Array.from(x, (v) => (Number.isNaN(v) || v < 150 ? 1 : 0));
    const model = trainGbdt(binTrainingSet([x], y), undefined, params({ numLeaves: 2 }), 20);
    expect(model.trees[0]!.missingLeft[0]).toBe(true);
    const p = predict(model, [Float32Array.from([Number.NaN, 10, 290])], 3);
    expect(p[0]).toBeGreaterThan(0.9);
    expect(p[2]).toBeLessThan(0.1);
  });

  it('handles category codes (ordinal encodings) as splits on their codes', () => {
    // Categories 0..5 with target rate 0.1 for even codes and 0.9 for odd ones.
    const rng = new Random(3);
    const n = 3000;
    const x = new Float32Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = i % 6;
      y[i] = rng.next() < (i % 2 === 1 ? 0.9 : 0.1) ? 1 : 0;
    }
    const model = trainGbdt(binTrainingSet([x], y), undefined, params({ numLeaves: 8 }), 40);
    const p = predict(model, [Float32Array.from([0, 1, 2, 3, 4, 5])], 6);
    for (let c = 0; c < 6; c++) {
      if (c % 2 === 1) expect(p[c]).toBeGreaterThan(0.8);
      else expect(p[c]).toBeLessThan(0.2);
    }
  });

  it('uses the informative feature and ignores the noise', () => {
    const rng = new Random(11);
    const n = 2000;
    const signal = Float32Array.from({ length: n }, () => rng.next());
    const noise = Float32Array.from({ length: n }, () => rng.next());
    const y = Float64Array.from(signal, (v) => (rng.next() < v ? 1 : 0));
    const model = trainGbdt(binTrainingSet([noise, signal], y), undefined, params({ numLeaves: 4 }), 20);
    const [noiseShare, signalShare] = featureImportance(model);
    expect(signalShare!).toBeGreaterThan(0.8);
    expect(noiseShare!).toBeLessThan(0.2);
  });

  it('stops early on the validation set and keeps the best iteration', () => {
    const rng = new Random(5);
    const make = (n: number) => {
      const x = Float32Array.from({ length: n }, () => rng.next());
      const y = Float64Array.from(x, () => (rng.next() < 0.5 ? 1 : 0)); // pure noise
      return { x, y };
    };
    const tr = make(1000);
    const va = make(1000);
    const train = binTrainingSet([tr.x], tr.y);
    const valid = applyBinsToSet([va.x], va.y, train.bins);
    const booster = new Booster(train, valid, params({ numLeaves: 16, earlyStoppingRounds: 5 }));
    booster.boost(200);
    expect(booster.stopped).toBe(true);
    expect(booster.iterations).toBeLessThan(200);
    const model = booster.model();
    expect(model.trees.length).toBe(booster.bestIteration);
    const raw = predictRaw(model, [va.x], va.x.length);
    expect(meanLoss('binary', va.y, raw)).toBeCloseTo(booster.bestLoss, 10);
  });

  it('predicts the same from raw features as it tracked on binned validation rows', () => {
    const rng = new Random(9);
    const n = 3000;
    const a = Float32Array.from({ length: n }, () => (rng.next() < 0.1 ? Number.NaN : rng.next() * 100));
    const b = Float32Array.from({ length: n }, () => Math.floor(rng.next() * 7));
    const y = Float64Array.from(a, (v, i) => (Number.isNaN(v) ? 0.3 : (v / 100 + b[i]! / 7) / 2));
    const label = Float64Array.from(y, (p) => (rng.next() < p ? 1 : 0));
    const train = binTrainingSet([a, b], label);
    const booster = new Booster(train, train, params({ earlyStoppingRounds: 0 }));
    booster.boost(15);
    const raw = predictRaw(booster.model(), [a, b], n);
    expect(meanLoss('binary', label, raw)).toBeCloseTo(booster.validLosses.at(-1)!, 12);
  });

  it('is deterministic for a seed, with row and column sampling', () => {
    const rng = new Random(1);
    const n = 2000;
    const f = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => rng.next()));
    const y = Float64Array.from(f[0]!, (v, i) => v + f[1]![i]! * 2 + rng.next() * 0.1);
    const train = binTrainingSet(f, y);
    const p = params({ objective: 'regression', baggingFraction: 0.7, featureFraction: 0.67, seed: 42 });
    const one = predictRaw(trainGbdt(train, undefined, p, 20), f, n);
    const two = predictRaw(trainGbdt(train, undefined, p, 20), f, n);
    const other = predictRaw(trainGbdt(train, undefined, { ...p, seed: 43 }, 20), f, n);
    expect(Array.from(two)).toEqual(Array.from(one));
    expect(Array.from(other)).not.toEqual(Array.from(one));
  });

  it('builds the same model on one thread and on two (the worker thread sums a fixed half)', () => {
    const rng = new Random(21);
    const n = 60_000;
    const f = [0, 1, 2, 3].map(() =>
      Float32Array.from({ length: n }, () => (rng.next() < 0.05 ? Number.NaN : rng.next())),
    );
    const y = Float64Array.from({ length: n }, (_, i) =>
      rng.next() < 0.3 + 0.4 * (f[0]![i]! || 0) * (f[1]![i]! || 0) ? 1 : 0,
    );
    const train = binTrainingSet(f, y);
    const p = params({ numLeaves: 31, baggingFraction: 0.8, seed: 5 });
    const models = [1, 2].map((threads) => {
      const booster = new Booster(train, undefined, p, threads);
      try {
        booster.boost(15);
        return booster.model();
      } finally {
        booster.dispose();
      }
    });
    expect(models[1]!.trees).toEqual(models[0]!.trees);
  });

  it('respects min data in leaf and max depth', () => {
    const x = Float32Array.from({ length: 100 }, (_, i) => i);
    const y = Float64Array.from(x, (v) => v * v);
    const model = trainGbdt(
      binTrainingSet([x], y),
      undefined,
      params({ objective: 'regression', minDataInLeaf: 30, numLeaves: 31, maxDepth: 2 }),
      1,
    );
    const tree = model.trees[0]!;
    const leaves = tree.feature.map((f, i) => (f < 0 ? i : -1)).filter((i) => i >= 0);
    expect(leaves.length).toBeLessThanOrEqual(3);
    for (const leaf of leaves) expect(tree.count[leaf]).toBeGreaterThanOrEqual(30);
  });
});
