import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyError, FastifyPluginAsync, FastifyPluginOptions } from 'fastify';
import { errorMessage } from '../core/errors.js';
import { REQUEST_ID_PATTERN } from './api.js';
import type { ServerContext } from './context.js';
import { problem, sendProblem } from './problem.js';
import type { Serving } from './serving.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The models serving this request, taken once when it arrived: a switch never splits a request. */
    serving: Serving;
  }
}

/**
 * Makes a plugin's hooks, handlers and decorators apply to the app that registers it instead
 * of an encapsulated child (what fastify-plugin does, without the dependency).
 */
function shared<T extends FastifyPluginOptions>(
  name: string,
  plugin: FastifyPluginAsync<T>,
): FastifyPluginAsync<T> {
  return Object.assign(plugin, {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: name,
  });
}

/**
 * fastify's request id (`request.id`): the caller's X-Request-Id when it is valid, a new UUID
 * otherwise. An invalid header is refused by the prediction routes (`requireValidRequestId`),
 * not silently replaced.
 */
export function requestIdFromHeader(raw: IncomingMessage): string {
  const header = raw.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID_PATTERN.test(header) ? header : randomUUID();
}

/** Puts the models serving now on every request (`request.serving`). */
export const servingPerRequest = shared<ServerContext>('mlcycle-serving', async (app, ctx) => {
  app.decorateRequest('serving', null as unknown as Serving);
  app.addHook('onRequest', (request, _reply, done) => {
    request.serving = ctx.models.current();
    done();
  });
});

/**
 * Request metrics, aborted-client counting, and one error handler that turns every failure
 * into problem+json: a client can never get a 500 for what it sends, and an unexpected error
 * is logged with its stack.
 */
export const observability = shared<ServerContext>('mlcycle-observability', async (app, ctx) => {
  // Every route's methods, so a known path asked with another method is a 405 naming the
  // methods it takes (RFC 9110), not a 404.
  const methods = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const known = methods.get(route.url) ?? new Set<string>();
    for (const m of [route.method].flat()) known.add(m);
    methods.set(route.url, known);
  });

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

  // Before the body is read: a method that carries a body (QUERY, PATCH) must not get a body
  // problem for a route that does not exist.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.is404) return;
    const path = request.url.split('?')[0]!;
    const allowed = methods.get(path);
    if (!allowed) return;
    const allow = [...allowed].sort().join(', ');
    reply.header('allow', allow);
    return sendProblem(
      reply,
      problem('method-not-allowed', 405, `${path} takes ${allow}, not ${request.method}`),
    );
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem('not-found', 404, `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
});

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
