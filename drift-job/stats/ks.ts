/**
 * The two-sample Kolmogorov–Smirnov test, two-sided, exactly as `scipy.stats.ks_2samp` with
 * its default `method='auto'` (what Evidently calls): the exact p-value when both samples have at
 * most 10,000 values, otherwise Smirnov's asymptotic form through the Kolmogorov distribution with
 * n = round(n1·n2 / (n1 + n2)).
 */
import { kolmogorovSf } from './kolmogorov.js';
import { roundHalfEven } from './special.js';

const MAX_EXACT_N = 10_000;

export interface KsResult {
  statistic: number;
  pValue: number;
  mode: 'exact' | 'asymp';
}

/** KS statistic D = sup |F1 − F2| of two ascending-sorted samples, with SciPy's rounding. */
export function ksStatistic(a: Float64Array, b: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxS = Number.NEGATIVE_INFINITY;
  let minS = Number.POSITIVE_INFINITY;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    while (i < n1 && a[i]! <= v) i++;
    while (j < n2 && b[j]! <= v) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  const minusMin = Math.min(Math.max(-minS, 0), 1);
  return Math.max(minusMin, maxS);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Pr(D ≥ h/n) for two samples of equal size n (SciPy's `_compute_prob_outside_square`). */
function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
  }
  return 2 * P;
}

/**
 * 1 − Pr(all lattice paths stay strictly inside |x/m − y/n| < h/lcm) (SciPy's
 * `_compute_outer_prob_inside_method`, Hodges 1958 with Viehmann's stable recursion).
 */
function outerProbInside(m0: number, n0: number, g: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  for (let x = minj; x < maxj; x++) A[x] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj]! * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return A[maxj - minj - 1]!;
}

function exactPValue(n1: number, n2: number, d: number): { ok: boolean; d: number; p: number } {
  const g = gcd(n1, n2);
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  const dRounded = h / lcm;
  if (h === 0) return { ok: true, d: dRounded, p: 1 };
  const p = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
  if (!(p >= 0 && p <= 1)) return { ok: false, d: dRounded, p };
  return { ok: true, d: dRounded, p };
}

/** Two-sided two-sample KS test of ascending-sorted samples (each non-empty). */
export function ks2samp(a: Float64Array, b: Float64Array): KsResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new Error('the KS test needs two non-empty samples');
  let d = ksStatistic(a, b);
  if (Math.max(n1, n2) <= MAX_EXACT_N) {
    const exact = exactPValue(n1, n2, d);
    if (exact.ok) return { statistic: exact.d, pValue: exact.p, mode: 'exact' };
    d = exact.d;
  }
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  const p = kolmogorovSf(roundHalfEven(en), d);
  return { statistic: d, pValue: Math.min(Math.max(p, 0), 1), mode: 'asymp' };
}
