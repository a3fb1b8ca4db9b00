// biome-ignore-all lint/correctness/noPrecisionLoss: published coefficients are kept digit for digit, as in Cephes/SciPy
/**
 * The two-sided one-sample Kolmogorov distribution, Pr(D_n > x) — SciPy's `kstwo.sf(x, n)` —
 * which `scipy.stats.ks_2samp` uses for its asymptotic p-value (and therefore Evidently, when a
 * sample has more than 10,000 values). Follows Simard & L'Ecuyer (2011) exactly as SciPy's
 * `_kolmogn` chooses between them: Ruben–Gambino closed forms, the Durbin matrix (Marsaglia,
 * Tsang & Wang), Pomeranz's recursion, Pelz–Good's approximation and the exact Smirnov sum.
 */
import { logBinomial } from './special.js';

const E128 = 2 ** 128;
const EM128 = 2 ** -128;
const SQRT2PI = Math.sqrt(2 * Math.PI);
const LOG_2PI = Math.log(2 * Math.PI);
const MIN_LOG = -708;
const SQRT3 = Math.sqrt(3);
const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;
const STIRLING = [
  -2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4,
  -5.952380952380952381e-4, 7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2,
];

const clip = (p: number): number => Math.min(Math.max(p, 0), 1);

function logNFactorialDivNPowN(n: number): number {
  const rn = 1 / n;
  let poly = 0;
  for (const c of STIRLING) poly = poly * (rn / n) + c;
  return Math.log(n) / 2 - n + LOG_2PI / 2 + rn * poly;
}

/**
 * One-sided Smirnov survival function Pr(D_n^+ ≥ x), by the exact Birnbaum–Tingey sum. Every
 * term is positive, so summing them in log space keeps the relative error near 1e-12.
 */
export function smirnovSf(n: number, x: number): number {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const last = Math.floor(n * (1 - x));
  let sum = 0;
  for (let j = 0; j <= last; j++) {
    const a = 1 - x - j / n;
    const b = x + j / n;
    if (a <= 0 && n - j > 0) continue;
    const logTerm = logBinomial(n, j) + (n - j) * Math.log(a) + (j - 1) * Math.log(b);
    sum += Math.exp(logTerm);
  }
  return clip(x * sum);
}

type Matrix = Float64Array[];

function matmul(a: Matrix, b: Matrix): Matrix {
  const m = a.length;
  const out: Matrix = Array.from({ length: m }, () => new Float64Array(m));
  for (let i = 0; i < m; i++) {
    const ai = a[i]!;
    const oi = out[i]!;
    for (let k = 0; k < m; k++) {
      const aik = ai[k]!;
      if (aik === 0) continue;
      const bk = b[k]!;
      for (let j = 0; j < m; j++) oi[j]! += aik * bk[j]!;
    }
  }
  return out;
}

/** Pr(D_n ≤ d) by the Durbin matrix method (Marsaglia, Tsang & Wang 2003). */
export function kolmogorovCdfDurbin(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  let H: Matrix = Array.from({ length: m }, () => new Float64Array(m));
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    v[j - 1] = 1 - h ** j;
    w[j - 1] = fac;
    fac /= j;
    v[j - 1]! *= fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) {
    for (let r = i - 1; r < m; r++) H[r]![i] = w[r - (i - 1)]!;
  }
  for (let r = 0; r < m; r++) H[r]![0] = v[r]!;
  for (let c = 0; c < m; c++) H[m - 1]![c] = v[m - 1 - c]!;

  let Hpwr: Matrix = Array.from({ length: m }, (_, i) => {
    const row = new Float64Array(m);
    row[i] = 1;
    return row;
  });
  let nn = n;
  let expnt = 0;
  let Hexpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      Hpwr = matmul(Hpwr, H);
      expnt += Hexpnt;
    }
    H = matmul(H, H);
    Hexpnt *= 2;
    if (Math.abs(H[k - 1]![k - 1]!) > E128) {
      for (const row of H) for (let j = 0; j < m; j++) row[j]! /= E128;
      Hexpnt += 128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = Hpwr[k - 1]![k - 1]!;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= E128;
      expnt -= 128;
    }
  }
  if (expnt !== 0) p *= 2 ** expnt;
  return clip(p);
}

