import { describe, expect, it } from 'vitest';
import {
  type DriftMonitor,
  type DriftMonitorStatus,
  type ModelDeploymentStatus,
  type ModelVersion,
  ModelVersionKind,
  type RunDecisionStatus,
  resourcePath,
} from '../../core/resources/index.js';
import {
  eventReasons,
  type FakeWorld,
  fakeWorld,
  getDm,
  getMd,
  NS,
  seedDm,
  seedMd,
  seedMv,
} from '../testing/fake-context.js';
import { DriftMonitorReconciler, retrainSpec } from './drift-monitor.js';

const reconcile = (w: FakeWorld) => new DriftMonitorReconciler(w.ctx).reconcile(NS, 'dm');
const mvs = (w: FakeWorld) => w.kube.peekAll<ModelVersion>(resourcePath(ModelVersionKind, NS));
const mdCond = (w: FakeWorld, type: string) => getMd(w)?.status?.conditions?.find((c) => c.type === type);

const HISTORY = [
  { modelVersion: 'v2', registryVersion: 'v2', since: '2026-06-01T10:00:00Z', outcome: 'Serving' as const },
  {
    modelVersion: 'v1',
    registryVersion: 'v1',
    since: '2026-06-01T09:00:00Z',
    until: '2026-06-01T10:00:00Z',
    outcome: 'Replaced' as const,
  },
];

/** v2 serving after v1 (the rollback target), settled. */
function servingV2(
  w: FakeWorld,
  extra: Partial<ModelDeploymentStatus> = {},
  spec: Record<string, unknown> = {},
) {
  seedMv(w, 'v1');
  seedMv(w, 'v2');
  seedMd(
    w,
    { modelVersion: 'v2', ...spec },
    {
      servingVersion: 'v2',
      previousVersion: 'v1',
      history: HISTORY,
      target: { modelVersion: 'v2', reason: 'Spec', specVersion: 'v2', since: '2026-06-01T10:00:00Z' },
      ...extra,
    },
  );
}

function run(
  id: string,
  decision: Partial<RunDecisionStatus>,
  extra: Partial<NonNullable<DriftMonitorStatus['lastRun']>> = {},
): DriftMonitorStatus {
  return {
    lastRun: {
      id,
      time: '2026-06-01T11:00:00Z',
      modelVersion: 'v2',
      verdict: 'QualityDegraded',
      decision: {
        verdict: 'QualityDegraded',
        alert: false,
        retrain: false,
        rollback: false,
        reasons: [],
        ...decision,
      },
      ...extra,
    },
    quality: { verdict: 'Degraded', metric: 'roc_auc', value: 0.55, reference: 0.8, labelledRows: 400 },
  };
}

/** The drift Job reports a new run (what the status writer does), keeping the operator's fields. */
function report(w: FakeWorld, status: DriftMonitorStatus): void {
  const dm = getDm(w);
  w.kube.setStatus(resourcePath({ plural: 'driftmonitors' } as never, NS, 'dm'), {
    ...dm?.status,
    ...status,
  });
}

