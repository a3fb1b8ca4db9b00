import { z } from 'zod';
import { fields, type SettingsArgs, setting } from './config.js';
import { databaseSettings } from './db/index.js';
import { Task } from './feature-schema.js';
import { s3Settings } from './object-store/index.js';
import { DEFAULT_NAMESPACE, tenantSettings } from './tenant.js';

/**
 * The settings of `mlcycle train`: what the command parses, and what the operator builds the
 * trainer Job's arguments from (operator/children.ts), so both sides share one definition and
 * a renamed setting fails the typecheck of the other.
 */

export const Algorithm = z.enum(['auto', 'gbdt', 'linear']);
export type Algorithm = z.infer<typeof Algorithm>;

/** How rows are cut into train / validation / holdout. */
export const SplitMethod = z.enum(['time', 'random', 'stratified']);
export type SplitMethod = z.infer<typeof SplitMethod>;

const columnList = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  );

export const TRAIN_DEFAULTS = {
  algorithm: 'auto' as Algorithm,
  store: '.mlcycle/artifacts',
  seed: 42,
  trials: 8,
  minRounds: 25,
  maxRounds: 400,
  earlyStoppingRounds: 20,
  validationFraction: 0.15,
  holdoutFraction: 0.15,
  referenceRows: 100_000,
  flightsRows: 300_000,
  gate: { minRocAuc: 0.6, minLift: 0.02, mustBeatChampion: false },
  dataDir: '.mlcycle',
  namespace: DEFAULT_NAMESPACE,
} as const;

const date = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected a date such as 2001-03-01 or 2001-03-01T00:00:00Z')
  .transform((s) => new Date(s));
const optionalNumber = z.coerce.number().finite().optional();

