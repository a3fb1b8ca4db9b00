import { SERVING_ARTIFACTS } from '../../core/artifacts.js';
import { Builtin, builtinPath, kubePaths } from '../../core/kube/paths.js';
import { createLogger } from '../../core/log.js';
import type { StoredVersion } from '../../core/registry.js';
import {
  API_VERSION,
  type DriftMonitor,
  DriftMonitorKind,
  type DriftMonitorSpec,
  type ModelDeployment,
  ModelDeploymentKind,
  type ModelDeploymentSpec,
  type ModelVersion,
  ModelVersionKind,
  type ModelVersionSpec,
  type ModelVersionStatus,
  type ResourceKind,
  resourcePath,
} from '../../core/resources/index.js';
import type { Caches, DeploymentView, ObjectCache, OperatorContext, RegistryAccess } from '../context.js';
import { NamespaceSupport } from '../context.js';
import { EventRecorder } from '../events.js';
import { createOperatorMetrics } from '../metrics.js';
import { sharedCredentials } from '../tenant-credentials.js';
import type { WorkloadConfig } from '../workload-config.js';
import { FakeKube } from './fake-kube.js';

/**
 * An operator context over the in-memory FakeKube and an in-memory registry, with a clock the
 * test moves: what the reconcilers' table-driven unit tests run on.
 */

export const NS = 'ns';

export const testConfig: WorkloadConfig = {
  image: 'mlcycle:test',
  imagePullPolicy: 'Never',
  artifactRoot: 's3://bucket',
  workloadSecret: 'mlcycle-workload',
  workloadEnv: {},
  driftServiceAccount: 'mlcycle-drift',
  driftReporterClusterRole: 'mlcycle-drift-reporter',
};

/**
 * The registry as the operator sees it: versions by namespace/model/version, and the champion
 * alias (`aliases` by model/alias for the namespace NS, `<ns>/<model>/champion` for others).
 */
export class FakeRegistry implements RegistryAccess {
  readonly versions = new Map<string, StoredVersion>();
  readonly aliases = new Map<string, string>();

  async version(namespace: string, model: string, version: string): Promise<StoredVersion | undefined> {
    return this.versions.get(`${namespace}/${model}/${version}`);
  }

  async setChampion(namespace: string, model: string, version: string): Promise<void> {
    this.aliases.set(namespace === NS ? `${model}/champion` : `${namespace}/${model}/champion`, version);
  }

  /** A registered version in namespace NS (or `extra.namespace`). */
  add(model: string, version: string, extra: Partial<StoredVersion> = {}): void {
    const namespace = extra.namespace ?? NS;
    this.versions.set(`${namespace}/${model}/${version}`, {
      namespace,
      modelName: model,
      version,
      task: 'binary-classification',
      status: 'registered',
      deployable: true,
      gate: { passed: true, reasons: [] },
      metrics: { holdout: { roc_auc: 0.8 } },
      artifacts: SERVING_ARTIFACTS.map((name) => ({
        name,
        uri: `s3://bucket/models/${model}/${version}/${name}`,
        sha256: `sha256:${'0'.repeat(64)}`,
        sizeBytes: 1,
      })),
      params: {},
      tags: {},
      ...extra,
    } as StoredVersion);
  }
}

function cacheOf<T>(kube: FakeKube, collection: (ns: string) => string): ObjectCache<T> {
  return {
    get: (ns, name) => kube.peek<T>(`${collection(ns)}/${name}`),
    list: (ns) => kube.peekAll<T>(collection(ns ?? NS)),
  };
}

export interface FakeWorld {
  kube: FakeKube;
  registry: FakeRegistry;
  ctx: OperatorContext;
  /** Moves the clock. */
  advance(seconds: number): void;
}

