import {
  ARTIFACT,
  type ArtifactName,
  artifactUri,
  readArtifactText as readTextUri,
  siblingUri,
} from '../core/artifacts.js';
import { readDataset, type Table } from '../core/dataset/index.js';
import type { Pool } from '../core/db/index.js';
import { DataError, errorMessage } from '../core/errors.js';
import { type FeatureSchema, parseFeatureSchema } from '../core/feature-schema.js';
import type { S3SettingsValues } from '../core/object-store/index.js';
import { getVersion } from '../core/registry.js';

/** Reading by URI and sibling URIs are the artifacts contract (core/artifacts.ts). */
export { readTextUri, siblingUri };

export interface ModelArtifacts {
  referenceUri: string;
  schemaUri: string;
  /** metrics.json, when known. */
  metricsUri: string | undefined;
  /** The schema digest the registry recorded for the version. */
  registeredSchemaDigest: string | undefined;
  task: string | undefined;
  /** Holdout metrics from the registry (split `holdout`). */
  registryHoldout: Record<string, number> | undefined;
}

/** Where a registered version's reference, schema and metrics are, from the registry. */
export async function registeredArtifacts(
  pool: Pool,
  namespace: string,
  modelName: string,
  version: string,
): Promise<ModelArtifacts> {
  const stored = await getVersion(pool, namespace, modelName, version);
  if (!stored) {
    throw new DataError(
      `model version ${modelName}/${version} is not in the registry of namespace ${namespace}: pass --reference and --schema`,
    );
  }
  const find = (name: ArtifactName) => artifactUri(stored, name);
  const referenceUri = find(ARTIFACT.reference);
  const schemaUri = find(ARTIFACT.schema);
  if (!referenceUri || !schemaUri) {
    throw new DataError(
      `the registry has no reference.parquet/schema.json for ${modelName}/${version} (artifact root ${stored.artifactRoot ?? 'unknown'})`,
    );
  }
  return {
    referenceUri,
    schemaUri,
    metricsUri: find(ARTIFACT.metrics),
    registeredSchemaDigest: stored.schemaDigest ?? undefined,
    task: stored.task,
    registryHoldout: stored.metrics.holdout,
  };
}

export async function loadSchema(uri: string, s3?: S3SettingsValues): Promise<FeatureSchema> {
  let text: string;
  try {
    text = await readTextUri(uri, s3);
  } catch (err) {
    throw new DataError(`cannot read the feature schema ${uri}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    return parseFeatureSchema(text);
  } catch (err) {
    throw new DataError(`invalid feature schema ${uri}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Holdout metrics from metrics.json (`holdout` object); undefined when the file is absent. */
export async function loadHoldoutMetrics(
  uri: string,
  s3?: S3SettingsValues,
): Promise<Record<string, number> | undefined> {
  let text: string;
  try {
    text = await readTextUri(uri, s3);
  } catch {
    return undefined;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DataError(`invalid metrics file ${uri}: ${errorMessage(err)}`);
  }
  const holdout = (doc as { holdout?: unknown }).holdout;
  if (!holdout || typeof holdout !== 'object') return undefined;
  return Object.fromEntries(
    Object.entries(holdout as Record<string, unknown>).filter(
      (e): e is [string, number] => typeof e[1] === 'number',
    ),
  );
}

export async function loadTable(uri: string, what: string, s3?: S3SettingsValues): Promise<Table> {
  try {
    return await readDataset(uri, { s3: s3 ?? { s3Region: 'us-east-1' } });
  } catch (err) {
    throw new DataError(`cannot read the ${what} data ${uri}: ${errorMessage(err)}`, { cause: err });
  }
}
