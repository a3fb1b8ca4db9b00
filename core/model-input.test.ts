import { describe, expect, it } from 'vitest';
import { createFeatureSchema } from './feature-schema.js';
import { assignGraphInputs, modelInputNames, recordsToInputs, timestampParts } from './model-input.js';

const schema = createFeatureSchema({
  schemaVersion: 1,
  task: 'regression',
  target: { name: 'delay', type: 'number' },
  features: [
    { name: 'date', type: 'timestamp', nullable: true },
    { name: 'distance', type: 'number', nullable: true },
    { name: 'origin', type: 'category', nullable: true, categories: ['ATL'] },
    { name: 'night', type: 'boolean', nullable: false },
  ],
});

describe('model inputs', () => {
  it('expands timestamps into UTC parts with Monday = 0', () => {
    // 2001-03-04 was a Sunday.
    expect(timestampParts(Date.parse('2001-03-04T17:25:00Z'))).toEqual({
      hour: 17,
      day_of_week: 6,
      day_of_month: 4,
      month: 3,
      year: 2001,
    });
    expect(timestampParts(Date.parse('2001-03-05T00:00:00+02:00')).day_of_week).toBe(6);
  });

  it('names the inputs in schema order', () => {
    expect(modelInputNames(schema)).toEqual([
      'date__hour',
      'date__day_of_week',
      'date__day_of_month',
      'date__month',
      'distance',
      'origin',
      'night',
    ]);
  });

  it('encodes values and missing values as the graph expects', () => {
    const inputs = recordsToInputs(schema, [
      { date: '2001-01-01T08:00:00Z', distance: 100, origin: 'ATL', night: true },
      { date: null, distance: null, origin: null, night: false },
    ]);
    expect(Object.keys(inputs)).toEqual(modelInputNames(schema));
    expect(Array.from(inputs.date__hour!.data as Float32Array)).toEqual([8, Number.NaN]);
    expect(Array.from(inputs.distance!.data as Float32Array)).toEqual([100, Number.NaN]);
    expect(inputs.origin).toEqual({ type: 'string', data: ['ATL', ''], dims: [2, 1] });
    expect(Array.from(inputs.night!.data as Float32Array)).toEqual([1, 0]);
    expect(inputs.night!.dims).toEqual([2, 1]);
  });
});

describe('graph input names for any column name', () => {
  it('keeps C identifiers and maps the rest (spaces, units, non-ASCII, clashes) to safe, unique names', () => {
    const features = [
      { name: 'Beak Length (mm)', type: 'number' as const },
      { name: 'origin', type: 'category' as const },
      { name: 'Größe', type: 'number' as const },
      { name: '重量', type: 'number' as const },
      { name: 'label', type: 'number' as const },
      { name: 'const_1', type: 'number' as const },
      { name: 'f0_Beak_Length_mm', type: 'number' as const },
      { name: 'Year', type: 'timestamp' as const, parts: ['year' as const] },
    ];
    expect(assignGraphInputs(features)).toEqual([
      'f0_Beak_Length_mm',
      undefined,
      'f2_Gro_e',
      'f3',
      'f4_label',
      'f5_const_1_',
      'f6_f0_Beak_Length_mm',
      undefined,
    ]);
  });

  it('feeds the graph under the input names and the timestamp parts the schema lists', () => {
    const own = createFeatureSchema({
      schemaVersion: 1,
      task: 'binary-classification',
      target: { name: 'Sex', type: 'boolean', classes: { positive: 'MALE', negative: 'FEMALE' } },
      features: [
        { name: 'Beak Length (mm)', type: 'number', nullable: true, input: 'f0_Beak_Length_mm' },
        {
          name: 'Island name',
          type: 'category',
          nullable: false,
          categories: ['Dream'],
          input: 'f1_Island_name',
        },
        { name: 'Year', type: 'timestamp', nullable: false, parts: ['month', 'year'] },
      ],
    });
    expect(modelInputNames(own)).toEqual([
      'f0_Beak_Length_mm',
      'f1_Island_name',
      'Year__month',
      'Year__year',
    ]);
    const inputs = recordsToInputs(own, [
      { 'Beak Length (mm)': 39.1, 'Island name': 'Dream', Year: '1970-01-01' },
    ]);
    expect(Object.keys(inputs)).toEqual(modelInputNames(own));
    expect(Array.from(inputs.f0_Beak_Length_mm!.data as Float32Array)).toEqual([Math.fround(39.1)]);
    expect(inputs.f1_Island_name!.data).toEqual(['Dream']);
    expect(Array.from(inputs.Year__year!.data as Float32Array)).toEqual([1970]);
  });

  it('refuses control characters in a name and two features on one graph input', () => {
    const base = {
      schemaVersion: 1 as const,
      task: 'regression' as const,
      target: { name: 'y', type: 'number' as const },
    };
    // A schema without a model (drift on two files) may name anything, even `label`.
    expect(() =>
      createFeatureSchema({
        ...base,
        features: [
          { name: 'Beak Length (mm)', type: 'number', nullable: false },
          { name: 'label', type: 'number', nullable: false },
        ],
      }),
    ).not.toThrow();
    expect(() =>
      createFeatureSchema({
        ...base,
        features: [
          { name: 'a b', type: 'number', nullable: false, input: 'x' },
          { name: 'a  b', type: 'number', nullable: false, input: 'x' },
        ],
      }),
    ).toThrow(/duplicate graph input x/);
    expect(() =>
      createFeatureSchema({
        ...base,
        features: [{ name: 'bad\u0001name', type: 'number', nullable: false, input: 'x' }],
      }),
    ).toThrow(/control characters/);
  });
});
