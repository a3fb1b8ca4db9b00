import { createHash } from 'node:crypto';
import {
  FLIGHTS_DELAY_MINUTES,
  isProductionUri,
  type ProductionWindow,
  parseProductionUri,
  readDataset,
  readProduction,
} from '../../core/dataset/index.js';
import type { Column, Table } from '../../core/dataset/table.js';
import type { Pool } from '../../core/db/index.js';
import { DataError } from '../../core/errors.js';
import type { Task } from '../../core/feature-schema.js';
import type { S3SettingsValues } from '../../core/object-store/index.js';
import { type Splits, sampleRows, sortByTime, splitByTime } from './time-split.js';

export { FLIGHTS_DELAY_MINUTES } from '../../core/dataset/index.js';

export const FLIGHTS_DATASET = 'builtin:flights';
/** The request features of builtin:flights: what a caller knows when a flight is scheduled. */
export const FLIGHTS_FEATURES = ['date', 'distance', 'origin', 'destination'] as const;

export interface DataOptions {
  dataset: string;
  task?: Task | undefined;
  target?: string | undefined;
  timeColumn?: string | undefined;
  exclude: string[];
  since?: Date | undefined;
  until?: Date | undefined;
  rows?: number | undefined;
  seed: number;
  validationFraction: number;
  holdoutFraction: number;
  trainUntil?: Date | undefined;
  validationUntil?: Date | undefined;
  s3?: S3SettingsValues | undefined;
  /** The database, for production: windows. */
  pool?: Pool | undefined;
  /** The tenant a production: window is read in. */
  namespace?: string | undefined;
}

export interface RequestColumn {
  name: string;
  type: 'number' | 'boolean' | 'category' | 'timestamp';
  column: Column;
}

/** The rows a run trains and evaluates on, sorted by time, with their splits. */
export interface PreparedData {
  datasetUri: string;
  /** sha256 of the dataset's content as read (all columns used, all rows). */
  datasetDigest: string;
  task: Task;
  targetName: string;
  targetDescription: string;
  timeColumn: string;
  /** Request features, rows in time order. */
  features: RequestColumn[];
  target: Float64Array;
  timeMs: Float64Array;
  numRows: number;
  splits: Splits;
  rowsRead: number;
  rowsDropped: number;
  source: DataSource;
}

export const MIN_ROWS = { train: 100, validation: 30, holdout: 30 } as const;

/** Where the rows came from, for the version's lineage. */
export type DataSource =
  | { kind: 'Dataset' }
  | {
      kind: 'Production';
      window: ProductionWindow;
      /** Distinct requests logged in the window, and those with a label (the rows used). */
      loggedRows: number;
      labelledRows: number;
      originalRows: number;
      /** The registry version whose schema the log was read with. */
      schemaVersion: string;
    };

/** Reads the table; a production window also says its target, time column and task. */
async function readTable(options: DataOptions): Promise<{
  table: Table;
  source: DataSource;
  defaults: Partial<Pick<DataOptions, 'target' | 'timeColumn' | 'task' | 'exclude'>>;
}> {
  if (options.dataset === FLIGHTS_DATASET) {
    const table = await readDataset(options.dataset, { columns: [...FLIGHTS_FEATURES, 'delay'] });
    return { table, source: { kind: 'Dataset' }, defaults: {} };
  }
  if (isProductionUri(options.dataset)) {
    const p = await readProduction(options.dataset, {
      pool: options.pool,
      namespace: options.namespace,
      s3: options.s3,
    });
    return {
      table: p.table,
      source: {
        kind: 'Production',
        window: parseProductionUri(options.dataset),
        loggedRows: p.loggedRows,
        labelledRows: p.labelledRows,
        originalRows: p.originalRows,
        schemaVersion: p.schemaVersion,
      },
      defaults: {
        target: p.schema.target.name,
        timeColumn: p.timeColumn,
        task: p.schema.task,
        // logged_at places rows in time; a request never carries it, so it is no feature.
        exclude: p.nonFeatureColumns,
      },
    };
  }
  const table = await readDataset(options.dataset, options.s3 ? { s3: options.s3 } : {});
  return { table, source: { kind: 'Dataset' }, defaults: {} };
}

