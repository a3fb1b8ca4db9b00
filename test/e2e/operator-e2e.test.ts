import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { testS3 } from '../services.js';

/**
 * The user's path, end to end, on the local cluster: helm install → the example ModelVersion
 * trains in a Job and is Registered → a second version → the example ModelDeployment serves
 * them (the second replacing the first) → /predict through kubectl port-forward → drifted traffic
 * → the DriftMonitor's CronJob (triggered by hand) reports drift → labels showing degraded
 * quality → the next run rolls the deployment back to the first version by itself.
 */

let c: KubeClient;
let ns: string;
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
  spec: { version: string; training?: Record<string, unknown>; dataset: { rows?: number } };
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
  predictions: { request_id: string; prediction: unknown; probability?: number }[];
}

async function post(path: string, body: unknown): Promise<Answer> {
  if (!forward) throw new Error('no port-forward');
  const res = await fetch(`http://127.0.0.1:${forward.port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
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
});

afterAll(async () => {
  forward?.proc.kill();
  if (ns) {
    const logs = await kubectlRun(['-n', ns, 'logs', `deploy/${ns}-operator`, '--tail=40']);
    if (process.env.MLCYCLE_E2E_DEBUG) process.stdout.write(`operator log tail:\n${logs.stdout}\n`);
    await helmRun(['uninstall', ns, '-n', ns, '--wait', '--timeout', '120s']);
    if (!process.env.MLCYCLE_KEEP_NAMESPACE) await deleteNamespace(c, ns);
  }
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
    const v2 = exampleMv();
    v2.metadata.name = 'flights-delay-v2';
    v2.spec.version = 'v2';
    v2.spec.training = { ...v2.spec.training, seed: 7, trials: 2 };
    v2.spec.dataset.rows = 150000;
    await kubectl(['apply', '-f', '-'], JSON.stringify(v2));
    await registered('flights-delay-v2');
  });

  it('serves the example ModelDeployment, rolls out the second version, answers /predict', async () => {
    await kubectl(['apply', '-f', 'examples/flights/modeldeployment.yaml']);
    await eventually(
      'v1 serving',
      async () => (await getMd('flights-delay')).status?.servingVersion === 'flights-delay-v1',
      300_000,
      1000,
    );
    await kubectl([
      'patch',
      'modeldeployment',
      'flights-delay',
      '--type=merge',
      '-p',
      '{"spec":{"modelVersion":"flights-delay-v2"}}',
    ]);
    const md = await eventually(
      'v2 serving',
      async () => {
        const m = await getMd('flights-delay');
        return m.status?.servingVersion === 'flights-delay-v2' ? m : undefined;
      },
      300_000,
      1000,
    );
    expect(md.status?.previousVersion).toBe('flights-delay-v1');
    expect(await kubectl(['get', 'modeldeployments'])).toMatch(
      /flights-delay\s+flights-delay-v2\s+flights-delay-v2\s+1\/1\s+flights-delay-v1/,
    );

    forward = await portForward(ns, 'svc/flights-delay', 80);
    const row = JSON.parse(readFileSync('examples/flights/requests/row.json', 'utf8'));
    const answer = await post('/predict', row);
    expect(answer.model_version).toBe('v2');
    expect(typeof answer.probability).toBe('number');
  });

  let requestIds: { id: string; probability: number }[] = [];

  it('sees drift in replayed traffic when the DriftMonitor job runs', async () => {
    // Drifted traffic: short night hops out of Hawaii, far from the mainland daytime mix.
    const records = Array.from({ length: 1500 }, (_, i) => ({
      date: new Date(Date.UTC(2001, 5, 1 + (i % 28), 23, i % 60)).toISOString(),
      distance: 80 + (i % 40),
      origin: i % 2 ? 'HNL' : 'OGG',
      destination: i % 2 ? 'OGG' : 'HNL',
    }));
    for (let i = 0; i < records.length; i += 500) {
      const out = await post('/predict_batch', records.slice(i, i + 500));
      requestIds.push(...out.predictions.map((p) => ({ id: p.request_id, probability: p.probability ?? 0 })));
    }
    await kubectl(['apply', '-f', 'examples/flights/driftmonitor.yaml']);
    await eventually(
      'CronJob created',
      async () => (await getDm('flights-delay')).status?.cronJobName,
      60_000,
      500,
    );
    await new Promise((r) => setTimeout(r, 3000)); // the servers flush their prediction logs every 200 ms
    await runDriftJob('e2e-drift-1');
    const dm = await eventually(
      'drift reported',
      async () => {
        const d = await getDm('flights-delay');
        return d.status?.lastRun ? d : undefined;
      },
      60_000,
      500,
    );
    expect(dm.status?.datasetDrift, JSON.stringify(dm.status)).toBe(true);
    expect(dm.status?.driftShare).toBeGreaterThan(0.4);
    expect(await kubectl(['get', 'driftmonitors'])).toMatch(
      /flights-delay\s+flights-delay\s+0 \* \* \* \*\s+\S+\s+[01](\.\d+)?\s+true/,
    );
  });

  it('rolls the deployment back by itself once labels show degraded quality', async () => {
    // Labels that rank the predictions backwards: the served model's ROC AUC on them is far
    // below its holdout ROC AUC (both classes present, so the metric is defined).
    const ranked = [...requestIds].sort((a, b) => a.probability - b.probability);
    const labels = ranked.map((r, i) => ({ request_id: r.id, label: i < ranked.length / 2 }));
    for (let i = 0; i < labels.length; i += 500) await post('/feedback', labels.slice(i, i + 500));
    const firstRun = (await getDm('flights-delay')).status?.lastRun?.id;
    // Watch both sides while the drift Job runs: when its verdict lands, when v1 serves again.
    let verdictSeenAt = 0;
    let verdictTime = 0;
    let rolledBackAt = 0;
    const watching = eventually(
      'rolled back to v1',
      async () => {
        const [dm, m] = await Promise.all([getDm('flights-delay'), getMd('flights-delay')]);
        if (!verdictSeenAt && dm.status?.lastRun && dm.status.lastRun.id !== firstRun) {
          verdictSeenAt = Date.now();
          verdictTime = Date.parse(dm.status.lastRun.time);
        }
        if (m.status?.servingVersion === 'flights-delay-v1') {
          rolledBackAt ||= Date.now();
          return m;
        }
        return undefined;
      },
      600_000,
      100,
    );
    await runDriftJob('e2e-drift-2');
    const md = await watching;
    timings.degradedVerdictSeenToPreviousServing = rolledBackAt - verdictSeenAt;
    timings.degradedVerdictWrittenToPreviousServing = rolledBackAt - verdictTime;
    expect(md.status?.conditions?.find((x) => x.type === 'RolledBack')?.status).toBe('True');
    expect(md.status?.history?.find((h) => h.modelVersion === 'flights-delay-v2')?.outcome).toBe(
      'RolledBack',
    );
    const dm = await getDm('flights-delay');
    expect(dm.status?.quality?.verdict).toBe('Degraded');
    expect(dm.status?.lastAction?.action).toBe('Rollback');
    const events = await kubectl(['get', 'events', '--field-selector', 'reason=RolledBack', '-o', 'name']);
    expect(events.trim()).not.toBe('');
    requestIds = [];
  });
});
