import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import { errorMessage, UserError } from '../../core/errors.js';
import { type ChallengerSource, MAX_CANARY_SHARE } from '../challenger.js';
import type { ServerContext } from '../context.js';
import type { BearerCredential } from '../credential.js';
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

// POST /admin/challenger: a source as above, and how the challenger stands beside the champion.
const ChallengerBody = z.intersection(
  z.object({
    location: z.string().min(1).optional(),
    model_name: z.string().min(1).optional(),
    model_version: z.string().min(1).optional(),
  }),
  z.object({
    mode: z.enum(['shadow', 'canary']).default('shadow'),
    canary_share: z.number().gt(0).max(MAX_CANARY_SHARE).optional(),
  }),
);

/**
 * POST /admin/model switches the served model without a restart (the demo's "the server
 * switches to v2"): the new model is loaded, verified and warmed while the old one keeps
 * serving, then swapped in at once. Registered only with an admin token; every request in
 * this scope must carry `Authorization: Bearer <token>`. POST /admin/challenger puts a
 * challenger beside the champion the same way (shadow or canary), DELETE removes it; switching
 * the champion to the challenger's version promotes it. In a cluster a new version is a new
 * rollout instead.
 */
export const adminRoutes: FastifyPluginAsync<ServerContext & { adminCredential: BearerCredential }> = async (
  app,
  ctx,
) => {
  app.addHook('onRequest', async (request, reply) => {
    if (!ctx.adminCredential.accepts(request.headers.authorization)) {
      reply.header('www-authenticate', 'Bearer realm="mlcycle-admin"');
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
      return refused(reply, err);
    }
  });

  app.post('/admin/challenger', async (request, reply) => {
    try {
      const challenger = await ctx.models.setChallenger(challengerSource(request.body));
      const model = challenger!.model;
      const share = challenger!.canaryShare;
      return { name: model.name, version: model.version, mode: challenger!.mode, canary_share: share };
    } catch (err) {
      return refused(reply, err);
    }
  });

  app.delete('/admin/challenger', async () => {
    await ctx.models.setChallenger(undefined);
    return { challenger: null };
  });
};

/** A source or a model that cannot be served is the caller's problem (422); anything else is ours. */
function refused(reply: FastifyReply, err: unknown) {
  if (err instanceof UserError) return sendProblem(reply, problem('invalid-body', 422, errorMessage(err)));
  throw err;
}

function challengerSource(body: unknown): ChallengerSource {
  const parsed = ChallengerBody.safeParse(body);
  if (!parsed.success) {
    throw new UserError(
      `expected {"location": "..."} or {"model_name": "...", "model_version": "..."}, with "mode": "shadow"|"canary" and "canary_share" in (0, ${MAX_CANARY_SHARE}]`,
    );
  }
  const { mode, canary_share, ...source } = parsed.data;
  return { source: switchSource(source), mode, canaryShare: canary_share };
}

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
