/**
 * Probability calibration, fitted at training time on the validation split and shipped inside the
 * model graph (export/model-graph.ts appends it), so the probabilities the server returns and
 * logs are calibrated — what confidence-based performance estimation in the drift job relies on.
 *
 * Two candidates, as scikit-learn's CalibratedClassifierCV offers them:
 * - Platt scaling: p = σ(a·s + b) on the model's raw score s, (a, b) by Newton's method on log loss;
 * - isotonic regression: pool-adjacent-violators on the uncalibrated probability, at most
 *   `MAX_KNOTS` blocks (adjacent blocks with the closest values merged, so the graph's lookup stays
 *   small), kept as the continuous piecewise-linear function through each block's centre (mean
 *   probability, mean outcome) — centred isotonic regression — clipped outside the first and last
 *   centre. Not scikit-learn's knots at block edges: those put near-vertical segments between
 *   neighbouring blocks, where one float32 ulp of difference in the input would move the output
 *   by far more than the graph's 1e-5 parity allows.
 * The choice: two-fold cross-fitting on interleaved halves of the validation rows, lower log loss
 * wins; the winner is refitted on all of them. Every step of `applyCalibrator` rounds to float32
 * as the graph does, so onnxruntime and TypeScript agree (the trainer's parity check).
 */

export const MAX_KNOTS = 64;

export type Calibrator =
  | { method: 'platt'; a: number; b: number }
  | { method: 'isotonic'; x: number[]; y: number[] };

export interface CalibrationChoice {
  calibrator: Calibrator;
  /** Cross-fitted validation log loss of each candidate, and of the uncalibrated model. */
  candidates: { platt: number; isotonic: number; uncalibrated: number };
  rows: number;
}

const f32 = Math.fround;
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** The probability the graph computes from a raw score before calibration (float32). */
export function uncalibrated(raw: number): number {
  return f32(sigmoid(f32(raw)));
}

export function logLoss(y: ArrayLike<number>, p: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const q = Math.min(Math.max(p[i]!, 1e-15), 1 - 1e-15);
    sum -= y[i]! > 0.5 ? Math.log(q) : Math.log(1 - q);
  }
  return sum / y.length;
}

/** Platt scaling on raw scores: minimises log loss of σ(a·s + b) by Newton's method. */
export function fitPlatt(raw: ArrayLike<number>, y: ArrayLike<number>): { a: number; b: number } {
  let a = 1;
  let b = 0;
  for (let iter = 0; iter < 50; iter++) {
    let ga = 0;
    let gb = 0;
    let haa = 0;
    let hab = 0;
    let hbb = 0;
    for (let i = 0; i < raw.length; i++) {
      const s = f32(raw[i]!);
      const p = sigmoid(a * s + b);
      const d = p - (y[i]! > 0.5 ? 1 : 0);
      const w = Math.max(p * (1 - p), 1e-12);
      ga += d * s;
      gb += d;
      haa += w * s * s;
      hab += w * s;
      hbb += w;
    }
    // A touch of ridge keeps the 2×2 system solvable when the scores barely vary.
    haa += 1e-9;
    hbb += 1e-9;
    const det = haa * hbb - hab * hab;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) < 1e-10 && Math.abs(db) < 1e-10) break;
  }
  return { a: f32(a), b: f32(b) };
}

interface Block {
  xLast: number;
  sumX: number;
  sumY: number;
  weight: number;
}

const value = (b: Block) => b.sumY / b.weight;

