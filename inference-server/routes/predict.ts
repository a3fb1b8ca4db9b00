import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { FeatureRecord, FieldIssue } from '../../core/feature-schema.js';
import type { PredictionLogRow } from '../../core/prediction-log.js';
import type { BatchResponse, PredictResponse } from '../api.js';
import type { ServerContext } from '../context.js';
import { problem, sendProblem } from '../problem.js';
import type { Serving } from '../serving.js';
import { MAX_REPORTED_ISSUES } from '../validation.js';

/**
 * /predict and /predict_batch: validate strictly, run the model, queue the log rows, answer.
 * The log rows are queued before the answer is sent, so an acknowledged prediction is always
 * in the writer's hands (memory, then PostgreSQL or a spill file).
 */
export const predictRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  app.addHook('preValidation', skipIfClientGone);
  app.addHook('preValidation', requireValidRequestId);

  app.post('/predict', async (request, reply) => {
    const { serving, id: requestId } = request;
    const result = serving.validator.validate(request.body);
    if (!result.ok) {
      ctx.metrics.invalidRecords.inc({ route: '/predict' });
      return sendProblem(
        reply,
        invalid(result.issues, 'the record does not match the feature schema', requestId),
      );
    }
    countUnseen(ctx, serving, [result.record]);
    const { model } = serving;
    const out = await model.predict([result.record]);
    const prediction = out.predictions[0]!;
    const probability = out.probabilities ? out.probabilities[0]! : null;
    ctx.writer.add([
      {
        modelName: model.name,
        modelVersion: model.version,
        requestId,
        features: result.record,
        prediction,
        probability,
        latencyMs: reply.elapsedTime,
        createdAt: Date.now(),
      },
    ]);
    countPrediction(ctx, serving, prediction, probability);
    const body: PredictResponse = {
      request_id: requestId,
      model_name: model.name,
      model_version: model.version,
      prediction,
    };
    if (probability !== null) body.probability = probability;
    return body;
  });

  app.post('/predict_batch', async (request, reply) => {
    const { serving, id: requestId } = request;
    const body = request.body;
    if (!Array.isArray(body)) {
      return sendProblem(
        reply,
        problem('invalid-body', 422, 'expected a JSON array of records', {
          errors: [{ field: '(body)', message: 'expected an array of records' }],
          requestId,
        }),
      );
    }
    if (body.length === 0) {
      return sendProblem(
        reply,
        problem('invalid-body', 422, 'the batch is empty', {
          errors: [{ field: '(body)', message: 'expected at least one record' }],
          requestId,
        }),
      );
    }
    if (body.length > ctx.limits.batchMax) {
      return sendProblem(
        reply,
        problem(
          'batch-too-large',
          413,
          `${body.length} records sent; at most ${ctx.limits.batchMax} per batch`,
          {
            requestId,
          },
        ),
      );
    }
    const records: FeatureRecord[] = new Array(body.length);
    let issues: FieldIssue[] | undefined;
    for (let i = 0; i < body.length; i++) {
      const result = serving.validator.validate(body[i], String(i));
      if (result.ok) records[i] = result.record;
      else {
        issues ??= [];
        issues.push(...result.issues);
      }
    }
    if (issues) {
      ctx.metrics.invalidRecords.inc({ route: '/predict_batch' });
      return sendProblem(
        reply,
        invalid(
          issues,
          'records in the batch do not match the feature schema; none were predicted',
          requestId,
        ),
      );
    }
    countUnseen(ctx, serving, records);
    const { model } = serving;
    const out = await model.predict(records);
    const latencyMs = reply.elapsedTime;
    const createdAt = Date.now();
    const rows: PredictionLogRow[] = new Array(records.length);
    const predictions: BatchResponse['predictions'] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const id = `${requestId}:${i}`;
      const prediction = out.predictions[i]!;
      const probability = out.probabilities ? out.probabilities[i]! : null;
      rows[i] = {
        modelName: model.name,
        modelVersion: model.version,
        requestId: id,
        features: records[i]!,
        prediction,
        probability,
        latencyMs,
        createdAt,
      };
      predictions[i] =
        probability === null ? { request_id: id, prediction } : { request_id: id, prediction, probability };
    }
    countPredictions(ctx, serving, out.predictions, out.probabilities);
    ctx.writer.add(rows);
    const response: BatchResponse = {
      request_id: requestId,
      model_name: model.name,
      model_version: model.version,
      predictions,
    };
    return response;
  });
};

/**
 * The connection closed before the handler ran (the client timed out or stopped while the
 * request waited): nobody can receive the answer, so no prediction is made or logged.
 */
async function skipIfClientGone(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.raw.socket?.destroyed === true) reply.hijack();
}

/**
 * `request.id` is the X-Request-Id header when it is valid (see requestIdFromHeader); a header
 * that is present but invalid is refused rather than replaced.
 */
async function requireValidRequestId(request: FastifyRequest, reply: FastifyReply) {
  const header = request.headers['x-request-id'];
  if (header === undefined || header === request.id) return;
  return sendProblem(
    reply,
    problem('invalid-request-id', 400, 'X-Request-Id must be 1-128 characters from A-Z a-z 0-9 . _ : @ -', {
      errors: [{ field: 'X-Request-Id', message: 'expected 1-128 characters from A-Z a-z 0-9 . _ : @ -' }],
    }),
  );
}

function invalid(issues: FieldIssue[], detail: string, requestId: string) {
  const listed = issues.slice(0, MAX_REPORTED_ISSUES);
  const body = problem('invalid-record', 422, detail, { errors: listed, requestId });
  if (issues.length > listed.length) body.errors_truncated = issues.length - listed.length;
  return body;
}

function countUnseen(ctx: ServerContext, serving: Serving, records: readonly FeatureRecord[]): void {
  for (const [feature, levels] of serving.validator.categoryLevels) {
    let unseen = 0;
    for (const record of records) {
      const v = record[feature];
      if (typeof v === 'string' && !levels.has(v)) unseen++;
    }
    if (unseen > 0) ctx.metrics.unseenCategories.inc({ feature }, unseen);
  }
}

/** Batch form of countPrediction: one counter update per class, one histogram child. */
function countPredictions(
  ctx: ServerContext,
  serving: Serving,
  predictions: Float64Array,
  probabilities: Float32Array | undefined,
) {
  const version = serving.model.version;
  if (!probabilities) {
    ctx.metrics.predictions.inc({ model_version: version, class: 'value' }, predictions.length);
    ctx.metrics.predictionValue.observeMany(version, predictions);
    return;
  }
  let positives = 0;
  for (const p of predictions) if (p === 1) positives++;
  if (positives > 0) ctx.metrics.predictions.inc({ model_version: version, class: '1' }, positives);
  const negatives = predictions.length - positives;
  if (negatives > 0) ctx.metrics.predictions.inc({ model_version: version, class: '0' }, negatives);
  ctx.metrics.probability.observeMany(version, probabilities);
}

function countPrediction(
  ctx: ServerContext,
  serving: Serving,
  prediction: number,
  probability: number | null,
) {
  const version = serving.model.version;
  if (probability === null) {
    ctx.metrics.predictions.inc({ model_version: version, class: 'value' });
    ctx.metrics.predictionValue.observeMany(version, [prediction]);
  } else {
    ctx.metrics.predictions.inc({ model_version: version, class: String(prediction) });
    ctx.metrics.probability.observeMany(version, [probability]);
  }
}
