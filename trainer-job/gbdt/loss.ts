/** The two objectives: binary log-loss on raw scores (logits) and squared error. */
export type Objective = 'binary' | 'regression';

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The constant raw score that minimises the loss on `label`. */
export function initialScore(objective: Objective, label: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < label.length; i++) sum += label[i]!;
  const mean = label.length === 0 ? 0 : sum / label.length;
  if (objective === 'regression') return mean;
  const p = Math.min(Math.max(mean, 1e-12), 1 - 1e-12);
  return Math.log(p / (1 - p));
}

/** Fills gradients and hessians of the loss at `score` for every row. */
export function gradients(
  objective: Objective,
  label: Float64Array,
  score: Float64Array,
  grad: Float64Array,
  hess: Float64Array,
): void {
  if (objective === 'regression') {
    for (let i = 0; i < label.length; i++) {
      grad[i] = score[i]! - label[i]!;
      hess[i] = 1;
    }
    return;
  }
  for (let i = 0; i < label.length; i++) {
    const p = 1 / (1 + Math.exp(-score[i]!));
    grad[i] = p - label[i]!;
    hess[i] = Math.max(p * (1 - p), 1e-16);
  }
}

/** Mean loss (log-loss or squared error) of raw scores: the early-stopping criterion. */
export function meanLoss(objective: Objective, label: Float64Array, score: Float64Array): number {
  let total = 0;
  if (objective === 'regression') {
    for (let i = 0; i < label.length; i++) {
      const d = score[i]! - label[i]!;
      total += d * d;
    }
  } else {
    for (let i = 0; i < label.length; i++) {
      // log(1 + exp(-s)) for y = 1 and log(1 + exp(s)) for y = 0, written stably.
      const s = label[i]! > 0.5 ? score[i]! : -score[i]!;
      total += s > 0 ? Math.log1p(Math.exp(-s)) : -s + Math.log1p(Math.exp(s));
    }
  }
  return label.length === 0 ? 0 : total / label.length;
}
