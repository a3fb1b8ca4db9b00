import { applyBins, computeBins, type FeatureBins } from './binning.js';

/** Features as bin codes, one Uint8Array per feature, plus the label. */
export interface BinnedDataset {
  numRows: number;
  bins: FeatureBins[];
  codes: Uint8Array[];
  /** The same codes row-major (row * numFeatures + feature), for histogram building. */
  rowCodes: Uint8Array;
  missingBins: Int32Array;
  label: Float64Array;
}

/** Bins training features, choosing the bounds from them. */
export function binTrainingSet(features: readonly Float32Array[], label: Float64Array): BinnedDataset {
  const bins = features.map((values) => computeBins(values));
  return applyBinsToSet(features, label, bins);
}

/** Bins another split (validation) with the training set's bounds. */
export function applyBinsToSet(
  features: readonly Float32Array[],
  label: Float64Array,
  bins: FeatureBins[],
): BinnedDataset {
  if (features.length !== bins.length) {
    throw new Error(`expected ${bins.length} features, got ${features.length}`);
  }
  for (const values of features) {
    if (values.length !== label.length) {
      throw new Error(`feature has ${values.length} rows but the label has ${label.length}`);
    }
  }
  const codes = features.map((values, f) => applyBins(values, bins[f]!));
  const numFeatures = codes.length;
  // Shared, so the histogram worker thread reads it in place.
  const rowCodes = new Uint8Array(new SharedArrayBuffer(Math.max(1, label.length * numFeatures)));
  codes.forEach((column, f) => {
    for (let i = 0; i < column.length; i++) rowCodes[i * numFeatures + f] = column[i]!;
  });
  return {
    numRows: label.length,
    bins,
    codes,
    rowCodes,
    missingBins: Int32Array.from(bins.map((b) => b.missingBin)),
    label,
  };
}
