import { describe, expect, it } from 'vitest';
import { rocAuc } from '../../core/metrics.js';
import { calibratedWindow, SHIFTS } from '../../test/fixtures/cbpe-data.js';
import { Random } from '../../trainer-job/random.js';
import {
  CBPE_METRIC_REGISTRY,
  estimateRocAuc,
  estimateWindow,
  expectedConfusion,
  fitCbpe,
  realizedRocAuc,
  usableRows,
} from './cbpe.js';

const f64 = (a: number[]) => Float64Array.from(a);

describe('CBPE estimates from calibrated probabilities', () => {
  const window = { probability: f64([0.9, 0.6, 0.3, 0.2]), prediction: f64([1, 1, 0, 0]) };

  it('builds the expected confusion matrix: p counts as a true positive, 1 − p as a false one', () => {
    const c = expectedConfusion(window);
    expect(c.tp).toBeCloseTo(1.5, 12);
    expect(c.fp).toBeCloseTo(0.5, 12);
    expect(c.fn).toBeCloseTo(0.5, 12);
    expect(c.tn).toBeCloseTo(1.5, 12);
  });

  it('derives accuracy, precision, recall and F1 from it', () => {
    expect(CBPE_METRIC_REGISTRY.accuracy.estimate(window, expectedConfusion(window))).toBeCloseTo(3 / 4, 12);
    expect(CBPE_METRIC_REGISTRY.precision.estimate(window, expectedConfusion(window))).toBeCloseTo(
      1.5 / 2,
      12,
    );
    expect(CBPE_METRIC_REGISTRY.recall.estimate(window, expectedConfusion(window))).toBeCloseTo(1.5 / 2, 12);
    expect(CBPE_METRIC_REGISTRY.f1.estimate(window, expectedConfusion(window))).toBeCloseTo(1.5 / 2, 12);
  });

  it('estimates ROC AUC as the area under the expected ROC curve', () => {
    // Pairs (positive i ranked above negative j) weighted p_i (1 − p_j), over Σp · Σ(1 − p).
    const p = [0.9, 0.6, 0.3, 0.2];
    let num = 0;
    let ties = 0;
    for (let i = 0; i < p.length; i++)
      for (let j = 0; j < p.length; j++) {
        if (p[i]! > p[j]!) num += p[i]! * (1 - p[j]!);
        if (i === j) ties += p[i]! * (1 - p[i]!);
      }
    const pos = p.reduce((a, b) => a + b, 0);
    // A row is its own tie: half its p(1 − p) counts, as the trapezoid does.
    expect(estimateRocAuc(f64(p))).toBeCloseTo((num + ties / 2) / (pos * (p.length - pos)), 4);
  });

  it("realized ROC AUC by merging sorted classes equals the trainer's Mann–Whitney AUC, ties included", () => {
    const r = new Random(3);
    const p = Float64Array.from({ length: 5000 }, () => Math.round(r.next() * 20) / 20);
    const y = p.map((v) => (r.next() < v ? 1 : 0));
    expect(realizedRocAuc(p, y)).toBeCloseTo(rocAuc(y, p), 12);
    expect(realizedRocAuc(f64([0.2, 0.3]), f64([1, 1]))).toBeNaN();
  });

  it('keeps the usable rows only, and copies nothing when every row is usable', () => {
    const all = { probability: f64([0.1, 0.9]), prediction: f64([0, 1]) };
    expect(usableRows(all)).toBeNull();
    const some = { probability: f64([0.1, Number.NaN, 0.7, 0.4]), prediction: f64([0, 1, 1, 2]) };
    expect(Array.from(usableRows(some)!)).toEqual([0, 2]);
    expect(Array.from(usableRows({ ...all, target: f64([1, Number.NaN]) })!)).toEqual([0]);
  });

  it('gives NaN for ROC AUC when every probability is 0 or 1 of one class', () => {
    expect(estimateRocAuc(f64([1, 1, 1]))).toBeNaN();
    expect(estimateRocAuc(f64([]))).toBeNaN();
  });

  it('agrees with the realized metrics of a large calibrated sample', () => {
    const big = calibratedWindow(200_000, { mean: 0, scale: 1 }, 7);
    for (const d of Object.values(CBPE_METRIC_REGISTRY)) {
      expect(Math.abs(d.estimate(big, expectedConfusion(big)) - d.realized(big)), d.name).toBeLessThan(0.005);
    }
  });
});

describe('CBPE thresholds and bands from the reference', () => {
  const reference = calibratedWindow(20_000, { mean: 0, scale: 1 }, 1);

  it('takes thresholds from reference chunks (the last, shorter one kept) and refuses a bad chunk size', () => {
    const fit = fitCbpe(reference, 3_000);
    expect(fit.chunks).toBe(7);
    for (const m of fit.metrics) {
      expect(m.lowerThreshold!).toBeLessThan(m.reference);
      expect(m.upperThreshold!).toBeGreaterThan(m.reference);
    }
    expect(() => fitCbpe(reference, 0)).toThrow(/chunkRows/);
  });

  it('flags an estimate below the lower threshold as degraded, and only that one', () => {
    const fit = fitCbpe(reference, 2_000);
    const same = estimateWindow(fit, calibratedWindow(2_000, { mean: 0, scale: 1 }, 2));
    const crowded = estimateWindow(fit, calibratedWindow(2_000, { mean: 0.5, scale: 0.3 }, 3));
    const auc = (e: typeof same) => e.find((m) => m.metric === 'roc_auc')!;
    expect(auc(same).degraded).toBe(false);
    expect(auc(same).alert).toBe(false);
    expect(auc(crowded).degraded).toBe(true);
    expect(auc(crowded).alert).toBe(true);
  });

  /**
   * The claim CBPE makes: under covariate shift alone (P(y | x) unchanged) the estimate follows
   * the realized metric. Every window's realized ROC AUC and accuracy lie within the estimate's
   * band (± 3 sampling errors), while the estimate itself moves far more than the band is wide.
   */
  it('tracks the realized ROC AUC and accuracy within its band across covariate-shifted windows', () => {
    const fit = fitCbpe(reference, 5_000);
    const estimates: number[] = [];
    SHIFTS.forEach((shift, k) => {
      const w = calibratedWindow(5_000, shift, 100 + k);
      for (const e of estimateWindow(fit, w)) {
        if (e.metric !== 'roc_auc' && e.metric !== 'accuracy') continue;
        const realized = CBPE_METRIC_REGISTRY[e.metric].realized(w);
        expect(realized, `${e.metric} window ${k}`).toBeGreaterThanOrEqual(e.lowerBand);
        expect(realized, `${e.metric} window ${k}`).toBeLessThanOrEqual(e.upperBand);
        if (e.metric === 'roc_auc') estimates.push(e.estimated);
      }
    });
    const spread = Math.max(...estimates) - Math.min(...estimates);
    const band = estimateWindow(fit, calibratedWindow(5_000, SHIFTS[0]!, 99))[0]!;
    expect(spread).toBeGreaterThan(4 * (band.upperBand - band.lowerBand));
  });
});
