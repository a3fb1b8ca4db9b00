import ort from 'onnxruntime-node';
import type { FeatureRecord, FeatureSchema } from '../../core/feature-schema.js';
import { OUTPUT_PREDICTION, OUTPUT_PROBABILITY, recordsToInputs } from '../../core/model-input.js';

const BATCH = 20_000;

/**
 * Scores records with an ONNX model through onnxruntime-node, fed by the same
 * `recordsToInputs` the server uses: probability (classification) or prediction (regression).
 */
export async function scoreWithOnnx(
  modelBytes: Uint8Array,
  schema: FeatureSchema,
  records: readonly FeatureRecord[],
): Promise<Float64Array> {
  // One thread: onnxruntime then sums every row's trees in tree order (with several threads
  // it may split small batches by tree and add partial sums), the order the TypeScript
  // float32 emulation follows, so the parity check compares like with like.
  const session = await ort.InferenceSession.create(modelBytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  try {
    const output = schema.task === 'binary-classification' ? OUTPUT_PROBABILITY : OUTPUT_PREDICTION;
    const out = new Float64Array(records.length);
    for (let start = 0; start < records.length; start += BATCH) {
      const batch = records.slice(start, start + BATCH);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, input] of Object.entries(recordsToInputs(schema, batch))) {
        feeds[name] = new ort.Tensor(input.type, input.data, input.dims);
      }
      const result = await session.run(feeds, [output]);
      out.set(result[output]!.data as Float32Array, start);
    }
    return out;
  } finally {
    await session.release();
  }
}

/** Largest absolute difference between two score vectors (Infinity when one is NaN alone). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return Number.POSITIVE_INFINITY;
    if (!Number.isNaN(x)) max = Math.max(max, Math.abs(x - y));
  }
  return max;
}
