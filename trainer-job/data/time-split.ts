import { DataError } from '../../core/errors.js';
import { Random } from '../random.js';

/** Half-open row ranges into the time-sorted rows. */
export interface Splits {
  train: [number, number];
  validation: [number, number];
  holdout: [number, number];
}

export interface SplitOptions {
  validationFraction: number;
  holdoutFraction: number;
  /** Rows strictly before this instant are training rows (instead of the fraction). */
  trainUntil?: Date | undefined;
  /** Rows strictly before this instant (and not training) are validation rows. */
  validationUntil?: Date | undefined;
}

/**
 * Chooses `k` of `n` row indices uniformly at random (selection sampling), returned in
 * increasing order: a deterministic sample spread evenly over the whole period.
 */
export function sampleRows(n: number, k: number, seed: number): Uint32Array {
  if (k >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  const rng = new Random(seed);
  const out = new Uint32Array(k);
  let chosen = 0;
  for (let i = 0; i < n && chosen < k; i++) {
    if (rng.next() * (n - i) < k - chosen) out[chosen++] = i;
  }
  return out;
}

/** Sorts row indices by time (ties keep their order). */
export function sortByTime(rows: Uint32Array, timeMs: Float64Array): Uint32Array {
  return Uint32Array.from(rows).sort((a, b) => timeMs[a]! - timeMs[b]! || a - b);
}

/**
 * Cuts time-sorted rows into train / validation / holdout, by cut dates when given, otherwise
 * by fractions (validation and holdout at the end, the most recent rows last: evaluation then
 * looks like production, where the model meets the future).
 */
export function splitByTime(sortedTimes: Float64Array, options: SplitOptions): Splits {
  const n = sortedTimes.length;
  const firstAtOrAfter = (ms: number) => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sortedTimes[mid]! < ms) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const trainEnd = options.trainUntil
    ? firstAtOrAfter(options.trainUntil.getTime())
    : Math.floor(n * (1 - options.validationFraction - options.holdoutFraction));
  const validationEnd = options.validationUntil
    ? firstAtOrAfter(options.validationUntil.getTime())
    : options.trainUntil
      ? trainEnd + Math.floor((n - trainEnd) / 2)
      : Math.floor(n * (1 - options.holdoutFraction));
  if (validationEnd < trainEnd) {
    throw new DataError('--validation-until must not be earlier than --train-until');
  }
  return { train: [0, trainEnd], validation: [trainEnd, validationEnd], holdout: [validationEnd, n] };
}
