import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError, type KubeClient } from '../../core/kube/client.js';
import { Builtin, builtinPath, kubePaths } from '../../core/kube/paths.js';
import {
  API_VERSION,
  type DriftMonitor,
  DriftMonitorKind,
  type ModelDeployment,
  ModelDeploymentKind,
  ModelVersionKind,
  resourcePath,
} from '../../core/resources/index.js';
import { driftCronJob } from '../../operator/children.js';
import type { Caches, OperatorContext } from '../../operator/context.js';
import { NamespaceSupport } from '../../operator/context.js';
import { EventRecorder } from '../../operator/events.js';
import { createOperatorMetrics } from '../../operator/metrics.js';
import { DriftMonitorReconciler } from '../../operator/reconcilers/drift-monitor.js';
import { sharedCredentials } from '../../operator/tenant-credentials.js';
import {
  client,
  createNamespace,
  deleteNamespace,
  eventually,
  helmRun,
  installCrds,
  installReporterRole,
  kubectlRun,
  log,
  waitForApi,
  workloadConfig,
} from './operator-kit.js';

/**
 * DriftMonitor admission on the real kube-apiserver: the generated CRD refuses a bad schedule
 * (field by field) and over-long fields with messages that say what is expected; the chart's
 * policy refuses a name too long to label its CronJob; and what the CRD accepts but the CronJob
 * validation refuses (a backwards range) becomes a condition and an Event at reconcile, with the
 * API server's own words.
 */

const RELEASE = 'dm-admission-test';
let c: KubeClient;
let ns: string;
let rendered = '';
let probe = 0;

const dm = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: API_VERSION,
  kind: 'DriftMonitor',
  metadata: { name },
  spec: { deployment: 'md', schedule: '@hourly', ...spec },
});

async function rejection(body: unknown): Promise<KubeApiError> {
  try {
    await c.create(resourcePath(DriftMonitorKind, ns), body);
  } catch (err) {
    if (err instanceof KubeApiError) return err;
    throw err;
  }
  throw new Error(`${JSON.stringify(body).slice(0, 200)} was accepted`);
}

beforeAll(async () => {
  c = client();
  await waitForApi(c);
  await installCrds(c);
  await installReporterRole(c);
  ns = await createNamespace(c, 'mlcycle-dm-adm');
  const r = await helmRun([
    'template',
    RELEASE,
    'helm/mlcycle',
    '--show-only',
    'templates/admission.yaml',
    '--set',
    `operator.watchNamespace=${ns}`,
  ]);
  expect(r.status, r.stderr).toBe(0);
  rendered = r.stdout;
  const applied = await kubectlRun(['apply', '-f', '-'], rendered);
  expect(applied.status, applied.stderr).toBe(0);
  // In force once the API server has loaded it.
  await eventually(
    'policy in force',
    async () =>
      (await rejection(dm(`p${++probe}`.padEnd(64, 'p'), {})).catch(() => undefined))?.status === 422,
    60_000,
    500,
  );
}, 120_000);

afterAll(async () => {
  if (rendered) await kubectlRun(['delete', '--ignore-not-found', '-f', '-'], rendered);
  if (ns) await deleteNamespace(c, ns);
});

describe('DriftMonitor admission', () => {
  it('refuses a schedule out of range, naming the field and saying what a schedule is', async () => {
    for (const schedule of ['61 * * * *', '0 0 * * 7', 'TZ=Europe/Paris 0 * * * *', '*/0 * * * *']) {
      const err = await rejection(dm('bad-schedule', { schedule }));
      expect(err.status, schedule).toBe(422);
      expect(err.message, schedule).toContain('spec.schedule: Invalid value');
      expect(err.message, schedule).toContain(
        'spec.schedule must be a cron schedule: five fields separated by spaces (minute 0-59, hour 0-23',
      );
    }
  });

  it('refuses over-long fields with their limit', async () => {
    const err = await rejection(
      dm('too-long', {
        schedule: `0 ${'0,'.repeat(60)}0 * * *`,
        window: `${'9'.repeat(12)}h`,
        actions: { alertWebhook: `https://hooks.example/${'x'.repeat(2040)}` },
        retrain: { datasetUri: `s3://b/${'k'.repeat(2048)}` },
      }),
    );
    expect(err.status).toBe(422);
    for (const [field, max] of [
      ['spec.schedule', 100],
      ['spec.window', 12],
      ['spec.actions.alertWebhook', 2048],
      ['spec.retrain.datasetUri', 2048],
    ] as const) {
      expect(err.message, field).toMatch(
        new RegExp(`${field.replace(/\./g, '\\.')}: Too long: may not be (more than|longer than) ${max}`),
      );
    }
  });

  it('refuses a name longer than 63 characters (the chart’s policy), and both webhook forms at once', async () => {
    const name = `monitor-${'n'.repeat(60)}`;
    const err = await rejection(dm(name, {}));
    expect(err.status).toBe(422);
    expect(err.message).toContain(
      `DriftMonitor name ${name} is 68 characters long; at most 63 (it is a label value on the CronJob and Jobs it runs)`,
    );
    const both = await rejection(
      dm('both', {
        actions: {
          alertWebhook: 'https://hooks.example/a',
          alertWebhookSecretRef: { name: 'slack', key: 'url' },
        },
      }),
    );
    expect(both.message).toContain(
      'give spec.actions.alertWebhook or spec.actions.alertWebhookSecretRef, not both',
    );
  });

  it('accepts a valid monitor with the webhook in a Secret; its CronJob holds only the reference', async () => {
    const created = await c.create<DriftMonitor>(
      resourcePath(DriftMonitorKind, ns),
      dm('ok', {
        schedule: '*/15 9-17 * * MON-FRI',
        actions: { alertWebhookSecretRef: { name: 'slack', key: 'url' } },
      }),
    );
    expect(created.spec.actions?.alertWebhookSecretRef).toEqual({ name: 'slack', key: 'url' });
  });
});

