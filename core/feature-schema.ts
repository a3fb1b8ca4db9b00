import { z } from 'zod';
import { canonicalJson, sha256 } from './digest.js';

/**
 * The fixed feature schema: frozen by the trainer, shipped beside the model as `schema.json`,
 * and used by the inference server to validate every request. Training and serving read the
 * same file, so they cannot disagree about what a record looks like.
 */

export const Task = z.enum(['binary-classification', 'regression']).describe('What the model predicts.');
export type Task = z.infer<typeof Task>;

export const FeatureType = z
  .enum(['number', 'integer', 'boolean', 'category', 'timestamp'])
  .describe('number: finite float; integer; boolean; category: string label; timestamp: ISO-8601 string.');
export type FeatureType = z.infer<typeof FeatureType>;

export const UnseenCategoryPolicy = z
  .enum(['encode-as-unknown', 'reject'])
  .describe(
    'encode-as-unknown: accept and treat as an unknown level (counted as a drift signal); reject: 422.',
  );

/**
 * A column name as the data has it: spaces, units, punctuation and non-ASCII letters are kept
 * (`Beak Length (mm)`); requests, responses, logs and reports use it as is. Only control
 * characters are refused. Inside the ONNX graph a name that is not a C identifier travels
 * under a safe input name (`input`, see core/model-input.ts).
 */
const featureName = z
  .string()
  .min(1, 'a name cannot be empty')
  .max(256, 'a name has at most 256 characters')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'a name cannot contain control characters');

/** What the ONNX graph calls an input: a C identifier, as the ONNX IR requires of names. */
export const GRAPH_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * What a timestamp feature gives the model, all in UTC. A graph cannot parse ISO-8601 text, so
 * core/model-input.ts computes the parts; the trainer keeps the ones its data varies in.
 */
export const TimestampPart = z.enum(['hour', 'day_of_week', 'day_of_month', 'month', 'year']);
export type TimestampPart = z.infer<typeof TimestampPart>;

export const Feature = z
  .object({
    name: featureName,
    type: FeatureType,
    nullable: z.boolean().describe('Whether the value may be null or absent (treated as missing).'),
    description: z.string().default(''),
    categories: z
      .array(z.string())
      .optional()
      .describe('For category features: the levels seen in training, in encoding order.'),
    unseen: UnseenCategoryPolicy.optional(),
    range: z
      .object({ min: z.number(), max: z.number() })
      .optional()
      .describe('For numeric features: the range seen in training (informational, not enforced).'),
    input: z
      .string()
      .regex(GRAPH_NAME, 'a graph input name is a letter or _ then up to 62 letters, digits or _')
      .optional()
      .describe('The ONNX graph input this feature feeds, when its name cannot be one (default: the name).'),
    parts: z
      .array(TimestampPart)
      .min(1)
      .optional()
      .describe(
        'For timestamp features: the UTC parts the model takes (default hour, day_of_week, day_of_month, month).',
      ),
  })
  .superRefine((f, ctx) => {
    if (f.type !== 'timestamp' && f.parts) {
      ctx.addIssue({ code: 'custom', message: `only timestamp features have parts (${f.name})` });
    }
    if (f.type === 'category' && !f.categories) {
      ctx.addIssue({ code: 'custom', message: `category feature ${f.name} needs its categories` });
    }
    if (f.type !== 'category' && (f.categories || f.unseen)) {
      ctx.addIssue({ code: 'custom', message: `only category features have categories (${f.name})` });
    }
  });
export type Feature = z.infer<typeof Feature>;

export const Target = z.object({
  name: featureName,
  type: z.enum(['boolean', 'number']).describe('boolean for binary classification, number for regression.'),
  description: z.string().default(''),
  classes: z
    .object({ positive: z.string(), negative: z.string() })
    .optional()
    .describe(
      'Binary classification: the two values as the data stores them (e.g. MALE / FEMALE); the model predicts positive as 1 / true.',
    ),
});
export type Target = z.infer<typeof Target>;

