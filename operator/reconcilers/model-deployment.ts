import { kubePaths } from '../../core/kube/paths.js';
import {
  type ModelDeployment,
  ModelDeploymentKind,
  type ModelDeploymentStatus,
  type ModelVersion,
  ModelVersionKind,
  resourcePath,
  type ServedVersion,
} from '../../core/resources/index.js';
import { serverDeployment, serverService } from '../children.js';
import { StatusConditions } from '../conditions.js';
import {
  applyChild,
  type DeploymentView,
  type OperatorContext,
  readCustom,
  rfc3339,
  writeStatus,
} from '../context.js';
import { controllingOwner, itself, type ReconcileResult, type Reconciler, watch } from '../controller.js';
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
 * Ready Pods of the current template. The Deployment counts old and new Pods together; during
 * a rollout (maxUnavailable 0) the old Pods are the ready ones, so they are taken off.
 */
export function currentReady(dep: DeploymentView, desiredReplicas: number): number {
  const s = dep.status ?? {};
  const old = Math.max(0, (s.replicas ?? 0) - (s.updatedReplicas ?? 0));
  const ready = Math.max(0, (s.readyReplicas ?? 0) - old);
  return Math.min(ready, s.updatedReplicas ?? 0, desiredReplicas);
}

type Refusal = { reason: string; message: string };

/**
 * ModelDeployment → an inference Deployment + Service for a Registered ModelVersion.
 * A version that is not Registered is refused with a condition, and whatever was serving
 * keeps serving. When a rollout completes the history records it: the version it replaced
 * becomes `previousVersion` (the rollback target) unless it was itself rolled back. Every
 * path sets Progressing and Available from the same observation of the Deployment, so the
 * status never names a serving version whose Pods are not available.
 */
export class ModelDeploymentReconciler implements Reconciler {
  readonly kind = 'ModelDeployment';

  constructor(private readonly ctx: OperatorContext) {}

