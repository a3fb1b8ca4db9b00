import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { parseSettings } from '../core/config.js';
import { driftSettings } from '../core/drift-settings.js';
import {
  type DriftMonitor,
  DriftMonitorSpec,
  type ModelDeployment,
  ModelDeploymentSpec,
  type ModelVersion,
} from '../core/resources/index.js';
import { alertWebhookEnv, driftArgs, driftCronJob } from './children.js';
import type { WorkloadConfig } from './workload-config.js';

/**
 * The drift CronJob's arguments against the drift command's parser: every field of a
 * DriftMonitor spec either reaches the run through a flag (and parses back to the same value)
 * or is listed here as the operator's own. A new spec field must be put in one of the two.
 */

const cfg: WorkloadConfig = {
  image: 'mlcycle:test',
  imagePullPolicy: 'Never',
  artifactRoot: 's3://mlcycle/',
  workloadSecret: 'mlcycle-workload',
  workloadEnv: {},
  driftServiceAccount: 'mlcycle-drift',
  driftReporterClusterRole: 'mlcycle-drift-reporter',
};

const serving = {
  apiVersion: 'mlcycle.dev/v1alpha1',
  kind: 'ModelVersion',
  metadata: { name: 'flights-v2', namespace: 'ml', uid: 'u2' },
  spec: { model: 'flights', version: 'v2' },
} as unknown as ModelVersion;

/** A spec with every field set to a value that is not its default. */
const fullSpec = DriftMonitorSpec.parse({
  deployment: 'flights',
  schedule: '*/5 * * * *',
  suspend: true,
  window: '6h',
  drift: { share: 0.3, method: 'psi', threshold: 0.2 },
  quality: { tolerance: 0.1, minLabels: 50 },
  actions: {
    alertWebhook: 'http://hooks.example/alert',
    rollbackOnQualityDegraded: false,
    rollbackOnSustainedDrift: true,
    sustainedDriftRuns: 4,
  },
  estimate: {
    enabled: false,
    metric: 'f1',
    retrainOnDegraded: true,
    rollbackOnDegraded: true,
    holdPromotionOnDegraded: true,
  },
  retrain: {
    source: 'Dataset',
    window: '3d',
    datasetUri: 's3://data/flights.parquet',
    includeOriginalRows: 1000,
    rows: 5000,
    trials: 7,
    cooldown: '2h',
    maxPerDay: 5,
  },
});

const fullDeployment = {
  apiVersion: 'mlcycle.dev/v1alpha1',
  kind: 'ModelDeployment',
  metadata: { name: 'flights', namespace: 'ml', uid: 'u3' },
  spec: ModelDeploymentSpec.parse({
    modelVersion: 'flights-v2',
    promotion: {
      metric: 'log_loss',
      margin: 0.01,
      minLabels: 300,
      approval: 'Manual',
      mode: 'Canary',
      canaryShare: 0.2,
    },
  }),
  status: {
    challenger: {
      modelVersion: 'flights-v3',
      registryVersion: 'v3',
      mode: 'Canary',
      since: '2026-12-01T00:00:00Z',
      source: 'Retrain',
    },
  },
} as ModelDeployment;

const bareDeployment = {
  ...fullDeployment,
  spec: ModelDeploymentSpec.parse({ modelVersion: 'flights-v2' }),
  status: {},
} as ModelDeployment;

const monitor = (spec: unknown): DriftMonitor =>
  ({
    apiVersion: 'mlcycle.dev/v1alpha1',
    kind: 'DriftMonitor',
    metadata: { name: 'flights-drift', namespace: 'ml', uid: 'u1' },
    spec,
  }) as DriftMonitor;

/** Spec field → the parsed setting it becomes and the value it must parse back to. */
const THROUGH_FLAGS: Record<string, (v: ReturnType<typeof parse>) => unknown> = {
  window: (v) => v.window === 6 * 3_600_000,
  'drift.share': (v) => v.driftShare === 0.3,
  'drift.method': (v) => v.method === 'psi',
  'drift.threshold': (v) => v.threshold === 0.2,
  'quality.tolerance': (v) => v.qualityTolerance === 0.1,
  'quality.minLabels': (v) => v.minLabels === 50,
  'actions.rollbackOnQualityDegraded': (v) => v.rollbackOnQualityDegraded === false,
  'actions.rollbackOnSustainedDrift': (v) => v.rollbackOnSustainedDrift === true,
  'actions.sustainedDriftRuns': (v) => v.sustainedRuns === 4,
  // Its presence: sustained drift asks for a retraining.
  retrain: (v) => v.retrainOnSustainedDrift === true,
  'retrain.cooldown': (v) => v.retrainCooldown === 2 * 3_600_000,
  'retrain.maxPerDay': (v) => v.retrainMaxPerDay === 5,
  'estimate.enabled': (v) => v.estimate === false,
  'estimate.metric': (v) => v.estimateMetric === 'f1',
  // Retraining on the estimate also needs spec.retrain, which fullSpec has.
  'estimate.retrainOnDegraded': (v) => v.retrainOnEstimatedDegraded === true,
  'estimate.rollbackOnDegraded': (v) => v.rollbackOnEstimatedDegraded === true,
  'estimate.holdPromotionOnDegraded': (v) => v.holdPromotionOnEstimatedDegraded === true,
};

