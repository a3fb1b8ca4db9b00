/**
 * Confidence-based performance estimation (CBPE) for a binary classifier, as NannyML documents and
 * implements it (NannyML 0.13, `performance_estimation/confidence_based`, `sampling_error/
 * binary_classification`, `thresholds`): with calibrated probabilities, a row predicted positive
 * with probability p is a true positive with probability p and a false positive with probability
 * 1 − p, so the expected confusion matrix of a window — and every metric built on it — follows
 * from the probabilities alone, before any label arrives.
 *
 * - Estimates: accuracy = (Σ_{ŷ=1} p + Σ_{ŷ=0} (1 − p)) / n; precision = TP / (TP + FP); recall =
 *   TP / (TP + FN); F1 = TP / (TP + (FP + FN)/2), with TP = Σ_{ŷ=1} p, FP = Σ_{ŷ=1} (1 − p), FN =
 *   Σ_{ŷ=0} p (0 when a denominator is 0). ROC AUC: rows by descending score, expected true and
 *   false positives as cumulative sums of p and 1 − p (rounded to 5 decimals, as NannyML does),
 *   the trapezoid area under the expected curve. The score that orders rows is the probability
 *   itself: mlcycle's probabilities are calibrated in the model graph, so the calibrated and the
 *   uncalibrated score NannyML distinguishes are the same column.
 * - Thresholds: the realized metric on reference chunks of `chunkRows` rows (the last, shorter
 *   chunk kept), mean ± 3 population standard deviations, clipped to [0, 1]. An estimate outside
 *   them is an alert.
 * - Sampling error (the band): a per-metric standard deviation taken from the reference, divided
 *   by √(n · fraction) for a window of n rows; the band is estimate ± 3 sampling errors, clipped to
 *   [0, 1]. ROC AUC's component comes from the Mann–Whitney view of AUC (NannyML's
 *   `auroc_sampling_error_components`, quirks included).
 *
 * One descriptor per metric, as the drift methods are registered; computation only, no rendering.
 */
import { ESTIMATE_METRICS } from '../../core/drift-settings.js';

/** The metrics CBPE estimates; the list is the CRD's (core/resources EstimateMetric). */
export const CBPE_METRICS = ESTIMATE_METRICS;
export type CbpeMetric = (typeof CBPE_METRICS)[number];

/** NannyML's default threshold and band width: 3 standard deviations. */
export const CBPE_STD_MULTIPLIER = 3;

/** One window's model outputs: calibrated probability of the positive class and the predicted label. */
export interface ModelOutputs {
  probability: Float64Array;
  /** 0 or 1. */
  prediction: Float64Array;
}

/** The reference: outputs with their labels. */
export interface LabelledOutputs extends ModelOutputs {
  target: Float64Array;
}

/** What a metric's sampling error is built from: std / √(n · fraction). */
export interface SamplingComponents {
  std: number;
  fraction: number;
}

export interface CbpeMetricDescriptor {
  name: CbpeMetric;
  /**
   * The expected value of the metric from calibrated probabilities, given the window's expected
   * confusion matrix (computed once per window) and, optionally, its probabilities sorted ascending.
   */
  estimate(o: ModelOutputs, expected: ExpectedConfusion, sortedProbability?: Float64Array): number;
  /** The metric on labels (NaN when it is undefined on them, e.g. a single class). */
  realized(o: LabelledOutputs): number;
  samplingComponents(reference: LabelledOutputs): SamplingComponents;
}

/** Expected confusion-matrix cells of the window. */
export interface ExpectedConfusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  rows: number;
}

export function expectedConfusion(o: ModelOutputs): ExpectedConfusion {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  const { probability: p, prediction: y } = o;
  for (let i = 0; i < p.length; i++) {
    if (y[i] === 1) {
      tp += p[i]!;
      fp += 1 - p[i]!;
    } else {
      fn += p[i]!;
      tn += 1 - p[i]!;
    }
  }
  return { tp, fp, tn, fn, rows: p.length };
}

/** Realized confusion counts from labels and predicted labels. */
function confusion(o: LabelledOutputs): ExpectedConfusion {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < o.target.length; i++) {
    const positive = o.prediction[i] === 1;
    const actual = o.target[i] === 1;
    if (positive && actual) tp++;
    else if (positive) fp++;
    else if (actual) fn++;
    else tn++;
  }
  return { tp, fp, tn, fn, rows: o.target.length };
}

const ratio = (a: number, b: number) => (b !== 0 ? a / b : 0);

