import { z } from 'zod';
import { ArtifactRecord } from './artifacts.js';
import { type Pool, type PoolClient, withTransaction } from './db/index.js';
import { UserError } from './errors.js';
import { Task } from './feature-schema.js';
import { Namespace } from './tenant.js';

/** The lifecycle statuses of a model version in the registry. */
export const VersionStatus = z.enum(['training', 'registered', 'rejected', 'failed']);
export type VersionStatus = z.infer<typeof VersionStatus>;

/** Re-exported: the artifact record is the artifacts contract (core/artifacts.ts). */
export { ArtifactRecord };

/**
 * Where a version's training data came from and why it was trained: recorded by the trainer,
 * copied by the operator into the ModelVersion's status.lineage.
 */
export const VersionLineage = z.object({
  source: z.enum(['Dataset', 'Production']).describe('What it learned from.'),
  dataset: z.string().min(1).describe('The dataset URI it read.'),
  /** Production: the model whose prediction log was read, and the versions that logged it. */
  model: z.string().optional(),
  versions: z.array(z.string()).optional(),
  /** The data window: log time for Production, the time column for a Dataset read with --since/--until. */
  since: z.string().optional(),
  until: z.string().optional(),
  rows: z.number().int().nonnegative().describe('Rows it learned from (all splits).'),
  /** Production: requests logged in the window, those with a label, and original rows added. */
  loggedRows: z.number().int().nonnegative().optional(),
  labelledRows: z.number().int().nonnegative().optional(),
  originalRows: z.number().int().nonnegative().optional(),
  datasetDigest: z.string().optional(),
  /** Why it was trained (ModelVersion spec.lineage): the operator's retraining. */
  retrainedFrom: z.string().optional(),
  deployment: z.string().optional(),
  driftMonitor: z.string().optional(),
  driftRun: z.string().optional(),
});
export type VersionLineage = z.infer<typeof VersionLineage>;

/** Everything the trainer records about one version, in one transaction. */
export const VersionRecord = z.object({
  /** The tenant the version belongs to (core/tenant.ts). */
  namespace: Namespace,
  modelName: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a DNS-1123 label, e.g. flights-delay'),
  version: z.string().regex(/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/, 'e.g. v1 or 2026-11-27.1'),
  task: Task,
  status: VersionStatus,
  deployable: z.boolean(),
  gate: z.object({ passed: z.boolean(), reasons: z.array(z.string()) }).optional(),
  schemaDigest: z.string().optional(),
  datasetUri: z.string().optional(),
  datasetDigest: z.string().optional(),
  artifactRoot: z.string().optional(),
  params: z.record(z.string(), z.unknown()).default({}),
  /** split → metric name → value, e.g. { holdout: { roc_auc: 0.71 }, baseline: { roc_auc: 0.5 } } */
  metrics: z.record(z.string(), z.record(z.string(), z.number())).default({}),
  tags: z.record(z.string(), z.string()).default({}),
  artifacts: z.array(ArtifactRecord).default([]),
  lineage: VersionLineage.optional(),
});
export type VersionRecord = z.input<typeof VersionRecord>;

export type LifecycleEventKind =
  | 'trained'
  | 'registered'
  | 'rejected'
  | 'failed'
  | 'alias_set'
  | 'served'
  | 'drift_detected'
  | 'alert'
  | 'retrain_requested'
  | 'retrained'
  | 'shadow_started'
  | 'promoted'
  | 'quality_degraded'
  | 'rolled_back';

/** A registered or rejected (namespace, model, version) exists: it is never written again. */
export class VersionExistsError extends UserError {
  constructor(
    readonly namespace: string,
    readonly modelName: string,
    readonly version: string,
    readonly status: VersionStatus,
  ) {
    super(
      `model version ${modelName}/${version} is already ${status} in namespace ${namespace}: a registered or rejected version never changes; train a new version`,
      { exitCode: 4 },
    );
    this.name = 'VersionExistsError';
  }
}

const FINAL_STATUSES: readonly VersionStatus[] = ['registered', 'rejected'];

