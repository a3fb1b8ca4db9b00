import { createHash } from 'node:crypto';
import { isAlreadyExists } from '../../core/kube/client.js';
import { kubePaths } from '../../core/kube/paths.js';
import { DEFAULT_POLICY, type DriftFact, decideRun, type PastRun } from '../../core/policy.js';
import {
  API_VERSION,
  type DriftMonitor,
  DriftMonitorKind,
  type DriftMonitorStatus,
  type ModelDeployment,
  ModelDeploymentKind,
  type ModelVersion,
  ModelVersionKind,
  type ModelVersionSpec,
  resourcePath,
} from '../../core/resources/index.js';
import { driftCronJob } from '../children.js';
import { StatusConditions } from '../conditions.js';
import { applyChild, type OperatorContext, readCustom, rfc3339, writeStatus } from '../context.js';
import { controllingOwner, itself, type ReconcileResult, type Reconciler, watch } from '../controller.js';
import { ANNOTATIONS, driftCronJobName, LABELS, MANAGER, retrainName } from '../naming.js';

type Action = NonNullable<DriftMonitorStatus['lastAction']>;

/**
 * DriftMonitor → a CronJob running `mlcycle drift` on the target ModelDeployment's logs. The
 * drift Job writes each run's facts and verdict into this object's status (its own
 * ServiceAccount may only get and patch driftmonitors/status); the operator then applies the
 * lifecycle policy of core/policy.ts once per run: quality degraded (or sustained drift, if
 * asked) rolls the ModelDeployment back to its previous good version; sustained drift with
 * `spec.retrain` creates a new ModelVersion on recent data.
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
    const setCond = cond.set.bind(cond);

    const md = await readCustom<ModelDeployment>(ctx, ModelDeploymentKind, namespace, dm.spec.deployment);
    const servingName = md?.status?.servingVersion;
    const serving = servingName
      ? await readCustom<ModelVersion>(ctx, ModelVersionKind, namespace, servingName)
      : undefined;
    if (!md || !serving) {
      const message = !md
        ? `ModelDeployment ${dm.spec.deployment} does not exist`
        : `ModelDeployment ${dm.spec.deployment} serves no version yet`;
      setCond('Ready', 'False', !md ? 'TargetNotFound' : 'NothingServing', message);
      await writeStatus(ctx, DriftMonitorKind, dm, status);
      return undefined; // a change of the ModelDeployment brings us back
    }

    await ctx.namespaces.ensure(ctx, namespace);
    const cronName = driftCronJobName(name);
    const existed = ctx.caches.cronJobs.get(namespace, cronName) !== undefined;
    await applyChild(ctx, kubePaths.cronJob(namespace, cronName), driftCronJob(dm, serving, md, ctx.config));
    if (!existed) ctx.metrics.childrenCreated.inc({ kind: 'CronJob' });
    status.cronJobName = cronName;
    setCond('Ready', 'True', 'Scheduled', `checks ${serving.metadata.name} on "${dm.spec.schedule}"`);

    if (status.lastRun) {
      const drifted = status.datasetDrift === true;
      setCond(
        'DriftDetected',
        drifted ? 'True' : 'False',
        status.lastRun.verdict === 'InsufficientData'
          ? 'InsufficientData'
          : drifted
            ? 'DatasetDrift'
            : 'NoDatasetDrift',
        `${((status.driftShare ?? 0) * 100).toFixed(0)}% of features drifted in run ${status.lastRun.id}` +
          (status.consecutiveDriftedRuns ? `; ${status.consecutiveDriftedRuns} drifted run(s) in a row` : ''),
      );
      const q = status.quality;
      setCond(
        'QualityDegraded',
        q?.verdict === 'Degraded' ? 'True' : q?.verdict === 'Ok' ? 'False' : 'Unknown',
        q?.verdict ?? 'NotEvaluated',
        q?.value !== undefined
          ? `${q.metric} ${q.value.toFixed(4)} on ${q.labelledRows ?? 0} labelled predictions (holdout ${q.reference?.toFixed(4) ?? '?'})`
          : `no quality verdict (${q?.labelledRows ?? 0} labelled predictions)`,
      );
      if (status.lastRun.id !== status.handledRunId) {
        status.lastAction = await this.act(dm, status, md, serving);
        status.handledRunId = status.lastRun.id;
      }
    }
    await writeStatus(ctx, DriftMonitorKind, dm, status);
    return undefined;
  }

  /** Applies the lifecycle policy to the run in `status.lastRun`, once. */
  private async act(
    dm: DriftMonitor,
    status: DriftMonitorStatus,
    md: ModelDeployment,
    serving: ModelVersion,
  ): Promise<Action> {
    const ctx = this.ctx;
    const run = status.lastRun;
    if (!run) throw new Error('act() without a run');
    const at = rfc3339(ctx.now());
    const none = (detail: string): Action => ({ runId: run.id, action: 'None', time: at, detail });
    const a = dm.spec.actions;
    const drift: DriftFact =
      run.verdict === 'InsufficientData' ? 'insufficient_data' : status.datasetDrift ? 'drift' : 'no_drift';
    const streak = status.consecutiveDriftedRuns ?? (drift === 'drift' ? 1 : 0);
    // Earlier drifted runs of the streak, as far as the status tells: the drift Job counts them.
    const history: PastRun[] = Array.from({ length: Math.max(0, streak - 1) }, () => ({
      drift: 'drift',
      verdict: 'Drift',
      retrainRequested: false,
    }));
    if (history.length > 0 && status.lastAction?.action === 'Retrain')
      history[history.length - 1]!.retrainRequested = true;
    const decision = decideRun({
      drift,
      quality: status.quality?.verdict ?? 'NotEvaluated',
      history,
      lastAlertedVerdict: run.verdict, // alerts are the drift Job's business
      canRollback: md.status?.previousVersion !== undefined,
      settings: {
        sustainedDriftRuns: a?.sustainedDriftRuns ?? DEFAULT_POLICY.sustainedDriftRuns,
        rollbackOnQualityDegraded: a?.rollbackOnQualityDegraded ?? DEFAULT_POLICY.rollbackOnQualityDegraded,
        rollbackOnSustainedDrift: a?.rollbackOnSustainedDrift ?? DEFAULT_POLICY.rollbackOnSustainedDrift,
        retrainOnSustainedDrift: dm.spec.retrain !== undefined,
      },
    });
    if (run.verdict === 'QualityDegraded' && decision.verdict !== 'QualityDegraded') {
      // The Job's verdict stands even if the status lacks the quality block.
      decision.verdict = 'QualityDegraded';
      decision.rollback = (a?.rollbackOnQualityDegraded ?? true) && md.status?.previousVersion !== undefined;
    }
    if (!decision.rollback && !decision.retrain)
      return none(decision.reasons.join('; ') || `verdict ${run.verdict}`);

    // A verdict is about the version whose logs were read: act only if that one still serves.
    const inFlight = md.spec.modelVersion !== md.status?.servingVersion;
    if (run.modelVersion && run.modelVersion !== serving.spec.version) {
      return none(`run ${run.id} evaluated ${run.modelVersion}, but ${serving.spec.version} serves now`);
    }
    if (decision.rollback) {
      const target = md.status?.previousVersion ?? '';
      const reason = `${run.verdict} in drift run ${run.id}${status.quality?.value !== undefined ? ` (${status.quality.metric} ${status.quality.value.toFixed(4)} vs ${status.quality.reference?.toFixed(4)})` : ''}`;
      const mine = md.metadata.annotations?.[ANNOTATIONS.rolledBackFrom] === serving.metadata.name;
      if (inFlight && !mine)
        return none(`ModelDeployment ${md.metadata.name} is already rolling out ${md.spec.modelVersion}`);
      if (!inFlight) {
        await ctx.client.patch(resourcePath(ModelDeploymentKind, md.metadata.namespace, md.metadata.name), {
          metadata: {
            resourceVersion: md.metadata.resourceVersion,
            annotations: {
              [ANNOTATIONS.rolledBackFrom]: serving.metadata.name,
              [ANNOTATIONS.rollbackReason]: reason,
            },
          },
          spec: { modelVersion: target },
        });
        ctx.metrics.rollbacks.inc();
        await ctx.events.emit(
          dm,
          'Warning',
          'RollbackStarted',
          `rolling ${md.metadata.name} back from ${serving.metadata.name} to ${target}: ${reason}`,
        );
      }
      return {
        runId: run.id,
        action: 'Rollback',
        time: at,
        detail: `rolled back from ${serving.metadata.name} to ${target}`,
      };
    }
    const created = await this.retrain(dm, serving, run.id);
    return { runId: run.id, action: 'Retrain', time: at, detail: `created ModelVersion ${created}` };
  }

  /** Creates the retraining ModelVersion (its name derives from the run: one per run, also across restarts). */
  private async retrain(dm: DriftMonitor, serving: ModelVersion, runId: string): Promise<string> {
    const ctx = this.ctx;
    const ns = dm.metadata.namespace ?? 'default';
    const name = retrainName(serving.metadata.name, runId);
    const tag = createHash('sha256').update(runId).digest('hex').slice(0, 6);
    const base = serving.spec.version.replace(/-r[0-9a-f]{6}$/, '').slice(0, 55);
    const r = dm.spec.retrain;
    const spec: ModelVersionSpec = {
      ...serving.spec,
      version: `${base}-r${tag}`,
      dataset: {
        ...serving.spec.dataset,
        ...(r?.datasetUri ? { uri: r.datasetUri } : {}),
        ...(r?.rows ? { rows: r.rows } : {}),
      },
      training: {
        ...(serving.spec.training ?? { algorithm: 'gbdt', seed: 42 }),
        ...(r?.trials ? { trials: r.trials } : {}),
      },
    };
    try {
      await ctx.client.create(resourcePath(ModelVersionKind, ns), {
        apiVersion: API_VERSION,
        kind: 'ModelVersion',
        metadata: {
          name,
          namespace: ns,
          labels: { [LABELS.managedBy]: MANAGER, [LABELS.driftMonitor]: dm.metadata.name },
          annotations: {
            'mlcycle.dev/retrained-from': serving.metadata.name,
            'mlcycle.dev/drift-run': runId,
          },
        },
        spec,
      });
      ctx.metrics.retrains.inc();
      await ctx.events.emit(
        dm,
        'Normal',
        'RetrainStarted',
        `sustained drift: created ModelVersion ${name} from ${serving.metadata.name}`,
      );
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    return name;
  }
}