/** Population standard deviation of values given as (value, count) pairs. */
function weightedStd(pairs: [number, number][]): number {
  let n = 0;
  let sum = 0;
  for (const [v, c] of pairs) {
    n += c;
    sum += v * c;
  }
  if (n === 0) return Number.NaN;
  const mean = sum / n;
  let ss = 0;
  for (const [v, c] of pairs) ss += c * (v - mean) ** 2;
  return Math.sqrt(ss / n);
}

function hasBothValues(a: Float64Array): boolean {
  for (let i = 1; i < a.length; i++) if (a[i] !== a[0]) return true;
  return false;
}

/** Probabilities of the positive and of the negative rows, each sorted ascending (native sorts). */
function sortedByClass(
  probability: Float64Array,
  target: Float64Array,
): { pos: Float64Array; neg: Float64Array } {
  let positives = 0;
  for (let i = 0; i < target.length; i++) if (target[i] === 1) positives++;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(target.length - positives);
  let a = 0;
  let b = 0;
  for (let i = 0; i < target.length; i++) {
    if (target[i] === 1) pos[a++] = probability[i]!;
    else neg[b++] = probability[i]!;
  }
  return { pos: pos.sort(), neg: neg.sort() };
}

/**
 * Realized ROC AUC (the Mann–Whitney statistic, ties counted half) by merging the two classes'
 * sorted scores: typed-array sorts instead of an index sort with a comparator.
 */
export function realizedRocAuc(probability: Float64Array, target: Float64Array): number {
  const { pos, neg } = sortedByClass(probability, target);
  if (pos.length === 0 || neg.length === 0) return Number.NaN;
  let below = 0;
  let tied = 0;
  let j = 0;
  let u = 0;
  let last = Number.NaN;
  for (let i = 0; i < pos.length; i++) {
    const p = pos[i]!;
    if (p !== last) {
      while (j < neg.length && neg[j]! < p) j++;
      below = j;
      let k = j;
      while (k < neg.length && neg[k] === p) k++;
      tied = k - j;
      last = p;
    }
    u += below + tied / 2;
  }
  return u / (pos.length * neg.length);
}

/**
 * Expected ROC AUC from calibrated probabilities. `sortedAscending` may be given when the caller
 * already sorted the finite probabilities (the drift statistics do), so a window is sorted once.
 */
export function estimateRocAuc(probability: Float64Array, sortedAscending?: Float64Array): number {
  const sorted = sortedAscending ?? Float64Array.from(probability).sort();
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  let tps = 0;
  let prevTpr = 0;
  let prevFpr = 0;
  // Totals first: the curve is normalised by its end point (summed in the walk's order, so the
  // last point of the walk is exactly the end point).
  let totalTp = 0;
  for (let k = 1; k <= n; k++) totalTp += sorted[n - k]!;
  const endTp = round5(totalTp);
  const endFp = round5(n - totalTp);
  if (endTp === 0 || endFp === 0) return Number.NaN;
  let area = 0;
  for (let k = 1; k <= n; k++) {
    tps += sorted[n - k]!;
    const tpr = round5(tps) / endTp;
    const fpr = round5(k - tps) / endFp;
    area += ((fpr - prevFpr) * (tpr + prevTpr)) / 2;
    prevTpr = tpr;
    prevFpr = fpr;
  }
  return area;
}

function round5(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}

/**
 * ROC AUC's sampling-error component: AUC as a Mann–Whitney statistic, each positive's share of
 * negatives ranked below it; its spread over the positives. Labels are flipped when positives are
 * the majority. (NannyML drops a positive ranked first — kept here for parity.)
 */
function aucComponents(reference: LabelledOutputs): SamplingComponents {
  let y = reference.target;
  let p = reference.probability;
  const n = y.length;
  let positives = 0;
  for (let i = 0; i < n; i++) positives += y[i]!;
  if (positives / n > 0.5) {
    y = y.map((v) => 1 - v);
    p = p.map((v) => 1 - v);
    positives = n - positives;
  }
  const { pos, neg } = sortedByClass(p, y);
  const negatives = n - positives;
  // The i-th positive's rank in the ascending order of all rows (negatives first among ties).
  const shares: [number, number][] = [];
  let j = 0;
  let i = 0;
  for (let k = 0; k < pos.length; k++) {
    while (j < neg.length && neg[j]! <= pos[k]!) j++;
    const rank = k + j;
    if (rank === 0) continue;
    shares.push([(rank - i) / negatives, 1]);
    i++;
  }
  return { std: weightedStd(shares), fraction: positives / n };
}

