import type { FastifyInstance } from 'fastify';
import { type Database, openDatabase, type Pool } from '../core/db/index.js';
import { errorMessage, UserError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import type { S3SettingsValues } from '../core/object-store/index.js';
import { DEFAULT_NAMESPACE } from '../core/tenant.js';
import { buildApp } from './app.js';
import {
  type Challenger,
  type ChallengerSource,
  challengerOf,
  checkChallenger,
  checkChallengerPair,
} from './challenger.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';
import {
  checkRegisteredDigests,
  type LoadContext,
  type LoadedModel,
  loadModel,
  type ModelSource,
} from './model.js';
import { OffPathScoring } from './off-path.js';
import { type PredictionLogStatus, PredictionLogWriter } from './prediction-log-writer.js';
import { ServedModels } from './served-models.js';
import type { Limits } from './serving.js';

export type { Challenger, ChallengerMode, ChallengerSource } from './challenger.js';
export { type LoadedModel, loadModel, ModelLoadError, type ModelSource } from './model.js';

export interface ServerOptions {
  model: ModelSource;
  /** The tenant served (core/tenant.ts): registry reads, log and labels. Default `default`. */
  namespace?: string | undefined;
  /** A challenger beside the champion (same feature schema), in shadow or canary mode. */
  challenger?: ChallengerSource | undefined;
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
  /** The challenger beside the champion, if any. */
  challenger(): Challenger | undefined;
  /** Loads, verifies and warms a challenger, then puts it beside the champion (undefined: removes it). */
  setChallenger(source: ChallengerSource | undefined): Promise<Challenger | undefined>;
  predictionLog(): PredictionLogStatus;
  /**
   * Stops accepting requests, finishes the in-flight ones, writes the prediction log, then
   * releases everything. Rows that could not reach PostgreSQL in time are in the spill
   * directory (`spilled`) or, without one, lost (`dropped`, also counted and logged).
   */
  close(): Promise<{ spilled: number; dropped: number }>;
}

export const DEFAULT_LIMITS: Limits = { batchMax: 10_000, feedbackMax: 10_000 };

// Records waiting for off-path scoring before more are skipped (counted): ten full batches.
const OFF_PATH_MAX_RECORDS = 100_000;

/** Starts the inference server: load (database, verified and warmed model) → build app → listen. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? createLogger('inference-server');
  const loaded = await load(options);
  const server = build(loaded, options, log);
  const url = await listen(server, options).catch(async (err: unknown) => {
    await server.release();
    throw err;
  });
  const { model } = server.models.current();
  log.info(
    { url, model: model.name, version: model.version, source: model.source },
    'inference server ready',
  );
  return running(server, url, options.drainTimeoutMs ?? 30_000, log);
}

interface Loaded {
  champion: LoadedModel;
  challenger: Challenger | undefined;
  pool: Pool;
  /** Present when this server opened the database (and so closes it). */
  database: Database | undefined;
  loadContext: LoadContext;
}

/**
 * Opens the database and loads the models, each verified and warmed. A model from a location
 * needs no database: it is checked first, so a wrong path fails fast without starting (or
 * creating) the embedded one; so is a challenger that cannot stand beside the champion.
 */
async function load(options: ServerOptions): Promise<Loaded> {
  const s3 = { namespace: options.namespace ?? DEFAULT_NAMESPACE, ...(options.s3 ? { s3: options.s3 } : {}) };
  // Everything loaded so far, released if a later step fails.
  const loaded: LoadedModel[] = [];
  const tracked = async (source: ModelSource, context: LoadContext) => {
    const model = await loadModel(source, context);
    loaded.push(model);
    return model;
  };
  const wanted = options.challenger;
  let database: Database | undefined;
  try {
    let champion = options.model.kind === 'location' ? await tracked(options.model, s3) : undefined;
    let beside = wanted?.source.kind === 'location' ? await tracked(wanted.source, s3) : undefined;
    if (champion && beside) checkChallenger(champion, beside);
    let pool = options.pool;
    if (!pool) {
      if (!options.database) throw new UserError('startServer needs a pool or database settings');
      database = await openDatabase({ ...options.database, applicationName: 'mlcycle-serve' });
      pool = database.pool;
    }
    const loadContext = { pool, ...s3 };
    // Loaded from a location before the database was open: now their registered digests.
    for (const model of loaded) await checkRegisteredDigests(model, pool);
    champion ??= await tracked(options.model, loadContext);
    if (wanted) beside ??= await tracked(wanted.source, loadContext);
    const challenger = wanted && beside && challengerOf(beside, wanted);
    if (challenger) checkChallengerPair(champion, challenger);
    return { champion, challenger, pool, database, loadContext };
  } catch (err) {
    for (const model of loaded) await model.release().catch(() => {});
    await database?.close().catch(() => {});
    throw err;
  }
}

