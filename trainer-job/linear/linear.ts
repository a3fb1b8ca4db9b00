import type { Objective } from '../gbdt/loss.js';

/**
 * A regularised linear (squared error) or logistic (log-loss) model on standardised features,
 * with missing values imputed by the training mean. Few features, so it is fitted exactly:
 * Newton's method (IRLS) for logistic, the normal equations for linear, both with L2.
 */
export interface LinearModel {
  objective: Objective;
  means: number[];
  scales: number[];
  weights: number[];
  intercept: number;
  l2: number;
}

export function fitLinear(
  features: readonly Float32Array[],
  label: Float64Array,
  objective: Objective,
  l2 = 1,
  iterations = 25,
): LinearModel {
  const f = features.length;
  const n = label.length;
  const means = features.map((col) => {
    let s = 0;
    let c = 0;
    for (const v of col) {
      if (Number.isNaN(v)) continue;
      s += v;
      c++;
    }
    return c ? s / c : 0;
  });
  const scales = features.map((col, j) => {
    let s = 0;
    let c = 0;
    for (const v of col) {
      if (Number.isNaN(v)) continue;
      s += (v - means[j]!) ** 2;
      c++;
    }
    const sd = c > 1 ? Math.sqrt(s / (c - 1)) : 0;
    return sd > 0 ? sd : 1;
  });
  const z = (j: number, i: number) => {
    const v = features[j]![i]!;
    return Number.isNaN(v) ? 0 : (v - means[j]!) / scales[j]!;
  };
  // Parameters: [intercept, w_1..w_f]; the intercept is not penalised.
  const d = f + 1;
  const beta = new Float64Array(d);
  const row = new Float64Array(d);
  const steps = objective === 'regression' ? 1 : iterations;
  for (let it = 0; it < steps; it++) {
    const grad = new Float64Array(d);
    const hess = new Float64Array(d * d);
    for (let i = 0; i < n; i++) {
      row[0] = 1;
      for (let j = 0; j < f; j++) row[j + 1] = z(j, i);
      let eta = 0;
      for (let j = 0; j < d; j++) eta += row[j]! * beta[j]!;
      let g: number;
      let h: number;
      if (objective === 'regression') {
        g = eta - label[i]!;
        h = 1;
      } else {
        const p = 1 / (1 + Math.exp(-eta));
        g = p - label[i]!;
        h = Math.max(p * (1 - p), 1e-12);
      }
      for (let a = 0; a < d; a++) {
        grad[a] = grad[a]! + g * row[a]!;
        const ha = h * row[a]!;
        for (let b = a; b < d; b++) hess[a * d + b] = hess[a * d + b]! + ha * row[b]!;
      }
    }
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) hess[a * d + b] = hess[b * d + a]!;
    for (let a = 1; a < d; a++) {
      grad[a] = grad[a]! + l2 * beta[a]!;
      hess[a * d + a] = hess[a * d + a]! + l2;
    }
    const step = solve(hess, grad, d);
    let change = 0;
    for (let a = 0; a < d; a++) {
      beta[a] = beta[a]! - step[a]!;
      change = Math.max(change, Math.abs(step[a]!));
    }
    if (change < 1e-10) break;
  }
  return { objective, means, scales, weights: Array.from(beta.subarray(1)), intercept: beta[0]!, l2 };
}

/** Raw scores (logits or values), computed in double as the exported graph does. */
export function linearRaw(
  model: LinearModel,
  features: readonly Float32Array[],
  numRows: number,
): Float64Array {
  const out = new Float64Array(numRows);
  for (let i = 0; i < numRows; i++) {
    let s = 0;
    for (let j = 0; j < model.weights.length; j++) {
      const v = features[j]![i]!;
      const x = Number.isNaN(v) ? model.means[j]! : v;
      s += ((x - model.means[j]!) / model.scales[j]!) * model.weights[j]!;
    }
    out[i] = s + model.intercept;
  }
  return out;
}

/** Solves A x = b by Gaussian elimination with partial pivoting (A is small and dense). */
function solve(matrix: Float64Array, rhs: Float64Array, d: number): Float64Array {
  const a = Float64Array.from(matrix);
  const b = Float64Array.from(rhs);
  for (let col = 0; col < d; col++) {
    let pivot = col;
    for (let r = col + 1; r < d; r++)
      if (Math.abs(a[r * d + col]!) > Math.abs(a[pivot * d + col]!)) pivot = r;
    if (Math.abs(a[pivot * d + col]!) < 1e-300) continue;
    if (pivot !== col) {
      for (let c = 0; c < d; c++) {
        const t = a[col * d + c]!;
        a[col * d + c] = a[pivot * d + c]!;
        a[pivot * d + c] = t;
      }
      const t = b[col]!;
      b[col] = b[pivot]!;
      b[pivot] = t;
    }
    for (let r = col + 1; r < d; r++) {
      const factor = a[r * d + col]! / a[col * d + col]!;
      if (factor === 0) continue;
      for (let c = col; c < d; c++) a[r * d + c] = a[r * d + c]! - factor * a[col * d + c]!;
      b[r] = b[r]! - factor * b[col]!;
    }
  }
  const x = new Float64Array(d);
  for (let r = d - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let c = r + 1; c < d; c++) s -= a[r * d + c]! * x[c]!;
    const diag = a[r * d + r]!;
    x[r] = Math.abs(diag) < 1e-300 ? 0 : s / diag;
  }
  return x;
}
