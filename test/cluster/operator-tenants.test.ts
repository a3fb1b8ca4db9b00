import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import type { KubeClient } from '../../core/kube/client.js';
import { kubePaths } from '../../core/kube/paths.js';
import { openObjectStore } from '../../core/object-store/index.js';
import { getVersion } from '../../core/registry.js';
import {
  API_VERSION,
  type DriftMonitor,
  DriftMonitorKind,
  type ModelDeployment,
  ModelDeploymentKind,
  type ModelVersion,
  ModelVersionKind,
  resourcePath,
} from '../../core/resources/index.js';
import type { OperatorManager } from '../../operator/manager.js';
import { driftCronJobName } from '../../operator/naming.js';
import { perNamespaceCredentials } from '../../operator/tenant-credentials.js';
import { testDatabaseUrl, testS3 } from '../services.js';
import { portForward } from './kube.js';
import {
  client,
  createNamespace,
  deleteNamespace,
  eventually,
  exposeTestServices,
  installCrds,
  installReporterRole,
  kubectlRun,
  loadServicesEnv,
  log,
  workloadConfig,
} from './operator-kit.js';

/**
 * The same example in two namespaces at once, with the operator's default credentials: each
 * namespace's workloads run with their own PostgreSQL role and MinIO user. Same model name, same
 * version, same resource names in both; each registry row, prediction log, label set and
 * monitor verdict stays its own. Needs hack/cluster-up, the test services on all interfaces and
 * a current mlcycle:dev image (hack/cluster-test does all three).
 */

const BUCKET = 'mlcycle-optest';
const MODEL = 'tiny';
let c: KubeClient;
let db: Database;
let op: OperatorManager;
const tenants: { ns: string; requests: number; labels: number; seed: number }[] = [
  { ns: '', requests: 60, labels: 40, seed: 7 },
  { ns: '', requests: 25, labels: 0, seed: 11 },
];

function tinyCsv(rows: number, seed0: number): string {
  let seed = seed0;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const lines = ['t,x1,x2,y'];
  const t0 = Date.UTC(2024, 0, 1);
  for (let i = 0; i < rows; i++) {
    const x1 = (rnd() - 0.5) * 4;
    const x2 = ['a', 'b', 'c'][Math.floor(rnd() * 3)] as string;
    const p = 1 / (1 + Math.exp(-(1.5 * x1 + (x2 === 'a' ? 0.8 : -0.3))));
    lines.push(`${new Date(t0 + i * 1_800_000).toISOString()},${x1.toFixed(4)},${x2},${rnd() < p ? 1 : 0}`);
  }
  return `${lines.join('\n')}\n`;
}

const small = { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '2Gi' } };

