import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { isConflict } from '../../core/kube/client.js';
import { Builtin, builtinPath, kubePaths } from '../../core/kube/paths.js';
import { ModelDeploymentKind, resourcePath } from '../../core/resources/index.js';
import { serverLabels } from '../children.js';
import {
  eventReasons,
  type FakeWorld,
  fakeWorld,
  getDeployment,
  getMd,
  markRolledOut,
  markRollingOut,
  NS,
  seedMd,
  seedMv,
  testConfig,
} from '../testing/fake-context.js';
import { ModelDeploymentReconciler } from './model-deployment.js';

const reconcile = (w: FakeWorld) => new ModelDeploymentReconciler(w.ctx).reconcile(NS, 'md');
const mdPath = resourcePath(ModelDeploymentKind, NS, 'md');
const args = (w: FakeWorld) =>
  getDeployment(w)?.spec?.template as { spec: { containers: { args: string[] }[] } };
const servedArgs = (w: FakeWorld) => args(w).spec.containers[0]?.args.join(' ') ?? '';
const cond = (w: FakeWorld, type: string) => getMd(w)?.status?.conditions?.find((c) => c.type === type);

/** v1 serving, rolled out and available. */
async function servingV1(w: FakeWorld, spec: Record<string, unknown> = {}): Promise<void> {
  seedMv(w, 'v1');
  seedMd(w, { modelVersion: 'v1', ...spec });
  await reconcile(w);
  markRolledOut(w);
  await reconcile(w);
}

/** The user (or a GitOps sync) changes the spec: a merge patch of the main resource. */
async function userSets(w: FakeWorld, spec: Record<string, unknown>): Promise<void> {
  await w.kube.patch(mdPath, { spec });
}

const servingDeployment = (w: FakeWorld) => w.kube.peek<V1Deployment>(kubePaths.deployment(NS, 'md'));

type Child = {
  spec: Record<string, unknown>;
  metadata: {
    resourceVersion?: string;
    labels: Record<string, string>;
    ownerReferences: { uid: string; controller?: boolean }[];
  };
};

describe("ModelDeploymentReconciler: the serving Pods' PodDisruptionBudget", () => {
  const budget = (w: FakeWorld) => w.kube.peek<Child>(kubePaths.podDisruptionBudget(NS, 'md'));
  it.each([
    { replicas: 0, changedTo: 1 },
    { replicas: 1, changedTo: 3 },
    { replicas: 2, changedTo: 1 },
    { replicas: 5, changedTo: 0 },
  ])(
    'replicas $replicas: maxUnavailable 1, owned by the ModelDeployment; unchanged (not written) at replicas $changedTo',
    async (c) => {
      const w = fakeWorld();
      seedMv(w, 'v1');
      seedMd(w, { modelVersion: 'v1', replicas: c.replicas });
      await reconcile(w);
      const first = budget(w);
      const md = getMd(w)!;
      expect(first?.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: serverLabels(md) } });
      expect(first?.metadata.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'ModelDeployment',
          name: 'md',
          uid: md.metadata.uid,
          controller: true,
        }),
      ]);
      // The budget selects exactly the serving Pods: their template carries the selector's labels.
      const podLabels = servingDeployment(w)?.spec?.template.metadata?.labels ?? {};
      expect(podLabels).toMatchObject(serverLabels(md));

      await userSets(w, { replicas: c.changedTo });
      await reconcile(w);
      expect(budget(w)?.metadata.resourceVersion).toBe(first?.metadata.resourceVersion);
    },
  );
});