/**
 * Spec fields that reach the run as environment variables of the drift container, never as
 * arguments: a webhook URL can be a credential (checked by the tests below).
 */
const THROUGH_ENV: Record<string, (v: ReturnType<typeof parse>) => unknown> = {
  'actions.alertWebhook': (v) => v.alertWebhook === 'http://hooks.example/alert',
};
/** Read by the kubelet from a Secret into the drift container's environment (secretKeyRef). */
const FROM_SECRET = new Set(['actions.alertWebhookSecretRef.name', 'actions.alertWebhookSecretRef.key']);

/** ModelDeployment spec.promotion field → the parsed setting, as above. */
const PROMOTION_THROUGH_FLAGS: Record<string, (v: ReturnType<typeof parse>) => unknown> = {
  'promotion.metric': (v) => v.promotionMetric === 'log_loss',
  'promotion.margin': (v) => v.promotionMargin === 0.01,
  'promotion.minLabels': (v) => v.promotionMinLabels === 300,
};
/** How a challenger is served and approved: the operator's and the server's business. */
const PROMOTION_OPERATOR_ONLY = new Set(['promotion.approval', 'promotion.mode', 'promotion.canaryShare']);

/** Fields the operator acts on itself; the drift run never sees them. */
const OPERATOR_ONLY = new Set([
  'deployment', // resolved to the serving ModelVersion: --model-name/--model-version
  'schedule', // the CronJob's schedule
  'suspend', // the CronJob's suspend
  'retrain.source', // the retraining ModelVersion the operator creates
  'retrain.window',
  'retrain.datasetUri',
  'retrain.includeOriginalRows',
  'retrain.rows',
  'retrain.trials',
]);

function parse(args: string[], env: NodeJS.ProcessEnv = {}) {
  expect(args[0]).toBe('drift');
  return parseSettings(driftSettings, args.slice(1), env);
}

