import type { Task } from '../core/feature-schema.js';
import { classificationMetrics, regressionMetrics } from '../core/metrics.js';
import { judgeQuality, type QualityJudgement } from '../core/policy.js';

/**
 * Quality on delayed labels. The metrics are computed by the trainer's own functions, so the live
 * numbers and the holdout numbers they are compared with mean exactly the same thing.
 */
export interface QualityReport extends QualityJudgement {
  /** Every metric on the labelled rows (empty when there are none). */
  metrics: Record<string, number>;
  /** The holdout metrics recorded at registration (empty when unknown). */
  holdout: Record<string, number>;
}

export interface QualityInputs {
  task: Task;
  /** Labels (0/1 for classification), NaN where no label arrived. */
  labels: Float64Array;
  /** Probability of the positive class (classification) or the prediction (regression). */
  scores: Float64Array;
  holdout: Record<string, number>;
  metric: string;
  minLabels: number;
  tolerance: number;
}

export const DEFAULT_QUALITY_METRIC: Record<Task, string> = {
  'binary-classification': 'roc_auc',
  regression: 'rmse',
};

/** Metrics of the labelled rows of a window, and the verdict against the holdout. */
export function measureQuality(input: QualityInputs): QualityReport {
  const keep: number[] = [];
  for (let i = 0; i < input.labels.length; i++) {
    if (Number.isFinite(input.labels[i]!) && Number.isFinite(input.scores[i]!)) keep.push(i);
  }
  const labels = Float64Array.from(keep, (i) => input.labels[i]!);
  const scores = Float64Array.from(keep, (i) => input.scores[i]!);
  const metrics = keep.length > 0 ? windowMetrics(input.task, labels, scores, input.holdout.threshold) : {};
  const judgement = judgeQuality({
    metric: input.metric,
    value: metrics[input.metric],
    holdout: input.holdout[input.metric],
    labelledRows: keep.length,
    minLabels: input.minLabels,
    tolerance: input.tolerance,
  });
  return { ...judgement, metrics, holdout: input.holdout };
}

/**
 * Every metric of labelled scores, named as the trainer names its holdout metrics (the same
 * functions), so live, holdout, champion and challenger numbers mean the same thing.
 */
export function windowMetrics(
  task: Task,
  labels: Float64Array,
  scores: Float64Array,
  threshold = 0.5,
): Record<string, number> {
  if (task === 'binary-classification') {
    const m = classificationMetrics(labels, scores, threshold);
    return {
      roc_auc: m.roc_auc,
      accuracy: m.accuracy,
      precision: m.precision,
      recall: m.recall,
      f1: m.f1,
      log_loss: m.log_loss,
      positive_rate: m.positive_rate,
      threshold,
    };
  }
  const m = regressionMetrics(labels, scores);
  return { rmse: m.rmse, mae: m.mae, r2: m.r2 };
}
