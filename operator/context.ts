import type { V1CronJob, V1Service } from '@kubernetes/client-node';
import type { Pool } from '../core/db/index.js';
import type { KubeClient, KubeObject } from '../core/kube/client.js';
import type { Logger } from '../core/log.js';
import {
  type CustomObject,
  type DriftMonitor,
  type ModelDeployment,
  type ModelVersion,
  type ResourceKind,
  resourcePath,
} from '../core/resources/index.js';
import type { EventRecorder } from './events.js';
import type { Informer } from './kube/informer.js';
import type { OperatorMetrics } from './metrics.js';
import { MANAGER } from './naming.js';
import type { WorkloadConfig } from './workload-config.js';

/** What a Job looks like to the operator (only the fields it reads). */
export interface JobView extends KubeObject {
  spec?: { template?: unknown };
  status?: {
    active?: number;
    ready?: number;
    succeeded?: number;
    failed?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface DeploymentView extends KubeObject {
  spec?: { replicas?: number; template?: { metadata?: { annotations?: Record<string, string> } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    unavailableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface Caches {
  modelVersions: Informer<ModelVersion & KubeObject>;
  modelDeployments: Informer<ModelDeployment & KubeObject>;
  driftMonitors: Informer<DriftMonitor & KubeObject>;
  jobs: Informer<JobView>;
  deployments: Informer<DeploymentView>;
  services: Informer<V1Service & KubeObject>;
  cronJobs: Informer<V1CronJob & KubeObject>;
}

export interface OperatorContext {
  client: KubeClient;
  config: WorkloadConfig;
  log: Logger;
  events: EventRecorder;
  metrics: OperatorMetrics;
  caches: Caches;
  /** The registry database; opened on first use. */
  registry: () => Promise<Pool>;
  namespaces: NamespaceSupport;
  now: () => Date;
}

export const rfc3339 = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Reads a custom object fresh from the API server (the cache may lag behind our own writes). */
export async function readCustom<T extends CustomObject<unknown, unknown>>(
  ctx: OperatorContext,
  kind: ResourceKind,
  namespace: string,
  name: string,
): Promise<T | undefined> {
  return ctx.client.getOrUndefined<T>(resourcePath(kind, namespace, name));
}

const stable = (v: unknown): string => JSON.stringify(v, Object.keys(flatKeys(v)).sort());
function flatKeys(v: unknown, acc: Record<string, true> = {}): Record<string, true> {
  if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      acc[k] = true;
      flatKeys(x, acc);
    }
  }
  return acc;
}

/**
 * Writes a custom object's status through the status subresource, with the object's
 * resourceVersion (optimistic concurrency: a 409 means somebody wrote in between, and the
 * reconcile is retried on a fresh read). Skips the write when nothing changed, so a status
 * write does not trigger an endless chain of reconciles.
 */
export async function writeStatus<S>(
  ctx: OperatorContext,
  kind: ResourceKind,
  obj: CustomObject<unknown, S>,
  status: S,
): Promise<CustomObject<unknown, S>> {
  if (stable(obj.status ?? {}) === stable(status)) return obj;
  const ns = obj.metadata.namespace ?? 'default';
  return ctx.client.replace<CustomObject<unknown, S>>(resourcePath(kind, ns, obj.metadata.name, 'status'), {
    ...obj,
    status,
  });
}

/** Server-side apply of a child object: creates it or brings the fields we own back to what we want. */
export async function applyChild<T = KubeObject>(
  ctx: OperatorContext,
  path: string,
  obj: object,
): Promise<T> {
  return ctx.client.patch<T>(path, obj, 'apply');
}

export const childPaths = {
  deployment: (ns: string, name: string) => `/apis/apps/v1/namespaces/${ns}/deployments/${name}`,
  service: (ns: string, name: string) => `/api/v1/namespaces/${ns}/services/${name}`,
  cronJob: (ns: string, name: string) => `/apis/batch/v1/namespaces/${ns}/cronjobs/${name}`,
  job: (ns: string, name: string) => `/apis/batch/v1/namespaces/${ns}/jobs/${name}`,
  jobs: (ns: string) => `/apis/batch/v1/namespaces/${ns}/jobs`,
};

/**
 * The per-namespace objects every mlcycle workload there relies on: the Secret with the
 * database and object-store settings, and the drift Jobs' ServiceAccount bound to the
 * drift-reporter ClusterRole (get + patch of driftmonitors/status, nothing else). Applied
 * once per namespace per operator process, and again after `recheckMs`.
 */
export class NamespaceSupport {
  private readonly done = new Map<string, number>();

  constructor(private readonly recheckMs = 10 * 60_000) {}

  async ensure(ctx: OperatorContext, ns: string): Promise<void> {
    const at = this.done.get(ns);
    if (at !== undefined && Date.now() - at < this.recheckMs) return;
    const cfg = ctx.config;
    const labels = { 'app.kubernetes.io/managed-by': MANAGER, 'app.kubernetes.io/part-of': 'mlcycle' };
    await applyChild(ctx, `/api/v1/namespaces/${ns}/secrets/${cfg.workloadSecret}`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: cfg.workloadSecret, namespace: ns, labels },
      type: 'Opaque',
      stringData: cfg.workloadEnv,
    });
    await applyChild(ctx, `/api/v1/namespaces/${ns}/serviceaccounts/${cfg.driftServiceAccount}`, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: cfg.driftServiceAccount, namespace: ns, labels },
    });
    await applyChild(
      ctx,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings/${cfg.driftServiceAccount}`,
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: cfg.driftServiceAccount, namespace: ns, labels },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: cfg.driftReporterClusterRole,
        },
        subjects: [{ kind: 'ServiceAccount', name: cfg.driftServiceAccount, namespace: ns }],
      } as KubeObject,
    );
    this.done.set(ns, Date.now());
  }
}
