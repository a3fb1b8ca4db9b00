import type { Pool } from '../core/db/index.js';
import type { KubeClient, KubeObject } from '../core/kube/client.js';
import { Builtin, builtinPath } from '../core/kube/paths.js';
import type { Logger } from '../core/log.js';
import {
  DriftMonitorKind,
  ModelDeploymentKind,
  ModelVersionKind,
  resourcePath,
} from '../core/resources/index.js';
import type { Caches, OperatorContext } from './context.js';
import { NamespaceSupport, poolRegistry } from './context.js';
import { Controller } from './controller.js';
import { EventRecorder } from './events.js';
import { Informer } from './kube/informer.js';
import { createOperatorMetrics, type OperatorMetrics } from './metrics.js';
import { LABELS, MANAGER } from './naming.js';
import { DriftMonitorReconciler } from './reconcilers/drift-monitor.js';
import { ModelDeploymentReconciler } from './reconcilers/model-deployment.js';
import { ModelVersionReconciler } from './reconcilers/model-version.js';
import { sharedCredentials, type TenantCredentials } from './tenant-credentials.js';
import type { WorkloadConfig } from './workload-config.js';

export interface ManagerOptions {
  client: KubeClient;
  config: WorkloadConfig;
  log: Logger;
  registry: () => Promise<Pool>;
  /** What each namespace's workloads get (default: `config.workloadEnv`, the same for all). */
  credentials?: TenantCredentials;
  /** Only this namespace (and its children); all namespaces when unset. */
  namespace?: string;
  identity: string;
  workers?: number;
  resyncMs?: number;
  metrics?: OperatorMetrics;
}

type Informers = { [K in keyof Caches]: Informer<KubeObject> };

/**
 * Wires informers, work queues and reconcilers together: one informer per kind (the custom
 * kinds, and the children labelled as managed by the operator), one controller per custom
 * kind, and each reconciler's declared watches (`Reconciler.watches()`) from the informers to
 * its queue.
 */
export class OperatorManager {
  readonly ctx: OperatorContext;
  readonly controllers: {
    modelVersions: Controller;
    modelDeployments: Controller;
    driftMonitors: Controller;
  };
  readonly informers: Informers;

  constructor(opts: ManagerOptions) {
    const { client, log } = opts;
    const metrics = opts.metrics ?? createOperatorMetrics();
    const ns = opts.namespace;
    const owned = `${LABELS.managedBy}=${MANAGER}`;
    const inf = (path: string, labelSelector?: string) =>
      new Informer<KubeObject>(client, { path, labelSelector, resyncMs: opts.resyncMs ?? 5 * 60_000, log });
    this.informers = {
      modelVersions: inf(resourcePath(ModelVersionKind, ns)),
      modelDeployments: inf(resourcePath(ModelDeploymentKind, ns)),
      driftMonitors: inf(resourcePath(DriftMonitorKind, ns)),
      jobs: inf(builtinPath(Builtin.jobs, ns), owned),
      deployments: inf(builtinPath(Builtin.deployments, ns), owned),
      services: inf(builtinPath(Builtin.services, ns), owned),
      cronJobs: inf(builtinPath(Builtin.cronJobs, ns), owned),
    };
    // The informers hold what the API server sent; each cache is read as its kind's type.
    const caches = this.informers as unknown as Caches;
    this.ctx = {
      client,
      config: opts.config,
      log,
      events: new EventRecorder(client, log, opts.identity),
      metrics,
      caches,
      registry: poolRegistry(opts.registry),
      namespaces: new NamespaceSupport(opts.credentials ?? sharedCredentials(opts.config.workloadEnv)),
      now: () => new Date(),
    };
    const workers = opts.workers ?? 2;
    this.controllers = {
      modelVersions: new Controller(new ModelVersionReconciler(this.ctx), metrics, log, workers),
      modelDeployments: new Controller(new ModelDeploymentReconciler(this.ctx), metrics, log, workers),
      driftMonitors: new Controller(new DriftMonitorReconciler(this.ctx), metrics, log, workers),
    };
    for (const controller of Object.values(this.controllers)) this.wire(controller, caches);
  }

  /** Connects the watches a reconciler declares to its controller's queue. */
  private wire(controller: Controller, caches: Caches): void {
    for (const w of controller.reconciler.watches()) {
      this.informers[w.source].onChange((_type, obj) => {
        for (const name of w.map(obj, caches)) controller.enqueue(obj.metadata?.namespace, name);
      });
    }
  }

  /** Fills every cache (resolves when all have listed once). */
  async startInformers(): Promise<void> {
    await Promise.all(Object.values(this.informers).map((i) => i.start()));
  }

  startControllers(): void {
    for (const c of Object.values(this.controllers)) c.start();
  }

  /** Stops taking work, lets running reconciles finish, closes the watches. */
  async stop(): Promise<void> {
    await Promise.all(Object.values(this.controllers).map((c) => c.stop()));
    await Promise.all(Object.values(this.informers).map((i) => i.stop()));
  }
}
