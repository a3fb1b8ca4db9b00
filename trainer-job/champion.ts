import { ARTIFACT, artifactUri, readArtifact, readArtifactText } from '../core/artifacts.js';
import type { Pool } from '../core/db/index.js';
import { errorMessage } from '../core/errors.js';
import { type FeatureSchema, parseFeatureSchema } from '../core/feature-schema.js';
import { classificationMetrics, regressionMetrics } from '../core/metrics.js';
import type { S3SettingsValues } from '../core/object-store/index.js';
import { getAlias, getVersion, type StoredVersion } from '../core/registry.js';
import type { PreparedData } from './data/dataset.js';
import { scoreWithOnnx } from './evaluate/onnx-scoring.js';
import type { toRecords } from './evaluate/records.js';
import type { ChampionComparison } from './gate.js';
import { headlineMetric } from './metrics-document.js';

/** The registry alias the operator moves on promotion and rollback. */
export const CHAMPION_ALIAS = 'champion';

/**
 * The actual champion (the registry alias `champion`, which the operator and the demo move)
 * measured for this run's gate. Its own model.onnx scores this run's holdout when it can read
 * these rows (same task, every feature it needs present); otherwise — a model built on other
 * features — its recorded holdout metric stands in, and the comparison says so.
 */
export async function compareWithChampion(
  pool: Pool,
  namespace: string,
  modelName: string,
  version: string,
  data: PreparedData,
  records: ReturnType<typeof toRecords>,
  s3: S3SettingsValues,
): Promise<ChampionComparison | undefined> {
  const championVersion = await getAlias(pool, namespace, modelName, CHAMPION_ALIAS);
  if (!championVersion || championVersion === version) return undefined;
  const stored = await getVersion(pool, namespace, modelName, championVersion);
  if (!stored) return { version: championVersion, error: 'it is not in the registry' };
  let schema: FeatureSchema;
  try {
    schema = await championSchema(stored, s3);
  } catch (err) {
    return recordedHoldout(stored, data, `its ${ARTIFACT.schema} could not be read: ${errorMessage(err)}`);
  }
  const mismatch = schemaMismatch(schema, data);
  if (mismatch) return recordedHoldout(stored, data, mismatch);
  try {
    return {
      version: championVersion,
      value: await scoreOnHoldout(stored, schema, data, records, s3),
      basis: 'same-holdout',
    };
  } catch (err) {
    // E.g. a feature of the same name but another type: the rows do not fit after all.
    return recordedHoldout(
      stored,
      data,
      `its ${ARTIFACT.model} could not score these rows: ${errorMessage(err)}`,
    );
  }
}

async function championSchema(stored: StoredVersion, s3: S3SettingsValues): Promise<FeatureSchema> {
  const uri = artifactUri(stored, ARTIFACT.schema);
  if (!uri) throw new Error(`its ${ARTIFACT.schema} is not recorded`);
  return parseFeatureSchema(await readArtifactText(uri, s3));
}

/** Why the champion cannot score these rows, or undefined when it can. */
function schemaMismatch(schema: FeatureSchema, data: PreparedData): string | undefined {
  if (schema.task !== data.task) return `it is a ${schema.task} model`;
  const known = new Set(data.features.map((f) => f.name));
  const missing = schema.features.filter((f) => !known.has(f.name)).map((f) => f.name);
  return missing.length ? `it needs features this dataset lacks: ${missing.join(', ')}` : undefined;
}

async function scoreOnHoldout(
  stored: StoredVersion,
  schema: FeatureSchema,
  data: PreparedData,
  records: ReturnType<typeof toRecords>,
  s3: S3SettingsValues,
): Promise<number> {
  const uri = artifactUri(stored, ARTIFACT.model);
  if (!uri) throw new Error(`its ${ARTIFACT.model} is not recorded`);
  const scores = await scoreWithOnnx(await readArtifact(uri, s3), schema, records);
  const y = data.target.subarray(...data.splits.holdout);
  return data.task === 'binary-classification'
    ? classificationMetrics(y, scores, 0.5).roc_auc
    : regressionMetrics(y, scores).rmse;
}

/** The champion's own holdout metric, as recorded when it was trained: another set of rows. */
function recordedHoldout(stored: StoredVersion, data: PreparedData, why: string): ChampionComparison {
  const value = stored.metrics.holdout?.[headlineMetric(data.task)];
  if (value === undefined || stored.task !== data.task) {
    return { version: stored.version, error: `${why}, and no comparable recorded holdout metric` };
  }
  return { version: stored.version, value, basis: 'recorded-holdout', note: why };
}