export const trainSettings = {
  dataset: setting({
    flag: 'dataset',
    env: 'MLCYCLE_DATASET',
    description:
      'dataset: builtin:flights, a .parquet/.csv/.json file, s3://bucket/key, or production:<model>?since=…&until=… (labelled predictions)',
    schema: z.string({ message: 'required: pass --dataset (e.g. builtin:flights)' }).min(1),
  }),
  out: setting({
    flag: 'out',
    env: 'MLCYCLE_OUT',
    description: 'write the artifacts into this directory or s3:// prefix (the version directory itself)',
    schema: z.string().min(1).optional(),
  }),
  store: setting({
    flag: 'store',
    env: 'MLCYCLE_STORE',
    description: 'artifact store root used when --out is absent: <store>/models/<model>/<version>/',
    schema: z.string().min(1).default(TRAIN_DEFAULTS.store),
  }),
  modelName: setting({
    flag: 'model-name',
    env: 'MLCYCLE_MODEL_NAME',
    description: 'model name (default flights-delay for builtin:flights)',
    schema: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS-1123 label, e.g. flights-delay')
      .optional(),
  }),
  version: setting({
    flag: 'version',
    env: 'MLCYCLE_MODEL_VERSION',
    description: 'version label (default: the next free vN in the registry, or v1)',
    schema: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/, 'e.g. v3')
      .optional(),
  }),
  task: setting({
    flag: 'task',
    env: 'MLCYCLE_TASK',
    description: 'binary-classification or regression (default: from the target)',
    schema: Task.optional(),
  }),
  target: setting({
    flag: 'target',
    env: 'MLCYCLE_TARGET',
    description: 'target column (builtin:flights: delayed = delay >= 15 min, or delay for regression)',
    schema: z.string().min(1).optional(),
  }),
  positiveLabel: setting({
    flag: 'positive-label',
    env: 'MLCYCLE_POSITIVE_LABEL',
    description:
      'binary classification: the target value predicted as 1 (default: true, 1 or yes for such pairs, else the second value in sorted order)',
    schema: z.string().min(1).optional(),
  }),
  split: setting({
    flag: 'split',
    env: 'MLCYCLE_SPLIT',
    description:
      'time, random or stratified (default: time when one timestamp column has enough distinct values, else stratified for classification, random for regression)',
    schema: SplitMethod.optional(),
  }),
  timeColumn: setting({
    flag: 'time-column',
    env: 'MLCYCLE_TIME_COLUMN',
    description: 'timestamp column to split by time (default: the only timestamp column)',
    schema: z.string().min(1).optional(),
  }),
  exclude: setting({
    flag: 'exclude',
    env: 'MLCYCLE_EXCLUDE',
    description: 'comma-separated columns not to use as features',
    schema: columnList,
  }),
  include: setting({
    flag: 'include',
    env: 'MLCYCLE_INCLUDE',
    description:
      'comma-separated columns to use as features although they look like identifiers (near-unique text, row counters)',
    schema: columnList,
  }),
  since: setting({
    flag: 'since',
    env: 'MLCYCLE_SINCE',
    description: 'use rows at or after this time',
    schema: date.optional(),
  }),
  until: setting({
    flag: 'until',
    env: 'MLCYCLE_UNTIL',
    description: 'use rows before this time',
    schema: date.optional(),
  }),
  rows: setting({
    flag: 'rows',
    env: 'MLCYCLE_ROWS',
    description: `sample this many rows evenly over the period (builtin:flights default ${TRAIN_DEFAULTS.flightsRows})`,
    schema: fields.positiveInt.optional(),
  }),
  seed: setting({
    flag: 'seed',
    env: 'MLCYCLE_SEED',
    description: 'random seed',
    schema: fields.nonNegativeInt.default(TRAIN_DEFAULTS.seed),
  }),
  algorithm: setting({
    flag: 'algorithm',
    env: 'MLCYCLE_ALGORITHM',
    description: 'auto (the GBDT unless the linear model validates better), gbdt or linear',
    schema: Algorithm.default(TRAIN_DEFAULTS.algorithm),
  }),
  trials: setting({
    flag: 'trials',
    env: 'MLCYCLE_TRIALS',
    description: 'hyperparameter trials (random search + successive halving)',
    schema: fields.positiveInt.max(256).default(TRAIN_DEFAULTS.trials),
  }),
  minRounds: setting({
    flag: 'min-rounds',
    env: 'MLCYCLE_MIN_ROUNDS',
    description: 'trees per trial at the first halving rung',
    schema: fields.positiveInt.default(TRAIN_DEFAULTS.minRounds),
  }),
  maxRounds: setting({
    flag: 'max-rounds',
    env: 'MLCYCLE_MAX_ROUNDS',
    description: 'maximum trees of the final model (early stopping may stop sooner)',
    schema: fields.positiveInt.max(5000).default(TRAIN_DEFAULTS.maxRounds),
  }),
  earlyStoppingRounds: setting({
    flag: 'early-stopping-rounds',
    env: 'MLCYCLE_EARLY_STOPPING_ROUNDS',
    description: 'stop after this many trees without validation improvement (0 = never)',
    schema: fields.nonNegativeInt.default(TRAIN_DEFAULTS.earlyStoppingRounds),
  }),
  validationFraction: setting({
    flag: 'validation-fraction',
    env: 'MLCYCLE_VALIDATION_FRACTION',
    description: 'share of the (time-sorted) rows for validation',
    schema: z.coerce.number().gt(0).lt(0.5).default(TRAIN_DEFAULTS.validationFraction),
  }),
  holdoutFraction: setting({
    flag: 'holdout-fraction',
    env: 'MLCYCLE_HOLDOUT_FRACTION',
    description: 'share of the most recent rows held out for evaluation',
    schema: z.coerce.number().gt(0).lt(0.5).default(TRAIN_DEFAULTS.holdoutFraction),
  }),
  trainUntil: setting({
    flag: 'train-until',
    env: 'MLCYCLE_TRAIN_UNTIL',
    description: 'train on rows before this time (instead of the fractions)',
    schema: date.optional(),
  }),
  validationUntil: setting({
    flag: 'validation-until',
    env: 'MLCYCLE_VALIDATION_UNTIL',
    description: 'validate on rows before this time; the rest is the holdout',
    schema: date.optional(),
  }),
  referenceRows: setting({
    flag: 'reference-rows',
    env: 'MLCYCLE_REFERENCE_ROWS',
    description: 'rows of the holdout kept in reference.parquet',
    schema: fields.positiveInt.default(TRAIN_DEFAULTS.referenceRows),
  }),
  gateMinRocAuc: setting({
    flag: 'gate-min-roc-auc',
    env: 'MLCYCLE_GATE_MIN_ROC_AUC',
    description: `gate: minimum holdout ROC AUC (classification, default ${TRAIN_DEFAULTS.gate.minRocAuc})`,
    schema: z.coerce.number().min(0).max(1).default(TRAIN_DEFAULTS.gate.minRocAuc),
  }),
  gateMinLift: setting({
    flag: 'gate-min-lift',
    env: 'MLCYCLE_GATE_MIN_LIFT',
    description: `gate: margin over the baseline: ROC AUC points, or relative RMSE reduction (default ${TRAIN_DEFAULTS.gate.minLift})`,
    schema: z.coerce.number().min(0).max(1).default(TRAIN_DEFAULTS.gate.minLift),
  }),
  gateMaxRmse: setting({
    flag: 'gate-max-rmse',
    env: 'MLCYCLE_GATE_MAX_RMSE',
    description: 'gate: maximum holdout RMSE (regression)',
    schema: optionalNumber,
  }),
  gateMinR2: setting({
    flag: 'gate-min-r2',
    env: 'MLCYCLE_GATE_MIN_R2',
    description: 'gate: minimum holdout R² (regression)',
    schema: optionalNumber,
  }),
  gateMustBeatChampion: setting({
    flag: 'gate-must-beat-champion',
    env: 'MLCYCLE_GATE_MUST_BEAT_CHAMPION',
    description: 'gate: must beat the registry champion on the same holdout',
    schema: z.boolean().default(false),
    boolean: true,
  }),
  lineageRetrainedFrom: setting({
    flag: 'lineage-retrained-from',
    env: 'MLCYCLE_LINEAGE_RETRAINED_FROM',
    description: 'lineage: the ModelVersion this version retrains (recorded in the registry)',
    schema: z.string().min(1).optional(),
  }),
  lineageDeployment: setting({
    flag: 'lineage-deployment',
    env: 'MLCYCLE_LINEAGE_DEPLOYMENT',
    description: 'lineage: the ModelDeployment this version was retrained for',
    schema: z.string().min(1).optional(),
  }),
  lineageDriftMonitor: setting({
    flag: 'lineage-drift-monitor',
    env: 'MLCYCLE_LINEAGE_DRIFT_MONITOR',
    description: 'lineage: the DriftMonitor that asked for this version',
    schema: z.string().min(1).optional(),
  }),
  lineageDriftRun: setting({
    flag: 'lineage-drift-run',
    env: 'MLCYCLE_LINEAGE_DRIFT_RUN',
    description: 'lineage: the drift run that asked for this version',
    schema: z.string().min(1).optional(),
  }),
  noRegister: setting({
    flag: 'no-register',
    env: 'MLCYCLE_NO_REGISTER',
    description: 'write the artifacts only; do not record the version in the registry',
    schema: z.boolean().default(false),
    boolean: true,
  }),
  quiet: setting({
    flag: 'quiet',
    env: 'MLCYCLE_QUIET',
    description: 'no progress output',
    schema: z.boolean().default(false),
    boolean: true,
  }),
  ...tenantSettings,
  ...databaseSettings,
  ...s3Settings,
};

/** The train command's settings as argument values: what the operator fills in for a Job. */
export type TrainArgs = SettingsArgs<typeof trainSettings>;
