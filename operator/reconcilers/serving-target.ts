import type {
  ModelDeployment,
  ModelDeploymentStatus,
  ModelVersion,
  ServedVersion,
  ServingTarget,
  TargetReason,
} from '../../core/resources/index.js';
import { ANNOTATIONS } from '../naming.js';

/**
 * The pure decisions of a ModelDeployment: which version to serve and which to try beside it.
 * The spec is the user's (under GitOps it lives in git); what the operator decides lives in
 * status.target and holds while spec.modelVersion is what it was when the decision was taken.
 */

export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_CANARY_SHARE = 0.1;

type Challenger = NonNullable<ModelDeploymentStatus['challenger']>;

export function newTarget(
  md: ModelDeployment,
  modelVersion: string,
  reason: TargetReason,
  now: string,
  message?: string,
): ServingTarget {
  return {
    modelVersion,
    reason,
    specVersion: md.spec.modelVersion,
    since: now,
    ...(message ? { message } : {}),
  };
}

/**
 * What to serve: an override (Promotion, Rollback, RolloutFailed) while the spec still names the
 * version it named when the override was decided; otherwise what the spec names.
 */
export function currentTarget(md: ModelDeployment, now: string): ServingTarget {
  const t = md.status?.target;
  if (t && t.specVersion === md.spec.modelVersion) return t;
  return newTarget(md, md.spec.modelVersion, 'Spec', now);
}

/** Seconds a rollout may take before the previous version comes back. */
export function progressDeadlineSeconds(md: ModelDeployment): number {
  return md.spec.rollout?.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
}

/** Milliseconds left before the rollout of `target` is past its deadline (≤ 0: it is). */
export function deadlineLeftMs(md: ModelDeployment, target: ServingTarget, nowMs: number): number {
  return Date.parse(target.since) + progressDeadlineSeconds(md) * 1000 - nowMs;
}

/** The most recent version served before `current` that was not itself rolled back. */
export function lastGood(history: readonly ServedVersion[], current: string): string | undefined {
  return history.find((h) => h.modelVersion !== current && h.outcome === 'Replaced')?.modelVersion;
}

/** Whether a ModelVersion was retired as a challenger (so it does not enter again). */
export const isRetired = (mv: ModelVersion): boolean =>
  mv.metadata.annotations?.[ANNOTATIONS.retiredChallenger] !== undefined;

/** Registered, with artifacts the inference server can load. */
const registered = (mv: ModelVersion | undefined): mv is ModelVersion =>
  mv?.status?.phase === 'Registered' && mv.status.artifacts?.root !== undefined;

/**
 * The challenger to run beside `target`: the one already running if it is still usable, else
 * the one the spec names, else the newest Registered retraining made for this deployment.
 * A version that serves, has served, or was retired never becomes a challenger again.
 */
export function chooseChallenger(
  md: ModelDeployment,
  target: ServingTarget,
  versions: readonly ModelVersion[],
  now: string,
): Challenger | undefined {
  const byName = new Map(versions.map((v) => [v.metadata.name, v]));
  const served = new Set((md.status?.history ?? []).map((h) => h.modelVersion));
  const usable = (name: string) => {
    const mv = byName.get(name);
    return registered(mv) && !isRetired(mv) && name !== target.modelVersion ? mv : undefined;
  };
  const current = md.status?.challenger;
  const spec = md.spec.challenger;
  if (current && usable(current.modelVersion)) {
    // A challenger named by hand follows the spec; one the loop brought stays until decided.
    if (current.source === 'Retrain' || spec?.modelVersion === current.modelVersion) return current;
  }
  if (spec) {
    const mv = usable(spec.modelVersion);
    if (mv) {
      return {
        modelVersion: mv.metadata.name,
        registryVersion: mv.spec.version,
        mode: spec.mode,
        ...(spec.mode === 'Canary' ? { canaryShare: spec.canaryShare ?? DEFAULT_CANARY_SHARE } : {}),
        since: current?.modelVersion === mv.metadata.name ? current.since : now,
        source: 'Spec',
      };
    }
  }
  const retrained = versions
    .filter((v) => v.spec.lineage?.deployment === md.metadata.name && !served.has(v.metadata.name))
    .filter((v) => usable(v.metadata.name) !== undefined)
    .sort((a, b) =>
      (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
    )[0];
  if (!retrained) return undefined;
  const mode = md.spec.promotion?.mode ?? 'Shadow';
  return {
    modelVersion: retrained.metadata.name,
    registryVersion: retrained.spec.version,
    mode,
    ...(mode === 'Canary' ? { canaryShare: md.spec.promotion?.canaryShare ?? DEFAULT_CANARY_SHARE } : {}),
    since: now,
    source: 'Retrain',
    ...(retrained.spec.lineage?.driftRun ? { driftRun: retrained.spec.lineage.driftRun } : {}),
  };
}

/** How the version that stops serving leaves the history, given why the new one serves. */
export function leavingOutcome(
  reason: TargetReason,
  next: string,
  message: string | undefined,
): Pick<ServedVersion, 'outcome' | 'reason'> {
  switch (reason) {
    case 'Rollback':
      return { outcome: 'RolledBack', reason: message ?? 'rolled back' };
    case 'Promotion':
      return {
        outcome: 'Replaced',
        reason: `replaced by ${next} (promoted${message ? `: ${message}` : ''})`,
      };
    default:
      return { outcome: 'Replaced', reason: `replaced by ${next}` };
  }
}
