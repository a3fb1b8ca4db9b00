import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import { type KubeClient as Client, KubeClient } from '../../core/kube/client.js';
import { parseDriftMonitorRef, writeDriftMonitorStatus } from '../../core/kube/drift-monitor-status.js';
import { kubePaths } from '../../core/kube/paths.js';
import { openObjectStore } from '../../core/object-store/index.js';
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
import type { DeploymentView } from '../../operator/context.js';
import type { OperatorManager } from '../../operator/manager.js';
import { driftCronJobName } from '../../operator/naming.js';
import { testDatabaseUrl, testS3 } from '../services.js';
import {
  client,
  createNamespace,
  deleteNamespace,
  eventually,
  exposeTestServices,
  installCrds,
  installReporterRole,
  loadServicesEnv,
  startOperator,
  waitForApi,
} from './operator-kit.js';

/**
 * The whole operator loop in this process against the real cluster, with real workloads: trainer
 * Jobs (the mlcycle image) train on a small CSV in MinIO and register in PostgreSQL; inference
 * Pods serve the registered versions; a drift verdict written with the drift Jobs' own
 * ServiceAccount rolls the deployment back. Needs hack/cluster-up, hack/services-up with
 * MLCYCLE_SERVICES_LISTEN_ALL=1 (Pods reach the host's PostgreSQL and MinIO) and a current
 * mlcycle:dev image (hack/build-image).
 */

let c: Client;
let ns: string;
let db: Database;
let op: OperatorManager;
const TERMINAL = ['Registered', 'Rejected', 'Failed'];

function tinyCsv(rows: number): string {
  let seed = 7;
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

async function createMv(name: string, spec: Record<string, unknown>): Promise<void> {
  await c.create(resourcePath(ModelVersionKind, ns), {
    apiVersion: API_VERSION,
    kind: 'ModelVersion',
    metadata: { name },
    spec: {
      model: `tiny-${ns.slice(-6)}`,
      version: name,
      dataset: { uri: `s3://mlcycle-optest/${ns}/tiny.csv`, target: 'y', timeColumn: 't' },
      training: { trials: 1, seed: 1 },
      resources: small,
      ...spec,
    },
  });
}

const getMv = (name: string) => c.get<ModelVersion>(resourcePath(ModelVersionKind, ns, name));
const getMd = (name: string) => c.get<ModelDeployment>(resourcePath(ModelDeploymentKind, ns, name));
const getDm = (name: string) => c.get<DriftMonitor>(resourcePath(DriftMonitorKind, ns, name));

async function finished(name: string): Promise<ModelVersion> {
  return eventually(
    `ModelVersion ${name} finished`,
    async () => {
      const mv = await getMv(name);
      return mv.status?.phase && TERMINAL.includes(mv.status.phase) ? mv : undefined;
    },
    420_000,
    1000,
  );
}

/** A client acting as a ServiceAccount, with a short-lived token from the TokenRequest API. */
async function clientAs(serviceAccount: string): Promise<Client> {
  const tr = await c.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${ns}/serviceaccounts/${serviceAccount}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
  );
  const { loadKubeConfig } = await import('../../core/kube/client.js');
  const { kubeconfig } = await import('./kube.js');
  const admin = loadKubeConfig(kubeconfig);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in kubeconfig');
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: serviceAccount, token: tr.status.token }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: serviceAccount, namespace: ns }],
    currentContext: 'sa',
  });
  return new KubeClient(kc);
}

beforeAll(async () => {
  loadServicesEnv();
  c = client();
  await waitForApi(c);
  await installCrds(c);
  await installReporterRole(c);
  ns = await createNamespace(c, 'mlcycle-op-life');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: '/tmp/unused' });
  const store = openObjectStore(`s3://mlcycle-optest/${ns}`, testS3());
  await store.put('tiny.csv', Buffer.from(tinyCsv(3000)));
  const workloadEnv = await exposeTestServices(c, ns);
  op = await startOperator({ client: c, namespace: ns, pool: db.pool, config: { workloadEnv } });
}, 120_000);

afterAll(async () => {
  await op?.stop();
  if (ns && !process.env.MLCYCLE_KEEP_NAMESPACE) await deleteNamespace(c, ns);
  await db?.close();
});

