import {
  type Condition,
  findCondition,
  type ModelDeployment,
  ModelDeploymentKind,
  type ModelDeploymentStatus,
  type ModelVersion,
  ModelVersionKind,
  resourcePath,
  type ServedVersion,
  setCondition,
} from '../../core/resources/index.js';
import { serverDeployment, serverService } from '../children.js';
import {
  applyChild,
  childPaths,
  type DeploymentView,
  type OperatorContext,
  readCustom,
  rfc3339,
  writeStatus,
} from '../context.js';
import type { ReconcileResult, Reconciler } from '../controller.js';
import { ANNOTATIONS, serverName } from '../naming.js';

const HISTORY = 20;

/** Whether a Deployment's rollout of its current template is finished and available. */
export function rolloutComplete(dep: DeploymentView | undefined, desiredReplicas: number): boolean {
  if (!dep?.status) return false;
  const gen = dep.metadata?.generation ?? 0;
  const s = dep.status;
  if ((s.observedGeneration ?? 0) < gen) return false;
  if (desiredReplicas === 0) return true;
  return (
    (s.updatedReplicas ?? 0) >= desiredReplicas &&
    (s.availableReplicas ?? 0) >= desiredReplicas &&
    (s.replicas ?? 0) <= (s.updatedReplicas ?? 0) // no old Pods left
  );
}

/**
 * ModelDeployment → an inference Deployment + Service for a Registered ModelVersion.
 * A version that is not Registered is refused with a condition, and whatever was serving
 * keeps serving. When a rollout completes the history records it: the version it replaced
 * becomes `previousVersion` (the rollback target) unless it was itself rolled back.
 */
export class ModelDeploymentReconciler implements Reconciler {
  readonly kind = 'ModelDeployment';

  constructor(private readonly ctx: OperatorContext) {}

  async reconcile(namespace: string, name: string): Promise<ReconcileResult | undefined> {
    const ctx = this.ctx;
    const md = await readCustom<ModelDeployment>(ctx, ModelDeploymentKind, namespace, name);
    if (!md || md.metadata.deletionTimestamp) return undefined;
    const generation = md.metadata.generation ?? 1;
    const status: ModelDeploymentStatus = { ...(md.status ?? {}), observedGeneration: generation };
    const setCond = (type: string, s: Condition['status'], reason: string, message: string) => {
      status.conditions = setCondition(
        status.conditions,
        { type, status: s, reason, message, observedGeneration: generation },
        ctx.now(),
      );
    };

    const wanted = md.spec.modelVersion;
    const mv = await readCustom<ModelVersion>(ctx, ModelVersionKind, namespace, wanted);
    const refusal = !mv
      ? {
          reason: 'VersionNotFound',
          message: `ModelVersion ${wanted} does not exist in namespace ${namespace}`,
        }
      : mv.status?.phase !== 'Registered'
        ? {
            reason: 'VersionNotRegistered',
            message: `ModelVersion ${wanted} is ${mv.status?.phase ?? 'Pending'}${mv.status?.message ? ` (${mv.status.message})` : ''}: only a Registered version can be served`,
          }
        : status.model && mv.spec.model !== status.model
          ? {
              reason: 'ModelMismatch',
              message: `ModelVersion ${wanted} belongs to model ${mv.spec.model}, but this deployment serves ${status.model}`,
            }
          : undefined;

    const depName = serverName(name);
    let dep =
      ctx.caches.deployments.get(namespace, depName) ??
      (await ctx.client.getOrUndefined<DeploymentView>(childPaths.deployment(namespace, depName)));

    if (refusal || !mv) {
      const was = findCondition(md.status?.conditions, 'Progressing');
      setCond('Progressing', 'False', refusal?.reason ?? 'VersionNotFound', refusal?.message ?? '');
      if (!dep) setCond('Available', 'False', 'NothingServing', 'no version has been rolled out yet');
      else this.observe(status, dep, md);
      await writeStatus(ctx, ModelDeploymentKind, md, status);
      if (was?.reason !== refusal?.reason) {
        await ctx.events.emit(md, 'Warning', refusal?.reason ?? 'VersionNotFound', refusal?.message ?? '');
      }
      return undefined; // a change of the ModelVersion brings us back
    }

    await ctx.namespaces.ensure(ctx, namespace);
    const created = !dep;
    dep = await applyChild<DeploymentView>(
      ctx,
      childPaths.deployment(namespace, depName),
      serverDeployment(md, mv, ctx.config),
    );
    await applyChild(ctx, childPaths.service(namespace, depName), serverService(md));
    if (created) ctx.metrics.childrenCreated.inc({ kind: 'Deployment' });

    status.model = mv.spec.model;
    status.deploymentName = depName;
    status.endpoint = `http://${depName}.${namespace}.svc`;
    this.observe(status, dep, md);

    const templateVersion = dep.spec?.template?.metadata?.annotations?.[ANNOTATIONS.servingVersion];
    const done = templateVersion === wanted && rolloutComplete(dep, md.spec.replicas);
    if (done && status.servingVersion !== wanted) {
      const rolledBack = await this.recordRollout(md, status, mv);
      await writeStatus(ctx, ModelDeploymentKind, md, status);
      if (rolledBack) {
        // The rollback is recorded in the history; the marker must not tag a later rollout.
        await ctx.client.patch(`${resourcePath(ModelDeploymentKind, namespace, name)}`, {
          metadata: {
            annotations: { [ANNOTATIONS.rolledBackFrom]: null, [ANNOTATIONS.rollbackReason]: null },
          },
        });
      }
      return undefined;
    } else if (done) {
      setCond('Progressing', 'False', 'RolloutComplete', `serving ${wanted}`);
    } else {
      setCond(
        'Progressing',
        'True',
        'RollingOut',
        `rolling out ${wanted}${status.servingVersion ? ` (serving ${status.servingVersion} until it is ready)` : ''}`,
      );
    }
    const available = (dep.status?.availableReplicas ?? 0) > 0 || (md.spec.replicas === 0 && done);
    setCond(
      'Available',
      available ? 'True' : 'False',
      available ? 'MinimumReplicasAvailable' : 'NoReplicasAvailable',
      available ? `${dep.status?.availableReplicas ?? 0} Pod(s) serving` : 'no inference Pod is ready',
    );
    await writeStatus(ctx, ModelDeploymentKind, md, status);
    return undefined;
  }

