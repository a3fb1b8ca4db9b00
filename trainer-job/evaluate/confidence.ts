import { Random } from '../random.js';

/**
 * How sure the holdout is that the model beats its trivial reference: a one-sided 95% lower
 * bound on the headline metric. On a small holdout (60 cars) a point estimate just above the
 * line is noise; the default gate asks for the bound, so a version passes only when the
 * holdout shows it is better than guessing.
 */

/** z of a one-sided 95% bound. */
const Z95 = 1.6448536269514722;
const RESAMPLES = 1000;

/**
 * Lower bound of holdout R² by the percentile bootstrap over rows (seeded): R² of each
 * resample against that resample's own mean.
 */
export function r2LowerBound(label: ArrayLike<number>, prediction: ArrayLike<number>, seed: number): number {
  const n = label.length;
  if (n < 2) return Number.NaN;
  const rng = new Random(seed);
  const draws = new Float64Array(RESAMPLES);
  const picks = new Uint32Array(n);
  for (let b = 0; b < RESAMPLES; b++) {
    let mean = 0;
    for (let i = 0; i < n; i++) {
      const k = Math.floor(rng.next() * n);
      picks[i] = k;
      mean += label[k]!;
    }
    mean /= n;
    let sse = 0;
    let sst = 0;
    for (let i = 0; i < n; i++) {
      const k = picks[i]!;
      sse += (label[k]! - prediction[k]!) ** 2;
      sst += (label[k]! - mean) ** 2;
    }
    // A resample with one distinct value says nothing about R²: count it as no skill.
    draws[b] = sst > 0 ? 1 - sse / sst : 0;
  }
  draws.sort();
  return draws[Math.floor(0.05 * RESAMPLES)]!;
}

/**
 * Lower bound of ROC AUC from its Hanley–McNeil standard error (normal approximation), which
 * needs only the AUC and the class counts, so it costs nothing on a large holdout.
 */
export function rocAucLowerBound(auc: number, label: ArrayLike<number>): number {
  let positives = 0;
  for (let i = 0; i < label.length; i++) positives += label[i]!;
  const negatives = label.length - positives;
  if (positives === 0 || negatives === 0 || !Number.isFinite(auc)) return Number.NaN;
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const variance =
    (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) /
    (positives * negatives);
  return auc - Z95 * Math.sqrt(Math.max(variance, 0));
}
