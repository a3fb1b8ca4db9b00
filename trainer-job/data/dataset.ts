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
import { distinctInstants, identifierReason, recogniseDates } from './roles.js';
import { type Arranged, randomSplit, type SplitMethod, stratifiedSplit } from './split.js';
import { readTarget } from './target.js';
import { type Splits, sampleRows, sortByTime, splitByTime } from './time-split.js';

export { FLIGHTS_DELAY_MINUTES } from '../../core/dataset/index.js';

export const FLIGHTS_DATASET = 'builtin:flights';
/** The request features of builtin:flights: what a caller knows when a flight is scheduled. */
export const FLIGHTS_FEATURES = ['date', 'distance', 'origin', 'destination'] as const;

export interface DataOptions {
  dataset: string;
  task?: Task | undefined;
  target?: string | undefined;
  /** Binary classification: the class predicted as positive (default: see data/target.ts). */
  positiveLabel?: string | undefined;
  timeColumn?: string | undefined;
  /** time, random or stratified; default: time with one obvious timestamp, else by task. */
  split?: SplitMethod | undefined;
  exclude: string[];
  /** Columns kept as features although they look like identifiers. */
  include?: string[] | undefined;
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

/** The rows a run trains and evaluates on, each split one range of them, with their splits. */
export interface PreparedData {
  datasetUri: string;
  /** sha256 of the dataset's content as read (all columns used, all rows). */
  datasetDigest: string;
  task: Task;
  targetName: string;
  targetDescription: string;
  /** Binary classification: the two classes as the data writes them (positive predicted as 1). */
  targetClasses?: { positive: string; negative: string } | undefined;
  /** The timestamp column that places rows in time, if the table has one. */
  timeColumn: string | undefined;
  split: { method: SplitMethod; reason: string };
  /** Request features, rows in split order (for a time split, time order). */
  features: RequestColumn[];
  target: Float64Array;
  /** Each row's time (NaN without a time column). */
  timeMs: Float64Array;
  numRows: number;
  splits: Splits;
  rowsRead: number;
  rowsDropped: number;
  /** Rows dropped because their target is missing. */
  rowsWithoutTarget: number;
  /** What the data stage decided on its own, one sentence each: said in the output and the report. */
  notes: string[];
  source: DataSource;
}

export const MIN_ROWS = { train: 100, validation: 30, holdout: 30 } as const;

/** A time split is the default when the one timestamp column has at least this many instants. */
export const MIN_TIME_INSTANTS = 30;

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
      /** The dataset the model's line began with, when the registry knows it. */
      baseDataset: string | undefined;
    };

/** Reads the table; a production window also says its target, time column and task. */
async function readTable(options: DataOptions): Promise<{
  table: Table;
  source: DataSource;
  defaults: Partial<Pick<DataOptions, 'target' | 'timeColumn' | 'task' | 'exclude' | 'positiveLabel'>> & {
    classes?: { positive: string; negative: string } | undefined;
  };
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
        baseDataset: p.baseDataset,
      },
      defaults: {
        target: p.schema.target.name,
        timeColumn: p.timeColumn,
        task: p.schema.task,
        // The log holds labels as 1/0 (true/false) for the schema's positive class, whose name
        // carries over.
        classes: p.schema.target.classes,
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
    positiveLabel: given.positiveLabel ?? defaults.positiveLabel,
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
  const notes: string[] = [];
  const userTable = !isFlights && source.kind === 'Dataset';

  const target = isFlights
    ? flightsTarget(table, options.task, options.target)
    : genericTarget(table, options);
  const targetName = target.targetName;
  if (userTable) {
    const dates = recogniseDates(table, new Set([targetName]));
    if (dates.length) notes.push(`read as timestamps (ISO dates): ${dates.join(', ')}`);
  }
  const time = isFlights
    ? {
        column: 'date',
        method: options.split ?? 'time',
        reason: options.split ? `--split ${options.split}` : 'builtin:flights splits by time',
      }
    : chooseSplit(table, options, targetName, target.task);
  const timeMs = time.column
    ? (table.columns[time.column] as { values: Float64Array }).values
    : new Float64Array(table.numRows).fill(Number.NaN);
  const featureNames = chooseFeatures(table, options, targetName, isFlights, userTable, notes);

  const { usable, withoutTarget } = usableRows(target.target, timeMs, time, options);
  if (withoutTarget > 0) notes.push(`${withoutTarget} rows without a target dropped${target.missingNote}`);
  if (usable.length === 0) {
    throw new DataError(
      `no usable rows in ${options.dataset}: every row lacks the target or the time, or lies outside --since/--until`,
    );
  }
  const sampled = sampleRows(usable.length, options.rows ?? usable.length, options.seed);
  const picked = Uint32Array.from(sampled, (k) => usable[k]!);
  const { rows, splits } = arrangeRows(picked, timeMs, target.target, time.method, options);
  checkSplitSizes(splits, options.dataset);

  const features = featureNames.map((name) => requestColumn(name, table.columns[name]!, rows));
  const sortedTarget = Float64Array.from(rows, (r) => target.target[r]!);
  checkTarget(target.task, sortedTarget, splits, targetName);
  for (const f of features) checkFeature(f, splits);

  return {
    datasetUri: options.dataset,
    datasetDigest,
    task: target.task,
    targetName,
    targetDescription: target.targetDescription,
    // A production window's labels are 1/0 of the classes its schema named.
    targetClasses: defaults.classes ?? target.classes,
    timeColumn: time.column,
    split: { method: time.method, reason: time.reason },
    features,
    target: sortedTarget,
    timeMs: Float64Array.from(rows, (r) => timeMs[r]!),
    numRows: rows.length,
    splits,
    rowsRead: table.numRows,
    rowsDropped: table.numRows - usable.length,
    rowsWithoutTarget: withoutTarget,
    notes: [...targetNotes(target, source, defaults.classes), ...notes],
    source,
  };
}

