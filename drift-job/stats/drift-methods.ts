/**
 * Per-column drift statistics with Evidently 0.7's semantics (its `DataDriftPreset`, which runs
 * the legacy `get_one_column_drift` for every column). What Evidently does, and so what we do:
 *
 * - Missing values (and ±Infinity) are dropped from both sides first; "reference size" below is the
 *   reference's count of remaining values.
 * - Default method: with ≤ 1,000 reference values — numerical with > 5 distinct values (reference
 *   and current together): KS (drift when p ≤ 0.05); numerical with 3–5 distinct values and
 *   categorical with > 2: chi-squared (p < 0.05); ≤ 2 distinct values: two-proportion Z-test
 *   (p < 0.05). With > 1,000 reference values — numerical with > 5 distinct values: Wasserstein
 *   distance normalised by the reference's population standard deviation (floored at 0.001),
 *   drift when ≥ 0.1; everything else: Jensen–Shannon distance, ≥ 0.1.
 * - Jensen–Shannon and PSI bin a numerical column with more than 20 distinct reference values into
 *   Sturges bins over reference and current together (`np.histogram_bin_edges(..., 'sturges')`);
 *   otherwise each distinct value (or category) is its own bin. PSI replaces empty bins by
 *   min(non-empty share)/1e6 when that minimum is ≤ 1e-4, else by 1e-4; Jensen–Shannon does not.
 * - Chi-squared compares current counts with reference counts scaled to the current size over the
 *   union of categories; a category absent from the reference makes the statistic infinite (p = 0).
 */
import { DRIFT_METHODS, type DriftMethodName } from '../../core/drift-settings.js';
import { ks2samp } from './ks.js';
import { chiSquaredSf, normalCdf } from './special.js';

export { DRIFT_METHODS };
export type DriftMethod = DriftMethodName;
export type ColumnKind = 'numerical' | 'categorical';

/**
 * One drift method, described once (as Evidently registers a `StatTest`): which column kinds it
 * takes, its default threshold, whether its score is a p-value (small = drift) or a distance
 * (large = drift), and the score function.
 */
export interface DriftMethodDescriptor {
  name: DriftMethod;
  kinds: readonly ColumnKind[];
  defaultThreshold: number;
  score: 'p_value' | 'distance';
  /** Evidently's comparison: ks drifts at p ≤ threshold, the other tests at p < threshold. */
  drifted(score: number, threshold: number): boolean;
  compute(ref: ColumnSample, cur: ColumnSample): number;
}

const pBelow = (score: number, threshold: number) => score < threshold;
const distanceAtLeast = (score: number, threshold: number) => score >= threshold;

/** Every drift method; the name list it is keyed by is the CRD's (core/drift-settings). */
export const DRIFT_METHOD_REGISTRY: { readonly [M in DriftMethod]: DriftMethodDescriptor & { name: M } } = {
  ks: {
    name: 'ks',
    kinds: ['numerical'],
    defaultThreshold: 0.05,
    score: 'p_value',
    drifted: (score, threshold) => score <= threshold,
    compute: (ref, cur) => ks2samp(numericValues(ref, 'ks'), numericValues(cur, 'ks')).pValue,
  },
  chisquare: {
    name: 'chisquare',
    kinds: ['categorical'],
    defaultThreshold: 0.05,
    score: 'p_value',
    drifted: pBelow,
    compute: (ref, cur) => chiSquarePValue(countsOf(ref), sampleSize(ref), countsOf(cur), sampleSize(cur)),
  },
  z: {
    name: 'z',
    kinds: ['categorical'],
    defaultThreshold: 0.05,
    score: 'p_value',
    drifted: pBelow,
    compute: (ref, cur) => zTestPValue(countsOf(ref), sampleSize(ref), countsOf(cur), sampleSize(cur)),
  },
  wasserstein: {
    name: 'wasserstein',
    kinds: ['numerical'],
    defaultThreshold: 0.1,
    score: 'distance',
    drifted: distanceAtLeast,
    compute: (ref, cur) => {
      const r = numericValues(ref, 'wasserstein');
      // Normalised by the reference's population standard deviation, floored at 0.001.
      return wassersteinDistance(r, numericValues(cur, 'wasserstein')) / Math.max(populationStd(r), 0.001);
    },
  },
  jensenshannon: {
    name: 'jensenshannon',
    kinds: ['numerical', 'categorical'],
    defaultThreshold: 0.1,
    score: 'distance',
    drifted: distanceAtLeast,
    compute: (ref, cur) => jensenShannonDistance(...binnedShares(ref, cur, false)),
  },
  psi: {
    name: 'psi',
    kinds: ['numerical', 'categorical'],
    defaultThreshold: 0.1,
    score: 'distance',
    drifted: distanceAtLeast,
    compute: (ref, cur) => populationStabilityIndex(...binnedShares(ref, cur, true)),
  },
};

