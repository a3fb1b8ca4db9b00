import { findArtifact, SERVING_ARTIFACTS } from '../../core/artifacts.js';
import { parseDuration } from '../../core/config.js';
import { isProductionUri, parseProductionUri, productionUri } from '../../core/dataset/production.js';
import { isAlreadyExists, KubeApiError } from '../../core/kube/client.js';
import { kubePaths } from '../../core/kube/paths.js';
import {
  API_VERSION,
  type DriftMonitor,
  DriftMonitorKind,
  type DriftMonitorStatus,
  type ModelDeployment,
  ModelDeploymentKind,
  type ModelDeploymentStatus,
  type ModelVersion,
  ModelVersionKind,
  ModelVersionSpec,
  type RunDecisionStatus,
  resourcePath,
} from '../../core/resources/index.js';
import { driftCronJob } from '../children.js';
import { StatusConditions } from '../conditions.js';
import { applyChild, type OperatorContext, readCustom, rfc3339, tenantOf, writeStatus } from '../context.js';
import { controllingOwner, itself, type ReconcileResult, type Reconciler, watch } from '../controller.js';
import { ANNOTATIONS, driftCronJobName, LABELS, MANAGER, retrainName } from '../naming.js';
import { newTarget } from './serving-target.js';

type Action = NonNullable<DriftMonitorStatus['lastAction']>;
type Run = NonNullable<DriftMonitorStatus['lastRun']>;

/** What executing one run's decision needs: the monitor, its run, the deployment and the status being built for it. */
interface Execution {
  dm: DriftMonitor;
  run: Run;
  decision: RunDecisionStatus;
  md: ModelDeployment;
  /** The ModelDeployment status being changed; written once at the end. */
  mdStatus: ModelDeploymentStatus;
  mdCond: StatusConditions;
  /** The DriftMonitor's conditions (its status is written by the reconcile). */
  dmCond: StatusConditions;
  serving: ModelVersion;
  now: string;
}

/**
 * DriftMonitor → a CronJob running `mlcycle drift` on the target ModelDeployment's logs. The
 * drift Job writes each run's facts into this object's status together with the lifecycle
 * decision it took once, on the stored history of runs (core/policy.ts, guardrails included).
 * The operator does not decide again: it carries the decision out, once per run
 * (status.handledRunId), after checking it is feasible — a rollback or a promotion becomes
 * the ModelDeployment's status.target (never its spec), a retraining a new ModelVersion.
 */
export class DriftMonitorReconciler implements Reconciler {
  readonly kind = 'DriftMonitor';

  constructor(private readonly ctx: OperatorContext) {}

