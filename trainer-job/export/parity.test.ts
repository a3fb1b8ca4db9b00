import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCalibrator, type Calibrator, chooseCalibrator, fitIsotonic, fitPlatt } from '../calibration.js';
import { prepareData } from '../data/dataset.js';
import { buildMatrix, fitFeaturePlan } from '../data/plan.js';
import { maxAbsDiff, scoreWithOnnx } from '../evaluate/onnx-scoring.js';
import { toRecords } from '../evaluate/records.js';
import { DEFAULT_GBDT_PARAMS, trainGbdt } from '../gbdt/booster.js';
import { binTrainingSet } from '../gbdt/dataset.js';
import { sigmoid } from '../gbdt/loss.js';
import { predictRaw, predictRawFloat32 } from '../gbdt/predict.js';
import { fitLinear, linearRaw } from '../linear/linear.js';
import { writeSyntheticDataset } from '../testing/synthetic.js';
import { exportModel } from './model-graph.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlcycle-parity-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function prepared(task: 'binary-classification' | 'regression') {
  const dataset = await writeSyntheticDataset(dir, { rows: 3000, task, name: `${task}.ndjson` });
  return prepareData({
    dataset,
    task,
    target: 'target',
    timeColumn: 'at',
    exclude: [],
    seed: 1,
    validationFraction: 0.15,
    holdoutFraction: 0.15,
  });
}

