import { z } from 'zod';
import { buildRecordValidator, type FeatureSchema } from '../core/feature-schema.js';
import { Problem } from './problem.js';

/**
 * The HTTP API's bodies as zod schemas: the handlers validate with them, and /openapi.json is
 * generated from them (with the record schema of the model being served), so the document
 * cannot drift from what the server does.
 */

export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;
// Prediction ids are the server's UUIDs; rows logged before them carry their old request id
// (up to 128 characters plus a batch record's ':<index>').
const PREDICTION_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,160}$/;
export const RequestId = z
  .string()
  .regex(REQUEST_ID_PATTERN, 'expected 1-128 characters from A-Z a-z 0-9 . _ : @ -')
  .describe(
    "The caller's X-Request-Id, or a UUID generated when there was none. Kept with the logged predictions as an attribute; it identifies nothing: use prediction_id.",
  );
export const PredictionId = z
  .string()
  .describe(
    "The server's id of this prediction (a UUID), under which it is logged: what /feedback refers to.",
  );

const Prediction = z
  .number()
  .describe(
    'Binary classification: the predicted class (0 or 1) at the model threshold. Regression: the value.',
  );
const Probability = z
  .number()
  .min(0)
  .max(1)
  .describe('Probability of the positive class (classification only).');

export const PredictResponse = z
  .object({
    prediction_id: PredictionId,
    request_id: RequestId,
    model_name: z.string(),
    model_version: z.string(),
    prediction: Prediction,
    probability: Probability.optional(),
  })
  .meta({ id: 'PredictResponse' });
export type PredictResponse = z.infer<typeof PredictResponse>;

export const BatchResponse = z
  .object({
    request_id: RequestId,
    model_name: z.string(),
    model_version: z.string(),
    predictions: z
      .array(
        z.object({
          prediction_id: PredictionId,
          prediction: Prediction,
          probability: Probability.optional(),
        }),
      )
      .describe('One per record, in the order sent.'),
  })
  .meta({ id: 'BatchResponse' });
export type BatchResponse = z.infer<typeof BatchResponse>;

export const FeedbackItem = z
  .strictObject({
    prediction_id: z
      .string()
      .regex(PREDICTION_ID_PATTERN, 'expected a prediction id as /predict or /predict_batch returned it')
      .describe('The prediction_id that /predict or /predict_batch returned for the prediction.'),
    label: z
      .union([z.boolean(), z.number().finite()])
      .describe('The true outcome: true/false or 1/0 for classification, a number for regression.'),
    observed_at: z.iso
      .datetime({ offset: true, message: 'expected an ISO-8601 timestamp with offset or Z' })
      .optional()
      .describe('When the outcome was observed (default: now).'),
    correction: z
      .boolean()
      .optional()
      .describe(
        'true: replace the label already stored for this prediction (the replaced one stays in the label history). Without it the first label stands and a repeat is a `duplicate`.',
      ),
  })
  .meta({ id: 'FeedbackItem' });
export type FeedbackItem = z.infer<typeof FeedbackItem>;

export const FeedbackStatus = z
  .enum(['recorded', 'corrected', 'duplicate', 'unknown'])
  .describe(
    'recorded: the first label of this prediction, stored now; corrected: replaced the stored label (`correction: true`); duplicate: a label was already stored and stands; unknown: no prediction of this model was logged under this id (nothing stored).',
  );

export const FeedbackResult = z
  .object({ prediction_id: z.string(), status: FeedbackStatus })
  .meta({ id: 'FeedbackResult' });

export const FeedbackBatchResponse = z
  .object({
    results: z.array(FeedbackResult),
    recorded: z.number().int(),
    corrected: z.number().int(),
    duplicate: z.number().int(),
    unknown: z.number().int(),
  })
  .meta({ id: 'FeedbackBatchResponse' });

const ModelDescription = z.object({
  name: z.string(),
  version: z.string(),
  task: z.enum(['binary-classification', 'regression']),
  source: z.string(),
  loaded_at: z.string(),
  digests: z.record(z.string(), z.string()),
  metrics: z.record(z.string(), z.unknown()),
  schema: z.record(z.string(), z.unknown()).describe('The feature schema (schema.json).'),
});

export const ModelInfo = ModelDescription.extend({
  role: z.literal('champion'),
  challenger: ModelDescription.extend({
    mode: z.enum(['shadow', 'canary']),
    canary_share: z.number().describe('Share of request ids the challenger answers (0 in shadow mode).'),
  })
    .nullable()
    .describe('Another version beside the champion, scoring the same records; both are logged.'),
})
  .describe('The champion (the fields at the top level) and the challenger beside it, if any.')
  .meta({ id: 'ModelInfo' });

