import type { Pool } from '../core/db/index.js';
import type { Logger } from '../core/log.js';
import { openApiDocument } from './api.js';
import type { ServerMetrics } from './metrics.js';
import type { LoadedModel } from './model.js';
import type { PredictionLogWriter } from './prediction-log-writer.js';
import { createRecordValidator, type RecordValidator } from './validation.js';

/** The model being served with what is derived from it; replaced as a whole on a switch. */
export interface Serving {
  model: LoadedModel;
  validator: RecordValidator;
  openapi: Record<string, unknown>;
}

export interface Limits {
  /** Most records in one /predict_batch. */
  batchMax: number;
  /** Most items in one /feedback array. */
  feedbackMax: number;
}

/** What the route plugins share. */
export interface ServerContext {
  /** Read once per request: a switch never mixes two models within one request. */
  serving(): Serving | undefined;
  closing(): boolean;
  writer: PredictionLogWriter;
  pool: Pool;
  metrics: ServerMetrics;
  log: Logger;
  limits: Limits;
  queueMax: number;
  spillEnabled: boolean;
  /** Loads and swaps in another model (admin route); undefined when switching is off. */
  switchModel?: ((body: unknown) => Promise<Serving>) | undefined;
  adminToken?: string | undefined;
}

export function prepareServing(model: LoadedModel, limits: Limits): Serving {
  return {
    model,
    validator: createRecordValidator(model.schema),
    openapi: openApiDocument({
      schema: model.schema,
      modelName: model.name,
      modelVersion: model.version,
      batchMax: limits.batchMax,
      feedbackMax: limits.feedbackMax,
    }),
  };
}
