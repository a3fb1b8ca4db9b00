import { z } from 'zod';
import { ARTIFACT, artifactUri, readArtifact, readArtifactText } from '../core/artifacts.js';
import type { Pool } from '../core/db/index.js';
import { openDatabase } from '../core/db/index.js';
import { canonicalJson } from '../core/digest.js';
import { errorMessage, UserError } from '../core/errors.js';
import {
  type FeatureSchema,
  parseFeatureSchema,
  serializeFeatureSchema,
  type Task,
} from '../core/feature-schema.js';
import { createLogger, type Logger } from '../core/log.js';
import {
  bestF1Threshold,
  calibration,
  classificationMetrics,
  curves,
  regressionMetrics,
} from '../core/metrics.js';
import { openObjectStore, type S3SettingsValues } from '../core/object-store/index.js';
import { getAlias, getVersion, listVersions, saveVersion } from '../core/registry.js';
import { VersionDirectory } from './artifacts.js';
import { FLIGHTS_DATASET, type PreparedData, prepareData } from './data/dataset.js';
import { buildMatrix, type FeaturePlan, fitFeaturePlan } from './data/plan.js';
import { maxAbsDiff, scoreWithOnnx } from './evaluate/onnx-scoring.js';
import { toRecords } from './evaluate/records.js';
import { exportModel } from './export/model-graph.js';
import { type ChampionComparison, evaluateGate, type GateOptions, type GateOutcome } from './gate.js';
import type { GbdtModel } from './gbdt/booster.js';
import { applyBinsToSet, binTrainingSet } from './gbdt/dataset.js';
import { meanLoss, sigmoid } from './gbdt/loss.js';
import { featureImportance, predictRawFloat32 } from './gbdt/predict.js';
import { fitLinear, type LinearModel, linearRaw } from './linear/linear.js';
import { createProgress, type Progress } from './progress.js';
import { referenceParquet, referenceTable } from './reference.js';
import { renderReport } from './report.js';
import { type Trial, tune } from './tuning.js';
import { codeVersions } from './versions.js';

/** The largest |ONNX − TypeScript| a run accepts on the holdout. */
export const PARITY_TOLERANCE = 1e-5;

export interface TrainOptions {
  dataset: string;
  /** The version directory itself (a path or s3:// prefix). */
  out?: string | undefined;
  /** Artifact store root, used when `out` is absent: <store>/models/<model>/<version>/. */
  store: string;
  modelName?: string | undefined;
  version?: string | undefined;
  task?: Task | undefined;
  target?: string | undefined;
  timeColumn?: string | undefined;
  exclude?: string[] | undefined;
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
  /** Record the version in the registry (default true). */
  register: boolean;
  /** An open pool to use (in-process callers); otherwise databaseUrl / dataDir are opened. */
  pool?: Pool | undefined;
  databaseUrl?: string | undefined;
  dataDir: string;
  s3: S3SettingsValues;
  progress?: Progress | undefined;
  logger?: Logger | undefined;
}

export const Algorithm = z.enum(['auto', 'gbdt', 'linear']);
export type Algorithm = z.infer<typeof Algorithm>;

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
  gate: { minRocAuc: 0.6, minLift: 0.02, mustBeatChampion: false } satisfies GateOptions,
  dataDir: '.mlcycle',
} as const;