/** Whether a version with this status is final (registered or rejected: it never changes again). */
export function isFinalStatus(status: VersionStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/**
 * Throws VersionExistsError if (namespace, model, version) is registered or rejected: callers
 * check before they spend a training run on a version that could never be recorded.
 */
export async function assertVersionFree(
  db: Pool | PoolClient,
  namespace: string,
  modelName: string,
  version: string,
): Promise<void> {
  const { rows } = await db.query<{ status: VersionStatus }>(
    'SELECT status FROM model_versions WHERE namespace = $1 AND model_name = $2 AND version = $3',
    [namespace, modelName, version],
  );
  const status = rows[0]?.status;
  if (status && isFinalStatus(status)) throw new VersionExistsError(namespace, modelName, version, status);
}

/**
 * Writes a version and everything about it, once. A registered or rejected (namespace, model,
 * version) is never overwritten (VersionExistsError; a database trigger refuses it too); a
 * version recorded as training or failed is replaced.
 */
export async function saveVersion(pool: Pool, input: VersionRecord): Promise<void> {
  const record = VersionRecord.parse(input);
  const key = [record.namespace, record.modelName, record.version];
  await withTransaction(pool, async (db) => {
    await db.query(
      `INSERT INTO models (namespace, name, task) VALUES ($1, $2, $3) ON CONFLICT (namespace, name) DO NOTHING`,
      [record.namespace, record.modelName, record.task],
    );
    const { rows } = await db.query<{ task: string }>(
      'SELECT task FROM models WHERE namespace = $1 AND name = $2',
      [record.namespace, record.modelName],
    );
    if (rows[0]?.task !== record.task) {
      throw new Error(
        `model ${record.modelName} is a ${rows[0]?.task} model; cannot add a ${record.task} version`,
      );
    }
    // Row lock first: two writers of the same version are serialised, the second sees the first's.
    await db.query(
      'SELECT 1 FROM model_versions WHERE namespace = $1 AND model_name = $2 AND version = $3 FOR UPDATE',
      key,
    );
    await assertVersionFree(db, record.namespace, record.modelName, record.version);
    await db.query(
      `INSERT INTO model_versions (namespace, model_name, version, status, deployable, gate_passed, gate_reasons,
         schema_digest, dataset_uri, dataset_digest, artifact_root, lineage)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (namespace, model_name, version) DO UPDATE SET status = EXCLUDED.status,
         deployable = EXCLUDED.deployable, gate_passed = EXCLUDED.gate_passed, gate_reasons = EXCLUDED.gate_reasons,
         schema_digest = EXCLUDED.schema_digest, dataset_uri = EXCLUDED.dataset_uri,
         dataset_digest = EXCLUDED.dataset_digest, artifact_root = EXCLUDED.artifact_root,
         lineage = EXCLUDED.lineage, updated_at = now()`,
      [
        ...key,
        record.status,
        record.deployable,
        record.gate?.passed ?? null,
        JSON.stringify(record.gate?.reasons ?? []),
        record.schemaDigest ?? null,
        record.datasetUri ?? null,
        record.datasetDigest ?? null,
        record.artifactRoot ?? null,
        record.lineage ? JSON.stringify(record.lineage) : null,
      ],
    );
    for (const table of [
      'model_version_params',
      'model_version_metrics',
      'model_version_tags',
      'model_version_artifacts',
    ]) {
      await db.query(`DELETE FROM ${table} WHERE namespace = $1 AND model_name = $2 AND version = $3`, key);
    }
    for (const [name, value] of Object.entries(record.params)) {
      await db.query(
        'INSERT INTO model_version_params (namespace, model_name, version, key, value) VALUES ($1, $2, $3, $4, $5)',
        [...key, name, JSON.stringify(value)],
      );
    }
    for (const [split, values] of Object.entries(record.metrics)) {
      for (const [name, value] of Object.entries(values)) {
        await db.query(
          'INSERT INTO model_version_metrics (namespace, model_name, version, split, name, value) VALUES ($1, $2, $3, $4, $5, $6)',
          [...key, split, name, value],
        );
      }
    }
    for (const [name, value] of Object.entries(record.tags)) {
      await db.query(
        'INSERT INTO model_version_tags (namespace, model_name, version, key, value) VALUES ($1, $2, $3, $4, $5)',
        [...key, name, value],
      );
    }
    for (const a of record.artifacts) {
      await db.query(
        `INSERT INTO model_version_artifacts (namespace, model_name, version, name, uri, sha256, size_bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [...key, a.name, a.uri, a.sha256, a.sizeBytes],
      );
    }
    await recordEvent(
      db,
      record.namespace,
      record.modelName,
      record.version,
      record.status === 'training' ? 'trained' : record.status,
      {
        deployable: record.deployable,
        gate: record.gate ?? null,
      },
    );
  });
}

export interface StoredVersion {
  namespace: string;
  modelName: string;
  version: string;
  task: Task;
  status: VersionStatus;
  deployable: boolean;
  gate: { passed: boolean | null; reasons: string[] };
  schemaDigest: string | null;
  datasetUri: string | null;
  datasetDigest: string | null;
  artifactRoot: string | null;
  createdAt: Date;
  params: Record<string, unknown>;
  metrics: Record<string, Record<string, number>>;
  tags: Record<string, string>;
  artifacts: ArtifactRecord[];
  /** What it learned from and why (absent for versions recorded before lineage was). */
  lineage?: VersionLineage | undefined;
}

export async function getVersion(
  pool: Pool,
  namespace: string,
  modelName: string,
  version: string,
): Promise<StoredVersion | undefined> {
  const key = [namespace, modelName, version];
  const { rows } = await pool.query(
    `SELECT v.*, m.task FROM model_versions v
       JOIN models m ON m.namespace = v.namespace AND m.name = v.model_name
     WHERE v.namespace = $1 AND v.model_name = $2 AND v.version = $3`,
    key,
  );
  const row = rows[0];
  if (!row) return undefined;
  const [params, metrics, tags, artifacts] = await Promise.all([
    pool.query(
      'SELECT key, value FROM model_version_params WHERE namespace = $1 AND model_name = $2 AND version = $3',
      key,
    ),
    pool.query(
      'SELECT split, name, value FROM model_version_metrics WHERE namespace = $1 AND model_name = $2 AND version = $3',
      key,
    ),
    pool.query(
      'SELECT key, value FROM model_version_tags WHERE namespace = $1 AND model_name = $2 AND version = $3',
      key,
    ),
    pool.query(
      'SELECT name, uri, sha256, size_bytes FROM model_version_artifacts WHERE namespace = $1 AND model_name = $2 AND version = $3 ORDER BY name',
      key,
    ),
  ]);
  const metricMap: Record<string, Record<string, number>> = {};
  for (const m of metrics.rows) {
    metricMap[m.split] ??= {};
    metricMap[m.split]![m.name] = m.value;
  }
  return {
    namespace: row.namespace,
    modelName: row.model_name,
    version: row.version,
    task: row.task,
    status: row.status,
    deployable: row.deployable,
    gate: { passed: row.gate_passed, reasons: row.gate_reasons },
    schemaDigest: row.schema_digest,
    datasetUri: row.dataset_uri,
    datasetDigest: row.dataset_digest,
    artifactRoot: row.artifact_root,
    lineage: parseLineage(row.lineage),
    createdAt: row.created_at,
    params: Object.fromEntries(params.rows.map((p) => [p.key, p.value])),
    metrics: metricMap,
    tags: Object.fromEntries(tags.rows.map((t) => [t.key, t.value])),
    artifacts: artifacts.rows.map((a) => ({
      name: a.name,
      uri: a.uri,
      sha256: a.sha256,
      sizeBytes: a.size_bytes,
    })),
  };
}

/** What a version learned from and why it was trained; undefined when not recorded. */
export async function getLineage(
  pool: Pool,
  namespace: string,
  modelName: string,
  version: string,
): Promise<VersionLineage | undefined> {
  const { rows } = await pool.query<{ lineage: unknown }>(
    'SELECT lineage FROM model_versions WHERE namespace = $1 AND model_name = $2 AND version = $3',
    [namespace, modelName, version],
  );
  return parseLineage(rows[0]?.lineage);
}

function parseLineage(value: unknown): VersionLineage | undefined {
  if (value === null || value === undefined) return undefined;
  // A document this code cannot read is reported as absent rather than failing the caller.
  const parsed = VersionLineage.safeParse(typeof value === 'string' ? JSON.parse(value) : value);
  return parsed.success ? parsed.data : undefined;
}

/** The task a model was registered with; undefined for a model not yet in the registry. */
export async function getModelTask(
  pool: Pool,
  namespace: string,
  modelName: string,
): Promise<Task | undefined> {
  const { rows } = await pool.query<{ task: Task }>(
    'SELECT task FROM models WHERE namespace = $1 AND name = $2',
    [namespace, modelName],
  );
  return rows[0]?.task;
}

/** The next free `vN` label of a model: one above the highest `vN` it has (other labels ignored). */
export async function nextVersionLabel(pool: Pool, namespace: string, modelName: string): Promise<string> {
  const { rows } = await pool.query<{ max: number | null }>(
    `SELECT max(substring(version FROM '^v([0-9]+)$')::int) AS max FROM model_versions
     WHERE namespace = $1 AND model_name = $2`,
    [namespace, modelName],
  );
  return `v${(rows[0]?.max ?? 0) + 1}`;
}

export async function listVersions(
  pool: Pool,
  namespace: string,
  modelName: string,
): Promise<{ version: string; status: VersionStatus; deployable: boolean; createdAt: Date }[]> {
  const { rows } = await pool.query(
    `SELECT version, status, deployable, created_at FROM model_versions
     WHERE namespace = $1 AND model_name = $2 ORDER BY created_at, version`,
    [namespace, modelName],
  );
  return rows.map((r) => ({
    version: r.version,
    status: r.status,
    deployable: r.deployable,
    createdAt: r.created_at,
  }));
}

/** Points an alias (e.g. `champion`) at a version; only deployable versions may be champions. */
export async function setAlias(
  pool: Pool,
  namespace: string,
  modelName: string,
  alias: string,
  version: string,
  reason: string,
): Promise<void> {
  await withTransaction(pool, async (db) => {
    const { rows } = await db.query(
      'SELECT deployable FROM model_versions WHERE namespace = $1 AND model_name = $2 AND version = $3',
      [namespace, modelName, version],
    );
    if (!rows[0])
      throw new Error(`no version ${modelName}/${version} in the registry of namespace ${namespace}`);
    if (!rows[0].deployable)
      throw new Error(`${modelName}/${version} is not deployable (rejected or failed)`);
    const previous = await db.query(
      'SELECT version FROM model_aliases WHERE namespace = $1 AND model_name = $2 AND alias = $3',
      [namespace, modelName, alias],
    );
    await db.query(
      `INSERT INTO model_aliases (namespace, model_name, alias, version) VALUES ($1, $2, $3, $4)
       ON CONFLICT (namespace, model_name, alias) DO UPDATE SET version = EXCLUDED.version, updated_at = now()`,
      [namespace, modelName, alias, version],
    );
    await recordEvent(db, namespace, modelName, version, 'alias_set', {
      alias,
      previous: previous.rows[0]?.version ?? null,
      reason,
    });
  });
}

export async function getAlias(
  pool: Pool,
  namespace: string,
  modelName: string,
  alias: string,
): Promise<string | undefined> {
  const { rows } = await pool.query(
    'SELECT version FROM model_aliases WHERE namespace = $1 AND model_name = $2 AND alias = $3',
    [namespace, modelName, alias],
  );
  return rows[0]?.version;
}

/** Appends to the audit trail of a model's life. */
export async function recordEvent(
  db: Pool | PoolClient,
  namespace: string,
  modelName: string,
  version: string | null,
  kind: LifecycleEventKind,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.query(
    'INSERT INTO lifecycle_events (namespace, model_name, version, kind, detail) VALUES ($1, $2, $3, $4, $5)',
    [namespace, modelName, version, kind, JSON.stringify(detail)],
  );
}

export async function listEvents(
  pool: Pool,
  namespace: string,
  modelName: string,
): Promise<{ at: Date; version: string | null; kind: string; detail: Record<string, unknown> }[]> {
  const { rows } = await pool.query(
    'SELECT at, version, kind, detail FROM lifecycle_events WHERE namespace = $1 AND model_name = $2 ORDER BY id',
    [namespace, modelName],
  );
  return rows;
}