describe('DriftMonitorReconciler carries out the run decision', () => {
  it.each([
    {
      name: 'rollback with a previous version → status.target Rollback, spec untouched',
      setup: (w: FakeWorld) => servingV2(w),
      action: 'Rollback',
      target: { modelVersion: 'v1', reason: 'Rollback', specVersion: 'v2' },
      events: ['DriftMonitor/RollbackStarted'],
    },
    {
      name: 'rollback without a previous version → RollbackImpossible, no claimed rollback',
      setup: (w: FakeWorld) => servingV2(w, { previousVersion: undefined }),
      action: 'None',
      target: { modelVersion: 'v2', reason: 'Spec' },
      impossible: 'no earlier good version',
      events: ['ModelDeployment/RollbackImpossible', 'DriftMonitor/RollbackImpossible'],
    },
    {
      name: 'rollback to a version that is no longer Registered → RollbackImpossible',
      setup: (w: FakeWorld) => {
        servingV2(w);
        seedMv(w, 'v1', { phase: 'Failed' });
      },
      action: 'None',
      target: { modelVersion: 'v2', reason: 'Spec' },
      impossible: 'ModelVersion v1 is Failed',
      events: ['ModelDeployment/RollbackImpossible', 'DriftMonitor/RollbackImpossible'],
    },
    {
      name: 'rollback to a version the registry lost → RollbackImpossible',
      setup: (w: FakeWorld) => {
        servingV2(w);
        w.registry.versions.delete(`${NS}/m/v1`);
      },
      action: 'None',
      target: { modelVersion: 'v2', reason: 'Spec' },
      impossible: 'the registry does not hold m/v1',
      events: ['ModelDeployment/RollbackImpossible', 'DriftMonitor/RollbackImpossible'],
    },
    {
      name: 'rollback to a version whose model artifact is not recorded → RollbackImpossible',
      setup: (w: FakeWorld) => {
        servingV2(w);
        w.registry.add('m', 'v1', { artifacts: [] });
      },
      action: 'None',
      target: { modelVersion: 'v2', reason: 'Spec' },
      impossible: 'misses a serving artifact',
      events: ['ModelDeployment/RollbackImpossible', 'DriftMonitor/RollbackImpossible'],
    },
    {
      name: 'a rollout already in flight → nothing',
      setup: (w: FakeWorld) =>
        servingV2(w, {
          target: { modelVersion: 'v3', reason: 'Spec', specVersion: 'v3', since: '2026-06-01T10:50:00Z' },
        }),
      action: 'None',
      target: { modelVersion: 'v3', reason: 'Spec' },
      detail: 'already rolling out v3',
      events: [],
    },
  ])('$name', async (c) => {
    const w = fakeWorld();
    c.setup(w);
    seedDm(w, {}, run('run-1', { rollback: true }));
    await reconcile(w);
    const dm = getDm(w);
    const md = getMd(w);
    expect(dm?.status?.handledRunId).toBe('run-1');
    expect(dm?.status?.lastAction?.action).toBe(c.action);
    if (c.detail) expect(dm?.status?.lastAction?.detail).toContain(c.detail);
    expect(md?.status?.target).toMatchObject(c.target);
    expect(md?.spec.modelVersion).toBe('v2');
    if (c.impossible) {
      expect(mdCond(w, 'RollbackImpossible')).toMatchObject({ status: 'True' });
      expect(mdCond(w, 'RollbackImpossible')?.message).toContain(c.impossible);
      expect(md?.status?.lastAction?.action).toBe('RollbackImpossible');
    } else expect(mdCond(w, 'RollbackImpossible')).toBeUndefined();
    expect(eventReasons(w)).toEqual(c.events);
  });

  it('ignores a run about a version that no longer serves', async () => {
    const w = fakeWorld();
    servingV2(w);
    seedDm(w, {}, run('run-1', { rollback: true, retrain: true }, { modelVersion: 'v1' }));
    await reconcile(w);
    expect(getDm(w)?.status?.lastAction).toMatchObject({ action: 'None', runId: 'run-1' });
    expect(getDm(w)?.status?.lastAction?.detail).toContain('evaluated v1, but v2 serves now');
    expect(getMd(w)?.status?.target?.modelVersion).toBe('v2');
    expect(mvs(w).map((m) => m.metadata.name)).toEqual(['v1', 'v2']);
  });

  it('acts on each run once, and does nothing for a run without a decision', async () => {
    const w = fakeWorld();
    servingV2(w);
    seedDm(w, {}, run('run-1', { rollback: true }));
    await reconcile(w);
    const writes = w.kube.writes().length;
    await reconcile(w); // the same run again
    expect(
      w.kube
        .writes()
        .slice(writes)
        .filter((c) => !c.path.includes('/cronjobs/')),
    ).toEqual([]);

    const w2 = fakeWorld();
    servingV2(w2);
    const r = run('run-2', {});
    delete r.lastRun?.decision;
    seedDm(w2, {}, r);
    await reconcile(w2);
    expect(getDm(w2)?.status?.lastAction).toMatchObject({
      action: 'None',
      detail: 'run run-2 carries no decision',
    });
  });

  it('retrains once per run, on the production window with lineage, only when the decision says so', async () => {
    const w = fakeWorld();
    servingV2(w);
    seedDm(w, { retrain: { source: 'Production', window: '2d', cooldown: '6h', maxPerDay: 3 } });
    report(
      w,
      run('drift-job-1', { verdict: 'SustainedDrift', retrain: true }, { verdict: 'SustainedDrift' }),
    );
    await reconcile(w);
    const created = mvs(w).filter((m) => m.spec.lineage);
    expect(created).toHaveLength(1);
    const mv = created[0] as ModelVersion;
    expect(mv.spec.lineage).toEqual({
      retrainedFrom: 'v2',
      driftMonitor: 'dm',
      driftRun: 'drift-job-1',
      deployment: 'md',
    });
    expect(mv.spec.dataset.uri).toBe('production:m?since=2026-05-30T11:00:00Z&until=2026-06-01T11:00:00Z');
    expect(mv.spec.version).toMatch(/^v2-r[0-9a-f]{6}$/);
    expect(getDm(w)?.status?.lastAction?.action).toBe('Retrain');

    // The next run of the same streak: the drift Job's guardrails said no retraining.
    report(
      w,
      run('drift-job-2', { verdict: 'SustainedDrift', retrain: false }, { verdict: 'SustainedDrift' }),
    );
    await reconcile(w);
    // The first run seen again (e.g. the status was lost): same name, still one version.
    report(w, { ...run('drift-job-1', { verdict: 'SustainedDrift', retrain: true }), handledRunId: 'x' });
    await reconcile(w);
    expect(mvs(w).filter((m) => m.spec.lineage)).toHaveLength(1);
  });

  it('mixes in the original dataset when includeOriginalRows is set, also for a retrain of a retrain', async () => {
    const w = fakeWorld();
    servingV2(w);
    seedDm(w, {
      retrain: {
        source: 'Production',
        window: '2d',
        includeOriginalRows: 5000,
        cooldown: '6h',
        maxPerDay: 3,
      },
    });
    report(w, run('drift-job-1', { verdict: 'SustainedDrift', retrain: true }));
    await reconcile(w);
    const first = mvs(w).find((m) => m.spec.lineage) as ModelVersion;
    const served = mvs(w).find((m) => m.metadata.name === 'v2') as ModelVersion;
    expect(first.spec.dataset.uri).toBe(
      `production:m?since=2026-05-30T11:00:00Z&until=2026-06-01T11:00:00Z&original=${served.spec.dataset.uri}&originalRows=5000`,
    );
    // Retrained again from the retrained version: the original stays the first one's.
    const again = retrainSpec(getDm(w) as DriftMonitor, first, 'md', {
      ...(getDm(w)?.status?.lastRun as NonNullable<NonNullable<DriftMonitor['status']>['lastRun']>),
      id: 'drift-job-9',
    });
    expect(again.dataset.uri).toContain(`&original=${served.spec.dataset.uri}&originalRows=5000`);
  });

  it('retrains on a dataset when spec.retrain.source is Dataset', async () => {
    const w = fakeWorld();
    servingV2(w);
    seedDm(w, {
      retrain: { source: 'Dataset', datasetUri: 's3://b/new.parquet', cooldown: '6h', maxPerDay: 3 },
    });
    report(w, run('r', { retrain: true }));
    await reconcile(w);
    expect(mvs(w).find((m) => m.spec.lineage)?.spec.dataset.uri).toBe('s3://b/new.parquet');
  });

  const challenger = {
    modelVersion: 'v3',
    registryVersion: 'v3',
    mode: 'Shadow' as const,
    since: '2026-06-01T10:30:00Z',
    source: 'Retrain' as const,
  };
  const won = {
    challenger: 'v3',
    ready: true,
    promote: true,
    reason: 'roc_auc 0.81 vs 0.74',
    labelledRows: 300,
  };

  it.each([
    {
      approval: 'Automatic',
      target: { modelVersion: 'v3', reason: 'Promotion' },
      pending: undefined,
      action: 'Promote',
    },
    {
      approval: 'Manual',
      target: { modelVersion: 'v2', reason: 'Spec' },
      pending: { challenger: 'v3', runId: 'r' },
      action: 'AwaitApproval',
    },
  ])('promotes a winning challenger (approval $approval)', async (c) => {
    const w = fakeWorld();
    seedMv(w, 'v3');
    servingV2(
      w,
      { challenger },
      {
        promotion: { approval: c.approval, mode: 'Shadow', canaryShare: 0.1, margin: 0, minLabels: 200 },
      },
    );
    seedDm(w, {}, run('r', { verdict: 'NoDrift', promotion: won }, { verdict: 'NoDrift' }));
    await reconcile(w);
    const md = getMd(w);
    expect(md?.status?.target).toMatchObject(c.target);
    expect(getDm(w)?.status?.lastAction?.action).toBe(c.action);
    if (c.pending) {
      expect(md?.status?.pendingPromotion).toMatchObject(c.pending);
      expect(mdCond(w, 'PromotionPending')?.message).toContain(
        'kubectl annotate modeldeployment md mlcycle.dev/approve-promotion=v3 --overwrite',
      );
    } else expect(md?.status?.pendingPromotion).toBeUndefined();
    expect(md?.spec.modelVersion).toBe('v2');
  });

  it('promotes a winning challenger rather than rolling back when both are decided', async () => {
    const w = fakeWorld();
    seedMv(w, 'v3');
    servingV2(w, { challenger });
    seedDm(w, {}, run('r', { rollback: true, promotion: won }));
    await reconcile(w);
    expect(getMd(w)?.status?.target).toMatchObject({ modelVersion: 'v3', reason: 'Promotion' });
  });

  it('retires a challenger that lost, with the reason, and ignores a comparison about another challenger', async () => {
    const w = fakeWorld();
    seedMv(w, 'v3');
    servingV2(w, { challenger });
    seedDm(w, {}, run('r1', { verdict: 'NoDrift', promotion: { ...won, challenger: 'v9' } }));
    await reconcile(w);
    expect(getMd(w)?.status?.challenger?.modelVersion).toBe('v3');
    expect(getDm(w)?.status?.lastAction?.detail).toContain('compared v9, but the challenger is v3');

    report(
      w,
      run('r2', {
        verdict: 'NoDrift',
        promotion: { ...won, promote: false, reason: 'roc_auc 0.70 vs 0.74' },
      }),
    );
    await reconcile(w);
    const md = getMd(w);
    expect(md?.status?.challenger).toBeUndefined();
    expect(md?.status?.lastAction).toMatchObject({ action: 'ChallengerRetired' });
    expect(getDm(w)?.status?.lastAction?.action).toBe('RetireChallenger');
    expect(md?.status?.lastAction?.detail).toContain('roc_auc 0.70 vs 0.74');
    const v3 = mvs(w).find((m) => m.metadata.name === 'v3');
    expect(v3?.metadata.annotations?.['mlcycle.dev/retired-challenger']).toContain('roc_auc 0.70');
    expect(md?.status?.target?.modelVersion).toBe('v2');
  });

  it('waits while the comparison has too few labels', async () => {
    const w = fakeWorld();
    seedMv(w, 'v3');
    servingV2(w, { challenger });
    seedDm(w, {}, run('r', { verdict: 'NoDrift', promotion: { ...won, ready: false, promote: false } }));
    await reconcile(w);
    expect(getMd(w)?.status?.challenger?.modelVersion).toBe('v3');
    expect(getMd(w)?.status?.target?.modelVersion).toBe('v2');
  });
});

