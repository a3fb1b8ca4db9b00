import type { SettingsValues } from '../core/config.js';
import { type DbTls, type Pool, type PoolTimeouts, poolTimeouts, poolTls } from '../core/db/index.js';
import type { Task } from '../core/feature-schema.js';
import type { Logger } from '../core/log.js';
import type { S3SettingsValues } from '../core/object-store/index.js';
import {
  type Algorithm,
  type SplitMethod,
  TRAIN_DEFAULTS,
  type trainSettings,
} from '../core/train-settings.js';
import type { GateOptions } from './gate.js';
import type { Progress } from './progress.js';

export { Algorithm, TRAIN_DEFAULTS } from '../core/train-settings.js';

/** Why this version was trained, as the operator says it (ModelVersion spec.lineage). */
export interface LineageRequest {
  retrainedFrom?: string | undefined;
  driftMonitor?: string | undefined;
  driftRun?: string | undefined;
  deployment?: string | undefined;
}

export interface TrainOptions {
  dataset: string;
  /** The version directory itself (a path or s3:// prefix). */
  out?: string | undefined;
  /** Artifact store root, used when `out` is absent: <store>/models/<model>/<version>/. */
  store: string;
  /** The tenant the version is registered in and whose artifact prefix it is written under. */
  namespace: string;
  modelName?: string | undefined;
  version?: string | undefined;
  task?: Task | undefined;
  target?: string | undefined;
  /** Binary classification: the target value predicted as 1. */
  positiveLabel?: string | undefined;
  timeColumn?: string | undefined;
  /** time, random or stratified; default: see trainer-job/data/dataset.ts. */
  split?: SplitMethod | undefined;
  exclude?: string[] | undefined;
  /** Columns kept as features although they look like identifiers. */
  include?: string[] | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Rows sampled evenly over the period; undefined = all (builtin:flights defaults to 300,000). */
  rows?: number | undefined;
  seed: number;
  /** auto: the GBDT unless the linear model has the lower validation loss. */
  algorithm: Algorithm;
  trials: number;
  minRounds: number;
  maxRounds: number;
  earlyStoppingRounds: number;
  validationFraction: number;
  holdoutFraction: number;
  trainUntil?: Date | undefined;
  validationUntil?: Date | undefined;
  referenceRows: number;
  gate: GateOptions;
  /** Recorded with the version in the registry. */
  lineage?: LineageRequest | undefined;
  /** Record the version in the registry (default true). */
  register: boolean;
  /** An open pool to use (in-process callers); otherwise databaseUrl / dataDir are opened. */
  pool?: Pool | undefined;
  databaseUrl?: string | undefined;
  dataDir: string;
  /** Statement, connection and idle timeouts of the pool opened from databaseUrl / dataDir. */
  databaseTimeouts?: PoolTimeouts | undefined;
  databaseTls?: DbTls | undefined;
  s3: S3SettingsValues;
  progress?: Progress | undefined;
  logger?: Logger | undefined;
}

/**
 * Options with every default filled in, for in-process callers (the demo, tests):
 * `trainModel(trainOptions({ dataset: 'builtin:flights', out: dir, pool }))`.
 */
export function trainOptions(options: Partial<TrainOptions> & { dataset: string }): TrainOptions {
  return {
    ...TRAIN_DEFAULTS,
    register: true,
    s3: { s3Region: 'us-east-1' },
    ...options,
    gate: { ...TRAIN_DEFAULTS.gate, ...options.gate },
  };
}

/** `mlcycle train`'s parsed settings as training options. */
export function optionsFromSettings(
  v: SettingsValues<typeof trainSettings>,
  progress?: Progress,
): TrainOptions {
  const lineage: LineageRequest = {
    retrainedFrom: v.lineageRetrainedFrom,
    driftMonitor: v.lineageDriftMonitor,
    driftRun: v.lineageDriftRun,
    deployment: v.lineageDeployment,
  };
  return {
    dataset: v.dataset,
    out: v.out,
    store: v.store,
    namespace: v.namespace,
    modelName: v.modelName,
    version: v.version,
    task: v.task,
    target: v.target,
    positiveLabel: v.positiveLabel,
    timeColumn: v.timeColumn,
    split: v.split,
    exclude: v.exclude,
    include: v.include,
    since: v.since,
    until: v.until,
    rows: v.rows,
    seed: v.seed,
    algorithm: v.algorithm,
    trials: v.trials,
    minRounds: v.minRounds,
    maxRounds: v.maxRounds,
    earlyStoppingRounds: v.earlyStoppingRounds,
    validationFraction: v.validationFraction,
    holdoutFraction: v.holdoutFraction,
    trainUntil: v.trainUntil,
    validationUntil: v.validationUntil,
    referenceRows: v.referenceRows,
    gate: {
      minRocAuc: v.gateMinRocAuc,
      minLift: v.gateMinLift,
      maxRmse: v.gateMaxRmse,
      minR2: v.gateMinR2,
      mustBeatChampion: v.gateMustBeatChampion,
    },
    lineage: Object.values(lineage).some((x) => x !== undefined) ? lineage : undefined,
    register: !v.noRegister,
    databaseUrl: v.databaseUrl,
    dataDir: v.dataDir,
    databaseTimeouts: poolTimeouts(v),
    databaseTls: poolTls(v),
    s3: v,
    progress,
  };
}
