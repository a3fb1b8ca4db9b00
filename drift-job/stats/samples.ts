import type { Column } from '../../core/dataset/index.js';
import { finiteSorted, valueCounts } from './columns.js';
import type { ColumnKind, ColumnSample } from './drift-methods.js';

/**
 * One side of a column, ready for the drift methods: missing values, NaN and ±Infinity dropped
 * (as Evidently does), numbers sorted, categories counted. Numbers or booleans analysed as
 * categories are keyed by their text, so both sides agree on the keys.
 */
export function toSample(column: Column, kind: ColumnKind): ColumnSample {
  if (kind === 'numerical') {
    if (column.kind === 'string') {
      throw new TypeError('a text column cannot be analysed as numerical');
    }
    const { values, missing } = finiteSorted(column);
    let integral = true;
    for (let i = 0; i < values.length && integral; i++) if (!Number.isInteger(values[i]!)) integral = false;
    // What pandas would infer reading the same values from CSV (or an INT64 Parquet column): an
    // integer dtype when every value is a whole number and none is missing. It only changes Sturges
    // bin widths (at least 1 for integers), as in NumPy.
    return { kind, values, integer: missing === 0 && integral };
  }
  const { counts, missing } = valueCounts(column);
  const rows = column.kind === 'string' ? column.codes.length : column.values.length;
  return { kind, counts, size: rows - missing };
}

export function sampleSize(sample: ColumnSample): number {
  return sample.kind === 'numerical' ? sample.values.length : sample.size;
}
