import { ARTIFACT } from '../core/artifacts.js';
import { isProductionUri } from '../core/dataset/index.js';
import type { Database, Pool } from '../core/db/index.js';
import { openDatabase } from '../core/db/index.js';
import { canonicalJson } from '../core/digest.js';
import { UserError } from '../core/errors.js';
import { serializeFeatureSchema, type Task } from '../core/feature-schema.js';
import {
  bestF1Threshold,
  calibration,
  classificationMetrics,
  curves,
  regressionMetrics,
} from '../core/metrics.js';
import {
  type ArtifactRecord,
  assertVersionFree,
  getModelTask,
  nextVersionLabel,
  type VersionLineage,
} from '../core/registry.js';
import { VersionDirectory } from './artifacts.js';
import {
  applyCalibrator,
  type CalibrationChoice,
  calibrationRecord,
  chooseCalibrator,
  uncalibrated,
} from './calibration.js';
import { compareWithChampion } from './champion.js';
import { FLIGHTS_DATASET, type PreparedData, prepareData } from './data/dataset.js';
import { buildMatrix, type FeaturePlan, fitFeaturePlan } from './data/plan.js';
import { r2LowerBound, rocAucLowerBound } from './evaluate/confidence.js';
import { maxAbsDiff, scoreWithOnnx } from './evaluate/onnx-scoring.js';
import { toRecords } from './evaluate/records.js';
import { exportModel } from './export/model-graph.js';
import { evaluateGate, type GateOutcome, type HoldoutConfidence } from './gate.js';
import type { GbdtModel } from './gbdt/booster.js';
import { applyBinsToSet, binTrainingSet } from './gbdt/dataset.js';
import { meanLoss, sigmoid } from './gbdt/loss.js';
import { featureImportance, predictRawFloat32 } from './gbdt/predict.js';
import { fitLinear, type LinearModel, linearRaw } from './linear/linear.js';
import { headlineMetric, type Metrics } from './metrics-document.js';
import { TRAIN_DEFAULTS, type TrainOptions } from './options.js';
import { referenceParquet, referenceTable } from './reference.js';
import { registerVersion, versionLineage } from './register.js';
import { renderReport } from './report.js';
import { type Run, startRun } from './run.js';
import { type Trial, type TuningResult, tune } from './tuning.js';
import { codeVersions } from './versions.js';

export type { Metrics } from './metrics-document.js';
export {
  Algorithm,
  type LineageRequest,
  TRAIN_DEFAULTS,
  type TrainOptions,
  trainOptions,
} from './options.js';
export type { Run } from './run.js';

/** The largest |ONNX − TypeScript| a run accepts on the holdout. */
export const PARITY_TOLERANCE = 1e-5;

export interface TrainResult {
  modelName: string;
  version: string;
  task: Task;
  status: 'registered' | 'rejected';
  deployable: boolean;
  registered: boolean;
  gate: GateOutcome;
  artifactRoot: string;
  artifacts: ArtifactRecord[];
  schemaDigest: string;
  metrics: Metrics;
  /** What it learned from and why (recorded in the registry when registered). */
  lineage: VersionLineage;
  seconds: number;
}

export type ChosenModel = { kind: 'gbdt'; gbdt: GbdtModel } | { kind: 'linear'; linear: LinearModel };

type Split = 'train' | 'validation' | 'holdout';
type PerSplit<T> = Record<Split, T>;

/** Stage 2: the model features fitted on the training split, and every split's matrix. */
interface Features {
  plan: FeaturePlan;
  linearPlan: FeaturePlan;
  x: PerSplit<Float32Array[]>;
  label: PerSplit<Float64Array>;
  objective: 'binary' | 'regression';
}

/** Stage 3: the tuned GBDT, the linear candidate, and the one chosen. */
interface Fitted {
  tuning: TuningResult;
  linear: LinearModel;
  linearValidLoss: number;
  /** The linear plan's matrices (the linear model is always evaluated). */
  xl: PerSplit<Float32Array[]>;
  chosen: ChosenModel;
  chosenPlan: FeaturePlan;
  chosenX: PerSplit<Float32Array[]>;
  trainingSeconds: number;
}

