import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { pythonEnv } from '../../bench/python-env.js';
import { vegaDatasetsDir } from '../../core/dataset/index.js';
import { prepareData } from '../../trainer-job/data/dataset.js';
import { toRecords } from '../../trainer-job/evaluate/records.js';
import { type TrainOptions, trainModel, trainOptions } from '../../trainer-job/index.js';

/**
 * Bring your own data, against LightGBM: two small public tables from vega-datasets, trained
 * with nothing but --dataset and --target (cars: miles per gallon, a regression with a date
 * string column and a near-unique name; penguins: sex as MALE/FEMALE text with missing values,
 * column names with spaces and units). The trainer must register a good model (the gate
 * passes) and come within 0.02 of LightGBM's default model, early-stopped on the same
 * validation rows, scored on the same holdout rows.
 *
 * LightGBM runs from the pinned environment of `hack/python-env lightgbm`
 * (bench/requirements-lightgbm.txt), found through MLCYCLE_VENV_LIGHTGBM.
 */

const SCRIPT = new URL('./lightgbm_own_data.py', import.meta.url).pathname;
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'mlcycle-own-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lightgbmPython(): string {
  const env = pythonEnv('lightgbm');
  if ('missing' in env) throw new Error(`LightGBM's Python environment is missing: ${env.missing}`);
  return env.python;
}

/** Trains as `mlcycle train --dataset <file> --target <column>` would, and LightGBM on its split. */
async function compare(file: string, target: string, model: string) {
  const options: TrainOptions = trainOptions({
    dataset: join(vegaDatasetsDir(), file),
    target,
    modelName: model,
    out: join(dir, model),
    register: false,
  });
  const result = await trainModel(options);
  // The data stage is deterministic: the same options give the same rows in the same splits.
  const data = await prepareData({ ...options, exclude: [] });
  const split = (part: 'train' | 'validation' | 'holdout') => ({
    records: toRecords(data, ...data.splits[part]),
    target: Array.from(data.target.subarray(...data.splits[part])),
  });
  const input = join(dir, `${model}.json`);
  const features = JSON.parse(readFileSync(join(dir, model, 'schema.json'), 'utf8')).features;
  writeFileSync(
    input,
    JSON.stringify({
      task: data.task,
      seed: options.seed,
      features,
      train: split('train'),
      validation: split('validation'),
      holdout: split('holdout'),
    }),
  );
  const { stdout } = await run(lightgbmPython(), [SCRIPT, input]);
  const lightgbm = JSON.parse(stdout) as { roc_auc?: number; r2?: number; lightgbm_version: string };
  console.log(
    `${file}: mlcycle ${JSON.stringify(result.metrics.holdout)}; LightGBM ${JSON.stringify(lightgbm)}; split ${result.metrics.data?.split.method}`,
  );
  return { result, data, lightgbm };
}

describe('own data against LightGBM (vega-datasets, default settings)', () => {
  it('cars.json → Miles_per_Gallon: a registered regression with holdout R² ≥ 0.75, within 0.02 of LightGBM', async () => {
    const { result, data, lightgbm } = await compare('cars.json', 'Miles_per_Gallon', 'cars');
    expect(result.status).toBe('registered');
    expect(result.task).toBe('regression');
    // Year is a date string with 12 values: too coarse to hold out a later period.
    expect(data.split.method).toBe('random');
    expect(data.features.map((f) => f.name)).not.toContain('Name');
    const r2 = result.metrics.holdout.r2!;
    expect(r2).toBeGreaterThanOrEqual(0.75);
    expect(r2).toBeGreaterThanOrEqual(lightgbm.r2! - 0.02);
  });

  it('penguins.json → Sex (MALE/FEMALE, some missing): a registered classifier with holdout ROC AUC ≥ 0.85, within 0.02 of LightGBM', async () => {
    const { result, data, lightgbm } = await compare('penguins.json', 'Sex', 'penguins');
    expect(result.status).toBe('registered');
    expect(result.task).toBe('binary-classification');
    expect(data.split.method).toBe('stratified');
    expect(data.targetClasses).toEqual({ positive: 'MALE', negative: 'FEMALE' });
    const auc = result.metrics.holdout.roc_auc!;
    expect(auc).toBeGreaterThanOrEqual(0.85);
    expect(auc).toBeGreaterThanOrEqual(lightgbm.roc_auc! - 0.02);
  });
});
