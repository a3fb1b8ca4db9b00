import { openApiDocument } from './api.js';
import type { LoadedModel } from './model.js';
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