  private observe(status: ModelDeploymentStatus, dep: DeploymentView, md: ModelDeployment): void {
    status.replicas = dep.status?.replicas ?? 0;
    status.readyReplicas = dep.status?.readyReplicas ?? 0;
    status.ready = `${status.readyReplicas}/${md.spec.replicas}`;
  }

  /** Records a finished rollout in the history; returns whether it was a rollback. */
  private async recordRollout(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    mv: ModelVersion,
  ): Promise<boolean> {
    const ctx = this.ctx;
    const now = rfc3339(ctx.now());
    const wanted = mv.metadata.name;
    const old = status.servingVersion;
    const rolledBackFrom = md.metadata.annotations?.[ANNOTATIONS.rolledBackFrom];
    const isRollback = rolledBackFrom !== undefined && rolledBackFrom === old;
    const history: ServedVersion[] = [...(status.history ?? [])];
    const current = history.find((h) => h.modelVersion === old && h.outcome === 'Serving');
    if (current) {
      current.until = now;
      current.outcome = isRollback ? 'RolledBack' : 'Replaced';
      current.reason = isRollback
        ? (md.metadata.annotations?.[ANNOTATIONS.rollbackReason] ?? 'rolled back')
        : `replaced by ${wanted}`;
    }
    history.unshift({
      modelVersion: wanted,
      registryVersion: mv.spec.version,
      since: now,
      outcome: 'Serving',
    });
    status.history = history.slice(0, HISTORY);
    status.servingVersion = wanted;
    status.previousVersion = lastGood(status.history, wanted);
    const setCond = (type: string, s: Condition['status'], reason: string, message: string) => {
      status.conditions = setCondition(
        status.conditions,
        { type, status: s, reason, message, observedGeneration: md.metadata.generation },
        ctx.now(),
      );
    };
    setCond('Progressing', 'False', 'RolloutComplete', `serving ${wanted}`);
    if (isRollback) {
      const msg = `rolled back from ${old} to ${wanted}: ${md.metadata.annotations?.[ANNOTATIONS.rollbackReason] ?? ''}`;
      setCond('RolledBack', 'True', 'QualityDegraded', msg);
      await ctx.events.emit(md, 'Warning', 'RolledBack', msg);
    } else {
      if (findCondition(status.conditions, 'RolledBack')) {
        setCond('RolledBack', 'False', 'NewVersion', `serving ${wanted} by request`);
      }
      await ctx.events.emit(md, 'Normal', 'RolledOut', `now serving ${wanted}${old ? ` (was ${old})` : ''}`);
    }
    return isRollback;
  }
}

/** The most recent version served before `current` that was not itself rolled back. */
export function lastGood(history: readonly ServedVersion[], current: string): string | undefined {
  return history.find((h) => h.modelVersion !== current && h.outcome === 'Replaced')?.modelVersion;
}