/**
 * Options with every default filled in, for in-process callers (the demo, the operator):
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

export interface TrainResult {
  modelName: string;
  version: string;
  task: Task;
  status: 'registered' | 'rejected';
  deployable: boolean;
  registered: boolean;
  gate: GateOutcome;
  artifactRoot: string;
  artifacts: { name: string; uri: string; sha256: string; sizeBytes: number }[];
  schemaDigest: string;
  metrics: Metrics;
  seconds: number;
}

type ChosenModel = { kind: 'gbdt'; gbdt: GbdtModel } | { kind: 'linear'; linear: LinearModel };

export interface Metrics {
  task: Task;
  model_name: string;
  version: string;
  model: Record<string, unknown>;
  holdout: Record<string, number>;
  baseline: Record<string, number>;
  validation: Record<string, number>;
  linear_holdout: Record<string, number>;
  champion?:
    | { version: string; value?: number | undefined; metric: string; error?: string | undefined }
    | undefined;
  calibration?: ReturnType<typeof calibration> | undefined;
  gate: GateOutcome;
  onnx_parity: { max_abs_diff: number; rows: number; tolerance: number };
  rows: Record<string, number>;
  periods: Record<string, { from: string; to: string }>;
  feature_importance: { feature: string; gain_share: number }[];
  training_seconds: number;
  total_seconds: number;
}

/** Trains, evaluates, gates, exports and registers one model version. */
export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const started = new Date();
  const t0 = performance.now();
  const log = options.logger ?? createLogger('trainer');
  const progress = options.progress ?? createProgress(process.stderr, false);
  const isFlights = options.dataset === FLIGHTS_DATASET;
  const modelName =
    options.modelName ??
    (isFlights ? (options.task === 'regression' ? 'flights-delay-minutes' : 'flights-delay') : undefined);
  if (!modelName) throw new UserError('--model-name is required for datasets other than builtin:flights');
  // Fail on a bad artifact location (e.g. s3:// without credentials) before any work is done.
  openObjectStore(options.out ?? options.store, options.s3);

  // The registry database starts (embedded PGlite takes seconds) while the dataset is read.
  const opening =
    options.register && !options.pool
      ? openDatabase({
          databaseUrl: options.databaseUrl,
          dataDir: options.dataDir,
          applicationName: 'mlcycle-train',
        })
      : undefined;
  // Settled at once so a failed read never leaves an unhandled rejection behind.
  const dbResult = opening?.then(
    (db) => ({ db, error: undefined }),
    (error: unknown) => ({ db: undefined, error }),
  );
  progress.step(`reading ${options.dataset}`);
  let data: PreparedData;
  try {
    data = await prepareData({
      dataset: options.dataset,
      task: options.task,
      target: options.target,
      timeColumn: options.timeColumn,
      exclude: options.exclude ?? [],
      since: options.since,
      until: options.until,
      rows: options.rows ?? (isFlights ? TRAIN_DEFAULTS.flightsRows : undefined),
      seed: options.seed,
      validationFraction: options.validationFraction,
      holdoutFraction: options.holdoutFraction,
      trainUntil: options.trainUntil,
      validationUntil: options.validationUntil,
      s3: options.s3,
    });
  } catch (err) {
    await (await dbResult)?.db?.close().catch(() => {});
    throw err;
  }
  const split = (p: 'train' | 'validation' | 'holdout') => data.splits[p][1] - data.splits[p][0];
  progress.step(
    `${data.numRows} rows (train ${split('train')}, validation ${split('validation')}, holdout ${split('holdout')}); task ${data.task}, target ${data.targetName}`,
  );
  const opened = await dbResult;
  if (opened?.error) throw opened.error;
  const db = opened?.db;
  const pool = options.register ? (options.pool ?? db!.pool) : undefined;
  let directory: VersionDirectory | undefined;
  try {
    if (pool) await checkRegisteredTask(pool, modelName, data.task);
    const version = options.version ?? (pool ? await nextVersion(pool, modelName) : 'v1');
    directory = VersionDirectory.open(
      { out: options.out, store: options.store },
      modelName,
      version,
      options.s3,
    );
    const replaced = await directory.claim(modelName);
    if (replaced !== undefined) {
      const note = `replacing ${modelName}/${replaced} in ${directory.root}`;
      progress.step(note);
      log.warn({ modelName, replaced, version, root: directory.root }, note);
    }

    // Features.
    const plan = await fitFeaturePlan(data, 'rank');
    const linearPlan = await fitFeaturePlan(data, 'target-mean');
    const matrices = (p: FeaturePlan) => ({
      train: buildMatrix(p, data, ...data.splits.train),
      validation: buildMatrix(p, data, ...data.splits.validation),
      holdout: buildMatrix(p, data, ...data.splits.holdout),
    });
    const x = matrices(plan);
    const label = {
      train: data.target.subarray(...data.splits.train),
      validation: data.target.subarray(...data.splits.validation),
      holdout: data.target.subarray(...data.splits.holdout),
    };
    const objective = data.task === 'binary-classification' ? 'binary' : 'regression';

    // Tuning.
    const trainStart = performance.now();
    progress.step(`tuning: ${options.trials} trials, ${plan.features.length} model features`);
    const trainSet = binTrainingSet(x.train, Float64Array.from(label.train));
    const validSet = applyBinsToSet(x.validation, Float64Array.from(label.validation), trainSet.bins);
    const tuning = await tune(trainSet, validSet, {
      objective,
      trials: options.trials,
      minRounds: options.minRounds,
      maxRounds: options.maxRounds,
      eta: 2,
      earlyStoppingRounds: options.earlyStoppingRounds,
      seed: options.seed,
      onProgress: (e) =>
        progress.update(
          e.done / e.total,
          `trial ${e.trial} rung ${e.rung}: ${e.rounds} trees, validation loss ${e.validLoss.toFixed(5)}`,
        ),
    });
    const gbdt = tuning.booster.model();
    progress.done();
    progress.step(
      `best trial ${tuning.best.trial}: ${gbdt.trees.length} trees, validation loss ${tuning.booster.bestLoss.toFixed(5)}`,
    );

    // The linear baseline model, a candidate too.
    const xl = matrices(linearPlan);
    const linear = fitLinear(xl.train, Float64Array.from(label.train), objective);
    const linearValidLoss = meanLoss(
      objective,
      Float64Array.from(label.validation),
      linearRaw(linear, xl.validation, split('validation')),
    );
    const trainingSeconds = (performance.now() - trainStart) / 1000;
    const useLinear =
      options.algorithm === 'linear' ||
      (options.algorithm === 'auto' && linearValidLoss < tuning.booster.bestLoss);
    const chosen: ChosenModel = useLinear ? { kind: 'linear', linear } : { kind: 'gbdt', gbdt };
    const chosenPlan = useLinear ? linearPlan : plan;
    const chosenX = useLinear ? xl : x;
    progress.step(
      `model: ${chosen.kind} (validation loss gbdt ${tuning.booster.bestLoss.toFixed(5)}, linear ${linearValidLoss.toFixed(5)})`,
    );
    const score = (m: ChosenModel, features: Float32Array[], n: number) => {
      // The graph casts the linear model's double score to float32 before the output/sigmoid.
      const raw =
        m.kind === 'gbdt'
          ? predictRawFloat32(m.gbdt, features, n)
          : linearRaw(m.linear, features, n).map(Math.fround);
      return objective === 'binary' ? raw.map(sigmoid) : raw;
    };

    // Evaluation.
    const validScores = score(chosen, chosenX.validation, split('validation'));
    const holdoutScores = score(chosen, chosenX.holdout, split('holdout'));
    const linearHoldout = score({ kind: 'linear', linear }, xl.holdout, split('holdout'));
    const threshold =
      data.task === 'binary-classification' ? bestF1Threshold(label.validation, validScores) : 0;
    const evaluate = (scores: ArrayLike<number>, y: ArrayLike<number>): Record<string, number> =>
      data.task === 'binary-classification'
        ? { ...classificationMetrics(y, scores, threshold) }
        : { ...regressionMetrics(y, scores) };
    const trainMean = mean(label.train);
    const holdout = evaluate(holdoutScores, label.holdout);
    const baseline = evaluate(new Float64Array(split('holdout')).fill(trainMean), label.holdout);
    const validation = evaluate(validScores, label.validation);
    const linearHoldoutMetrics = evaluate(linearHoldout, label.holdout);

    // Export and parity.
    progress.step('exporting ONNX and checking parity on the holdout');
    const modelBytes = exportModel({
      plan: chosenPlan,
      model: chosen,
      threshold,
      // No version or time in the graph: the same data and seed give byte-identical model.onnx.
      docString: `mlcycle ${modelName}: ${chosen.kind} on ${data.datasetUri}`,
      producerVersion: codeVersions().code_version ?? 'unknown',
    });
    const records = toRecords(data, ...data.splits.holdout);
    const onnxScores = await scoreWithOnnx(modelBytes, chosenPlan.schema, records);
    const parity = maxAbsDiff(onnxScores, holdoutScores);
    if (!(parity <= PARITY_TOLERANCE)) {
      throw new Error(
        `ONNX parity check failed: onnxruntime and the TypeScript model differ by up to ${parity} on the holdout (tolerance ${PARITY_TOLERANCE})`,
      );
    }
    progress.step(`parity ok: max |onnx − ts| = ${parity.toExponential(2)} over ${records.length} rows`);

    // Champion on the same holdout.
    // Scored whenever there is a champion (the report shows it); the gate uses it only when asked.
    const champion = pool
      ? await scoreChampion(pool, modelName, version, data, records, options.s3)
      : undefined;
    const gate = evaluateGate(data.task, holdout, baseline, options.gate, champion);
    progress.step(
      `gate ${gate.passed ? 'passed' : 'failed'}${gate.reasons.length ? `: ${gate.reasons.join('; ')}` : ''}`,
    );

    const importance =
      chosen.kind === 'gbdt' ? featureImportance(chosen.gbdt) : linearImportance(chosen.linear);
    const metrics: Metrics = {
      task: data.task,
      model_name: modelName,
      version,
      model:
        chosen.kind === 'gbdt'
          ? {
              kind: 'gbdt',
              trees: chosen.gbdt.trees.length,
              best_trial: tuning.best.trial,
              params: tuning.best.params,
              base_score: chosen.gbdt.baseScore,
            }
          : { kind: 'linear', l2: linear.l2 },
      holdout,
      baseline,
      validation,
      linear_holdout: linearHoldoutMetrics,
      champion: champion
        ? { ...champion, metric: data.task === 'binary-classification' ? 'roc_auc' : 'rmse' }
        : undefined,
      calibration:
        data.task === 'binary-classification' ? calibration(label.holdout, holdoutScores) : undefined,
      gate,
      onnx_parity: { max_abs_diff: parity, rows: records.length, tolerance: PARITY_TOLERANCE },
      rows: {
        read: data.rowsRead,
        dropped: data.rowsDropped,
        used: data.numRows,
        train: split('train'),
        validation: split('validation'),
        holdout: split('holdout'),
      },
      periods: Object.fromEntries(
        (['train', 'validation', 'holdout'] as const).map((p) => [
          p,
          {
            from: new Date(data.timeMs[data.splits[p][0]]!).toISOString(),
            to: new Date(data.timeMs[data.splits[p][1] - 1]!).toISOString(),
          },
        ]),
      ),
      feature_importance: chosenPlan.features
        .map((f, i) => ({ feature: f.name, gain_share: importance[i]! }))
        .sort((a, b) => b.gain_share - a.gain_share),
      training_seconds: trainingSeconds,
      total_seconds: 0,
    };

    // Artifacts: everything first, the manifest last.
    progress.step(`writing artifacts to ${directory.root}`);
    const reference = referenceTable(data, holdoutScores, threshold, options.referenceRows, options.seed);
    metrics.total_seconds = (performance.now() - t0) / 1000;
    const report = renderReport({
      metrics,
      trials: tuning.trials,
      curves: data.task === 'binary-classification' ? curves(label.holdout, holdoutScores) : undefined,
      datasetUri: data.datasetUri,
      schema: chosenPlan.schema,
    });
    await directory.put(ARTIFACT.model, modelBytes);
    await directory.put(ARTIFACT.schema, serializeFeatureSchema(chosenPlan.schema));
    await directory.put(ARTIFACT.metrics, json(metrics));
    await directory.put(ARTIFACT.trials, json(trialsDocument(tuning.trials, linearValidLoss, objective)));
    await directory.put(ARTIFACT.reference, referenceParquet(reference));
    await directory.put(ARTIFACT.report, report);
    const artifacts = await directory.seal(modelName, version, {
      schemaDigest: chosenPlan.schema.digest,
      task: data.task,
    });

    const status = gate.passed ? 'registered' : 'rejected';
    if (pool) {
      await saveVersion(pool, {
        modelName,
        version,
        task: data.task,
        status,
        deployable: gate.passed,
        gate: { passed: gate.passed, reasons: gate.reasons },
        schemaDigest: chosenPlan.schema.digest,
        datasetUri: data.datasetUri,
        datasetDigest: data.datasetDigest,
        artifactRoot: directory.root,
        params: {
          model: chosen.kind,
          ...(chosen.kind === 'gbdt'
            ? { ...tuning.best.params, trees: chosen.gbdt.trees.length }
            : { l2: linear.l2 }),
          threshold,
          trials: options.trials,
          rows: options.rows ?? null,
          since: options.since?.toISOString() ?? null,
          until: options.until?.toISOString() ?? null,
        },
        metrics: {
          holdout: numeric(holdout),
          baseline: numeric(baseline),
          validation: numeric(validation),
          onnx_parity: { max_abs_diff: parity },
        },
        tags: {
          task: data.task,
          dataset_uri: data.datasetUri,
          dataset_digest: data.datasetDigest,
          schema_digest: chosenPlan.schema.digest,
          seed: String(options.seed),
          started_at: started.toISOString(),
          finished_at: new Date().toISOString(),
          ...codeVersions(),
        },
        artifacts,
      });
    }
    log.info({ modelName, version, status, holdout, gate: gate.passed }, 'model version trained');
    return {
      modelName,
      version,
      task: data.task,
      status,
      deployable: gate.passed,
      registered: pool !== undefined,
      gate,
      artifactRoot: directory.root,
      artifacts,
      schemaDigest: chosenPlan.schema.digest,
      metrics,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (err) {
    await directory?.discard();
    throw err;
  } finally {
    await db?.close();
  }
}

/** A model keeps one task for life; say so before training rather than after. */
async function checkRegisteredTask(pool: Pool, modelName: string, task: Task): Promise<void> {
  const { rows } = await pool.query<{ task: string }>('SELECT task FROM models WHERE name = $1', [modelName]);
  const registered = rows[0]?.task;
  if (registered && registered !== task) {
    throw new UserError(
      `model ${modelName} is registered as a ${registered} model; a ${task} version needs another --model-name`,
    );
  }
}

async function nextVersion(pool: Pool, modelName: string): Promise<string> {
  const versions = await listVersions(pool, modelName);
  let max = 0;
  for (const v of versions) {
    const m = /^v(\d+)$/.exec(v.version);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `v${max + 1}`;
}

/** Scores the current champion on this run's holdout, through its own model.onnx and schema. */
async function scoreChampion(
  pool: Pool,
  modelName: string,
  version: string,
  data: PreparedData,
  records: ReturnType<typeof toRecords>,
  s3: S3SettingsValues,
): Promise<ChampionComparison | undefined> {
  const championVersion = await getAlias(pool, modelName, 'champion');
  if (!championVersion || championVersion === version) return undefined;
  try {
    const stored = await getVersion(pool, modelName, championVersion);
    const modelUri = stored && artifactUri(stored, ARTIFACT.model);
    const schemaUri = stored && artifactUri(stored, ARTIFACT.schema);
    if (!modelUri || !schemaUri) throw new Error('its model.onnx or schema.json is not recorded');
    const schema: FeatureSchema = parseFeatureSchema(await readArtifactText(schemaUri, s3));
    const known = new Set(data.features.map((f) => f.name));
    const missing = schema.features.filter((f) => !known.has(f.name)).map((f) => f.name);
    if (missing.length) throw new Error(`it needs features this dataset lacks: ${missing.join(', ')}`);
    if (schema.task !== data.task) throw new Error(`it is a ${schema.task} model`);
    const scores = await scoreWithOnnx(await readArtifact(modelUri, s3), schema, records);
    const y = data.target.subarray(...data.splits.holdout);
    const value =
      data.task === 'binary-classification'
        ? classificationMetrics(y, scores, 0.5).roc_auc
        : regressionMetrics(y, scores).rmse;
    return { version: championVersion, value };
  } catch (err) {
    return { version: championVersion, error: errorMessage(err) };
  }
}

function trialsDocument(trials: Trial[], linearValidLoss: number, objective: string) {
  return {
    method: 'random search + successive halving (eta 2), resumed boosting between rungs',
    metric: objective === 'binary' ? 'validation log loss' : 'validation mean squared error',
    trials,
    linear: { valid_loss: linearValidLoss },
  };
}

function linearImportance(model: LinearModel): number[] {
  const abs = model.weights.map(Math.abs);
  const total = abs.reduce((a, b) => a + b, 0);
  return abs.map((w) => (total > 0 ? w / total : 0));
}

function numeric(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return values.length ? s / values.length : 0;
}

function json(value: unknown): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)}\n`;
}
