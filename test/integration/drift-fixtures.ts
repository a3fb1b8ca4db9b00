import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Column, MISSING_CODE, type Table, writeParquet } from '../../core/dataset/index.js';
import {
  createFeatureSchema,
  type FeatureRecord,
  type FeatureSchema,
  serializeFeatureSchema,
} from '../../core/feature-schema.js';
import { classificationMetrics } from '../../core/metrics.js';

/**
 * A small synthetic binary classifier's world for the drift job tests: a schema with every
 * feature type, a reference sample with the model's outputs and labels, holdout metrics, and a
 * generator of "current" rows whose drift and label quality the test chooses.
 */

export const COLORS = ['red', 'green', 'blue'] as const;

export function fixtureSchema(): FeatureSchema {
  return createFeatureSchema({
    schemaVersion: 1,
    task: 'binary-classification',
    target: { name: 'label', type: 'boolean', description: 'the outcome' },
    features: [
      { name: 'x', type: 'number', nullable: true, description: '' },
      { name: 'n', type: 'integer', nullable: false, description: '' },
      {
        name: 'color',
        type: 'category',
        nullable: false,
        categories: [...COLORS],
        unseen: 'encode-as-unknown',
        description: '',
      },
      { name: 'flag', type: 'boolean', nullable: false, description: '' },
      { name: 'at', type: 'timestamp', nullable: false, description: '' },
    ],
  });
}

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

export interface Shift {
  /** Added to x. */
  xShift?: number;
  /** Weights of red/green/blue (and an unseen "purple" as a fourth). */
  colorWeights?: number[];
  flagRate?: number;
  /** Share of labels flipped at random: 0 keeps the model as good as on holdout. */
  labelNoise?: number;
  /** Share of x values missing. */
  xMissing?: number;
}

export interface Row {
  record: FeatureRecord;
  probability: number;
  prediction: number;
  label: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export function generateRows(
  count: number,
  seed: number,
  shift: Shift = {},
  startMs = Date.UTC(2026, 0, 1),
): Row[] {
  const r = rng(seed);
  const weights = shift.colorWeights ?? [1, 1, 1];
  const palette = [...COLORS, 'purple'];
  const total = weights.reduce((a, b) => a + b, 0);
  const rows: Row[] = [];
  for (let i = 0; i < count; i++) {
    const x = gaussian(r) + (shift.xShift ?? 0);
    let u = r() * total;
    let color = palette[0]!;
    for (let k = 0; k < weights.length; k++) {
      u -= weights[k]!;
      if (u < 0) {
        color = palette[k]!;
        break;
      }
    }
    const n = Math.round(10 + 3 * gaussian(r));
    const flag = r() < (shift.flagRate ?? 0.5);
    const probability = sigmoid(1.5 * x + (color === 'red' ? 0.5 : 0));
    let label = r() < sigmoid(2 * x + (color === 'red' ? 0.7 : 0)) ? 1 : 0;
    if (r() < (shift.labelNoise ?? 0)) label = 1 - label;
    const missing = r() < (shift.xMissing ?? 0);
    rows.push({
      record: { x: missing ? null : x, n, color, flag, at: new Date(startMs + i * 60_000).toISOString() },
      probability,
      prediction: probability >= 0.5 ? 1 : 0,
      label,
    });
  }
  return rows;
}

/** The rows as a Table with the reference layout: features, target, prediction, probability. */
export function rowsToTable(rows: Row[], withLabels = true): Table {
  const dictionary: string[] = [];
  const index = new Map<string, number>();
  const codes = Int32Array.from(rows, (row) => {
    const c = row.record.color as string | null;
    if (c === null) return MISSING_CODE;
    if (!index.has(c)) {
      index.set(c, dictionary.length);
      dictionary.push(c);
    }
    return index.get(c)!;
  });
  const num = (f: (row: Row) => number | null): Float64Array =>
    Float64Array.from(rows, (row) => f(row) ?? Number.NaN);
  const columns: Record<string, Column> = {
    x: { kind: 'number', values: num((row) => row.record.x as number | null) },
    n: { kind: 'number', values: num((row) => row.record.n as number) },
    color: { kind: 'string', codes, dictionary },
    flag: { kind: 'boolean', values: num((row) => (row.record.flag ? 1 : 0)) },
    at: { kind: 'timestamp', values: num((row) => Date.parse(row.record.at as string)) },
    prediction: { kind: 'number', values: num((row) => row.prediction) },
    probability: { kind: 'number', values: num((row) => row.probability) },
  };
  if (withLabels) columns.label = { kind: 'boolean', values: num((row) => row.label) };
  return { numRows: rows.length, columns };
}

export function holdoutMetrics(rows: Row[]): Record<string, number> {
  const m = classificationMetrics(
    rows.map((r) => r.label),
    rows.map((r) => r.probability),
    0.5,
  );
  return { ...m };
}

export interface ModelFiles {
  dir: string;
  reference: string;
  schema: FeatureSchema;
  holdout: Record<string, number>;
}

/** Writes reference.parquet, schema.json and metrics.json of a fixture model version to a temp dir. */
export async function writeModelFiles(referenceRows = 2000, seed = 1): Promise<ModelFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'mlcycle-drift-'));
  const rows = generateRows(referenceRows, seed);
  const schema = fixtureSchema();
  const holdout = holdoutMetrics(rows);
  await writeFile(join(dir, 'reference.parquet'), writeParquet(rowsToTable(rows)));
  await writeFile(join(dir, 'schema.json'), serializeFeatureSchema(schema));
  await writeFile(join(dir, 'metrics.json'), JSON.stringify({ task: schema.task, holdout }));
  return { dir, reference: join(dir, 'reference.parquet'), schema, holdout };
}

export async function writeCurrent(
  dir: string,
  name: string,
  rows: Row[],
  withLabels = true,
): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, writeParquet(rowsToTable(rows, withLabels)));
  return path;
}
