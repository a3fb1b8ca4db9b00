import { type Column, MISSING_CODE } from '../../core/dataset/index.js';
import { finiteSorted } from '../summary.js';
import type { ColumnKind, ColumnSample } from './drift-methods.js';

export interface SampleOptions {
  /** The feature is an integer in the schema (NumPy's integer dtype rules for bin widths). */
  integer?: boolean;
}

/**
 * One side of a column, ready for the drift methods: missing values, NaN and ±Infinity dropped
 * (as Evidently does), numbers sorted, categories counted. Numbers or booleans analysed as
 * categories are keyed by their text, so both sides agree on the keys.
 */
export function toSample(column: Column, kind: ColumnKind, options: SampleOptions = {}): ColumnSample {
  if (kind === 'numerical') {
    if (column.kind === 'string') {
      throw new TypeError('a text column cannot be analysed as numerical');
    }
    const { values, missing } = finiteSorted(column);
    let integral = true;
    for (let i = 0; i < values.length && integral; i++) if (!Number.isInteger(values[i]!)) integral = false;
    // pandas keeps an integer dtype only for a column without missing values.
    return { kind, values, integer: Boolean(options.integer) && missing === 0 && integral };
  }
  const counts = new Map<string, number>();
  let size = 0;
  if (column.kind === 'string') {
    const byCode = new Float64Array(column.dictionary.length);
    for (const code of column.codes) {
      if (code !== MISSING_CODE) {
        byCode[code]!++;
        size++;
      }
    }
    column.dictionary.forEach((value, code) => {
      if (byCode[code]! > 0) counts.set(value, (counts.get(value) ?? 0) + byCode[code]!);
    });
  } else {
    for (const v of column.values) {
      if (!Number.isFinite(v)) continue;
      const key = column.kind === 'boolean' ? (v === 1 ? 'true' : 'false') : String(v);
      counts.set(key, (counts.get(key) ?? 0) + 1);
      size++;
    }
  }
  return { kind, counts, size };
}

export function sampleSize(sample: ColumnSample): number {
  return sample.kind === 'numerical' ? sample.values.length : sample.size;
}
