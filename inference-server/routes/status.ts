import type { FastifyPluginAsync } from 'fastify';
import type { ServerContext } from '../context.js';
import type { LoadedModel } from '../model.js';

/** Health, readiness, metrics, the model's description and the OpenAPI document. */
export const statusRoutes: FastifyPluginAsync<ServerContext> = async (app, ctx) => {
  app.get('/healthz', async () => ({ status: 'alive' }));

  // Ready = a verified, warmed model is loaded, the server is not shutting down, and the
  // prediction log is not losing rows (buffer full with nowhere to spill). An unreachable
  // database alone does not make it unready: rows buffer, and every replica shares the same
  // database, so failing readiness would take the whole service down for no gain.
  app.get('/readyz', async (request, reply) => {
    const { model, challenger } = request.serving;
    const log = ctx.writer.status();
    const reasons: string[] = [];
    if (ctx.closing()) reasons.push('shutting down');
    if (!ctx.spillEnabled && log.queueDepth >= ctx.queueMax) {
      reasons.push(
        'prediction log buffer is full and there is no spill directory: new rows would be dropped',
      );
    }
    const ready = reasons.length === 0;
    return reply.code(ready ? 200 : 503).send({
      ready,
      model: { name: model.name, version: model.version },
      challenger: challenger ? { version: challenger.model.version, mode: challenger.mode } : null,
      prediction_log: {
        enabled: ctx.logging,
        queue_depth: log.queueDepth,
        in_flight_rows: log.inFlightRows,
        queue_max: ctx.queueMax,
        spilled_rows: log.spilledRows,
        database_reachable: log.databaseReachable,
        last_error: log.lastError,
      },
      reasons,
    });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.header('content-type', ctx.metrics.registry.contentType).send(text);
  });

  // The champion's fields at the top (as before challengers existed), the challenger beside it.
  app.get('/v1/model', async (request) => {
    const { model, challenger } = request.serving;
    return {
      ...modelInfo(model),
      role: 'champion',
      challenger: challenger
        ? { ...modelInfo(challenger.model), mode: challenger.mode, canary_share: challenger.canaryShare }
        : null,
    };
  });

  app.get('/openapi.json', async (request) => request.serving.openapi);
};

function modelInfo(m: LoadedModel) {
  return {
    name: m.name,
    version: m.version,
    task: m.task,
    source: m.source,
    loaded_at: m.loadedAt.toISOString(),
    digests: m.digests,
    metrics: m.metrics,
    schema: m.schema,
  };
}
