import {
  DEFAULT_TIMESTAMP_PARTS,
  type Feature,
  type FeatureRecord,
  type FeatureSchema,
  featureInputNames,
  GRAPH_NAME,
  type TimestampPart,
  timestampPartsOf,
} from './feature-schema.js';

/**
 * The contract between a feature schema and the ONNX graph the trainer exports: how records
 * become the graph's input tensors, and what the graph's outputs are called. The trainer (for
 * the parity check) and the inference server both go through these functions, so they feed the
 * graph identically.
 *
 * Inputs, one per feature, each shaped [N, 1], named after the feature's input name (its
 * `input` in the schema, else its name: a column called `Beak Length (mm)` feeds an input such
 * as `f2_Beak_Length_mm`, since ONNX names are C identifiers; callers never see it):
 * - number, integer, boolean → float32; missing → NaN; boolean → 0/1.
 * - category → string; missing → '' (the graph maps '' and unseen levels to its
 *   unknown/missing encoding).
 * - timestamp → one float32 input `<input>__<part>` per part the schema lists (default
 *   hour, day_of_week (0 = Monday), day_of_month, month (1–12); also year), all in UTC;
 *   missing → NaN. A graph cannot parse ISO-8601 text, and these parts are pure functions of
 *   the value, so they are computed here, in the one place both sides share.
 *
 * Outputs:
 * - binary classification: `label` (int64 [N], the class at the model's decision threshold)
 *   and `probability` (float32 [N], probability of the positive class).
 * - regression: `prediction` (float32 [N]).
 */
/** The parts of a schema without `parts`; ALL_TIMESTAMP_PARTS are those a trainer may choose. */
export const TIMESTAMP_PARTS = DEFAULT_TIMESTAMP_PARTS;
export const ALL_TIMESTAMP_PARTS: readonly TimestampPart[] = [...DEFAULT_TIMESTAMP_PARTS, 'year'];
export type { TimestampPart } from './feature-schema.js';

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
  return schema.features.flatMap(featureInputNames);
}

/** The graph input (or, for a timestamp, the base of its part inputs) of a feature. */
export function inputBase(feature: Pick<Feature, 'name' | 'input'>): string {
  return feature.input ?? feature.name;
}

// The graph's outputs, and the intermediate names the trainer's graph builder makes
// (`<op>_<n>`): an input called either would clash with them.
const TAKEN = new Set([OUTPUT_LABEL, OUTPUT_PROBABILITY, OUTPUT_PREDICTION]);
const BUILDER_NAME = /_\d+$/;

/**
 * The `input` each feature needs in the schema (undefined: its name serves): a name that is a
 * C identifier, clashes with nothing and does not look like a generated name stays; any other
 * becomes `f<position>_<its letters and digits>`. Decided once, by the trainer, and written
 * into schema.json, so a later change of this rule cannot break a registered model.
 */
export function assignGraphInputs(
  features: readonly Pick<Feature, 'name' | 'type' | 'parts'>[],
): (string | undefined)[] {
  const used = new Set(TAKEN);
  const fits = (f: Pick<Feature, 'name' | 'type' | 'parts'>, base: string) =>
    featureInputNames({ ...f, input: base }).every(
      (n) => GRAPH_NAME.test(n) && !BUILDER_NAME.test(n) && !used.has(n),
    );
  return features.map((f, i) => {
    let base = f.name;
    let input: string | undefined;
    if (!fits(f, base)) {
      const letters = f.name
        .normalize('NFKD')
        .replace(/[^A-Za-z0-9]+/g, '_')
        .replace(/^_+|_+$/g, '')
        .slice(0, 40);
      base = letters ? `f${i}_${letters}` : `f${i}`;
      while (!fits(f, base)) base += '_';
      input = base;
    }
    for (const n of featureInputNames({ ...f, input: base })) used.add(n);
    return input;
  });
}

/** The UTC calendar parts of a timestamp in epoch milliseconds (NaN in, NaN out). */
export function timestampParts(epochMs: number): Record<TimestampPart, number> {
  if (!Number.isFinite(epochMs)) {
    return {
      hour: Number.NaN,
      day_of_week: Number.NaN,
      day_of_month: Number.NaN,
      month: Number.NaN,
      year: Number.NaN,
    };
  }
  const d = new Date(epochMs);
  return {
    hour: d.getUTCHours(),
    day_of_week: (d.getUTCDay() + 6) % 7,
    day_of_month: d.getUTCDate(),
    month: d.getUTCMonth() + 1,
    year: d.getUTCFullYear(),
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
    const base = inputBase(feature);
    if (feature.type === 'category') {
      const data = records.map((r) => {
        const v = r[feature.name];
        return v === null || v === undefined ? '' : String(v);
      });
      inputs[base] = { type: 'string', data, dims: [n, 1] };
    } else if (feature.type === 'timestamp') {
      const wanted = timestampPartsOf(feature);
      const parts = wanted.map(() => new Float32Array(n));
      records.forEach((r, i) => {
        const v = r[feature.name];
        const ms = v === null || v === undefined ? Number.NaN : Date.parse(String(v));
        const values = timestampParts(ms);
        wanted.forEach((p, k) => {
          parts[k]![i] = values[p];
        });
      });
      wanted.forEach((p, k) => {
        inputs[timestampPartName(base, p)] = { type: 'float32', data: parts[k]!, dims: [n, 1] };
      });
    } else {
      const data = new Float32Array(n);
      records.forEach((r, i) => {
        data[i] = numericValue(feature, r[feature.name]);
      });
      inputs[base] = { type: 'float32', data, dims: [n, 1] };
    }
  }
  return inputs;
}
