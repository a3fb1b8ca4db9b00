import { z } from 'zod';
import { fields, parseDuration, type SettingsArgs, setting } from './config.js';
import { DEFAULT_POLICY } from './policy.js';
import { DriftMethod, EstimateMetric } from './resources/drift-monitor.js';
import { tenantSettings } from './tenant.js';

/**
 * The settings of `mlcycle drift`, in core because two stages speak them: the drift job parses
 * them, the operator builds the drift CronJob's arguments from them (`settingsToArgs`), so a
 * flag renamed here is renamed on both sides, and a setting renamed or removed here fails the
 * operator's typecheck.
 */

/** The drift methods a run can be told to use (the CRD's `auto` means: leave it to the run). */
export const DRIFT_METHODS = DriftMethod.exclude(['auto']).options;
export type DriftMethodName = (typeof DRIFT_METHODS)[number];

export const DRIFT_DEFAULTS = {
  driftShare: 0.5,
  minRows: 100,
  minLabels: 100,
  tolerance: 0.05,
  retrainCooldown: '6h',
  retrainMaxPerDay: 3,
  promotionMinLabels: 200,
};

export const QUALITY_METRICS = [
  'roc_auc',
  'accuracy',
  'precision',
  'recall',
  'f1',
  'log_loss',
  'rmse',
  'mae',
] as const;

/** The metrics CBPE estimates (drift-job/stats/cbpe.ts). */
export const ESTIMATE_METRICS = EstimateMetric.options;

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

/** A yes/no setting that has a value (`--x=false`), for defaults that are true. */
const yesNo = (byDefault: boolean) => z.union([z.boolean(), z.stringbool()]).default(byDefault);

