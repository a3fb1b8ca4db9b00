import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { errorMessage } from '../../core/errors.js';
import { fieldIssues } from '../../core/feature-schema.js';
import { type FeedbackItem, FeedbackItem as FeedbackItemSchema } from '../api.js';
import type { ServerContext } from '../context.js';
import { problem, sendProblem } from '../problem.js';
import { MAX_REPORTED_ISSUES } from '../validation.js';

type Status = 'recorded' | 'duplicate' | 'unknown';

/**
 * /feedback: true outcomes for logged predictions, into prediction_labels. Idempotent per
 * (model, request id): the first label stands and a repeat is answered `duplicate`. A request
 * id with no logged prediction (in PostgreSQL, or still queued in this process) is answered
 * `unknown` and not stored; a single unknown item is a 404.
 */
export const feedbackRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
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
    const parsed = parseItems(items, single, serving.model.task === 'binary-classification');
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
      // A request id repeated within one body is stored once; the later copies are duplicates.
      const status: Status = seen.has(item.request_id) ? 'duplicate' : statuses.get(item.request_id)!;
      seen.add(item.request_id);
      return { request_id: item.request_id, status };
    });
    const count = (s: Status) => results.filter((r) => r.status === s).length;
    for (const outcome of ['recorded', 'duplicate', 'unknown'] as const) {
      const n = count(outcome);
      if (n > 0) ctx.metrics.feedback.inc({ outcome }, n);
    }
    if (single) {
      const only = results[0]!;
      if (only.status === 'unknown') {
        return sendProblem(
          reply,
          problem(
            'unknown-request-id',
            404,
            `no prediction of ${serving.model.name} was logged under request id ${only.request_id}`,
          ),
        );
      }
      return only;
    }
    return { results, recorded: count('recorded'), duplicate: count('duplicate'), unknown: count('unknown') };
  });
};

type Parsed =
  | { ok: true; items: FeedbackItem[] }
  | { ok: false; issues: { field: string; message: string }[] };

function parseItems(items: unknown[], single: boolean, classification: boolean): Parsed {
  const out: FeedbackItem[] = [];
  const issues: { field: string; message: string }[] = [];
  items.forEach((item, i) => {
    const prefix = single ? '' : `${i}.`;
    const result = FeedbackItemSchema.safeParse(item);
    if (!result.success) {
      for (const issue of fieldIssues(result.error as z.ZodError, item)) {
        issues.push({
          field: issue.field === '(record)' ? (single ? '(body)' : String(i)) : prefix + issue.field,
          message: issue.message,
        });
      }
      return;
    }
    const label = result.data.label;
    if (classification && !(typeof label === 'boolean' || label === 0 || label === 1)) {
      issues.push({
        field: `${prefix}label`,
        message: 'expected true/false or 1/0 for a classification model',
      });
      return;
    }
    if (!classification && typeof label === 'boolean') {
      issues.push({ field: `${prefix}label`, message: 'expected a number for a regression model' });
      return;
    }
    out.push(result.data);
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, items: out };
}

/** Labels for the served model's logged requests, in its namespace only. */
async function record(
  ctx: ServerContext,
  model: { namespace: string; name: string },
  items: FeedbackItem[],
): Promise<Map<string, Status>> {
  const { namespace, name: modelName } = model;
  const first = new Map<string, FeedbackItem>();
  for (const item of items) if (!first.has(item.request_id)) first.set(item.request_id, item);
  const ids = [...first.keys()];
  const { rows } = await ctx.pool.query<{ request_id: string }>(
    `SELECT DISTINCT request_id FROM prediction_logs
     WHERE namespace = $1 AND model_name = $2 AND request_id = ANY($3::text[])`,
    [namespace, modelName, ids],
  );
  const known = new Set(rows.map((r) => r.request_id));
  const missing = new Set(ids.filter((id) => !known.has(id)));
  if (missing.size > 0) for (const id of ctx.writer.pendingRequestIds(modelName, missing)) known.add(id);
  const statuses = new Map<string, Status>(ids.map((id) => [id, known.has(id) ? 'duplicate' : 'unknown']));
  const toStore = ids.filter((id) => known.has(id)).map((id) => first.get(id)!);
  if (toStore.length > 0) {
    const now = new Date().toISOString();
    const inserted = await ctx.pool.query<{ request_id: string }>(
      `INSERT INTO prediction_labels (namespace, model_name, request_id, label, observed_at)
       SELECT $1, $2, request_id, label, observed_at FROM unnest($3::text[], $4::float8[], $5::timestamptz[])
         AS f(request_id, label, observed_at)
       ON CONFLICT (namespace, model_name, request_id) DO NOTHING
       RETURNING request_id`,
      [
        namespace,
        modelName,
        toStore.map((f) => f.request_id),
        toStore.map((f) => (typeof f.label === 'boolean' ? (f.label ? 1 : 0) : f.label)),
        toStore.map((f) => f.observed_at ?? now),
      ],
    );
    for (const row of inserted.rows) statuses.set(row.request_id, 'recorded');
  }
  return statuses;
}
