import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildRecordValidator, createFeatureSchema } from '../core/feature-schema.js';
import { compileQuickCheck, createRecordValidator } from './validation.js';

const schema = createFeatureSchema({
  schemaVersion: 1,
  task: 'binary-classification',
  target: { name: 'delayed', type: 'boolean' },
  features: [
    { name: 'date', type: 'timestamp', nullable: false },
    { name: 'distance', type: 'number', nullable: false },
    { name: 'seats', type: 'integer', nullable: true },
    { name: 'holiday', type: 'boolean', nullable: true },
    { name: 'origin', type: 'category', nullable: false, categories: ['ATL', 'ORD'] },
    { name: 'carrier', type: 'category', nullable: true, categories: ['AA', 'UA'], unseen: 'reject' },
  ],
});

// Values near the edges of every rule: the quick check must never accept what zod refuses.
const anyValue = fc.oneof(
  fc.constantFrom(
    null,
    undefined,
    true,
    false,
    0,
    -0,
    1.5,
    2 ** 53,
    2 ** 53 + 2,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    'ATL',
    'AA',
    'XX',
    '2001-03-04T17:25:00Z',
    '2001-03-04T17:25:00+05:30',
    '2001-03-04T17:25:00.123Z',
    '2001-02-30T00:00:00Z',
    '2001-03-04T17:25Z',
    '2001-03-04 17:25:00Z',
    '2001-03-04T17:25:00',
    '2001-03-04',
    [],
    {},
  ),
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
);
const recordLike = fc.dictionary(
  fc.constantFrom(
    'date',
    'distance',
    'seats',
    'holiday',
    'origin',
    'carrier',
    'extra',
    '__proto__',
    'constructor',
  ),
  anyValue,
);

describe('record validation', () => {
  it('the quick check only accepts records the strict zod validator accepts', () => {
    const quick = compileQuickCheck(schema);
    const strict = buildRecordValidator(schema);
    fc.assert(
      fc.property(fc.oneof(recordLike, anyValue), (value) => {
        if (quick(value)) expect(strict.safeParse(value).success).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('gives the same verdict as zod on every record', () => {
    const validator = createRecordValidator(schema);
    const strict = buildRecordValidator(schema);
    fc.assert(
      fc.property(recordLike, (value) => {
        expect(validator.validate(value).ok).toBe(strict.safeParse(value).success);
      }),
      { numRuns: 20_000 },
    );
  });

  it('takes the quick path for ordinary valid records', () => {
    const quick = compileQuickCheck(schema);
    expect(
      quick({ date: '2001-03-04T17:25:00Z', distance: 800, origin: 'SFO', seats: null, carrier: 'AA' }),
    ).toBe(true);
    expect(quick({ date: '2001-03-04T17:25:00Z', distance: 800, origin: 'SFO', carrier: 'DL' })).toBe(false);
  });

  it('prefixes batch paths with the record index and names missing fields', () => {
    const result = createRecordValidator(schema).validate({ distance: 'far', origin: 'ATL', extra: 1 }, '7');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.issues).toEqual(
        expect.arrayContaining([
          { field: '7.date', message: 'required field is missing' },
          { field: '7.distance', message: 'expected a finite number' },
          { field: '7.extra', message: 'unknown field' },
        ]),
      );
    }
  });
});