/** Pool-adjacent-violators on (x, y) sorted by x, ties of x pooled first. */
function pav(x: Float64Array, y: Float64Array): Block[] {
  const order = Uint32Array.from({ length: x.length }, (_, i) => i).sort((i, j) => x[i]! - x[j]!);
  const blocks: Block[] = [];
  for (const i of order) {
    const xi = x[i]!;
    const last = blocks[blocks.length - 1];
    if (last && last.xLast === xi) {
      last.sumX += xi;
      last.sumY += y[i]!;
      last.weight += 1;
    } else blocks.push({ xLast: xi, sumX: xi, sumY: y[i]!, weight: 1 });
    while (blocks.length > 1 && value(blocks[blocks.length - 2]!) >= value(blocks[blocks.length - 1]!)) {
      const top = blocks.pop()!;
      const under = blocks[blocks.length - 1]!;
      under.xLast = top.xLast;
      under.sumX += top.sumX;
      under.sumY += top.sumY;
      under.weight += top.weight;
    }
  }
  return blocks;
}

/** Merges the adjacent pair of blocks whose values are closest until at most `max` blocks remain. */
function capBlocks(blocks: Block[], max: number): Block[] {
  const out = blocks.slice();
  while (out.length > max) {
    let best = 0;
    for (let k = 1; k < out.length - 1; k++) {
      if (value(out[k + 1]!) - value(out[k]!) < value(out[best + 1]!) - value(out[best]!)) best = k;
    }
    const a = out[best]!;
    const b = out[best + 1]!;
    out.splice(best, 2, {
      xLast: b.xLast,
      sumX: a.sumX + b.sumX,
      sumY: a.sumY + b.sumY,
      weight: a.weight + b.weight,
    });
  }
  return out;
}

/** Isotonic regression of labels on probabilities, as knots of a piecewise-linear function. */
export function fitIsotonic(p: ArrayLike<number>, y: ArrayLike<number>): { x: number[]; y: number[] } {
  const xs = Float64Array.from(p, f32);
  const ys = Float64Array.from(y, (v) => (v > 0.5 ? 1 : 0));
  const blocks = capBlocks(pav(xs, ys), MAX_KNOTS);
  const kx: number[] = [];
  const ky: number[] = [];
  for (const b of blocks) {
    const x = f32(b.sumX / b.weight);
    // Two centres one float32 apart would make a vertical segment: keep the first.
    if (kx.length > 0 && x <= kx[kx.length - 1]!) continue;
    kx.push(x);
    ky.push(f32(value(b)));
  }
  return { x: kx, y: ky };
}

/** The segments of an isotonic calibrator as the graph stores them: start, value there, slope. */
export function isotonicSegments(c: { x: number[]; y: number[] }): {
  x: number[];
  y: number[];
  slope: number[];
} {
  if (c.x.length === 1) return { x: [c.x[0]!], y: [c.y[0]!], slope: [0] };
  const x: number[] = [];
  const y: number[] = [];
  const slope: number[] = [];
  for (let k = 0; k + 1 < c.x.length; k++) {
    x.push(c.x[k]!);
    y.push(c.y[k]!);
    slope.push(f32((c.y[k + 1]! - c.y[k]!) / (c.x[k + 1]! - c.x[k]!)));
  }
  return { x, y, slope };
}

/** Calibrated probabilities from raw scores, in float32 step by step as the graph computes them. */
export function applyCalibrator(c: Calibrator, raw: ArrayLike<number>): Float64Array {
  const out = new Float64Array(raw.length);
  if (c.method === 'platt') {
    for (let i = 0; i < raw.length; i++) out[i] = f32(sigmoid(f32(f32(f32(raw[i]!) * c.a) + c.b)));
    return out;
  }
  const s = isotonicSegments(c);
  const lo = c.x[0]!;
  const hi = c.x[c.x.length - 1]!;
  for (let i = 0; i < raw.length; i++) {
    const p = Math.min(Math.max(uncalibrated(raw[i]!), lo), hi);
    // The segment: how many segment starts are ≤ p, minus one (p ≥ the first after clipping).
    let k = 0;
    while (k + 1 < s.x.length && s.x[k + 1]! <= p) k++;
    out[i] = f32(s.y[k]! + f32(s.slope[k]! * f32(p - s.x[k]!)));
  }
  return out;
}

