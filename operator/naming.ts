import { createHash } from 'node:crypto';

/**
 * Deterministic names of the objects the operator creates. The trainer Job's name depends
 * only on the ModelVersion's name and generation: a second operator (or the same one after a
 * restart mid-reconcile) computes the same name, and the API server refuses a second Job of
 * that name, so one generation never gets two Jobs.
 */

const MAX = 63; // Job names end up in the `job-name` label of their Pods: ≤ 63 characters

function shorten(base: string, suffix: string, max = MAX): string {
  if (base.length + suffix.length <= max) return base + suffix;
  const hash = createHash('sha256').update(base).digest('hex').slice(0, 8);
  const keep = max - suffix.length - hash.length - 1;
  return `${base.slice(0, keep).replace(/-+$/, '')}-${hash}${suffix}`;
}

export const trainerJobName = (modelVersion: string, generation: number): string =>
  shorten(modelVersion, `-train-g${generation}`);

export const serverName = (modelDeployment: string): string => shorten(modelDeployment, '');

export const driftCronJobName = (driftMonitor: string): string => shorten(driftMonitor, '-drift', 52); // CronJob names: ≤ 52;

/** A retraining's ModelVersion name: the serving version's name plus the run that asked for it. */
export const retrainName = (servingVersion: string, runId: string): string => {
  const tag = createHash('sha256').update(runId).digest('hex').slice(0, 6);
  return shorten(servingVersion.replace(/-r[0-9a-f]{6}$/, ''), `-r${tag}`);
};

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  modelVersion: 'mlcycle.dev/model-version',
  modelDeployment: 'mlcycle.dev/model-deployment',
  driftMonitor: 'mlcycle.dev/drift-monitor',
  generation: 'mlcycle.dev/generation',
} as const;

export const ANNOTATIONS = {
  /** On a ModelDeployment, set by a user: approves the pending promotion of this challenger. */
  approvePromotion: 'mlcycle.dev/approve-promotion',
  /** On a ModelVersion that lost against the champion: why; it does not enter as a challenger again. */
  retiredChallenger: 'mlcycle.dev/retired-challenger',
  /** On the inference Pod template: the challenger beside the champion. */
  challengerVersion: 'mlcycle.dev/challenger-version',
  /** On the inference Pod template: which ModelVersion it serves (a change rolls out). */
  servingVersion: 'mlcycle.dev/serving-version',
} as const;

export const MANAGER = 'mlcycle-operator';
