import type { GbdtModel } from './booster.js';
import { sigmoid } from './loss.js';
import { leafOfRow } from './tree.js';

/** Raw scores (logits for binary, values for regression) from float32 features. */
export function predictRaw(
  model: GbdtModel,
  features: readonly Float32Array[],
  numRows: number,
): Float64Array {
  if (features.length !== model.numFeatures) {
    throw new Error(`the model expects ${model.numFeatures} features, got ${features.length}`);
  }
  const out = new Float64Array(numRows).fill(model.baseScore);
  for (const tree of model.trees) {
    for (let i = 0; i < numRows; i++) out[i] = out[i]! + tree.value[leafOfRow(tree, features, i)]!;
  }
  return out;
}

/** Probabilities for binary models, values for regression. */
export function predict(model: GbdtModel, features: readonly Float32Array[], numRows: number): Float64Array {
  const raw = predictRaw(model, features, numRows);
  if (model.objective === 'binary') for (let i = 0; i < raw.length; i++) raw[i] = sigmoid(raw[i]!);
  return raw;
}

/** Total split gain per feature, normalised to sum to 1. */
export function featureImportance(model: GbdtModel): number[] {
  const gain = new Array<number>(model.numFeatures).fill(0);
  for (const tree of model.trees) {
    tree.feature.forEach((f, node) => {
      if (f >= 0) gain[f] = gain[f]! + tree.gain[node]!;
    });
  }
  const total = gain.reduce((a, b) => a + b, 0);
  return gain.map((g) => (total > 0 ? g / total : 0));
}

/**
 * Raw scores computed the way onnxruntime's TreeEnsembleRegressor does: leaf weights and the
 * sum in float32, tree by tree, the base value added last. The exported model is evaluated
 * with these, so the metrics describe exactly what serving computes.
 */
export function predictRawFloat32(
  model: GbdtModel,
  features: readonly Float32Array[],
  numRows: number,
): Float64Array {
  const acc = new Float32Array(numRows);
  for (const tree of model.trees) {
    const weights = Float32Array.from(tree.value);
    for (let i = 0; i < numRows; i++) acc[i] = acc[i]! + weights[leafOfRow(tree, features, i)]!;
  }
  const base = Math.fround(model.baseScore);
  const out = new Float64Array(numRows);
  for (let i = 0; i < numRows; i++) out[i] = Math.fround(acc[i]! + base);
  return out;
}
