import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import { isConflict, type KubeClient } from '../../core/kube/client.js';
import { kubePaths } from '../../core/kube/paths.js';
import {
  API_VERSION,
  type ModelVersion,
  ModelVersionKind,
  resourcePath,
} from '../../core/resources/index.js';
import { type JobView, writeStatus } from '../../operator/context.js';
import { Controller, type Reconciler } from '../../operator/controller.js';
import type { OperatorManager } from '../../operator/manager.js';
import { createOperatorMetrics } from '../../operator/metrics.js';
import { LABELS, trainerJobName } from '../../operator/naming.js';
import { ModelVersionReconciler } from '../../operator/reconcilers/model-version.js';
import { testDatabaseUrl } from '../services.js';
import {
  client,
  createNamespace,
  deleteNamespace,
  eventually,
  installCrds,
  loadServicesEnv,
  log,
  startOperator,
  waitForApi,
} from './operator-kit.js';

/**
 * The ModelVersion reconciler in this process against the real kube-apiserver: one Job per
 * generation however many operators race and wherever one of them stops; conflicts retried.
 * The Jobs here use an image that is never pulled, so they stay pending and cost nothing.
 */

let c: KubeClient;
let ns: string;
let db: Database;
const managers: OperatorManager[] = [];

const NEVER = { image: 'mlcycle:never-pulled', imagePullPolicy: 'Never' as const };

async function newManager(): Promise<OperatorManager> {
  const m = await startOperator({ client: c, namespace: ns, pool: db.pool, config: NEVER, start: false });
  managers.push(m);
  return m;
}

async function createMv(name: string): Promise<void> {
  await c.create(resourcePath(ModelVersionKind, ns), {
    apiVersion: API_VERSION,
    kind: 'ModelVersion',
    metadata: { name },
    spec: { model: `op-${ns}`.slice(0, 40), version: name, dataset: { uri: 'builtin:flights', rows: 1000 } },
  });
}

async function jobsOf(name: string): Promise<JobView[]> {
  const list = await c.list<JobView>(kubePaths.jobs(ns), `${LABELS.modelVersion}=${name}`);
  return list.items;
}

const getMv = (name: string) => c.get<ModelVersion>(resourcePath(ModelVersionKind, ns, name));

/** Reconciles until a pass ends without error (a 409 from a racing writer just means: again). */
async function settle(m: OperatorManager, name: string): Promise<void> {
  for (let i = 0; i < 10; i++) {
    try {
      await new ModelVersionReconciler(m.ctx).reconcile(ns, name);
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
  throw new Error('reconcile kept conflicting');
}

beforeAll(async () => {
  loadServicesEnv();
  c = client();
  await waitForApi(c);
  await installCrds(c);
  ns = await createNamespace(c, 'mlcycle-op-mv');
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: '/tmp/unused' });
});

afterAll(async () => {
  await Promise.all(managers.map((m) => m.stop()));
  if (ns) await deleteNamespace(c, ns);
  await db?.close();
});

