import Fastify, { type FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';
import { observability, requestIdFromHeader, servingPerRequest } from './plugins.js';
import { adminRoutes } from './routes/admin.js';
import { feedbackRoutes } from './routes/feedback.js';
import { predictRoutes } from './routes/predict.js';
import { statusRoutes } from './routes/status.js';

/**
 * The fastify application: cross-cutting hooks as shared plugins (metrics and problem+json
 * errors; the models serving each request put on the request), routes as encapsulated plugins,
 * fastify's own JSON parser under a body limit.
 */
export function buildApp(ctx: ServerContext, options: { bodyLimit: number }): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    genReqId: requestIdFromHeader,
    // Requests arriving while closing are refused with 503, and idle keep-alive sockets are
    // closed, so `close()` finishes once the in-flight requests are answered.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    keepAliveTimeout: 65_000,
  });

  // fastify also parses text/plain by default; this API speaks JSON only (anything else: 415).
  app.removeContentTypeParser('text/plain');

  app.register(observability, ctx);
  app.register(servingPerRequest, ctx);
  app.register(predictRoutes, ctx);
  app.register(feedbackRoutes, ctx);
  app.register(statusRoutes, ctx);
  if (ctx.adminCredential) app.register(adminRoutes, { ...ctx, adminCredential: ctx.adminCredential });
  return app;
}