  watches() {
    return [
      watch('driftMonitors', itself),
      // What the monitored deployment serves decides the CronJob's arguments and the actions.
      watch('modelDeployments', (md, c) =>
        c.driftMonitors
          .list(md.metadata?.namespace)
          .filter((dm) => dm.spec?.deployment === md.metadata?.name)
          .map((dm) => dm.metadata?.name),
      ),
      watch('cronJobs', controllingOwner('DriftMonitor')),
      // The drift Jobs are owned by the CronJob; their label names the monitor.
      watch('jobs', (job) => [job.metadata?.labels?.[LABELS.driftMonitor]]),
    ];
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult | undefined> {
    const ctx = this.ctx;
    const dm = await readCustom<DriftMonitor>(ctx, DriftMonitorKind, namespace, name);
    if (!dm || dm.metadata.deletionTimestamp) return undefined;
    const generation = dm.metadata.generation ?? 1;
    const status: DriftMonitorStatus = { ...(dm.status ?? {}), observedGeneration: generation };
    const cond = new StatusConditions(status, generation, ctx.now);

    const md = await readCustom<ModelDeployment>(ctx, ModelDeploymentKind, namespace, dm.spec.deployment);
    const servingName = md?.status?.servingVersion;
    const serving = servingName
      ? await readCustom<ModelVersion>(ctx, ModelVersionKind, namespace, servingName)
      : undefined;
    if (!md || !serving) {
      const message = !md
        ? `ModelDeployment ${dm.spec.deployment} does not exist`
        : `ModelDeployment ${dm.spec.deployment} serves no version yet`;
      cond.set('Ready', 'False', !md ? 'TargetNotFound' : 'NothingServing', message);
      await writeStatus(ctx, DriftMonitorKind, dm, status);
      return undefined; // a change of the ModelDeployment brings us back
    }

    await ctx.namespaces.ensure(ctx, namespace, dm);
    const cronName = driftCronJobName(name);
    const existed = ctx.caches.cronJobs.get(namespace, cronName) !== undefined;
    try {
      await applyChild(
        ctx,
        kubePaths.cronJob(namespace, cronName),
        driftCronJob(dm, serving, md, ctx.config),
      );
    } catch (err) {
      // The API server refused the CronJob (a schedule the DriftMonitor's CRD let through but
      // the CronJob's validation does not, e.g. a backwards range): retrying cannot help, a
      // change of the spec can. Say so in the status and an Event, once per generation.
      if (!isInvalid(err)) throw err;
      const msg = `the CronJob ${cronName} was refused: ${apiMessage(err)}`;
      const before = cond.get('Ready');
      cond.set('Ready', 'False', 'CronJobRejected', msg);
      if (before?.reason !== 'CronJobRejected' || before.observedGeneration !== generation)
        await ctx.events.emit(dm, 'Warning', 'CronJobRejected', msg);
      await writeStatus(ctx, DriftMonitorKind, dm, status);
      return undefined; // a change of the spec brings us back
    }
    if (!existed) ctx.metrics.childrenCreated.inc({ kind: 'CronJob' });
    status.cronJobName = cronName;
    cond.set('Ready', 'True', 'Scheduled', `checks ${serving.metadata.name} on "${dm.spec.schedule}"`);

    if (status.lastRun) {
      runConditions(status, cond);
      if (status.lastRun.id !== status.handledRunId) {
        status.lastAction = await this.execute(dm, status.lastRun, md, serving, cond);
        status.handledRunId = status.lastRun.id;
      }
    }
    await writeStatus(ctx, DriftMonitorKind, dm, status);
    return undefined;
  }

  /** Carries out the decision of `run`, once; returns what was done. */
  private async execute(
    dm: DriftMonitor,
    run: Run,
    md: ModelDeployment,
    serving: ModelVersion,
    dmCond: StatusConditions,
  ): Promise<Action> {
    const now = rfc3339(this.ctx.now());
    const none = (detail: string): Action => ({ runId: run.id, action: 'None', time: now, detail });
    const decision = run.decision;
    if (!decision) return none(`run ${run.id} carries no decision`);
    // A verdict is about the version whose logs were read: act only if that one still serves.
    if (run.modelVersion && run.modelVersion !== serving.spec.version) {
      return none(`run ${run.id} evaluated ${run.modelVersion}, but ${serving.spec.version} serves now`);
    }
    const mdStatus: ModelDeploymentStatus = structuredClone(md.status ?? {});
    const x: Execution = {
      dm,
      run,
      decision,
      md,
      mdStatus,
      mdCond: new StatusConditions(mdStatus, md.metadata.generation ?? 1, this.ctx.now),
      dmCond,
      serving,
      now,
    };
    const done: Action[] = [];
    // A challenger that beat the champion on the same labels is a better way out than a rollback.
    const won = decision.promotion?.ready === true && decision.promotion.promote;
    if (decision.rollback && !won) done.push(await this.rollback(x));
    else if (decision.promotion?.ready) done.push(await this.promotion(x));
    if (decision.retrain) done.push(await this.retrain(x));
    await writeStatus(this.ctx, ModelDeploymentKind, md, mdStatus);
    const acted = done.filter((a) => a.action !== 'None');
    const detail =
      done.map((a) => a.detail).join('; ') || decision.reasons.join('; ') || `verdict ${run.verdict}`;
    return { runId: run.id, action: acted[0]?.action ?? 'None', time: now, detail };
  }

  private async rollback(x: Execution): Promise<Action> {
    const { md, mdStatus, run, serving, now } = x;
    const act = (action: Action['action'], detail: string): Action => ({
      runId: run.id,
      action,
      time: now,
      detail,
    });
    const target = mdStatus.target;
    if (target && target.modelVersion !== mdStatus.servingVersion) {
      return act('None', `ModelDeployment ${md.metadata.name} is already rolling out ${target.modelVersion}`);
    }
    const to = mdStatus.previousVersion;
    const problem = await this.rollbackProblem(md.metadata.namespace ?? 'default', to);
    if (problem || !to) {
      const msg = `cannot roll back from ${serving.metadata.name}: ${problem}`;
      x.mdCond.set('RollbackImpossible', 'True', 'NoUsableTarget', msg);
      mdStatus.lastAction = { action: 'RollbackImpossible', time: now, detail: msg };
      await this.ctx.events.emit(md, 'Warning', 'RollbackImpossible', msg);
      await this.ctx.events.emit(x.dm, 'Warning', 'RollbackImpossible', msg);
      return act('None', msg);
    }
    const quality = run.verdict === 'QualityDegraded' ? qualityText(x.dm.status) : '';
    const why = `${run.verdict} in drift run ${run.id}${quality}`;
    mdStatus.target = newTarget(md, to, 'Rollback', now, why);
    x.mdCond.clear('RollbackImpossible', 'RollbackStarted', `rolling back to ${to}`);
    this.ctx.metrics.rollbacks.inc();
    const msg = `rolling ${md.metadata.name} back from ${serving.metadata.name} to ${to}: ${why}`;
    await this.ctx.events.emit(x.dm, 'Warning', 'RollbackStarted', msg);
    return act('Rollback', `rolling back from ${serving.metadata.name} to ${to}`);
  }

  /** Why `name` cannot be rolled back to (undefined: it can): it must exist, be Registered, have its model. */
  private async rollbackProblem(ns: string, name: string | undefined): Promise<string | undefined> {
    if (!name) return 'no earlier good version to return to';
    const mv = await readCustom<ModelVersion>(this.ctx, ModelVersionKind, ns, name);
    if (!mv) return `ModelVersion ${name} no longer exists`;
    if (mv.status?.phase !== 'Registered') return `ModelVersion ${name} is ${mv.status?.phase ?? 'Pending'}`;
    const stored = await this.ctx.registry.version(tenantOf(mv), mv.spec.model, mv.spec.version);
    if (stored?.status !== 'registered' || !stored.deployable) {
      return `the registry does not hold ${mv.spec.model}/${mv.spec.version} as a registered, deployable version`;
    }
    if (!SERVING_ARTIFACTS.every((name) => findArtifact(stored.artifacts, name))) {
      return `the registry misses a serving artifact (${SERVING_ARTIFACTS.join(', ')}) of ${mv.spec.model}/${mv.spec.version}`;
    }
    return undefined;
  }

  /** Champion against challenger on enough labels: promote (now or on approval) or retire the challenger. */
  private async promotion(x: Execution): Promise<Action> {
    const { md, mdStatus, run, now } = x;
    const p = x.decision.promotion;
    const act = (detail: string, action: Action['action'] = 'None'): Action => ({
      runId: run.id,
      action,
      time: now,
      detail,
    });
    const ch = mdStatus.challenger;
    if (!p || !ch || ch.registryVersion !== p.challenger) {
      return act(
        `run ${run.id} compared ${p?.challenger}, but the challenger is ${ch?.registryVersion ?? 'gone'}`,
      );
    }
    if (!p.promote) return this.retire(x, ch.modelVersion, p.reason);
    if ((md.spec.promotion?.approval ?? 'Automatic') === 'Manual') {
      mdStatus.pendingPromotion = {
        challenger: ch.modelVersion,
        runId: run.id,
        reason: p.reason,
        since: now,
      };
      const how = `kubectl annotate modeldeployment ${md.metadata.name} ${ANNOTATIONS.approvePromotion}=${ch.modelVersion} --overwrite`;
      x.mdCond.set(
        'PromotionPending',
        'True',
        'AwaitingApproval',
        `${ch.modelVersion} won (${p.reason}); approve: ${how}`,
      );
      await this.ctx.events.emit(
        md,
        'Normal',
        'PromotionPending',
        `${ch.modelVersion} won: ${p.reason}; approve: ${how}`,
      );
      return act(`promotion of ${ch.modelVersion} awaits approval`, 'AwaitApproval');
    }
    mdStatus.target = newTarget(md, ch.modelVersion, 'Promotion', now, p.reason);
    delete mdStatus.pendingPromotion;
    x.mdCond.clear('PromotionPending', 'Promoted', `${ch.modelVersion} is being promoted`);
    await this.ctx.events.emit(md, 'Normal', 'PromotionStarted', `promoting ${ch.modelVersion}: ${p.reason}`);
    return act(`promoting ${ch.modelVersion}: ${p.reason}`, 'Promote');
  }

  /** The challenger lost: it stops running beside the champion and does not come back. */
  private async retire(x: Execution, challenger: string, reason: string): Promise<Action> {
    const { md, mdStatus, now } = x;
    await this.ctx.client.patch(resourcePath(ModelVersionKind, md.metadata.namespace, challenger), {
      metadata: { annotations: { [ANNOTATIONS.retiredChallenger]: reason.slice(0, 1000) } },
    });
    delete mdStatus.challenger;
    delete mdStatus.pendingPromotion;
    x.mdCond.clear('PromotionPending', 'Retired', `${challenger} was retired`);
    const msg = `${challenger} retired: ${reason}`;
    x.mdCond.set('ChallengerActive', 'False', 'Retired', msg);
    mdStatus.lastAction = { action: 'ChallengerRetired', time: now, detail: msg };
    await this.ctx.events.emit(md, 'Normal', 'ChallengerRetired', msg);
    return { runId: x.run.id, action: 'RetireChallenger', time: now, detail: msg };
  }

  /** Creates the retraining ModelVersion; its name derives from the run, so one per run, also across restarts. */
  private async retrain(x: Execution): Promise<Action> {
    const { dm, run, serving, md, now } = x;
    const ns = dm.metadata.namespace ?? 'default';
    const name = retrainName(serving.metadata.name, run.id);
    const spec = retrainSpec(dm, serving, md.metadata.name, run);
    // A spec the API server would refuse (e.g. a production URI over dataset.uri's 2048
    // characters, built from a long original dataset URI) is said once, not retried forever.
    const invalid = ModelVersionSpec.safeParse(spec);
    const refused = async (why: string): Promise<Action> => {
      const msg = `cannot create the retraining ModelVersion ${name}: ${why}`;
      x.dmCond.set('RetrainFailed', 'True', 'InvalidRetrainSpec', msg);
      await this.ctx.events.emit(dm, 'Warning', 'RetrainFailed', msg);
      return { runId: run.id, action: 'None', time: now, detail: msg };
    };
    if (!invalid.success)
      return refused(invalid.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; '));
    try {
      await this.ctx.client.create(resourcePath(ModelVersionKind, ns), {
        apiVersion: API_VERSION,
        kind: 'ModelVersion',
        metadata: {
          name,
          namespace: ns,
          labels: { [LABELS.managedBy]: MANAGER, [LABELS.driftMonitor]: dm.metadata.name },
        },
        spec,
      });
      this.ctx.metrics.retrains.inc();
      this.ctx.metrics.childrenCreated.inc({ kind: 'ModelVersion' });
      await this.ctx.events.emit(
        dm,
        'Normal',
        'RetrainStarted',
        `sustained drift: created ModelVersion ${name} (${spec.dataset.uri}) to challenge ${serving.metadata.name}`,
      );
    } catch (err) {
      if (isInvalid(err)) return refused(apiMessage(err));
      if (!isAlreadyExists(err)) throw err;
    }
    x.dmCond.clear('RetrainFailed', 'RetrainStarted', `created ModelVersion ${name}`);
    return { runId: run.id, action: 'Retrain', time: now, detail: `created ModelVersion ${name}` };
  }
}

/**
 * The retraining version's spec: the serving version's, on new data — by default what the
 * deployment served over spec.retrain.window with the labels that came back
 * (`production:<model>?since=…&until=…`), or a dataset URI — with its lineage.
 */
export function retrainSpec(
  dm: DriftMonitor,
  serving: ModelVersion,
  deployment: string,
  run: Run,
): ModelVersionSpec {
  const r = dm.spec.retrain;
  const base = serving.spec.version.replace(/-r[0-9a-f]{6}$/, '').slice(0, 55);
  const version = `${base}-${retrainName('', run.id).replace(/^-/, '')}`;
  const until = new Date(Date.parse(run.time));
  const since = new Date(until.getTime() - parseDuration(r?.window ?? '7d'));
  const production = (r?.source ?? 'Production') === 'Production';
  const original = r?.includeOriginalRows ? originalDataset(serving, r.includeOriginalRows) : undefined;
  const uri = production
    ? productionUri({ model: serving.spec.model, since, until, original })
    : (r?.datasetUri ?? serving.spec.dataset.uri);
  const { since: _s, until: _u, uri: _uri, ...dataset } = serving.spec.dataset;
  return {
    ...serving.spec,
    version,
    dataset: {
      ...(production
        ? { target: dataset.target, timeColumn: dataset.timeColumn, split: dataset.split }
        : dataset),
      uri,
      ...(r?.rows ? { rows: r.rows } : {}),
    },
    training: {
      ...(serving.spec.training ?? { algorithm: 'gbdt', seed: 42 }),
      ...(r?.trials ? { trials: r.trials } : {}),
    },
    lineage: {
      retrainedFrom: serving.metadata.name,
      driftMonitor: dm.metadata.name,
      driftRun: run.id,
      deployment,
    },
  };
}

/**
 * The dataset a production retraining mixes in (`includeOriginalRows`): the serving version's
 * own, or — when that version was itself retrained on production — the one it mixed in.
 */
function originalDataset(serving: ModelVersion, rows: number): { uri: string; rows: number } | undefined {
  const uri = serving.spec.dataset.uri;
  if (!isProductionUri(uri)) return { uri, rows };
  const inherited = parseProductionUri(uri).original;
  return inherited ? { uri: inherited.uri, rows } : undefined;
}

function qualityText(status: DriftMonitorStatus | undefined): string {
  const q = status?.quality;
  if (q?.value === undefined) return '';
  return ` (${q.metric} ${q.value.toFixed(4)} vs ${q.reference?.toFixed(4) ?? '?'})`;
}

/** DriftDetected and QualityDegraded from the last run's facts. */
function runConditions(status: DriftMonitorStatus, cond: StatusConditions): void {
  const run = status.lastRun;
  if (!run) return;
  const drifted = status.datasetDrift === true;
  const reason =
    run.verdict === 'InsufficientData' ? 'InsufficientData' : drifted ? 'DatasetDrift' : 'NoDatasetDrift';
  const streak = status.consecutiveDriftedRuns
    ? `; ${status.consecutiveDriftedRuns} drifted run(s) in a row`
    : '';
  cond.set(
    'DriftDetected',
    drifted ? 'True' : 'False',
    reason,
    `${((status.driftShare ?? 0) * 100).toFixed(0)}% of features drifted in run ${run.id}${streak}`,
  );
  const q = status.quality;
  cond.set(
    'QualityDegraded',
    q?.verdict === 'Degraded' ? 'True' : q?.verdict === 'Ok' ? 'False' : 'Unknown',
    q?.verdict ?? 'NotEvaluated',
    q?.value !== undefined
      ? `${q.metric} ${q.value.toFixed(4)} on ${q.labelledRows ?? 0} labelled predictions (holdout ${q.reference?.toFixed(4) ?? '?'})`
      : `no quality verdict (${q?.labelledRows ?? 0} labelled predictions)`,
  );
}

/** The API server refused the object as invalid (422): writing it again cannot succeed. */
function isInvalid(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError && err.status === 422;
}

/** The API server's own words, without the request line KubeApiError puts before them. */
function apiMessage(err: KubeApiError): string {
  const prefix = `${err.method} ${err.path}: ${err.status} ${err.reason}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}