export function driftMethod(method: DriftMethod): DriftMethodDescriptor {
  return DRIFT_METHOD_REGISTRY[method];
}

/** Whether the score is a p-value (small = drift) or a distance (large = drift). */
export function isPValueMethod(method: DriftMethod): boolean {
  return DRIFT_METHOD_REGISTRY[method].score === 'p_value';
}

/** One side of a column after missing values are dropped. */
export type ColumnSample =
  | {
      kind: 'numerical';
      /** Finite values, ascending. */
      values: Float64Array;
      /** The column is an integer dtype in pandas' eyes (matters for Sturges bin widths). */
      integer: boolean;
    }
  | { kind: 'categorical'; counts: Map<string, number>; size: number };

export interface DriftScore {
  method: DriftMethod;
  threshold: number;
  score: number;
  drifted: boolean;
}

/** Distinct values of two ascending arrays together. */
function distinctSorted(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let count = 0;
  let last = Number.NaN;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (v !== last) {
      count++;
      last = v;
    }
  }
  return count;
}

function distinctOne(a: Float64Array): number {
  return distinctSorted(a, new Float64Array(0));
}

function sampleSize(s: ColumnSample): number {
  return s.kind === 'numerical' ? s.values.length : s.size;
}

function distinctCombined(ref: ColumnSample, cur: ColumnSample): number {
  if (ref.kind === 'numerical' && cur.kind === 'numerical') return distinctSorted(ref.values, cur.values);
  const keys = new Set(countsOf(ref).keys());
  for (const k of countsOf(cur).keys()) keys.add(k);
  return keys.size;
}

/** Value counts: categories as they are, numbers keyed by their value. */
export function countsOf(s: ColumnSample): Map<string, number> {
  if (s.kind === 'categorical') return s.counts;
  const counts = new Map<string, number>();
  const v = s.values;
  let i = 0;
  while (i < v.length) {
    let j = i;
    while (j < v.length && v[j] === v[i]) j++;
    counts.set(String(v[i]), j - i);
    i = j;
  }
  return counts;
}

/** Evidently's default method for a column (`_get_default_stattest`). */
export function defaultMethod(kind: ColumnKind, ref: ColumnSample, cur: ColumnSample): DriftMethod {
  const nValues = distinctCombined(ref, cur);
  if (sampleSize(ref) <= 1000) {
    if (kind === 'numerical' && nValues > 5) return 'ks';
    return nValues > 2 ? 'chisquare' : 'z';
  }
  if (kind === 'numerical' && nValues > 5) return 'wasserstein';
  return 'jensenshannon';
}

/** Computes one method's score and decision. Samples must be non-empty. */
export function driftScore(
  method: DriftMethod,
  ref: ColumnSample,
  cur: ColumnSample,
  threshold: number = DRIFT_METHOD_REGISTRY[method].defaultThreshold,
): DriftScore {
  const descriptor = DRIFT_METHOD_REGISTRY[method];
  const score = descriptor.compute(ref, cur);
  return { method, threshold, score, drifted: descriptor.drifted(score, threshold) };
}

function numericValues(s: ColumnSample, method: DriftMethod): Float64Array {
  if (s.kind !== 'numerical') throw new Error(`method ${method} needs a numerical column`);
  return s.values;
}

export function chiSquarePValue(
  ref: Map<string, number>,
  refSize: number,
  cur: Map<string, number>,
  curSize: number,
): number {
  const keys = new Set([...ref.keys(), ...cur.keys()]);
  const kNorm = curSize / refSize;
  let stat = 0;
  for (const key of keys) {
    const expected = (ref.get(key) ?? 0) * kNorm;
    const observed = cur.get(key) ?? 0;
    stat += (observed - expected) ** 2 / expected;
  }
  return chiSquaredSf(stat, keys.size - 1);
}

export function zTestPValue(
  ref: Map<string, number>,
  refSize: number,
  cur: Map<string, number>,
  curSize: number,
): number {
  if (ref.size === 1 && cur.size === 1 && [...ref.keys()][0] === [...cur.keys()][0]) return 1;
  // Evidently codes the smallest key as 0 and every other as 1; the two-sided p-value does not
  // depend on which key that is, but the arithmetic below mirrors it.
  const keys = [...new Set([...ref.keys(), ...cur.keys()])].sort();
  const first = keys[0]!;
  const p1 = (refSize - (ref.get(first) ?? 0)) / refSize;
  const p2 = (curSize - (cur.get(first) ?? 0)) / curSize;
  const P = (p1 * refSize + p2 * curSize) / (refSize + curSize);
  const z = (p1 - p2) / Math.sqrt(P * (1 - P) * (1 / refSize + 1 / curSize));
  return 2 * (1 - normalCdf(Math.abs(z)));
}

