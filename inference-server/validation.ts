import { z } from 'zod';
import {
  buildRecordValidator,
  type Feature,
  type FeatureRecord,
  type FeatureSchema,
  type FieldIssue,
  fieldIssues,
} from '../core/feature-schema.js';

/** Most issues listed in one 422; a huge bad batch would otherwise produce a huge answer. */
export const MAX_REPORTED_ISSUES = 200;

export type ValidationResult = { ok: true; record: FeatureRecord } | { ok: false; issues: FieldIssue[] };

export interface RecordValidator {
  validate(value: unknown, pathPrefix?: string): ValidationResult;
  /** Per category feature, the levels seen in training; for counting unseen ones. */
  categoryLevels: ReadonlyMap<string, ReadonlySet<string>>;
}

/**
 * Validates request records against the feature schema with the strict zod validator from
 * core. A plain-JavaScript pre-check accepts the common valid record without running zod (a
 * few times faster, and every record of a 1,000-record batch goes through it); it only
 * ever says "valid" for a record zod accepts too, and anything it is unsure of goes to zod,
 * whose verdict and messages are the ones returned. The property test in validation.test.ts
 * holds the two to that.
 */
export function createRecordValidator(schema: FeatureSchema): RecordValidator {
  const strict = buildRecordValidator(schema);
  const quick = compileQuickCheck(schema);
  const categoryLevels = new Map<string, ReadonlySet<string>>();
  for (const f of schema.features) {
    if (f.type === 'category') categoryLevels.set(f.name, new Set(f.categories));
  }
  return {
    categoryLevels,
    validate(value, pathPrefix) {
      if (quick(value)) return { ok: true, record: value as FeatureRecord };
      const result = strict.safeParse(value);
      if (result.success) return { ok: true, record: value as FeatureRecord };
      const issues = fieldIssues(result.error, value);
      if (pathPrefix !== undefined) {
        for (const issue of issues)
          issue.field = issue.field === '(record)' ? pathPrefix : `${pathPrefix}.${issue.field}`;
      }
      return { ok: false, issues };
    },
  };
}

type Check = (v: unknown) => boolean;

/** Returns true only for records the strict validator accepts too; false means "ask zod". */
export function compileQuickCheck(schema: FeatureSchema): (value: unknown) => boolean {
  const names = schema.features.map((f) => f.name);
  const known = new Set(names);
  const checks = schema.features.map((f) => [f.name, valueCheck(f), f.nullable] as const);
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    if (Object.getPrototypeOf(value) !== Object.prototype) return false;
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (!known.has(key)) return false;
    }
    for (const [name, check, nullable] of checks) {
      const v = record[name];
      if (v === undefined || v === null) {
        if (!nullable) return false;
        if (v === undefined && Object.hasOwn(record, name)) return false;
        continue;
      }
      if (!check(v)) return false;
    }
    return true;
  };
}

function valueCheck(feature: Feature): Check {
  switch (feature.type) {
    case 'number':
      return (v) => typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return (v) => typeof v === 'number' && Number.isSafeInteger(v);
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'category': {
      if (feature.unseen === 'reject') {
        const levels = new Set(feature.categories);
        return (v) => typeof v === 'string' && levels.has(v);
      }
      return (v) => typeof v === 'string';
    }
    case 'timestamp': {
      // The same rule core's validator applies (the property test holds them together).
      const iso = z.iso.datetime({ offset: true });
      const date = z.iso.date();
      return (v) => typeof v === 'string' && (iso.safeParse(v).success || date.safeParse(v).success);
    }
  }
}
