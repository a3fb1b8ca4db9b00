import type { Column, Table } from '../core/dataset/index.js';
import type { FeatureSchema } from '../core/feature-schema.js';
import type { EstimateVerdict } from '../core/policy.js';
import {
  CBPE_METRICS,
  type CbpeMetric,
  estimateWindow,
  fitCbpe,
  isCbpeMetric,
  type LabelledOutputs,
  type MetricEstimate,
  type ModelOutputs,
  usableRows,
} from './stats/cbpe.js';
import { finiteSorted } from './stats/columns.js';

/**
 * Estimated quality of the window before its labels arrive: CBPE (drift-job/stats/cbpe.ts) on the
 * served, calibrated probabilities, fitted on the reference sample's outputs and labels.
 */
export interface PerformanceEstimate {
  verdict: EstimateVerdict;
  /** The metric the verdict is on. */
  metric: CbpeMetric;
  method: 'cbpe';
  /** Every estimated metric (empty when nothing was estimated). */
  metrics: MetricEstimate[];
  /** Rows of the window the estimate used. */
  rows: number;
  /** Reference chunk size the thresholds come from, and how many chunks. */
  chunkRows: number | null;
  referenceChunks: number | null;
  reason: string;
}

export interface EstimateOptions {
  schema: FeatureSchema;
  /** The metric of the verdict; a metric CBPE cannot estimate (log_loss, …) falls back to roc_auc. */
  metric: string | undefined;
  minRows: number;
}

/** At least this many reference chunks for the thresholds' standard deviation. */
export const MIN_REFERENCE_CHUNKS = 10;

function numeric(column: Column | undefined, rows: number): Float64Array {
  if (!column || column.kind === 'string') return new Float64Array(rows).fill(Number.NaN);
  return column.values;
}

/** The usable rows of a column (all of it, uncopied, when `rows` is null). */
function take(values: Float64Array, rows: Uint32Array | null): Float64Array {
  return rows === null ? values : Float64Array.from(rows, (i) => values[i]!);
}

const count = (rows: Uint32Array | null, all: number) => (rows === null ? all : rows.length);

function outputs(table: Table): ModelOutputs {
  return {
    probability: numeric(table.columns.probability, table.numRows),
    prediction: numeric(table.columns.prediction, table.numRows),
  };
}

function notEstimated(metric: CbpeMetric, verdict: EstimateVerdict, reason: string): PerformanceEstimate {
  return {
    verdict,
    metric,
    method: 'cbpe',
    metrics: [],
    rows: 0,
    chunkRows: null,
    referenceChunks: null,
    reason,
  };
}

/**
 * The reference chunk size: the window's size, so thresholds reflect the spread of a window like
 * this one — unless the reference holds fewer than ten such chunks; then a tenth of the
 * reference (wider thresholds: fewer, surer alerts).
 */
export function referenceChunkRows(referenceRows: number, windowRows: number): number {
  return Math.max(1, Math.min(windowRows, Math.floor(referenceRows / MIN_REFERENCE_CHUNKS)));
}

/** CBPE on the window, or why there is no estimate. Pure computation. */
export function estimatePerformance(
  reference: Table,
  current: Table,
  options: EstimateOptions,
): PerformanceEstimate {
  const metric: CbpeMetric = options.metric && isCbpeMetric(options.metric) ? options.metric : 'roc_auc';
  if (options.schema.task !== 'binary-classification') {
    return notEstimated(
      metric,
      'NotEvaluated',
      'estimation before labels is for binary classifiers (CBPE); regression (direct loss estimation) is not built yet',
    );
  }
  const target = reference.columns[options.schema.target.name];
  if (!reference.columns.probability || !reference.columns.prediction || !target) {
    return notEstimated(
      metric,
      'NotEvaluated',
      `the reference has no probability, prediction and ${options.schema.target.name} columns to fit the estimate on`,
    );
  }
  const ref = outputs(reference);
  const refLabelled = { ...ref, target: numeric(target, reference.numRows) };
  const refRows = usableRows(refLabelled);
  const fitOn: LabelledOutputs = {
    probability: take(ref.probability, refRows),
    prediction: take(ref.prediction, refRows),
    target: take(refLabelled.target, refRows),
  };
  const cur = outputs(current);
  const curRows = usableRows(cur);
  const curCount = count(curRows, current.numRows);
  const refCount = count(refRows, reference.numRows);
  if (curCount < options.minRows) {
    return notEstimated(
      metric,
      'InsufficientData',
      `${curCount} rows with a probability, fewer than the ${options.minRows} needed for an estimate`,
    );
  }
  if (refCount < 2 * MIN_REFERENCE_CHUNKS) {
    return notEstimated(metric, 'NotEvaluated', `${refCount} usable reference rows: too few to fit on`);
  }
  const chunkRows = referenceChunkRows(refCount, curCount);
  const fit = fitCbpe(fitOn, chunkRows, CBPE_METRICS);
  const window = { probability: take(cur.probability, curRows), prediction: take(cur.prediction, curRows) };
  // The drift statistics sorted the probabilities already (memoised): ROC AUC reuses that sort
  // when every row was usable.
  const column = current.columns.probability;
  const sorted = column && curRows === null ? finiteSorted(column).values : undefined;
  const metrics = estimateWindow(fit, window, sorted?.length === curCount ? sorted : undefined);
  const chosen = metrics.find((m) => m.metric === metric)!;
  return {
    verdict: chosen.degraded ? 'Degraded' : 'Ok',
    metric,
    method: 'cbpe',
    metrics,
    rows: curCount,
    chunkRows,
    referenceChunks: fit.chunks,
    reason: estimateReason(chosen, chunkRows),
  };
}

function estimateReason(m: MetricEstimate, chunkRows: number): string {
  const value = m.estimated.toFixed(4);
  const lower = m.lowerThreshold === null ? 'none' : m.lowerThreshold.toFixed(4);
  const band = `band ${m.lowerBand.toFixed(4)}–${m.upperBand.toFixed(4)}`;
  const where = m.degraded ? 'below' : 'not below';
  return `estimated ${m.metric} ${value} (${band}) is ${where} the lower threshold ${lower} (reference chunks of ${chunkRows} rows)`;
}