/** The example, applied as is in a namespace: a version, its deployment and its monitor. */
async function applyExample(ns: string): Promise<void> {
  await c.create(resourcePath(ModelVersionKind, ns), {
    apiVersion: API_VERSION,
    kind: 'ModelVersion',
    metadata: { name: 'tiny-v1' },
    spec: {
      model: MODEL,
      version: 'v1',
      // The namespace's own data, under its prefix: its S3 user reads nothing else.
      dataset: { uri: `s3://${BUCKET}/namespaces/${ns}/datasets/tiny.csv`, target: 'y', timeColumn: 't' },
      training: { trials: 1, seed: 1 },
      gate: { minRocAuc: 0.55 },
      resources: small,
    },
  });
  // Labels take a credential of their own: a token Secret per namespace.
  await c.create(`/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'tiny-feedback' },
    stringData: { token: FEEDBACK_TOKEN },
  });
  await c.create(resourcePath(ModelDeploymentKind, ns), {
    apiVersion: API_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: 'tiny' },
    spec: {
      modelVersion: 'tiny-v1',
      replicas: 1,
      resources: small,
      feedback: { tokenSecret: { name: 'tiny-feedback' } },
    },
  });
  await c.create(resourcePath(DriftMonitorKind, ns), {
    apiVersion: API_VERSION,
    kind: 'DriftMonitor',
    metadata: { name: 'tiny' },
    spec: {
      deployment: 'tiny',
      schedule: '0 3 * * *',
      window: '1h',
      quality: { minLabels: 10 },
      actions: { rollbackOnQualityDegraded: false },
    },
  });
}

const FEEDBACK_TOKEN = 'tenants-test-feedback-token';

/** POSTs to the deployment's Service through a port-forward (the API server proxy drops Authorization). */
async function post<T>(port: number, path: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

beforeAll(async () => {
  loadServicesEnv();
  c = client();
  await installCrds(c);
  await installReporterRole(c);
  for (const t of tenants) t.ns = await createNamespace(c, 'mlcycle-tenant');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: '/tmp/unused' });
  const admin = testS3();
  for (const t of tenants) {
    await openObjectStore(`s3://${BUCKET}/namespaces/${t.ns}/datasets`, admin).put(
      'tiny.csv',
      tinyCsv(3000, t.seed),
    );
  }
  // Pods reach the host's services through each namespace's own selector-less Services; the
  // URLs are the same for both (a Service of each namespace), only the credentials differ.
  const adminEnv: Record<string, string> = {};
  for (const t of tenants) Object.assign(adminEnv, await exposeTestServices(c, t.ns));
  adminEnv.MLCYCLE_DATABASE_URL = adminEnv.MLCYCLE_DATABASE_URL!.replace(
    /test-postgres\.[^.]+\.svc/,
    'test-postgres',
  );
  adminEnv.MLCYCLE_S3_ENDPOINT = adminEnv.MLCYCLE_S3_ENDPOINT!.replace(
    /test-minio\.[^.]+\.svc/,
    'test-minio',
  );
  const config = workloadConfig({ workloadEnv: adminEnv, artifactRoot: `s3://${BUCKET}` });
  const { OperatorManager } = await import('../../operator/manager.js');
  op = new OperatorManager({
    client: c,
    config,
    log,
    registry: async () => db.pool,
    // What `mlcycle operator` does by default: a role and a user per namespace.
    credentials: perNamespaceCredentials({
      adminEnv,
      adminS3Endpoint: admin.s3Endpoint,
      pool: async () => db.pool,
      artifactRoot: `s3://${BUCKET}`,
      databaseRoles: true,
      minioUsers: true,
    }),
    identity: 'tenants-test',
    workers: 2,
  });
  await op.startInformers();
  op.startControllers();
}, 180_000);

afterAll(async () => {
  await op?.stop();
  if (!process.env.MLCYCLE_KEEP_NAMESPACE) for (const t of tenants) if (t.ns) await deleteNamespace(c, t.ns);
  await db?.close();
});

