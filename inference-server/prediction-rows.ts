import { randomUUID } from 'node:crypto';
import type { FeatureRecord } from '../core/feature-schema.js';
import type { PredictionLogRow } from '../core/prediction-log.js';
import type { Role } from './challenger.js';
import type { ServerMetrics } from './metrics.js';
import type { LoadedModel, PredictionOutputs } from './model.js';

/** What identifies the records of one request in the log. */
export interface RequestIds {
  /** The caller's X-Request-Id (or the id generated for a request without one): an attribute. */
  id: string;
  batch: boolean;
  /** The server's id of each record's prediction, in record order. */
  predictionIds: readonly string[];
}

/** New prediction ids for `n` records: random UUIDs, made by the server, unguessable by callers. */
export function newPredictionIds(n: number): string[] {
  const ids = new Array<string>(n);
  for (let i = 0; i < n; i++) ids[i] = randomUUID();
  return ids;
}

/**
 * The prediction log rows of one model's outputs for a request: one per record, under the
 * server's prediction id, with the request id (and for /predict_batch the record's index) as
 * attributes.
 */
export function predictionRows(
  model: LoadedModel,
  request: RequestIds,
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
      predictionId: request.predictionIds[i]!,
      requestId: request.id,
      recordIndex: request.batch ? i : null,
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
