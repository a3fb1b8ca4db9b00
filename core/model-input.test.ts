import { describe, expect, it } from 'vitest';
import { createFeatureSchema } from './feature-schema.js';
import { modelInputNames, recordsToInputs, timestampParts } from './model-input.js';

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
