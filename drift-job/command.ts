import { z } from 'zod';
import { defineCommand } from '../core/command.js';
import { fields, setting } from '../core/config.js';
import { type Database, databaseSettings, openDatabase } from '../core/db/index.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { s3Settings } from '../core/object-store/index.js';
import { DEFAULT_POLICY } from '../core/policy.js';
import type { DriftOverride } from './analyze.js';
import { DRIFT_DEFAULTS, runDriftJob } from './job.js';
import { monitorStatus, writeMonitorStatus } from './monitor-status.js';
import { DRIFT_METHODS } from './stats/drift-methods.js';

const timestamp = z.iso
  .datetime({ offset: true, message: 'expected an ISO-8601 timestamp such as 2026-11-27T00:00:00Z' })
  .transform((s) => new Date(s))
  .optional();

const perFeature = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: 'expected JSON such as {"distance":{"method":"psi","threshold":0.2}}',
      });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string(),
      z.strictObject({
        method: z.enum(DRIFT_METHODS).optional(),
        threshold: z.number().positive().optional(),
      }),
    ),
  )
  .optional();

const settings = {
  reference: setting({
    flag: 'reference',
    env: 'MLCYCLE_DRIFT_REFERENCE',
    description:
      'reference dataset (reference.parquet of a model version): file or s3:// URI; default: from the registry',
    schema: z.string().min(1).optional(),
  }),
  schema: setting({
    flag: 'schema',
    env: 'MLCYCLE_DRIFT_SCHEMA',
    description: 'feature schema (schema.json); default: beside the reference',
    schema: z.string().min(1).optional(),
  }),
  metrics: setting({
    flag: 'metrics',
    env: 'MLCYCLE_DRIFT_METRICS',
    description: 'metrics.json with the holdout metrics; default: beside the reference, else the registry',
    schema: z.string().min(1).optional(),
  }),
  current: setting({
    flag: 'current',
    env: 'MLCYCLE_DRIFT_CURRENT',
    description:
      'current data as a file or s3:// URI; when absent, the prediction logs of --model-name/--model-version',
    schema: z.string().min(1).optional(),
  }),
  modelName: setting({
    flag: 'model-name',
    env: 'MLCYCLE_MODEL_NAME',
    description: 'model whose prediction logs (and registry entry) to use',
    schema: z.string().min(1).optional(),
  }),
  modelVersion: setting({
    flag: 'model-version',
    env: 'MLCYCLE_MODEL_VERSION',
    description: 'model version whose prediction logs to use',
    schema: z.string().min(1).optional(),
  }),
  window: setting({
    flag: 'window',
    env: 'MLCYCLE_DRIFT_WINDOW',
    description: 'log window ending at --until (default now), e.g. 24h',
    schema: fields.duration.optional(),
  }),
  since: setting({
    flag: 'since',
    env: 'MLCYCLE_DRIFT_SINCE',
    description: 'log window start (ISO-8601)',
    schema: timestamp,
  }),
  until: setting({
    flag: 'until',
    env: 'MLCYCLE_DRIFT_UNTIL',
    description: 'log window end, exclusive (ISO-8601)',
    schema: timestamp,
  }),
  out: setting({
    flag: 'out',
    env: 'MLCYCLE_DRIFT_OUT',
    description: 'where report.html and report.json go: a directory or an s3:// prefix',
    schema: z.string().min(1, 'required: a directory or s3:// prefix for the reports'),
  }),
  driftMonitor: setting({
    flag: 'drift-monitor',
    env: 'MLCYCLE_DRIFT_MONITOR',
    description:
      'namespace/name of the DriftMonitor: scopes run history and alert state, and receives the run in its status',
    schema: z
      .string()
      .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'expected namespace/name')
      .optional(),
  }),
  driftShare: setting({
    flag: 'drift-share',
    env: 'MLCYCLE_DRIFT_SHARE',
    description: `dataset drift when at least this share of the features drifted (default ${DRIFT_DEFAULTS.driftShare})`,
    schema: z.coerce.number().gt(0).max(1).default(DRIFT_DEFAULTS.driftShare),
  }),
  method: setting({
    flag: 'method',
    env: 'MLCYCLE_DRIFT_METHOD',
    description: `drift method for every feature it applies to: ${DRIFT_METHODS.join(', ')} (default: per feature, as Evidently)`,
    schema: z.enum(DRIFT_METHODS).optional(),
  }),
  threshold: setting({
    flag: 'threshold',
    env: 'MLCYCLE_DRIFT_THRESHOLD',
    description: 'drift threshold (p-value for ks/chisquare/z, distance for the others)',
    schema: z.coerce.number().positive().optional(),
  }),
  perFeature: setting({
    flag: 'per-feature',
    env: 'MLCYCLE_DRIFT_PER_FEATURE',
    description: 'per-feature overrides as JSON, e.g. {"distance":{"method":"psi","threshold":0.2}}',
    schema: perFeature,
  }),
  minRows: setting({
    flag: 'min-rows',
    env: 'MLCYCLE_DRIFT_MIN_ROWS',
    description: `fewer current rows than this: "insufficient data", no drift claim (default ${DRIFT_DEFAULTS.minRows})`,
    schema: fields.positiveInt.default(DRIFT_DEFAULTS.minRows),
  }),
  qualityMetric: setting({
    flag: 'quality-metric',
    env: 'MLCYCLE_DRIFT_QUALITY_METRIC',
    description: 'metric of the quality verdict (default roc_auc for classification, rmse for regression)',
    schema: z
      .enum(['roc_auc', 'accuracy', 'precision', 'recall', 'f1', 'log_loss', 'rmse', 'mae'])
      .optional(),
  }),
  qualityTolerance: setting({
    flag: 'quality-tolerance',
    env: 'MLCYCLE_DRIFT_QUALITY_TOLERANCE',
    description: `quality is degraded when the metric is worse than holdout by more than this fraction (default ${DRIFT_DEFAULTS.tolerance})`,
    schema: fields.fraction.default(DRIFT_DEFAULTS.tolerance),
  }),
  minLabels: setting({
    flag: 'min-labels',
    env: 'MLCYCLE_DRIFT_MIN_LABELS',
    description: `no quality verdict with fewer labelled rows (default ${DRIFT_DEFAULTS.minLabels})`,
    schema: fields.positiveInt.default(DRIFT_DEFAULTS.minLabels),
  }),
  sustainedRuns: setting({
    flag: 'sustained-runs',
    env: 'MLCYCLE_DRIFT_SUSTAINED_RUNS',
    description: `drifted runs in a row that make drift sustained (default ${DEFAULT_POLICY.sustainedDriftRuns})`,
    schema: fields.positiveInt.default(DEFAULT_POLICY.sustainedDriftRuns),
  }),
  retrainOnSustainedDrift: setting({
    flag: 'retrain-on-sustained-drift',
    env: 'MLCYCLE_DRIFT_RETRAIN',
    description: 'record a retraining request when drift becomes sustained',
    schema: z.boolean().default(false),
    boolean: true,
  }),
  alertWebhook: setting({
    flag: 'alert-webhook',
    env: 'MLCYCLE_DRIFT_ALERT_WEBHOOK',
    description: 'Slack-compatible webhook URL, called when the verdict changes',
    schema: z.url({ message: 'expected an http(s) URL' }).optional(),
  }),
  ...databaseSettings,
  ...s3Settings,
};

