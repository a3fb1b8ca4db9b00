import type { Column } from '../../core/dataset/index.js';
import { MISSING_CODE } from '../../core/dataset/index.js';
import { sortFinite } from './sort.js';

/**
 * The two views of a column that both the drift statistics and the report's summaries start
 * from, memoised per column so a run sorts and counts each column once.
 */

// Sorting a million values is the costliest step of a run; drift and summary share one sort.
const sortedCache = new WeakMap<Column, { values: Float64Array; missing: number; nonFinite: number }>();

/** Finite values of a numeric column, ascending, with counts of what was dropped (memoised). */
export function finiteSorted(column: Column): { values: Float64Array; missing: number; nonFinite: number } {
  if (column.kind === 'string')
    return { values: new Float64Array(0), missing: column.codes.length, nonFinite: 0 };
  const cached = sortedCache.get(column);
  if (cached) return cached;
  const result = sortFinite(column.values);
  sortedCache.set(column, result);
  return result;
}

const countsCache = new WeakMap<Column, { counts: Map<string, number>; missing: number }>();

/** Value counts of a column as text (booleans as true/false, numbers as written); memoised. */
export function valueCounts(column: Column): { counts: Map<string, number>; missing: number } {
  const cached = countsCache.get(column);
  if (cached) return cached;
  const counts = new Map<string, number>();
  let missing = 0;
  if (column.kind === 'string') {
    const byCode = new Int32Array(column.dictionary.length);
    const codes = column.codes;
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i]!;
      if (code === MISSING_CODE) missing++;
      else byCode[code]!++;
    }
    for (let code = 0; code < byCode.length; code++) {
      const count = byCode[code]!;
      if (count > 0) {
        const value = column.dictionary[code]!;
        counts.set(value, (counts.get(value) ?? 0) + count);
      }
    }
  } else {
    const values = column.values;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) {
        missing++;
        continue;
      }
      const key = column.kind === 'boolean' ? (v === 1 ? 'true' : 'false') : String(v);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const result = { counts, missing };
  countsCache.set(column, result);
  return result;
}
