import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import type { KubeClient } from '../../core/kube/client.js';
import {
  type DriftMonitor,
  DriftMonitorKind,
  type ModelDeployment,
  ModelDeploymentKind,
  type ModelVersion,
  ModelVersionKind,
  resourcePath,
} from '../../core/resources/index.js';
import { portForward } from '../cluster/kube.js';
import {
  client,
  createNamespace,
  deleteNamespace,
  eventually,
  exposeTestServices,
  helmRun,
  installCrds,
  kubectlRun,
  loadServicesEnv,
  waitForApi,
} from '../cluster/operator-kit.js';
import { testDatabaseUrl, testS3 } from '../services.js';

/**
 * The user's path, end to end, on the local cluster: helm install → the example ModelVersion
 * trains in a Job and is Registered → a second version made for the deployment (as the loop's
 * retraining makes it) → the example ModelDeployment serves v1 with v2 in shadow beside it, by
 * itself → drifted traffic → labels on which v2 beats v1 → the DriftMonitor's run (triggered by
 * hand) decides the promotion → v2 serves (the spec untouched) → labels showing degraded quality
 * → the next run rolls back to v1 by itself (the spec untouched) → the same manifests applied
 * again server-side (a GitOps sync) change nothing that serves.
 */

let c: KubeClient;
let ns: string;
let db: Database;
let services: Record<string, string> = {};
let forward: { port: number; proc: { kill: () => void } } | undefined;
const timings: Record<string, number> = {};

const kubectl = async (args: string[], input?: string) => {
  const r = await kubectlRun(['-n', ns, ...args], input, 300_000);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
};
interface ExampleMv {
  metadata: { name: string };
  spec: {
    version: string;
    training?: Record<string, unknown>;
    dataset: { rows?: number };
    lineage?: Record<string, string>;
  };
}
const exampleMv = () => yaml.load(readFileSync('examples/flights/modelversion.yaml', 'utf8')) as ExampleMv;
const getMv = (n: string) => c.get<ModelVersion>(resourcePath(ModelVersionKind, ns, n));
const getMd = (n: string) => c.get<ModelDeployment>(resourcePath(ModelDeploymentKind, ns, n));
const getDm = (n: string) => c.get<DriftMonitor>(resourcePath(DriftMonitorKind, ns, n));

async function registered(name: string): Promise<ModelVersion> {
  const mv = await eventually(
    `${name} trained`,
    async () => {
      const m = await getMv(name);
      return m.status?.phase && ['Registered', 'Rejected', 'Failed'].includes(m.status.phase) ? m : undefined;
    },
    900_000,
    2000,
  );
  expect(mv.status?.phase, mv.status?.message).toBe('Registered');
  return mv;
}

interface Answer {
  model_version?: string;
  probability?: number;
  predictions: { prediction_id: string; prediction: unknown; probability?: number }[];
}

// The example ModelDeployment's /feedback token, in the Secret it names (created by the test).
const FEEDBACK_TOKEN = randomBytes(24).toString('hex');

async function post(path: string, body: unknown): Promise<Answer> {
  if (!forward) throw new Error('no port-forward');
  const res = await fetch(`http://127.0.0.1:${forward.port}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(path === '/feedback' ? { authorization: `Bearer ${FEEDBACK_TOKEN}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as Answer;
}

async function runDriftJob(name: string): Promise<void> {
  await kubectl(['create', 'job', `--from=cronjob/flights-delay-drift`, name]);
  await eventually(
    `drift Job ${name} finished`,
    async () => {
      const j = await c.get<{ status?: { succeeded?: number; failed?: number } }>(
        `/apis/batch/v1/namespaces/${ns}/jobs/${name}`,
      );
      if ((j.status?.failed ?? 0) > 0) {
        const logs = await kubectlRun(['-n', ns, 'logs', `job/${name}`]);
        throw new Error(`drift Job ${name} failed: ${logs.stdout.slice(-2000)}${logs.stderr}`);
      }
      return (j.status?.succeeded ?? 0) > 0;
    },
    600_000,
    1000,
  );
}

beforeAll(async () => {
  loadServicesEnv();
  c = client();
  await waitForApi(c);
  await installCrds(c);
  ns = await createNamespace(c, 'mlcycle-e2e');
  // The host's PostgreSQL and MinIO, as "external" services of the chart.
  services = await exposeTestServices(c, ns);
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: '/tmp/unused' });
});

