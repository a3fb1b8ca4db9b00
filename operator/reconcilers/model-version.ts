import { ARTIFACT, findArtifact } from '../../core/artifacts.js';
import { errorMessage } from '../../core/errors.js';
import { isAlreadyExists } from '../../core/kube/client.js';
import { kubePaths } from '../../core/kube/paths.js';
import type { StoredVersion, VersionLineage } from '../../core/registry.js';
import {
  type ModelVersion,
  ModelVersionKind,
  type ModelVersionPhase,
  type ModelVersionStatus,
} from '../../core/resources/index.js';
import { trainerJob } from '../children.js';
import { type ConditionState, StatusConditions } from '../conditions.js';
import {
  type JobView,
  type OperatorContext,
  readCustom,
  rfc3339,
  tenantOf,
  writeStatus,
} from '../context.js';
import { controllingOwner, itself, type ReconcileResult, type Reconciler, watch } from '../controller.js';
import { LABELS, trainerJobName } from '../naming.js';

const TERMINAL: readonly ModelVersionPhase[] = ['Registered', 'Rejected', 'Failed'];
/** Outcomes that are final: the version's spec never changes again (a changed model is a new version). */
const FINAL: readonly ModelVersionPhase[] = ['Registered', 'Rejected'];

type JobState = 'pending' | 'running' | 'succeeded' | 'failed';

export function jobState(job: JobView): JobState {
  const c = job.status?.conditions ?? [];
  if (c.some((x) => (x.type === 'Complete' || x.type === 'SuccessCriteriaMet') && x.status === 'True'))
    return 'succeeded';
  if (c.some((x) => (x.type === 'Failed' || x.type === 'FailureTarget') && x.status === 'True'))
    return 'failed';
  return (job.status?.active ?? 0) > 0 ? 'running' : 'pending';
}

/**
 * ModelVersion → one trainer Job per generation → phase from the registry.
 *
 * How the operator learns the outcome: the trainer registers the version in PostgreSQL (status,
 * gate outcome and reasons, metrics, artifact URIs and digests) in one transaction before it
 * exits 0; the operator reads that row once the Job has succeeded. The registry is the
 * authority (it is what `mlcycle serve --model-name/--model-version` loads), so the status
 * can never claim a version the registry does not have. A failed Job's cause comes from its
 * Pod's termination message (terminationMessagePolicy FallbackToLogsOnError: the last lines
 * of the trainer's log, which end with its one-line error).
 */
export class ModelVersionReconciler implements Reconciler {
  readonly kind = 'ModelVersion';

  constructor(private readonly ctx: OperatorContext) {}