describe('the same example in two namespaces at once', () => {
  it('trains and registers each in its own namespace, with its own credentials and artifacts', async () => {
    await Promise.all(tenants.map((t) => applyExample(t.ns)));
    const versions = await Promise.all(
      tenants.map((t) =>
        eventually(
          `${t.ns}/tiny-v1 finished`,
          async () => {
            const mv = await c.get<ModelVersion>(resourcePath(ModelVersionKind, t.ns, 'tiny-v1'));
            return ['Registered', 'Rejected', 'Failed'].includes(mv.status?.phase ?? '') ? mv : undefined;
          },
          600_000,
          2000,
        ),
      ),
    );
    for (const [i, mv] of versions.entries()) {
      const { ns } = tenants[i]!;
      expect(mv.status?.phase, mv.status?.message).toBe('Registered');
      expect(mv.status?.artifacts?.root).toMatch(
        new RegExp(`^s3://${BUCKET}/namespaces/${ns}/models/tiny/v1/?$`),
      );
      const row = await getVersion(db.pool, ns, MODEL, 'v1');
      expect(row?.artifactRoot).toBe(mv.status?.artifacts?.root?.replace(/\/$/, ''));
      expect(row?.artifacts.find((a) => a.name === 'model.onnx')?.sha256).toBe(
        mv.status?.artifacts?.modelDigest,
      );
      // The workloads' Secret names the namespace's own role, never the operator's user.
      const secret = await c.get<{ data: Record<string, string> }>(kubePaths.secret(ns, 'mlcycle-workload'));
      const url = new URL(Buffer.from(secret.data.MLCYCLE_DATABASE_URL!, 'base64').toString());
      expect(decodeURIComponent(url.username)).toBe(`mlcycle-ns-${ns}`);
      expect(Buffer.from(secret.data.MLCYCLE_S3_ACCESS_KEY!, 'base64').toString()).toBe(`mlcycle-ns-${ns}`);
    }
    // Different data: different bytes under the same (model, version) name.
    const [a, b] = versions;
    expect(a?.status?.artifacts?.modelDigest).not.toBe(b?.status?.artifacts?.modelDigest);
  }, 660_000);

  it('serves each and logs each namespace’s traffic and labels in its own rows', async () => {
    for (const t of tenants) {
      await eventually(
        `${t.ns}/tiny serving`,
        async () => {
          const md = await c.get<ModelDeployment>(resourcePath(ModelDeploymentKind, t.ns, 'tiny'));
          return md.status?.servingVersion === 'tiny-v1' ? md : undefined;
        },
        300_000,
        1000,
      );
    }
    const forwards = await Promise.all(tenants.map((t) => portForward(t.ns, 'svc/tiny', 80)));
    try {
      const ids: string[][] = [];
      for (const [k, t] of tenants.entries()) {
        ids[k] = [];
        for (let i = 0; i < t.requests; i++) {
          const answer = await post<{ prediction_id: string }>(forwards[k]!.port, '/predict', {
            t: '2024-03-01T10:00:00Z',
            x1: (i % 7) - 3,
            x2: ['a', 'b', 'c'][i % 3],
          });
          ids[k]!.push(answer.prediction_id);
        }
      }
      // A label needs its logged prediction: wait until the servers have written their rows.
      for (const t of tenants) {
        await eventually(`${t.ns} logged`, async () => {
          const { rows } = await db.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM prediction_logs WHERE namespace = $1 AND model_name = $2',
            [t.ns, MODEL],
          );
          return rows[0]!.n >= t.requests;
        });
      }
      for (const [k, t] of tenants.entries()) {
        if (t.labels === 0) continue;
        const labels = ids[k]!.slice(0, t.labels).map((id, i) => ({ prediction_id: id, label: i % 2 }));
        await post(forwards[k]!.port, '/feedback', labels, FEEDBACK_TOKEN);
        // The other namespace's real prediction ids, same model name: unknown here.
        const theirs = ids[(k + 1) % tenants.length]![0]!;
        const foreign = await post(
          forwards[k]!.port,
          '/feedback',
          { prediction_id: theirs, label: 1 },
          FEEDBACK_TOKEN,
        ).catch((e: unknown) => e);
        expect(String(foreign)).toMatch(/POST \/feedback: 404 /);
      }
    } finally {
      for (const f of forwards) f.proc.kill();
    }
    for (const t of tenants) {
      const counts = await eventually(
        `${t.ns} logged`,
        async () => {
          const { rows } = await db.pool.query<{ logs: number; labels: number }>(
            `SELECT (SELECT count(*)::int FROM prediction_logs WHERE namespace = $1 AND model_name = $2) AS logs,
                    (SELECT count(*)::int FROM prediction_labels WHERE namespace = $1 AND model_name = $2) AS labels`,
            [t.ns, MODEL],
          );
          return rows[0]!.logs >= t.requests ? rows[0] : undefined;
        },
        60_000,
        500,
      );
      expect(counts).toEqual({ logs: t.requests, labels: t.labels });
    }
  }, 420_000);

  it('each monitor’s run reads its own deployment’s traffic only and records its own verdict', async () => {
    await Promise.all(
      tenants.map(async (t) => {
        await eventually(`${t.ns} CronJob`, () =>
          c.getOrUndefined(kubePaths.cronJob(t.ns, driftCronJobName('tiny'))),
        );
        const r = await kubectlRun([
          '-n',
          t.ns,
          'create',
          'job',
          `--from=cronjob/${driftCronJobName('tiny')}`,
          'check-1',
        ]);
        expect(r.status, r.stderr).toBe(0);
      }),
    );
    const monitors = await Promise.all(
      tenants.map((t) =>
        eventually(
          `${t.ns} drift run`,
          async () => {
            const dm = await c.get<DriftMonitor>(resourcePath(DriftMonitorKind, t.ns, 'tiny'));
            return dm.status?.lastRun?.id === 'check-1' ? dm : undefined;
          },
          600_000,
          2000,
        ),
      ),
    );
    for (const [i, dm] of monitors.entries()) {
      const t = tenants[i]!;
      expect(dm.status?.rows?.current).toBe(t.requests);
      expect(dm.status?.quality?.labelledRows).toBe(t.labels);
      const { rows } = await db.pool.query<{
        namespace: string;
        current_rows: number;
        labelled_rows: number;
      }>(
        `SELECT namespace, current_rows, labelled_rows FROM drift_runs WHERE id = 'check-1' AND namespace = $1`,
        [t.ns],
      );
      expect(rows).toEqual([{ namespace: t.ns, current_rows: t.requests, labelled_rows: t.labels }]);
    }
    // One run per namespace under the same Job name, neither overwriting the other.
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM drift_runs WHERE id = 'check-1' AND namespace = ANY($1)`,
      [tenants.map((t) => t.ns)],
    );
    expect(rows[0]!.n).toBe(2);
  }, 660_000);
});
