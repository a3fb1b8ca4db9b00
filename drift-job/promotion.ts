import type { Pool } from '../core/db/index.js';
import { ConfigError } from '../core/errors.js';
import type { Task } from '../core/feature-schema.js';
import { METRIC_DIRECTION, type PromotionEvidence } from '../core/policy.js';
import { readPairedLabels } from '../core/prediction-log.js';
import { DEFAULT_QUALITY_METRIC, windowMetrics } from './quality.js';

export interface PromotionQuery {
  namespace: string;
  modelName: string;
  /** Registry versions as logged. */
  champion: string;
  challenger: string;
  window: { since: Date; until: Date };
  task: Task;
  /** The champion's decision threshold (classification); the metrics that need one use it for both. */
  threshold: number | undefined;
  metric: string | undefined;
  margin: number;
  minLabels: number;
}

/**
 * The evidence a promotion is decided on: champion and challenger measured with the same metric
 * on the same labelled requests of the window — the requests both scored (shadow or canary),
 * each under its own model version — never on two different samples.
 */
export async function measurePromotion(pool: Pool, q: PromotionQuery): Promise<PromotionEvidence> {
  const metric = q.metric ?? DEFAULT_QUALITY_METRIC[q.task];
  // An unknown metric is a configuration error, said before any query.
  if (!(metric in METRIC_DIRECTION))
    throw new ConfigError(
      `--promotion-metric ${metric} is not one of ${Object.keys(METRIC_DIRECTION).join(', ')}`,
    );
  const paired = await readPairedLabels(pool, {
    namespace: q.namespace,
    modelName: q.modelName,
    champion: q.champion,
    challenger: q.challenger,
    ...q.window,
  });
  const scores = (side: typeof paired.champion) =>
    q.task === 'binary-classification' ? side.probability : side.prediction;
  const keep: number[] = [];
  const champion = scores(paired.champion);
  const challenger = scores(paired.challenger);
  for (let i = 0; i < paired.label.length; i++) {
    if ([paired.label[i], champion[i], challenger[i]].every((v) => Number.isFinite(v))) keep.push(i);
  }
  const pick = (a: Float64Array) => Float64Array.from(keep, (i) => a[i] as number);
  const measure = (s: Float64Array) =>
    keep.length > 0 ? windowMetrics(q.task, pick(paired.label), pick(s), q.threshold)[metric] : undefined;
  return {
    challenger: q.challenger,
    metric,
    champion: measure(champion),
    challengerValue: measure(challenger),
    labelledRows: keep.length,
    minLabels: q.minLabels,
    margin: q.margin,
  };
}
