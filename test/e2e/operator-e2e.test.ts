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
 * trains in a Job and is Registered → the example ModelDeployment serves it → the example
 * DriftMonitor sees drifted, labelled traffic run after run → sustained drift makes the operator
 * create a retraining ModelVersion on the labelled production window (lineage in its status) →
 * Registered, it shadows v1 by itself → labels on which it beats v1 → the drift run's decision
 * promotes it (the spec untouched) → labels showing degraded quality → the next run rolls back to
 * v1 by itself (the spec untouched) → the same manifests applied again server-side (a GitOps
 * sync) change nothing that serves. Then a second deployment with `approval: Manual`: the
 * winning challenger waits for the documented `kubectl annotate`, then is promoted.
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
    model: string;
    version: string;
    resources?: Record<string, unknown>;
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

// The example ModelDeployment's /feedback token, in the Secret it names (created by the test;
// the second deployment, made from the same example, uses it too).
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

async function runDriftJob(name: string, monitor: string): Promise<void> {
  await kubectl(['create', 'job', `--from=cronjob/${monitor}-drift`, name]);
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
  });

  it('serves v1 behind its Service, answering /predict', async () => {
    await kubectl([
      'create',
      'secret',
      'generic',
      'flights-delay-feedback',
      `--from-literal=token=${FEEDBACK_TOKEN}`,
    ]);
    await kubectl(['apply', '-f', 'examples/flights/modeldeployment.yaml']);
    const md = await rolledOut('flights-delay', 'flights-delay-v1');
    expect(md.status?.challenger).toBeUndefined();
    expect(md.status?.conditions?.find((x) => x.type === 'Available')?.status).toBe('True');
    expect(await kubectl(['get', 'modeldeployments'])).toMatch(
      /flights-delay\s+flights-delay-v1\s+flights-delay-v1\s+(<none>\s+<none>\s+)?1\/1\s+RolledOut\s/,
    );
    // A drain evicts one serving Pod at a time.
    expect(await kubectl(['get', 'pdb', 'flights-delay', '-o', 'jsonpath={.spec.maxUnavailable}'])).toBe('1');
    forward = await portForward(ns, 'svc/flights-delay', 80);
    const answer = await post('/predict', exampleRow());
    expect(answer.model_version).toBe('v1');
    expect(typeof answer.probability).toBe('number');
  });

  let retrained = '';

  it('retrains on the labelled production window after sustained drift; the new version shadows v1 by itself', async () => {
    const dm = yaml.load(readFileSync('examples/flights/driftmonitor.yaml', 'utf8')) as {
      spec: { retrain?: Record<string, unknown> };
    };
    dm.spec.retrain = { ...dm.spec.retrain, trials: 2 }; // a quick search: the point is the path
    await kubectl(['apply', '-f', '-'], JSON.stringify(dm));
    await eventually(
      'CronJob created',
      async () => (await getDm('flights-delay')).status?.cronJobName,
      60_000,
      500,
    );
    // Three drifted runs in a row (the example's sustainedDriftRuns), each on new labelled traffic.
    let last: Run | undefined;
    for (let round = 0; round < 3; round++) {
      const ids = await drivenTraffic(800, round * 7);
      await labelsByRule(ids, false);
      last = (await driftRun('flights-delay', `e2e-drift-${round + 1}`)).run;
      const status = (await getDm('flights-delay')).status;
      expect(status?.consecutiveDriftedRuns, JSON.stringify(last)).toBe(round + 1);
    }
    expect(last?.verdict).toMatch(/^(SustainedDrift|QualityDegraded)$/);
    expect(last?.decision?.retrain, JSON.stringify(last)).toBe(true);
    const monitor = await getDm('flights-delay');
    expect(monitor.status?.lastAction?.action).toBe('Retrain');

    const made = await eventually(
      'retraining ModelVersion created',
      async () =>
        (
          await c.list<ModelVersion>(
            resourcePath(ModelVersionKind, ns),
            'mlcycle.dev/drift-monitor=flights-delay',
          )
        ).items[0],
      60_000,
      500,
    );
    retrained = made.metadata.name;
    expect(made.spec.lineage).toMatchObject({
      retrainedFrom: 'flights-delay-v1',
      driftMonitor: 'flights-delay',
      driftRun: last?.id,
      deployment: 'flights-delay',
    });
    expect(made.spec.dataset.uri).toMatch(/^production:flights-delay\?since=\S+Z&until=\S+Z$/);
    const mv = await registered(retrained);
    // It learned from what production saw: the labelled requests of the three rounds.
    expect(mv.status?.lineage).toMatchObject({ source: 'Production', deployment: 'flights-delay' });
    expect(mv.status?.lineage?.labelledRows).toBeGreaterThanOrEqual(3 * 800 * 0.9);
    expect(mv.status?.score).toBeGreaterThan(0.9); // the rule the labels follow is learnable

    const md = await eventually(
      'the retrained version shadows v1',
      async () => {
        const m = await getMd('flights-delay');
        return m.status?.servingVersion === 'flights-delay-v1' &&
          m.status.challenger?.modelVersion === retrained &&
          m.status.conditions?.find((x) => x.type === 'Progressing')?.reason === 'RolloutComplete'
          ? m
          : undefined;
      },
      300_000,
      1000,
    );
    expect(md.status?.challenger).toMatchObject({ mode: 'Shadow', source: 'Retrain' });
    expect(await kubectl(['get', 'modeldeployments'])).toMatch(
      new RegExp(`flights-delay\\s+flights-delay-v1\\s+flights-delay-v1\\s+${retrained}\\s+Shadow\\s+1/1\\s`),
    );
    await refreshForward('flights-delay');
    expect((await post('/predict', exampleRow())).model_version).toBe('v1');
  });

  it('promotes the retrained version by itself once labels show it beats v1 (spec untouched)', async () => {
    const ids = await drivenTraffic(800, 3);
    await labelsByRule(ids, false);
    const challengerVersion = (await getMv(retrained)).spec.version;
    const { seenAt, run } = await driftRun('flights-delay', 'e2e-drift-4');
    expect(run?.decision?.retrain, 'one retraining per streak').toBe(false);
    expect(run?.decision?.promotion, JSON.stringify(run)).toMatchObject({
      challenger: challengerVersion,
      ready: true,
      promote: true,
    });
    const md = await eventually(
      'retrained version promoted',
      async () => {
        const m = await getMd('flights-delay');
        return m.status?.servingVersion === retrained ? m : undefined;
      },
      300_000,
      100,
    );
    timings.promotionDecisionSeenToNewServing = Date.now() - seenAt;
    await refreshForward('flights-delay');
    await eventually(
      'the retrained version answers',
      async () =>
        (await post('/predict', exampleRow())).model_version === challengerVersion ? true : undefined,
      120_000,
      200,
    );
    timings.promotionDecisionSeenToNewAnswering = Date.now() - seenAt;
    expect(md.spec.modelVersion).toBe('flights-delay-v1');
    expect(md.status?.target).toMatchObject({ modelVersion: retrained, reason: 'Promotion' });
    expect(md.status?.lastAction?.action).toBe('Promoted');
    expect(md.status?.conditions?.find((x) => x.type === 'Promoted')?.status).toBe('True');
    expect(md.status?.challenger).toBeUndefined();
    expect((await getDm('flights-delay')).status?.lastAction?.action).toBe('Promote');
    const events = await kubectl(['get', 'events', '--field-selector', 'reason=Promoted', '-o', 'name']);
    expect(events.trim()).not.toBe('');
    const dms = await kubectl(['get', 'driftmonitors']);
    // … VERDICT, QUALITY, ESTIMATE (the estimated ROC AUC, or <none>), ACTION.
    expect(dms).toMatch(
      new RegExp(
        `flights-delay\\s+flights-delay\\s+0 \\* \\* \\* \\*\\s+\\S+\\s+[01](\\.\\d+)?\\s+${run?.verdict}\\s+\\S+\\s+\\S+\\s+Promote\\s`,
      ),
    );
  });

  it('rolls back to v1 by itself once labels show degraded quality (spec untouched), and a GitOps sync changes nothing', async () => {
    const ids = await drivenTraffic(800, 11);
    await labelsByRule(ids, true);
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
    const { seenAt, run } = await driftRun('flights-delay', 'e2e-drift-5');
    expect(run?.decision?.rollback, JSON.stringify(run)).toBe(true);
    const md = await watching;
    timings.degradedVerdictSeenToPreviousServing = rolledBackAt - seenAt;
    await refreshForward('flights-delay');
    await eventually(
      'v1 answers again',
      async () => ((await post('/predict', exampleRow())).model_version === 'v1' ? true : undefined),
      120_000,
      200,
    );
    timings.degradedVerdictSeenToPreviousAnswering = Date.now() - seenAt;
    expect(md.spec.modelVersion).toBe('flights-delay-v1');
    expect(md.status?.target).toMatchObject({ modelVersion: 'flights-delay-v1', reason: 'Rollback' });
    expect(md.status?.conditions?.find((x) => x.type === 'RolledBack')?.status).toBe('True');
    expect(md.status?.history?.find((h) => h.modelVersion === retrained)?.outcome).toBe('RolledBack');
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
    expect(after.status?.challenger).toBeUndefined(); // it served and was rolled back: it does not come back
  });

  it('with approval: Manual, a winning challenger waits for kubectl annotate, then is promoted', async () => {
    // Its own model, so its logs and registry rows are its own.
    for (const [version, seed] of [
      ['v1', 42],
      ['v2', 7],
    ] as const) {
      const mv = exampleMv();
      mv.metadata.name = `flights-manual-${version}`;
      mv.spec.model = 'flights-manual';
      mv.spec.version = version;
      mv.spec.dataset.rows = 60000;
      mv.spec.training = { ...mv.spec.training, seed, trials: 1 };
      mv.spec.resources = { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '3Gi' } };
      await kubectl(['apply', '-f', '-'], JSON.stringify(mv));
    }
    await registered('flights-manual-v1');
    await registered('flights-manual-v2');
    const md = yaml.load(readFileSync('examples/flights/modeldeployment.yaml', 'utf8')) as {
      metadata: { name: string };
      spec: Record<string, unknown>;
    };
    md.metadata.name = 'flights-manual';
    md.spec.modelVersion = 'flights-manual-v1';
    md.spec.challenger = { modelVersion: 'flights-manual-v2', mode: 'Shadow' };
    md.spec.promotion = { approval: 'Manual', minLabels: 200 };
    md.spec.resources = { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '2Gi' } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(md));
    await eventually(
      'v1 serving, v2 shadowing',
      async () => {
        const m = await getMd('flights-manual');
        return m.status?.servingVersion === 'flights-manual-v1' &&
          m.status.challenger?.modelVersion === 'flights-manual-v2' &&
          m.status.conditions?.find((x) => x.type === 'Progressing')?.reason === 'RolloutComplete'
          ? m
          : undefined;
      },
      300_000,
      1000,
    );
    const dm = yaml.load(readFileSync('examples/flights/driftmonitor.yaml', 'utf8')) as {
      metadata: { name: string };
      spec: Record<string, unknown>;
    };
    dm.metadata.name = 'flights-manual';
    dm.spec.deployment = 'flights-manual';
    delete dm.spec.retrain;
    await kubectl(['apply', '-f', '-'], JSON.stringify(dm));
    await eventually(
      'CronJob created',
      async () => (await getDm('flights-manual')).status?.cronJobName,
      60_000,
      500,
    );

    await refreshForward('flights-manual');
    const ids = await drivenTraffic(600, 0);
    await labelsByRanking('flights-manual', 'v2', ids);
    const { run } = await driftRun('flights-manual', 'e2e-manual-1');
    expect(run?.decision?.promotion, JSON.stringify(run)).toMatchObject({ challenger: 'v2', promote: true });
    const pending = await eventually('promotion pending', async () => {
      const m = await getMd('flights-manual');
      return m.status?.pendingPromotion ? m : undefined;
    });
    expect(pending.status?.servingVersion).toBe('flights-manual-v1');
    expect(pending.status?.pendingPromotion).toMatchObject({
      challenger: 'flights-manual-v2',
      runId: run?.id,
    });
    const waiting = pending.status?.conditions?.find((x) => x.type === 'PromotionPending');
    expect(waiting?.status).toBe('True');
    const how =
      'kubectl annotate modeldeployment flights-manual mlcycle.dev/approve-promotion=flights-manual-v2 --overwrite';
    expect(waiting?.message).toContain(how);
    expect((await getDm('flights-manual')).status?.lastAction?.action).toBe('AwaitApproval');
    // Nothing moves while it waits.
    await new Promise((r) => setTimeout(r, 5000));
    expect((await getMd('flights-manual')).status?.servingVersion).toBe('flights-manual-v1');

    // The documented command, as a user types it.
    await kubectl(how.split(' ').slice(1));
    const promoted = await eventually(
      'v2 promoted after approval',
      async () => {
        const m = await getMd('flights-manual');
        return m.status?.servingVersion === 'flights-manual-v2' ? m : undefined;
      },
      300_000,
      200,
    );
    expect(promoted.spec.modelVersion).toBe('flights-manual-v1');
    expect(promoted.status?.target).toMatchObject({ modelVersion: 'flights-manual-v2', reason: 'Promotion' });
    expect(promoted.status?.pendingPromotion).toBeUndefined();
    await refreshForward('flights-manual');
    await eventually(
      'v2 answers',
      async () => ((await post('/predict', exampleRow())).model_version === 'v2' ? true : undefined),
      120_000,
      200,
    );
  });
});