  watches() {
    return [watch('modelVersions', itself), watch('jobs', controllingOwner('ModelVersion'))];
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult | undefined> {
    const ctx = this.ctx;
    const mv = await readCustom<ModelVersion>(ctx, ModelVersionKind, namespace, name);
    if (!mv || mv.metadata.deletionTimestamp) return undefined;
    const generation = mv.metadata.generation ?? 1;
    const status: ModelVersionStatus = { ...(mv.status ?? {}) };
    if (status.observedGeneration === generation && status.phase && TERMINAL.includes(status.phase)) {
      return undefined; // this generation's outcome is recorded; nothing left to do
    }
    if (status.phase && FINAL.includes(status.phase) && status.observedGeneration !== generation) {
      return this.refuseSpecChange(mv, status, generation);
    }

    await ctx.namespaces.ensure(ctx, namespace, mv);
    await this.stopOlderGenerations(mv, generation);

    const jobName = trainerJobName(name, generation);
    let job: JobView | undefined =
      ctx.caches.jobs.get(namespace, jobName) ??
      (await ctx.client.getOrUndefined<JobView>(kubePaths.job(namespace, jobName)));
    if (!job) job = await this.createJob(mv);

    const state = jobState(job);
    const next: ModelVersionStatus = {
      ...status,
      observedGeneration: generation,
      jobName,
      startTime:
        status.jobName === jobName && status.startTime
          ? status.startTime
          : (job.metadata?.creationTimestamp ?? rfc3339(ctx.now())),
    };
    if (status.observedGeneration !== generation) {
      // A new generation starts from a clean slate: the previous outcome no longer describes the spec.
      for (const k of [
        'holdout',
        'baseline',
        'gate',
        'artifacts',
        'score',
        'scoreMetric',
        'completionTime',
        'message',
      ] as const)
        delete next[k];
    }

    if (state === 'pending' || state === 'running') {
      const phase = state === 'running' ? 'Training' : 'Pending';
      Object.assign(next, {
        phase,
        message:
          state === 'running' ? `trainer Job ${jobName} is running` : `trainer Job ${jobName} is starting`,
      });
      new StatusConditions(next, generation, ctx.now).setAll({
        Trained: ['Unknown', state === 'running' ? 'JobRunning' : 'JobPending', next.message ?? ''],
        Ready: ['False', 'Training', 'the version is not trained yet'],
      });
      await writeStatus(ctx, ModelVersionKind, mv, next);
      return undefined; // the Job's next change brings us back
    }

    if (state === 'failed') {
      const cause = await this.failureCause(namespace, jobName, job);
      return this.finish(mv, next, 'Failed', `training failed: ${cause}`, 'Warning', 'TrainingFailed', {
        Trained: ['False', 'JobFailed', cause],
        Ready: ['False', 'TrainingFailed', cause],
      });
    }

    // Succeeded: the registry says what came out.
    let stored: StoredVersion | undefined;
    try {
      stored = await ctx.registry.version(tenantOf(mv), mv.spec.model, mv.spec.version);
    } catch (err) {
      throw new Error(
        `cannot read the registry for ${mv.spec.model}/${mv.spec.version}: ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    if (!stored || stored.status === 'training') {
      const why = `trainer Job ${jobName} succeeded but the registry has no finished record of ${mv.spec.model}/${mv.spec.version}`;
      return this.finish(mv, next, 'Failed', why, 'Warning', 'NotRegistered', {
        Trained: ['True', 'JobSucceeded', `trainer Job ${jobName} completed`],
        Ready: ['False', 'NotRegistered', why],
      });
    }
    Object.assign(next, outcomeFields(stored), {
      completionTime: job.status?.completionTime ?? rfc3339(ctx.now()),
    });
    const reasons = stored.gate.reasons.join('; ');
    if (stored.status === 'registered' && stored.deployable) {
      const headline = next.scoreMetric
        ? `holdout ${next.scoreMetric} ${next.score?.toFixed(4)}`
        : 'registered';
      return this.finish(
        mv,
        next,
        'Registered',
        `${headline}; gate passed${reasons ? `: ${reasons}` : ''}`,
        'Normal',
        'Registered',
        {
          Trained: ['True', 'JobSucceeded', `trainer Job ${jobName} completed`],
          Ready: ['True', 'Registered', 'registered and deployable'],
        },
      );
    }
    if (stored.status === 'rejected' || stored.gate.passed === false) {
      const why = `rejected by the gate: ${reasons || 'no reason recorded'}`;
      return this.finish(mv, next, 'Rejected', why, 'Warning', 'Rejected', {
        Trained: ['True', 'JobSucceeded', `trainer Job ${jobName} completed`],
        Ready: ['False', 'GateFailed', why],
      });
    }
    const why = `the registry records ${mv.spec.model}/${mv.spec.version} as ${stored.status}${reasons ? `: ${reasons}` : ''}`;
    return this.finish(mv, next, 'Failed', why, 'Warning', 'TrainingFailed', {
      Trained: ['False', 'RunFailed', why],
      Ready: ['False', 'TrainingFailed', why],
    });
  }

  private async finish(
    mv: ModelVersion,
    next: ModelVersionStatus,
    phase: ModelVersionPhase,
    message: string,
    eventType: 'Normal' | 'Warning',
    reason: string,
    conditions: Record<string, ConditionState>,
  ): Promise<undefined> {
    next.phase = phase;
    next.message = message;
    next.completionTime ??= rfc3339(this.ctx.now());
    new StatusConditions(next, next.observedGeneration ?? 1, this.ctx.now).setAll(conditions);
    const wasRecorded =
      mv.status?.phase === phase && mv.status.observedGeneration === next.observedGeneration;
    await writeStatus(this.ctx, ModelVersionKind, mv, next);
    if (!wasRecorded) await this.ctx.events.emit(mv, eventType, reason, message);
    return undefined;
  }

  /**
   * A Registered or Rejected version whose spec changed (admission normally refuses that; this
   * is the backstop when the chart's ValidatingAdmissionPolicy is not installed): no new trainer
   * Job, the recorded outcome and observedGeneration stay those of the version the registry
   * holds, and a condition and an Event say why.
   */
  private async refuseSpecChange(
    mv: ModelVersion,
    status: ModelVersionStatus,
    generation: number,
  ): Promise<undefined> {
    const message = `${status.phase} versions are final: spec changes (generation ${generation}) are ignored; ${mv.spec.model}/${mv.spec.version} stays as registered at generation ${status.observedGeneration}. Create a new ModelVersion with a new spec.version`;
    const next: ModelVersionStatus = { ...status };
    const conditions = new StatusConditions(next, generation, this.ctx.now);
    const already = conditions.get('SpecAccepted');
    conditions.set('SpecAccepted', 'False', 'VersionIsFinal', message);
    if (already?.status === 'False' && already.observedGeneration === generation) return undefined;
    await writeStatus(this.ctx, ModelVersionKind, mv, next);
    await this.ctx.events.emit(mv, 'Warning', 'SpecChangeRefused', message);
    return undefined;
  }

  /** Creates the generation's Job; if it already exists (another replica, a restart), uses that one. */
  private async createJob(mv: ModelVersion): Promise<JobView> {
    const ctx = this.ctx;
    const ns = mv.metadata.namespace ?? 'default';
    const desired = trainerJob(mv, ctx.config);
    const name = desired.metadata?.name ?? '';
    try {
      const created = await ctx.client.create<JobView>(kubePaths.jobs(ns), desired);
      ctx.metrics.childrenCreated.inc({ kind: 'Job' });
      await ctx.events.emit(mv, 'Normal', 'TrainingStarted', `created trainer Job ${name}`);
      return created;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const existing = await ctx.client.getOrUndefined<JobView>(kubePaths.job(ns, name));
      if (!existing) throw new Error(`trainer Job ${name} exists and vanished; retrying`);
      return existing;
    }
  }

  /** A spec change makes the old generation's running Job pointless: stop it. */
  private async stopOlderGenerations(mv: ModelVersion, generation: number): Promise<void> {
    const ns = mv.metadata.namespace ?? 'default';
    const jobs = await this.ctx.client.list<JobView>(
      kubePaths.jobs(ns),
      `${LABELS.modelVersion}=${mv.metadata.name},${LABELS.generation}!=${generation}`,
    );
    for (const job of jobs.items) {
      const state = jobState(job);
      if (state === 'pending' || state === 'running') {
        await this.ctx.client.delete(kubePaths.job(ns, job.metadata?.name ?? ''), 'Background');
      }
    }
  }

  private async failureCause(ns: string, jobName: string, job: JobView): Promise<string> {
    const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
    try {
      const pods = await this.ctx.client.list<{
        status?: {
          containerStatuses?: {
            state?: { terminated?: { exitCode?: number; message?: string; reason?: string } };
          }[];
        };
      }>(kubePaths.pods(ns), `job-name=${jobName}`);
      for (const pod of pods.items) {
        const t = pod.status?.containerStatuses?.[0]?.state?.terminated;
        if (t && t.exitCode !== 0) {
          const msg = lastMeaningfulLine(t.message ?? '') || t.reason || 'no message';
          return `exit code ${t.exitCode}: ${msg}`;
        }
      }
    } catch (err) {
      this.ctx.log.warn({ err, jobName }, 'could not read the trainer Pod');
    }
    return [failed?.reason, failed?.message].filter(Boolean).join(': ') || 'the trainer Job failed';
  }
}

/**
 * The line of a log tail that says what went wrong: the CLI's own one-line error
 * (`mlcycle: …`), else the last `…Error: …` line, else the last line; a JSON log line gives
 * its `msg`/`message`.
 */
export function lastMeaningfulLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const pick =
    [...lines].reverse().find((l) => l.startsWith('mlcycle: ')) ??
    [...lines].reverse().find((l) => /^[A-Za-z]*Error: /.test(l)) ??
    lines.at(-1) ??
    '';
  if (pick.startsWith('{')) {
    try {
      const j = JSON.parse(pick) as { msg?: string; message?: string; error?: string };
      return (j.error ?? j.message ?? j.msg ?? pick).slice(0, 500);
    } catch {
      // plain text
    }
  }
  return pick.replace(/^mlcycle: /, '').slice(0, 500);
}

/** Status fields from a registry record: headline score, metrics, gate, artifacts. */
export function outcomeFields(v: StoredVersion): Partial<ModelVersionStatus> {
  const holdout = v.metrics.holdout;
  const baseline = v.metrics.baseline;
  const scoreMetric = v.task === 'regression' ? 'rmse' : 'roc_auc';
  const score = holdout?.[scoreMetric];
  const fields: Partial<ModelVersionStatus> = {
    gate: { passed: v.gate.passed ?? false, reasons: v.gate.reasons },
    artifacts: {
      root: v.artifactRoot ?? undefined,
      model: findArtifact(v.artifacts, ARTIFACT.model)?.uri,
      modelDigest: findArtifact(v.artifacts, ARTIFACT.model)?.sha256,
      schema: findArtifact(v.artifacts, ARTIFACT.schema)?.uri,
      schemaDigest: v.schemaDigest ?? undefined,
      reference: findArtifact(v.artifacts, ARTIFACT.reference)?.uri,
      report: findArtifact(v.artifacts, ARTIFACT.report)?.uri,
    },
  };
  if (holdout) fields.holdout = holdout;
  if (baseline) fields.baseline = baseline;
  if (score !== undefined) {
    fields.scoreMetric = scoreMetric;
    fields.score = Math.round(score * 10_000) / 10_000; // kubectl prints it: 4 digits say enough
  }
  const lineage = lineageStatus(v.lineage);
  if (lineage) fields.lineage = lineage;
  return JSON.parse(JSON.stringify(fields)) as Partial<ModelVersionStatus>; // drop undefined
}

type LineageStatus = NonNullable<ModelVersionStatus['lineage']>;

/** status.lineage from what the trainer recorded in the registry (undefined: nothing recorded). */
export function lineageStatus(recorded: VersionLineage | undefined): LineageStatus | undefined {
  if (!recorded) return undefined;
  const {
    source,
    dataset,
    deployment,
    since,
    until,
    rows,
    labelledRows,
    datasetDigest,
    retrainedFrom,
    driftRun,
  } = recorded;
  const out = {
    source,
    dataset,
    deployment,
    since,
    until,
    rows,
    labelledRows,
    datasetDigest,
    retrainedFrom,
    driftRun,
  };
  return JSON.parse(JSON.stringify(out)) as LineageStatus; // drop undefined
}