function fitCandidate(method: Calibrator['method'], raw: Float64Array, y: Float64Array): Calibrator {
  return method === 'platt'
    ? { method, ...fitPlatt(raw, y) }
    : { method, ...fitIsotonic(Float64Array.from(raw, uncalibrated), y) };
}

function pick(a: Float64Array, rows: number[]): Float64Array {
  return Float64Array.from(rows, (i) => a[i]!);
}

/** Cross-fitted log loss of a method on two interleaved halves of the rows. */
function crossFitted(method: Calibrator['method'], raw: Float64Array, y: Float64Array): number {
  const even: number[] = [];
  const odd: number[] = [];
  for (let i = 0; i < raw.length; i++) (i % 2 === 0 ? even : odd).push(i);
  let loss = 0;
  for (const [fit, test] of [
    [even, odd],
    [odd, even],
  ] as const) {
    const c = fitCandidate(method, pick(raw, fit), pick(y, fit));
    loss += logLoss(pick(y, test), applyCalibrator(c, pick(raw, test))) * test.length;
  }
  return loss / raw.length;
}

/** Chooses Platt or isotonic on the validation rows (raw scores and 0/1 labels) and fits it on all of them. */
export function chooseCalibrator(raw: ArrayLike<number>, labels: ArrayLike<number>): CalibrationChoice {
  const r = Float64Array.from(raw);
  const y = Float64Array.from(labels, (v) => (v > 0.5 ? 1 : 0));
  if (r.length < 4) throw new RangeError(`calibration needs validation rows (got ${r.length})`);
  const candidates = {
    platt: crossFitted('platt', r, y),
    isotonic: crossFitted('isotonic', r, y),
    uncalibrated: logLoss(y, Float64Array.from(r, uncalibrated)),
  };
  const method = candidates.isotonic < candidates.platt ? 'isotonic' : 'platt';
  return { calibrator: fitCandidate(method, r, y), candidates, rows: r.length };
}

/** Expected calibration error over ten equal-width probability bins. */
export function expectedCalibrationError(y: ArrayLike<number>, p: ArrayLike<number>, bins = 10): number {
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (let i = 0; i < y.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p[i]! * bins)));
    sumP[b] = sumP[b]! + p[i]!;
    sumY[b] = sumY[b]! + y[i]!;
    count[b] = count[b]! + 1;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b]! > 0) ece += Math.abs(sumP[b]! - sumY[b]!) / y.length;
  return ece;
}

/** Calibration quality of probabilities on labelled rows. */
export interface CalibrationQuality {
  ece: number;
  brier: number;
  log_loss: number;
}

export function calibrationQuality(y: ArrayLike<number>, p: ArrayLike<number>): CalibrationQuality {
  let brier = 0;
  for (let i = 0; i < y.length; i++) brier += (p[i]! - y[i]!) ** 2;
  return { ece: expectedCalibrationError(y, p), brier: brier / y.length, log_loss: logLoss(y, p) };
}

/** What metrics.json records of the calibration: the choice, its parameters, before and after on the holdout. */
export interface CalibrationRecord {
  method: Calibrator['method'];
  /** Platt: a, b. Isotonic: the knots. */
  params: Record<string, number | number[]>;
  chosen_by: string;
  validation_rows: number;
  validation_log_loss: CalibrationChoice['candidates'];
  holdout: { before: CalibrationQuality; after: CalibrationQuality };
}

export function calibrationRecord(
  choice: CalibrationChoice,
  holdoutLabels: ArrayLike<number>,
  before: ArrayLike<number>,
  after: ArrayLike<number>,
): CalibrationRecord {
  const c = choice.calibrator;
  return {
    method: c.method,
    params: c.method === 'platt' ? { a: c.a, b: c.b } : { x: c.x, y: c.y },
    chosen_by: 'lower log loss, two-fold cross-fitted on the validation rows',
    validation_rows: choice.rows,
    validation_log_loss: choice.candidates,
    holdout: {
      before: calibrationQuality(holdoutLabels, before),
      after: calibrationQuality(holdoutLabels, after),
    },
  };
}