function pomeranzBounds(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const ip1div2 = Math.floor((i + 1) / 2);
    const ip1mod2 = (i + 1) % 2;
    if (ip1mod2 === 0) {
      if (ip1div2 === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = ip1div2 - 1 - ll - roundf - 1;
        j2 = ip1div2 + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = ip1div2 - 1 - ll - 1;
      j2 = ip1div2 + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** Pr(D_n ≤ x) by Pomeranz's recursion (1974). */
export function kolmogorovCdfPomeranz(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  const gpower = new Float64Array(npwrs);
  const twogpower = new Float64Array(npwrs);
  const onem2gpower = new Float64Array(npwrs);
  gpower[0] = 1;
  twogpower[0] = 1;
  onem2gpower[0] = 1;
  let expnt = 0;
  const gOverN = g / n;
  const twoGOverN = (2 * g) / n;
  const oneMinusTwoGOverN = (1 - 2 * g) / n;
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = (gpower[m - 1]! * gOverN) / m;
    twogpower[m] = (twogpower[m - 1]! * twoGOverN) / m;
    onem2gpower[m] = (onem2gpower[m - 1]! * oneMinusTwoGOverN) / m;
  }
  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let [j1, j2] = pomeranzBounds(0, n, ll, ceilf, roundf);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [V0, V1] = [V1, V0];
    [V0s, V1s] = [V1s, V0s];
    V1.fill(0);
    [j1, j2] = pomeranzBounds(i, n, ll, ceilf, roundf);
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 ? twogpower : onem2gpower;
    const ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      const convStart = j1 - k1;
      const convLen = j2 - j1 + 1;
      const offset = k1 - V0s;
      // NumPy slicing truncates at the end of V0, so the first factor may be shorter than ln2.
      const la = Math.min(ln2, npwrs - offset);
      // Entries convStart.. of the full convolution of V0[offset, offset+la) with pwrs[0, ln2).
      for (let c = 0; c < convLen; c++) {
        const kk = convStart + c;
        let s = 0;
        for (let a = Math.max(0, kk - (ln2 - 1)); a <= Math.min(kk, la - 1); a++) {
          s += V0[offset + a]! * pwrs[kk - a]!;
        }
        V1[c] = s;
      }
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < V1.length; c++) if (V1[c]! > max) max = V1[c]!;
      if (max > 0 && max < EM128) {
        for (let c = 0; c < V1.length; c++) V1[c]! *= E128;
        expnt -= 128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s]!;
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > E128) {
      ans *= EM128;
      expnt += 128;
    }
    ans *= m;
  }
  if (expnt !== 0) ans *= 2 ** expnt;
  return clip(ans);
}

/** Pr(D_n ≤ x) by the Pelz–Good approximation (1976), for large n. */
export function kolmogorovCdfPelzGood(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z ** 2;
  const z3 = z ** 3;
  const z4 = z ** 4;
  const z6 = z ** 6;
  const qlog = -PI2 / 8 / z2;
  if (qlog < MIN_LOG) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m ** 2;
    const m4 = m ** 4;
    const m6 = m ** 6;
    const qpower = q ** (8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i]! * qpower + coeffs[i]!;
  }
  const divisors = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i]! * q * SQRT2PI) / divisors[i]!;
  q = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxk; k > 0; k--) {
    const k2 = k * k;
    const qp = q ** k2;
    k2extra += k2 * qp;
    const kspi = Math.PI * k;
    k3extra += (SQRT3 * z + kspi) * (SQRT3 * z - kspi) * k2 * qp;
  }
  K[2]! += k2extra * ((PI2 * SQRT2PI) / (-36 * z3));
  K[3]! += k3extra * ((PI2 * SQRT2PI) / (216 * z6));
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i]! / n ** (i / 2);
  return sum;
}

/** Pr(D_n > x) for the two-sided one-sample statistic: SciPy's kstwo.sf(x, n). */
export function kolmogorovSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n <= 0) return Number.NaN;
  if (Number.isNaN(x)) return Number.NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else {
      prob = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
    }
    return clip(1 - prob);
  }
  if (t >= n - 1) return clip(2 * (1 - x) ** n);
  if (x >= 0.5) return clip(2 * smirnovSf(n, x));
  const nxsquared = t * x;
  if (n <= 140) {
    if (nxsquared <= 0.754693) return clip(1 - kolmogorovCdfDurbin(n, x));
    if (nxsquared <= 4) return clip(1 - kolmogorovCdfPomeranz(n, x));
    return clip(2 * smirnovSf(n, x));
  }
  if (nxsquared >= 370) return 0;
  if (nxsquared >= 2.2) return clip(2 * smirnovSf(n, x));
  const cdf =
    n <= 100_000 && n * x ** 1.5 <= 1.4 ? kolmogorovCdfDurbin(n, x) : clip(kolmogorovCdfPelzGood(n, x));
  return clip(1 - cdf);
}
