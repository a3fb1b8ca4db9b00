import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { FeatureRecord, FieldIssue } from '../../core/feature-schema.js';
import type { BatchResponse, PredictResponse } from '../api.js';
import { challengerAnswers, type Role } from '../challenger.js';
import type { ServerContext } from '../context.js';
import type { LoadedModel, PredictionOutputs } from '../model.js';
import { countPredictions, predictionRows, recordRequestId } from '../prediction-rows.js';
import { problem, sendProblem } from '../problem.js';
import type { Serving } from '../serving.js';
import { MAX_REPORTED_ISSUES } from '../validation.js';

/** Which model version answered: with a canary, the caller can tell without reading the body. */
export const MODEL_VERSION_HEADER = 'x-mlcycle-model-version';

/**
 * /predict and /predict_batch: validate strictly, run the model, queue the log rows, answer.
 * The log rows are queued before the answer is sent, so an acknowledged prediction is always
 * in the writer's hands (memory, then PostgreSQL or a spill file).
 */
export const predictRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  app.addHook('preValidation', skipIfClientGone);
  app.addHook('preValidation', requireValidRequestId);

  app.post('/predict', async (request, reply) => {
    const result = request.serving.validator.validate(request.body);
    if (!result.ok) {
      ctx.metrics.invalidRecords.inc({ route: '/predict' });
      return sendProblem(
        reply,
        invalid(result.issues, 'the record does not match the feature schema', request.id),
      );
    }
    const { model, out } = await answer(ctx, request, reply, [result.record], false);
    const body: PredictResponse = {
      request_id: request.id,
      model_name: model.name,
      model_version: model.version,
      prediction: out.predictions[0]!,
    };
    if (out.probabilities) body.probability = out.probabilities[0]!;
    return body;
  });

  app.post('/predict_batch', async (request, reply) => {
    const records = readBatch(ctx, request, reply);
    if (!records) return reply;
    const { model, out } = await answer(ctx, request, reply, records, true);
    return batchResponse(request.id, model, out);
  });
};

/**
 * Runs the model that answers this request (the champion, or a canary challenger for its
 * share of request ids) and queues its rows; with a challenger, the other model scores the
 * same records off the response path, logged under the same request ids.
 */
async function answer(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
  records: FeatureRecord[],
  batch: boolean,
): Promise<{ model: LoadedModel; out: PredictionOutputs }> {
  const { serving } = request;
  countUnseen(ctx, serving, records);
  const { challenger } = serving;
  const { model, role, out } = await predictAnswering(ctx, request, records);
  const ids = { id: request.id, batch };
  ctx.writer.add(predictionRows(model, ids, records, out, reply.elapsedTime));
  countPredictions(ctx.metrics, model.version, role, out);
  ctx.metrics.answered.inc({ role });
  reply.header(MODEL_VERSION_HEADER, model.version);
  // The model beside the answering one scores the same records off the response path — unless
  // it is a canary that just failed on them.
  if (challenger && !(role === 'champion' && challengerAnswers(challenger, request.id))) {
    ctx.offPath.schedule({
      model: role === 'challenger' ? serving.model : challenger.model,
      role: role === 'challenger' ? 'champion' : 'challenger',
      request: ids,
      records,
      arrivedAt: performance.now() - reply.elapsedTime,
    });
  }
  return { model, out };
}

/**
 * The answer: the champion's, or a canary challenger's for its share of request ids. A canary
 * that fails is not the caller's problem: the champion answers instead, and a metric and a log
 * line say so (the champion failing is a 500, as without a challenger).
 */
async function predictAnswering(
  ctx: ServerContext,
  request: FastifyRequest,
  records: FeatureRecord[],
): Promise<{ model: LoadedModel; role: Role; out: PredictionOutputs }> {
  const { challenger, model: champion } = request.serving;
  if (!challenger || !challengerAnswers(challenger, request.id)) {
    return { model: champion, role: 'champion', out: await champion.predict(records) };
  }
  try {
    return { model: challenger.model, role: 'challenger', out: await challenger.model.predict(records) };
  } catch (err) {
    ctx.metrics.canaryFallbacks.inc();
    request.log.warn(
      { err, challenger: challenger.model.version },
      'the canary challenger failed; the champion answers',
    );
    return { model: champion, role: 'champion', out: await champion.predict(records) };
  }
}

/** The batch's records, validated; undefined once a problem has been sent. */
function readBatch(
  ctx: ServerContext,
  request: FastifyRequest,
  reply: FastifyReply,
): FeatureRecord[] | undefined {
  const { body, id: requestId } = request;
  const refuse = (
    kind: 'invalid-body' | 'batch-too-large',
    status: number,
    detail: string,
    message?: string,
  ) => {
    const errors = message ? [{ field: '(body)', message }] : undefined;
    void sendProblem(reply, problem(kind, status, detail, { ...(errors && { errors }), requestId }));
    return undefined;
  };
  if (!Array.isArray(body)) {
    return refuse('invalid-body', 422, 'expected a JSON array of records', 'expected an array of records');
  }
  if (body.length === 0)
    return refuse('invalid-body', 422, 'the batch is empty', 'expected at least one record');
  if (body.length > ctx.limits.batchMax) {
    return refuse(
      'batch-too-large',
      413,
      `${body.length} records sent; at most ${ctx.limits.batchMax} per batch`,
    );
  }
  const records: FeatureRecord[] = new Array(body.length);
  let issues: FieldIssue[] | undefined;
  for (let i = 0; i < body.length; i++) {
    const result = request.serving.validator.validate(body[i], String(i));
    if (result.ok) records[i] = result.record;
    else {
      issues ??= [];
      issues.push(...result.issues);
    }
  }
  if (!issues) return records;
  ctx.metrics.invalidRecords.inc({ route: '/predict_batch' });
  const detail = 'records in the batch do not match the feature schema; none were predicted';
  void sendProblem(reply, invalid(issues, detail, requestId));
  return undefined;
}

function batchResponse(requestId: string, model: LoadedModel, out: PredictionOutputs): BatchResponse {
  const predictions: BatchResponse['predictions'] = new Array(out.predictions.length);
  for (let i = 0; i < predictions.length; i++) {
    const id = recordRequestId(requestId, i);
    const prediction = out.predictions[i]!;
    predictions[i] = out.probabilities
      ? { request_id: id, prediction, probability: out.probabilities[i]! }
      : { request_id: id, prediction };
  }
  return { request_id: requestId, model_name: model.name, model_version: model.version, predictions };
}

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
