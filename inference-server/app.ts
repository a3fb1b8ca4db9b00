import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { errorMessage } from '../core/errors.js';
import { problem, sendProblem } from './problem.js';
import { adminRoutes } from './routes/admin.js';
import { feedbackRoutes } from './routes/feedback.js';
import { predictRoutes } from './routes/predict.js';
import { statusRoutes } from './routes/status.js';
import type { ServerContext } from './serving.js';

/**
 * The fastify application: routes as encapsulated plugins, fastify's own JSON parser under a
 * body limit, and one error handler that turns every failure into problem+json — a client can
 * never get a 500 for what it sends, and an unexpected error is logged with its stack.
 */
export function buildApp(ctx: ServerContext, options: { bodyLimit: number }): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
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

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    ctx.metrics.requests.inc({ route, status: reply.statusCode });
    ctx.metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  // A client that goes away before its answer is written (a load generator stopping, a
  // timeout) may still have had its prediction made and logged: counted, so the log can be
  // reconciled with what was answered.
  app.addHook('onRequest', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (request.raw.socket?.destroyed) ctx.metrics.aborted.inc({ route });
    else {
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) ctx.metrics.aborted.inc({ route });
      });
    }
    done();
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = errorToProblem(error);
    if (body.status >= 500) {
      ctx.log.error({ err: error, url: request.url, method: request.method }, 'request failed unexpectedly');
    }
    return sendProblem(reply, body);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem('not-found', 404, `no route ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.register(predictRoutes, ctx);
  app.register(feedbackRoutes, ctx);
  app.register(statusRoutes, ctx);
  app.register(adminRoutes, ctx);
  return app;
}

function errorToProblem(error: FastifyError) {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('unsupported-media-type', 415, 'send the body as application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('body-too-large', 413, error.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem('malformed-json', 400, 'the body is empty; expected JSON');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return problem('malformed-json', 400, `the body is not valid JSON: ${error.message}`);
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return problem('malformed-json', 400, `the body cannot be parsed: ${errorMessage(error)}`);
  }
  if (error.statusCode === 405) return problem('method-not-allowed', 405, error.message);
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return problem('invalid-body', error.statusCode, error.message);
  }
  return problem('internal', 500, 'the server failed to answer this request; it has been logged');
}