export const driftCommand = defineCommand({
  name: 'drift',
  summary: 'drift, prediction drift and quality of a window against the reference; HTML/JSON report, alerts',
  description: [
    'Compares the current data (a file, or the prediction logs of a model version in a time window,',
    'joined with the labels from /feedback) with the model version reference sample. Statistics and',
    "defaults follow Evidently 0.7's DataDriftPreset. Writes report.html and report.json to --out;",
    'with a database, records the run in drift_runs, keeps the alert state and calls --alert-webhook',
    'when the verdict changes. Prints a JSON summary on stdout.',
    '',
    'Exit codes (for CronJobs): 0 the run completed, whatever the verdict (drift, degraded quality',
    'and insufficient data are results, read them from the report, drift_runs or the DriftMonitor',
    'status); 2 invalid settings; 3 unusable input data (unreadable, schema mismatch); 1 anything else',
    '(database or object store unreachable, bugs).',
  ].join('\n'),
  settings,
  run: async (v) => {
    if (v.window !== undefined && v.since !== undefined)
      throw new ConfigError('give --window or --since, not both');
    const needsDatabase = !v.current || !v.reference || v.databaseUrl !== undefined;
    let db: Database | undefined;
    try {
      if (needsDatabase)
        db = await openDatabase({
          databaseUrl: v.databaseUrl,
          dataDir: v.dataDir,
          applicationName: 'mlcycle-drift',
        });
      const log = createLogger('drift');
      const result = await runDriftJob({
        reference: v.reference,
        schema: v.schema,
        metrics: v.metrics,
        current: v.current,
        modelName: v.modelName,
        modelVersion: v.modelVersion,
        windowMs: v.window,
        since: v.since,
        until: v.until,
        out: v.out,
        s3: v,
        pool: db?.pool,
        monitor: v.driftMonitor,
        driftShare: v.driftShare,
        method: v.method,
        threshold: v.threshold,
        perFeature: (v.perFeature ?? {}) as Record<string, DriftOverride>,
        minRows: v.minRows,
        quality: { metric: v.qualityMetric, minLabels: v.minLabels, tolerance: v.qualityTolerance },
        policy: { sustainedDriftRuns: v.sustainedRuns, retrainOnSustainedDrift: v.retrainOnSustainedDrift },
        alertWebhook: v.alertWebhook,
        log,
      });
      if (v.driftMonitor) {
        try {
          await writeMonitorStatus(
            v.driftMonitor,
            monitorStatus(
              result.report,
              result.runReportUris?.html ?? result.reportHtmlUri,
              process.env.MLCYCLE_JOB_NAME,
            ),
          );
        } catch (err) {
          // The run and its report stand; the operator also reads drift_runs.
          log.error(
            { err: errorMessage(err), monitor: v.driftMonitor },
            'could not write the DriftMonitor status',
          );
        }
      }
      const r = result.report;
      process.stdout.write(
        `${JSON.stringify({
          run_id: r.run_id,
          verdict: r.verdict.verdict,
          dataset_drift: r.dataset_drift,
          drift_share: r.drift_share,
          drifted_features: r.drifted_features,
          prediction_drift: r.prediction_drift.drifted,
          quality: r.quality.verdict,
          rows: r.rows,
          alert: result.alert,
          report_html: result.reportHtmlUri,
          report_json: result.reportJsonUri,
        })}\n`,
      );
      return 0;
    } finally {
      await db?.close();
    }
  },
});
