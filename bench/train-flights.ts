/**
 * Trainer benchmark on builtin:flights. Prints figures; asserts nothing.
 *
 *   npm run build && node dist/bench/train-flights.js [--rows 1000000] [--trees 50] [--leaves 63] [--skip-default-run]
 *
 * 1. Time per tree on --rows rows (time split train part) × the trainer's model features, fixed
 *    parameters (no sampling), and the same with LightGBM (2 threads) on the identical float32
 *    matrices, plus both holdout ROC AUCs at that number of trees.
 * 2. Quality at a comparable tuning budget: our tuned model of the default run vs LightGBM's
 *    random search (same space, same trial count, full early stopping) on the same rows.
 * 3. The whole default `mlcycle train` run (in-process, no registry): seconds and peak RSS.
 * LightGBM runs from the environment `hack/python-env lightgbm` builds (bench/requirements-lightgbm.txt),
 * found through MLCYCLE_VENV_LIGHTGBM (`export $(hack/python-env lightgbm)` first); without it the
 * bench says so and prints only our figures.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { rocAuc } from '../core/metrics.js';
import { prepareData } from '../trainer-job/data/dataset.js';
import { buildMatrix, fitFeaturePlan } from '../trainer-job/data/plan.js';
import { Booster, DEFAULT_GBDT_PARAMS } from '../trainer-job/gbdt/booster.js';
import { binTrainingSet } from '../trainer-job/gbdt/dataset.js';
import { defaultThreads } from '../trainer-job/gbdt/histogram.js';
import { predictRaw } from '../trainer-job/gbdt/predict.js';
import { TRAIN_DEFAULTS, trainModel } from '../trainer-job/train.js';
import { benchScript, pythonEnv } from './python-env.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    trees: { type: 'string', default: '50' },
    leaves: { type: 'string', default: '63' },
    'skip-default-run': { type: 'boolean', default: false },
    'skip-per-tree': { type: 'boolean', default: false },
  },
});
const rows = Number(args.rows);
const trees = Number(args.trees);
const leaves = Number(args.leaves);
const LIGHTGBM = pythonEnv('lightgbm');

const mb = (kb: number) => (kb / 1024).toFixed(0);
const peakRssMb = () => mb(process.resourceUsage().maxRSS);

async function matrices(n: number, dir: string) {
  const data = await prepareData({
    dataset: 'builtin:flights',
    exclude: [],
    rows: n,
    seed: TRAIN_DEFAULTS.seed,
    validationFraction: TRAIN_DEFAULTS.validationFraction,
    holdoutFraction: TRAIN_DEFAULTS.holdoutFraction,
  });
  const plan = await fitFeaturePlan(data, 'rank');
  const out: Record<string, { x: Float32Array[]; y: Float64Array }> = {};
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'features.json'), JSON.stringify(plan.features.map((f) => f.name)));
  for (const split of ['train', 'validation', 'holdout'] as const) {
    const [a, b] = data.splits[split];
    const x = buildMatrix(plan, data, a, b);
    const y = Float64Array.from(data.target.subarray(a, b));
    out[split] = { x, y };
    const flat = new Float32Array(x.length * (b - a));
    x.forEach((col, f) => {
      flat.set(col, f * (b - a));
    });
    await writeFile(join(dir, `${split}.x.f32`), new Uint8Array(flat.buffer));
    await writeFile(join(dir, `${split}.y.f64`), new Uint8Array(y.buffer));
    await writeFile(join(dir, `${split}.json`), JSON.stringify({ rows: b - a }));
  }
  return { data, plan, out };
}

function lightgbm(request: Record<string, unknown>): Record<string, number> | undefined {
  if ('missing' in LIGHTGBM) {
    console.log(`  LightGBM: not run (${LIGHTGBM.missing})`);
    return undefined;
  }
  const script = benchScript('train-flights-lightgbm.py');
  const text = execFileSync(LIGHTGBM.python, [script, JSON.stringify(request)], {
    maxBuffer: 1 << 20,
  }).toString();
  return JSON.parse(text.trim().split('\n').at(-1)!);
}

const work = await mkdtemp(join(tmpdir(), 'mlcycle-bench-'));

async function perTree(): Promise<void> {
  const big = join(work, 'big');
  const t0 = performance.now();
  // Sample enough rows that the training split (70% of the time-sorted rows) has --rows rows.
  const { out: m } = await matrices(
    Math.ceil(rows / (1 - TRAIN_DEFAULTS.validationFraction - TRAIN_DEFAULTS.holdoutFraction)),
    big,
  );
  console.log(
    `\n## time per tree: train ${m.train!.y.length} rows × ${m.train!.x.length} features (data stage ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  let t = performance.now();
  const trainSet = binTrainingSet(m.train!.x, m.train!.y);
  const binning = (performance.now() - t) / 1000;
  const booster = new Booster(trainSet, undefined, {
    ...DEFAULT_GBDT_PARAMS,
    numLeaves: leaves,
    lambdaL2: 1,
    earlyStoppingRounds: 0,
  });
  t = performance.now();
  const cpu = process.cpuUsage();
  booster.boost(trees);
  booster.dispose();
  const msPerTree = (performance.now() - t) / trees;
  // CPU time too: on a shared machine wall time mostly measures the neighbours.
  const cpuMsPerTree = process.cpuUsage(cpu).user / 1000 / trees;
  const ours = rocAuc(m.holdout!.y, predictRaw(booster.model(), m.holdout!.x, m.holdout!.y.length));
  console.log(
    `mlcycle : binning ${binning.toFixed(2)} s, ${msPerTree.toFixed(1)} ms/tree wall, ${cpuMsPerTree.toFixed(1)} ms/tree CPU (${trees} trees, ${leaves} leaves, ${defaultThreads()} thread(s), CPU of all threads), holdout ROC AUC ${ours.toFixed(4)}, peak RSS ${peakRssMb()} MB`,
  );
  for (const threads of [1, 2]) {
    const lgbFixed = lightgbm({ mode: 'fixed', dir: big, trees, leaves, threads });
    if (!lgbFixed) break;
    console.log(
      `LightGBM (${threads} thread${threads > 1 ? 's' : ''}): binning ${lgbFixed.binning_seconds!.toFixed(2)} s, ${lgbFixed.ms_per_tree!.toFixed(1)} ms/tree wall, ${lgbFixed.cpu_ms_per_tree!.toFixed(1)} ms/tree CPU, holdout ROC AUC ${lgbFixed.holdout_roc_auc!.toFixed(4)}, peak RSS ${lgbFixed.peak_rss_mb!.toFixed(0)} MB (v${lgbFixed.lightgbm_version}); mlcycle/LightGBM wall time per tree ${(msPerTree / lgbFixed.ms_per_tree!).toFixed(2)}×, CPU ${(cpuMsPerTree / lgbFixed.cpu_ms_per_tree!).toFixed(2)}×`,
    );
  }
}

try {
  console.log(`# trainer benchmark (node ${process.version}, ${new Date().toISOString()})`);

  // 1. Time per tree.
  if (!args['skip-per-tree']) await perTree();

  // 2 + 3. The default run and LightGBM with a comparable budget on the same rows.
  if (!args['skip-default-run']) {
    const small = join(work, 'default');
    await matrices(TRAIN_DEFAULTS.flightsRows, small);
    const t = performance.now();
    const before = process.resourceUsage().maxRSS;
    const result = await trainModel({
      ...TRAIN_DEFAULTS,
      gate: { ...TRAIN_DEFAULTS.gate },
      dataset: 'builtin:flights',
      out: join(work, 'model'),
      register: false,
      s3: { s3Region: 'us-east-1' },
    });
    const seconds = (performance.now() - t) / 1000;
    console.log(
      `\n## default run (${TRAIN_DEFAULTS.flightsRows} rows, ${TRAIN_DEFAULTS.trials} trials, no registry)`,
    );
    console.log(
      `mlcycle : ${seconds.toFixed(1)} s total, training ${result.metrics.training_seconds.toFixed(1)} s, ${String(result.metrics.model.trees)} trees, holdout ROC AUC ${result.metrics.holdout.roc_auc!.toFixed(4)}, parity ${result.metrics.onnx_parity.max_abs_diff.toExponential(2)}, peak RSS ${mb(Math.max(before, process.resourceUsage().maxRSS))} MB (process)`,
    );
    const lgbTuned = lightgbm({
      mode: 'tuned',
      dir: small,
      trials: TRAIN_DEFAULTS.trials,
      max_rounds: TRAIN_DEFAULTS.maxRounds,
      seed: 42,
    });
    if (lgbTuned) {
      console.log(
        `LightGBM: ${lgbTuned.trials} trials in ${lgbTuned.tuning_seconds!.toFixed(1)} s, best trial ${lgbTuned.best_trial} (${lgbTuned.trees} trees), holdout ROC AUC ${lgbTuned.holdout_roc_auc!.toFixed(4)}`,
      );
      console.log(
        `ROC AUC difference (mlcycle − LightGBM): ${(result.metrics.holdout.roc_auc! - lgbTuned.holdout_roc_auc!).toFixed(4)}`,
      );
    }
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