type Run = NonNullable<DriftMonitor['status']>['lastRun'];

const exampleRow = () => JSON.parse(readFileSync('examples/flights/requests/row.json', 'utf8'));

async function rolledOut(deployment: string, version: string): Promise<ModelDeployment> {
  return eventually(
    `${deployment} serving ${version}`,
    async () => {
      const m = await getMd(deployment);
      return m.status?.servingVersion === version &&
        m.status.conditions?.find((x) => x.type === 'Progressing')?.reason === 'RolloutComplete'
        ? m
        : undefined;
    },
    300_000,
    1000,
  );
}

/** kubectl port-forward holds on to the Pod it picked, which a rollout replaces: a new one. */
async function refreshForward(service: string): Promise<void> {
  forward?.proc.kill();
  forward = await portForward(ns, `svc/${service}`, 80);
}

/**
 * Drifted traffic: short night hops out of Hawaii, far from the mainland daytime mix. Returns
 * the request ids the server gave the records.
 */
async function drivenTraffic(n: number, day: number): Promise<string[]> {
  const records = Array.from({ length: n }, (_, i) => ({
    date: new Date(Date.UTC(2001, 5, 1 + ((i + day) % 28), 23, i % 60)).toISOString(),
    distance: 80 + (i % 40),
    origin: i % 2 ? 'HNL' : 'OGG',
    destination: i % 2 ? 'OGG' : 'HNL',
  }));
  const ids: string[] = [];
  for (let i = 0; i < records.length; i += 200) {
    const out = await post('/predict_batch', records.slice(i, i + 200));
    ids.push(...out.predictions.map((p) => p.prediction_id));
  }
  await new Promise((r) => setTimeout(r, 3000)); // the servers flush their prediction logs every 200 ms
  return ids;
}

