import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, UserError } from '../core/errors.js';
import { writeSyntheticDataset } from './testing/synthetic.js';
import { TRAIN_DEFAULTS, type TrainOptions, trainModel } from './train.js';

let dir: string;
let good: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlcycle-bad-'));
  good = await writeSyntheticDataset(dir, { rows: 1500 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(dataset: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...TRAIN_DEFAULTS,
    gate: { ...TRAIN_DEFAULTS.gate },
    dataset,
    out: join(dir, 'out'),
    modelName: 'bad',
    target: 'target',
    timeColumn: 'at',
    trials: 1,
    minRounds: 5,
    maxRounds: 10,
    register: false,
    s3: { s3Region: 'us-east-1' },
    ...over,
  };
}

async function csv(name: string, header: string, rows: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${[header, ...rows].join('\n')}\n`);
  return path;
}

function rowsOf(n: number, make: (i: number) => string): string[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

const day = (i: number) => new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString();

async function expectRejected(opts: TrainOptions, message: RegExp, type: typeof UserError = DataError) {
  const error = await trainModel(opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  expect((error as Error).message).toMatch(message);
  // Nothing that looks like a model version is left behind.
  const left = await readdir(opts.out!).catch(() => []);
  expect(left).not.toContain('manifest.json');
  expect(left).toEqual([]);
}

describe('bad input: a clear message, an error, and no artifacts', () => {
  it('a missing target column', async () => {
    await expectRejected(
      options(good, { target: 'nope' }),
      /target column "nope" is not in .*\(columns: at, amount, city, member, target\)/,
    );
  });

  it('no target given for a generic dataset', async () => {
    await expectRejected(options(good, { target: undefined }), /--target is required/);
  });

  it('a missing time column', async () => {
    await expectRejected(options(good, { timeColumn: 'when' }), /time column "when" is not in the dataset/);
  });

  it('a time split without a timestamp column', async () => {
    const path = await csv(
      'notime.csv',
      'x,target',
      rowsOf(500, (i) => `${i % 7},${i % 2}`),
    );
    await expectRejected(
      options(path, { timeColumn: undefined, split: 'time' }),
      /--split time needs a timestamp column and .* has none: pass --time-column \(columns: x, target\)/,
    );
  });

  it('a time window on data without a time', async () => {
    const path = await csv(
      'notime-window.csv',
      'x,target',
      rowsOf(500, (i) => `${i % 7},${i % 2}`),
    );
    await expectRejected(
      options(path, { timeColumn: undefined, since: new Date('2024-01-01T00:00:00Z') }),
      /--since and --until filter by time: pass --time-column, the data has no timestamp column/,
    );
  });

  it('a stratified split of a regression target', async () => {
    await expectRejected(
      options(good, { target: 'amount', split: 'stratified' }),
      /--split stratified keeps the class shares: it is for classification/,
    );
  });

  it('cut dates with a random split', async () => {
    await expectRejected(
      options(good, { split: 'random', trainUntil: new Date('2024-02-01T00:00:00Z') }),
      /--train-until and --validation-until cut by time: they need --split time, not random/,
    );
  });

  it('a time column with text that is not a time', async () => {
    const path = await csv(
      'badtime.csv',
      'at,x,target',
      rowsOf(500, (i) => `${i === 3 ? 'yesterday' : day(i)},${i % 7},${i % 2}`),
    );
    await expectRejected(options(path), /time column at has a value that is not a timestamp: "yesterday"/);
  });

  it('a target that is not binary for classification', async () => {
    const path = await csv(
      'multi.csv',
      'at,x,target',
      rowsOf(500, (i) => `${day(i)},${i % 7},${i % 3}`),
    );
    await expectRejected(
      options(path, { task: 'binary-classification' }),
      /target column target has more than two values \(0, 1, 2, …\): binary classification needs two classes \(multiclass is not supported yet\)/,
    );
  });

  it('a text target with more than two classes', async () => {
    const path = await csv(
      'text.csv',
      'at,x,target',
      rowsOf(500, (i) => `${day(i)},${i % 7},${['Adelie', 'Gentoo', 'Chinstrap'][i % 3]}`),
    );
    await expectRejected(
      options(path),
      /target column target has 3 classes \("Adelie", "Gentoo", "Chinstrap"\): binary classification needs two \(multiclass is not supported yet\)/,
    );
  });

  it('a text target asked to be a regression', async () => {
    const path = await csv(
      'textreg.csv',
      'at,x,target',
      rowsOf(500, (i) => `${day(i)},${i % 7},${i % 2 ? 'yes' : 'no'}`),
    );
    await expectRejected(
      options(path, { task: 'regression' }),
      /target column target holds text: a regression target must be numbers/,
    );
  });

  it('a positive label that is not a class', async () => {
    const path = await csv(
      'positive.csv',
      'at,x,target',
      rowsOf(500, (i) => `${day(i)},${i % 7},${i % 2 ? 'MALE' : 'FEMALE'}`),
    );
    await expectRejected(
      options(path, { positiveLabel: 'female!' }),
      /--positive-label "female!" is not a class of target target \(classes: "FEMALE", "MALE"\)/,
    );
  });

  it('a single-class target', async () => {
    const path = await csv(
      'oneclass.csv',
      'at,x,target',
      rowsOf(500, (i) => `${day(i)},${i % 7},0`),
    );
    await expectRejected(
      options(path, { task: 'binary-classification' }),
      /target column target has a single value \(0\): nothing to learn/,
    );
  });

  it('an empty dataset', async () => {
    const path = await csv('empty.csv', 'at,x,target', []);
    await expectRejected(options(path), /has no rows/);
  });

  it('a tiny dataset', async () => {
    const path = await csv(
      'tiny.csv',
      'at,x,target',
      rowsOf(40, (i) => `${day(i)},${i % 7},${i % 2}`),
    );
    await expectRejected(
      options(path),
      /too little data .*the train split has 28 rows, at least 100 are needed/,
    );
  });

  it('an all-null feature', async () => {
    const path = await csv(
      'nullcol.csv',
      'at,x,empty,target',
      rowsOf(500, (i) => `${day(i)},${i % 7},,${i % 2}`),
    );
    await expectRejected(options(path), /feature empty is empty \(all values missing\) .*--exclude empty/);
  });

  it('a constant feature', async () => {
    const path = await csv(
      'constant.csv',
      'at,x,same,target',
      rowsOf(500, (i) => `${day(i)},${i % 7},5,${i % 2}`),
    );
    await expectRejected(
      options(path),
      /feature same is constant in the training split; drop it with --exclude same/,
    );
  });

  it('an identifier-like text column kept with --include', async () => {
    const path = await csv(
      'ids.csv',
      'at,id,target',
      rowsOf(15_000, (i) => `${day(i)},id-${i},${i % 2}`),
    );
    await expectRejected(
      options(path, { include: ['id'] }),
      /feature id has 10500 distinct values .*looks like an identifier; drop it with --exclude id/,
    );
    await expectRejected(
      options(path, { include: ['nope'] }),
      /--include names "nope", which is not a column/,
    );
  });

  it('a feature name the schema cannot carry', async () => {
    const path = await csv(
      'names.csv',
      'at,bad\u0001name,target',
      rowsOf(500, (i) => `${day(i)},${i % 7},${i % 2}`),
    );
    await expectRejected(
      options(path),
      /column "bad\\u0001name" cannot be a feature name \(at most 256 characters, no control characters\)/,
    );
  });

  it('an unreadable URI', async () => {
    await expectRejected(options(join(dir, 'missing.parquet')), /cannot read dataset .*missing\.parquet/);
    await expectRejected(options(join(dir, 'data.xlsx')), /cannot tell the format/);
    await expectRejected(options('builtin:nope'), /unknown builtin dataset/);
  });

  it('a window with no rows', async () => {
    await expectRejected(
      options(good, { since: new Date('2030-01-01T00:00:00Z') }),
      /no usable rows .*outside --since\/--until/,
    );
  });

  it('an s3:// destination without S3 settings, before reading anything', async () => {
    await expectRejected(
      { ...options(join(dir, 'never-read.parquet')), out: 's3://bucket/models/x' },
      /an s3:\/\/ location needs --s3-endpoint\/MLCYCLE_S3_ENDPOINT/,
      UserError,
    );
  });

  it('a dataset without a model name', async () => {
    await expectRejected(options(good, { modelName: undefined }), /--model-name is required/, UserError);
  });
});
