import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDataset } from '../core/dataset/index.js';
import { sha256 } from '../core/digest.js';
import { parseFeatureSchema } from '../core/feature-schema.js';
import { recordsToInputs } from '../core/model-input.js';
import { writeSyntheticDataset } from './testing/synthetic.js';
import { TRAIN_DEFAULTS, type TrainOptions, trainModel } from './train.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlcycle-train-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(dataset: string, out: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...TRAIN_DEFAULTS,
    gate: { ...TRAIN_DEFAULTS.gate },
    dataset,
    out,
    modelName: 'synthetic',
    target: 'target',
    timeColumn: 'at',
    trials: 3,
    minRounds: 10,
    maxRounds: 60,
    register: false,
    s3: { s3Region: 'us-east-1' },
    ...over,
  };
}

async function runOnnx(modelPath: string, schemaText: string, records: Record<string, unknown>[]) {
  const schema = parseFeatureSchema(schemaText);
  const session = await ort.InferenceSession.create(modelPath);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(recordsToInputs(schema, records as never))) {
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  }
  const out = await session.run(feeds);
  await session.release();
  return out;
}

describe('trainModel on a synthetic dataset (every feature type)', () => {
  it('trains a classifier, writes every artifact and passes the ONNX parity check', async () => {
    const dataset = await writeSyntheticDataset(dir, { rows: 4000 });
    const out = join(dir, 'cls');
    const result = await trainModel(options(dataset, out));

    expect(result.status).toBe('registered');
    expect(result.registered).toBe(false);
    expect((await readdir(out)).sort()).toEqual(
      [
        'manifest.json',
        'metrics.json',
        'model.onnx',
        'reference.parquet',
        'report.html',
        'schema.json',
        'trials.json',
      ].sort(),
    );
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.task).toBe('binary-classification');
    for (const key of [
      'roc_auc',
      'pr_auc',
      'log_loss',
      'brier',
      'accuracy',
      'precision',
      'recall',
      'f1',
      'threshold',
    ]) {
      expect(typeof metrics.holdout[key]).toBe('number');
      expect(typeof metrics.baseline[key]).toBe('number');
    }
    expect(metrics.holdout.roc_auc).toBeGreaterThan(0.7);
    expect(metrics.baseline.roc_auc).toBe(0.5);
    expect(metrics.onnx_parity.max_abs_diff).toBeLessThanOrEqual(1e-5);
    expect(metrics.gate).toMatchObject({ passed: true, reasons: [] });
    expect(metrics.rows).toMatchObject({ train: 2800, validation: 600, holdout: 600 });

    const schemaText = await readFile(join(out, 'schema.json'), 'utf8');
    const schema = parseFeatureSchema(schemaText);
    expect(schema.features.map((f) => [f.name, f.type, f.nullable])).toEqual([
      ['at', 'timestamp', false],
      ['amount', 'number', true],
      ['city', 'category', true],
      ['member', 'boolean', false],
    ]);
    expect([...(schema.features[2]!.categories ?? [])].sort()).toEqual([
      'brest',
      'caen',
      'lille',
      'lyon',
      'nice',
      'paris',
    ]);

    // The manifest lists the digest of every other artifact.
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
    for (const a of manifest.artifacts) {
      expect(sha256(await readFile(join(out, a.name)))).toBe(a.sha256);
    }

    // The graph takes missing and unseen values: missing number, unseen and missing category.
    const outputs = await runOnnx(join(out, 'model.onnx'), schemaText, [
      { at: '2024-03-30T13:00:00Z', amount: null, city: 'paris', member: false },
      { at: '2024-03-30T13:00:00Z', amount: 12.5, city: 'atlantis', member: true },
      { at: '2024-03-30T01:00:00Z', amount: 80, city: null, member: true },
    ]);
    const probability = outputs.probability!.data as Float32Array;
    const label = outputs.label!.data as BigInt64Array;
    expect(probability).toHaveLength(3);
    probability.forEach((p, i) => {
      expect(p).toBeGreaterThan(0);
      expect(p).toBeLessThan(1);
      expect(label[i]).toBe(p >= metrics.holdout.threshold ? 1n : 0n);
    });

    // reference.parquet: raw features, target, prediction and probability of holdout rows.
    const reference = await readDataset(join(out, 'reference.parquet'));
    expect(reference.numRows).toBe(600);
    expect(Object.fromEntries(Object.entries(reference.columns).map(([n, c]) => [n, c.kind]))).toEqual({
      at: 'timestamp',
      amount: 'number',
      city: 'string',
      member: 'boolean',
      target: 'boolean',
      prediction: 'number',
      probability: 'number',
    });

    const report = await readFile(join(out, 'report.html'), 'utf8');
    expect(report).toContain('<svg');
    expect(report).toContain('ROC curve');
    expect(report).not.toMatch(/<script/i);

    // The calibrator chosen on the validation rows is in the graph (the parity check above ran on
    // the calibrated probabilities); metrics.json and the report say which, and what it changed.
    expect(['platt', 'isotonic']).toContain(metrics.calibrator.method);
    expect(metrics.calibrator.validation_rows).toBe(600);
    for (const side of ['before', 'after'])
      for (const key of ['ece', 'brier', 'log_loss'])
        expect(Number.isFinite(metrics.calibrator.holdout[side][key]), `${side} ${key}`).toBe(true);
    expect(metrics.calibration_before.length).toBeGreaterThan(0);
    expect(report).toContain('Calibrator in the graph');
    expect(report).toContain('before calibration');
  });

  it('gives byte-identical models for the same data and seed, and a different one for another seed', async () => {
    const dataset = await writeSyntheticDataset(dir, { rows: 2000, name: 'det.ndjson' });
    const digests: string[] = [];
    for (const [name, seed] of [
      ['a', 7],
      ['b', 7],
      ['c', 8],
    ] as const) {
      const r = await trainModel(options(dataset, join(dir, `det-${name}`), { seed, rows: 1500 }));
      digests.push(r.artifacts.find((a) => a.name === 'model.onnx')!.sha256);
    }
    expect(digests[1]).toBe(digests[0]);
    expect(digests[2]).not.toBe(digests[0]);
  });

  it('trains a regression model the same way', async () => {
    const dataset = await writeSyntheticDataset(dir, { rows: 3000, task: 'regression', name: 'reg.ndjson' });
    const out = join(dir, 'reg');
    const result = await trainModel(
      options(dataset, out, { gate: { minLift: 0.1, mustBeatChampion: false } }),
    );
    expect(result.task).toBe('regression');
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'));
    expect(Object.keys(metrics.holdout).sort()).toEqual(['mae', 'r2', 'rmse', 'rows']);
    expect(metrics.holdout.rmse).toBeLessThan(metrics.baseline.rmse * 0.8);
    expect(metrics.holdout.r2).toBeGreaterThan(0.3);
    expect(metrics.onnx_parity.max_abs_diff).toBeLessThanOrEqual(1e-5);
    const outputs = await runOnnx(join(out, 'model.onnx'), await readFile(join(out, 'schema.json'), 'utf8'), [
      { at: '2024-03-30T13:00:00Z', amount: 50, city: 'nice', member: false },
    ]);
    expect(Object.keys(outputs)).toEqual(['prediction']);
    expect(Number.isFinite((outputs.prediction!.data as Float32Array)[0])).toBe(true);
  });

  it('exports the linear model when asked, imputation included, and it passes parity', async () => {
    const dataset = await writeSyntheticDataset(dir, { rows: 2000, name: 'linear.ndjson' });
    const out = join(dir, 'linear');
    const result = await trainModel(options(dataset, out, { algorithm: 'linear' }));
    expect(result.metrics.model.kind).toBe('linear');
    expect(result.metrics.onnx_parity.max_abs_diff).toBeLessThanOrEqual(1e-5);
    expect(result.metrics.holdout.roc_auc).toBeCloseTo(result.metrics.linear_holdout.roc_auc!, 12);
    const outputs = await runOnnx(join(out, 'model.onnx'), await readFile(join(out, 'schema.json'), 'utf8'), [
      { at: '2024-03-30T13:00:00Z', amount: null, city: null, member: true },
    ]);
    expect(Number.isFinite((outputs.probability!.data as Float32Array)[0])).toBe(true);
  });

  it('records a rejected version when the gate fails, and says why', async () => {
    const dataset = await writeSyntheticDataset(dir, { rows: 2000, name: 'gate.ndjson' });
    const result = await trainModel(
      options(dataset, join(dir, 'gate'), { gate: { minRocAuc: 0.99, minLift: 0, mustBeatChampion: false } }),
    );
    expect(result.status).toBe('rejected');
    expect(result.deployable).toBe(false);
    expect(result.gate.reasons).toEqual([
      expect.stringMatching(/^min_roc_auc: holdout ROC AUC 0\.\d+ vs required 0\.9900/),
    ]);
  });
});
