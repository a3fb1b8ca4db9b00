import type { Feature, FeatureRecord, FeatureSchema } from './feature-schema.js';

/**
 * The contract between a feature schema and the ONNX graph the trainer exports: how records
 * become the graph's input tensors, and what the graph's outputs are called. The trainer (for
 * the parity check) and the inference server both go through these functions, so they feed the
 * graph identically.
 *
 * Inputs, one per feature, each shaped [N, 1]:
 * - number, integer, boolean → float32 named after the feature; missing → NaN; boolean → 0/1.
 * - category → string named after the feature; missing → '' (the graph maps '' and unseen
 *   levels to its unknown/missing encoding).
 * - timestamp → four float32 inputs `<name>__hour`, `<name>__day_of_week` (0 = Monday),
 *   `<name>__day_of_month`, `<name>__month` (1–12), all in UTC; missing → NaN. A graph
 *   cannot parse ISO-8601 text, and these parts are pure functions of the value, so they are
 *   computed here, in the one place both sides share.
 *
 * Outputs:
 * - binary classification: `label` (int64 [N], the class at the model's decision threshold)
 *   and `probability` (float32 [N], probability of the positive class).
 * - regression: `prediction` (float32 [N]).
 */
export const TIMESTAMP_PARTS = ['hour', 'day_of_week', 'day_of_month', 'month'] as const;
export type TimestampPart = (typeof TIMESTAMP_PARTS)[number];

export const OUTPUT_LABEL = 'label';
export const OUTPUT_PROBABILITY = 'probability';
export const OUTPUT_PREDICTION = 'prediction';

export type InputTensor =
  | { type: 'float32'; data: Float32Array; dims: [number, 1] }
  | { type: 'string'; data: string[]; dims: [number, 1] };

export function timestampPartName(feature: string, part: TimestampPart): string {
  return `${feature}__${part}`;
}

/** Input names the graph must declare, in order, for `schema`. */
export function modelInputNames(schema: FeatureSchema): string[] {
  return schema.features.flatMap((f) =>
    f.type === 'timestamp' ? TIMESTAMP_PARTS.map((p) => timestampPartName(f.name, p)) : [f.name],
  );
}

/** The UTC calendar parts of a timestamp in epoch milliseconds (NaN in, NaN out). */
export function timestampParts(epochMs: number): Record<TimestampPart, number> {
  if (!Number.isFinite(epochMs)) {
    return { hour: Number.NaN, day_of_week: Number.NaN, day_of_month: Number.NaN, month: Number.NaN };
  }
  const d = new Date(epochMs);
  return {
    hour: d.getUTCHours(),
    day_of_week: (d.getUTCDay() + 6) % 7,
    day_of_month: d.getUTCDate(),
    month: d.getUTCMonth() + 1,
  };
}

function numericValue(feature: Feature, value: FeatureRecord[string] | undefined): number {
  if (value === null || value === undefined) return Number.NaN;
  if (feature.type === 'boolean') return value ? 1 : 0;
  return value as number;
}

/** Turns validated records into the graph's input tensors. */
export function recordsToInputs(
  schema: FeatureSchema,
  records: readonly FeatureRecord[],
): Record<string, InputTensor> {
  const n = records.length;
  const inputs: Record<string, InputTensor> = {};
  for (const feature of schema.features) {
    if (feature.type === 'category') {
      const data = records.map((r) => {
        const v = r[feature.name];
        return v === null || v === undefined ? '' : String(v);
      });
      inputs[feature.name] = { type: 'string', data, dims: [n, 1] };
    } else if (feature.type === 'timestamp') {
      const parts = TIMESTAMP_PARTS.map(() => new Float32Array(n));
      records.forEach((r, i) => {
        const v = r[feature.name];
        const ms = v === null || v === undefined ? Number.NaN : Date.parse(String(v));
        const values = timestampParts(ms);
        TIMESTAMP_PARTS.forEach((p, k) => {
          parts[k]![i] = values[p];
        });
      });
      TIMESTAMP_PARTS.forEach((p, k) => {
        inputs[timestampPartName(feature.name, p)] = { type: 'float32', data: parts[k]!, dims: [n, 1] };
      });
    } else {
      const data = new Float32Array(n);
      records.forEach((r, i) => {
        data[i] = numericValue(feature, r[feature.name]);
      });
      inputs[feature.name] = { type: 'float32', data, dims: [n, 1] };
    }
  }
  return inputs;
}