const FeatureSchemaBody = z.object({
  schemaVersion: z.literal(1),
  task: Task,
  target: Target,
  features: z.array(Feature).min(1),
});

export const FeatureSchema = FeatureSchemaBody.extend({
  digest: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'expected sha256:<64 hex digits>'),
}).superRefine((s, ctx) => {
  const names = new Set<string>();
  // Whether the graph takes these inputs is checked where a graph meets its schema (the
  // server's model load); a schema without a model (drift on two files) names no graph.
  const inputs = new Set<string>();
  for (const f of s.features) {
    if (names.has(f.name)) ctx.addIssue({ code: 'custom', message: `duplicate feature ${f.name}` });
    if (f.name === s.target.name)
      ctx.addIssue({ code: 'custom', message: `the target ${f.name} is also a feature` });
    names.add(f.name);
    if (f.input === undefined) continue;
    for (const input of featureInputNames(f)) {
      if (inputs.has(input)) ctx.addIssue({ code: 'custom', message: `duplicate graph input ${input}` });
      inputs.add(input);
    }
  }
  if ((s.task === 'binary-classification') !== (s.target.type === 'boolean')) {
    ctx.addIssue({ code: 'custom', message: `task ${s.task} does not fit a ${s.target.type} target` });
  }
});
export type FeatureSchema = z.infer<typeof FeatureSchema>;
export type FeatureSchemaInput = z.input<typeof FeatureSchemaBody>;

/** The parts of a timestamp feature a schema without `parts` means (every model before them). */
export const DEFAULT_TIMESTAMP_PARTS: readonly TimestampPart[] = [
  'hour',
  'day_of_week',
  'day_of_month',
  'month',
];

type GraphFeature = Pick<Feature, 'name' | 'type' | 'input' | 'parts'>;

/** The timestamp parts a feature gives the model (none for other types). */
export function timestampPartsOf(f: GraphFeature): readonly TimestampPart[] {
  return f.type === 'timestamp' ? (f.parts ?? DEFAULT_TIMESTAMP_PARTS) : [];
}

/**
 * The ONNX graph inputs one feature feeds, in order: its input name (`input`, else its name),
 * or for a timestamp `<input>__<part>` per part.
 */
export function featureInputNames(f: GraphFeature): string[] {
  const base = f.input ?? f.name;
  return f.type === 'timestamp' ? timestampPartsOf(f).map((p) => `${base}__${p}`) : [base];
}

/** The digest covers everything but itself, in canonical JSON. */
export function featureSchemaDigest(body: FeatureSchemaInput): string {
  const { digest: _ignored, ...rest } = FeatureSchemaBody.parse(body) as z.infer<typeof FeatureSchemaBody> & {
    digest?: string;
  };
  return sha256(canonicalJson(rest));
}

/** Validates a schema body and stamps its digest. */
export function createFeatureSchema(body: FeatureSchemaInput): FeatureSchema {
  const parsed = FeatureSchemaBody.parse(body);
  return FeatureSchema.parse({ ...parsed, digest: featureSchemaDigest(parsed) });
}

/** Parses `schema.json` text and checks that its digest matches its content. */
export function parseFeatureSchema(text: string): FeatureSchema {
  const schema = FeatureSchema.parse(JSON.parse(text));
  const expected = featureSchemaDigest(schema);
  if (schema.digest !== expected) {
    throw new Error(`schema.json digest mismatch: file says ${schema.digest}, content is ${expected}`);
  }
  return schema;
}

/**
 * Why a model frozen with schema `other` cannot take the records `schema` accepts (null: it
 * can). The request contract is the task, the target and each feature's name and type, and a
 * feature `schema` lets be missing must be nullable in `other` too. Category levels, ranges and
 * descriptions are what one training run saw: they differ between versions trained on
 * different data (a level a model never saw is encoded as unknown), so they are not compared.
 */