export const driftSettings = {
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
  runId: setting({
    flag: 'run-id',
    env: 'MLCYCLE_JOB_NAME',
    description:
      'id of the run; a second attempt with the same id is the same run (in a Job: the Job name, set by the operator); default: a new id',
    schema: z.string().min(1).max(200).optional(),
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
    schema: z.enum(QUALITY_METRICS).optional(),
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
  rollbackOnQualityDegraded: setting({
    flag: 'rollback-on-quality-degraded',
    env: 'MLCYCLE_DRIFT_ROLLBACK_ON_QUALITY_DEGRADED',
    description: `decide a rollback when quality is degraded: true or false (default ${DEFAULT_POLICY.rollbackOnQualityDegraded})`,
    schema: yesNo(DEFAULT_POLICY.rollbackOnQualityDegraded),
  }),
  rollbackOnSustainedDrift: setting({
    flag: 'rollback-on-sustained-drift',
    env: 'MLCYCLE_DRIFT_ROLLBACK_ON_SUSTAINED_DRIFT',
    description: `decide a rollback on sustained drift: true or false (default ${DEFAULT_POLICY.rollbackOnSustainedDrift})`,
    schema: yesNo(DEFAULT_POLICY.rollbackOnSustainedDrift),
  }),
  retrainCooldown: setting({
    flag: 'retrain-cooldown',
    env: 'MLCYCLE_DRIFT_RETRAIN_COOLDOWN',
    description: `no retraining sooner than this after the last one (default ${DRIFT_DEFAULTS.retrainCooldown})`,
    schema: fields.duration.default(parseDuration(DRIFT_DEFAULTS.retrainCooldown)),
  }),
  retrainMaxPerDay: setting({
    flag: 'retrain-max-per-day',
    env: 'MLCYCLE_DRIFT_RETRAIN_MAX_PER_DAY',
    description: `at most this many retrainings in any 24 hours (default ${DRIFT_DEFAULTS.retrainMaxPerDay})`,
    schema: fields.positiveInt.default(DRIFT_DEFAULTS.retrainMaxPerDay),
  }),
  challengerVersion: setting({
    flag: 'challenger-version',
    env: 'MLCYCLE_DRIFT_CHALLENGER_VERSION',
    description:
      'registry version of the challenger beside --model-version: compares both on the same labelled requests',
    schema: z.string().min(1).optional(),
  }),
  promotionMetric: setting({
    flag: 'promotion-metric',
    env: 'MLCYCLE_DRIFT_PROMOTION_METRIC',
    description:
      'metric champion and challenger are compared on (default roc_auc for classification, rmse for regression)',
    schema: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'a snake_case metric name such as roc_auc or rmse')
      .optional(),
  }),
  promotionMargin: setting({
    flag: 'promotion-margin',
    env: 'MLCYCLE_DRIFT_PROMOTION_MARGIN',
    description:
      'the challenger must beat the champion by at least this much, in the metric units (default 0)',
    schema: z.coerce.number().min(0).default(0),
  }),
  promotionMinLabels: setting({
    flag: 'promotion-min-labels',
    env: 'MLCYCLE_DRIFT_PROMOTION_MIN_LABELS',
    description: `labelled requests scored by both before they are compared (default ${DRIFT_DEFAULTS.promotionMinLabels})`,
    schema: fields.positiveInt.default(DRIFT_DEFAULTS.promotionMinLabels),
  }),
  logSpillUri: setting({
    flag: 'log-spill-uri',
    env: 'MLCYCLE_LOG_SPILL_URI',
    description:
      "the deployment's prediction log spill location (s3://bucket/prefix or directory): rows its servers could not write before they stopped are imported before the window is read",
    schema: z.string().min(1).optional(),
  }),
  estimate: setting({
    flag: 'estimate',
    env: 'MLCYCLE_DRIFT_ESTIMATE',
    description:
      'estimate quality before labels (CBPE, binary classifiers) and decide EstimatedDegraded on it: true or false (default true)',
    schema: yesNo(true),
  }),
  estimateMetric: setting({
    flag: 'estimate-metric',
    env: 'MLCYCLE_DRIFT_ESTIMATE_METRIC',
    description: `metric of the EstimatedDegraded verdict: ${ESTIMATE_METRICS.join(', ')} (default: the quality metric when CBPE estimates it, else roc_auc)`,
    schema: z.enum(ESTIMATE_METRICS).optional(),
  }),
  retrainOnEstimatedDegraded: setting({
    flag: 'retrain-on-estimated-degraded',
    env: 'MLCYCLE_DRIFT_RETRAIN_ON_ESTIMATED_DEGRADED',
    description:
      'also record a retraining request on EstimatedDegraded (once per streak, within the guardrails)',
    schema: z.boolean().default(false),
    boolean: true,
  }),
  rollbackOnEstimatedDegraded: setting({
    flag: 'rollback-on-estimated-degraded',
    env: 'MLCYCLE_DRIFT_ROLLBACK_ON_ESTIMATED_DEGRADED',
    description:
      'also decide a rollback on EstimatedDegraded: true or false (default false: rollback waits for labels)',
    schema: yesNo(false),
  }),
  holdPromotionOnEstimatedDegraded: setting({
    flag: 'hold-promotion-on-estimated-degraded',
    env: 'MLCYCLE_DRIFT_HOLD_PROMOTION_ON_ESTIMATED_DEGRADED',
    description:
      'do not promote a challenger whose own estimated quality is degraded: true or false (default false)',
    schema: yesNo(false),
  }),
  alertWebhook: setting({
    flag: 'alert-webhook',
    env: 'MLCYCLE_DRIFT_ALERT_WEBHOOK',
    description:
      'Slack-compatible webhook URL, called when the verdict changes; a credential: prefer the variable to the flag (the operator sets the variable, from a Secret with spec.actions.alertWebhookSecretRef)',
    schema: z.url({ protocol: /^https?$/, message: 'expected an http(s) URL' }).optional(),
    // A Slack webhook's URL is its key: a bad one is never echoed.
    secret: true,
  }),
  alertAllowLinkLocal: setting({
    flag: 'alert-allow-link-local',
    env: 'MLCYCLE_DRIFT_ALERT_ALLOW_LINK_LOCAL',
    description:
      'also send alerts to link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200), refused by default; loopback and private addresses are always allowed',
    schema: z.boolean().default(false),
    boolean: true,
  }),
  ...tenantSettings,
};

export type DriftSettings = typeof driftSettings;
/** What the operator may set on a drift run's command line. */
export type DriftArgs = SettingsArgs<DriftSettings>;