export async function prepareData(given: DataOptions): Promise<PreparedData> {
  const isFlights = given.dataset === FLIGHTS_DATASET;
  const { table, source, defaults } = await readTable(given);
  const options: DataOptions = {
    ...given,
    target: given.target ?? defaults.target,
    timeColumn: given.timeColumn ?? defaults.timeColumn,
    task: given.task ?? defaults.task,
    exclude: [...given.exclude, ...(defaults.exclude ?? [])],
  };
  if (table.numRows === 0) {
    throw new DataError(
      source.kind === 'Production'
        ? `${options.dataset}: no labelled predictions in the window (${source.loggedRows} logged, none with a label yet)`
        : `dataset ${options.dataset} has no rows`,
    );
  }
  const datasetDigest = tableDigest(table);

  const { task, targetName, targetDescription, target } = isFlights
    ? flightsTarget(table, options.task, options.target)
    : genericTarget(table, options);
  const timeColumn = isFlights ? 'date' : findTimeColumn(table, options.timeColumn, targetName);
  const timeMs = (table.columns[timeColumn] as { values: Float64Array }).values;
  const featureNames = isFlights
    ? [...FLIGHTS_FEATURES].filter((f) => !options.exclude.includes(f))
    : Object.keys(table.columns).filter(
        (c) => c !== targetName && c !== options.target && !options.exclude.includes(c),
      );
  for (const name of options.exclude) {
    if (!table.columns[name]) {
      throw new DataError(
        `--exclude names ${JSON.stringify(name)}, which is not a column of ${options.dataset}`,
      );
    }
  }
  for (const name of featureNames) checkFeatureName(name, targetName);
  if (featureNames.length === 0)
    throw new DataError(`dataset ${options.dataset} has no feature columns left`);

  // Rows usable at all: a known target and a known time inside the window.
  const since = options.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  const until = options.until?.getTime() ?? Number.POSITIVE_INFINITY;
  const usable: number[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const t = timeMs[i]!;
    if (Number.isFinite(target[i]!) && !Number.isNaN(t) && t >= since && t < until) usable.push(i);
  }
  if (usable.length === 0) {
    throw new DataError(
      `no usable rows in ${options.dataset}: every row lacks the target or the time, or lies outside --since/--until`,
    );
  }
  const sampled = sampleRows(usable.length, options.rows ?? usable.length, options.seed);
  const rows = sortByTime(
    Uint32Array.from(sampled, (k) => usable[k]!),
    timeMs,
  );
  const sortedTimes = Float64Array.from(rows, (r) => timeMs[r]!);
  const splits = splitByTime(sortedTimes, options);
  checkSplitSizes(splits, options.dataset);

  const features = featureNames.map((name) => requestColumn(name, table.columns[name]!, rows));
  const sortedTarget = Float64Array.from(rows, (r) => target[r]!);
  checkTarget(task, sortedTarget, splits, targetName);
  for (const f of features) checkFeature(f, splits);

  return {
    datasetUri: options.dataset,
    datasetDigest,
    task,
    targetName,
    targetDescription,
    timeColumn,
    features,
    target: sortedTarget,
    timeMs: sortedTimes,
    numRows: rows.length,
    splits,
    rowsRead: table.numRows,
    rowsDropped: table.numRows - usable.length,
    source,
  };
}

const FEATURE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
// reference.parquet and the prediction logs add these columns beside the features.
const RESERVED = new Set(['prediction', 'probability']);

function checkFeatureName(name: string, target: string): void {
  if (!FEATURE_NAME.test(name)) {
    throw new DataError(
      `column ${JSON.stringify(name)} cannot be a feature name (a letter or _ then up to 62 letters, digits or _): rename it or drop it with --exclude`,
    );
  }
  if (RESERVED.has(name) || name === target) {
    throw new DataError(
      `column ${name} cannot be a feature: the name is reserved for the model's output; drop it with --exclude ${name}`,
    );
  }
}