/** First Wasserstein distance between two ascending samples (SciPy's `_cdf_distance(1, …)`). */
export function wassersteinDistance(u: Float64Array, v: Float64Array): number {
  const nu = u.length;
  const nv = v.length;
  let i = 0;
  let j = 0;
  let sum = 0;
  let x = Number.NaN;
  while (i < nu || j < nv) {
    const fromU = j >= nv || (i < nu && u[i]! <= v[j]!);
    const y = fromU ? u[i]! : v[j]!;
    // Before y is consumed, the consumed values are exactly those ≤ x (the rest are ≥ y).
    const delta = y - x;
    if (delta > 0) sum += Math.abs(i / nu - j / nv) * delta;
    if (fromU) i++;
    else j++;
    x = y;
  }
  return sum;
}

/** Population standard deviation (NumPy's np.std, ddof = 0). */
export function populationStd(values: Float64Array): number {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - mean) ** 2;
  return Math.sqrt(ss / n);
}

/**
 * Bin edges as `np.histogram_bin_edges(combined, bins='sturges')`: equal-width bins over
 * [min, max], as many as ceil(range / (range / (log2(n) + 1))), width at least 1 for integers.
 */
export function sturgesEdges(min: number, max: number, n: number, integer: boolean): Float64Array {
  let first = min;
  let last = max;
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const ptp = max - min;
  let width = ptp / (Math.log2(n) + 1);
  let bins = 1;
  if (width) {
    if (integer && width < 1) width = 1;
    bins = Math.ceil((last - first) / width);
  }
  // np.linspace: start + k * step, with the last edge set to stop exactly.
  const edges = new Float64Array(bins + 1);
  const step = (last - first) / bins;
  for (let k = 0; k <= bins; k++) edges[k] = k * step + first;
  edges[bins] = last;
  return edges;
}

/** Counts of an ascending sample in bins [e_k, e_k+1), the last bin closed (np.histogram). */
export function histogramCounts(sorted: Float64Array, edges: Float64Array): Float64Array {
  const bins = edges.length - 1;
  const counts = new Float64Array(bins);
  let bin = 0;
  for (let i = 0; i < sorted.length; i++) {
    const x = sorted[i]!;
    if (x < edges[0]! || x > edges[bins]!) continue;
    while (bin < bins - 1 && x >= edges[bin + 1]!) bin++;
    counts[bin]!++;
  }
  return counts;
}

/**
 * The shared binning of Jensen–Shannon and PSI (Evidently's `get_binned_data`): shares of each
 * side per bin, with the empty-bin fill when `fillZeroes`.
 */
export function binnedShares(
  ref: ColumnSample,
  cur: ColumnSample,
  fillZeroes: boolean,
): [Float64Array, Float64Array] {
  let p: Float64Array;
  let q: Float64Array;
  if (ref.kind === 'numerical' && cur.kind === 'numerical' && distinctOne(ref.values) > 20) {
    const r = ref.values;
    const c = cur.values;
    const min = Math.min(r[0]!, c[0]!);
    const max = Math.max(r[r.length - 1]!, c[c.length - 1]!);
    const edges = sturgesEdges(min, max, r.length + c.length, ref.integer && cur.integer);
    p = histogramCounts(r, edges).map((count) => count / r.length);
    q = histogramCounts(c, edges).map((count) => count / c.length);
  } else {
    const rc = countsOf(ref);
    const cc = countsOf(cur);
    const keys = [...new Set([...rc.keys(), ...cc.keys()])];
    const rn = sampleSize(ref);
    const cn = sampleSize(cur);
    p = Float64Array.from(keys, (k) => (rc.get(k) ?? 0) / rn);
    q = Float64Array.from(keys, (k) => (cc.get(k) ?? 0) / cn);
  }
  if (fillZeroes) {
    fillEmpty(p);
    fillEmpty(q);
  }
  return [p, q];
}

function fillEmpty(shares: Float64Array): void {
  let min = Number.POSITIVE_INFINITY;
  for (const s of shares) if (s !== 0 && s < min) min = s;
  const fill = min <= 0.0001 ? min / 10 ** 6 : 0.0001;
  for (let i = 0; i < shares.length; i++) if (shares[i] === 0) shares[i] = fill;
}

function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Number.POSITIVE_INFINITY;
}

/** SciPy's `distance.jensenshannon(p, q)` (natural log): both normalised to sum 1 first. */
export function jensenShannonDistance(p0: Float64Array, q0: Float64Array): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p0.length; i++) {
    sp += p0[i]!;
    sq += q0[i]!;
  }
  let left = 0;
  let right = 0;
  for (let i = 0; i < p0.length; i++) {
    const p = p0[i]! / sp;
    const q = q0[i]! / sq;
    const m = (p + q) / 2;
    left += relEntr(p, m);
    right += relEntr(q, m);
  }
  return Math.sqrt((left + right) / 2);
}

export function populationStabilityIndex(p: Float64Array, q: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += (p[i]! - q[i]!) * Math.log(p[i]! / q[i]!);
  return sum;
}