/** Stage 4: scores and metrics on the validation and holdout splits. */
interface Evaluation {
  threshold: number;
  /** Classification: the calibrator chosen on the validation split (part of the graph). */
  calibration: CalibrationChoice | undefined;
  /** Classification: the holdout probabilities before calibration (for the report). */
  uncalibratedHoldout: Float64Array | undefined;
  holdoutScores: Float64Array;
  holdout: Record<string, number>;
  baseline: Record<string, number>;
  validation: Record<string, number>;
  linearHoldout: Record<string, number>;
  confidence: HoldoutConfidence;
}

/** Stage 5: the ONNX graph and its parity with the TypeScript model. */
interface Exported {
  modelBytes: Uint8Array;
  records: ReturnType<typeof toRecords>;
  parity: number;
}

/**
 * Trains, evaluates, gates, exports and registers one model version, in stages:
 * data → features → tuning → evaluation → export → gate → artifacts → registration.
 */
export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const run = startRun(options);
  const { data, db } = await readData(run);
  const pool = options.register ? (options.pool ?? db?.pool) : undefined;
  let directory: VersionDirectory | undefined;
  try {
    const version = await chooseVersion(run, data.task, pool);
    directory = await claimDirectory(run, version);
    const features = await buildFeatures(data);
    const fitted = await fitModels(run, data, features);
    const evaluation = evaluateModels(data, features, fitted, options.seed);
    const exported = await exportGraph(run, data, fitted, evaluation);
    const champion = pool
      ? await compareWithChampion(
          pool,
          run.options.namespace,
          run.modelName,
          version,
          data,
          exported.records,
          options.s3,
        )
      : undefined;
    const gate = evaluateGate(
      data.task,
      evaluation.holdout,
      evaluation.baseline,
      options.gate,
      champion,
      evaluation.confidence,
    );
    run.progress.step(`gate ${gate.passed ? 'passed' : 'failed'}: ${gate.summary}`);
    for (const c of gate.checks) run.progress.step(`  ${c.passed ? 'pass' : 'FAIL'} ${c.name}: ${c.detail}`);
    const metrics = metricsDocument(run, version, data, features, fitted, evaluation, exported, gate);
    if (champion) metrics.champion = { ...champion, metric: headlineMetric(data.task) };
    const artifacts = await writeArtifacts(
      run,
      directory,
      data,
      features,
      fitted,
      evaluation,
      exported,
      metrics,
    );
    const status = gate.passed ? 'registered' : 'rejected';
    if (pool) {
      await registerVersion(pool, {
        run,
        version,
        status,
        data,
        gate,
        artifacts,
        schemaDigest: fitted.chosenPlan.schema.digest,
        artifactRoot: directory.root,
        params: versionParams(run, fitted, evaluation.threshold),
        metrics: {
          holdout: evaluation.holdout,
          baseline: evaluation.baseline,
          validation: evaluation.validation,
        },
        parity: exported.parity,
      });
    }
    run.log.info(
      { modelName: run.modelName, version, status, holdout: evaluation.holdout, gate: gate.passed },
      'model version trained',
    );
    return {
      modelName: run.modelName,
      version,
      task: data.task,
      status,
      deployable: gate.passed,
      registered: pool !== undefined,
      gate,
      artifactRoot: directory.root,
      artifacts,
      schemaDigest: fitted.chosenPlan.schema.digest,
      metrics,
      lineage: versionLineage(run, data),
      seconds: (performance.now() - run.t0) / 1000,
    };
  } catch (err) {
    await directory?.discard();
    throw err;
  } finally {
    await db?.close();
  }
}

/**
 * Stage 1, data: reads and splits the dataset while the registry database opens (embedded
 * PGlite takes seconds). A production window is read from that database, so it waits for it.
 * A failed read closes the database again.
 */
