import { readAirports } from '../../core/dataset/index.js';
import type { Column } from '../../core/dataset/table.js';
import {
  createFeatureSchema,
  type Feature,
  type FeatureSchema,
  type FeatureSchemaInput,
} from '../../core/feature-schema.js';
import {
  ALL_TIMESTAMP_PARTS,
  assignGraphInputs,
  inputBase,
  TIMESTAMP_PARTS,
  type TimestampPart,
  timestampPartName,
  timestampParts,
} from '../../core/model-input.js';
import { FLIGHTS_DATASET, type PreparedData, type RequestColumn } from './dataset.js';

/**
 * One column of the model's float32 feature matrix and how the ONNX graph computes it from the
 * graph inputs: either an input as is (numbers, booleans, timestamp parts) or a string input
 * looked up in a table (category codes, and for builtin:flights each airport's state, latitude
 * and longitude). Unknown keys, and '' (a missing category), give NaN: a missing value.
 */
export interface ModelFeature {
  /** For reports: the request feature's name, or `<name>__<part>` for a timestamp part. */
  name: string;
  /** The graph input it is computed from (core/model-input.ts names them). */
  input: string;
  /** The request feature it comes from, and for a timestamp which part. */
  source: string;
  part?: TimestampPart | undefined;
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
  const fitted = data.features.map((request) => schemaFeature(data, request, encoding, prior));
  const schemaFeatures = fitted.map((f) => f.feature);
  // Names that cannot name a graph input travel under a safe one, written into the schema.
  assignGraphInputs(schemaFeatures).forEach((input, i) => {
    if (input !== undefined) schemaFeatures[i]!.input = input;
  });
  const features = fitted.flatMap((f) => modelFeatures(f.feature, f.lookup));
  // A version retrained on production keeps the airport features its line began with.
  const base = data.source.kind === 'Production' ? data.source.baseDataset : data.datasetUri;
  if (base === FLIGHTS_DATASET) {
    features.push(...(await airportFeatures(data, schemaFeatures, encoding, prior)));
  }
  const body: FeatureSchemaInput = {
    schemaVersion: 1,
    task: data.task,
    target: {
      name: data.targetName,
      type: data.task === 'binary-classification' ? 'boolean' : 'number',
      description: data.targetDescription,
      ...(data.targetClasses ? { classes: data.targetClasses } : {}),
    },
    features: schemaFeatures,
  };
  return { schema: createFeatureSchema(body), features };
}

/** One request feature as the schema describes it, fitted on the training split. */
function schemaFeature(
  data: PreparedData,
  request: RequestColumn,
  encoding: CategoryEncoding,
  prior: number,
): { feature: Feature; lookup?: ModelFeature['lookup'] } {
  const [a, b] = data.splits.train;
  const nullable = hasMissing(request.column);
  if (request.type === 'category') {
    const column = request.column as Extract<Column, { kind: 'string' }>;
    const stats = levelStats(column.codes, column.dictionary.length, data.target, a, b);
    const levels = encodeLevels(column.dictionary, stats, prior, encoding);
    const feature: Feature = {
      name: request.name,
      type: 'category',
      nullable,
      description: '',
      categories: levels.keys,
      unseen: 'encode-as-unknown',
    };
    return { feature, lookup: levels };
  }
  const feature: Feature = {
    name: request.name,
    type: request.type,
    nullable,
    description: request.name === data.timeColumn ? 'time of the event (ISO-8601 with offset or Z)' : '',
    ...(request.type === 'number' ? { range: range(request.column, a, b) } : {}),
  };
  if (request.type === 'timestamp') {
    const parts = varyingParts((request.column as { values: Float64Array }).values, a, b);
    // The default parts go unsaid, so schemas of models trained before `parts` read the same.
    if (parts.join() !== TIMESTAMP_PARTS.join()) feature.parts = parts;
  }
  return { feature };
}

/** The model features (graph inputs, looked up or as they are) of one schema feature. */
function modelFeatures(f: Feature, lookup: ModelFeature['lookup']): ModelFeature[] {
  const base = inputBase(f);
  if (lookup) return [{ name: f.name, input: base, source: f.name, lookup }];
  if (f.type !== 'timestamp') return [{ name: f.name, input: base, source: f.name }];
  return (f.parts ?? TIMESTAMP_PARTS).map((part) => ({
    name: timestampPartName(f.name, part),
    input: timestampPartName(base, part),
    source: f.name,
    part,
  }));
}

/**
 * The timestamp parts worth giving the model: those that vary in training. Day of week and
 * day of month go together (dates all on the 1st are months, their weekday is noise); with
 * nothing varying, the default parts (a constant feature is refused earlier anyway).
 */