describe('a schedule the CRD accepts but the CronJob refuses', () => {
  it('is Ready=False CronJobRejected with the API server’s message and a Warning Event', async () => {
    // Something to monitor: a ModelVersion served by a ModelDeployment (statuses as the operator writes them).
    await c.create(resourcePath(ModelVersionKind, ns), {
      apiVersion: API_VERSION,
      kind: 'ModelVersion',
      metadata: { name: 'v1' },
      spec: { model: 'm', version: 'v1', dataset: { uri: 'builtin:flights' } },
    });
    await c.patch(`${resourcePath(ModelVersionKind, ns, 'v1')}/status`, { status: { phase: 'Registered' } });
    await c.create(resourcePath(ModelDeploymentKind, ns), {
      apiVersion: API_VERSION,
      kind: 'ModelDeployment',
      metadata: { name: 'md' },
      spec: { modelVersion: 'v1' },
    });
    await c.patch(`${resourcePath(ModelDeploymentKind, ns, 'md')}/status`, {
      status: { servingVersion: 'v1' },
    });
    const monitor = await c.create<DriftMonitor>(
      resourcePath(DriftMonitorKind, ns),
      dm('backwards', { schedule: '30-10 * * * *' }),
    );

    // The premise: the API server refuses that CronJob.
    const md = await c.get<ModelDeployment>(resourcePath(ModelDeploymentKind, ns, 'md'));
    const mv = await c.get(resourcePath(ModelVersionKind, ns, 'v1'));
    const direct = await c
      .create(
        `${builtinPath(Builtin.cronJobs, ns)}?dryRun=All`,
        driftCronJob(monitor, mv as never, md, workloadConfig()),
      )
      .catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(KubeApiError);
    expect((direct as KubeApiError).status).toBe(422);
    expect((direct as KubeApiError).message).toContain('spec.schedule');

    // The reconciler, as the operator runs it, against the real API server.
    const empty = { get: () => undefined, list: () => [] };
    const ctx: OperatorContext = {
      client: c,
      config: workloadConfig(),
      log,
      events: new EventRecorder(c, log, 'test'),
      metrics: createOperatorMetrics(),
      caches: Object.fromEntries(
        [
          'modelVersions',
          'modelDeployments',
          'driftMonitors',
          'jobs',
          'deployments',
          'services',
          'cronJobs',
        ].map((k) => [k, empty]),
      ) as unknown as Caches,
      registry: {
        version: async () => undefined,
        setChampion: async () => undefined,
      } as unknown as OperatorContext['registry'],
      namespaces: new NamespaceSupport(sharedCredentials({})),
      now: () => new Date(),
    };
    await expect(new DriftMonitorReconciler(ctx).reconcile(ns, 'backwards')).resolves.toBeUndefined();
    const after = await c.get<DriftMonitor>(resourcePath(DriftMonitorKind, ns, 'backwards'));
    const ready = after.status?.conditions?.find((x) => x.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'CronJobRejected' });
    expect(ready?.message).toContain('the CronJob backwards-drift was refused: ');
    expect(ready?.message).toContain('spec.schedule');
    expect(await c.getOrUndefined(kubePaths.cronJob(ns, 'backwards-drift'))).toBeUndefined();
    const events = await c.list<{
      reason: string;
      type: string;
      involvedObject: { name: string };
      message: string;
    }>(kubePaths.events(ns));
    const rejected = events.items.filter(
      (e) => e.involvedObject.name === 'backwards' && e.reason === 'CronJobRejected',
    );
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.type).toBe('Warning');
    expect(rejected[0]?.message).toBe(ready?.message);
  });
});