  watches() {
    return [
      watch('modelDeployments', itself),
      // A version's phase decides whether it can be served.
      watch('modelVersions', (mv, c) =>
        c.modelDeployments
          .list(mv.metadata?.namespace)
          .filter(
            (md) =>
              md.spec?.modelVersion === mv.metadata?.name || md.status?.servingVersion === mv.metadata?.name,
          )
          .map((md) => md.metadata?.name),
      ),
      watch('deployments', controllingOwner('ModelDeployment')),
      watch('services', controllingOwner('ModelDeployment')),
    ];
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult | undefined> {
    const ctx = this.ctx;
    const md = await readCustom<ModelDeployment>(ctx, ModelDeploymentKind, namespace, name);
    if (!md || md.metadata.deletionTimestamp) return undefined;
    const status: ModelDeploymentStatus = {
      ...(md.status ?? {}),
      observedGeneration: md.metadata.generation ?? 1,
    };
    const cond = new StatusConditions(status, md.metadata.generation ?? 1, ctx.now);

    const wanted = md.spec.modelVersion;
    const mv = await readCustom<ModelVersion>(ctx, ModelVersionKind, namespace, wanted);
    const refusal = refuse(md, status, mv);
    const depName = serverName(name);
    let dep =
      ctx.caches.deployments.get(namespace, depName) ??
      (await ctx.client.getOrUndefined<DeploymentView>(kubePaths.deployment(namespace, depName)));

    if (refusal || !mv) {
      const why = refusal ?? { reason: 'VersionNotFound', message: `ModelVersion ${wanted} does not exist` };
      const was = cond.get('Progressing');
      cond.set('Progressing', 'False', why.reason, why.message);
      this.observe(status, cond, dep, md, false);
      await writeStatus(ctx, ModelDeploymentKind, md, status);
      if (was?.reason !== why.reason) await ctx.events.emit(md, 'Warning', why.reason, why.message);
      return undefined; // a change of the ModelVersion brings us back
    }

    await ctx.namespaces.ensure(ctx, namespace);
    const created = !dep;
    dep = await applyChild<DeploymentView>(
      ctx,
      kubePaths.deployment(namespace, depName),
      serverDeployment(md, mv, ctx.config),
    );
    await applyChild(ctx, kubePaths.service(namespace, depName), serverService(md));
    if (created) ctx.metrics.childrenCreated.inc({ kind: 'Deployment' });
    status.model = mv.spec.model;
    status.deploymentName = depName;
    status.endpoint = `http://${depName}.${namespace}.svc`;

    const templateVersion = dep.spec?.template?.metadata?.annotations?.[ANNOTATIONS.servingVersion];
    const done = templateVersion === wanted && rolloutComplete(dep, md.spec.replicas);
    const rolledBack =
      done && status.servingVersion !== wanted ? await this.recordRollout(md, status, cond, mv) : false;
    if (done) cond.set('Progressing', 'False', 'RolloutComplete', `serving ${wanted}`);
    else {
      const until = status.servingVersion ? ` (serving ${status.servingVersion} until it is ready)` : '';
      cond.set('Progressing', 'True', 'RollingOut', `rolling out ${wanted}${until}`);
    }
    this.observe(status, cond, dep, md, done);
    await writeStatus(ctx, ModelDeploymentKind, md, status);
    if (rolledBack) {
      // The rollback is recorded in the history; the marker must not tag a later rollout.
      await ctx.client.patch(resourcePath(ModelDeploymentKind, namespace, name), {
        metadata: { annotations: { [ANNOTATIONS.rolledBackFrom]: null, [ANNOTATIONS.rollbackReason]: null } },
      });
    }
    return undefined;
  }

  /** Pod counts and the Available condition, from one observation of the Deployment. */
  private observe(
    status: ModelDeploymentStatus,
    cond: StatusConditions,
    dep: DeploymentView | undefined,
    md: ModelDeployment,
    done: boolean,
  ): void {
    if (!dep) {
      cond.set('Available', 'False', 'NothingServing', 'no version has been rolled out yet');
      return;
    }
    status.replicas = dep.status?.replicas ?? 0;
    status.readyReplicas = currentReady(dep, md.spec.replicas);
    status.ready = `${status.readyReplicas}/${md.spec.replicas}`;
    const pods = dep.status?.availableReplicas ?? 0;
    const available = pods > 0 || (md.spec.replicas === 0 && done);
    cond.set(
      'Available',
      available ? 'True' : 'False',
      available ? 'MinimumReplicasAvailable' : 'NoReplicasAvailable',
      available ? `${pods} Pod(s) serving` : 'no inference Pod is ready',
    );
  }

  /** Records a finished rollout in the history; returns whether it was a rollback. */
  private async recordRollout(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    cond: StatusConditions,
    mv: ModelVersion,
  ): Promise<boolean> {
    const ctx = this.ctx;
    const now = rfc3339(ctx.now());
    const wanted = mv.metadata.name;
    const old = status.servingVersion;
    const rolledBackFrom = md.metadata.annotations?.[ANNOTATIONS.rolledBackFrom];
    const isRollback = rolledBackFrom !== undefined && rolledBackFrom === old;
    const why = md.metadata.annotations?.[ANNOTATIONS.rollbackReason] ?? 'rolled back';
    const history: ServedVersion[] = (status.history ?? []).map((h) => ({ ...h }));
    const current = history.find((h) => h.modelVersion === old && h.outcome === 'Serving');
    if (current) {
      current.until = now;
      current.outcome = isRollback ? 'RolledBack' : 'Replaced';
      current.reason = isRollback ? why : `replaced by ${wanted}`;
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
    if (isRollback) {
      const msg = `rolled back from ${old} to ${wanted}: ${why}`;
      cond.set('RolledBack', 'True', 'QualityDegraded', msg);
      await ctx.events.emit(md, 'Warning', 'RolledBack', msg);
    } else {
      cond.clear('RolledBack', 'NewVersion', `serving ${wanted} by request`);
      await ctx.events.emit(md, 'Normal', 'RolledOut', `now serving ${wanted}${old ? ` (was ${old})` : ''}`);
    }
    return isRollback;
  }
}

/** Why `mv` cannot be served by `md` (undefined: it can). */
function refuse(
  md: ModelDeployment,
  status: ModelDeploymentStatus,
  mv: ModelVersion | undefined,
): Refusal | undefined {
  const wanted = md.spec.modelVersion;
  if (!mv) {
    return {
      reason: 'VersionNotFound',
      message: `ModelVersion ${wanted} does not exist in namespace ${md.metadata.namespace}`,
    };
  }
  if (mv.status?.phase !== 'Registered') {
    const detail = mv.status?.message ? ` (${mv.status.message})` : '';
    return {
      reason: 'VersionNotRegistered',
      message: `ModelVersion ${wanted} is ${mv.status?.phase ?? 'Pending'}${detail}: only a Registered version can be served`,
    };
  }
  if (status.model && mv.spec.model !== status.model) {
    return {
      reason: 'ModelMismatch',
      message: `ModelVersion ${wanted} belongs to model ${mv.spec.model}, but this deployment serves ${status.model}`,
    };
  }
  return undefined;
}

/** The most recent version served before `current` that was not itself rolled back. */
export function lastGood(history: readonly ServedVersion[], current: string): string | undefined {
  return history.find((h) => h.modelVersion !== current && h.outcome === 'Replaced')?.modelVersion;
}
