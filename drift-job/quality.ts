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
  let metrics: Record<string, number> = {};
  if (keep.length > 0) {
    if (input.task === 'binary-classification') {
      const threshold = input.holdout.threshold ?? 0.5;
      const m = classificationMetrics(labels, scores, threshold);
      metrics = {
        roc_auc: m.roc_auc,
        accuracy: m.accuracy,
        precision: m.precision,
        recall: m.recall,
        f1: m.f1,
        log_loss: m.log_loss,
        positive_rate: m.positive_rate,
        threshold,
      };
    } else {
      const m = regressionMetrics(labels, scores);
      metrics = { rmse: m.rmse, mae: m.mae, r2: m.r2 };
    }
  }
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