describe('ModelVersion with a real trainer Job', () => {
  it('reports Registered with holdout metrics and artifacts, Rejected with the gate reasons, Failed with the cause', async () => {
    await createMv('v1', { gate: { minRocAuc: 0.6 } });
    await createMv('v2', { gate: { minRocAuc: 0.6 }, training: { trials: 1, seed: 2 } });
    await createMv('strict', { gate: { minRocAuc: 0.999 } });
    await createMv('broken', { dataset: { uri: `s3://mlcycle-optest/${ns}/missing.csv`, target: 'y' } });

    const v1 = await finished('v1');
    expect(v1.status?.phase, v1.status?.message).toBe('Registered');
    expect(v1.status?.scoreMetric).toBe('roc_auc');
    expect(v1.status?.score).toBeGreaterThan(0.6);
    expect(v1.status?.score).toBe(Math.round((v1.status?.holdout?.roc_auc ?? 0) * 10_000) / 10_000); // printed rounded
    expect(v1.status?.gate?.passed).toBe(true);
    expect(v1.status?.artifacts?.model).toMatch(
      new RegExp(`^s3://mlcycle-optest/namespaces/${ns}/models/.+/v1/model\\.onnx$`),
    );
    expect(v1.status?.artifacts?.modelDigest).toMatch(/^sha256:/);
    expect(v1.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');

    const strict = await finished('strict');
    expect(strict.status?.phase).toBe('Rejected');
    expect(strict.status?.message).toContain('rejected by the gate');
    expect(strict.status?.gate?.passed).toBe(false);

    const broken = await finished('broken');
    expect(broken.status?.phase).toBe('Failed');
    expect(broken.status?.message).toMatch(/missing\.csv|not found|NoSuchKey/i);

    expect((await finished('v2')).status?.phase).toBe('Registered');
  }, 480_000);
});

describe('ModelDeployment and DriftMonitor', () => {
  it('refuses a version that is not Registered and serves nothing', async () => {
    await c.create(resourcePath(ModelDeploymentKind, ns), {
      apiVersion: API_VERSION,
      kind: 'ModelDeployment',
      metadata: { name: 'tiny' },
      spec: {
        modelVersion: 'strict',
        replicas: 1,
        resources: { requests: { cpu: '100m', memory: '256Mi' } },
      },
    });
    const md = await eventually('refusal condition', async () => {
      const m = await getMd('tiny');
      return m.status?.conditions?.find(
        (x) => x.type === 'Progressing' && x.reason === 'VersionNotRegistered',
      )
        ? m
        : undefined;
    });
    expect(md.status?.conditions?.find((x) => x.type === 'Progressing')?.message).toContain(
      'only a Registered version',
    );
    expect(await c.getOrUndefined(kubePaths.deployment(ns, 'tiny'))).toBeUndefined();
  });

  it('serves a Registered version and answers /predict through the Service', async () => {
    await c.patch(resourcePath(ModelDeploymentKind, ns, 'tiny'), { spec: { modelVersion: 'v1' } });
    const md = await eventually(
      'v1 serving',
      async () => {
        const m = await getMd('tiny');
        return m.status?.servingVersion === 'v1' ? m : undefined;
      },
      240_000,
      1000,
    );
    expect(md.status?.conditions?.find((x) => x.type === 'Available')?.status).toBe('True');
    expect(md.status?.ready).toBe('1/1');
    expect(md.status?.history?.[0]).toMatchObject({ modelVersion: 'v1', outcome: 'Serving' });
    const answer = await c.request<{ prediction?: unknown; model?: unknown }>(
      'POST',
      `/api/v1/namespaces/${ns}/services/http:tiny:80/proxy/predict`,
      { body: { t: '2024-03-01T10:00:00Z', x1: 1.2, x2: 'a' } },
    );
    expect(JSON.stringify(answer)).toContain('v1');
  }, 300_000);

  it('rolls out a new version and keeps the previous one as the rollback target', async () => {
    await c.patch(resourcePath(ModelDeploymentKind, ns, 'tiny'), { spec: { modelVersion: 'v2' } });
    const md = await eventually(
      'v2 serving',
      async () => {
        const m = await getMd('tiny');
        return m.status?.servingVersion === 'v2' ? m : undefined;
      },
      240_000,
      1000,
    );
    expect(md.status?.previousVersion).toBe('v1');
    expect(md.status?.history?.map((h) => [h.modelVersion, h.outcome])).toEqual([
      ['v2', 'Serving'],
      ['v1', 'Replaced'],
    ]);
    const dep = await c.get<DeploymentView>(kubePaths.deployment(ns, 'tiny'));
    expect(JSON.stringify(dep.spec?.template)).toContain('"--model-version","v2"');
  }, 300_000);

  it('runs drift checks from a CronJob whose ServiceAccount may only write the monitor status', async () => {
    await c.create(resourcePath(DriftMonitorKind, ns), {
      apiVersion: API_VERSION,
      kind: 'DriftMonitor',
      metadata: { name: 'tiny' },
      spec: { deployment: 'tiny', schedule: '0 3 * * *', window: '1h', quality: { minLabels: 10 } },
    });
    const cron = await eventually('CronJob created', async () =>
      c.getOrUndefined<{ spec: { jobTemplate: { spec: { template: { spec: Record<string, unknown> } } } } }>(
        kubePaths.cronJob(ns, driftCronJobName('tiny')),
      ),
    );
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.serviceAccountName).toBe('mlcycle-drift');
    expect(JSON.stringify(pod)).toContain(`"--drift-monitor=${ns}/tiny"`);
    expect(JSON.stringify(pod)).toContain('"--model-version=v2"');

    const sa = await clientAs('mlcycle-drift');
    const denied = await sa
      .patch(resourcePath(DriftMonitorKind, ns, 'tiny'), { spec: { schedule: '@hourly' } })
      .catch((e: unknown) => e);
    expect(String(denied)).toContain('403');
    const deniedMd = await sa
      .patch(resourcePath(ModelDeploymentKind, ns, 'tiny'), { spec: { modelVersion: 'v1' } })
      .catch((e: unknown) => e);
    expect(String(deniedMd)).toContain('403');
  });

  it('rolls the deployment back by itself when a run decides so, without touching the spec', async () => {
    const sa = await clientAs('mlcycle-drift');
    const t0 = Date.now();
    await writeDriftMonitorStatus(sa, parseDriftMonitorRef(`${ns}/tiny`), {
      lastRun: {
        id: 'run-1',
        time: new Date().toISOString(),
        modelVersion: 'v2',
        verdict: 'QualityDegraded',
        decision: {
          verdict: 'QualityDegraded',
          alert: true,
          retrain: false,
          rollback: true,
          reasons: ['quality degraded: roc_auc 0.55 vs 0.80'],
        },
      },
      datasetDrift: true,
      driftShare: 0.67,
      driftedFeatures: ['x1', 'x2'],
      consecutiveDriftedRuns: 1,
      quality: { verdict: 'Degraded', metric: 'roc_auc', value: 0.55, reference: 0.8, labelledRows: 400 },
      rows: { reference: 450, current: 900 },
    });
    const md = await eventually(
      'rolled back to v1',
      async () => {
        const m = await getMd('tiny');
        return m.status?.servingVersion === 'v1' ? m : undefined;
      },
      240_000,
      250,
    );
    process.stdout.write(`degraded verdict → previous version serving: ${Date.now() - t0} ms\n`);
    expect(md.spec.modelVersion).toBe('v2'); // GitOps-safe: the spec is the user's
    expect(md.status?.target).toMatchObject({ modelVersion: 'v1', reason: 'Rollback', specVersion: 'v2' });
    const rolledBack = md.status?.conditions?.find((x) => x.type === 'RolledBack');
    expect(rolledBack?.status).toBe('True');
    expect(rolledBack?.message).toContain('rolled back from v2 to v1');
    expect(md.status?.history?.find((h) => h.modelVersion === 'v2')?.outcome).toBe('RolledBack');
    expect(md.status?.lastAction?.action).toBe('RolledBack');

    const dm = await eventually('action recorded', async () => {
      const d = await getDm('tiny');
      return d.status?.handledRunId === 'run-1' ? d : undefined;
    });
    expect(dm.status?.lastAction).toMatchObject({ action: 'Rollback', runId: 'run-1' });
    expect(dm.status?.conditions?.find((x) => x.type === 'QualityDegraded')?.status).toBe('True');
    expect(dm.status?.conditions?.find((x) => x.type === 'DriftDetected')?.status).toBe('True');

    const reasons = await eventually('events recorded', async () => {
      const events = await c.list<{ reason: string; involvedObject: { kind: string; name: string } }>(
        kubePaths.events(ns),
      );
      const r = events.items
        .filter((e) => e.involvedObject.name === 'tiny')
        .map((e) => `${e.involvedObject.kind}/${e.reason}`);
      return r.includes('ModelDeployment/RolledBack') && r.includes('DriftMonitor/RollbackStarted')
        ? r
        : undefined;
    });
    expect(reasons).not.toContain('ModelDeployment/RollbackImpossible');
  }, 300_000);

  it('a server-side apply of the same spec (a GitOps sync) changes nothing that serves', async () => {
    const before = await getMd('tiny');
    await c.patch(
      resourcePath(ModelDeploymentKind, ns, 'tiny'),
      { apiVersion: API_VERSION, kind: 'ModelDeployment', metadata: { name: 'tiny' }, spec: before.spec },
      'apply',
    );
    // Let the operator see the apply: its observedGeneration catches up (or the generation did not move).
    const after = await eventually('apply observed', async () => {
      const m = await getMd('tiny');
      return m.status?.observedGeneration === m.metadata.generation ? m : undefined;
    });
    expect(after.status?.servingVersion).toBe('v1');
    expect(after.status?.target).toEqual(before.status?.target);
    const dep = await c.get<DeploymentView>(kubePaths.deployment(ns, 'tiny'));
    expect(JSON.stringify(dep.spec?.template)).toContain('"--model-version","v1"');
  });

  it('a later run without labels clears the quality value an earlier run wrote', async () => {
    const sa = await clientAs('mlcycle-drift');
    expect((await getDm('tiny')).status?.quality?.value).toBe(0.55);
    await writeDriftMonitorStatus(sa, parseDriftMonitorRef(`${ns}/tiny`), {
      lastRun: { id: 'run-2', time: new Date().toISOString(), modelVersion: 'v1', verdict: 'NoDrift' },
      datasetDrift: false,
      driftShare: 0,
      quality: { verdict: 'NotEvaluated', metric: 'roc_auc', labelledRows: 0 },
      rows: { reference: 450, current: 900 },
    });
    const dm = await getDm('tiny');
    expect(dm.status?.lastRun?.id).toBe('run-2');
    expect(dm.status?.lastRun?.decision).toBeUndefined();
    expect(dm.status?.quality).toEqual({ verdict: 'NotEvaluated', metric: 'roc_auc', labelledRows: 0 });
    expect(dm.status?.driftedFeatures).toBeUndefined();
    expect(dm.status?.conditions?.length).toBeGreaterThan(0); // the operator's fields stay
  });

  it('creates one retraining ModelVersion per run deciding so; once Registered it is the challenger', async () => {
    await c.create(resourcePath(DriftMonitorKind, ns), {
      apiVersion: API_VERSION,
      kind: 'DriftMonitor',
      metadata: { name: 'tiny-retrain' },
      spec: {
        deployment: 'tiny',
        schedule: '@daily',
        actions: { sustainedDriftRuns: 2 },
        retrain: { source: 'Dataset', rows: 2000, trials: 1 },
      },
    });
    await eventually('monitor ready', async () => (await getDm('tiny-retrain')).status?.cronJobName);
    const sa = await clientAs('mlcycle-drift');
    const report = (id: string, retrain: boolean) => ({
      lastRun: {
        id,
        time: new Date().toISOString(),
        modelVersion: 'v1',
        verdict: 'SustainedDrift' as const,
        decision: { verdict: 'SustainedDrift' as const, alert: false, retrain, rollback: false, reasons: [] },
      },
      datasetDrift: true,
      driftShare: 1,
      consecutiveDriftedRuns: 2,
      quality: { verdict: 'NotEvaluated' as const, labelledRows: 0 },
    });
    await writeDriftMonitorStatus(sa, parseDriftMonitorRef(`${ns}/tiny-retrain`), report('run-r1', true));
    const dm = await eventually('retrain recorded', async () => {
      const d = await getDm('tiny-retrain');
      return d.status?.handledRunId === 'run-r1' ? d : undefined;
    });
    expect(dm.status?.lastAction?.action).toBe('Retrain');
    const created = /created ModelVersion (\S+)/.exec(dm.status?.lastAction?.detail ?? '')?.[1] ?? '';
    const mv = await getMv(created);
    expect(mv.spec.lineage).toEqual({
      retrainedFrom: 'v1',
      driftMonitor: 'tiny-retrain',
      driftRun: 'run-r1',
      deployment: 'tiny',
    });
    expect(mv.spec.version).toMatch(/^v1-r[0-9a-f]{6}$/);
    expect(mv.spec.dataset.rows).toBe(2000);
    expect(mv.spec.model).toBe((await getMv('v1')).spec.model);

    // The next run of the streak: the drift Job's guardrails said no; nothing new.
    await writeDriftMonitorStatus(sa, parseDriftMonitorRef(`${ns}/tiny-retrain`), report('run-r2', false));
    await eventually(
      'second run handled',
      async () => (await getDm('tiny-retrain')).status?.handledRunId === 'run-r2',
    );
    const retrained = (await c.list<ModelVersion>(resourcePath(ModelVersionKind, ns))).items.filter(
      (m) => m.spec.lineage?.driftMonitor === 'tiny-retrain',
    );
    expect(retrained.map((m) => m.metadata.name)).toEqual([created]);

    expect((await finished(created)).status?.phase).toBe('Registered');
    // Registered: it enters beside the champion by itself; the champion keeps serving.
    const md = await eventually('challenger started', async () => {
      const m = await getMd('tiny');
      return m.status?.challenger?.modelVersion === created ? m : undefined;
    });
    expect(md.status?.challenger).toMatchObject({ mode: 'Shadow', source: 'Retrain', driftRun: 'run-r1' });
    expect(md.status?.servingVersion).toBe('v1');
    expect(md.spec.modelVersion).toBe('v2');
  }, 480_000);
});
