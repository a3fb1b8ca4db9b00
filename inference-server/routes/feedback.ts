import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { z } from 'zod';
import { errorMessage } from '../../core/errors.js';
import { fieldIssues, type Task } from '../../core/feature-schema.js';
import { type LabelOutcome, loggedPredictionIds, storeLabels } from '../../core/prediction-log.js';
import { FEEDBACK_ITEMS, type FeedbackItem } from '../api.js';
import type { ServerContext } from '../context.js';
import type { BearerCredential } from '../credential.js';
import { problem, sendProblem } from '../problem.js';
import { MAX_REPORTED_ISSUES } from '../validation.js';

type Status = LabelOutcome | 'unknown';
const STATUSES: readonly Status[] = ['recorded', 'corrected', 'duplicate', 'unknown'];

/**
 * /feedback: true outcomes for logged predictions, keyed by the server's prediction id, into
 * prediction_labels. It takes a credential of its own (`Authorization: Bearer <feedback
 * token>`), distinct from whatever lets callers reach /predict: labels decide rollbacks, so
 * whoever may send them is a deliberate choice. Without a token (or without a prediction log)
 * feedback is off. A request without the token is refused before its body is read.
 *
 * The first label of a prediction stands and a repeat is `duplicate`; an item with
 * `correction: true` replaces it (`corrected`), and every accepted label stays in
 * prediction_label_history. An id with no logged prediction (in PostgreSQL, or still queued in
 * this process) is `unknown` and not stored; a single unknown item is a 404.
 */
export const feedbackRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const off = feedbackOff(ctx);
  if (off) {
    app.post('/feedback', async (_request, reply) => sendProblem(reply, problem('feedback-off', 404, off)));
    return;
  }
  const credential = ctx.feedbackCredential!;
  app.addHook('onRequest', async (request, reply) => {
    if (!credential.accepts(request.headers.authorization)) {
      ctx.metrics.feedback.inc({ outcome: 'unauthorized' });
      return unauthorized(reply, credential);
    }
  });

  app.post('/feedback', async (request, reply) => {
    const { serving } = request;
    const single = !Array.isArray(request.body);
    const items = single ? [request.body] : (request.body as unknown[]);
    if (items.length === 0 || items.length > ctx.limits.feedbackMax) {
      return sendProblem(
        reply,
        problem('invalid-body', 422, `send 1 to ${ctx.limits.feedbackMax} feedback items`, {
          errors: [
            {
              field: '(body)',
              message: `expected 1 to ${ctx.limits.feedbackMax} items, got ${items.length}`,
            },
          ],
        }),
      );
    }
    const parsed = parseItems(items, single, serving.model.task);
    if (!parsed.ok) {
      const body = problem('invalid-body', 422, 'the feedback does not match its schema', {
        errors: parsed.issues.slice(0, MAX_REPORTED_ISSUES),
      });
      if (parsed.issues.length > MAX_REPORTED_ISSUES)
        body.errors_truncated = parsed.issues.length - MAX_REPORTED_ISSUES;
      return sendProblem(reply, body);
    }
    let statuses: Map<string, Status>;
    try {
      statuses = await record(ctx, serving.model, parsed.items);
    } catch (err) {
      ctx.log.warn({ err: errorMessage(err) }, 'feedback could not be stored');
      return sendProblem(
        reply,
        problem('service-unavailable', 503, 'the database is not reachable; send the feedback again later'),
      );
    }
    const seen = new Set<string>();
    const results = parsed.items.map((item) => {
      // An id repeated within one body is stored once; the later copies are duplicates.
      const status: Status = seen.has(item.prediction_id) ? 'duplicate' : statuses.get(item.prediction_id)!;
      seen.add(item.prediction_id);
      return { prediction_id: item.prediction_id, status };
    });
    const count = (s: Status) => results.filter((r) => r.status === s).length;
    for (const outcome of STATUSES) {
      const n = count(outcome);
      if (n > 0) ctx.metrics.feedback.inc({ outcome }, n);
    }
    if (single) {
      const only = results[0]!;
      if (only.status === 'unknown') {
        return sendProblem(
          reply,
          problem(
            'unknown-prediction-id',
            404,
            `no prediction of ${serving.model.name} was logged under prediction id ${only.prediction_id}`,
          ),
        );
      }
      return only;
    }
    return {
      results,
      recorded: count('recorded'),
      corrected: count('corrected'),
      duplicate: count('duplicate'),
      unknown: count('unknown'),
    };
  });
};

/** Why feedback is off on this server, or undefined when it is on. */
function feedbackOff(ctx: ServerContext): string | undefined {
  if (!ctx.logging)
    return 'feedback is off: this server does not log predictions, so no label could join one';
  if (!ctx.feedbackCredential) {
    return 'feedback is off: this server was started without a feedback token (--feedback-token-file or --feedback-token)';
  }
  return undefined;
}

function unauthorized(reply: FastifyReply, credential: BearerCredential) {
  reply.header('www-authenticate', 'Bearer realm="mlcycle-feedback"');
  return sendProblem(
    reply,
    problem('unauthorized', 401, `a valid Authorization: Bearer <${credential.what}> is required`),
  );
}

type Parsed =
  | { ok: true; items: FeedbackItem[] }
  | { ok: false; issues: { field: string; message: string }[] };

function parseItems(items: unknown[], single: boolean, task: Task): Parsed {
  const schema = FEEDBACK_ITEMS[task];
  const out: FeedbackItem[] = [];
  const issues: { field: string; message: string }[] = [];
  items.forEach((item, i) => {
    const prefix = single ? '' : `${i}.`;
    const result = schema.safeParse(item);
    if (result.success) {
      out.push(result.data);
      return;
    }
    for (const issue of fieldIssues(result.error as z.ZodError, item)) {
      issues.push({
        field: issue.field === '(record)' ? (single ? '(body)' : String(i)) : prefix + issue.field,
        message: issue.message,
      });
    }
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, items: out };
}

/** Stores the labels of the items whose prediction was logged, in the model's namespace only; says what became of each id. */
async function record(
  ctx: ServerContext,
  model: { namespace: string; name: string },
  items: FeedbackItem[],
): Promise<Map<string, Status>> {
  const { namespace, name: modelName } = model;
  const ids = [...new Set(items.map((i) => i.prediction_id))];
  const known = await loggedPredictionIds(ctx.pool, namespace, modelName, ids);
  const missing = new Set(ids.filter((id) => !known.has(id)));
  if (missing.size > 0) for (const id of ctx.writer.pendingPredictionIds(modelName, missing)) known.add(id);
  const now = new Date();
  const stored = await storeLabels(
    ctx.pool,
    namespace,
    modelName,
    items
      .filter((f) => known.has(f.prediction_id))
      .map((f) => ({
        predictionId: f.prediction_id,
        label: typeof f.label === 'boolean' ? (f.label ? 1 : 0) : f.label,
        // As the instant it names: PostgreSQL takes offsets up to ±15:59 only (ISO-8601 up to
        // ±23:59), and year 0000 only written as 1 BC, which pg does for a Date.
        observedAt: f.observed_at ? new Date(f.observed_at) : now,
        correction: f.correction === true,
      })),
  );
  return new Map<string, Status>(ids.map((id) => [id, stored.get(id) ?? 'unknown']));
}
