import type { KubeObject } from '../../core/kube/client.js';
import { kubePaths } from '../../core/kube/paths.js';
import {
  type ModelDeployment,
  ModelDeploymentKind,
  type ModelDeploymentStatus,
  type ModelVersion,
  ModelVersionKind,
  resourcePath,
  type ServedVersion,
  type ServingTarget,
} from '../../core/resources/index.js';
import {
  type ServedChallenger,
  serverDeployment,
  serverDisruptionBudget,
  serverNetworkPolicy,
  serverService,
} from '../children.js';
import { StatusConditions } from '../conditions.js';
import {
  applyChild,
  type DeploymentView,
  type OperatorContext,
  readCustom,
  rfc3339,
  tenantOf,
  writeStatus,
} from '../context.js';
import { controllingOwner, itself, type ReconcileResult, type Reconciler, watch } from '../controller.js';
import { ANNOTATIONS, serverName } from '../naming.js';
import {
  chooseChallenger,
  currentTarget,
  deadlineLeftMs,
  lastGood,
  leavingOutcome,
  newTarget,
  progressDeadlineSeconds,
} from './serving-target.js';

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

type Action = NonNullable<ModelDeploymentStatus['lastAction']>['action'];

/** Names of the ModelDeployments a ModelVersion matters to (served, asked for, tried, retrained for). */
function deploymentsConcerned(mv: ModelVersion, deployments: readonly ModelDeployment[]): string[] {
  const name = mv.metadata.name;
  return deployments
    .filter(
      (md) =>
        md.spec?.modelVersion === name ||
        md.spec?.challenger?.modelVersion === name ||
        md.status?.servingVersion === name ||
        md.status?.target?.modelVersion === name ||
        md.status?.challenger?.modelVersion === name ||
        mv.spec?.lineage?.deployment === md.metadata.name,
    )
    .map((md) => md.metadata.name);
}

/**
 * ModelDeployment → an inference Deployment + Service serving the target version, with the
 * challenger beside it if there is one.
 *
 * GitOps-safe: the operator never writes the spec. What serves is status.target: the spec's
 * version, or an override the lifecycle decided (Promotion, Rollback, RolloutFailed) that holds
 * until spec.modelVersion changes. A version that is not Registered is refused with a
 * condition and whatever was serving keeps serving; a rollout not available within
 * spec.rollout.progressDeadlineSeconds returns to the version serving before. When a rollout
 * completes the history records it, and the registry's champion alias moves to it. Every path
 * sets Progressing and Available from the same observation of the Deployment, so the status
 * never names a serving version whose Pods are not available.
 */
export class ModelDeploymentReconciler implements Reconciler {
  readonly kind = 'ModelDeployment';

  constructor(private readonly ctx: OperatorContext) {}

