import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError, type KubeClient } from '../../core/kube/client.js';
import {
  API_VERSION,
  DriftMonitorKind,
  ModelDeploymentKind,
  ModelVersionKind,
  resourcePath,
} from '../../core/resources/index.js';
import { client, createNamespace, deleteNamespace, installCrds, waitForApi } from './operator-kit.js';

/**
 * The CRDs generated from core/resources on the real kube-apiserver: valid examples are
 * accepted, bad specs are rejected at admission with messages that say what is wrong.
 */

let c: KubeClient;
let ns: string;

const mv = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: API_VERSION,
  kind: 'ModelVersion',
  metadata: { name },
  spec: { model: 'flights-delay', version: 'v1', dataset: { uri: 'builtin:flights' }, ...spec },
});

async function rejection(path: string, body: unknown): Promise<string> {
  try {
    await c.create(path, body);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 422) return err.message;
    throw err;
  }
  throw new Error(`${JSON.stringify(body)} was accepted`);
}

beforeAll(async () => {
  c = client();
  await waitForApi(c);
  await installCrds(c);
  ns = await createNamespace(c, 'mlcycle-op-adm');
});

afterAll(async () => {
  if (ns) await deleteNamespace(c, ns);
});

describe('admission of ModelVersion', () => {
  it('accepts a valid spec and fills the defaults', async () => {
    const created = await c.create<{ spec: { task: string; training?: unknown } }>(
      resourcePath(ModelVersionKind, ns),
      mv('ok', { training: {} }),
    );
    expect(created.spec.task).toBe('binary-classification');
    expect(created.spec.training).toEqual({ algorithm: 'gbdt', seed: 42 });
  });

  it('rejects a model name that is not a DNS label, naming the field', async () => {
    const msg = await rejection(
      resourcePath(ModelVersionKind, ns),
      mv('bad-name', { model: 'Flights_Delay' }),
    );
    expect(msg).toContain('spec.model');
    expect(msg).toContain('should match');
  });

  it('rejects a missing dataset and an unknown task', async () => {
    const body = mv('bad-required', { task: 'clustering' });
    delete (body.spec as { dataset?: unknown }).dataset;
    const msg = await rejection(resourcePath(ModelVersionKind, ns), body);
    expect(msg).toContain('spec.dataset: Required value');
    expect(msg).toMatch(/spec\.task: Unsupported value: "clustering"/);
  });

  it('checks cross-field rules with CEL: gate metric vs task, split shares, time window', async () => {
    const msg = await rejection(
      resourcePath(ModelVersionKind, ns),
      mv('bad-cel', {
        task: 'regression',
        gate: { minRocAuc: 0.7 },
        dataset: {
          uri: 'builtin:flights',
          split: { validation: 0.5, holdout: 0.45 },
          since: '2001-03-01T00:00:00Z',
          until: '2001-02-01T00:00:00Z',
        },
      }),
    );
    expect(msg).toContain('gate.minRocAuc applies to binary-classification');
    expect(msg).toContain('must leave at least 10% of the rows for training');
    expect(msg).toContain('dataset.since must be before dataset.until');
  });

  it('rejects a bad resource quantity', async () => {
    const msg = await rejection(
      resourcePath(ModelVersionKind, ns),
      mv('bad-qty', { resources: { requests: { cpu: 'lots' } } }),
    );
    expect(msg).toContain('spec.resources.requests.cpu');
    expect(msg).toContain('a quantity such as 500m, 1Gi or 2');
  });

  it('keeps model, version and task immutable but lets the training budget change', async () => {
    const path = resourcePath(ModelVersionKind, ns, 'ok');
    let err: unknown;
    try {
      await c.patch(path, { spec: { model: 'other-model', task: 'regression' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).message).toContain('spec.model is immutable');
    expect((err as KubeApiError).message).toContain('spec.task is immutable');
    const patched = await c.patch<{ metadata: { generation: number } }>(path, {
      spec: { training: { trials: 3 } },
    });
    expect(patched.metadata.generation).toBe(2);
  });

  it('accepts status only through the status subresource', async () => {
    const path = resourcePath(ModelVersionKind, ns, 'ok');
    const viaMain = await c.patch<{ status?: unknown }>(path, { status: { phase: 'Registered' } });
    expect(viaMain.status).toBeUndefined();
    const viaStatus = await c.patch<{ status?: { phase?: string } }>(`${path}/status`, {
      status: { phase: 'Registered' },
    });
    expect(viaStatus.status?.phase).toBe('Registered');
    const msg = await c
      .patch(`${path}/status`, { status: { phase: 'Done' } })
      .then(() => 'accepted')
      .catch((e: unknown) => String(e));
    expect(msg).toMatch(/status\.phase: Unsupported value: "Done"/);
  });
});

describe('admission of ModelDeployment and DriftMonitor', () => {
  it('rejects replicas out of range and an empty model version', async () => {
    const msg = await rejection(resourcePath(ModelDeploymentKind, ns), {
      apiVersion: API_VERSION,
      kind: 'ModelDeployment',
      metadata: { name: 'bad' },
      spec: { modelVersion: '', replicas: 1000 },
    });
    expect(msg).toContain('spec.replicas');
    expect(msg).toContain('spec.modelVersion');
  });

  it('rejects a bad schedule, window, share and webhook, and keeps the target immutable', async () => {
    const msg = await rejection(resourcePath(DriftMonitorKind, ns), {
      apiVersion: API_VERSION,
      kind: 'DriftMonitor',
      metadata: { name: 'bad' },
      spec: {
        deployment: 'flights-delay',
        schedule: 'every hour',
        window: '24 hours',
        drift: { share: 0 },
        actions: { alertWebhook: 'ftp://x' },
      },
    });
    for (const field of ['spec.schedule', 'spec.window', 'spec.drift.share', 'spec.actions.alertWebhook']) {
      expect(msg).toContain(field);
    }
    await c.create(resourcePath(DriftMonitorKind, ns), {
      apiVersion: API_VERSION,
      kind: 'DriftMonitor',
      metadata: { name: 'ok' },
      spec: { deployment: 'flights-delay', schedule: '@hourly' },
    });
    const err = await c
      .patch(resourcePath(DriftMonitorKind, ns, 'ok'), { spec: { deployment: 'other' } })
      .catch((e: unknown) => e);
    expect(String(err)).toContain('spec.deployment is immutable');
  });
});
