import { describe, expect, it } from 'vitest';
import {
  type ModelDeployment,
  ModelDeploymentSpec,
  type ModelVersion,
  ModelVersionSpec,
} from '../core/resources/index.js';
import { driftArgs, FEEDBACK_TOKEN_DIR, serverDeployment } from './children.js';
import type { WorkloadConfig } from './workload-config.js';

/** What the operator puts into a server Pod for the trust and shutdown settings of a ModelDeployment. */

const cfg: WorkloadConfig = {
  image: 'mlcycle:test',
  imagePullPolicy: 'Never',
  artifactRoot: 's3://mlcycle/',
  workloadSecret: 'mlcycle-workload',
  workloadEnv: {},
  driftServiceAccount: 'mlcycle-drift',
  driftReporterClusterRole: 'mlcycle-drift-reporter',
};

const mv: ModelVersion = {
  apiVersion: 'mlcycle.dev/v1alpha1',
  kind: 'ModelVersion',
  metadata: { name: 'flights-v1', namespace: 'team-a', uid: 'u-mv' },
  spec: ModelVersionSpec.parse({
    model: 'flights',
    version: 'v1',
    task: 'binary-classification',
    dataset: { uri: 'builtin:flights', target: 'delay' },
  }),
};

function deployment(spec: Record<string, unknown>): ModelDeployment {
  return {
    apiVersion: 'mlcycle.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'flights', namespace: 'team-a', uid: 'u-md' },
    spec: ModelDeploymentSpec.parse({ modelVersion: 'flights-v1', ...spec }),
  };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('the server Pod', () => {
  it('mounts the feedback token Secret as a file and points the server at it', () => {
    const md = deployment({ feedback: { tokenSecret: { name: 'flights-feedback' } } });
    const pod = serverDeployment(md, mv, cfg).spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(pod.volumes).toContainEqual({
      name: 'feedback-token',
      secret: { secretName: 'flights-feedback', items: [{ key: 'token', path: 'token' }] },
    });
    expect(c.volumeMounts).toContainEqual({
      name: 'feedback-token',
      mountPath: FEEDBACK_TOKEN_DIR,
      readOnly: true,
    });
    expect(c.env).toContainEqual({
      name: 'MLCYCLE_FEEDBACK_TOKEN_FILE',
      value: `${FEEDBACK_TOKEN_DIR}/token`,
    });
    // Never the token itself in the spec.
    expect(JSON.stringify(pod)).not.toMatch(/MLCYCLE_FEEDBACK_TOKEN"/);
  });

  it('has no feedback credential (feedback off) when the spec names none', () => {
    const pod = serverDeployment(deployment({}), mv, cfg).spec!.template.spec!;
    expect(pod.volumes!.map((v) => v.name)).not.toContain('feedback-token');
    expect(pod.containers[0]!.env!.map((e) => e.name)).not.toContain('MLCYCLE_FEEDBACK_TOKEN_FILE');
  });

  it('turns prediction logging off when spec.logging.enabled is false, and only then', () => {
    const off = serverDeployment(deployment({ logging: { enabled: false } }), mv, cfg);
    expect(flag(off.spec!.template.spec!.containers[0]!.args!, '--log-predictions')).toBe('false');
    const on = serverDeployment(deployment({ logging: { enabled: true } }), mv, cfg);
    expect(on.spec!.template.spec!.containers[0]!.args).not.toContain('--log-predictions');
  });

  it('spills to a per-deployment prefix in the object store, which the drift job imports from', () => {
    const md = deployment({});
    const args = serverDeployment(md, mv, cfg).spec!.template.spec!.containers[0]!.args!;
    expect(flag(args, '--log-spill-uri')).toBe('s3://mlcycle/namespaces/team-a/prediction-log-spill/flights');
    const monitor = {
      apiVersion: 'mlcycle.dev/v1alpha1',
      kind: 'DriftMonitor',
      metadata: { name: 'm', namespace: 'team-a', uid: 'u-dm' },
      spec: { deployment: 'flights', schedule: '0 * * * *', window: '1h' },
    } as unknown as Parameters<typeof driftArgs>[0];
    expect(driftArgs(monitor, mv, md, cfg)).toContain(
      '--log-spill-uri=s3://mlcycle/namespaces/team-a/prediction-log-spill/flights',
    );
  });

  it('leaves the endpoints first (preStop), then drops readiness before closing, within the grace period', () => {
    const pod = serverDeployment(deployment({}), mv, cfg).spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(c.lifecycle?.preStop?.sleep?.seconds).toBe(5);
    const args = c.args!;
    const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)![1]);
    const shutdown =
      5 + seconds(flag(args, '--shutdown-delay')!) + seconds(flag(args, '--shutdown-timeout')!) + 1 + 10;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(shutdown);
  });
});