function flightsTarget(table: Table, task: Task | undefined, target: string | undefined) {
  const delay = (table.columns.delay as { values: Float64Array }).values;
  const chosen = task ?? (target === 'delay' ? 'regression' : 'binary-classification');
  if ((chosen === 'regression') !== (target === undefined ? chosen === 'regression' : target === 'delay')) {
    throw new DataError(
      `builtin:flights: the ${chosen} target is ${chosen === 'regression' ? 'delay' : 'delayed'}, not ${target}`,
    );
  }
  if (target !== undefined && target !== 'delay' && target !== 'delayed') {
    throw new DataError(
      `builtin:flights has targets "delayed" (classification) and "delay" (regression), not ${JSON.stringify(target)}`,
    );
  }
  if (chosen === 'regression') {
    return {
      task: chosen,
      targetName: 'delay',
      targetDescription: 'arrival delay in minutes',
      target: delay,
    };
  }
  return {
    task: chosen,
    targetName: 'delayed',
    targetDescription: `arrival delay of at least ${FLIGHTS_DELAY_MINUTES} minutes`,
    target: Float64Array.from(delay, (d) =>
      Number.isNaN(d) ? Number.NaN : d >= FLIGHTS_DELAY_MINUTES ? 1 : 0,
    ),
  };
}

function genericTarget(table: Table, options: DataOptions) {
  const names = Object.keys(table.columns);
  if (!options.target) {
    throw new DataError(`--target is required for ${options.dataset} (columns: ${names.join(', ')})`);
  }
  const column = table.columns[options.target];
  if (!column) {
    throw new DataError(
      `target column ${JSON.stringify(options.target)} is not in ${options.dataset} (columns: ${names.join(', ')})`,
    );
  }
  if (column.kind === 'string' || column.kind === 'timestamp') {
    throw new DataError(
      `target column ${options.target} holds ${column.kind === 'string' ? 'text' : 'timestamps'}: expected booleans or 0/1 (classification) or numbers (regression)`,
    );
  }
  const values = column.values;
  const isBinary = column.kind === 'boolean' || values.every((v) => Number.isNaN(v) || v === 0 || v === 1);
  const task = options.task ?? (isBinary ? 'binary-classification' : 'regression');
  if (task === 'binary-classification' && !isBinary) {
    const examples = [
      ...new Set(Array.from(values.subarray(0, 10_000)).filter((v) => !Number.isNaN(v))),
    ].slice(0, 5);
    throw new DataError(
      `target column ${options.target} is not binary (values include ${examples.join(', ')}): binary classification needs true/false or 0/1`,
    );
  }
  return { task, targetName: options.target, targetDescription: '', target: values };
}

function findTimeColumn(table: Table, requested: string | undefined, target: string): string {
  const names = Object.keys(table.columns);
  if (requested) {
    const column = table.columns[requested];
    if (!column) {
      throw new DataError(
        `time column ${JSON.stringify(requested)} is not in the dataset (columns: ${names.join(', ')})`,
      );
    }
    if (column.kind === 'string') {
      // CSV has no timestamp type: accept ISO-8601 text in the time column.
      table.columns[requested] = parseTimeText(requested, column);
    } else if (column.kind !== 'timestamp' && column.kind !== 'number') {
      throw new DataError(`time column ${requested} holds ${column.kind} values, not timestamps`);
    }
    return requested;
  }
  const candidates = names.filter((n) => n !== target && table.columns[n]!.kind === 'timestamp');
  if (candidates.length === 1) return candidates[0]!;
  throw new DataError(
    candidates.length === 0
      ? `the dataset has no timestamp column to split by time: pass --time-column (columns: ${names.join(', ')})`
      : `the dataset has several timestamp columns (${candidates.join(', ')}): pass --time-column`,
  );
}

function parseTimeText(name: string, column: Extract<Column, { kind: 'string' }>): Column {
  const parsed = column.dictionary.map((text) => Date.parse(text));
  const bad = column.dictionary.find((_, i) => Number.isNaN(parsed[i]!));
  if (bad !== undefined) {
    throw new DataError(`time column ${name} has a value that is not a timestamp: ${JSON.stringify(bad)}`);
  }
  return {
    kind: 'timestamp',
    values: Float64Array.from(column.codes, (c) => (c < 0 ? Number.NaN : parsed[c]!)),
  };
}