afterAll(async () => {
  forward?.proc.kill();
  if (ns) {
    const logs = await kubectlRun(['-n', ns, 'logs', `deploy/${ns}-operator`, '--tail=40']);
    if (process.env.MLCYCLE_E2E_DEBUG) process.stdout.write(`operator log tail:\n${logs.stdout}\n`);
    await helmRun(['uninstall', ns, '-n', ns, '--wait', '--timeout', '120s']);
    if (!process.env.MLCYCLE_KEEP_NAMESPACE) await deleteNamespace(c, ns);
  }
  await db?.close();
  process.stdout.write(`e2e timings (ms): ${JSON.stringify(timings)}\n`);
});

describe('mlcycle on Kubernetes, end to end', () => {
  it('installs with helm', async () => {
    const s3 = testS3();
    const r = await helmRun(
      [
        'install',
        ns,
        'helm/mlcycle',
        '--namespace',
        ns,
        '--wait',
        '--timeout',
        '180s',
        '--set',
        'image.pullPolicy=Never',
        '--set',
        `operator.watchNamespace=${ns}`,
        '--set',
        'operator.logLevel=debug',
        '--set',
        'artifactRoot=s3://mlcycle-e2e',
        '--set',
        'postgresql.external.enabled=true',
        '--set',
        `postgresql.external.url=${services.MLCYCLE_DATABASE_URL}`,
        '--set',
        'minio.external.enabled=true',
        '--set',
        `minio.external.endpoint=${services.MLCYCLE_S3_ENDPOINT}`,
        '--set',
        `minio.external.accessKey=${s3.s3AccessKey}`,
        '--set',
        `minio.external.secretKey=${s3.s3SecretKey}`,
      ],
      300_000,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(await kubectl(['get', 'deploy', `${ns}-operator`, '-o', 'jsonpath={.status.readyReplicas}'])).toBe(
      '1',
    );
  });

  it('trains the example ModelVersion in a Job and shows it Registered with its ROC AUC', async () => {
    const t0 = Date.now();
    await kubectl(['apply', '-f', 'examples/flights/modelversion.yaml']);
    await eventually(
      'trainer Job exists',
      async () => (await getMv('flights-delay-v1')).status?.jobName,
      60_000,
      100,
    );
    timings.applyToJobCreated = Date.now() - t0;
    await eventually(
      'trainer Pod started',
      async () => {
        const pods = await c.list<{ status?: { phase?: string } }>(
          `/api/v1/namespaces/${ns}/pods`,
          'mlcycle.dev/model-version=flights-delay-v1',
        );
        return pods.items.some((p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded');
      },
      120_000,
      200,
    );
    timings.applyToJobPodRunning = Date.now() - t0;
    const v1 = await registered('flights-delay-v1');
    timings.applyToRegistered = Date.now() - t0;
    expect(v1.status?.scoreMetric).toBe('roc_auc');
    expect(v1.status?.score).toBeGreaterThan(0.6);
    const table = await kubectl(['get', 'modelversions']);
    expect(table).toMatch(/flights-delay-v1\s+flights-delay\s+v1\s+Registered\s+roc_auc\s+0\.\d+/);

    // A second version to have something to roll back from.
    const v2 = exampleMv(); // a second version, to be tried beside v1
    v2.metadata.name = 'flights-delay-v2';
    v2.spec.version = 'v2';
    v2.spec.training = { ...v2.spec.training, seed: 7, trials: 2 };
    v2.spec.dataset.rows = 150000;
    // As the loop's retraining would: made for the deployment, so once Registered it is its challenger.
    v2.spec.lineage = { deployment: 'flights-delay', retrainedFrom: 'flights-delay-v1' };
    await kubectl(['apply', '-f', '-'], JSON.stringify(v2));
    await registered('flights-delay-v2');
  });

  it('serves v1 and runs the second version beside it in shadow, by itself, answering /predict with v1', async () => {
    await kubectl([
      'create',
      'secret',
      'generic',
      'flights-delay-feedback',
      `--from-literal=token=${FEEDBACK_TOKEN}`,
    ]);
    await kubectl(['apply', '-f', 'examples/flights/modeldeployment.yaml']);
    const md = await eventually(
      'v1 serving, v2 shadowing',
      async () => {
        const m = await getMd('flights-delay');
        return m.status?.servingVersion === 'flights-delay-v1' &&
          m.status.challenger?.modelVersion === 'flights-delay-v2' &&
          m.status.conditions?.find((x) => x.type === 'Progressing')?.reason === 'RolloutComplete'
          ? m
          : undefined;
      },
      300_000,
      1000,
    );
    expect(md.status?.challenger).toMatchObject({ mode: 'Shadow', source: 'Retrain' });
    expect(md.status?.conditions?.find((x) => x.type === 'Available')?.status).toBe('True');
    expect(await kubectl(['get', 'modeldeployments'])).toMatch(
      /flights-delay\s+flights-delay-v1\s+flights-delay-v1\s+flights-delay-v2\s+Shadow\s+1\/1\s+(ChallengerStarted|RolledOut)\s/,
    );

    forward = await portForward(ns, 'svc/flights-delay', 80);
    const row = JSON.parse(readFileSync('examples/flights/requests/row.json', 'utf8'));
    const answer = await post('/predict', row);
    expect(answer.model_version).toBe('v1');
    expect(typeof answer.probability).toBe('number');
  });

  let predictionIds: string[] = [];

  /** Drifted traffic: short night hops out of Hawaii, far from the mainland daytime mix. */
  async function drivenTraffic(n: number, day: number): Promise<void> {
    const records = Array.from({ length: n }, (_, i) => ({
      date: new Date(Date.UTC(2001, 5, 1 + ((i + day) % 28), 23, i % 60)).toISOString(),
      distance: 80 + (i % 40),
      origin: i % 2 ? 'HNL' : 'OGG',
      destination: i % 2 ? 'OGG' : 'HNL',
    }));
    for (let i = 0; i < records.length; i += 500) {
      const out = await post('/predict_batch', records.slice(i, i + 500));
      predictionIds.push(...out.predictions.map((p) => p.prediction_id));
    }
    await new Promise((r) => setTimeout(r, 3000)); // the servers flush their prediction logs every 200 ms
  }

  /** Labels that rank `version`'s logged probabilities in order (good) or backwards (bad). */
  async function labelsBy(version: string, good: boolean): Promise<void> {
    const { rows } = await db.pool.query<{ prediction_id: string; probability: number }>(
      'SELECT prediction_id, probability FROM prediction_logs WHERE model_name = $1 AND model_version = $2 AND prediction_id = ANY($3)',
      ['flights-delay', version, predictionIds],
    );
    expect(rows.length).toBeGreaterThan(predictionIds.length * 0.9);
    const ranked = [...rows].sort((a, b) => a.probability - b.probability);
    const labels = ranked.map((r, i) => ({
      prediction_id: r.prediction_id,
      label: good ? i >= ranked.length / 2 : i < ranked.length / 2,
    }));
    for (let i = 0; i < labels.length; i += 500) await post('/feedback', labels.slice(i, i + 500));
  }

  /** Runs a drift Job and returns when its run (with the decision) is in the status. */
  async function driftRun(
    job: string,
  ): Promise<{ seenAt: number; run: NonNullable<DriftMonitor['status']>['lastRun'] }> {
    const before = (await getDm('flights-delay')).status?.lastRun?.id;
    let seenAt = 0;
    const watching = eventually(
      `run of ${job} reported`,
      async () => {
        const d = await getDm('flights-delay');
        if (d.status?.lastRun && d.status.lastRun.id !== before) {
          seenAt ||= Date.now();
          return d.status.lastRun;
        }
        return undefined;
      },
      600_000,
      100,
    );
    await runDriftJob(job);
    const run = await watching;
    return { seenAt, run };
  }

  it('sees drift in the traffic; labels in the challenger favour promote it by itself (spec untouched)', async () => {
    await drivenTraffic(1500, 0);
    const dm = yaml.load(readFileSync('examples/flights/driftmonitor.yaml', 'utf8')) as {
      spec: Record<string, unknown>;
    };
    delete dm.spec.retrain; // the retraining path needs the production dataset; this run tests promotion and rollback
    await kubectl(['apply', '-f', '-'], JSON.stringify(dm));
    await eventually(
      'CronJob created',
      async () => (await getDm('flights-delay')).status?.cronJobName,
      60_000,
      500,
    );
    await labelsBy('v2', true);
    const { seenAt, run } = await driftRun('e2e-drift-1');
    expect(run?.decision?.promotion, JSON.stringify(run)).toMatchObject({
      challenger: 'v2',
      ready: true,
      promote: true,
    });
    const md = await eventually(
      'v2 promoted',
      async () => {
        const m = await getMd('flights-delay');
        return m.status?.servingVersion === 'flights-delay-v2' ? m : undefined;
      },
      300_000,
      100,
    );
    timings.promotionDecisionSeenToNewServing = Date.now() - seenAt;
    // kubectl port-forward holds on to the Pod it picked, which the rollout replaced.
    forward?.proc.kill();
    forward = await portForward(ns, 'svc/flights-delay', 80);
    const answered = await eventually(
      'v2 answers',
      async () =>
        (await post('/predict', JSON.parse(readFileSync('examples/flights/requests/row.json', 'utf8'))))
          .model_version === 'v2'
          ? true
          : undefined,
      120_000,
      200,
    );
    expect(answered).toBe(true);
    timings.promotionDecisionSeenToNewAnswering = Date.now() - seenAt;
    expect(md.spec.modelVersion).toBe('flights-delay-v1');
    expect(md.status?.target).toMatchObject({ modelVersion: 'flights-delay-v2', reason: 'Promotion' });
    expect(md.status?.lastAction?.action).toBe('Promoted');
    expect(md.status?.conditions?.find((x) => x.type === 'Promoted')?.status).toBe('True');
    expect(md.status?.challenger).toBeUndefined();
    const events = await kubectl(['get', 'events', '--field-selector', 'reason=Promoted', '-o', 'name']);
    expect(events.trim()).not.toBe('');
    // The VERDICT column shows the run's own verdict: labels that favour the challenger also make
    // the champion's quality degraded, and the decision promotes rather than rolls back.
    expect(run?.verdict).toMatch(/^(Drift|NoDrift|SustainedDrift|QualityDegraded)$/);
    const dms = await kubectl(['get', 'driftmonitors']);
    expect(dms).toMatch(
      new RegExp(
        `flights-delay\\s+flights-delay\\s+0 \\* \\* \\* \\*\\s+\\S+\\s+[01](\\.\\d+)?\\s+${run?.verdict}\\s`,
      ),
    );
  });

  it('rolls back to v1 by itself once labels show degraded quality (spec untouched), and a GitOps sync changes nothing', async () => {
    predictionIds = [];
    forward?.proc.kill();
    forward = await portForward(ns, 'svc/flights-delay', 80);
    await drivenTraffic(1500, 3);
    await labelsBy('v2', false);
    let rolledBackAt = 0;
    const watching = eventually(
      'rolled back to v1',
      async () => {
        const m = await getMd('flights-delay');
        if (m.status?.servingVersion === 'flights-delay-v1') {
          rolledBackAt ||= Date.now();
          return m;
        }
        return undefined;
      },
      600_000,
      100,
    );
    const { seenAt, run } = await driftRun('e2e-drift-2');
    expect(run?.decision?.rollback, JSON.stringify(run)).toBe(true);
    const md = await watching;
    timings.degradedVerdictSeenToPreviousServing = rolledBackAt - seenAt;
    expect(md.spec.modelVersion).toBe('flights-delay-v1');
    expect(md.status?.target).toMatchObject({ modelVersion: 'flights-delay-v1', reason: 'Rollback' });
    expect(md.status?.conditions?.find((x) => x.type === 'RolledBack')?.status).toBe('True');
    expect(md.status?.history?.find((h) => h.modelVersion === 'flights-delay-v2')?.outcome).toBe(
      'RolledBack',
    );
    const dm = await getDm('flights-delay');
    expect(dm.status?.quality?.verdict).toBe('Degraded');
    expect(dm.status?.lastAction?.action).toBe('Rollback');
    const events = await kubectl(['get', 'events', '--field-selector', 'reason=RolledBack', '-o', 'name']);
    expect(events.trim()).not.toBe('');

    // A GitOps sync: the same manifests through a server-side apply.
    const generation = md.metadata.generation;
    for (const f of ['modelversion.yaml', 'modeldeployment.yaml']) {
      await kubectl(['apply', '--server-side', '--force-conflicts', '-f', `examples/flights/${f}`]);
    }
    const after = await eventually('sync observed', async () => {
      const m = await getMd('flights-delay');
      return m.status?.observedGeneration === m.metadata.generation ? m : undefined;
    });
    expect(after.metadata.generation).toBe(generation);
    expect(after.status?.servingVersion).toBe('flights-delay-v1');
    expect(after.status?.target).toEqual(md.status?.target);
    expect(after.status?.challenger).toBeUndefined(); // v2 served and was rolled back: it does not come back
  });
});
