import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import {
  insertPredictionLogRows,
  type PredictionLogRow,
  readLabelledRequests,
} from '../../core/prediction-log.js';
import { getVersion, listVersions, saveVersion, setAlias } from '../../core/registry.js';
import { ensureTenantRole, tenantDatabaseUrl, tenantRoleName } from '../../core/tenant-roles.js';
import { listRuns } from '../../drift-job/runs.js';
import { freshDatabaseUrl } from '../postgres.js';

/**
 * Tenants on the real PostgreSQL: each namespace's own role (core/tenant-roles.ts) sees and
 * writes only its namespace's rows — registry, prediction log, labels, drift runs — through
 * row-level security, whatever SQL it sends; the admin (the tables' owner) sees all.
 */

const suffix = randomBytes(4).toString('hex');
const A = `team-a-${suffix}`;
const B = `team-b-${suffix}`;
const MODEL = 'flights-delay';
const digest = `sha256:${'b'.repeat(64)}`;

let admin: Database;
let asA: Database;
let adminUrl: string;

function version(namespace: string, artifactRoot: string) {
  return {
    namespace,
    modelName: MODEL,
    version: 'v1',
    task: 'binary-classification' as const,
    status: 'registered' as const,
    deployable: true,
    artifactRoot,
    artifacts: [{ name: 'model.onnx', uri: `${artifactRoot}/model.onnx`, sha256: digest, sizeBytes: 1 }],
  };
}

function logged(namespace: string, requestId: string): PredictionLogRow {
  return {
    namespace,
    modelName: MODEL,
    modelVersion: 'v1',
    predictionId: requestId,
    requestId,
    recordIndex: null,
    features: { distance: 100 },
    prediction: 1,
    probability: 0.9,
    latencyMs: 1,
    createdAt: Date.parse('2026-11-01T00:00:00Z'),
  };
}

async function seed(namespace: string, root: string): Promise<void> {
  await saveVersion(admin.pool, version(namespace, root));
  await insertPredictionLogRows(admin.pool, [logged(namespace, 'r1'), logged(namespace, 'r2')]);
  await admin.pool.query(
    `INSERT INTO prediction_labels (namespace, model_name, prediction_id, label, observed_at)
     VALUES ($1, $2, 'r1', 1, now())`,
    [namespace, MODEL],
  );
  await admin.pool.query(
    `INSERT INTO drift_runs (namespace, id, monitor, started_at, finished_at, reference_rows, current_rows,
       labelled_rows, drift, dataset_drift, drift_share, prediction_drift, quality_verdict, verdict,
       consecutive_drifted_runs)
     VALUES ($1, 'dm-drift-1', $1 || '/dm', now(), now(), 1, 1, 0, 'no_drift', false, 0, false, 'NotEvaluated',
       'NoDrift', 0)`,
    [namespace],
  );
}

beforeAll(async () => {
  adminUrl = await freshDatabaseUrl();
  admin = await openDatabase({ databaseUrl: adminUrl, dataDir: '/nonexistent' });
  // The same model name, version and run id in both namespaces.
  await seed(A, 's3://b/namespaces/a');
  await seed(B, 's3://b/namespaces/b');
  const roleA = await ensureTenantRole(admin.pool, A);
  await ensureTenantRole(admin.pool, B);
  // A's workloads open the database as every mlcycle process does: migrations are current, so
  // the role that may not change the schema starts without trying to.
  asA = await openDatabase({ databaseUrl: tenantDatabaseUrl(adminUrl, roleA), dataDir: '/nonexistent' });
}, 60_000);

afterAll(async () => {
  await asA?.close();
  await admin?.close();
});

