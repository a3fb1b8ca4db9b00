import type { V1CronJob, V1Service } from '@kubernetes/client-node';
import type { Pool } from '../core/db/index.js';
import type { KubeApi, KubeObject } from '../core/kube/client.js';
import { kubePaths } from '../core/kube/paths.js';
import type { Logger } from '../core/log.js';
import { getVersion, type StoredVersion, setAlias } from '../core/registry.js';
import {
  API_VERSION,
  type CustomObject,
  type DriftMonitor,
  type ModelDeployment,
  type ModelVersion,
  type OwnerReference,
  type ResourceKind,
  resourcePath,
} from '../core/resources/index.js';
import { DEFAULT_NAMESPACE } from '../core/tenant.js';
import type { EventRecorder } from './events.js';
import type { OperatorMetrics } from './metrics.js';
import { MANAGER } from './naming.js';
import type { TenantCredentials } from './tenant-credentials.js';
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

/** What a reconciler reads from an informer's cache (the informer itself is the manager's). */
export interface ObjectCache<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): T[];
}

export interface Caches {
  modelVersions: ObjectCache<ModelVersion & KubeObject>;
  modelDeployments: ObjectCache<ModelDeployment & KubeObject>;
  driftMonitors: ObjectCache<DriftMonitor & KubeObject>;
  jobs: ObjectCache<JobView>;
  deployments: ObjectCache<DeploymentView>;
  services: ObjectCache<V1Service & KubeObject>;
  cronJobs: ObjectCache<V1CronJob & KubeObject>;
}

/** The object type a cache holds. */
export type Cached<K extends keyof Caches> = Caches[K] extends ObjectCache<infer T> ? T : never;

/**
 * What the operator reads from and records in the model registry, always in the namespace of
 * the resource it reconciles (a model name belongs to its namespace).
 */
export interface RegistryAccess {
  version(namespace: string, model: string, version: string): Promise<StoredVersion | undefined>;
  /** Points the model's `champion` alias at the version now serving (gate.mustBeatChampion reads it). */
  setChampion(namespace: string, model: string, version: string, reason: string): Promise<void>;
}

/** The registry over its PostgreSQL pool (opened on first use). */
export function poolRegistry(pool: () => Promise<Pool>): RegistryAccess {
  return {
    version: async (namespace, model, version) => getVersion(await pool(), namespace, model, version),
    setChampion: async (namespace, model, version, reason) =>
      setAlias(await pool(), namespace, model, 'champion', version, reason),
  };
}

/** The tenant a resource belongs to: its Kubernetes namespace. */
export function tenantOf(resource: { metadata: { namespace?: string | undefined } }): string {
  return resource.metadata.namespace ?? DEFAULT_NAMESPACE;
}

export interface OperatorContext {
  client: KubeApi;
  config: WorkloadConfig;
  log: Logger;
  events: EventRecorder;
  metrics: OperatorMetrics;
  caches: Caches;
  registry: RegistryAccess;
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

/** JSON text with object keys sorted at every level and undefined dropped: equal text = equal JSON. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : x,
  );
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
  if (canonicalJson(obj.status ?? {}) === canonicalJson(status)) return obj;
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

/**
 * The per-namespace objects every mlcycle workload there relies on: the Secret with the
 * namespace's own database and object-store credentials (TenantCredentials: a PostgreSQL role
 * and a MinIO user limited to the namespace), and the drift Jobs' ServiceAccount bound to the
 * drift-reporter ClusterRole (get + patch of driftmonitors/status, nothing else). Each is owned
 * by the mlcycle resources of the namespace that asked for it (ownerReferences), so it goes
 * with the last of them — also on `helm uninstall`, which removes the CRDs and so the
 * resources. Applied once per namespace and resource per operator process, and again after
 * `recheckMs`.
 */
export class NamespaceSupport {
  private readonly done = new Map<string, number>();

  constructor(
    private readonly credentials: TenantCredentials,
    private readonly recheckMs = 10 * 60_000,
  ) {}

  async ensure(ctx: OperatorContext, ns: string, owner: CustomObject<unknown, unknown>): Promise<void> {
    const key = `${ns}/${owner.metadata.uid ?? owner.metadata.name}`;
    const at = this.done.get(key);
    if (at !== undefined && Date.now() - at < this.recheckMs) return;
    const cfg = ctx.config;
    const labels = { 'app.kubernetes.io/managed-by': MANAGER, 'app.kubernetes.io/part-of': 'mlcycle' };
    const secretPath = kubePaths.secret(ns, cfg.workloadSecret);
    const current = await ctx.client.getOrUndefined<KubeObject>(secretPath);
    const ownerReferences = withOwner(current?.metadata?.ownerReferences, owner);
    const meta = (name: string) => ({ name, namespace: ns, labels, ownerReferences });
    await applyChild(ctx, secretPath, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: meta(cfg.workloadSecret),
      type: 'Opaque',
      stringData: await this.credentials.env(ns),
    });
    await applyChild(ctx, kubePaths.serviceAccount(ns, cfg.driftServiceAccount), {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(cfg.driftServiceAccount),
    });
    await applyChild(ctx, kubePaths.roleBinding(ns, cfg.driftServiceAccount), {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(cfg.driftServiceAccount),
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: cfg.driftReporterClusterRole,
      },
      subjects: [{ kind: 'ServiceAccount', name: cfg.driftServiceAccount, namespace: ns }],
    } as KubeObject);
    this.done.set(key, Date.now());
  }
}

/** The owners an object already has, plus `owner` (not as controller: several resources share it). */
export function withOwner(
  existing: readonly OwnerReference[] | undefined,
  owner: CustomObject<unknown, unknown>,
): OwnerReference[] {
  const refs = (existing ?? []).filter((r) => r.uid !== owner.metadata.uid);
  if (!owner.metadata.uid) return refs;
  return [
    ...refs,
    { apiVersion: API_VERSION, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid },
  ];
}
