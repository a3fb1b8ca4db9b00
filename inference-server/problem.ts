import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { FieldIssue } from '../core/feature-schema.js';

/** RFC 9457 problem details: every error the server returns has this shape. */
export const Problem = z
  .object({
    type: z.string().describe('A URN naming the kind of problem, e.g. urn:mlcycle:problem:invalid-record.'),
    title: z.string().describe('Short summary of the kind of problem.'),
    status: z.number().int().describe('The HTTP status code.'),
    detail: z.string().describe('What went wrong in this request.'),
    errors: z
      .array(
        z.object({
          field: z
            .string()
            .describe('The bad field: `origin`, or `3.origin` for the fourth record of a batch.'),
          message: z.string(),
        }),
      )
      .optional()
      .describe('One entry per bad field (validation problems).'),
    errors_truncated: z.number().int().optional().describe('How many further issues were not listed.'),
    request_id: z.string().optional(),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof Problem>;

export type ProblemKind =
  | 'invalid-record'
  | 'invalid-body'
  | 'malformed-json'
  | 'body-too-large'
  | 'unsupported-media-type'
  | 'batch-too-large'
  | 'invalid-request-id'
  | 'not-found'
  | 'method-not-allowed'
  | 'unknown-prediction-id'
  | 'feedback-off'
  | 'service-unavailable'
  | 'unauthorized'
  | 'internal';

const TITLES: Record<ProblemKind, string> = {
  'invalid-record': 'The record does not match the feature schema',
  'invalid-body': 'The request body is not what this endpoint takes',
  'malformed-json': 'The request body is not valid JSON',
  'body-too-large': 'The request body is too large',
  'unsupported-media-type': 'Unsupported content type',
  'batch-too-large': 'Too many records in one batch',
  'invalid-request-id': 'Invalid X-Request-Id header',
  'not-found': 'Not found',
  'method-not-allowed': 'Method not allowed',
  'unknown-prediction-id': 'No prediction was logged under this prediction id',
  'feedback-off': 'Feedback is off on this server',
  'service-unavailable': 'Service unavailable',
  unauthorized: 'Unauthorized',
  internal: 'Internal error',
};

export function problem(
  kind: ProblemKind,
  status: number,
  detail: string,
  extra: { errors?: FieldIssue[]; requestId?: string } = {},
): Problem {
  const body: Problem = { type: `urn:mlcycle:problem:${kind}`, title: TITLES[kind], status, detail };
  if (extra.errors) {
    body.errors = extra.errors;
  }
  if (extra.requestId) body.request_id = extra.requestId;
  return body;
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).header('content-type', 'application/problem+json; charset=utf-8').send(body);
}