describe("ModelDeploymentReconciler: the serving Pods' NetworkPolicy", () => {
  const policy = (w: FakeWorld) => w.kube.peek<Child>(kubePaths.networkPolicy(NS, 'md'));
  const gateway = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gateway' } } };
  it.each([
    { name: 'off: no policy', setting: undefined, from: undefined },
    { name: 'on, no peers: from any Pod', setting: { from: [] }, from: [{ namespaceSelector: {} }] },
    { name: 'on, peers given: from them only', setting: { from: [gateway] }, from: [gateway] },
  ])('$name, on the serving port only', async (c) => {
    const w = fakeWorld();
    w.ctx.config = { ...testConfig, servingNetworkPolicy: c.setting };
    seedMv(w, 'v1');
    seedMd(w, { modelVersion: 'v1' });
    await reconcile(w);
    const np = policy(w);
    if (!c.from) {
      expect(np).toBeUndefined();
      return;
    }
    const md = getMd(w)!;
    expect(np?.spec).toEqual({
      podSelector: { matchLabels: serverLabels(md) },
      policyTypes: ['Ingress'],
      ingress: [{ from: c.from, ports: [{ protocol: 'TCP', port: 8080 }] }],
    });
    expect(np?.metadata.ownerReferences[0]).toMatchObject({ uid: md.metadata.uid, controller: true });
    const container = servingDeployment(w)?.spec?.template.spec?.containers[0];
    expect(container?.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  });
});

describe('ModelDeploymentReconciler', () => {
  it('names a serving version only together with Available=True (first rollout)', async () => {
    const w = fakeWorld();
    seedMv(w, 'v1');
    seedMd(w, { modelVersion: 'v1' });
    await reconcile(w);
    let md = getMd(w);
    expect(md?.status?.servingVersion).toBeUndefined();
    expect(cond(w, 'Available')?.status).toBe('False');
    expect(cond(w, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });
    expect(servedArgs(w)).toContain('--model-version v1');
    const budget = w.kube.peek<{ spec: unknown; metadata: { ownerReferences: { uid: string }[] } }>(
      kubePaths.podDisruptionBudget(NS, 'md'),
    );
    expect(budget?.spec).toMatchObject({ maxUnavailable: 1, selector: { matchLabels: expect.any(Object) } });
    expect(budget?.metadata.ownerReferences[0]?.uid).toBe(getMd(w)?.metadata.uid);

    markRolledOut(w);
    await reconcile(w);
    md = getMd(w);
    expect(md?.status).toMatchObject({ servingVersion: 'v1', ready: '1/1', target: { reason: 'Spec' } });
    expect(cond(w, 'Available')?.status).toBe('True');
    expect(cond(w, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutComplete' });
    expect(md?.status?.lastAction?.action).toBe('RolledOut');
    expect(w.registry.aliases.get('m/champion')).toBe('v1');
    expect(eventReasons(w)).toEqual(['ModelDeployment/RolledOut']);
  });

  it('refuses a version that is not Registered and creates nothing', async () => {
    const w = fakeWorld();
    seedMv(w, 'v1', { phase: 'Training' });
    seedMd(w, { modelVersion: 'v1' });
    await reconcile(w);
    expect(cond(w, 'Progressing')).toMatchObject({ status: 'False', reason: 'VersionNotRegistered' });
    expect(getDeployment(w)).toBeUndefined();
    expect(getMd(w)?.status?.target).toBeUndefined(); // the deadline starts when it can roll out
  });

  it.each([
    { kind: 'Deployment', path: builtinPath(Builtin.deployments, NS), owner: undefined },
    { kind: 'Service', path: builtinPath(Builtin.services, NS), owner: 'uid-of-another-deployment' },
  ])('refuses to take over a $kind it does not own, and changes nothing in it', async (c) => {
    const w = fakeWorld();
    seedMv(w, 'v1');
    seedMd(w, { modelVersion: 'v1' });
    const foreign = {
      metadata: {
        name: 'md',
        namespace: NS,
        labels: { app: 'theirs' },
        ...(c.owner
          ? { ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: c.owner, controller: true }] }
          : {}),
      },
      spec: {},
    };
    w.kube.seed(c.path, foreign);
    await reconcile(w);
    expect(cond(w, 'Progressing')).toMatchObject({ status: 'False', reason: 'NotOwned' });
    expect(cond(w, 'Progressing')?.message).toContain(`${c.kind} md already exists and is not managed by`);
    expect(eventReasons(w)).toEqual(['ModelDeployment/NotOwned']);
    const writes = w.kube.calls.filter(
      (x) => /deployments|services/.test(x.path) && !x.path.includes('modeldeployments'),
    );
    expect(writes).toEqual([]);
  });

  it('writes no status when nothing changed, and a stale write is a conflict', async () => {
    const w = fakeWorld();
    await servingV1(w);
    const before = w.kube.calls.length;
    await reconcile(w);
    const statusWrites = w.kube.calls.slice(before).filter((c) => c.path.endsWith('/status'));
    expect(statusWrites).toEqual([]);

    await userSets(w, { replicas: 2 });
    w.kube.conflictOnce.add(`${mdPath}/status`);
    const err = await reconcile(w).catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
  });

  it('shows Ready of the current rollout, never more than desired', async () => {
    const w = fakeWorld();
    await servingV1(w);
    seedMv(w, 'v2');
    await userSets(w, { modelVersion: 'v2' });
    await reconcile(w);
    markRollingOut(w); // old Pod ready, new Pod not yet
    await reconcile(w);
    expect(getMd(w)?.status).toMatchObject({ servingVersion: 'v1', ready: '0/1' });
  });

  it('serves a Rollback target without touching the spec, and a same-spec reapply changes nothing', async () => {
    const w = fakeWorld();
    await servingV1(w);
    seedMv(w, 'v2');
    await userSets(w, { modelVersion: 'v2' });
    await reconcile(w);
    markRolledOut(w);
    await reconcile(w);
    expect(getMd(w)?.status?.servingVersion).toBe('v2');

    // The DriftMonitor decided a rollback: status.target says v1.
    const md = getMd(w);
    w.kube.setStatus(mdPath, {
      ...md?.status,
      target: {
        modelVersion: 'v1',
        reason: 'Rollback',
        specVersion: 'v2',
        since: '2026-06-01T12:00:00Z',
        message: 'QualityDegraded',
      },
    });
    await reconcile(w);
    expect(servedArgs(w)).toContain('--model-version v1');
    markRolledOut(w);
    await reconcile(w);
    const after = getMd(w);
    expect(after?.spec.modelVersion).toBe('v2');
    expect(after?.status?.servingVersion).toBe('v1');
    expect(after?.status?.history?.find((h) => h.modelVersion === 'v2')?.outcome).toBe('RolledBack');
    expect(cond(w, 'RolledBack')?.status).toBe('True');
    expect(w.registry.aliases.get('m/champion')).toBe('v1');
    expect(w.kube.calls.filter((c) => c.path === mdPath)).toHaveLength(1); // only the user's own patch

    // A GitOps sync applies the same manifest again: the rollback holds, nothing is written.
    const before = w.kube.calls.length;
    await w.kube.patch(
      mdPath,
      { apiVersion: md?.apiVersion, kind: md?.kind, metadata: { name: 'md' }, spec: after?.spec },
      'apply',
    );
    await reconcile(w);
    expect(getMd(w)?.status?.servingVersion).toBe('v1');
    const later = w.kube.calls
      .slice(before + 1)
      .filter((c) => c.verb !== 'patch' || !c.path.includes('/deployments/'));
    expect(later.filter((c) => c.path.endsWith('/status'))).toEqual([]);
    expect(servedArgs(w)).toContain('--model-version v1');

    // A new spec version takes precedence over the override.
    seedMv(w, 'v3');
    await userSets(w, { modelVersion: 'v3' });
    await reconcile(w);
    expect(getMd(w)?.status?.target).toMatchObject({ modelVersion: 'v3', reason: 'Spec' });
    expect(servedArgs(w)).toContain('--model-version v3');
  });

  it('returns to the previous version when a rollout misses its deadline', async () => {
    const w = fakeWorld();
    await servingV1(w, { rollout: { progressDeadlineSeconds: 60 } });
    seedMv(w, 'v2');
    await userSets(w, { modelVersion: 'v2' });
    const first = await reconcile(w);
    expect(first?.requeueAfterMs).toBeGreaterThan(0);
    markRollingOut(w);
    w.advance(30);
    await reconcile(w);
    expect(getMd(w)?.status?.target?.reason).toBe('Spec');
    w.advance(31);
    await reconcile(w);
    const md = getMd(w);
    expect(md?.status?.target).toMatchObject({
      modelVersion: 'v1',
      reason: 'RolloutFailed',
      specVersion: 'v2',
    });
    expect(md?.status?.history?.[0]).toMatchObject({ modelVersion: 'v2', outcome: 'Failed' });
    expect(md?.status?.lastAction?.action).toBe('RolloutFailed');
    expect(cond(w, 'Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(servedArgs(w)).toContain('--model-version v1');
    expect(eventReasons(w)).toContain('ModelDeployment/RolloutFailed');
    markRolledOut(w);
    await reconcile(w);
    expect(getMd(w)?.status?.servingVersion).toBe('v1');
    expect(cond(w, 'Progressing')?.reason).toBe('ProgressDeadlineExceeded'); // holds until the spec changes
    expect(md?.spec.modelVersion).toBe('v2');
  });

  it('runs a Registered retraining beside the champion as its challenger, in the mode spec.promotion asks', async () => {
    const w = fakeWorld();
    await servingV1(w, {
      promotion: { mode: 'Canary', canaryShare: 0.2, approval: 'Automatic', margin: 0, minLabels: 200 },
    });
    const r = seedMv(w, 'v1-rabc123', { spec: { lineage: { deployment: 'md', driftRun: 'run-7' } } });
    w.kube.setStatus(resourcePath({ plural: 'modelversions' } as never, NS, r.metadata.name), {
      ...r.status,
      artifacts: { root: 's3://bucket/models/m/v1-rabc123/' },
    });
    seedMv(w, 'v1-rretired', { spec: { lineage: { deployment: 'md' } } });
    await w.kube.patch(resourcePath({ plural: 'modelversions' } as never, NS, 'v1-rretired'), {
      metadata: { annotations: { 'mlcycle.dev/retired-challenger': 'lost' } },
    });
    await reconcile(w);
    const md = getMd(w);
    expect(md?.status?.challenger).toMatchObject({
      modelVersion: 'v1-rabc123',
      mode: 'Canary',
      canaryShare: 0.2,
      source: 'Retrain',
      driftRun: 'run-7',
    });
    expect(servedArgs(w)).toContain(
      '--model-version v1 --port 8080 --challenger-uri s3://bucket/models/m/v1-rabc123/ --challenger-mode canary --canary-share 0.2',
    );
    expect(cond(w, 'ChallengerActive')?.status).toBe('True');
    expect(md?.status?.lastAction?.action).toBe('ChallengerStarted');
    expect(md?.status?.servingVersion).toBe('v1'); // the champion keeps serving
  });

  it('retires a challenger whose Pods never become available, and the champion serves alone again', async () => {
    const w = fakeWorld();
    await servingV1(w, { rollout: { progressDeadlineSeconds: 60 } });
    seedMv(w, 'v1-rabc123', { spec: { lineage: { deployment: 'md' } } });
    await reconcile(w);
    expect(servedArgs(w)).toContain('--challenger-uri');
    markRollingOut(w);
    w.advance(30);
    await reconcile(w);
    expect(cond(w, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });
    expect(getMd(w)?.status?.challenger?.modelVersion).toBe('v1-rabc123');
    w.advance(31);
    await reconcile(w);
    const md = getMd(w);
    expect(md?.status?.challenger).toBeUndefined();
    expect(md?.status?.lastAction).toMatchObject({ action: 'ChallengerRetired' });
    expect(servedArgs(w)).not.toContain('--challenger-uri');
    const mv = w.kube.peek<{ metadata: { annotations?: Record<string, string> } }>(
      resourcePath({ plural: 'modelversions' } as never, NS, 'v1-rabc123'),
    );
    expect(mv?.metadata.annotations?.['mlcycle.dev/retired-challenger']).toContain(
      'did not become available',
    );
    await reconcile(w);
    expect(getMd(w)?.status?.challenger).toBeUndefined(); // it does not come back
  });

  it('promotes a pending challenger once the approval annotation names it', async () => {
    const w = fakeWorld();
    await servingV1(w, {
      promotion: { approval: 'Manual', mode: 'Shadow', canaryShare: 0.1, margin: 0, minLabels: 200 },
    });
    seedMv(w, 'v2', { spec: { lineage: { deployment: 'md' } } });
    const md = getMd(w);
    w.kube.setStatus(mdPath, {
      ...md?.status,
      pendingPromotion: {
        challenger: 'v2',
        runId: 'run-9',
        reason: 'roc_auc 0.80 > 0.70',
        since: '2026-06-01T12:00:00Z',
      },
    });
    await reconcile(w);
    expect(getMd(w)?.status?.target?.modelVersion).toBe('v1'); // not approved yet
    await w.kube.patch(mdPath, { metadata: { annotations: { 'mlcycle.dev/approve-promotion': 'v2' } } });
    await reconcile(w);
    expect(getMd(w)?.status?.target).toMatchObject({ modelVersion: 'v2', reason: 'Promotion' });
    expect(getMd(w)?.status?.pendingPromotion).toBeUndefined();
    markRolledOut(w);
    await reconcile(w);
    const after = getMd(w);
    expect(after?.status?.servingVersion).toBe('v2');
    expect(after?.status?.lastAction?.action).toBe('Promoted');
    expect(after?.status?.championReason).toContain('Promotion');
    expect(after?.status?.history?.find((h) => h.modelVersion === 'v1')).toMatchObject({
      outcome: 'Replaced',
    });
    expect(cond(w, 'Promoted')?.status).toBe('True');
    expect(w.registry.aliases.get('m/champion')).toBe('v2');
    expect(after?.spec.modelVersion).toBe('v1');
    expect(eventReasons(w)).toEqual(
      expect.arrayContaining(['ModelDeployment/PromotionApproved', 'ModelDeployment/Promoted']),
    );
    expect(kubePaths.deployment(NS, 'md')).toBeTruthy();
  });
});