describe('a namespace’s own PostgreSQL role', () => {
  it('reads its own registry rows and none of another namespace’s', async () => {
    expect((await getVersion(asA.pool, A, MODEL, 'v1'))?.artifactRoot).toBe('s3://b/namespaces/a');
    expect(await getVersion(asA.pool, B, MODEL, 'v1')).toBeUndefined();
    expect(await listVersions(asA.pool, B, MODEL)).toEqual([]);
    // Whatever it asks for, the rows it gets are its own.
    const { rows } = await asA.pool.query<{ namespace: string }>(
      'SELECT DISTINCT namespace FROM model_versions UNION SELECT DISTINCT namespace FROM model_version_artifacts',
    );
    expect(rows.map((r) => r.namespace)).toEqual([A]);
    expect((await getVersion(admin.pool, B, MODEL, 'v1'))?.artifactRoot).toBe('s3://b/namespaces/b');
  });

  it('reads only its own prediction log, labels and drift runs', async () => {
    const count = async (table: string) =>
      (await asA.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    expect(await count('prediction_logs')).toBe(2);
    expect(await count('prediction_labels')).toBe(1);
    expect(await count('drift_runs')).toBe(1);
    expect(await listRuns(asA.pool, B, `${B}/dm`)).toEqual([]);
    const window = await readLabelledRequests(asA.pool, {
      namespace: B,
      modelName: MODEL,
      since: new Date('2026-10-01'),
      until: new Date('2026-12-01'),
      schema: {
        schemaVersion: 1,
        task: 'binary-classification',
        target: { name: 'late', type: 'boolean', description: '' },
        features: [{ name: 'distance', type: 'number', description: '' }],
        digest,
      } as never,
    });
    expect(window.loggedRows).toBe(0);
  });

  it('cannot write another namespace’s rows, by any statement', async () => {
    await expect(insertPredictionLogRows(asA.pool, [logged(B, 'forged')])).rejects.toThrow(
      /row-level security/,
    );
    await expect(
      asA.pool.query(
        `INSERT INTO prediction_labels (namespace, model_name, prediction_id, label, observed_at)
         VALUES ($1, $2, 'r2', 0, now())`,
        [B, MODEL],
      ),
    ).rejects.toThrow(/row-level security/);
    await expect(saveVersion(asA.pool, { ...version(B, 's3://b/evil'), version: 'v2' })).rejects.toThrow(
      /row-level security/,
    );
    await expect(setAlias(asA.pool, B, MODEL, 'champion', 'v1', 'takeover')).rejects.toThrow(
      /no version flights-delay\/v1 in the registry of namespace/,
    );
    const updated = await asA.pool.query(`UPDATE drift_runs SET verdict = 'Drift' WHERE namespace = $1`, [B]);
    expect(updated.rowCount).toBe(0);
    // Nor move itself into another namespace, nor change the schema.
    await expect(asA.pool.query(`UPDATE tenant_roles SET namespace = $1`, [B])).rejects.toThrow(
      /permission denied/,
    );
    await expect(asA.pool.query('DROP TABLE prediction_logs')).rejects.toThrow(/must be owner/);
    const { rows } = await admin.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM prediction_logs WHERE namespace = $1`,
      [B],
    );
    expect(rows[0]!.n).toBe(2);
  });

  it('writes its own rows as the workloads do', async () => {
    expect(await insertPredictionLogRows(asA.pool, [logged(A, 'r3')])).toBe(1);
    await saveVersion(asA.pool, { ...version(A, 's3://b/namespaces/a/v2'), version: 'v2' });
    expect((await listVersions(asA.pool, A, MODEL)).map((v) => v.version)).toEqual(['v1', 'v2']);
    // And a registered version stays as it is for it too.
    await expect(saveVersion(asA.pool, { ...version(A, 's3://b/x'), version: 'v2' })).rejects.toThrow(
      /already registered/,
    );
  });

  it('names the role after its namespace, within PostgreSQL’s 63 bytes', () => {
    expect(tenantRoleName('team-a')).toBe('mlcycle-ns-team-a');
    const long = tenantRoleName('x'.repeat(63));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).not.toBe(tenantRoleName(`${'x'.repeat(62)}y`));
  });
});
