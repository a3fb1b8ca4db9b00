import { describe, expect, it } from 'vitest';
import type { Column } from '../../core/dataset/table.js';
import { DataError } from '../../core/errors.js';
import { distinctInstants, identifierReason, parseIsoDate, recogniseDates } from './roles.js';
import { randomSplit, stratifiedSplit } from './split.js';
import { readTarget } from './target.js';

const text = (values: (string | null)[]): Column => {
  const dictionary: string[] = [];
  const codes = Int32Array.from(values, (v) => {
    if (v === null) return -1;
    let c = dictionary.indexOf(v);
    if (c < 0) c = dictionary.push(v) - 1;
    return c;
  });
  return { kind: 'string', codes, dictionary };
};
const numbers = (values: number[], kind: 'number' | 'boolean' = 'number'): Column => ({
  kind,
  values: Float64Array.from(values),
});

describe('targets as people store them', () => {
  it('two text classes: the second in sorted order is positive by default, missing and placeholders dropped', () => {
    const t = readTarget(text(['MALE', 'FEMALE', null, '.', 'FEMALE', 'NA']), { name: 'Sex' });
    expect(t.task).toBe('binary-classification');
    expect(t.classes).toEqual({ positive: 'MALE', negative: 'FEMALE' });
    expect(Array.from(t.values)).toEqual([1, 0, Number.NaN, Number.NaN, 0, Number.NaN]);
    expect(t.placeholders).toEqual({ '.': 1, NA: 1 });
    expect(t.positiveReason).toMatch(/--positive-label FEMALE makes the other one positive/);
  });

  it('yes/no, true/false and 0/1 take their natural positive class; --positive-label overrides (any case)', () => {
    expect(readTarget(text(['no', 'Yes', 'no']), { name: 't' }).classes).toEqual({
      positive: 'Yes',
      negative: 'no',
    });
    expect(readTarget(numbers([1, 0, Number.NaN], 'boolean'), { name: 't' }).classes).toEqual({
      positive: 'true',
      negative: 'false',
    });
    const zeroOne = readTarget(numbers([0, 1, 1]), { name: 't' });
    expect(zeroOne.classes).toEqual({ positive: '1', negative: '0' });
    expect(Array.from(zeroOne.values)).toEqual([0, 1, 1]);
    const flipped = readTarget(numbers([0, 1, 1]), { name: 't', positiveLabel: '0' });
    expect(Array.from(flipped.values)).toEqual([1, 0, 0]);
    const female = readTarget(text(['MALE', 'FEMALE']), { name: 'Sex', positiveLabel: 'female' });
    expect(female.classes).toEqual({ positive: 'FEMALE', negative: 'MALE' });
    expect(female.positiveReason).toBe('given by --positive-label');
  });

  it('numbers are a regression unless asked otherwise; two numbers with --positive-label are classes', () => {
    expect(readTarget(numbers([18, 15, 31.5]), { name: 'mpg' }).task).toBe('regression');
    const two = readTarget(numbers([2, 4, 2]), { name: 'grade', positiveLabel: '2' });
    expect(two.classes).toEqual({ positive: '2', negative: '4' });
    expect(Array.from(two.values)).toEqual([1, 0, 1]);
  });

  it('refuses more than two classes, a single class, text for a regression and an unknown positive label', () => {
    expect(() => readTarget(text(['a', 'b', 'c', null]), { name: 'species' })).toThrow(
      /target column species has 3 classes \("a", "b", "c"\): binary classification needs two \(multiclass is not supported yet\)/,
    );
    expect(() => readTarget(text(['a', 'a', '?']), { name: 'x' })).toThrow(/a single class \(a\)/);
    expect(() => readTarget(text(['a', 'b']), { name: 'x', task: 'regression' })).toThrow(DataError);
    expect(() => readTarget(text(['a', 'b']), { name: 'x', positiveLabel: 'c' })).toThrow(
      /--positive-label "c" is not a class of target x \(classes: "a", "b"\)/,
    );
    expect(() => readTarget(numbers([1, 2, 3]), { name: 'x', task: 'binary-classification' })).toThrow(
      /more than two values \(1, 2, 3, …\)/,
    );
  });
});

describe('column roles', () => {
  it('reads ISO dates and date-times (no offset = UTC) and nothing else', () => {
    expect(parseIsoDate('1970-01-01')).toBe(0);
    expect(parseIsoDate('2001-03-04 17:25')).toBe(Date.UTC(2001, 2, 4, 17, 25));
    expect(parseIsoDate('2001-03-04T17:25:00+02:00')).toBe(Date.UTC(2001, 2, 4, 15, 25));
    expect(parseIsoDate('03/04/2001')).toBeNaN();
    expect(parseIsoDate('1970')).toBeNaN();
    const table = {
      numRows: 3,
      columns: { Year: text(['1970-01-01', null, '1971-01-01']), Name: text(['a', '1970-01-01', 'b']) },
    };
    expect(recogniseDates(table, new Set())).toEqual(['Year']);
    expect(table.columns.Year.kind).toBe('timestamp');
    expect(distinctInstants(table.columns.Year)).toBe(2);
  });

  it('calls near-unique text and row counters identifiers, and leaves categories and measures alone', () => {
    const names = Array.from({ length: 100 }, (_, i) => `car ${i % 80}`);
    expect(identifierReason(text(names))).toBe(
      '80 distinct values in 100 rows: it names rows rather than describing them',
    );
    expect(identifierReason(text(names.map((_, i) => ['USA', 'Japan', 'Europe'][i % 3]!)))).toBeNull();
    expect(identifierReason(numbers(Array.from({ length: 50 }, (_, i) => 50 - i)))).toBe(
      'the integers 1 to 50, each once: a row counter',
    );
    // Distinct measurements are not a counter: they do not fill a range.
    expect(identifierReason(numbers(Array.from({ length: 50 }, (_, i) => i * 3)))).toBeNull();
    expect(identifierReason(numbers(Array.from({ length: 10 }, (_, i) => i)))).toBeNull();
  });
});

describe('random and stratified splits', () => {
  const rows = Uint32Array.from({ length: 1000 }, (_, i) => i);
  const fractions = { validationFraction: 0.15, holdoutFraction: 0.15 };

  it('cut by the fractions, each split one range of rows in table order, the same for a seed', () => {
    const a = randomSplit(rows, fractions, 7);
    expect(a.splits).toEqual({ train: [0, 700], validation: [700, 850], holdout: [850, 1000] });
    expect(new Set(a.rows).size).toBe(1000);
    const holdout = Array.from(a.rows.subarray(850));
    expect(holdout).toEqual([...holdout].sort((x, y) => x - y));
    expect(Array.from(randomSplit(rows, fractions, 7).rows)).toEqual(Array.from(a.rows));
    expect(Array.from(randomSplit(rows, fractions, 8).rows)).not.toEqual(Array.from(a.rows));
    // Not the last rows of the table: a random holdout spreads over it.
    expect(holdout[0]!).toBeLessThan(200);
  });

  it('stratified: every split keeps each class share', () => {
    // 10% positives.
    const label = Float64Array.from(rows, (i) => (i % 10 === 0 ? 1 : 0));
    const s = stratifiedSplit(rows, label, fractions, 3);
    for (const part of ['train', 'validation', 'holdout'] as const) {
      const [a, b] = s.splits[part];
      const positives = Array.from(s.rows.subarray(a, b)).filter((r) => label[r] === 1).length;
      expect(positives / (b - a)).toBeCloseTo(0.1, 2);
    }
  });
});
