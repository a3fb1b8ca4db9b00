import type { Task } from '../core/feature-schema.js';
import type { calibration } from '../core/metrics.js';
import type { CalibrationRecord } from './calibration.js';
import type { ChampionComparison, GateOutcome } from './gate.js';

/**
 * metrics.json: what one training run measured. The report (report.ts) renders it and the
 * trainer writes it; it lives apart from both so neither imports the other.
 */
export interface Metrics {
  task: Task;
  model_name: string;
  version: string;
  model: Record<string, unknown>;
  holdout: Record<string, number>;
  /** One-sided 95% lower bounds of the headline metrics on the holdout (what the gate checks). */
  holdout_lower_bounds?: Record<string, number> | undefined;
  baseline: Record<string, number>;
  validation: Record<string, number>;
  linear_holdout: Record<string, number>;
  champion?: (ChampionComparison & { metric: string }) | undefined;
  /** Reliability bins of the holdout probabilities as served (calibrated). */
  calibration?: ReturnType<typeof calibration> | undefined;
  /** The same bins before calibration. */
  calibration_before?: ReturnType<typeof calibration> | undefined;
  /** The calibrator in the graph: method, parameters, the choice, quality before and after. */
  calibrator?: CalibrationRecord | undefined;
  gate: GateOutcome;
  onnx_parity: { max_abs_diff: number; rows: number; tolerance: number };
  rows: Record<string, number>;
  /** Each split's time span; empty when the data has no time column. */
  periods: Record<string, { from: string; to: string }>;
  /** What the data stage decided on its own (absent in documents written before it was recorded). */
  data?:
    | {
        split: { method: string; reason: string; seed: number };
        time_column: string | null;
        target: {
          name: string;
          positive_class?: string;
          negative_class?: string;
          rows_without_target: number;
        };
        notes: string[];
      }
    | undefined;
  feature_importance: { feature: string; gain_share: number }[];
  training_seconds: number;
  total_seconds: number;
}

/** The headline metric of a task: what the gate, the status and the champion comparison use. */
export function headlineMetric(task: Task): 'roc_auc' | 'rmse' {
  return task === 'binary-classification' ? 'roc_auc' : 'rmse';
}
