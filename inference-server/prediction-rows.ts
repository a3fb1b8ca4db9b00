import type { FeatureRecord } from '../core/feature-schema.js';
import type { PredictionLogRow } from '../core/prediction-log.js';
import type { Role } from './challenger.js';
import type { ServerMetrics } from './metrics.js';
import type { LoadedModel, PredictionOutputs } from './model.js';

/** A batch record's logged request id: the request's id and the record's index. */
export function recordRequestId(requestId: string, index: number): string {
  return `${requestId}:${index}`;
}

/**
 * The prediction log rows of one model's outputs for a request: one row under the request id
 * for /predict, one per record under `<id>:<index>` for /predict_batch.
 */
export function predictionRows(
  model: LoadedModel,
  request: { id: string; batch: boolean },
  records: readonly FeatureRecord[],
  out: PredictionOutputs,
  latencyMs: number,
): PredictionLogRow[] {
  const createdAt = Date.now();
  const rows: PredictionLogRow[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    rows[i] = {
      namespace: model.namespace,
      modelName: model.name,
      modelVersion: model.version,
      requestId: request.batch ? recordRequestId(request.id, i) : request.id,
      features: records[i]!,
      prediction: out.predictions[i]!,
      probability: out.probabilities ? out.probabilities[i]! : null,
      latencyMs,
      createdAt,
    };
  }
  return rows;
}

/** Counts predictions by class (one counter update per class) and observes their distribution. */
export function countPredictions(
  metrics: ServerMetrics,
  version: string,
  role: Role,
  out: PredictionOutputs,
): void {
  const { predictions, probabilities } = out;
  if (!probabilities) {
    metrics.predictions.inc({ model_version: version, class: 'value', role }, predictions.length);
    metrics.predictionValue.observeMany(version, predictions);
    return;
  }
  let positives = 0;
  for (const p of predictions) if (p === 1) positives++;
  if (positives > 0) metrics.predictions.inc({ model_version: version, class: '1', role }, positives);
  const negatives = predictions.length - positives;
  if (negatives > 0) metrics.predictions.inc({ model_version: version, class: '0', role }, negatives);
  metrics.probability.observeMany(version, probabilities);
}