describe('DriftMonitorReconciler when the API server refuses what it builds', () => {
  const cronJobs = `/apis/batch/v1/namespaces/${NS}/cronjobs/dm-drift`;
  const refusal =
    'CronJob.batch "dm-drift" is invalid: spec.schedule: Invalid value: "30-10 * * * *": beginning of range (30) beyond end of range (10)';
  const cond = (w: FakeWorld, type: string) => getDm(w)?.status?.conditions?.find((c) => c.type === type);

  it('a refused CronJob: Ready=False CronJobRejected with the API server’s words, one Event, no error', async () => {
    const w = fakeWorld();
    servingV2(w);
    seedDm(w, { schedule: '30-10 * * * *' });
    w.kube.invalid.set(cronJobs, refusal);
    await expect(reconcile(w)).resolves.toBeUndefined();
    expect(cond(w, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'CronJobRejected',
      message: `the CronJob dm-drift was refused: ${refusal}`,
    });
    expect(eventReasons(w)).toEqual(['DriftMonitor/CronJobRejected']);
    // Reconciled again (a resync): the same condition, no second Event.
    await reconcile(w);
    expect(eventReasons(w)).toEqual(['DriftMonitor/CronJobRejected']);
    // The spec fixed: scheduled.
    w.kube.invalid.delete(cronJobs);
    await reconcile(w);
    expect(cond(w, 'Ready')).toMatchObject({ status: 'True', reason: 'Scheduled' });
    expect(w.kube.peek(cronJobs)).toBeDefined();
  });

  it('other API errors still fail the reconcile (the queue retries them)', async () => {
    const w = fakeWorld();
    servingV2(w);
    seedDm(w);
    w.kube.conflictOnce.add(cronJobs);
    w.kube.seed(`/apis/batch/v1/namespaces/${NS}/cronjobs`, { metadata: { name: 'dm-drift' } });
    await expect(reconcile(w)).rejects.toThrow(/409/);
  });

  it('a retraining whose dataset URI would be over-long: RetrainFailed and an Event, acted on once', async () => {
    const w = fakeWorld();
    seedMv(w, 'v1');
    seedMv(w, 'v2', { spec: { dataset: { uri: `s3://bucket/${'d'.repeat(2030)}.parquet` } } });
    seedMd(
      w,
      { modelVersion: 'v2' },
      {
        servingVersion: 'v2',
        previousVersion: 'v1',
        history: HISTORY,
        target: { modelVersion: 'v2', reason: 'Spec', specVersion: 'v2', since: '2026-06-01T10:00:00Z' },
      },
    );
    seedDm(w, { retrain: { source: 'Production', includeOriginalRows: 1000, cooldown: '6h', maxPerDay: 3 } });
    report(
      w,
      run('drift-job-1', { verdict: 'SustainedDrift', retrain: true }, { verdict: 'SustainedDrift' }),
    );
    await expect(reconcile(w)).resolves.toBeUndefined();
    expect(mvs(w).filter((m) => m.spec.lineage)).toEqual([]);
    expect(cond(w, 'RetrainFailed')).toMatchObject({ status: 'True', reason: 'InvalidRetrainSpec' });
    expect(cond(w, 'RetrainFailed')?.message).toMatch(
      /^cannot create the retraining ModelVersion v2-r[0-9a-f]{6}: spec\.dataset\.uri: Too big/,
    );
    expect(getDm(w)?.status?.lastAction).toMatchObject({ runId: 'drift-job-1', action: 'None' });
    expect(eventReasons(w)).toEqual(['DriftMonitor/RetrainFailed']);
    await reconcile(w);
    expect(eventReasons(w)).toEqual(['DriftMonitor/RetrainFailed']);
  });

  it('a retraining the API server refuses (422): RetrainFailed with its message; the next one clears it', async () => {
    const w = fakeWorld();
    servingV2(w);
    seedDm(w, { retrain: { source: 'Production', cooldown: '6h', maxPerDay: 3 } });
    const collection = resourcePath(ModelVersionKind, NS);
    w.kube.invalid.set(collection, 'ModelVersion.mlcycle.dev "v2-r1" is invalid: spec: Too long');
    report(
      w,
      run('drift-job-1', { verdict: 'SustainedDrift', retrain: true }, { verdict: 'SustainedDrift' }),
    );
    await reconcile(w);
    expect(cond(w, 'RetrainFailed')?.message).toContain(
      'ModelVersion.mlcycle.dev "v2-r1" is invalid: spec: Too long',
    );
    w.kube.invalid.delete(collection);
    report(
      w,
      run('drift-job-2', { verdict: 'SustainedDrift', retrain: true }, { verdict: 'SustainedDrift' }),
    );
    await reconcile(w);
    expect(cond(w, 'RetrainFailed')).toMatchObject({ status: 'False', reason: 'RetrainStarted' });
    expect(mvs(w).filter((m) => m.spec.lineage)).toHaveLength(1);
  });
});