export const Readiness = z
  .object({
    ready: z.boolean(),
    model: z.object({ name: z.string(), version: z.string() }).nullable(),
    challenger: z.object({ version: z.string(), mode: z.enum(['shadow', 'canary']) }).nullable(),
    prediction_log: z.object({
      enabled: z.boolean().describe('false: this server logs no predictions (and takes no feedback).'),
      queue_depth: z.number().int(),
      in_flight_rows: z.number().int(),
      queue_max: z.number().int(),
      spilled_rows: z.number().int(),
      database_reachable: z.boolean(),
      last_error: z.string().nullable(),
    }),
    reasons: z.array(z.string()).describe('Why the server is not ready, when it is not.'),
  })
  .meta({ id: 'Readiness' });

const json = (schema: z.ZodType) => ({ 'application/json': { schema: toSchema(schema) } });
const problemContent = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

function toSchema(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    unrepresentable: 'any',
    io: 'input',
  }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** The OpenAPI 3.1 document for the model being served. */
export function openApiDocument(options: {
  schema: FeatureSchema;
  modelName: string;
  modelVersion: string;
  batchMax: number;
  feedbackMax: number;
}): Record<string, unknown> {
  const record = buildRecordValidator(options.schema).meta({
    id: 'Record',
    description: `One record for ${options.modelName} ${options.modelVersion}. Unknown fields are refused.`,
  });
  const requestIdHeader = {
    name: 'X-Request-Id',
    in: 'header',
    required: false,
    schema: toSchema(RequestId),
    description:
      'Your id for this request: kept with its logged predictions as an attribute (each prediction is identified by its prediction_id), and what decides which model answers under a canary, so a retry meets the same model.',
  };
  const answered = (description: string, content: Record<string, unknown>, single: boolean) => ({
    description,
    headers: {
      'x-mlcycle-model-version': {
        description:
          'The model version that answered: the champion, or a canary challenger for its share of request ids.',
        schema: { type: 'string' },
      },
      ...(single && {
        'x-mlcycle-prediction-id': {
          description: 'The prediction_id of the answer (also in the body): what /feedback refers to.',
          schema: { type: 'string' },
        },
      }),
    },
    content,
  });
  const commonErrors = {
    '400': problemContent('Malformed JSON, or a bad X-Request-Id.'),
    '413': problemContent('Body larger than the configured limit.'),
    '415': problemContent('Content type is not application/json.'),
    '422': problemContent('The body does not match the schema; `errors` names each bad field.'),
    '503': problemContent('Shutting down, or no model loaded.'),
  };
  return {
    openapi: '3.1.0',
    info: {
      title: `mlcycle inference server — ${options.modelName}`,
      version: options.modelVersion,
      description:
        'Predictions from one model version, strictly validated against its feature schema and logged.',
    },
    paths: {
      '/predict': {
        post: {
          summary: 'Predict one record',
          parameters: [requestIdHeader],
          requestBody: { required: true, content: json(record) },
          responses: {
            '200': answered('The prediction.', json(PredictResponse), true),
            ...commonErrors,
          },
        },
      },
      '/predict_batch': {
        post: {
          summary: `Predict up to ${options.batchMax} records, answered in order`,
          parameters: [requestIdHeader],
          requestBody: { required: true, content: json(z.array(record).min(1).max(options.batchMax)) },
          responses: {
            '200': answered('One prediction per record.', json(BatchResponse), false),
            ...commonErrors,
          },
        },
      },
      '/feedback': {
        post: {
          summary: 'Record true outcomes (delayed labels) for logged predictions',
          description:
            'Takes its own credential (the feedback token, from a Secret), not whatever lets callers reach /predict. Off (404) on a server started without one, or without a prediction log.',
          security: [{ feedbackToken: [] }],
          requestBody: {
            required: true,
            content: json(z.union([FeedbackItem, z.array(FeedbackItem).min(1).max(options.feedbackMax)])),
          },
          responses: {
            '200': {
              description: 'A single item: its result. An array: one result per item.',
              content: json(z.union([FeedbackResult, FeedbackBatchResponse])),
            },
            '401': {
              ...problemContent(
                'No valid feedback token in `Authorization: Bearer <token>`; nothing is read or stored.',
              ),
              headers: { 'www-authenticate': { schema: { type: 'string' } } },
            },
            '404': problemContent(
              'A single item whose prediction_id has no logged prediction; or feedback is off on this server.',
            ),
            ...commonErrors,
            '503': problemContent('Shutting down, or the database is not reachable (send again later).'),
          },
        },
      },
      '/v1/model': {
        get: {
          summary: 'The model being served, and the challenger beside it',
          responses: { '200': { description: 'Model', content: json(ModelInfo) } },
        },
      },
      '/healthz': {
        get: { summary: 'Liveness', responses: { '200': { description: 'The process is alive.' } } },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: model loaded and prediction log not overflowing',
          responses: {
            '200': { description: 'Ready', content: json(Readiness) },
            '503': { description: 'Not ready', content: json(Readiness) },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          responses: { '200': { description: 'text/plain exposition' } },
        },
      },
    },
    components: {
      schemas: { Problem: toSchema(Problem) },
      securitySchemes: {
        feedbackToken: {
          type: 'http',
          scheme: 'bearer',
          description: 'The feedback token (--feedback-token-file, a mounted Kubernetes Secret).',
        },
      },
    },
  };
}
