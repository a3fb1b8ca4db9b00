import type { Column } from '../../core/dataset/table.js';
import type { FeatureRecord } from '../../core/feature-schema.js';
import type { PreparedData } from '../data/dataset.js';

/** Rows [a, b) as request records, exactly as a client would send them to the server. */
export function toRecords(data: PreparedData, a: number, b: number): FeatureRecord[] {
  const out: FeatureRecord[] = [];
  for (let i = a; i < b; i++) {
    const record: FeatureRecord = {};
    for (const f of data.features) record[f.name] = requestValue(f.type, f.column, i);
    out.push(record);
  }
  return out;
}

function requestValue(type: string, column: Column, i: number): number | boolean | string | null {
  if (column.kind === 'string') {
    const c = column.codes[i]!;
    return c < 0 ? null : column.dictionary[c]!;
  }
  const v = column.values[i]!;
  if (Number.isNaN(v)) return null;
  if (type === 'timestamp') return new Date(v).toISOString();
  if (type === 'boolean') return v === 1;
  return v;
}
