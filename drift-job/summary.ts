import type { Column } from '../core/dataset/index.js';
import { MISSING_CODE } from '../core/dataset/index.js';
import { sortFinite } from './stats/sort.js';

/** Descriptive statistics of one column on one side (reference or current). */
export interface SideSummary {
  rows: number;
  missing: number;
  missing_share: number;
  /** NaN or ±Infinity among numbers (counted in `missing` too). */
  non_finite: number;
  unique: number;
  numeric?: {
    mean: number;
    std: number;
    min: number;
    p5: number;
    p25: number;
    p50: number;
    p75: number;
    p95: number;
    max: number;
  };
  /** Most frequent values with their share of the non-missing values. */
  top?: { value: string; count: number; share: number }[];
  /** Current side only: share of non-missing values never seen in the reference. */
  unseen_share?: number;
}

export interface ColumnSummary {
  name: string;
  /** The schema type (number, integer, boolean, category, timestamp) or model output. */
  type: string;
  reference: SideSummary;
  current: SideSummary;
  /** Numbers: shares of each side in equal-width bins over both sides' range, for the charts. */
  histogram?: { edges: number[]; reference: number[]; current: number[] };
}

const TOP = 10;

/** Linear-interpolation quantile of an ascending array (NumPy's default method). */
export function quantile(sorted: Float64Array, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const frac = pos - lo;
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * frac;
}

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

function numericSummary(column: Column): SideSummary {
  const rows = column.kind === 'string' ? column.codes.length : column.values.length;
  const { values, missing, nonFinite } = finiteSorted(column);
  let unique = 0;
  for (let i = 0; i < values.length; i++) if (i === 0 || values[i] !== values[i - 1]) unique++;
  const side: SideSummary = {
    rows,
    missing,
    missing_share: rows ? missing / rows : 0,
    non_finite: nonFinite,
    unique,
  };
  if (values.length > 0) {
    let sum = 0;
    for (const v of values) sum += v;
    const mean = sum / values.length;
    let ss = 0;
    for (const v of values) ss += (v - mean) ** 2;
    side.numeric = {
      mean,
      // Sample standard deviation (ddof = 1), as pandas' describe() shows it.
      std: values.length > 1 ? Math.sqrt(ss / (values.length - 1)) : 0,
      min: values[0]!,
      p5: quantile(values, 0.05),
      p25: quantile(values, 0.25),
      p50: quantile(values, 0.5),
      p75: quantile(values, 0.75),
      p95: quantile(values, 0.95),
      max: values[values.length - 1]!,
    };
  }
  return side;
}

/** Value counts of a column as text (booleans as true/false, numbers as written). */
export function valueCounts(column: Column): { counts: Map<string, number>; missing: number } {
  const counts = new Map<string, number>();
  let missing = 0;
  if (column.kind === 'string') {
    const byCode = new Float64Array(column.dictionary.length);
    for (const code of column.codes) {
      if (code === MISSING_CODE) missing++;
      else byCode[code]!++;
    }
    column.dictionary.forEach((value, code) => {
      if (byCode[code]! > 0) counts.set(value, (counts.get(value) ?? 0) + byCode[code]!);
    });
  } else {
    for (const v of column.values) {
      if (!Number.isFinite(v)) {
        missing++;
        continue;
      }
      const key = column.kind === 'boolean' ? (v === 1 ? 'true' : 'false') : String(v);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return { counts, missing };
}

function categoricalSummary(column: Column, referenceKeys?: ReadonlySet<string>): SideSummary {
  const rows = column.kind === 'string' ? column.codes.length : column.values.length;
  const { counts, missing } = valueCounts(column);
  const present = rows - missing;
  const top = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, TOP)
    .map(([value, count]) => ({ value, count, share: present ? count / present : 0 }));
  const side: SideSummary = {
    rows,
    missing,
    missing_share: rows ? missing / rows : 0,
    non_finite: 0,
    unique: counts.size,
    top,
  };
  if (referenceKeys) {
    let unseen = 0;
    for (const [value, count] of counts) if (!referenceKeys.has(value)) unseen += count;
    side.unseen_share = present ? unseen / present : 0;
  }
  return side;
}

function emptySide(): SideSummary {
  return { rows: 0, missing: 0, missing_share: 0, non_finite: 0, unique: 0 };
}

/**
 * Reference and current side by side. Numbers and timestamps get numeric statistics (timestamps
 * in epoch milliseconds); categories and booleans get value counts, top values and, on the current
 * side, the share of values the reference never had.
 */
export function summarizeColumn(
  name: string,
  type: string,
  reference: Column | undefined,
  current: Column | undefined,
): ColumnSummary {
  const categorical = type === 'category' || type === 'boolean' || type === 'label';
  if (categorical) {
    const refSide = reference ? categoricalSummary(reference) : emptySide();
    const refKeys = reference ? new Set(valueCounts(reference).counts.keys()) : new Set<string>();
    return {
      name,
      type,
      reference: refSide,
      current: current ? categoricalSummary(current, refKeys) : emptySide(),
    };
  }
  const summary: ColumnSummary = {
    name,
    type,
    reference: reference ? numericSummary(reference) : emptySide(),
    current: current ? numericSummary(current) : emptySide(),
  };
  const histogram = reference && current ? sharedHistogram(reference, current) : undefined;
  if (histogram) summary.histogram = histogram;
  return summary;
}

const CHART_BINS = 24;

function sharedHistogram(
  reference: Column,
  current: Column,
): { edges: number[]; reference: number[]; current: number[] } | undefined {
  const r = finiteSorted(reference).values;
  const c = finiteSorted(current).values;
  if (r.length === 0 && c.length === 0) return undefined;
  const lo = Math.min(
    r.length ? r[0]! : Number.POSITIVE_INFINITY,
    c.length ? c[0]! : Number.POSITIVE_INFINITY,
  );
  const hi = Math.max(
    r.length ? r[r.length - 1]! : Number.NEGATIVE_INFINITY,
    c.length ? c[c.length - 1]! : Number.NEGATIVE_INFINITY,
  );
  const width = hi > lo ? (hi - lo) / CHART_BINS : 1;
  const bins = hi > lo ? CHART_BINS : 1;
  const edges = Array.from({ length: bins + 1 }, (_, k) => lo + k * width);
  const shares = (values: Float64Array): number[] => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of values) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]!++;
    return counts.map((n) => (values.length ? n / values.length : 0));
  };
  return { edges, reference: shares(r), current: shares(c) };
}