interface Built {
  app: FastifyInstance;
  models: ServedModels;
  writer: PredictionLogWriter;
  offPath: OffPathScoring;
  metrics: ServerMetrics;
  database: Database | undefined;
  closing: { value: boolean };
  /** Gives back what `load` took, for a server that never listened. */
  release(): Promise<void>;
}

/** The prediction log writer, the served models and the fastify app around them. */
function build(loaded: Loaded, options: ServerOptions, log: Logger): Built {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const metrics = createServerMetrics();
  const logOptions = options.predictionLog ?? {};
  const queueMax = logOptions.queueMax ?? 200_000;
  const writer = new PredictionLogWriter({
    pool: loaded.pool,
    metrics,
    log,
    batchMax: logOptions.batchMax ?? 2_000,
    queueMax,
    flushIntervalMs: logOptions.flushIntervalMs ?? 200,
    concurrency: logOptions.concurrency ?? 2,
    spillDir: logOptions.spillDir,
  });
  const models = new ServedModels(loaded.champion, loaded.challenger, {
    limits,
    loadContext: loaded.loadContext,
    metrics,
    log,
  });
  const offPath = new OffPathScoring({ writer, metrics, log, maxRecords: OFF_PATH_MAX_RECORDS });
  const closing = { value: false };
  const app = buildApp(
    {
      models,
      closing: () => closing.value,
      writer,
      offPath,
      pool: loaded.pool,
      metrics,
      log,
      limits,
      queueMax,
      spillEnabled: logOptions.spillDir !== undefined,
      adminToken: options.adminToken,
    },
    { bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024 },
  );
  const release = async () => {
    await writer.drain(0);
    await models.release();
    await loaded.database?.close().catch(() => {});
  };
  return { app, models, writer, offPath, metrics, database: loaded.database, closing, release };
}

async function listen(server: Built, options: ServerOptions): Promise<string> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  try {
    const url = await server.app.listen({ host, port });
    return url.replace('0.0.0.0', '127.0.0.1');
  } catch (err) {
    throw new UserError(`cannot listen on ${host}:${port}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * The handle of a listening server. Closing stops accepting requests, finishes the in-flight
 * ones, writes the prediction log (or spills it), then releases the models and the database.
 */
function running(server: Built, url: string, drainTimeoutMs: number, log: Logger): RunningServer {
  const { app, models, writer, metrics } = server;
  let closed: Promise<{ spilled: number; dropped: number }> | undefined;
  const close = async () => {
    server.closing.value = true;
    await app.close();
    // Off-path scoring of the last requests adds its rows before the log is drained.
    await server.offPath.idle();
    const result = await writer.drain(drainTimeoutMs);
    const status = writer.status();
    log.info(
      { rowsWritten: status.rowsWritten, spilled: result.spilled, dropped: status.rowsDropped },
      'inference server stopped; prediction log flushed',
    );
    await models.release();
    await server.database
      ?.close()
      .catch((err) => log.warn({ err: errorMessage(err) }, 'closing the database failed'));
    return result;
  };
  return {
    url,
    app,
    metrics,
    model: () => models.current().model,
    switchModel: (source) => models.switchChampion(source),
    challenger: () => models.current().challenger,
    setChallenger: (source) => models.setChallenger(source),
    predictionLog: () => writer.status(),
    close: () => {
      closed ??= close();
      return closed;
    },
  };
}