function varyingParts(ms: Float64Array, a: number, b: number): TimestampPart[] {
  const first: Partial<Record<TimestampPart, number>> = {};
  const varies = new Set<TimestampPart>();
  for (let i = a; i < b; i++) {
    if (Number.isNaN(ms[i]!)) continue;
    const parts = timestampParts(ms[i]!);
    for (const p of ALL_TIMESTAMP_PARTS) {
      if (first[p] === undefined) first[p] = parts[p];
      else if (first[p] !== parts[p]) varies.add(p);
    }
  }
  if (varies.has('day_of_month')) varies.add('day_of_week');
  else varies.delete('day_of_week');
  const chosen = ALL_TIMESTAMP_PARTS.filter((p) => varies.has(p));
  return chosen.length ? chosen : [...TIMESTAMP_PARTS];
}

/**
 * builtin:flights: each airport's state, latitude and longitude, looked up inside the graph
 * from the origin and destination codes (the server cannot know them).
 */
async function airportFeatures(
  data: PreparedData,
  schemaFeatures: Feature[],
  encoding: CategoryEncoding,
  prior: number,
) {
  const airports = await readAirports();
  const [a, b] = data.splits.train;
  const out: ModelFeature[] = [];
  for (const [source, prefix] of [
    ['origin', 'origin'],
    ['destination', 'dest'],
  ] as const) {
    const request = data.features.find((f) => f.name === source);
    if (!request) continue;
    const input = inputBase(schemaFeatures.find((f) => f.name === source)!);
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
      source,
      lookup: { keys: withState, values: withState.map((c) => stateValue.get(airports.get(c)!.state)!) },
    });
    const located = codes.filter((c) => Number.isFinite(airports.get(c)!.latitude));
    out.push({
      name: `${prefix}_lat`,
      input,
      source,
      lookup: { keys: located, values: located.map((c) => airports.get(c)!.latitude) },
    });
    out.push({
      name: `${prefix}_lon`,
      input,
      source,
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
  const timeParts = new Map<string, Record<TimestampPart, Float32Array>>();
  return plan.features.map((feature) => {
    const column = byName.get(feature.source)!.column;
    if (feature.lookup) {
      const strings = column as Extract<Column, { kind: 'string' }>;
      const index = new Map(feature.lookup.keys.map((k, i) => [k, Math.fround(feature.lookup!.values[i]!)]));
      const valueOfCode = Float32Array.from(strings.dictionary, (key) => index.get(key) ?? Number.NaN);
      const out = new Float32Array(b - a);
      for (let i = a; i < b; i++) {
        const c = strings.codes[i]!;
        out[i - a] = c < 0 ? Number.NaN : valueOfCode[c]!;
      }
      return out;
    }
    const values = (column as { values: Float64Array }).values;
    if (!feature.part) return Float32Array.from(values.subarray(a, b));
    let parts = timeParts.get(feature.source);
    if (!parts) {
      parts = timestampPartColumns(values, a, b);
      timeParts.set(feature.source, parts);
    }
    return parts[feature.part];
  });
}

const DAY_MS = 86_400_000;

/** Every timestamp part of rows [a, b), as core/model-input.ts computes them (UTC, Monday = 0). */
function timestampPartColumns(ms: Float64Array, a: number, b: number): Record<TimestampPart, Float32Array> {
  const parts = Object.fromEntries(ALL_TIMESTAMP_PARTS.map((p) => [p, new Float32Array(b - a)])) as Record<
    TimestampPart,
    Float32Array
  >;
  const dayCache = new Map<number, [number, number, number, number]>();
  for (let i = a; i < b; i++) {
    const t = ms[i]!;
    const k = i - a;
    if (!Number.isFinite(t)) {
      for (const p of ALL_TIMESTAMP_PARTS) parts[p][k] = Number.NaN;
      continue;
    }
    const day = Math.floor(t / DAY_MS);
    let dayParts = dayCache.get(day);
    if (!dayParts) {
      const d = new Date(day * DAY_MS);
      dayParts = [(d.getUTCDay() + 6) % 7, d.getUTCDate(), d.getUTCMonth() + 1, d.getUTCFullYear()];
      dayCache.set(day, dayParts);
    }
    parts.hour[k] = Math.floor((t - day * DAY_MS) / 3_600_000);
    parts.day_of_week[k] = dayParts[0];
    parts.day_of_month[k] = dayParts[1];
    parts.month[k] = dayParts[2];
    parts.year[k] = dayParts[3];
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