/**
 * Rows usable at all: a known target, and a known time inside --since/--until when the rows are
 * split by time or filtered by it.
 */
function usableRows(
  target: Float64Array,
  timeMs: Float64Array,
  time: { column: string | undefined; method: SplitMethod },
  options: DataOptions,
): { usable: number[]; withoutTarget: number } {
  const filtered = options.since !== undefined || options.until !== undefined;
  if (filtered && time.column === undefined) {
    throw new DataError(
      '--since and --until filter by time: pass --time-column, the data has no timestamp column',
    );
  }
  const since = options.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  const until = options.until?.getTime() ?? Number.POSITIVE_INFINITY;
  const needsTime = time.column !== undefined && (time.method === 'time' || filtered);
  const usable: number[] = [];
  let withoutTarget = 0;
  for (let i = 0; i < target.length; i++) {
    if (!Number.isFinite(target[i]!)) {
      withoutTarget++;
      continue;
    }
    const t = timeMs[i]!;
    if (!needsTime || (!Number.isNaN(t) && t >= since && t < until)) usable.push(i);
  }
  return { usable, withoutTarget };
}

/** Cuts the rows by the chosen method; each split becomes one range of the returned rows. */
function arrangeRows(
  picked: Uint32Array,
  timeMs: Float64Array,
  target: Float64Array,
  method: SplitMethod,
  options: DataOptions,
): Arranged {
  if (method === 'time') {
    const rows = sortByTime(picked, timeMs);
    return {
      rows,
      splits: splitByTime(
        Float64Array.from(rows, (r) => timeMs[r]!),
        options,
      ),
    };
  }
  if (options.trainUntil || options.validationUntil) {
    throw new DataError(
      `--train-until and --validation-until cut by time: they need --split time, not ${method}`,
    );
  }
  return method === 'random'
    ? randomSplit(picked, options, options.seed)
    : stratifiedSplit(picked, target, options, options.seed);
}

/**
 * The split method and the time column. A time split is the default when the table has exactly
 * one timestamp column with enough distinct instants to put a later period aside (a model year
 * with a dozen values is a property of the row, not a moment); otherwise classification is
 * stratified and regression random. A named time column means a time split unless told otherwise.
 */
function chooseSplit(
  table: Table,
  options: DataOptions,
  target: string,
  task: Task,
): { column: string | undefined; method: SplitMethod; reason: string } {
  const names = Object.keys(table.columns);
  const byTask: SplitMethod = task === 'binary-classification' ? 'stratified' : 'random';
  if (options.split === 'stratified' && task !== 'binary-classification') {
    throw new DataError(
      '--split stratified keeps the class shares: it is for classification; use --split random',
    );
  }
  if (options.timeColumn) {
    const column = timeColumnOf(table, options.timeColumn);
    const method = options.split ?? 'time';
    return {
      column,
      method,
      reason: options.split ? `--split ${method}` : `--time-column ${column} names the time to split by`,
    };
  }
  const candidates = names.filter((n) => n !== target && table.columns[n]!.kind === 'timestamp');
  if (options.split === 'time') {
    if (candidates.length === 1) return { column: candidates[0], method: 'time', reason: '--split time' };
    throw new DataError(
      candidates.length === 0
        ? `--split time needs a timestamp column and ${options.dataset} has none: pass --time-column (columns: ${names.join(', ')})`
        : `--split time: the dataset has several timestamp columns (${candidates.join(', ')}): pass --time-column`,
    );
  }
  const column = candidates.length === 1 ? candidates[0] : undefined;
  if (options.split) return { column, method: options.split, reason: `--split ${options.split}` };
  if (column && distinctInstants(table.columns[column]!) >= MIN_TIME_INSTANTS) {
    return {
      column,
      method: 'time',
      reason: `${column} is the one timestamp column: the most recent rows are held out`,
    };
  }
  const why =
    candidates.length === 0
      ? 'no timestamp column'
      : candidates.length > 1
        ? `several timestamp columns (${candidates.join(', ')}; --time-column picks one)`
        : `${column} has only ${distinctInstants(table.columns[column!]!)} distinct values (fewer than ${MIN_TIME_INSTANTS}), too coarse to hold out a later period (--split time uses it anyway)`;
  return {
    column,
    method: byTask,
    reason: `${why}: ${byTask === 'stratified' ? 'a stratified random split (each class keeps its share in every split)' : 'a random split'}`,
  };
}