export function fakeWorld(): FakeWorld {
  const kube = new FakeKube();
  const registry = new FakeRegistry();
  let now = Date.parse('2026-06-01T12:00:00Z');
  const custom = (kind: ResourceKind) => (ns: string) => resourcePath(kind, ns);
  const caches: Caches = {
    modelVersions: cacheOf(kube, custom(ModelVersionKind)),
    modelDeployments: cacheOf(kube, custom(ModelDeploymentKind)),
    driftMonitors: cacheOf(kube, custom(DriftMonitorKind)),
    jobs: cacheOf(kube, kubePaths.jobs),
    deployments: cacheOf(kube, (ns) => builtinPath(Builtin.deployments, ns)),
    services: cacheOf(kube, (ns) => builtinPath(Builtin.services, ns)),
    cronJobs: cacheOf(kube, (ns) => builtinPath(Builtin.cronJobs, ns)),
  };
  const log = createLogger('operator-unit', 'silent');
  const ctx: OperatorContext = {
    client: kube,
    config: testConfig,
    log,
    events: new EventRecorder(kube, log, 'unit'),
    metrics: createOperatorMetrics(),
    caches,
    registry,
    namespaces: new NamespaceSupport(sharedCredentials(testConfig.workloadEnv)),
    now: () => new Date(now),
  };
  return { kube, registry, ctx, advance: (s) => (now += s * 1000) };
}

export function seedMv(
  w: FakeWorld,
  name: string,
  opts: { phase?: ModelVersionStatus['phase']; spec?: Partial<ModelVersionSpec>; model?: string } = {},
): ModelVersion {
  const model = opts.model ?? 'm';
  const version = name;
  if ((opts.phase ?? 'Registered') === 'Registered') w.registry.add(model, version);
  return w.kube.seed<ModelVersion>(resourcePath(ModelVersionKind, NS), {
    apiVersion: API_VERSION,
    kind: 'ModelVersion',
    metadata: { name },
    spec: {
      model,
      version,
      task: 'binary-classification',
      dataset: { uri: 'builtin:flights' },
      ...opts.spec,
    } as ModelVersionSpec,
    status: {
      phase: opts.phase ?? 'Registered',
      observedGeneration: 1,
      artifacts: {
        root: `s3://bucket/models/${model}/${version}/`,
        model: `s3://bucket/models/${model}/${version}/model.onnx`,
      },
    },
  });
}

export function seedMd(
  w: FakeWorld,
  spec: Partial<ModelDeploymentSpec> & { modelVersion: string },
  status?: ModelDeployment['status'],
  annotations?: Record<string, string>,
): ModelDeployment {
  return w.kube.seed<ModelDeployment>(resourcePath(ModelDeploymentKind, NS), {
    apiVersion: API_VERSION,
    kind: 'ModelDeployment',
    metadata: { name: 'md', annotations },
    spec: { replicas: 1, ...spec } as ModelDeploymentSpec,
    status,
  });
}

export function seedDm(
  w: FakeWorld,
  spec: Partial<DriftMonitorSpec> = {},
  status?: DriftMonitor['status'],
): DriftMonitor {
  return w.kube.seed<DriftMonitor>(resourcePath(DriftMonitorKind, NS), {
    apiVersion: API_VERSION,
    kind: 'DriftMonitor',
    metadata: { name: 'dm' },
    spec: {
      deployment: 'md',
      schedule: '@hourly',
      suspend: false,
      window: '1h',
      ...spec,
    } as DriftMonitorSpec,
    status,
  });
}

export const getMd = (w: FakeWorld) =>
  w.kube.peek<ModelDeployment>(resourcePath(ModelDeploymentKind, NS, 'md'));
export const getDm = (w: FakeWorld) => w.kube.peek<DriftMonitor>(resourcePath(DriftMonitorKind, NS, 'dm'));
export const getDeployment = (w: FakeWorld) => w.kube.peek<DeploymentView>(kubePaths.deployment(NS, 'md'));

/** What the Deployment controller and kubelet report once the current template is rolled out. */
export function markRolledOut(w: FakeWorld, replicas = 1): void {
  const dep = getDeployment(w);
  if (!dep) throw new Error('no Deployment yet');
  w.kube.setStatus(kubePaths.deployment(NS, 'md'), {
    observedGeneration: dep.metadata?.generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
  });
}

/** A rollout under way: the old Pod serves, the new one is not ready yet. */
export function markRollingOut(w: FakeWorld): void {
  const dep = getDeployment(w);
  if (!dep) throw new Error('no Deployment yet');
  w.kube.setStatus(kubePaths.deployment(NS, 'md'), {
    observedGeneration: dep.metadata?.generation,
    replicas: 2,
    updatedReplicas: 1,
    readyReplicas: 1,
    availableReplicas: 1,
  });
}

/** Event reasons recorded so far, in order. */
export function eventReasons(w: FakeWorld): string[] {
  return w.kube
    .peekAll<{ reason: string; involvedObject: { kind: string } }>(kubePaths.events(NS))
    .map((e) => `${e.involvedObject.kind}/${e.reason}`);
}
