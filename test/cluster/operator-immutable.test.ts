import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError, type KubeClient } from '../../core/kube/client.js';
import { API_VERSION, ModelVersionKind, resourcePath } from '../../core/resources/index.js';
import {
  client,
  createNamespace,
  deleteNamespace,
  eventually,
  helmRun,
  installCrds,
  kubectlRun,
  waitForApi,
} from './operator-kit.js';

/**
 * Immutable versions at admission: the chart's ValidatingAdmissionPolicy, rendered by helm and
 * applied to the real kube-apiserver (bound to this test's namespace only), refuses any change
 * to the spec of a Registered or Rejected ModelVersion with a message that says what to do,
 * and lets everything else through: a Pending version's spec, a final version's labels, and the
 * operator's status writes.
 */

const RELEASE = 'immutable-test';
let c: KubeClient;
let ns: string;
let rendered = '';

const mvPath = (name?: string) => resourcePath(ModelVersionKind, ns, name);

async function createVersion(name: string, phase?: 'Registered' | 'Rejected'): Promise<void> {
  await c.create(mvPath(), {
    apiVersion: API_VERSION,
    kind: 'ModelVersion',
    metadata: { name },
    spec: { model: 'flights-delay', version: name, dataset: { uri: 'builtin:flights' } },
  });
  if (phase) {
    await c.patch(`${mvPath(name)}/status`, { status: { phase, observedGeneration: 1 } });
  }
}

async function refusal(name: string, patch: unknown): Promise<KubeApiError | undefined> {
  try {
    await c.patch(mvPath(name), patch);
    return undefined;
  } catch (err) {
    if (err instanceof KubeApiError) return err;
    throw err;
  }
}

beforeAll(async () => {
  c = client();
  await waitForApi(c);
  await installCrds(c);
  ns = await createNamespace(c, 'mlcycle-op-immut');
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
  // The policy takes effect once the API server has loaded it: probe with a version of its own.
  await createVersion('probe', 'Registered');
  let trials = 1;
  await eventually(
    'policy in force',
    () => refusal('probe', { spec: { training: { trials: ++trials } } }),
    60_000,
    500,
  );
}, 120_000);

afterAll(async () => {
  if (rendered) await kubectlRun(['delete', '--ignore-not-found', '-f', '-'], rendered);
  if (ns) await deleteNamespace(c, ns);
});

describe('ValidatingAdmissionPolicy for ModelVersion', () => {
  it('refuses a spec change of a Registered version, saying to create a new version', async () => {
    await createVersion('v1', 'Registered');
    const err = await refusal('v1', { spec: { dataset: { uri: 's3://other/data.parquet' } } });
    expect(err?.status).toBe(403);
    expect(err?.message).toContain(
      'ModelVersion v1 is Registered: its spec cannot change, a registered or rejected version is final (model flights-delay, version v1). Create a new ModelVersion with a new spec.version instead.',
    );
    const mv = await c.get<{ spec: { dataset: { uri: string } }; metadata: { generation: number } }>(
      mvPath('v1'),
    );
    expect(mv.spec.dataset.uri).toBe('builtin:flights');
    expect(mv.metadata.generation).toBe(1);
  });

  it('refuses it for a Rejected version too, also through server-side apply', async () => {
    await createVersion('v2', 'Rejected');
    let err: unknown;
    try {
      await c.patch(
        mvPath('v2'),
        {
          apiVersion: API_VERSION,
          kind: 'ModelVersion',
          metadata: { name: 'v2' },
          spec: {
            model: 'flights-delay',
            version: 'v2',
            dataset: { uri: 'builtin:flights' },
            gate: { minRocAuc: 0.1 },
          },
        },
        'apply',
      );
    } catch (e) {
      err = e;
    }
    expect((err as KubeApiError).message).toContain('ModelVersion v2 is Rejected: its spec cannot change');
  });

  it('lets a version that is not final change, a final version’s labels change, and status writes through', async () => {
    await createVersion('v3');
    expect(await refusal('v3', { spec: { training: { trials: 2 } } })).toBeUndefined();
    expect(await refusal('v1', { metadata: { labels: { team: 'a' } } })).toBeUndefined();
    await c.patch(`${mvPath('v1')}/status`, { status: { message: 'still registered' } });
    expect((await c.get<{ status: { message: string } }>(mvPath('v1'))).status.message).toBe(
      'still registered',
    );
  });
});