async function readData(run: Run): Promise<{ data: PreparedData; db: Database | undefined }> {
  const { options, progress } = run;
  const production = isProductionUri(options.dataset);
  const opening =
    (options.register || production) && !options.pool
      ? openDatabase({
          databaseUrl: options.databaseUrl,
          dataDir: options.dataDir,
          applicationName: 'mlcycle-train',
          timeouts: options.databaseTimeouts,
          tls: options.databaseTls,
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
    const pool = production ? (options.pool ?? (await openedDatabase(dbResult)).pool) : undefined;
    data = await prepareData({
      ...options,
      pool,
      exclude: options.exclude ?? [],
      rows: options.rows ?? (options.dataset === FLIGHTS_DATASET ? TRAIN_DEFAULTS.flightsRows : undefined),
    });
  } catch (err) {
    await (await dbResult)?.db?.close().catch(() => {});
    throw err;
  }
  progress.step(
    `${data.numRows} rows (train ${splitSize(data, 'train')}, validation ${splitSize(data, 'validation')}, holdout ${splitSize(data, 'holdout')}); task ${data.task}, target ${data.targetName}`,
  );
  for (const note of data.notes) progress.step(note);
  progress.step(`split: ${data.split.method}, seed ${options.seed} (${data.split.reason})`);
  const opened = await dbResult;
  if (opened?.error) throw opened.error;
  return { data, db: opened?.db };
}

async function openedDatabase(
  result: Promise<{ db: Database | undefined; error: unknown }> | undefined,
): Promise<Database> {
  const opened = await result;
  if (!opened?.db) throw opened?.error ?? new Error('no database was opened');
  return opened.db;
}

/** The version label: given, or the next free vN of a model whose task matches. */
async function chooseVersion(run: Run, task: Task, pool: Pool | undefined): Promise<string> {
  if (!pool) return run.options.version ?? 'v1';
  // A model keeps one task for life; say so before training rather than after.
  const { namespace } = run.options;
  const registered = await getModelTask(pool, namespace, run.modelName);
  if (registered && registered !== task) {
    throw new UserError(
      `model ${run.modelName} is registered as a ${registered} model; a ${task} version needs another --model-name`,
    );
  }
  const version = run.options.version ?? (await nextVersionLabel(pool, namespace, run.modelName));
  // A registered or rejected version is final: say so before training, not after.
  await assertVersionFree(pool, namespace, run.modelName, version);
  return version;
}

async function claimDirectory(run: Run, version: string): Promise<VersionDirectory> {
  const { options, modelName } = run;
  const directory = VersionDirectory.open(
    { out: options.out, store: options.store },
    options.namespace,
    modelName,
    version,
    options.s3,
  );
  await directory.claim();
  return directory;
}

/** Stage 2, features: plans fitted on the training split (rank codes for trees, target means for the linear model). */
async function buildFeatures(data: PreparedData): Promise<Features> {
  const plan = await fitFeaturePlan(data, 'rank');
  const linearPlan = await fitFeaturePlan(data, 'target-mean');
  return {
    plan,
    linearPlan,
    x: matrices(plan, data),
    label: {
      train: data.target.subarray(...data.splits.train),
      validation: data.target.subarray(...data.splits.validation),
      holdout: data.target.subarray(...data.splits.holdout),
    },
    objective: data.task === 'binary-classification' ? 'binary' : 'regression',
  };
}

function matrices(plan: FeaturePlan, data: PreparedData): PerSplit<Float32Array[]> {
  return {
    train: buildMatrix(plan, data, ...data.splits.train),
    validation: buildMatrix(plan, data, ...data.splits.validation),
    holdout: buildMatrix(plan, data, ...data.splits.holdout),
  };
}

/** Stage 3, tuning: the GBDT search, the linear candidate, and the choice between them. */
async function fitModels(run: Run, data: PreparedData, f: Features): Promise<Fitted> {
  const { options, progress } = run;
  const trainStart = performance.now();
  progress.step(`tuning: ${options.trials} trials, ${f.plan.features.length} model features`);
  const tuning = await tuneGbdt(run, f);
  const gbdt = tuning.booster.model();
  progress.done();
  progress.step(
    `best trial ${tuning.best.trial}: ${gbdt.trees.length} trees, validation loss ${tuning.booster.bestLoss.toFixed(5)}`,
  );
  const xl = matrices(f.linearPlan, data);
  const linear = fitLinear(xl.train, Float64Array.from(f.label.train), f.objective);
  const linearValidLoss = meanLoss(
    f.objective,
    Float64Array.from(f.label.validation),
    linearRaw(linear, xl.validation, splitSize(data, 'validation')),
  );
  const trainingSeconds = (performance.now() - trainStart) / 1000;
  const useLinear =
    options.algorithm === 'linear' ||
    (options.algorithm === 'auto' && linearValidLoss < tuning.booster.bestLoss);
  progress.step(
    `model: ${useLinear ? 'linear' : 'gbdt'} (validation loss gbdt ${tuning.booster.bestLoss.toFixed(5)}, linear ${linearValidLoss.toFixed(5)})`,
  );
  return {
    tuning,
    linear,
    linearValidLoss,
    xl,
    chosen: useLinear ? { kind: 'linear', linear } : { kind: 'gbdt', gbdt },
    chosenPlan: useLinear ? f.linearPlan : f.plan,
    chosenX: useLinear ? xl : f.x,
    trainingSeconds,
  };
}

function tuneGbdt(run: Run, f: Features): Promise<TuningResult> {
  const { options, progress } = run;
  const trainSet = binTrainingSet(f.x.train, Float64Array.from(f.label.train));
  const validSet = applyBinsToSet(f.x.validation, Float64Array.from(f.label.validation), trainSet.bins);
  return tune(trainSet, validSet, {
    objective: f.objective,
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
}

/** Raw scores as the ONNX graph computes them: the linear model's double score is cast to float32 first. */
function rawScore(m: ChosenModel, features: Float32Array[], n: number): Float64Array {
  return m.kind === 'gbdt'
    ? predictRawFloat32(m.gbdt, features, n)
    : linearRaw(m.linear, features, n).map(Math.fround);
}

/** Scores as the graph outputs them: calibrated probabilities (when a calibrator is given) or the prediction. */
function score(
  m: ChosenModel,
  objective: Features['objective'],
  features: Float32Array[],
  n: number,
  calibrator?: CalibrationChoice['calibrator'],
): Float64Array {
  const raw = rawScore(m, features, n);
  if (objective !== 'binary') return raw;
  return calibrator ? applyCalibrator(calibrator, raw) : raw.map(sigmoid);
}

/** Stage 4, evaluation: the chosen model, the trivial baseline and the linear model on the same rows. */
function evaluateModels(data: PreparedData, f: Features, m: Fitted, seed: number): Evaluation {
  const classification = data.task === 'binary-classification';
  // The calibrator is fitted on the validation split, before the threshold is chosen on it.
  const validRaw = rawScore(m.chosen, m.chosenX.validation, splitSize(data, 'validation'));
  const calibration = classification ? chooseCalibrator(validRaw, f.label.validation) : undefined;
  const validScores = score(
    m.chosen,
    f.objective,
    m.chosenX.validation,
    splitSize(data, 'validation'),
    calibration?.calibrator,
  );
  const holdoutRaw = rawScore(m.chosen, m.chosenX.holdout, splitSize(data, 'holdout'));
  const holdoutScores = calibration ? applyCalibrator(calibration.calibrator, holdoutRaw) : holdoutRaw;
  const linearScores = score(
    { kind: 'linear', linear: m.linear },
    f.objective,
    m.xl.holdout,
    splitSize(data, 'holdout'),
  );
  const threshold = classification ? bestF1Threshold(f.label.validation, validScores) : 0;
  const measure = (scores: ArrayLike<number>, y: ArrayLike<number>): Record<string, number> =>
    classification ? { ...classificationMetrics(y, scores, threshold) } : { ...regressionMetrics(y, scores) };
  const prior = new Float64Array(splitSize(data, 'holdout')).fill(mean(f.label.train));
  const holdout = measure(holdoutScores, f.label.holdout);
  return {
    threshold,
    calibration,
    uncalibratedHoldout: calibration ? holdoutRaw.map(uncalibrated) : undefined,
    holdoutScores,
    holdout,
    confidence: classification
      ? { rocAucLower: rocAucLowerBound(holdout.roc_auc!, f.label.holdout) }
      : { r2Lower: r2LowerBound(f.label.holdout, holdoutScores, seed) },
    baseline: measure(prior, f.label.holdout),
    validation: measure(validScores, f.label.validation),
    linearHoldout: measure(linearScores, f.label.holdout),
  };
}

/** Stage 5, export: one ONNX graph (preprocessing + model), checked against the TypeScript scores. */
async function exportGraph(run: Run, data: PreparedData, m: Fitted, e: Evaluation): Promise<Exported> {
  run.progress.step('exporting ONNX and checking parity on the holdout');
  const modelBytes = exportModel({
    plan: m.chosenPlan,
    model: m.chosen,
    threshold: e.threshold,
    calibrator: e.calibration?.calibrator,
    // No version or time in the graph: the same data and seed give byte-identical model.onnx.
    docString: `mlcycle ${run.modelName}: ${m.chosen.kind} on ${data.datasetUri}`,
    producerVersion: codeVersions().code_version ?? 'unknown',
  });
  const records = toRecords(data, ...data.splits.holdout);
  const onnxScores = await scoreWithOnnx(modelBytes, m.chosenPlan.schema, records);
  const parity = maxAbsDiff(onnxScores, e.holdoutScores);
  if (!(parity <= PARITY_TOLERANCE)) {
    throw new Error(
      `ONNX parity check failed: onnxruntime and the TypeScript model differ by up to ${parity} on the holdout (tolerance ${PARITY_TOLERANCE})`,
    );
  }
  run.progress.step(`parity ok: max |onnx − ts| = ${parity.toExponential(2)} over ${records.length} rows`);
  return { modelBytes, records, parity };
}

function metricsDocument(
  run: Run,
  version: string,
  data: PreparedData,
  f: Features,
  m: Fitted,
  e: Evaluation,
  x: Exported,
  gate: GateOutcome,
): Metrics {
  const importance =
    m.chosen.kind === 'gbdt' ? featureImportance(m.chosen.gbdt) : linearImportance(m.chosen.linear);
  return {
    task: data.task,
    model_name: run.modelName,
    version,
    model: modelDescription(m),
    holdout: e.holdout,
    holdout_lower_bounds: {
      ...(e.confidence.r2Lower !== undefined ? { r2: e.confidence.r2Lower } : {}),
      ...(e.confidence.rocAucLower !== undefined ? { roc_auc: e.confidence.rocAucLower } : {}),
    },
    baseline: e.baseline,
    validation: e.validation,
    linear_holdout: e.linearHoldout,
    calibration:
      data.task === 'binary-classification' ? calibration(f.label.holdout, e.holdoutScores) : undefined,
    calibration_before:
      e.uncalibratedHoldout !== undefined ? calibration(f.label.holdout, e.uncalibratedHoldout) : undefined,
    calibrator:
      e.calibration && e.uncalibratedHoldout
        ? calibrationRecord(e.calibration, f.label.holdout, e.uncalibratedHoldout, e.holdoutScores)
        : undefined,
    gate,
    onnx_parity: { max_abs_diff: x.parity, rows: x.records.length, tolerance: PARITY_TOLERANCE },
    rows: {
      read: data.rowsRead,
      dropped: data.rowsDropped,
      used: data.numRows,
      train: splitSize(data, 'train'),
      validation: splitSize(data, 'validation'),
      holdout: splitSize(data, 'holdout'),
    },
    periods: periods(data),
    data: dataDocument(run, data),
    feature_importance: m.chosenPlan.features
      .map((feature, i) => ({ feature: feature.name, gain_share: importance[i]! }))
      .sort((a, b) => b.gain_share - a.gain_share),
    training_seconds: m.trainingSeconds,
    total_seconds: (performance.now() - run.t0) / 1000,
  };
}

/** Each split's time span (earliest to latest row); none without a time column. */
function periods(data: PreparedData): Metrics['periods'] {
  if (!data.timeColumn) return {};
  const out: Metrics['periods'] = {};
  for (const p of ['train', 'validation', 'holdout'] as const) {
    let from = Number.POSITIVE_INFINITY;
    let to = Number.NEGATIVE_INFINITY;
    for (let i = data.splits[p][0]; i < data.splits[p][1]; i++) {
      const t = data.timeMs[i]!;
      if (t < from) from = t;
      if (t > to) to = t;
    }
    if (Number.isFinite(from))
      out[p] = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
  }
  return out;
}

/** What the data stage decided: the split, the target's classes, the columns left out. */
function dataDocument(run: Run, data: PreparedData): Metrics['data'] {
  return {
    split: { method: data.split.method, reason: data.split.reason, seed: run.options.seed },
    time_column: data.timeColumn ?? null,
    target: {
      name: data.targetName,
      ...(data.targetClasses
        ? { positive_class: data.targetClasses.positive, negative_class: data.targetClasses.negative }
        : {}),
      rows_without_target: data.rowsWithoutTarget,
    },
    notes: data.notes,
  };
}

function modelDescription(m: Fitted): Record<string, unknown> {
  return m.chosen.kind === 'gbdt'
    ? {
        kind: 'gbdt',
        trees: m.chosen.gbdt.trees.length,
        best_trial: m.tuning.best.trial,
        params: m.tuning.best.params,
        base_score: m.chosen.gbdt.baseScore,
      }
    : { kind: 'linear', l2: m.linear.l2 };
}

/** Stage 7, artifacts: every artifact first, the manifest last (sealing makes the version complete). */
async function writeArtifacts(
  run: Run,
  directory: VersionDirectory,
  data: PreparedData,
  f: Features,
  m: Fitted,
  e: Evaluation,
  x: Exported,
  metrics: Metrics,
): Promise<ArtifactRecord[]> {
  run.progress.step(`writing artifacts to ${directory.root}`);
  const { options } = run;
  const schema = m.chosenPlan.schema;
  const reference = referenceTable(data, e.holdoutScores, e.threshold, options.referenceRows, options.seed);
  const report = renderReport({
    metrics,
    trials: m.tuning.trials,
    curves: data.task === 'binary-classification' ? curves(f.label.holdout, e.holdoutScores) : undefined,
    datasetUri: data.datasetUri,
    schema,
  });
  await directory.put(ARTIFACT.model, x.modelBytes);
  await directory.put(ARTIFACT.schema, serializeFeatureSchema(schema));
  await directory.put(ARTIFACT.metrics, json(metrics));
  await directory.put(ARTIFACT.trials, json(trialsDocument(m.tuning.trials, m.linearValidLoss, f.objective)));
  await directory.put(ARTIFACT.reference, referenceParquet(reference));
  await directory.put(ARTIFACT.report, report);
  return directory.seal(run.modelName, metrics.version, { schemaDigest: schema.digest, task: data.task });
}

/** The hyperparameters and data settings recorded with the version. */
function versionParams(run: Run, m: Fitted, threshold: number): Record<string, unknown> {
  const { options } = run;
  return {
    model: m.chosen.kind,
    ...(m.chosen.kind === 'gbdt'
      ? { ...m.tuning.best.params, trees: m.chosen.gbdt.trees.length }
      : { l2: m.linear.l2 }),
    threshold,
    trials: options.trials,
    rows: options.rows ?? null,
    since: options.since?.toISOString() ?? null,
    until: options.until?.toISOString() ?? null,
  };
}

export function splitSize(data: PreparedData, p: Split): number {
  return data.splits[p][1] - data.splits[p][0];
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

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return values.length ? s / values.length : 0;
}

function json(value: unknown): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(value)), null, 2)}\n`;
}
