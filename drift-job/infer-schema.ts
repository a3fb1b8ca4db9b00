import type { Column, Table } from '../core/dataset/index.js';
import { DataError } from '../core/errors.js';
import { createFeatureSchema, type Feature, type FeatureSchema } from '../core/feature-schema.js';

/**
 * A feature schema read off the reference itself, for `mlcycle drift --reference a.parquet
 * --current b.parquet` without a schema.json (as Evidently maps columns when no column mapping is
 * given): a column named `target` is the target, `prediction` and `probability` are the model's
 * outputs, every other column is a feature typed by its values — text → category (the reference's
 * values), true/false → boolean, timestamps → timestamp, whole numbers → integer, other numbers →
 * number. A `probability` column makes it a binary classifier, and so does a 0/1 target; anything
 * else is regression. The report says the schema was inferred, and how.
 */

export const INFERRED_TARGET = 'target';
const OUTPUTS = new Set(['prediction', 'probability']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export interface InferredSchema {
  schema: FeatureSchema;
  /** Plain sentences for the report: what was inferred, and what was left out. */
  notes: string[];
}

function isWholeNumbers(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v) && !Number.isInteger(v)) return false;
  }
  return true;
}

function isZeroOne(column: Column | undefined): boolean {
  if (!column || column.kind === 'string') return false;
  if (column.kind === 'boolean') return true;
  return column.values.every((v) => Number.isNaN(v) || v === 0 || v === 1);
}

function hasMissing(column: Column): boolean {
  if (column.kind === 'string') return column.codes.some((c) => c < 0);
  return column.values.some((v) => Number.isNaN(v));
}

function featureOf(name: string, column: Column): Feature {
  const base = { name, nullable: hasMissing(column), description: 'inferred from the reference' };
  switch (column.kind) {
    case 'string':
      return { ...base, type: 'category', categories: column.dictionary.slice() };
    case 'boolean':
      return { ...base, type: 'boolean' };
    case 'timestamp':
      return { ...base, type: 'timestamp' };
    case 'number':
      return { ...base, type: isWholeNumbers(column.values) ? 'integer' : 'number' };
  }
}

export function inferSchema(reference: Table): InferredSchema {
  const notes: string[] = [];
  const features: Feature[] = [];
  for (const [name, column] of Object.entries(reference.columns)) {
    if (name === INFERRED_TARGET || OUTPUTS.has(name)) continue;
    if (!NAME.test(name)) {
      notes.push(`column ${JSON.stringify(name)} left out: not a valid feature name`);
      continue;
    }
    features.push(featureOf(name, column));
  }
  if (features.length === 0) throw new DataError('the reference has no column to use as a feature');
  const target = reference.columns[INFERRED_TARGET];
  const classifier =
    reference.columns.probability !== undefined || (target !== undefined && isZeroOne(target));
  const task = classifier ? 'binary-classification' : 'regression';
  const schema = createFeatureSchema({
    schemaVersion: 1,
    task,
    target: {
      name: INFERRED_TARGET,
      type: classifier ? 'boolean' : 'number',
      description: target ? 'inferred from the reference' : 'no target column: no labels',
    },
    features,
  });
  const typed = features.map((f) => `${f.name}: ${f.type}`).join(', ');
  notes.unshift(
    `no schema.json: the schema was inferred from the reference (${typed}; task ${task}${target ? `, target column ${INFERRED_TARGET}` : ', no target column'})`,
  );
  return { schema, notes };
}
