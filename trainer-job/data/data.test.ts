import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timestampParts } from '../../core/model-input.js';
import { prepareData } from './dataset.js';
import { buildMatrix, fitFeaturePlan } from './plan.js';
import { sampleRows, splitByTime } from './time-split.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlcycle-data-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('time split', () => {
  it('cuts by fractions, most recent rows last', () => {
    const times = Float64Array.from({ length: 100 }, (_, i) => i);
    expect(splitByTime(times, { validationFraction: 0.15, holdoutFraction: 0.15 })).toEqual({
      train: [0, 70],
      validation: [70, 85],
      holdout: [85, 100],
    });
  });

  it('cuts by dates (exclusive upper bounds), halving the rest without a validation date', () => {
    const times = Float64Array.from({ length: 10 }, (_, i) => Date.UTC(2001, 0, 1 + i));
    const at = (d: number) => new Date(Date.UTC(2001, 0, d));
    expect(
      splitByTime(times, {
        validationFraction: 0.1,
        holdoutFraction: 0.1,
        trainUntil: at(6),
        validationUntil: at(8),
      }),
    ).toEqual({
      train: [0, 5],
      validation: [5, 7],
      holdout: [7, 10],
    });
    expect(
      splitByTime(times, { validationFraction: 0.1, holdoutFraction: 0.1, trainUntil: at(5) }).validation,
    ).toEqual([4, 7]);
  });

  it('samples exactly k rows, sorted, spread over the whole range, the same for a seed', () => {
    const a = sampleRows(100_000, 1000, 3);
    expect(a).toHaveLength(1000);
    expect(Array.from(a)).toEqual(Array.from(a).sort((x, y) => x - y));
    expect(a[0]!).toBeLessThan(1000);
    expect(a[999]!).toBeGreaterThan(99_000);
    // Each tenth of the range holds about a tenth of the sample.
    for (let d = 0; d < 10; d++) {
      const inDecile = Array.from(a).filter((r) => Math.floor(r / 10_000) === d).length;
      expect(inDecile).toBeGreaterThan(60);
      expect(inDecile).toBeLessThan(140);
    }
    expect(Array.from(sampleRows(100_000, 1000, 3))).toEqual(Array.from(a));
    expect(Array.from(sampleRows(100_000, 1000, 4))).not.toEqual(Array.from(a));
  });
});

describe('feature plan', () => {
  it('ranks categories by smoothed target mean, maps unseen and missing to NaN, and splits timestamps', async () => {
    // Levels: a (rate 0.9), b (rate 0.1), c (rate 0.5); level z appears only in the holdout.
    const lines = ['at,level,target'];
    const n = 1000;
    for (let i = 0; i < n; i++) {
      const at = new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString();
      const holdout = i >= 850;
      const level = holdout && i % 10 === 0 ? 'z' : i % 50 === 7 ? '' : ['a', 'b', 'c'][i % 3]!;
      const rate = { a: 0.9, b: 0.1, c: 0.5, z: 0.5, '': 0.5 }[level]!;
      lines.push(`${at},${level},${(i * 7919) % 100 < rate * 100 ? 1 : 0}`);
    }
    const path = join(dir, 'levels.csv');
    await writeFile(path, `${lines.join('\n')}\n`);
    const data = await prepareData({
      dataset: path,
      target: 'target',
      timeColumn: 'at',
      exclude: [],
      seed: 1,
      validationFraction: 0.15,
      holdoutFraction: 0.15,
    });
    const plan = await fitFeaturePlan(data, 'rank');
    const level = plan.schema.features.find((f) => f.name === 'level')!;
    expect(level).toMatchObject({
      type: 'category',
      nullable: true,
      categories: ['b', 'c', 'a'],
      unseen: 'encode-as-unknown',
    });
    // The training rows all fall in January 2024: month and year say nothing, so they are left out.
    expect(plan.schema.features.find((f) => f.name === 'at')!.parts).toEqual([
      'hour',
      'day_of_week',
      'day_of_month',
    ]);
    expect(plan.features.map((f) => f.name)).toEqual([
      'at__hour',
      'at__day_of_week',
      'at__day_of_month',
      'level',
    ]);
    expect(plan.features[3]!.lookup).toEqual({ keys: ['b', 'c', 'a'], values: [0, 1, 2] });

    const [a, b] = data.splits.holdout;
    const x = buildMatrix(plan, data, a, b);
    const column = data.features.find((f) => f.name === 'level')!.column as {
      codes: Int32Array;
      dictionary: string[];
    };
    const at = data.features.find((f) => f.name === 'at')!.column as { values: Float64Array };
    for (let i = a; i < b; i++) {
      const code = column.codes[i]!;
      const value = code < 0 ? '' : column.dictionary[code]!;
      const expected = { a: 2, b: 0, c: 1 }[value as 'a'] ?? Number.NaN;
      expect(x[3]![i - a]).toBe(expected);
      const parts = timestampParts(at.values[i]!);
      expect([x[0]![i - a], x[1]![i - a], x[2]![i - a]]).toEqual([
        parts.hour,
        parts.day_of_week,
        parts.day_of_month,
      ]);
    }

    const linear = await fitFeaturePlan(data, 'target-mean');
    const means = linear.features[3]!.lookup!.values;
    expect(means[0]!).toBeLessThan(means[1]!);
    expect(means[1]!).toBeLessThan(means[2]!);
    expect(linear.schema.digest).toBe(plan.schema.digest);
  });
});
