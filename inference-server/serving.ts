import { openApiDocument } from './api.js';
import type { Challenger } from './challenger.js';
import type { LoadedModel } from './model.js';
import { createRecordValidator, type RecordValidator } from './validation.js';

/**
 * The champion being served with what is derived from it, and the challenger beside it if
 * any; replaced as a whole on a switch. A challenger has the champion's feature schema, so
 * the champion's validator and document hold for both.
 */
export interface Serving {
  model: LoadedModel;
  validator: RecordValidator;
  openapi: Record<string, unknown>;
  challenger?: Challenger | undefined;
}

export interface Limits {
  /** Most records in one /predict_batch. */
  batchMax: number;
  /** Most items in one /feedback array. */
  feedbackMax: number;
}

export function prepareServing(model: LoadedModel, limits: Limits, challenger?: Challenger): Serving {
  return {
    model,
    challenger,
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
