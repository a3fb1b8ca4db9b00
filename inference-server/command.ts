import { join } from 'node:path';
import { z } from 'zod';
import { defineCommand } from '../core/command.js';
import { fields, setting } from '../core/config.js';
import { databaseSettings, poolTimeouts, poolTls } from '../core/db/index.js';
import { ConfigError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { s3Settings } from '../core/object-store/index.js';
import { tenantSettings } from '../core/tenant.js';
import { type ChallengerSource, DEFAULT_CANARY_SHARE, MAX_CANARY_SHARE } from './challenger.js';
import { MIN_TOKEN_LENGTH } from './credential.js';
import type { ModelSource } from './model.js';

const settings = {
  model: setting({
    flag: 'model',
    env: 'MLCYCLE_MODEL',
    description: 'model directory or s3:// prefix holding model.onnx, schema.json and manifest.json',
    schema: z.string().min(1).optional(),
  }),
  modelName: setting({
    flag: 'model-name',
    env: 'MLCYCLE_MODEL_NAME',
    description: 'model name; with --model-version and no --model, loads that version from the registry',
    schema: z.string().min(1).optional(),
  }),
  modelVersion: setting({
    flag: 'model-version',
    env: 'MLCYCLE_MODEL_VERSION',
    description: 'model version (see --model-name)',
    schema: z.string().min(1).optional(),
  }),
  challengerUri: setting({
    flag: 'challenger-uri',
    env: 'MLCYCLE_CHALLENGER_URI',
    description:
      'a challenger beside the champion: directory or s3:// prefix of another version of the same model, with the same schema.json',
    schema: z.string().min(1).optional(),
  }),
  challengerMode: setting({
    flag: 'challenger-mode',
    env: 'MLCYCLE_CHALLENGER_MODE',
    description:
      "shadow: callers get the champion's answer, the challenger scores the same records; canary: the challenger answers --canary-share of the requests (both logged either way)",
    schema: z.enum(['shadow', 'canary']).default('shadow'),
  }),
  canaryShare: setting({
    flag: 'canary-share',
    env: 'MLCYCLE_CANARY_SHARE',
    description: `share of requests (by request id) the challenger answers in canary mode, above 0 and at most ${MAX_CANARY_SHARE} (default ${DEFAULT_CANARY_SHARE})`,
    schema: z.coerce.number().gt(0).max(MAX_CANARY_SHARE).optional(),
  }),
  host: setting({
    flag: 'host',
    env: 'MLCYCLE_HOST',
    description: 'address to listen on',
    schema: z.string().min(1).default('0.0.0.0'),
  }),
  port: setting({
    flag: 'port',
    env: 'MLCYCLE_PORT',
    description: 'port to listen on',
    schema: fields.port.default(8080),
  }),
  ...tenantSettings,
  ...databaseSettings,
  ...s3Settings,
  batchMax: setting({
    flag: 'batch-max',
    env: 'MLCYCLE_BATCH_MAX',
    description: 'most records in one /predict_batch request',
    schema: fields.positiveInt.default(10_000),
  }),
  feedbackMax: setting({
    flag: 'feedback-max',
    env: 'MLCYCLE_FEEDBACK_MAX',
    description: 'most items in one /feedback request',
    schema: fields.positiveInt.default(10_000),
  }),
  bodyLimit: setting({
    flag: 'body-limit',
    env: 'MLCYCLE_BODY_LIMIT',
    description: 'largest request body in bytes (larger: 413)',
    schema: fields.positiveInt.default(16 * 1024 * 1024),
  }),
  logBatchMax: setting({
    flag: 'log-batch-max',
    env: 'MLCYCLE_LOG_BATCH_MAX',
    description: 'most prediction log rows per INSERT',
    schema: fields.positiveInt.default(2_000),
  }),
  logQueueMax: setting({
    flag: 'log-queue-max',
    env: 'MLCYCLE_LOG_QUEUE_MAX',
    description: 'most prediction log rows buffered in memory (e.g. while PostgreSQL is down)',
    schema: fields.positiveInt.default(200_000),
  }),
  logFlushInterval: setting({
    flag: 'log-flush-interval',
    env: 'MLCYCLE_LOG_FLUSH_INTERVAL',
    description: 'longest a prediction log row waits before being written, e.g. 200ms',
    schema: fields.duration.default(200),
  }),
  logSpillDir: setting({
    flag: 'log-spill-dir',
    env: 'MLCYCLE_LOG_SPILL_DIR',
    description:
      'directory for prediction log rows beyond the in-memory bound or unwritten at shutdown (default <data-dir>/prediction-log-spill; "off" drops them, counted)',
    schema: z.string().min(1).optional(),
  }),
  logSpillUri: setting({
    flag: 'log-spill-uri',
    env: 'MLCYCLE_LOG_SPILL_URI',
    description:
      'object-store location (s3://bucket/prefix or directory) that prediction log rows still unwritten at shutdown are uploaded to, so they outlive the Pod; the next server (or mlcycle drift) imports them',
    schema: z.string().min(1).optional(),
  }),
  shutdownDelay: setting({
    flag: 'shutdown-delay',
    env: 'MLCYCLE_SHUTDOWN_DELAY',
    description:
      'after SIGTERM, how long /readyz reports 503 while requests are still answered, before the listener closes, e.g. 5s',
    schema: fields.duration.default(0),
  }),
  shutdownTimeout: setting({
    flag: 'shutdown-timeout',
    env: 'MLCYCLE_SHUTDOWN_TIMEOUT',
    description: 'how long shutdown waits for PostgreSQL before spilling the prediction log to disk',
    schema: fields.duration.default(20_000),
  }),
  logPredictions: setting({
    flag: 'log-predictions',
    env: 'MLCYCLE_LOG_PREDICTIONS',
    description:
      'true (default): log every served prediction to PostgreSQL; false: log nothing (and /feedback is off)',
    schema: z
      .enum(['true', 'false'], 'expected true or false')
      .default('true')
      .transform((v) => v === 'true'),
  }),
  feedbackToken: setting({
    flag: 'feedback-token',
    env: 'MLCYCLE_FEEDBACK_TOKEN',
    secret: true,
    description:
      'bearer token /feedback requires (Authorization: Bearer <token>); without it or --feedback-token-file, /feedback is off',
    schema: z.string().min(MIN_TOKEN_LENGTH, `use at least ${MIN_TOKEN_LENGTH} characters`).optional(),
  }),
  feedbackTokenFile: setting({
    flag: 'feedback-token-file',
    env: 'MLCYCLE_FEEDBACK_TOKEN_FILE',
    description:
      'file holding the /feedback bearer token on its first line (a mounted Kubernetes Secret); re-read when it changes',
    schema: z.string().min(1).optional(),
  }),
  adminToken: setting({
    flag: 'admin-token',
    env: 'MLCYCLE_ADMIN_TOKEN',
    secret: true,
    description: 'enables the /admin routes (switch model, set challenger) for this bearer token',
    schema: z.string().min(MIN_TOKEN_LENGTH, `use at least ${MIN_TOKEN_LENGTH} characters`).optional(),
  }),
  adminTokenFile: setting({
    flag: 'admin-token-file',
    env: 'MLCYCLE_ADMIN_TOKEN_FILE',
    description: 'file holding the admin bearer token on its first line (a mounted Kubernetes Secret)',
    schema: z.string().min(1).optional(),
  }),
};

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'serve a model version over HTTP (/predict, /predict_batch, /feedback)',
  description: [
    'Serves one model version: strict validation against its feature schema, onnxruntime inference,',
    'every prediction logged to PostgreSQL (embedded PGlite in --data-dir when no --database-url).',
    '',
    'The model comes from --model (directory or s3:// prefix with manifest.json) or from the registry',
    '(--model-name and --model-version). Artifact digests are verified before the server is ready.',
    'A challenger (--challenger-uri, same model and schema) can stand beside it in shadow or canary',
    'mode: both predictions are logged under the same request id; x-mlcycle-model-version says who answered.',
    'SIGTERM/SIGINT: stop accepting, finish in-flight requests, write the prediction log, exit.',
  ].join('\n'),
  settings,
  run: async (values) => {
    const log = createLogger('inference-server');
    const source = modelSource(values.model, values.modelName, values.modelVersion);
    const challenger = challengerSource(values);
    const spillDir =
      values.logSpillDir === 'off'
        ? undefined
        : (values.logSpillDir ?? join(values.dataDir, 'prediction-log-spill'));
    // Imported here so `mlcycle serve --help` does not load onnxruntime.
    const { startServer } = await import('./index.js');
    const server = await startServer({
      model: source,
      namespace: values.namespace,
      challenger,
      host: values.host,
      port: values.port,
      database: {
        databaseUrl: values.databaseUrl,
        dataDir: values.dataDir,
        timeouts: poolTimeouts(values),
        tls: poolTls(values),
      },
      s3: values,
      limits: { batchMax: values.batchMax, feedbackMax: values.feedbackMax },
      bodyLimit: values.bodyLimit,
      predictionLog: {
        batchMax: values.logBatchMax,
        queueMax: values.logQueueMax,
        flushIntervalMs: values.logFlushInterval,
        spillDir,
        spillUri: values.logSpillUri,
        enabled: values.logPredictions,
      },
      drainTimeoutMs: values.shutdownTimeout,
      shutdownDelayMs: values.shutdownDelay,
      feedbackToken: values.feedbackToken,
      feedbackTokenFile: values.feedbackTokenFile,
      adminToken: values.adminToken,
      adminTokenFile: values.adminTokenFile,
      log,
    });
    const ready = { url: server.url, model: server.model().name, version: server.model().version };
    const beside = server.challenger();
    const challengerInfo = beside && { version: beside.model.version, mode: beside.mode };
    process.stdout.write(
      `${JSON.stringify({ ...ready, ...(challengerInfo && { challenger: challengerInfo }) })}\n`,
    );
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    log.info({ signal }, 'shutting down: finishing in-flight requests and writing the prediction log');
    const result = await server.close();
    return result.dropped > 0 ? 1 : 0;
  },
});

function challengerSource(values: {
  challengerUri?: string | undefined;
  challengerMode: 'shadow' | 'canary';
  canaryShare?: number | undefined;
}): ChallengerSource | undefined {
  if (!values.challengerUri) {
    if (values.canaryShare !== undefined || values.challengerMode !== 'shadow') {
      throw new ConfigError('--challenger-mode and --canary-share need a challenger: set --challenger-uri');
    }
    return undefined;
  }
  if (values.challengerMode === 'shadow' && values.canaryShare !== undefined) {
    throw new ConfigError(
      '--canary-share applies to --challenger-mode canary; a shadow challenger answers no one',
    );
  }
  return {
    source: { kind: 'location', location: values.challengerUri },
    mode: values.challengerMode,
    canaryShare: values.canaryShare,
  };
}

function modelSource(location?: string, modelName?: string, version?: string): ModelSource {
  if (location) return { kind: 'location', location, modelName, version };
  if (modelName && version) return { kind: 'registry', modelName, version };
  throw new ConfigError(
    'no model given: set --model <dir or s3:// prefix> (MLCYCLE_MODEL), or --model-name and --model-version to load from the registry',
  );
}