/**
 * Labels that follow a rule the flights model never saw — the hops of 100 miles or more are the
 * late ones — so a model retrained on them learns it and beats v1; `inverted` turns it round,
 * which degrades a model that learned it.
 */
async function labelsByRule(ids: string[], inverted: boolean): Promise<void> {
  const { rows } = await db.pool.query<{ prediction_id: string; distance: number }>(
    `SELECT DISTINCT prediction_id, (features->>'distance')::float AS distance FROM prediction_logs
     WHERE model_name = 'flights-delay' AND prediction_id = ANY($1)`,
    [ids],
  );
  expect(rows.length).toBeGreaterThan(ids.length * 0.9);
  const labels = rows.map((r) => ({ prediction_id: r.prediction_id, label: r.distance >= 100 !== inverted }));
  for (let i = 0; i < labels.length; i += 500) await post('/feedback', labels.slice(i, i + 500));
}

/** Labels that rank `version`'s logged probabilities in order: it is the better model on them. */
async function labelsByRanking(model: string, version: string, ids: string[]): Promise<void> {
  const { rows } = await db.pool.query<{ prediction_id: string; probability: number }>(
    'SELECT prediction_id, probability FROM prediction_logs WHERE model_name = $1 AND model_version = $2 AND prediction_id = ANY($3)',
    [model, version, ids],
  );
  expect(rows.length).toBeGreaterThan(ids.length * 0.9);
  const ranked = [...rows].sort((a, b) => a.probability - b.probability);
  const labels = ranked.map((r, i) => ({ prediction_id: r.prediction_id, label: i >= ranked.length / 2 }));
  for (let i = 0; i < labels.length; i += 500) await post('/feedback', labels.slice(i, i + 500));
}

/** Runs a drift Job of `monitor` and returns when its run (with the decision) is in the status. */
async function driftRun(monitor: string, job: string): Promise<{ seenAt: number; run: Run }> {
  const before = (await getDm(monitor)).status?.lastRun?.id;
  let seenAt = 0;
  const watching = eventually(
    `run of ${job} reported`,
    async () => {
      const d = await getDm(monitor);
      if (d.status?.lastRun && d.status.lastRun.id !== before) {
        seenAt ||= Date.now();
        return d.status.lastRun;
      }
      return undefined;
    },
    600_000,
    100,
  );
  await runDriftJob(job, monitor);
  const run = await watching;
  return { seenAt, run };
}