function timeColumnOf(table: Table, requested: string): string {
  const column = table.columns[requested];
  if (!column) {
    throw new DataError(
      `time column ${JSON.stringify(requested)} is not in the dataset (columns: ${Object.keys(table.columns).join(', ')})`,
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

/** The request features: every column but the target, less the excluded and the identifiers. */
function chooseFeatures(
  table: Table,
  options: DataOptions,
  targetName: string,
  isFlights: boolean,
  userTable: boolean,
  notes: string[],
): string[] {
  for (const [flag, names] of [
    ['--exclude', options.exclude],
    ['--include', options.include ?? []],
  ] as const) {
    for (const name of names) {
      if (!table.columns[name]) {
        throw new DataError(
          `${flag} names ${JSON.stringify(name)}, which is not a column of ${options.dataset} (columns: ${Object.keys(table.columns).join(', ')})`,
        );
      }
    }
  }
  const included = new Set(options.include ?? []);
  const names = isFlights
    ? [...FLIGHTS_FEATURES].filter((f) => !options.exclude.includes(f))
    : Object.keys(table.columns).filter(
        (c) => c !== targetName && c !== options.target && !options.exclude.includes(c),
      );
  const features = names.filter((name) => {
    const why = userTable && !included.has(name) ? identifierReason(table.columns[name]!) : null;
    if (why) notes.push(`left out ${name} (${why}); --include ${name} keeps it`);
    return !why;
  });
  for (const name of features) checkFeatureName(name, targetName);
  if (features.length === 0) throw new DataError(`dataset ${options.dataset} has no feature columns left`);
  return features;
}

// reference.parquet and the prediction logs add these columns beside the features.
const RESERVED = new Set(['prediction', 'probability']);

function checkFeatureName(name: string, target: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (name.length > 256 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new DataError(
      `column ${JSON.stringify(name)} cannot be a feature name (at most 256 characters, no control characters): rename it or drop it with --exclude`,
    );
  }
  if (RESERVED.has(name) || name === target) {
    throw new DataError(
      `column ${name} cannot be a feature: the name is reserved for the model's output; drop it with --exclude ${name}`,
    );
  }
}

function flightsTarget(table: Table, task: Task | undefined, target: string | undefined): ChosenTarget {
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
      notes: [],
      missingNote: '',
    };
  }
  return {
    task: chosen,
    notes: [],
    missingNote: '',
    targetName: 'delayed',
    targetDescription: `arrival delay of at least ${FLIGHTS_DELAY_MINUTES} minutes`,
    target: Float64Array.from(delay, (d) =>
      Number.isNaN(d) ? Number.NaN : d >= FLIGHTS_DELAY_MINUTES ? 1 : 0,
    ),
  };
}

/** What to say about the target: a production window's classes come from its schema. */
function targetNotes(
  target: ChosenTarget,
  source: DataSource,
  classes: { positive: string; negative: string } | undefined,
): string[] {
  if (source.kind !== 'Production') return target.notes;
  return classes
    ? [
        `positive class ${JSON.stringify(classes.positive)} (predicted as 1), negative ${JSON.stringify(classes.negative)}: as the logged version's schema says`,
      ]
    : [];
}

interface ChosenTarget {
  task: Task;
  targetName: string;
  targetDescription: string;
  target: Float64Array;
  classes?: { positive: string; negative: string } | undefined;
  notes: string[];
  /** Appended to the "rows without a target dropped" note: which placeholders counted as missing. */
  missingNote: string;
}

function genericTarget(table: Table, options: DataOptions): ChosenTarget {
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
  const t = readTarget(column, {
    name: options.target,
    task: options.task,
    positiveLabel: options.positiveLabel,
  });
  const placeholders = Object.entries(t.placeholders);
  const notes = t.classes
    ? [
        `positive class ${JSON.stringify(t.classes.positive)} (predicted as 1), negative ${JSON.stringify(t.classes.negative)}: ${t.positiveReason}`,
      ]
    : [];
  return {
    task: t.task,
    targetName: options.target,
    targetDescription: t.classes ? `${options.target} = ${t.classes.positive}` : '',
    target: t.values,
    classes: t.classes,
    notes,
    missingNote: placeholders.length
      ? ` (counting ${placeholders.map(([v, n]) => `${JSON.stringify(v)} ×${n}`).join(', ')} as missing)`
      : '',
  };
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
