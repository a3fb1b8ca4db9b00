import { readAirports } from '../../core/dataset/index.js';
import type { Column } from '../../core/dataset/table.js';
import {
  createFeatureSchema,
  type Feature,
  type FeatureSchema,
  type FeatureSchemaInput,
} from '../../core/feature-schema.js';
import { TIMESTAMP_PARTS, timestampPartName } from '../../core/model-input.js';
import { FLIGHTS_DATASET, type PreparedData, type RequestColumn } from './dataset.js';

/**
 * One column of the model's float32 feature matrix and how the ONNX graph computes it from the
 * graph inputs: either an input as is (numbers, booleans, timestamp parts) or a string input
 * looked up in a table (category codes, and for builtin:flights each airport's state, latitude
 * and longitude). Unknown keys, and '' (a missing category), give NaN: a missing value.
 */
export interface ModelFeature {
  name: string;
  input: string;
  lookup?: { keys: string[]; values: number[] } | undefined;
}

/** How categories become numbers: rank of the target mean (trees) or the mean itself (linear). */
export type CategoryEncoding = 'rank' | 'target-mean';

export interface FeaturePlan {
  schema: FeatureSchema;
  features: ModelFeature[];
}

// Levels with few rows are pulled towards the overall mean, so a rare airport does not get an
// extreme code from a handful of flights.
const SMOOTHING = 20;

/** Freezes the feature schema and the model features from the training split. */
export async function fitFeaturePlan(data: PreparedData, encoding: CategoryEncoding): Promise<FeaturePlan> {
  const [a, b] = data.splits.train;
  const prior = mean(data.target.subarray(a, b));
  const schemaFeatures: Feature[] = [];
  const features: ModelFeature[] = [];
  for (const request of data.features) {
    const nullable = hasMissing(request.column);
    if (request.type === 'category') {
      const column = request.column as Extract<Column, { kind: 'string' }>;
      const stats = levelStats(column.codes, column.dictionary.length, data.target, a, b);
      const levels = encodeLevels(column.dictionary, stats, prior, encoding);
      schemaFeatures.push({
        name: request.name,
        type: 'category',
        nullable,
        description: '',
        categories: levels.keys,
        unseen: 'encode-as-unknown',
      });
      features.push({ name: request.name, input: request.name, lookup: levels });
      continue;
    }
    schemaFeatures.push({
      name: request.name,
      type: request.type,
      nullable,
      description: request.name === data.timeColumn ? 'time of the event (ISO-8601 with offset or Z)' : '',
      ...(request.type === 'number' ? { range: range(request.column, a, b) } : {}),
    });
    if (request.type === 'timestamp') {
      for (const part of TIMESTAMP_PARTS) {
        const input = timestampPartName(request.name, part);
        features.push({ name: input, input });
      }
    } else {
      features.push({ name: request.name, input: request.name });
    }
  }
  if (data.datasetUri === FLIGHTS_DATASET) features.push(...(await airportFeatures(data, encoding, prior)));
  const body: FeatureSchemaInput = {
    schemaVersion: 1,
    task: data.task,
    target: {
      name: data.targetName,
      type: data.task === 'binary-classification' ? 'boolean' : 'number',
      description: data.targetDescription,
    },
    features: schemaFeatures,
  };
  return { schema: createFeatureSchema(body), features };
}

/**
 * builtin:flights: each airport's state, latitude and longitude, looked up inside the graph
 * from the origin and destination codes (the server cannot know them).
 */
async function airportFeatures(data: PreparedData, encoding: CategoryEncoding, prior: number) {
  const airports = await readAirports();
  const [a, b] = data.splits.train;
  const out: ModelFeature[] = [];
  for (const [input, prefix] of [
    ['origin', 'origin'],
    ['destination', 'dest'],
  ] as const) {
    const request = data.features.find((f) => f.name === input);
    if (!request) continue;
    const column = request.column as Extract<Column, { kind: 'string' }>;
    // Per-state target statistics from the training rows, through each row's airport.
    const states = [...new Set([...airports.values()].map((x) => x.state))].sort();
    const stateIndex = new Map(states.map((s, i) => [s, i]));
    const stateOfCode = Int32Array.from(
      column.dictionary,
      (code) => stateIndex.get(airports.get(code)?.state ?? '') ?? -1,
    );
    const stateCodes = Int32Array.from(column.codes, (c) => (c < 0 ? -1 : stateOfCode[c]!));
    const stats = levelStats(stateCodes, states.length, data.target, a, b);
    const stateLevels = encodeLevels(states, stats, prior, encoding);
    const stateValue = new Map(stateLevels.keys.map((k, i) => [k, stateLevels.values[i]!]));
    const codes = [...airports.keys()].sort();
    const withState = codes.filter((c) => stateValue.has(airports.get(c)!.state));
    out.push({
      name: `${prefix}_state`,
      input,
      lookup: { keys: withState, values: withState.map((c) => stateValue.get(airports.get(c)!.state)!) },
    });
    const located = codes.filter((c) => Number.isFinite(airports.get(c)!.latitude));
    out.push({
      name: `${prefix}_lat`,
      input,
      lookup: { keys: located, values: located.map((c) => airports.get(c)!.latitude) },
    });
    out.push({
      name: `${prefix}_lon`,
      input,
      lookup: { keys: located, values: located.map((c) => airports.get(c)!.longitude) },
    });
  }
  return out;
}

