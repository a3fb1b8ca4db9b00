/**
 * Feature binning for the histogram learner. Every feature is float32 (the precision the ONNX
 * graph compares in), and each bin's upper bound is a float32 value seen in the data, so a
 * split "bin <= b" is exactly "x <= upper[b]" both here and in onnxruntime.
 */

/** At most this many value bins per feature; one more code marks a missing value. */
export const MAX_BINS = 255;
/**
 * At least this many rows per bin on a small table (fewer than SMALL_TABLE_ROWS), as LightGBM's
 * min_data_in_bin: there a bin per rare value lets a tree cut around one or two rows, which is
 * noise (penguins: holdout ROC AUC 0.924 with a bin per value, 0.947 with this). Larger tables
 * keep a bin per distinct value: their leaves hold at least 10 rows anyway, and the flights
 * models stay what they were.
 */
export const MIN_DATA_IN_BIN = 3;
export const SMALL_TABLE_ROWS = 5000;

export function minDataInBinFor(rows: number): number {
  return rows < SMALL_TABLE_ROWS ? MIN_DATA_IN_BIN : 1;
}

export interface FeatureBins {
  /** Upper bound of each value bin (float32-exact); the last one is +Infinity. */
  upper: Float32Array;
  /** The code of a missing value: upper.length. */
  missingBin: number;
}

/**
 * Chooses bin bounds from (a sample of) one feature's values: every distinct value its own bin
 * when there are few, otherwise equal-frequency bins cut between distinct values.
 */
export function computeBins(
  values: Float32Array,
  maxBins = MAX_BINS,
  sampleLimit = 200_000,
  minDataInBin = minDataInBinFor(values.length),
): FeatureBins {
  const step = values.length > sampleLimit ? values.length / sampleLimit : 1;
  const sample: number[] = [];
  for (let k = 0; k < values.length; k += step) {
    const v = values[Math.floor(k)]!;
    if (!Number.isNaN(v)) sample.push(v);
  }
  const sorted = Float32Array.from(sample).sort();
  const distinct: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) counts[counts.length - 1]!++;
    else {
      distinct.push(sorted[i]!);
      counts.push(1);
    }
  }
  let bounds: number[];
  if (distinct.length <= maxBins) {
    // Each distinct value its own bin, unless it (or what is left above it) is too rare.
    bounds = [];
    let inBin = 0;
    let remaining = sorted.length;
    for (let i = 0; i < distinct.length - 1; i++) {
      inBin += counts[i]!;
      remaining -= counts[i]!;
      if (inBin >= minDataInBin && remaining >= minDataInBin) {
        bounds.push(distinct[i]!);
        inBin = 0;
      }
    }
  } else {
    bounds = [];
    const target = sorted.length / maxBins;
    let inBin = 0;
    let remaining = sorted.length;
    for (let i = 0; i < distinct.length - 1 && bounds.length < maxBins - 1; i++) {
      inBin += counts[i]!;
      remaining -= counts[i]!;
      // Re-aim at an equal share of what is left, so one heavy value does not starve later bins.
      const binsLeft = maxBins - bounds.length;
      if (inBin >= Math.min(target, (inBin + remaining) / binsLeft)) {
        bounds.push(distinct[i]!);
        inBin = 0;
      }
    }
  }
  const upper = new Float32Array(bounds.length + 1);
  upper.set(bounds);
  upper[bounds.length] = Number.POSITIVE_INFINITY;
  return { upper, missingBin: upper.length };
}

/** The bin code of every value: the first bin whose upper bound is >= the value. */
export function applyBins(values: Float32Array, bins: FeatureBins): Uint8Array {
  const out = new Uint8Array(values.length);
  const upper = bins.upper;
  const last = upper.length - 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) {
      out[i] = bins.missingBin;
      continue;
    }
    let lo = 0;
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v <= upper[mid]!) hi = mid;
      else lo = mid + 1;
    }
    out[i] = lo;
  }
  return out;
}