function accuracyComponents(reference: LabelledOutputs): SamplingComponents {
  const c = confusion(reference);
  return {
    std: weightedStd([
      [1, c.tp + c.tn],
      [0, c.fp + c.fn],
    ]),
    fraction: 1,
  };
}

/** Sampling error of a metric for a window of n rows. */
export function samplingError(c: SamplingComponents, rows: number): number {
  return c.std / Math.sqrt(rows * c.fraction);
}

/** Every CBPE metric; the keys are the names the drift report and the policy use. */
export const CBPE_METRIC_REGISTRY: { readonly [M in CbpeMetric]: CbpeMetricDescriptor & { name: M } } = {
  roc_auc: {
    name: 'roc_auc',
    estimate: (o, _c, sorted) => estimateRocAuc(o.probability, sorted),
    realized: (o) => realizedRocAuc(o.probability, o.target),
    samplingComponents: aucComponents,
  },
  accuracy: {
    name: 'accuracy',
    estimate: (_o, c) => ratio(c.tp + c.tn, c.rows),
    realized: (o) => {
      const c = confusion(o);
      return ratio(c.tp + c.tn, c.rows);
    },
    samplingComponents: accuracyComponents,
  },
  precision: {
    name: 'precision',
    estimate: (_o, c) => ratio(c.tp, c.tp + c.fp),
    realized: (o) => {
      const c = confusion(o);
      return c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : Number.NaN;
    },
    samplingComponents: (r) => {
      const c = confusion(r);
      return {
        std: weightedStd([
          [1, c.tp],
          [0, c.fp],
        ]),
        fraction: (c.tp + c.fp) / c.rows,
      };
    },
  },
  recall: {
    name: 'recall',
    estimate: (_o, c) => ratio(c.tp, c.tp + c.fn),
    realized: (o) => {
      const c = confusion(o);
      return c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : Number.NaN;
    },
    samplingComponents: (r) => {
      const c = confusion(r);
      return {
        std: weightedStd([
          [1, c.tp],
          [0, c.fn],
        ]),
        fraction: (c.tp + c.fn) / c.rows,
      };
    },
  },
  f1: {
    name: 'f1',
    estimate: (_o, c) => ratio(c.tp, c.tp + 0.5 * (c.fp + c.fn)),
    realized: (o) => {
      if (!hasBothValues(o.target) || !hasBothValues(o.prediction)) return Number.NaN;
      const c = confusion(o);
      return ratio(c.tp, c.tp + 0.5 * (c.fp + c.fn));
    },
    samplingComponents: (r) => {
      const c = confusion(r);
      const relevant = c.tp + c.fp + c.fn;
      if (relevant === 0) return { std: Number.NaN, fraction: 0 };
      // Each relevant row's share of F1, rescaled so their mean is F1's (NannyML's correction).
      const scale = relevant / ((c.fn + c.fp) * 0.5 + c.tp);
      return {
        std: weightedStd([
          [scale, c.tp],
          [0, c.fp + c.fn],
        ]),
        fraction: relevant / c.rows,
      };
    },
  },
};

export function cbpeMetric(name: CbpeMetric): CbpeMetricDescriptor {
  return CBPE_METRIC_REGISTRY[name];
}

export function isCbpeMetric(name: string): name is CbpeMetric {
  return (CBPE_METRICS as readonly string[]).includes(name);
}

/** What the reference fixes for one metric: the alert thresholds and the sampling-error components. */
export interface FittedMetric {
  metric: CbpeMetric;
  lowerThreshold: number | null;
  upperThreshold: number | null;
  components: SamplingComponents;
  /** The mean realized metric of the reference chunks (the thresholds' centre). */
  reference: number;
}

export interface CbpeFit {
  chunkRows: number;
  /** Reference chunks the thresholds were taken from. */
  chunks: number;
  metrics: FittedMetric[];
}

function usable(o: ModelOutputs & { target?: Float64Array }, i: number): boolean {
  const p = o.probability[i]!;
  const y = o.prediction[i]!;
  if (!(Number.isFinite(p) && (y === 0 || y === 1))) return false;
  return !o.target || o.target[i] === 0 || o.target[i] === 1;
}

/**
 * Rows with a finite probability, a 0/1 prediction and (for the reference) a 0/1 target; null when
 * every row is (the common case: no copy).
 */
