import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { errorMessage, UserError } from '../../core/errors.js';
import type { ServerContext } from '../context.js';
import type { ModelSource } from '../model.js';
import { problem, sendProblem } from '../problem.js';

// What POST /admin/model takes: the same two kinds of source as the command line.
const SwitchBody = z.union([
  z.strictObject({
    location: z.string().min(1),
    model_name: z.string().optional(),
    model_version: z.string().optional(),
  }),
  z.strictObject({ model_name: z.string().min(1), model_version: z.string().min(1) }),
]);

/**
 * POST /admin/model switches the served model without a restart (the demo's "the server
 * switches to v2"): the new model is loaded, verified and warmed while the old one keeps
 * serving, then swapped in at once. Registered only with an admin token; every request in
 * this scope must carry `Authorization: Bearer <token>`. In a cluster a new version is a new
 * rollout instead.
 */
export const adminRoutes: FastifyPluginAsync<ServerContext & { adminToken: string }> = async (app, ctx) => {
  const expected = Buffer.from(`Bearer ${ctx.adminToken}`);
  app.addHook('onRequest', async (request, reply) => {
    const given = Buffer.from(request.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return sendProblem(
        reply,
        problem('unauthorized', 401, 'a valid Authorization: Bearer <admin token> is required'),
      );
    }
  });

  app.post('/admin/model', async (request, reply) => {
    try {
      const model = await ctx.models.switchChampion(switchSource(request.body));
      return { name: model.name, version: model.version, digests: model.digests };
    } catch (err) {
      if (err instanceof UserError) {
        return sendProblem(reply, problem('invalid-body', 422, errorMessage(err)));
      }
      throw err;
    }
  });
};

function switchSource(body: unknown): ModelSource {
  const parsed = SwitchBody.safeParse(body);
  if (!parsed.success) {
    throw new UserError(
      'expected {"location": "<dir or s3:// prefix>"} or {"model_name": "...", "model_version": "..."}',
    );
  }
  const b = parsed.data;
  return 'location' in b
    ? { kind: 'location', location: b.location, modelName: b.model_name, version: b.model_version }
    : { kind: 'registry', modelName: b.model_name, version: b.model_version };
}