interface LevelStats {
  sum: Float64Array;
  count: Float64Array;
}

function levelStats(
  codes: Int32Array,
  levels: number,
  target: Float64Array,
  a: number,
  b: number,
): LevelStats {
  const sum = new Float64Array(levels);
  const count = new Float64Array(levels);
  for (let i = a; i < b; i++) {
    const c = codes[i]!;
    if (c < 0) continue;
    sum[c] = sum[c]! + target[i]!;
    count[c] = count[c]! + 1;
  }
  return { sum, count };
}

/**
 * The levels seen in training, ordered by smoothed target mean (ties by name), with their
 * codes: the rank (0, 1, …) for trees, so a split on the code groups similar levels, or the
 * smoothed mean for the linear model.
 */
function encodeLevels(
  dictionary: readonly string[],
  stats: LevelStats,
  prior: number,
  encoding: CategoryEncoding,
): { keys: string[]; values: number[] } {
  const seen = dictionary
    .map((key, i) => ({
      key,
      mean: (stats.sum[i]! + prior * SMOOTHING) / (stats.count[i]! + SMOOTHING),
      n: stats.count[i]!,
    }))
    .filter((l) => l.n > 0 && l.key !== '')
    .sort((x, y) => x.mean - y.mean || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return {
    keys: seen.map((l) => l.key),
    values: seen.map((l, rank) => (encoding === 'rank' ? rank : l.mean)),
  };
}

/** The model's float32 feature columns for rows [a, b) of the prepared data. */
export function buildMatrix(plan: FeaturePlan, data: PreparedData, a: number, b: number): Float32Array[] {
  const byName = new Map<string, RequestColumn>(data.features.map((f) => [f.name, f]));
  const timeParts = new Map<string, Float32Array[]>();
  return plan.features.map((feature) => {
    if (feature.lookup) {
      const column = byName.get(feature.input)!.column as Extract<Column, { kind: 'string' }>;
      const index = new Map(feature.lookup.keys.map((k, i) => [k, Math.fround(feature.lookup!.values[i]!)]));
      const valueOfCode = Float32Array.from(column.dictionary, (key) => index.get(key) ?? Number.NaN);
      const out = new Float32Array(b - a);
      for (let i = a; i < b; i++) {
        const c = column.codes[i]!;
        out[i - a] = c < 0 ? Number.NaN : valueOfCode[c]!;
      }
      return out;
    }
    const direct = byName.get(feature.input);
    if (direct) {
      const values = (direct.column as { values: Float64Array }).values;
      return Float32Array.from(values.subarray(a, b));
    }
    // A timestamp part: `<name>__<part>`.
    const split = feature.input.lastIndexOf('__');
    const source = feature.input.slice(0, split);
    let parts = timeParts.get(source);
    if (!parts) {
      parts = timestampPartColumns((byName.get(source)!.column as { values: Float64Array }).values, a, b);
      timeParts.set(source, parts);
    }
    const part = feature.input.slice(split + 2) as (typeof TIMESTAMP_PARTS)[number];
    return parts[TIMESTAMP_PARTS.indexOf(part)]!;
  });
}

const DAY_MS = 86_400_000;

/** UTC hour, day of week (0 = Monday), day of month, month: the same as core/model-input.ts. */
function timestampPartColumns(ms: Float64Array, a: number, b: number): Float32Array[] {
  const parts = TIMESTAMP_PARTS.map(() => new Float32Array(b - a));
  const dayCache = new Map<number, [number, number, number]>();
  for (let i = a; i < b; i++) {
    const t = ms[i]!;
    const k = i - a;
    if (!Number.isFinite(t)) {
      for (const p of parts) p[k] = Number.NaN;
      continue;
    }
    const day = Math.floor(t / DAY_MS);
    let dayParts = dayCache.get(day);
    if (!dayParts) {
      const d = new Date(day * DAY_MS);
      dayParts = [(d.getUTCDay() + 6) % 7, d.getUTCDate(), d.getUTCMonth() + 1];
      dayCache.set(day, dayParts);
    }
    parts[0]![k] = Math.floor((t - day * DAY_MS) / 3_600_000);
    parts[1]![k] = dayParts[0];
    parts[2]![k] = dayParts[1];
    parts[3]![k] = dayParts[2];
  }
  return parts;
}

function hasMissing(column: Column): boolean {
  return column.kind === 'string' ? column.codes.includes(-1) : column.values.some(Number.isNaN);
}

function mean(values: Float64Array): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length ? s / values.length : 0;
}

function range(column: Column, a: number, b: number): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  const values = (column as { values: Float64Array }).values;
  for (let i = a; i < b; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}
