import { writeParquet } from '../core/dataset/parquet.js';
import type { Column, Table } from '../core/dataset/table.js';
import type { PreparedData } from './data/dataset.js';
import { sampleRows } from './data/time-split.js';

/**
 * The monitoring baseline: a sample of the holdout rows (the most recent period the model was
 * evaluated on) with every request feature in its raw form, the target, and the model's
 * prediction (and probability), as Parquet.
 */
export function referenceTable(
  data: PreparedData,
  scores: Float64Array,
  threshold: number,
  maxRows: number,
  seed: number,
): Table {
  const [a, b] = data.splits.holdout;
  const picked = sampleRows(b - a, maxRows, seed);
  const rows = Uint32Array.from(picked, (k) => a + k);
  const columns: Record<string, Column> = {};
  for (const f of data.features) {
    const c = f.column;
    columns[f.name] =
      c.kind === 'string'
        ? { kind: 'string', codes: Int32Array.from(rows, (r) => c.codes[r]!), dictionary: c.dictionary }
        : { kind: c.kind, values: Float64Array.from(rows, (r) => c.values[r]!) };
  }
  const classification = data.task === 'binary-classification';
  columns[data.targetName] = {
    kind: classification ? 'boolean' : 'number',
    values: Float64Array.from(rows, (r) => data.target[r]!),
  };
  const score = Float64Array.from(rows, (r) => scores[r - a]!);
  if (classification) {
    columns.prediction = {
      kind: 'number',
      values: Float64Array.from(score, (p) => (p >= threshold ? 1 : 0)),
    };
    columns.probability = { kind: 'number', values: score };
  } else {
    columns.prediction = { kind: 'number', values: score };
  }
  return { numRows: rows.length, columns };
}

export function referenceParquet(table: Table): Uint8Array {
  return writeParquet(table);
}
