import type { FastifyInstance } from 'fastify';
import { type Database, type DbTls, openDatabase, type Pool, type PoolTimeouts } from '../core/db/index.js';
import { errorMessage, UserError } from '../core/errors.js';
import { createLogger, type Logger } from '../core/log.js';
import { openObjectStore, type S3SettingsValues } from '../core/object-store/index.js';
import { DEFAULT_NAMESPACE } from '../core/tenant.js';
import { buildApp } from './app.js';
import {
  type Challenger,
  type ChallengerSource,
  challengerOf,
  checkChallenger,
  checkChallengerPair,
} from './challenger.js';
import { BearerCredential } from './credential.js';
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
import { RemoteSpill } from './remote-spill.js';
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
  database?: {
    databaseUrl?: string | undefined;
    dataDir: string;
    timeouts?: Partial<PoolTimeouts>;
    tls?: DbTls | undefined;
  };
  s3?: S3SettingsValues;
  limits?: Partial<Limits>;
  bodyLimit?: number;
  predictionLog?: {
    /** false: nothing is logged (ModelDeployment spec.logging.enabled), and feedback is off. */
    enabled?: boolean;
    batchMax?: number;
    queueMax?: number;
    flushIntervalMs?: number;
    concurrency?: number;
    /** Spill directory for rows beyond the in-memory bound; undefined = drop (counted). */
    spillDir?: string | undefined;
    /**
     * Object-store location (s3://bucket/prefix or a directory) the spill is uploaded to at
     * shutdown, so it outlives the Pod; imported from at start. Needs `spillDir`.
     */
    spillUri?: string | undefined;
    /** How long shutdown may spend uploading the spill (default 10 s). */
    spillUploadTimeoutMs?: number;
  };
  /** How long shutdown waits for the prediction log to reach PostgreSQL before spilling. */
  drainTimeoutMs?: number;
  /**
   * After close() is called, readiness reports 503 for this long while requests are still
   * answered, so load balancers stop sending before the listener closes (default 0).
   */
  shutdownDelayMs?: number;
  /** /feedback's bearer token, distinct from anything /predict's callers hold; feedback is off without one. */
  feedbackToken?: string | undefined;
  /** A file holding it (a mounted Kubernetes Secret), re-read when it changes. */
  feedbackTokenFile?: string | undefined;
  /** Enables the /admin routes with this bearer token. */
  adminToken?: string | undefined;
  adminTokenFile?: string | undefined;
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
  close(): Promise<ClosedLog>;
}

/** What became of the prediction log at shutdown. */
export interface ClosedLog {
  /** Rows left in the local spill directory (for a process started with the same one). */
  spilled: number;
  /** Rows uploaded to the spill location in the object store (for the next server). */
  uploaded: number;
  /** Rows lost (also counted and logged). */
  dropped: number;
}

export const DEFAULT_LIMITS: Limits = { batchMax: 10_000, feedbackMax: 10_000 };

// Records waiting for off-path scoring before more are skipped (counted): ten full batches.
const OFF_PATH_MAX_RECORDS = 100_000;

/** Starts the inference server: load (database, verified and warmed model) → build app → listen. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? createLogger('inference-server');
  const credentials = readCredentials(options);
  const loaded = await load(options);
  const server = build(loaded, options, credentials, log);
  const url = await listen(server, options).catch(async (err: unknown) => {
    await server.release();
    throw err;
  });
  const { model } = server.models.current();
  log.info(
    { url, model: model.name, version: model.version, source: model.source },
    'inference server ready',
  );
  server.remoteSpill?.startImport();
  return running(server, url, shutdownOptions(options), log);
}

interface Credentials {
  feedback: BearerCredential | undefined;
  admin: BearerCredential | undefined;
}

/** The bearer tokens, read first: a missing token file stops the server before anything loads. */
function readCredentials(options: ServerOptions): Credentials {
  return {
    feedback: BearerCredential.from('feedback token', {
      token: options.feedbackToken,
      file: options.feedbackTokenFile,
    }),
    admin: BearerCredential.from('admin token', { token: options.adminToken, file: options.adminTokenFile }),
  };
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

interface ShutdownOptions {
  delayMs: number;
  drainTimeoutMs: number;
  uploadTimeoutMs: number;
}

function shutdownOptions(options: ServerOptions): ShutdownOptions {
  return {
    delayMs: options.shutdownDelayMs ?? 0,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    uploadTimeoutMs: options.predictionLog?.spillUploadTimeoutMs ?? 10_000,
  };
}

interface Built {
  app: FastifyInstance;
  remoteSpill: RemoteSpill | undefined;
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
function build(loaded: Loaded, options: ServerOptions, credentials: Credentials, log: Logger): Built {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const metrics = createServerMetrics();
  const logOptions = options.predictionLog ?? {};
  const queueMax = logOptions.queueMax ?? 200_000;
  const writer = new PredictionLogWriter({
    enabled: logOptions.enabled !== false,
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
  const remoteSpill = remoteSpillOf(loaded, options, log);
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
      logging: logOptions.enabled !== false,
      feedbackCredential: credentials.feedback,
      adminCredential: credentials.admin,
    },
    { bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024 },
  );
  const release = async () => {
    await writer.drain(0);
    await models.release();
    await loaded.database?.close().catch(() => {});
  };
  return { app, remoteSpill, models, writer, offPath, metrics, database: loaded.database, closing, release };
}

function remoteSpillOf(loaded: Loaded, options: ServerOptions, log: Logger): RemoteSpill | undefined {
  const { spillUri, spillDir } = options.predictionLog ?? {};
  if (!spillUri) return undefined;
  if (!spillDir) {
    throw new UserError('a spill location in the object store needs a local spill directory to upload from');
  }
  return new RemoteSpill(
    openObjectStore(spillUri, options.s3),
    loaded.pool,
    options.namespace ?? DEFAULT_NAMESPACE,
    log,
  );
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
function running(server: Built, url: string, shutdown: ShutdownOptions, log: Logger): RunningServer {
  const { app, models, writer, metrics } = server;
  let closed: Promise<ClosedLog> | undefined;
  const close = async (): Promise<ClosedLog> => {
    // Readiness drops first; requests are still answered while load balancers catch up.
    server.closing.value = true;
    if (shutdown.delayMs > 0) await new Promise((r) => setTimeout(r, shutdown.delayMs));
    await app.close();
    await server.remoteSpill?.stopImport();
    // Off-path scoring of the last requests adds its rows before the log is drained.
    await server.offPath.idle();
    const drained = await writer.drain(shutdown.drainTimeoutMs);
    const result = await leaveSpill(server, drained, shutdown.uploadTimeoutMs);
    const status = writer.status();
    log.info(
      { rowsWritten: status.rowsWritten, ...result },
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

/**
 * After the drain: rows left in the local spill go to the object store when there is a spill
 * location (the local directory dies with the Pod), within the upload timeout.
 */
async function leaveSpill(
  server: Built,
  drained: { spilled: number; dropped: number },
  uploadTimeoutMs: number,
): Promise<ClosedLog> {
  const spill = server.writer.spillFiles();
  if (!server.remoteSpill || !spill || drained.spilled === 0) return { ...drained, uploaded: 0 };
  const { uploaded, left } = await server.remoteSpill.upload(spill, uploadTimeoutMs);
  return { spilled: left, uploaded, dropped: drained.dropped };
}
