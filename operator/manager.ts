import type { Pool } from '../core/db/index.js';
import type { KubeClient, KubeObject } from '../core/kube/client.js';
import type { Logger } from '../core/log.js';
import {
  type CustomObject,
  DriftMonitorKind,
  ModelDeploymentKind,
  ModelVersionKind,
  resourcePath,
} from '../core/resources/index.js';
import type { Caches, OperatorContext } from './context.js';
import { NamespaceSupport } from './context.js';
import { Controller } from './controller.js';
import { EventRecorder } from './events.js';
import { Informer } from './kube/informer.js';
import { createOperatorMetrics, type OperatorMetrics } from './metrics.js';
import { LABELS, MANAGER } from './naming.js';
import { DriftMonitorReconciler } from './reconcilers/drift-monitor.js';
import { ModelDeploymentReconciler } from './reconcilers/model-deployment.js';
import { ModelVersionReconciler } from './reconcilers/model-version.js';
import type { WorkloadConfig } from './workload-config.js';

export interface ManagerOptions {
  client: KubeClient;
  config: WorkloadConfig;
  log: Logger;
  registry: () => Promise<Pool>;
  /** Only this namespace (and its children); all namespaces when unset. */
  namespace?: string;
  identity: string;
  workers?: number;
  resyncMs?: number;
  metrics?: OperatorMetrics;
}

/**
 * Wires informers, work queues and reconcilers together: an event on a custom resource queues
 * it; an event on a child (Job, Deployment, Service, CronJob) queues its controlling owner; a
 * ModelVersion change queues the ModelDeployments naming it; a ModelDeployment change queues
 * the DriftMonitors watching it.
 */
export class OperatorManager {
  readonly ctx: OperatorContext;
  readonly controllers: {
    modelVersions: Controller;
    modelDeployments: Controller;
    driftMonitors: Controller;
  };
  private readonly informers: Informer<KubeObject>[];

  constructor(opts: ManagerOptions) {
    const { client, log } = opts;
    const metrics = opts.metrics ?? createOperatorMetrics();
    const ns = opts.namespace;
    const at = (group: string, plural: string) =>
      `${group === 'core' ? '/api/v1' : `/apis/${group}`}${ns ? `/namespaces/${ns}` : ''}/${plural}`;
    const owned = `${LABELS.managedBy}=${MANAGER}`;
    const inf = <T extends KubeObject>(path: string, labelSelector?: string) =>
      new Informer<T>(client, { path, labelSelector, resyncMs: opts.resyncMs ?? 5 * 60_000, log });
    const caches: Caches = {
      modelVersions: inf(resourcePath(ModelVersionKind, ns)),
      modelDeployments: inf(resourcePath(ModelDeploymentKind, ns)),
      driftMonitors: inf(resourcePath(DriftMonitorKind, ns)),
      jobs: inf(at('batch/v1', 'jobs'), owned),
      deployments: inf(at('apps/v1', 'deployments'), owned),
      services: inf(at('core', 'services'), owned),
      cronJobs: inf(at('batch/v1', 'cronjobs'), owned),
    };
    this.ctx = {
      client,
      config: opts.config,
      log,
      events: new EventRecorder(client, log, opts.identity),
      metrics,
      caches,
      registry: opts.registry,
      namespaces: new NamespaceSupport(),
      now: () => new Date(),
    };
    const workers = opts.workers ?? 2;
    this.controllers = {
      modelVersions: new Controller(new ModelVersionReconciler(this.ctx), metrics, log, workers),
      modelDeployments: new Controller(new ModelDeploymentReconciler(this.ctx), metrics, log, workers),
      driftMonitors: new Controller(new DriftMonitorReconciler(this.ctx), metrics, log, workers),
    };
    this.informers = Object.values(caches) as Informer<KubeObject>[];
    this.wire(caches);
  }

  private wire(c: Caches): void {
    const { modelVersions: mvC, modelDeployments: mdC, driftMonitors: dmC } = this.controllers;
    const key = (o: KubeObject) => [o.metadata?.namespace, o.metadata?.name] as const;
    c.modelVersions.onChange((_t, mv) => {
      mvC.enqueue(...key(mv));
      for (const md of c.modelDeployments.list(mv.metadata?.namespace)) {
        const spec = (md as CustomObject<{ modelVersion?: string }, { servingVersion?: string }>).spec;
        const st = (md as CustomObject<unknown, { servingVersion?: string }>).status;
        if (spec?.modelVersion === mv.metadata?.name || st?.servingVersion === mv.metadata?.name)
          mdC.enqueue(...key(md));
      }
    });
    c.modelDeployments.onChange((_t, md) => {
      mdC.enqueue(...key(md));
      for (const dm of c.driftMonitors.list(md.metadata?.namespace)) {
        if ((dm as CustomObject<{ deployment?: string }, unknown>).spec?.deployment === md.metadata?.name) {
          dmC.enqueue(...key(dm));
        }
      }
    });
    c.driftMonitors.onChange((_t, dm) => dmC.enqueue(...key(dm)));
    const toOwner = (kind: string, ctrl: Controller) => (_t: string, o: KubeObject) => {
      const owner = o.metadata?.ownerReferences?.find((r) => r.controller && r.kind === kind);
      if (owner) ctrl.enqueue(o.metadata?.namespace, owner.name);
    };
    c.jobs.onChange((t, job) => {
      toOwner('ModelVersion', mvC)(t, job);
      const dm = job.metadata?.labels?.[LABELS.driftMonitor];
      if (dm) dmC.enqueue(job.metadata?.namespace, dm);
    });
    c.deployments.onChange(toOwner('ModelDeployment', mdC));
    c.services.onChange(toOwner('ModelDeployment', mdC));
    c.cronJobs.onChange(toOwner('DriftMonitor', dmC));
  }

  /** Fills every cache (resolves when all have listed once). */
  async startInformers(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.start()));
  }

  startControllers(): void {
    for (const c of Object.values(this.controllers)) c.start();
  }

  /** Stops taking work, lets running reconciles finish, closes the watches. */
  async stop(): Promise<void> {
    await Promise.all(Object.values(this.controllers).map((c) => c.stop()));
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
