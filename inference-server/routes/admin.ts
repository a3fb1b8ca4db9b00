import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { errorMessage, UserError } from '../../core/errors.js';
import { problem, sendProblem } from '../problem.js';
import type { ServerContext } from '../serving.js';

/**
 * POST /admin/model switches the served model without a restart (the demo's "the server
 * switches to v2"): the new model is loaded, verified and warmed while the old one keeps
 * serving, then swapped in at once. Only registered when an admin token is configured;
 * requests must carry `Authorization: Bearer <token>`. In a cluster a new version is a new
 * rollout instead.
 */
export const adminRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  const token = ctx.adminToken;
  const switchModel = ctx.switchModel;
  if (!token || !switchModel) return;
  const expected = Buffer.from(`Bearer ${token}`);
  app.post('/admin/model', async (request, reply) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return sendProblem(
        reply,
        problem('unauthorized', 401, 'a valid Authorization: Bearer <admin token> is required'),
      );
    }
    try {
      const serving = await switchModel(request.body);
      return { name: serving.model.name, version: serving.model.version, digests: serving.model.digests };
    } catch (err) {
      if (err instanceof UserError) {
        return sendProblem(reply, problem('invalid-body', 422, errorMessage(err)));
      }
      throw err;
    }
  });
};