export function usableRows(o: ModelOutputs & { target?: Float64Array }): Uint32Array | null {
  const n = o.probability.length;
  let count = 0;
  for (let i = 0; i < n; i++) if (usable(o, i)) count++;
  if (count === n) return null;
  const keep = new Uint32Array(count);
  let k = 0;
  for (let i = 0; i < n; i++) if (usable(o, i)) keep[k++] = i;
  return keep;
}

function slice<T extends ModelOutputs & { target?: Float64Array }>(o: T, start: number, end: number): T {
  const out: ModelOutputs & { target?: Float64Array } = {
    probability: o.probability.subarray(start, end),
    prediction: o.prediction.subarray(start, end),
  };
  if (o.target) out.target = o.target.subarray(start, end);
  return out as T;
}

function nanMeanStd(values: number[]): { mean: number; std: number } {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  const variance = finite.reduce((a, b) => a + (b - mean) ** 2, 0) / finite.length;
  return { mean, std: Math.sqrt(variance) };
}

/** Mean ± 3 std of the reference chunks' realized values, clipped to the metric's [0, 1] range. */
function thresholds(values: number[]): { lower: number | null; upper: number | null; mean: number } {
  const { mean, std } = nanMeanStd(values);
  if (!Number.isFinite(mean) || !Number.isFinite(std)) return { lower: null, upper: null, mean };
  let lower = mean - CBPE_STD_MULTIPLIER * std;
  let upper = mean + CBPE_STD_MULTIPLIER * std;
  if (lower <= 0) lower = 0;
  if (upper >= 1) upper = 1;
  return { lower, upper, mean };
}

/**
 * Fits CBPE on the reference (rows in their stored order): thresholds from chunks of `chunkRows`
 * rows, sampling-error components from all of it. The reference must hold usable rows only.
 */
export function fitCbpe(
  reference: LabelledOutputs,
  chunkRows: number,
  metrics: readonly CbpeMetric[] = CBPE_METRICS,
): CbpeFit {
  if (!Number.isInteger(chunkRows) || chunkRows < 1)
    throw new RangeError(`chunkRows must be a positive integer (got ${chunkRows})`);
  const n = reference.target.length;
  const chunks: LabelledOutputs[] = [];
  for (let start = 0; start < n; start += chunkRows)
    chunks.push(slice(reference, start, Math.min(n, start + chunkRows)));
  return {
    chunkRows,
    chunks: chunks.length,
    metrics: metrics.map((m) => {
      const d = CBPE_METRIC_REGISTRY[m];
      const t = thresholds(chunks.map((c) => d.realized(c)));
      return {
        metric: m,
        lowerThreshold: t.lower,
        upperThreshold: t.upper,
        components: d.samplingComponents(reference),
        reference: t.mean,
      };
    }),
  };
}

/** One metric's estimate for one window. */
export interface MetricEstimate {
  metric: CbpeMetric;
  estimated: number;
  samplingError: number;
  /** Estimate ± 3 sampling errors, clipped to [0, 1]. */
  lowerBand: number;
  upperBand: number;
  lowerThreshold: number | null;
  upperThreshold: number | null;
  /** The estimate is outside the thresholds (either side, as NannyML alerts). */
  alert: boolean;
  /** The estimate is below the lower threshold: quality is estimated to have fallen. */
  degraded: boolean;
}

/**
 * Estimates every fitted metric on a window of usable rows. `sortedProbability` (ascending) saves
 * ROC AUC a sort when the caller has one.
 */
export function estimateWindow(
  fit: CbpeFit,
  window: ModelOutputs,
  sortedProbability?: Float64Array,
): MetricEstimate[] {
  const rows = window.probability.length;
  const expected = expectedConfusion(window);
  return fit.metrics.map((f) => {
    const estimated = CBPE_METRIC_REGISTRY[f.metric].estimate(window, expected, sortedProbability);
    const se = samplingError(f.components, rows);
    const below = f.lowerThreshold !== null && estimated < f.lowerThreshold;
    const above = f.upperThreshold !== null && estimated > f.upperThreshold;
    return {
      metric: f.metric,
      estimated,
      samplingError: se,
      lowerBand: Math.max(0, estimated - CBPE_STD_MULTIPLIER * se),
      upperBand: Math.min(1, estimated + CBPE_STD_MULTIPLIER * se),
      lowerThreshold: f.lowerThreshold,
      upperThreshold: f.upperThreshold,
      alert: below || above,
      degraded: below,
    };
  });
}