export function requestContractDifference(schema: FeatureSchema, other: FeatureSchema): string | null {
  if (schema.task !== other.task) return `task ${other.task}, not ${schema.task}`;
  if (schema.target.name !== other.target.name || schema.target.type !== other.target.type)
    return `target ${other.target.name} (${other.target.type}), not ${schema.target.name} (${schema.target.type})`;
  const names = (s: FeatureSchema) => s.features.map((f) => f.name).join(', ');
  if (names(schema) !== names(other)) return `features [${names(other)}], not [${names(schema)}]`;
  for (const [i, f] of schema.features.entries()) {
    const g = other.features[i]!;
    if (f.type !== g.type) return `feature ${f.name} is ${g.type}, not ${f.type}`;
    if (f.nullable && !g.nullable) return `feature ${f.name} may be missing, but not for the other model`;
  }
  return null;
}

export function serializeFeatureSchema(schema: FeatureSchema): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** A record as the inference server receives it, after validation. */
export type FeatureRecord = Record<string, number | boolean | string | null>;

// Timestamps travel as ISO-8601 with an explicit offset or Z, e.g. 2001-03-04T17:25:00Z.
// A local time without offset would be read differently by different servers, so it is refused.
const isoTimestamp = z.iso.datetime({
  offset: true,
  message: 'expected an ISO-8601 timestamp with offset or Z',
});

// A calendar date alone (2001-03-04) is unambiguous too: it is read as that day at 00:00 UTC.
const isoDate = z.iso.date();
// A union rather than a refinement: the OpenAPI document (JSON Schema of this validator) then
// states both forms, so a client or a contract test never takes "" for a timestamp.
const timestampText = z.union([isoTimestamp, isoDate], {
  error: 'expected an ISO-8601 timestamp with offset or Z, or a date (YYYY-MM-DD)',
});

function valueValidator(feature: Feature): z.ZodType {
  switch (feature.type) {
    case 'number':
      return z.number({ message: 'expected a finite number' }).finite();
    case 'integer':
      return z.number({ message: 'expected an integer' }).int({ message: 'expected an integer' });
    case 'boolean':
      return z.boolean({ message: 'expected true or false' });
    case 'timestamp':
      return timestampText;
    case 'category': {
      if (feature.unseen === 'reject') {
        return z.enum(feature.categories as [string, ...string[]], {
          message: `expected one of the ${feature.categories?.length} known categories`,
        });
      }
      return z.string({ message: 'expected a string' });
    }
  }
}

/**
 * The strict validator for one request record: unknown fields, missing non-nullable fields,
 * wrong types, non-finite numbers and malformed timestamps are all rejected, each issue
 * carrying the field's path. Nullable features may be null or absent.
 */
export function buildRecordValidator(schema: FeatureSchema): z.ZodType<FeatureRecord> {
  const shape: Record<string, z.ZodType> = {};
  for (const feature of schema.features) {
    const value = valueValidator(feature);
    shape[feature.name] = feature.nullable ? value.nullable().optional() : value;
  }
  return z.strictObject(shape) as unknown as z.ZodType<FeatureRecord>;
}

export interface FieldIssue {
  /** Dotted path: `origin`, or `3.origin` for the fourth record of a batch. */
  field: string;
  message: string;
}

/**
 * Flattens a zod error into one entry per bad field, for problem+json responses. Pass the input
 * that was validated so a missing field can be told apart from a wrong one.
 */
export function fieldIssues(error: z.ZodError, input?: unknown): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        out.push({ field: [...issue.path, key].join('.'), message: 'unknown field' });
      continue;
    }
    const missing =
      (issue.code === 'invalid_type' || issue.code === 'invalid_union') &&
      input !== undefined &&
      !hasPath(input, issue.path);
    out.push({
      field: issue.path.join('.') || '(record)',
      message: missing ? 'required field is missing' : issue.message,
    });
  }
  return out;
}

function hasPath(value: unknown, path: readonly PropertyKey[]): boolean {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return false;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current !== undefined;
}