describe('ModelVersion → trainer Job', () => {
  it('creates exactly one Job when several operators reconcile the same version at once', async () => {
    await createMv('race');
    const racers = await Promise.all([newManager(), newManager(), newManager()]);
    const results = await Promise.allSettled(
      racers.flatMap((m) => [1, 2].map(() => new ModelVersionReconciler(m.ctx).reconcile(ns, 'race'))),
    );
    for (const r of results) {
      if (r.status === 'rejected') expect(isConflict(r.reason), String(r.reason)).toBe(true);
    }
    await settle(racers[0] as OperatorManager, 'race');
    const jobs = await jobsOf('race');
    expect(jobs.map((j) => j.metadata?.name)).toEqual([trainerJobName('race', 1)]);
    const job = jobs[0] as JobView;
    expect(job.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'ModelVersion',
      name: 'race',
      controller: true,
    });
    const mv = await getMv('race');
    expect(mv.status).toMatchObject({ observedGeneration: 1, jobName: trainerJobName('race', 1) });
    expect(['Pending', 'Training']).toContain(mv.status?.phase);
    const trained = mv.status?.conditions?.find((x) => x.type === 'Trained');
    expect(trained?.status).toBe('Unknown');
  });

  it('keeps one Job when an operator dies between creating the Job and writing the status', async () => {
    await createMv('restart');
    const first = await newManager();
    // What a crash right after the create leaves behind: the Job, and no status.
    const mv = await getMv('restart');
    const { trainerJob } = await import('../../operator/children.js');
    await c.create(kubePaths.jobs(ns), trainerJob(mv, first.ctx.config));
    expect(mv.status).toBeUndefined();

    const second = await newManager(); // the restarted operator: empty caches, nothing in memory
    await settle(second, 'restart');
    await settle(second, 'restart');
    expect((await jobsOf('restart')).length).toBe(1);
    expect((await getMv('restart')).status?.jobName).toBe(trainerJobName('restart', 1));

    // Status lost again (e.g. restored from a backup without status): still one Job.
    const again = await getMv('restart');
    await c.replace(`${resourcePath(ModelVersionKind, ns, 'restart')}/status`, { ...again, status: {} });
    await settle(await newManager(), 'restart');
    expect((await jobsOf('restart')).length).toBe(1);
  });

  it('runs a new Job for a new generation and stops the old one', async () => {
    const m = await newManager();
    await c.patch(resourcePath(ModelVersionKind, ns, 'restart'), { spec: { training: { trials: 2 } } });
    await settle(m, 'restart');
    const names = await eventually('old generation Job deleted', async () => {
      const jobs = (await jobsOf('restart')).filter((j) => !j.metadata?.deletionTimestamp);
      return jobs.length === 1 ? jobs.map((j) => j.metadata?.name) : undefined;
    });
    expect(names).toEqual([trainerJobName('restart', 2)]);
    const mv = await getMv('restart');
    expect(mv.status?.observedGeneration).toBe(2);
    const args = (await jobsOf('restart')).map((j) => JSON.stringify(j.spec?.template)).join('');
    expect(args).toContain('"--trials=2"'); // settingsToArgs writes --flag=value
  });

  it('records an Event for the user when it starts training', async () => {
    const events = await c.list<{ reason: string; message: string; involvedObject: { name: string } }>(
      `/api/v1/namespaces/${ns}/events`,
    );
    const mine = events.items.filter(
      (e) => e.involvedObject.name === 'race' && e.reason === 'TrainingStarted',
    );
    expect(mine.length).toBe(1); // only the racer that created the Job reports it
    expect(mine[0]?.message).toContain(trainerJobName('race', 1));
  });

  it('retries a status write that lost an optimistic-concurrency race, and converges', async () => {
    await createMv('conflict');
    const m = await newManager();
    const stale = await getMv('conflict');
    await c.patch(resourcePath(ModelVersionKind, ns, 'conflict'), {
      metadata: { annotations: { touched: 'yes' } },
    });
    let attempts = 0;
    const real = new ModelVersionReconciler(m.ctx);
    const flaky: Reconciler = {
      kind: 'ModelVersion',
      watches: () => [],
      async reconcile(namespace, name) {
        attempts++;
        if (attempts === 1) {
          // A write based on what we read before somebody else changed the object: 409.
          await writeStatus(m.ctx, ModelVersionKind, stale, { phase: 'Pending' });
        }
        return real.reconcile(namespace, name);
      },
    };
    const metrics = createOperatorMetrics();
    const ctrl = new Controller(flaky, metrics, log, 1);
    ctrl.start();
    ctrl.enqueue(ns, 'conflict');
    await eventually(
      'status written after the conflict',
      async () => (await getMv('conflict')).status?.jobName,
    );
    await ctrl.stop();
    expect(attempts).toBe(2);
    const counts = (await metrics.reconciles.get()).values.map((v) => [v.labels.result, v.value]);
    expect(counts).toEqual(
      expect.arrayContaining([
        ['conflict', 1],
        ['success', 1],
      ]),
    );
    expect((await jobsOf('conflict')).length).toBe(1);
  });
});

describe('informers and work queue', () => {
  it('a running operator picks up a new ModelVersion by itself', async () => {
    const m = await startOperator({ client: c, namespace: ns, pool: db.pool, config: NEVER });
    managers.push(m);
    const t0 = Date.now();
    await createMv('watched');
    const job = await eventually(
      'Job created by the running operator',
      async () => (await jobsOf('watched'))[0],
    );
    expect(job.metadata?.name).toBe(trainerJobName('watched', 1));
    process.stdout.write(`apply → trainer Job created (in-process operator): ${Date.now() - t0} ms\n`);
    await eventually('status written', async () => (await getMv('watched')).status?.jobName);
  });
});
