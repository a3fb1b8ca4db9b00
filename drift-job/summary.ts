import type { Column } from '../core/dataset/index.js';
import { finiteSorted, valueCounts } from './stats/columns.js';

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

function numericSummary(column: Column): SideSummary {
  const rows = column.kind === 'string' ? column.codes.length : column.values.length;
  const { values, missing, nonFinite } = finiteSorted(column);
  const n = values.length;
  let unique = 0;
  let sum = 0;
  let previous = Number.NaN;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    sum += v;
    if (v !== previous) unique++;
    previous = v;
  }
  const side: SideSummary = {
    rows,
    missing,
    missing_share: rows ? missing / rows : 0,
    non_finite: nonFinite,
    unique,
  };
  if (n > 0) {
    const mean = sum / n;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const d = values[i]! - mean;
      ss += d * d;
    }
    side.numeric = {
      mean,
      // Sample standard deviation (ddof = 1), as pandas' describe() shows it.
      std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
      min: values[0]!,
      p5: quantile(values, 0.05),
      p25: quantile(values, 0.25),
      p50: quantile(values, 0.5),
      p75: quantile(values, 0.75),
      p95: quantile(values, 0.95),
      max: values[n - 1]!,
    };
  }
  return side;
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

/** First index whose value is ≥ x in an ascending array. */
function lowerBound(values: Float64Array, x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

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
  // The values are sorted: each bin's count is the distance between two binary searches.
  const shares = (values: Float64Array): number[] => {
    const out: number[] = [];
    let start = 0;
    for (let k = 0; k < bins; k++) {
      const end = k === bins - 1 ? values.length : lowerBound(values, edges[k + 1]!);
      out.push(values.length ? (end - start) / values.length : 0);
      start = end;
    }
    return out;
  };
  return { edges, reference: shares(r), current: shares(c) };
}
