import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  buildRecordValidator,
  createFeatureSchema,
  type FeatureSchemaInput,
  fieldIssues,
  parseFeatureSchema,
  requestContractDifference,
  serializeFeatureSchema,
} from './feature-schema.js';

const body: FeatureSchemaInput = {
  schemaVersion: 1,
  task: 'binary-classification',
  target: { name: 'delayed', type: 'boolean' },
  features: [
    { name: 'date', type: 'timestamp', nullable: false },
    { name: 'distance', type: 'number', nullable: false, range: { min: 30, max: 4983 } },
    { name: 'seats', type: 'integer', nullable: true },
    {
      name: 'origin',
      type: 'category',
      nullable: false,
      categories: ['ATL', 'ORD'],
      unseen: 'encode-as-unknown',
    },
    { name: 'carrier', type: 'category', nullable: true, categories: ['AA', 'UA'], unseen: 'reject' },
    { name: 'international', type: 'boolean', nullable: false },
  ],
};

describe('feature schema', () => {
  it('stamps a digest that depends on content, not key order', () => {
    const a = createFeatureSchema(body);
    const reordered = JSON.parse(
      JSON.stringify({ features: body.features, target: body.target, task: body.task, schemaVersion: 1 }),
    );
    expect(createFeatureSchema(reordered).digest).toBe(a.digest);
    const changed = createFeatureSchema({ ...body, features: body.features.slice(1) });
    expect(changed.digest).not.toBe(a.digest);
    expect(a.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('round-trips through schema.json and detects tampering', () => {
    const schema = createFeatureSchema(body);
    const text = serializeFeatureSchema(schema);
    expect(parseFeatureSchema(text)).toEqual(schema);
    const tampered = text.replace('"distance"', '"dist"');
    expect(() => parseFeatureSchema(tampered)).toThrow(/digest mismatch/);
  });

  it('rejects inconsistent schemas', () => {
    expect(() => createFeatureSchema({ ...body, task: 'regression' })).toThrow(
      /does not fit a boolean target/,
    );
    expect(() =>
      createFeatureSchema({
        ...body,
        features: [...body.features, { name: 'date', type: 'number', nullable: false }],
      }),
    ).toThrow(/duplicate feature date/);
    expect(() =>
      createFeatureSchema({ ...body, features: [{ name: 'origin', type: 'category', nullable: false }] }),
    ).toThrow(/needs its categories/);
  });
});

describe('record validator', () => {
  const validate = buildRecordValidator(createFeatureSchema(body));
  const good = {
    date: '2001-03-04T17:25:00Z',
    distance: 594,
    seats: null,
    origin: 'ATL',
    carrier: 'UA',
    international: false,
  };

  function issues(record: unknown) {
    const result = validate.safeParse(record);
    if (result.success) return [];
    return fieldIssues(result.error as z.ZodError, record);
  }

  it('accepts a valid record, nullable fields absent, and unseen categories when allowed', () => {
    expect(issues(good)).toEqual([]);
    const { seats: _s, carrier: _c, ...withoutNullables } = good;
    expect(issues(withoutNullables)).toEqual([]);
    expect(issues({ ...good, origin: 'XYZ' })).toEqual([]);
  });

  it('names each bad field', () => {
    const found = issues({
      date: '2001-03-04 17:25',
      distance: '594',
      seats: 1.5,
      carrier: 'ZZ',
      international: 'no',
      extra: 1,
    });
    const byField = Object.fromEntries(found.map((i) => [i.field, i.message]));
    expect(Object.keys(byField).sort()).toEqual([
      'carrier',
      'date',
      'distance',
      'extra',
      'international',
      'origin',
      'seats',
    ]);
    expect(byField.extra).toBe('unknown field');
    expect(byField.origin).toBe('required field is missing');
    expect(byField.date).toMatch(/ISO-8601/);
    expect(byField.distance).toMatch(/finite number/);
  });

  it('rejects null where not nullable and non-finite numbers', () => {
    expect(issues({ ...good, distance: null }).map((i) => i.field)).toEqual(['distance']);
    expect(issues({ ...good, distance: Number.NaN }).map((i) => i.field)).toEqual(['distance']);
    expect(issues({ ...good, distance: Number.POSITIVE_INFINITY }).map((i) => i.field)).toEqual(['distance']);
  });

  it('reports the index of a bad record in a batch', () => {
    const batch = z.array(validate);
    const input = [good, { ...good, distance: 'far' }, { ...good, origin: undefined }];
    const result = batch.safeParse(input);
    expect(result.success).toBe(false);
    if (!result.success) {
      expect(fieldIssues(result.error, input)).toEqual([
        { field: '1.distance', message: 'expected a finite number' },
        { field: '2.origin', message: 'required field is missing' },
      ]);
    }
  });
});

describe('the request contract between two versions', () => {
  const champion = createFeatureSchema(body);
  const variant = (change: (features: FeatureSchemaInput['features']) => void, over = {}) => {
    const features = structuredClone(body.features);
    change(features);
    return createFeatureSchema({ ...body, ...over, features });
  };

  it('ignores what one training run saw: levels, ranges, descriptions', () => {
    const retrained = variant((f) => {
      f[1] = { ...f[1]!, range: { min: 1_500, max: 4_983 } };
      f[3] = { ...f[3]!, categories: ['SEA', 'ATL', 'JFK'], description: 'airport' };
    });
    expect(retrained.digest).not.toBe(champion.digest);
    expect(requestContractDifference(champion, retrained)).toBeNull();
  });

  it('names a changed type, a missing feature, another task and a feature that may no longer be missing', () => {
    expect(
      requestContractDifference(
        champion,
        variant((f) => {
          f[2]!.type = 'number';
        }),
      ),
    ).toBe('feature seats is number, not integer');
    expect(
      requestContractDifference(
        champion,
        variant((f) => void f.pop()),
      ),
    ).toMatch(/^features \[date, distance, seats, origin, carrier\], not \[.*international\]$/);
    const regression = variant(() => {}, { task: 'regression', target: { name: 'delayed', type: 'number' } });
    expect(requestContractDifference(champion, regression)).toBe(
      'task regression, not binary-classification',
    );
    expect(
      requestContractDifference(
        champion,
        variant((f) => {
          f[2]!.nullable = false;
        }),
      ),
    ).toBe('feature seats may be missing, but not for the other model');
  });
});
