/** Holdout metrics for the two tasks, plus the curves the report draws. */

export interface ClassificationMetrics {
  roc_auc: number;
  pr_auc: number;
  log_loss: number;
  brier: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  threshold: number;
  positive_rate: number;
  rows: number;
}

export interface RegressionMetrics {
  rmse: number;
  mae: number;
  r2: number;
  rows: number;
}

export interface CalibrationBin {
  lower: number;
  upper: number;
  mean_predicted: number;
  observed_rate: number;
  rows: number;
}

export interface Curves {
  roc: [number, number][];
  pr: [number, number][];
}

/** Rows sorted by descending score, for the ranking metrics. */
function byScoreDescending(scores: ArrayLike<number>): Uint32Array {
  return Uint32Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => scores[b]! - scores[a]! || a - b,
  );
}

/** ROC AUC with tied scores counted as half (the Mann–Whitney statistic). */
export function rocAuc(label: ArrayLike<number>, score: ArrayLike<number>): number {
  const order = byScoreDescending(score);
  let positives = 0;
  for (let i = 0; i < label.length; i++) positives += label[i]!;
  const negatives = label.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  // Walk groups of equal scores from the top; each negative beats nothing above it.
  let tp = 0;
  let area = 0;
  let k = 0;
  while (k < order.length) {
    const s = score[order[k]!]!;
    let groupPos = 0;
    let groupNeg = 0;
    while (k < order.length && score[order[k]!]! === s) {
      if (label[order[k]!]! > 0.5) groupPos++;
      else groupNeg++;
      k++;
    }
    area += groupNeg * (tp + groupPos / 2);
    tp += groupPos;
  }
  return area / (positives * negatives);
}

/** Average precision (area under the precision-recall curve, step-wise, ties grouped). */
export function averagePrecision(label: ArrayLike<number>, score: ArrayLike<number>): number {
  const order = byScoreDescending(score);
  let positives = 0;
  for (let i = 0; i < label.length; i++) positives += label[i]!;
  if (positives === 0) return Number.NaN;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  let k = 0;
  while (k < order.length) {
    const s = score[order[k]!]!;
    let groupPos = 0;
    while (k < order.length && score[order[k]!]! === s) {
      groupPos += label[order[k]!]! > 0.5 ? 1 : 0;
      seen++;
      k++;
    }
    tp += groupPos;
    ap += (groupPos / positives) * (tp / seen);
  }
  return ap;
}

export function classificationMetrics(
  label: ArrayLike<number>,
  probability: ArrayLike<number>,
  threshold: number,
): ClassificationMetrics {
  const n = label.length;
  let logLoss = 0;
  let brier = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const y = label[i]!;
    const p = Math.min(Math.max(probability[i]!, 1e-15), 1 - 1e-15);
    logLoss -= y > 0.5 ? Math.log(p) : Math.log(1 - p);
    brier += (probability[i]! - y) ** 2;
    const predicted = probability[i]! >= threshold;
    positives += y;
    if (predicted && y > 0.5) tp++;
    else if (predicted) fp++;
    else if (y > 0.5) fn++;
  }
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const tn = n - tp - fp - fn;
  return {
    roc_auc: rocAuc(label, probability),
    pr_auc: averagePrecision(label, probability),
    log_loss: logLoss / n,
    brier: brier / n,
    accuracy: (tp + tn) / n,
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    threshold,
    positive_rate: positives / n,
    rows: n,
  };
}

/** The probability threshold that maximises F1 (chosen on validation rows, never the holdout). */
export function bestF1Threshold(label: ArrayLike<number>, probability: ArrayLike<number>): number {
  const order = byScoreDescending(probability);
  let positives = 0;
  for (let i = 0; i < label.length; i++) positives += label[i]!;
  let tp = 0;
  let predicted = 0;
  let best = 0;
  let bestThreshold = 0.5;
  let k = 0;
  while (k < order.length) {
    const s = probability[order[k]!]!;
    while (k < order.length && probability[order[k]!]! === s) {
      tp += label[order[k]!]! > 0.5 ? 1 : 0;
      predicted++;
      k++;
    }
    const f1 = (2 * tp) / (predicted + positives);
    if (f1 > best) {
      best = f1;
      bestThreshold = s;
    }
  }
  // float32, because the graph compares its float32 probability with it.
  return Math.fround(bestThreshold);
}

export function calibration(
  label: ArrayLike<number>,
  probability: ArrayLike<number>,
  bins = 10,
): CalibrationBin[] {
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < label.length; i++) {
    const b = Math.min(bins - 1, Math.floor(probability[i]! * bins));
    sumP[b] = sumP[b]! + probability[i]!;
    sumY[b] = sumY[b]! + label[i]!;
    count[b] = count[b]! + 1;
  }
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    out.push({
      lower: b / bins,
      upper: (b + 1) / bins,
      mean_predicted: sumP[b]! / count[b]!,
      observed_rate: sumY[b]! / count[b]!,
      rows: count[b]!,
    });
  }
  return out;
}

/** ROC and PR curves, thinned to at most `points` points each. */
export function curves(label: ArrayLike<number>, score: ArrayLike<number>, points = 200): Curves {
  const order = byScoreDescending(score);
  let positives = 0;
  for (let i = 0; i < label.length; i++) positives += label[i]!;
  const negatives = label.length - positives;
  const roc: [number, number][] = [[0, 0]];
  const pr: [number, number][] = [];
  let tp = 0;
  let fp = 0;
  const every = Math.max(1, Math.floor(order.length / points));
  for (let k = 0; k < order.length; k++) {
    if (label[order[k]!]! > 0.5) tp++;
    else fp++;
    const last = k === order.length - 1;
    if (last || (k % every === 0 && score[order[k]!] !== score[order[k + 1]!])) {
      roc.push([negatives ? fp / negatives : 0, positives ? tp / positives : 0]);
      pr.push([positives ? tp / positives : 0, tp / (tp + fp)]);
    }
  }
  return { roc, pr };
}

export function regressionMetrics(
  label: ArrayLike<number>,
  prediction: ArrayLike<number>,
): RegressionMetrics {
  const n = label.length;
  let sse = 0;
  let sae = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += label[i]!;
  mean /= n;
  let sst = 0;
  for (let i = 0; i < n; i++) {
    const d = prediction[i]! - label[i]!;
    sse += d * d;
    sae += Math.abs(d);
    sst += (label[i]! - mean) ** 2;
  }
  return { rmse: Math.sqrt(sse / n), mae: sae / n, r2: sst > 0 ? 1 - sse / sst : 0, rows: n };
}
