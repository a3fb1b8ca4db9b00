import type { Column } from '../../core/dataset/table.js';
import { DataError } from '../../core/errors.js';
import type { Task } from '../../core/feature-schema.js';

/**
 * The target as people store it: numbers (regression), or two classes given as booleans, 0/1,
 * yes/no or any two text values (binary classification). Missing targets (and the usual
 * placeholders for them) are NaN: the rows are dropped and counted by the caller.
 */
export interface TargetValues {
  task: Task;
  /** 1 = positive, 0 = negative (classification), the number (regression); NaN = missing. */
  values: Float64Array;
  /** Classification: the two classes as the data writes them. */
  classes?: { positive: string; negative: string } | undefined;
  /** How the positive class was chosen, in a sentence (classification). */
  positiveReason?: string | undefined;
  /** Values read as a missing target although present, e.g. {".": 1}. */
  placeholders: Record<string, number>;
}

/** Text that stands for "unknown" rather than a class (compared in lower case). */
const MISSING_PLACEHOLDERS = new Set(['', '.', '?', '-', 'na', 'n/a', 'nan', 'null']);

/** Pairs whose positive class goes without saying (lower case: positive, negative). */
const NATURAL_PAIRS: [string, string][] = [
  ['true', 'false'],
  ['yes', 'no'],
  ['y', 'n'],
  ['t', 'f'],
  ['1', '0'],
  ['positive', 'negative'],
  ['pos', 'neg'],
];

export interface TargetRequest {
  name: string;
  task?: Task | undefined;
  positiveLabel?: string | undefined;
}

export function readTarget(column: Column, request: TargetRequest): TargetValues {
  if (column.kind === 'timestamp') {
    throw new DataError(
      `target column ${request.name} holds timestamps: expected numbers (regression) or two classes (binary classification)`,
    );
  }
  if (column.kind === 'string') return textTarget(column, request);
  if (column.kind === 'boolean') {
    return twoClassTarget(column.values, ['false', 'true'], request, {});
  }
  return numericTarget(column.values, request);
}

function numericTarget(values: Float64Array, request: TargetRequest): TargetValues {
  const distinct = distinctNumbers(values, 3);
  const zeroOne = distinct.every((v) => v === 0 || v === 1);
  const classification =
    request.task === 'binary-classification' ||
    (request.task === undefined && (zeroOne || request.positiveLabel !== undefined));
  if (!classification) {
    if (request.positiveLabel !== undefined) {
      throw new DataError('--positive-label is for binary classification, not regression');
    }
    return { task: 'regression', values, placeholders: {} };
  }
  if (distinct.length > 2) {
    throw new DataError(
      `target column ${request.name} has more than two values (${distinct.join(', ')}, …): binary classification needs two classes (multiclass is not supported yet)`,
    );
  }
  const sorted = [...distinct].sort((a, b) => a - b).map(String);
  if (sorted.length < 2) {
    throw new DataError(
      `target column ${request.name} has a single value (${sorted[0] ?? 'none'}): nothing to learn`,
    );
  }
  // Codes 0 and 1 index `sorted`, so the values become codes first.
  const codes = Float64Array.from(values, (v) => (Number.isNaN(v) ? Number.NaN : sorted.indexOf(String(v))));
  return twoClassTarget(codes, sorted as [string, string], request, {});
}

function textTarget(column: Extract<Column, { kind: 'string' }>, request: TargetRequest): TargetValues {
  if (request.task === 'regression') {
    throw new DataError(`target column ${request.name} holds text: a regression target must be numbers`);
  }
  const placeholders: Record<string, number> = {};
  const classOfCode = new Int32Array(column.dictionary.length).fill(-1);
  const classes: string[] = [];
  const counts = new Float64Array(column.dictionary.length);
  for (const c of column.codes) if (c >= 0) counts[c]!++;
  column.dictionary.forEach((text, code) => {
    if (counts[code] === 0) return;
    if (MISSING_PLACEHOLDERS.has(text.trim().toLowerCase())) {
      placeholders[text] = counts[code]!;
      return;
    }
    let k = classes.indexOf(text);
    if (k < 0) k = classes.push(text) - 1;
    classOfCode[code] = k;
  });
  if (classes.length > 2) {
    const shown = classes.slice(0, 6).map((c) => JSON.stringify(c));
    throw new DataError(
      `target column ${request.name} has ${classes.length} classes (${shown.join(', ')}${classes.length > 6 ? ', …' : ''}): binary classification needs two (multiclass is not supported yet); pick two by filtering the data`,
    );
  }
  if (classes.length < 2) {
    throw new DataError(
      `target column ${request.name} has a single class (${classes[0] ?? 'none'}): nothing to learn`,
    );
  }
  const sorted = [...classes].sort() as [string, string];
  const codes = Float64Array.from(column.codes, (c) => {
    const k = c < 0 ? -1 : classOfCode[c]!;
    return k < 0 ? Number.NaN : sorted.indexOf(classes[k]!);
  });
  return twoClassTarget(codes, sorted, request, placeholders);
}

/**
 * `codes` index `names` (0 or 1, NaN missing); picks the positive class and returns 1 for it.
 * Positive: --positive-label, else the natural one of a pair such as yes/no or true/false, else
 * the second in sorted order (as scikit-learn's label encoding would).
 */
function twoClassTarget(
  codes: Float64Array,
  names: [string, string],
  request: TargetRequest,
  placeholders: Record<string, number>,
): TargetValues {
  let positive: number;
  let reason: string;
  if (request.positiveLabel !== undefined) {
    const wanted = request.positiveLabel;
    positive = names.indexOf(wanted);
    if (positive < 0) positive = names.findIndex((n) => n.toLowerCase() === wanted.toLowerCase());
    if (positive < 0) {
      throw new DataError(
        `--positive-label ${JSON.stringify(wanted)} is not a class of target ${request.name} (classes: ${names.map((n) => JSON.stringify(n)).join(', ')})`,
      );
    }
    reason = 'given by --positive-label';
  } else {
    const lower = names.map((n) => n.toLowerCase());
    const pair = NATURAL_PAIRS.find(([p, n]) => lower.includes(p) && lower.includes(n));
    positive = pair ? lower.indexOf(pair[0]) : 1;
    reason = pair
      ? `the default for a ${pair[0]}/${pair[1]} target; --positive-label changes it`
      : `the default: the second class in sorted order; --positive-label ${names[0]} makes the other one positive`;
  }
  const values = Float64Array.from(codes, (c) => (Number.isNaN(c) ? Number.NaN : c === positive ? 1 : 0));
  return {
    task: 'binary-classification',
    values,
    classes: { positive: names[positive]!, negative: names[1 - positive]! },
    positiveReason: reason,
    placeholders,
  };
}

/** Up to `limit` distinct non-missing values, in order of appearance. */
function distinctNumbers(values: Float64Array, limit: number): number[] {
  const seen = new Set<number>();
  for (const v of values) {
    if (Number.isNaN(v) || seen.has(v)) continue;
    seen.add(v);
    if (seen.size >= limit) break;
  }
  return [...seen];
}