/** The drift container's arguments and its plain-valued environment, as the Pod gets them. */
function container(dm: DriftMonitor, deployment: ModelDeployment) {
  const c = driftCronJob(dm, serving, deployment, cfg).spec?.jobTemplate.spec?.template.spec?.containers[0];
  const env: NodeJS.ProcessEnv = {};
  for (const e of c?.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return { args: c?.args ?? [], env, vars: c?.env ?? [] };
}

/** Dotted paths of every leaf field of an object schema (optional/default unwrapped). */
function leafPaths(schema: z.ZodType, prefix = ''): string[] {
  let s = schema as unknown as { _zod: { def: { type: string; innerType?: unknown; shape?: unknown } } };
  while (s._zod.def.type === 'optional' || s._zod.def.type === 'default')
    s = s._zod.def.innerType as typeof s;
  if (s._zod.def.type !== 'object') return [prefix];
  const shape = s._zod.def.shape as Record<string, z.ZodType>;
  return Object.entries(shape).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

describe('driftArgs', () => {
  it('every DriftMonitor spec field either reaches the drift run or is the operator’s own', () => {
    const unclassified = leafPaths(DriftMonitorSpec).filter(
      (p) => !OPERATOR_ONLY.has(p) && !FROM_SECRET.has(p) && !(p in THROUGH_FLAGS) && !(p in THROUGH_ENV),
    );
    expect(unclassified).toEqual([]);
    const promotion = leafPaths(ModelDeploymentSpec)
      .filter((p) => p.startsWith('promotion.'))
      .filter((p) => !PROMOTION_OPERATOR_ONLY.has(p) && !(p in PROMOTION_THROUGH_FLAGS));
    expect(promotion).toEqual([]);
  });

  it('round-trips every field through the generated arguments and the drift command’s parser', () => {
    const { args, env } = container(monitor(fullSpec), fullDeployment);
    expect(args).toEqual(driftArgs(monitor(fullSpec), serving, fullDeployment, cfg));
    const values = parse(args, env);
    for (const [field, check] of Object.entries({
      ...THROUGH_FLAGS,
      ...THROUGH_ENV,
      ...PROMOTION_THROUGH_FLAGS,
    }))
      expect(check(values), field).toBe(true);
    // Only through the environment: the arguments alone do not carry them.
    const argsOnly = parse(args);
    for (const [field, check] of Object.entries(THROUGH_ENV)) expect(check(argsOnly), field).toBe(false);
    // The challenger is the one the deployment runs (status), named by its registry version.
    expect(values.challengerVersion).toBe('v3');
    expect(values).toMatchObject({
      modelName: 'flights',
      modelVersion: 'v2',
      driftMonitor: 'ml/flights-drift',
      // The tenant is the monitor's namespace; its reports lie under the namespace's prefix.
      namespace: 'ml',
      out: 's3://mlcycle/namespaces/ml/drift/flights-drift',
    });
  });

  it('leaves defaults to the run: a minimal spec parses to the same settings as the CRD defaults', () => {
    const minimal = DriftMonitorSpec.parse({ deployment: 'flights', schedule: '@hourly' });
    const values = parse(driftArgs(monitor(minimal), serving, bareDeployment, cfg));
    expect(values).toMatchObject({
      window: 24 * 3_600_000,
      method: undefined,
      retrainOnSustainedDrift: false,
      rollbackOnQualityDegraded: true,
      rollbackOnSustainedDrift: false,
      sustainedRuns: 3,
      challengerVersion: undefined,
      promotionMargin: 0,
      promotionMinLabels: 200,
    });
  });

  it('gives the run the Job name as its id, through the downward API', () => {
    const pod = driftCronJob(monitor(fullSpec), serving, fullDeployment, cfg).spec?.jobTemplate.spec?.template
      .spec;
    expect(pod?.containers[0]?.env).toContainEqual({
      name: 'MLCYCLE_JOB_NAME',
      valueFrom: { fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } },
    });
    expect(
      parseSettings(driftSettings, ['--out=/tmp/x'], { MLCYCLE_JOB_NAME: 'dm-drift-29000000' }).runId,
    ).toBe('dm-drift-29000000');
  });

  it('never puts a webhook URL in the arguments; a Secret-held one reaches the run by secretKeyRef only', () => {
    const url = 'https://hooks.slack.com/services/T000/B000/XXXXSECRET';
    const inline = container(
      monitor(
        DriftMonitorSpec.parse({
          deployment: 'flights',
          schedule: '@hourly',
          actions: { alertWebhook: url },
        }),
      ),
      bareDeployment,
    );
    expect(inline.args.join(' ')).not.toContain('hooks.slack.com');
    expect(inline.vars).toContainEqual({ name: 'MLCYCLE_DRIFT_ALERT_WEBHOOK', value: url });

    const ref = DriftMonitorSpec.parse({
      deployment: 'flights',
      schedule: '@hourly',
      actions: { alertWebhookSecretRef: { name: 'slack', key: 'url' } },
    });
    const fromSecret = container(monitor(ref), bareDeployment);
    expect(fromSecret.vars.filter((e) => e.name === 'MLCYCLE_DRIFT_ALERT_WEBHOOK')).toEqual([
      { name: 'MLCYCLE_DRIFT_ALERT_WEBHOOK', valueFrom: { secretKeyRef: { name: 'slack', key: 'url' } } },
    ]);
    // What the kubelet then sets is what the run parses.
    const values = parse(fromSecret.args, { ...fromSecret.env, MLCYCLE_DRIFT_ALERT_WEBHOOK: url });
    expect(values.alertWebhook).toBe(url);
    expect(alertWebhookEnv(monitor(DriftMonitorSpec.parse({ deployment: 'f', schedule: '@daily' })))).toEqual(
      [],
    );
    // Both at once is refused, by the spec type as by the CRD's CEL rule.
    expect(
      DriftMonitorSpec.safeParse({
        deployment: 'flights',
        schedule: '@hourly',
        actions: { alertWebhook: url, alertWebhookSecretRef: { name: 'slack', key: 'url' } },
      }).success,
    ).toBe(false);
  });

  it('never echoes an invalid webhook URL in the settings error', () => {
    const bad = 'ftp://hooks.slack.com/services/T000/B000/XXXXSECRET';
    for (const [argv, env] of [
      [[], { MLCYCLE_DRIFT_ALERT_WEBHOOK: bad }],
      [[`--alert-webhook=${bad}`], {}],
    ] as const) {
      let message = '';
      try {
        parseSettings(driftSettings, ['--out=/tmp/x', ...argv], env);
      } catch (err) {
        message = String(err);
      }
      expect(message).toContain('MLCYCLE_DRIFT_ALERT_WEBHOOK');
      expect(message).toContain('expected an http(s) URL');
      expect(message).not.toContain('XXXXSECRET');
    }
  });
});