  watches() {
    return [
      watch('modelDeployments', itself),
      watch('modelVersions', (mv, c) =>
        deploymentsConcerned(mv as ModelVersion, c.modelDeployments.list(mv.metadata?.namespace)),
      ),
      watch('deployments', controllingOwner('ModelDeployment')),
      watch('services', controllingOwner('ModelDeployment')),
    ];
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult | undefined> {
    const ctx = this.ctx;
    const md = await readCustom<ModelDeployment>(ctx, ModelDeploymentKind, namespace, name);
    if (!md || md.metadata.deletionTimestamp) return undefined;
    const generation = md.metadata.generation ?? 1;
    const status: ModelDeploymentStatus = { ...(md.status ?? {}), observedGeneration: generation };
    const cond = new StatusConditions(status, generation, ctx.now);
    const now = rfc3339(ctx.now());
    const wanted = await this.decideTarget(md, status, cond, now);

    let mv = await readCustom<ModelVersion>(ctx, ModelVersionKind, namespace, wanted.modelVersion);
    const refusal = refuse(wanted, status, mv, namespace);
    const depName = serverName(name);
    let dep =
      ctx.caches.deployments.get(namespace, depName) ??
      (await ctx.client.getOrUndefined<DeploymentView>(kubePaths.deployment(namespace, depName)));

    if (refusal || !mv) {
      await this.refused(md, status, cond, dep, refusal);
      return undefined; // a change of the ModelVersion brings us back
    }
    const taken = await this.notOwned(md, dep);
    if (taken) {
      await this.refused(md, status, cond, undefined, taken);
      return undefined; // the foreign object's deletion brings us back (the informers watch it go)
    }

    if (this.pastDeadline(md, status, dep)) await this.failRollout(md, status, cond);
    if (this.challengerStuck(md, status, dep)) await this.retireStuckChallenger(md, status, cond);
    const target = status.target ?? wanted;
    if (target.modelVersion !== mv.metadata.name) {
      mv = await readCustom<ModelVersion>(ctx, ModelVersionKind, namespace, target.modelVersion);
      if (!mv) throw new Error(`ModelVersion ${target.modelVersion} vanished`);
    }
    const challenger = await this.challenger(md, status, cond, target, now);
    await ctx.namespaces.ensure(ctx, namespace, md);
    const created = !dep;
    dep = await applyChild<DeploymentView>(
      ctx,
      kubePaths.deployment(namespace, depName),
      serverDeployment(md, mv, ctx.config, challenger),
    );
    await applyChild(ctx, kubePaths.service(namespace, depName), serverService(md));
    await applyChild(ctx, kubePaths.podDisruptionBudget(namespace, depName), serverDisruptionBudget(md));
    const netpol = ctx.config.servingNetworkPolicy;
    if (netpol)
      await applyChild(
        ctx,
        kubePaths.networkPolicy(namespace, depName),
        serverNetworkPolicy(md, netpol.from),
      );
    if (created) ctx.metrics.childrenCreated.inc({ kind: 'Deployment' });
    status.model = mv.spec.model;
    status.deploymentName = depName;
    status.endpoint = `http://${depName}.${namespace}.svc`;

    const templateVersion = dep.spec?.template?.metadata?.annotations?.[ANNOTATIONS.servingVersion];
    const done = templateVersion === target.modelVersion && rolloutComplete(dep, md.spec.replicas);
    let requeueAfterMs: number | undefined;
    if (done && status.servingVersion !== target.modelVersion) await this.recordRollout(md, status, cond, mv);
    if (done) this.settled(cond, target);
    else requeueAfterMs = this.rollingOut(md, status, cond, target);
    this.observe(status, cond, dep, md, done);
    await writeStatus(ctx, ModelDeploymentKind, md, status);
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }

  /**
   * The Deployment or Service this deployment would write exists and is not its own (made by hand,
   * by another tool, or by a deleted ModelDeployment of the same name still being collected):
   * server-side apply with force would take it over, so refuse instead and say so.
   */
  private async notOwned(md: ModelDeployment, dep: DeploymentView | undefined): Promise<Refusal | undefined> {
    const name = serverName(md.metadata.name);
    const ns = md.metadata.namespace ?? 'default';
    const svc =
      this.ctx.caches.services.get(ns, name) ??
      (await this.ctx.client.getOrUndefined<KubeObject>(kubePaths.service(ns, name)));
    for (const [kind, obj] of [
      ['Deployment', dep],
      ['Service', svc],
    ] as const) {
      if (obj && !controlledBy(obj, md)) {
        return {
          reason: 'NotOwned',
          message: `${kind} ${name} already exists and is not managed by ModelDeployment ${md.metadata.name}; mlcycle does not take over objects it did not create: delete or rename it`,
        };
      }
    }
    return undefined;
  }

  /** status.target: the override that holds, the spec's version, or an approved promotion. */
  private async decideTarget(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    cond: StatusConditions,
    now: string,
  ): Promise<ServingTarget> {
    const target = currentTarget(md, now);
    status.target = target;
    if (target.reason === 'Spec' && md.status?.target?.specVersion !== md.spec.modelVersion) {
      this.specChanged(status, cond);
    }
    await this.approvedPromotion(md, status, cond, now);
    return status.target;
  }

  /** The target cannot be served: say why; whatever serves keeps serving. */
  private async refused(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    cond: StatusConditions,
    dep: DeploymentView | undefined,
    refusal: Refusal | undefined,
  ): Promise<void> {
    const why = refusal ?? {
      reason: 'VersionNotFound',
      message: `ModelVersion ${status.target?.modelVersion} does not exist`,
    };
    const was = cond.get('Progressing');
    // Nothing rolls out while the version is refused: its deadline starts when it can be rolled out.
    if (md.status?.target) status.target = md.status.target;
    else delete status.target;
    cond.set('Progressing', 'False', why.reason, why.message);
    this.observe(status, cond, dep, md, false);
    await writeStatus(this.ctx, ModelDeploymentKind, md, status);
    if (was?.reason !== why.reason) await this.ctx.events.emit(md, 'Warning', why.reason, why.message);
  }

  /** A new spec.modelVersion starts over: earlier lifecycle decisions no longer apply. */
  private specChanged(status: ModelDeploymentStatus, cond: StatusConditions): void {
    delete status.pendingPromotion;
    cond.clear('PromotionPending', 'SpecChanged', 'spec.modelVersion changed');
    cond.clear('RollbackImpossible', 'SpecChanged', 'spec.modelVersion changed');
  }

  /** approval Manual: the user's annotation naming the waiting challenger promotes it. */
  private async approvedPromotion(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    cond: StatusConditions,
    now: string,
  ): Promise<void> {
    const pending = status.pendingPromotion;
    if (!pending || md.metadata.annotations?.[ANNOTATIONS.approvePromotion] !== pending.challenger) return;
    status.target = newTarget(md, pending.challenger, 'Promotion', now, `approved: ${pending.reason}`);
    delete status.pendingPromotion;
    cond.set('PromotionPending', 'False', 'Approved', `promotion of ${pending.challenger} approved`);
    await this.ctx.events.emit(
      md,
      'Normal',
      'PromotionApproved',
      `promoting ${pending.challenger}: ${pending.reason}`,
    );
  }

  /** The challenger beside the target (status.challenger), and how the inference server gets it. */
  private async challenger(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    cond: StatusConditions,
    target: ServingTarget,
    now: string,
  ): Promise<ServedChallenger | undefined> {
    const ns = md.metadata.namespace ?? 'default';
    // Read fresh: a challenger retired a moment ago must not come back from a stale cache.
    const versions = (await this.ctx.client.list<ModelVersion>(resourcePath(ModelVersionKind, ns))).items;
    const next = chooseChallenger({ ...md, status }, target, versions, now);
    const before = status.challenger;
    if (next?.modelVersion !== before?.modelVersion) {
      if (next) {
        const detail = `${next.modelVersion} beside ${target.modelVersion} (${next.mode}${next.canaryShare ? ` ${next.canaryShare}` : ''}, ${next.source})`;
        this.act(status, 'ChallengerStarted', detail);
        await this.ctx.events.emit(md, 'Normal', 'ChallengerStarted', detail);
      }
    }
    if (next) status.challenger = next;
    else delete status.challenger;
    if (next) cond.set('ChallengerActive', 'True', next.mode, `${next.modelVersion} in ${next.mode} mode`);
    else cond.clear('ChallengerActive', 'NoChallenger', 'no challenger beside the champion');
    if (!next) return undefined;
    const mv = versions.find((v) => v.metadata.name === next.modelVersion);
    return mv ? { mv, mode: next.mode, canaryShare: next.canaryShare } : undefined;
  }

  /** The target serves: say so, and whether it serves because of a failed rollout. */
  private settled(cond: StatusConditions, target: ServingTarget): void {
    if (target.reason === 'RolloutFailed') {
      cond.set('Progressing', 'False', 'ProgressDeadlineExceeded', target.message ?? 'the rollout failed');
    } else cond.set('Progressing', 'False', 'RolloutComplete', `serving ${target.modelVersion}`);
  }

  /** A rollout under way: Progressing (or still failed). Returns when to look again for the deadline. */
  private rollingOut(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    cond: StatusConditions,
    target: ServingTarget,
  ): number | undefined {
    if (target.reason === 'RolloutFailed') {
      cond.set('Progressing', 'False', 'ProgressDeadlineExceeded', target.message ?? 'the rollout failed');
      return undefined;
    }
    const serving = status.servingVersion;
    const nowMs = this.ctx.now().getTime();
    if (serving === target.modelVersion) {
      // The champion stays; its Pods change (a challenger comes or goes).
      const ch = status.challenger;
      const beside = ch ? ` with ${ch.modelVersion} beside it` : '';
      cond.set('Progressing', 'True', 'RollingOut', `rolling out ${target.modelVersion}${beside}`);
      const left = ch ? Date.parse(ch.since) + progressDeadlineSeconds(md) * 1000 - nowMs : 0;
      return left > 0 ? left + 1000 : undefined;
    }
    const until = serving ? ` (serving ${serving} until it is ready)` : '';
    cond.set('Progressing', 'True', 'RollingOut', `rolling out ${target.modelVersion}${until}`);
    const left = deadlineLeftMs(md, target, nowMs);
    if (left <= 0) {
      // Nothing to return to (a first rollout): the condition says it is late.
      cond.set(
        'Progressing',
        'False',
        'ProgressDeadlineExceeded',
        `${target.modelVersion} is not available yet`,
      );
      return undefined;
    }
    return left + 1000;
  }

  /** Whether the rollout of the target is past its deadline while another version still serves. */
  private pastDeadline(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    dep: DeploymentView | undefined,
  ): boolean {
    const target = status.target;
    if (!target || !status.servingVersion || target.modelVersion === status.servingVersion) return false;
    const templateVersion = dep?.spec?.template?.metadata?.annotations?.[ANNOTATIONS.servingVersion];
    if (templateVersion === target.modelVersion && rolloutComplete(dep, md.spec.replicas)) return false;
    return deadlineLeftMs(md, target, this.ctx.now().getTime()) <= 0;
  }

  /** Whether the Pods with the challenger beside the serving champion missed the rollout deadline. */
  private challengerStuck(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    dep: DeploymentView | undefined,
  ): boolean {
    const ch = status.challenger;
    if (!ch || status.target?.modelVersion !== status.servingVersion) return false;
    const annotations = dep?.spec?.template?.metadata?.annotations;
    if (annotations?.[ANNOTATIONS.challengerVersion] !== ch.modelVersion) return false;
    if (rolloutComplete(dep, md.spec.replicas)) return false;
    return Date.parse(ch.since) + progressDeadlineSeconds(md) * 1000 <= this.ctx.now().getTime();
  }

  /** A challenger the inference server cannot run is retired: the champion alone serves again. */
  private async retireStuckChallenger(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    cond: StatusConditions,
  ): Promise<void> {
    const ch = status.challenger;
    if (!ch) return;
    const why = `its Pods did not become available within ${progressDeadlineSeconds(md)}s`;
    await this.ctx.client.patch(resourcePath(ModelVersionKind, md.metadata.namespace, ch.modelVersion), {
      metadata: { annotations: { [ANNOTATIONS.retiredChallenger]: why } },
    });
    delete status.challenger;
    const msg = `${ch.modelVersion} retired: ${why}`;
    cond.set('ChallengerActive', 'False', 'ProgressDeadlineExceeded', msg);
    this.act(status, 'ChallengerRetired', msg);
    await this.ctx.events.emit(md, 'Warning', 'ChallengerRetired', msg);
  }

  /** Back to the version serving before; the failed one enters the history as Failed. */
  private async failRollout(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    cond: StatusConditions,
  ): Promise<void> {
    const target = status.target;
    const serving = status.servingVersion;
    if (!target || !serving) return;
    const now = rfc3339(this.ctx.now());
    const msg = `${target.modelVersion} was not available within ${progressDeadlineSeconds(md)}s; back to ${serving}`;
    cond.set('Progressing', 'False', 'ProgressDeadlineExceeded', msg);
    status.history = [
      {
        modelVersion: target.modelVersion,
        since: target.since,
        until: now,
        outcome: 'Failed' as const,
        reason: msg,
      },
      ...(status.history ?? []),
    ].slice(0, HISTORY);
    status.target = newTarget(md, serving, 'RolloutFailed', now, msg);
    this.act(status, 'RolloutFailed', msg);
    await this.ctx.events.emit(md, 'Warning', 'RolloutFailed', msg);
  }

  private act(status: ModelDeploymentStatus, action: Action, detail: string): void {
    status.lastAction = { action, time: rfc3339(this.ctx.now()), detail };
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

  /** Records a finished rollout: history, champion (status and registry alias), condition, Event. */
  private async recordRollout(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    cond: StatusConditions,
    mv: ModelVersion,
  ): Promise<void> {
    const ctx = this.ctx;
    const now = rfc3339(ctx.now());
    const target = status.target ?? currentTarget(md, now);
    const next = mv.metadata.name;
    const old = status.servingVersion;
    const history: ServedVersion[] = (status.history ?? []).map((h) => ({ ...h }));
    const current = history.find((h) => h.modelVersion === old && h.outcome === 'Serving');
    if (current) Object.assign(current, { until: now }, leavingOutcome(target.reason, next, target.message));
    history.unshift({ modelVersion: next, registryVersion: mv.spec.version, since: now, outcome: 'Serving' });
    status.history = history.slice(0, HISTORY);
    status.servingVersion = next;
    status.previousVersion = lastGood(status.history, next);
    status.championSince = now;
    status.championReason = `${target.reason}${target.message ? `: ${target.message}` : ''}`;
    await ctx.registry.setChampion(tenantOf(mv), mv.spec.model, mv.spec.version, status.championReason);
    const was = old ? ` (was ${old})` : '';
    if (target.reason === 'Rollback') {
      const msg = `rolled back from ${old} to ${next}: ${target.message ?? ''}`;
      cond.set('RolledBack', 'True', 'QualityDegraded', msg);
      this.act(status, 'RolledBack', msg);
      await ctx.events.emit(md, 'Warning', 'RolledBack', msg);
    } else if (target.reason === 'Promotion') {
      const msg = `promoted ${next}${was}: ${target.message ?? ''}`;
      cond.set('Promoted', 'True', 'ChallengerWon', msg);
      cond.clear('RolledBack', 'Promoted', `serving ${next}`);
      this.act(status, 'Promoted', msg);
      await ctx.events.emit(md, 'Normal', 'Promoted', msg);
    } else {
      cond.clear('RolledBack', 'NewVersion', `serving ${next} by request`);
      cond.clear('Promoted', 'NewVersion', `serving ${next} by request`);
      this.act(status, 'RolledOut', `now serving ${next}${was}`);
      await ctx.events.emit(md, 'Normal', 'RolledOut', `now serving ${next}${was}`);
    }
  }
}

/** Why the target cannot be served (undefined: it can). */
function refuse(
  target: ServingTarget,
  status: ModelDeploymentStatus,
  mv: ModelVersion | undefined,
  namespace: string,
): Refusal | undefined {
  const wanted = target.modelVersion;
  if (!mv) {
    return {
      reason: 'VersionNotFound',
      message: `ModelVersion ${wanted} does not exist in namespace ${namespace}`,
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

function controlledBy(obj: KubeObject, md: ModelDeployment): boolean {
  return (obj.metadata?.ownerReferences ?? []).some(
    (r) => r.controller === true && r.uid === md.metadata.uid,
  );
}

export { lastGood };