function requestColumn(name: string, column: Column, rows: Uint32Array): RequestColumn {
  if (column.kind === 'string') {
    const codes = Int32Array.from(rows, (r) => column.codes[r]!);
    return { name, type: 'category', column: { kind: 'string', codes, dictionary: column.dictionary } };
  }
  // ±Infinity cannot be a request value (the server refuses it): treat it as missing.
  const values = Float64Array.from(rows, (r) => {
    const v = column.values[r]!;
    return Number.isFinite(v) ? v : Number.NaN;
  });
  const type = column.kind === 'timestamp' ? 'timestamp' : column.kind === 'boolean' ? 'boolean' : 'number';
  return { name, type, column: { kind: column.kind, values } };
}

function checkSplitSizes(splits: Splits, dataset: string): void {
  for (const part of ['train', 'validation', 'holdout'] as const) {
    const [a, b] = splits[part];
    if (b - a < MIN_ROWS[part]) {
      throw new DataError(
        `too little data in ${dataset}: the ${part} split has ${b - a} rows, at least ${MIN_ROWS[part]} are needed (check --rows, --since/--until and the split options)`,
      );
    }
  }
}

function checkTarget(task: Task, target: Float64Array, splits: Splits, name: string): void {
  if (task !== 'binary-classification') {
    const [a, b] = splits.train;
    const first = target[a]!;
    if (target.subarray(a, b).every((v) => v === first)) {
      throw new DataError(`target ${name} is constant (${first}) in the training split: nothing to learn`);
    }
    return;
  }
  for (const part of ['train', 'validation', 'holdout'] as const) {
    const [a, b] = splits[part];
    let positives = 0;
    for (let i = a; i < b; i++) positives += target[i]!;
    if (positives === 0 || positives === b - a) {
      throw new DataError(
        `target ${name} has only ${positives === 0 ? 'negative' : 'positive'} rows in the ${part} split: both classes are needed`,
      );
    }
  }
}

/** More levels than this and a text column is an identifier, not a category. */
export const MAX_CATEGORIES = 10_000;

/** An all-missing or constant feature cannot help and usually means a broken column. */
function checkFeature(feature: RequestColumn, splits: Splits): void {
  const [a, b] = splits.train;
  const column = feature.column;
  let first: number | undefined;
  let varies = false;
  for (let i = a; i < b && !varies; i++) {
    const v = column.kind === 'string' ? column.codes[i]! : column.values[i]!;
    const missing = column.kind === 'string' ? v < 0 : Number.isNaN(v);
    if (missing) continue;
    if (first === undefined) first = v;
    else if (v !== first) varies = true;
  }
  if (column.kind === 'string') {
    const seen = new Set<number>();
    for (let i = a; i < b; i++) if (column.codes[i]! >= 0) seen.add(column.codes[i]!);
    if (seen.size > MAX_CATEGORIES) {
      throw new DataError(
        `feature ${feature.name} has ${seen.size} distinct values in the training split (at most ${MAX_CATEGORIES}): it looks like an identifier; drop it with --exclude ${feature.name}`,
      );
    }
  }
  if (first === undefined) {
    throw new DataError(
      `feature ${feature.name} is empty (all values missing) in the training split; drop it with --exclude ${feature.name}`,
    );
  }
  if (!varies) {
    throw new DataError(
      `feature ${feature.name} is constant in the training split; drop it with --exclude ${feature.name}`,
    );
  }
}

/** A digest of a table's content, independent of the file format it came in. */
export function tableDigest(table: Table): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(table.columns).sort()) {
    const column = table.columns[name]!;
    hash.update(`${name}\0${column.kind}\0`);
    if (column.kind === 'string') {
      hash.update(JSON.stringify(column.dictionary));
      hash.update(new Uint8Array(column.codes.buffer, column.codes.byteOffset, column.codes.byteLength));
    } else {
      hash.update(new Uint8Array(column.values.buffer, column.values.byteOffset, column.values.byteLength));
    }
  }
  return `sha256:${hash.digest('hex')}`;
}
