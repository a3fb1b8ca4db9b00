import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type Database, openDatabase, type Pool } from '../core/db/index.js';
import { errorMessage, UserError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import type { S3SettingsValues } from '../core/object-store/index.js';
import { buildApp } from './app.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';
import { type LoadedModel, loadModel, type ModelSource } from './model.js';
import { type PredictionLogStatus, PredictionLogWriter } from './prediction-log-writer.js';
import { type Limits, prepareServing, type Serving } from './serving.js';

export { type LoadedModel, loadModel, ModelLoadError, type ModelSource } from './model.js';

export interface ServerOptions {
  model: ModelSource;
  host?: string;
  /** 0 picks a free port (see `url`). */
  port?: number;
  /** An open pool to log into (the demo shares its database); otherwise `database` is opened. */
  pool?: Pool;
  database?: { databaseUrl?: string | undefined; dataDir: string };
  s3?: S3SettingsValues;
  limits?: Partial<Limits>;
  bodyLimit?: number;
  predictionLog?: {
    batchMax?: number;
    queueMax?: number;
    flushIntervalMs?: number;
    concurrency?: number;
    /** Spill directory for rows beyond the in-memory bound; undefined = drop (counted). */
    spillDir?: string | undefined;
  };
  /** How long shutdown waits for the prediction log to reach PostgreSQL before spilling. */
  drainTimeoutMs?: number;
  /** Enables POST /admin/model with this bearer token. */
  adminToken?: string | undefined;
  log?: Logger;
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  metrics: ServerMetrics;
  /** The model being served now. */
  model(): LoadedModel;
  /** Loads, verifies and warms `source`, then serves it; the old model serves until then. */
  switchModel(source: ModelSource): Promise<LoadedModel>;
  predictionLog(): PredictionLogStatus;
  /**
   * Stops accepting requests, finishes the in-flight ones, writes the prediction log, then
   * releases everything. Rows that could not reach PostgreSQL in time are in the spill
   * directory (`spilled`) or, without one, lost (`dropped`, also counted and logged).
   */
  close(): Promise<{ spilled: number; dropped: number }>;
}

export const DEFAULT_LIMITS: Limits = { batchMax: 10_000, feedbackMax: 10_000 };

// What POST /admin/model takes: the same two kinds of source as the command line.
const SwitchBody = z.union([
  z.strictObject({
    location: z.string().min(1),
    model_name: z.string().optional(),
    model_version: z.string().optional(),
  }),
  z.strictObject({ model_name: z.string().min(1), model_version: z.string().min(1) }),
]);

/** Starts the inference server: database, model (verified and warmed), then HTTP. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? createLogger('inference-server');
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const s3 = options.s3 ? { s3: options.s3 } : {};
  // A model from a location needs no database: check it first, so a wrong path fails fast
  // without starting (or creating) the embedded database.
  let model = options.model.kind === 'location' ? await loadModel(options.model, s3) : undefined;
  let database: Database | undefined;
  let pool = options.pool;
  try {
    if (!pool) {
      if (!options.database) throw new UserError('startServer needs a pool or database settings');
      database = await openDatabase({ ...options.database, applicationName: 'mlcycle-serve' });
      pool = database.pool;
    }
    model ??= await loadModel(options.model, { pool, ...s3 });
  } catch (err) {
    await model?.release().catch(() => {});
    await database?.close().catch(() => {});
    throw err;
  }
  const loadContext = { pool, ...s3 };
  const metrics = createServerMetrics();
  let serving: Serving = prepareServing(model, limits);
  setModelInfo(metrics, serving.model);

  const logOptions = options.predictionLog ?? {};
  const queueMax = logOptions.queueMax ?? 200_000;
  const writer = new PredictionLogWriter({
    pool,
    metrics,
    log,
    batchMax: logOptions.batchMax ?? 2_000,
    queueMax,
    flushIntervalMs: logOptions.flushIntervalMs ?? 200,
    concurrency: logOptions.concurrency ?? 2,
    spillDir: logOptions.spillDir,
  });

  let closing = false;
  let switching: Promise<unknown> = Promise.resolve();
  const switchModel = async (source: ModelSource): Promise<LoadedModel> => {
    // One switch at a time, so two admin calls cannot interleave their swaps.
    const run = switching.then(async () => {
      const next = prepareServing(await loadModel(source, loadContext), limits);
      const previous = serving;
      serving = next;
      metrics.modelInfo.reset();
      setModelInfo(metrics, next.model);
      log.info(
        {
          from: `${previous.model.name}/${previous.model.version}`,
          to: `${next.model.name}/${next.model.version}`,
        },
        'switched model',
      );
      // Requests that already hold the old model finish with it; release it a little later.
      setTimeout(() => void previous.model.release().catch(() => {}), 60_000).unref();
      return next.model;
    });
    switching = run.catch(() => {});
    return run;
  };

  const app = buildApp(
    {
      serving: () => serving,
      closing: () => closing,
      writer,
      pool,
      metrics,
      log,
      limits,
      queueMax,
      spillEnabled: logOptions.spillDir !== undefined,
      adminToken: options.adminToken,
      switchModel: async (body) => {
        const parsed = SwitchBody.safeParse(body);
        if (!parsed.success) {
          throw new UserError(
            'expected {"location": "<dir or s3:// prefix>"} or {"model_name": "...", "model_version": "..."}',
          );
        }
        const b = parsed.data;
        const source: ModelSource =
          'location' in b
            ? { kind: 'location', location: b.location, modelName: b.model_name, version: b.model_version }
            : { kind: 'registry', modelName: b.model_name, version: b.model_version };
        await switchModel(source);
        return serving;
      },
    },
    { bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024 },
  );

  let url: string;
  try {
    url = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  } catch (err) {
    await writer.drain(0);
    await serving.model.release().catch(() => {});
    await database?.close().catch(() => {});
    throw new UserError(
      `cannot listen on ${options.host ?? '127.0.0.1'}:${options.port ?? 0}: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  log.info(
    { url, model: serving.model.name, version: serving.model.version, source: serving.model.source },
    'inference server ready',
  );

  let closed: Promise<{ spilled: number; dropped: number }> | undefined;
  return {
    url: url.replace('0.0.0.0', '127.0.0.1'),
    app,
    metrics,
    model: () => serving.model,
    switchModel,
    predictionLog: () => writer.status(),
    close: () => {
      closed ??= (async () => {
        closing = true;
        await app.close();
        const result = await writer.drain(options.drainTimeoutMs ?? 30_000);
        const status = writer.status();
        log.info(
          { rowsWritten: status.rowsWritten, spilled: result.spilled, dropped: status.rowsDropped },
          'inference server stopped; prediction log flushed',
        );
        await serving.model.release().catch(() => {});
        await database
          ?.close()
          .catch((err) => log.warn({ err: errorMessage(err) }, 'closing the database failed'));
        return result;
      })();
      return closed;
    },
  };
}

function setModelInfo(metrics: ServerMetrics, model: LoadedModel): void {
  metrics.modelInfo.set(
    {
      model_name: model.name,
      model_version: model.version,
      task: model.task,
      model_digest: model.digests['model.onnx'] ?? '',
      schema_digest: model.schema.digest,
    },
    1,
  );
}