describe('ONNX export parity with the TypeScript models (through recordsToInputs, as the server feeds it)', () => {
  for (const task of ['binary-classification', 'regression'] as const) {
    it(`GBDT ${task}: float32 emulation matches onnxruntime to 1e-5`, async () => {
      const data = await prepared(task);
      const plan = await fitFeaturePlan(data, 'rank');
      const [a, b] = data.splits.train;
      const x = buildMatrix(plan, data, a, b);
      const objective = task === 'regression' ? 'regression' : 'binary';
      const model = trainGbdt(
        binTrainingSet(x, Float64Array.from(data.target.subarray(a, b))),
        undefined,
        {
          ...DEFAULT_GBDT_PARAMS,
          objective,
          numLeaves: 15,
          minDataInLeaf: 5,
        },
        80,
      );
      const [ha, hb] = data.splits.holdout;
      const xh = buildMatrix(plan, data, ha, hb);
      let ts = predictRawFloat32(model, xh, hb - ha);
      if (objective === 'binary') ts = ts.map(sigmoid);
      const bytes = exportModel({
        plan,
        model: { kind: 'gbdt', gbdt: model },
        threshold: 0.5,
        docString: '',
        producerVersion: 'test',
      });
      const onnx = await scoreWithOnnx(bytes, plan.schema, toRecords(data, ha, hb));
      expect(maxAbsDiff(onnx, ts)).toBeLessThanOrEqual(1e-5);
      // The double-precision sum differs from the served float32 one only by rounding.
      const exact = predictRaw(model, xh, hb - ha);
      const rawTs = predictRawFloat32(model, xh, hb - ha);
      expect(maxAbsDiff(exact, rawTs)).toBeLessThan(1e-3);
    });

    it(`linear ${task}: imputation and scaling in the graph match TypeScript to 1e-5`, async () => {
      const data = await prepared(task);
      const plan = await fitFeaturePlan(data, 'target-mean');
      const [a, b] = data.splits.train;
      const objective = task === 'regression' ? 'regression' : 'binary';
      const linear = fitLinear(
        buildMatrix(plan, data, a, b),
        Float64Array.from(data.target.subarray(a, b)),
        objective,
      );
      const [ha, hb] = data.splits.holdout;
      let ts = linearRaw(linear, buildMatrix(plan, data, ha, hb), hb - ha);
      if (objective === 'binary') ts = ts.map(sigmoid);
      const bytes = exportModel({
        plan,
        model: { kind: 'linear', linear },
        threshold: 0.5,
        docString: '',
        producerVersion: 'test',
      });
      const onnx = await scoreWithOnnx(bytes, plan.schema, toRecords(data, ha, hb));
      expect(maxAbsDiff(onnx, ts)).toBeLessThanOrEqual(1e-5);
    });
  }

  it('GBDT regression with large values is float32-exact, in big and tiny batches', async () => {
    const data = await prepared('regression');
    for (let i = 0; i < data.target.length; i++) data.target[i] = data.target[i]! * 1000 + 50_000;
    const plan = await fitFeaturePlan(data, 'rank');
    const [a, b] = data.splits.train;
    const model = trainGbdt(
      binTrainingSet(buildMatrix(plan, data, a, b), Float64Array.from(data.target.subarray(a, b))),
      undefined,
      { ...DEFAULT_GBDT_PARAMS, objective: 'regression', numLeaves: 31, minDataInLeaf: 5 },
      200,
    );
    const bytes = exportModel({
      plan,
      model: { kind: 'gbdt', gbdt: model },
      threshold: 0,
      docString: '',
      producerVersion: 'test',
    });
    const [ha, hb] = data.splits.holdout;
    for (const end of [hb, ha + 3]) {
      const ts = predictRawFloat32(model, buildMatrix(plan, data, ha, end), end - ha);
      const onnx = await scoreWithOnnx(bytes, plan.schema, toRecords(data, ha, end));
      // Values near 60,000 have a float32 spacing of 0.0039: only exact emulation passes.
      expect(maxAbsDiff(onnx, ts)).toBe(0);
    }
  });

  /**
   * The calibrator appended to the graph (Platt on the raw score; isotonic as a segment lookup on
   * the probability) against trainer-job/calibration.ts, fitted on the validation rows as the
   * trainer fits it, in big and tiny batches.
   */
  it('GBDT binary with each calibrator: the calibrated probabilities match TypeScript to 1e-5', async () => {
    const data = await prepared('binary-classification');
    const plan = await fitFeaturePlan(data, 'rank');
    const [a, b] = data.splits.train;
    const model = trainGbdt(
      binTrainingSet(buildMatrix(plan, data, a, b), Float64Array.from(data.target.subarray(a, b))),
      undefined,
      { ...DEFAULT_GBDT_PARAMS, objective: 'binary', numLeaves: 15, minDataInLeaf: 5 },
      80,
    );
    const [va, vb] = data.splits.validation;
    const validRaw = predictRawFloat32(model, buildMatrix(plan, data, va, vb), vb - va);
    const validY = data.target.subarray(va, vb);
    const chosen = chooseCalibrator(validRaw, validY).calibrator;
    const candidates: Calibrator[] = [
      { method: 'platt', ...fitPlatt(validRaw, validY) },
      { method: 'isotonic', ...fitIsotonic(validRaw.map(sigmoid), validY) },
    ];
    expect(candidates.map((c) => c.method)).toContain(chosen.method);
    const [ha, hb] = data.splits.holdout;
    for (const calibrator of candidates) {
      const bytes = exportModel({
        plan,
        model: { kind: 'gbdt', gbdt: model },
        threshold: 0.5,
        calibrator,
        docString: '',
        producerVersion: 'test',
      });
      for (const end of [hb, ha + 3]) {
        const raw = predictRawFloat32(model, buildMatrix(plan, data, ha, end), end - ha);
        const ts = applyCalibrator(calibrator, raw);
        const onnx = await scoreWithOnnx(bytes, plan.schema, toRecords(data, ha, end));
        expect(maxAbsDiff(onnx, ts), calibrator.method).toBeLessThanOrEqual(1e-5);
        // The calibration does something: the probabilities are not the model's own.
        if (end === hb) expect(maxAbsDiff(ts, raw.map(sigmoid))).toBeGreaterThan(1e-3);
      }
    }
  });

  it('maxAbsDiff treats a NaN on one side only as an infinite difference', () => {
    expect(maxAbsDiff([1, Number.NaN], [1, 2])).toBe(Number.POSITIVE_INFINITY);
    expect(maxAbsDiff([1, Number.NaN], [1.5, Number.NaN])).toBe(0.5);
  });
});
