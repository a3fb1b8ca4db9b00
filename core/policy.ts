/**
 * The lifecycle policy: from the facts of a monitoring run (drift, quality on delayed labels) and
 * the history of earlier runs, decide the run's verdict and what should happen — alert, retrain,
 * roll back, or nothing because there was not enough data. One pure module, so the drift job, the
 * operator and the demo cannot disagree about when to act.
 *
 * Rules (documented for users in the DriftMonitor spec):
 * - A run with fewer rows than `minRows` in its window makes no drift claim: `InsufficientData`.
 * - Drift runs in a row are counted backwards from the current run; `InsufficientData` runs neither
 *   extend nor break the streak (no evidence either way); a `NoDrift` run breaks it.
 * - Verdict precedence: QualityDegraded > InsufficientData > SustainedDrift (streak ≥
 *   `sustainedDriftRuns`) > Drift > NoDrift. Quality needs labels, not a full window, so a degraded
 *   quality verdict stands even when the window is too small for a drift verdict.
 * - An alert is due when the verdict differs from the last alerted one (no alert yet counts as
 *   NoDrift): a change, not every run. The first run of a monitor that alerts says it is the first
 *   verdict, not a change from a run that never happened.
 * - Retrain once per streak, when it becomes sustained and retraining is configured — and only
 *   within the guardrails, counted on the stored runs' timestamps: no retraining within
 *   `retrainCooldownMs` of the last one, at most `retrainMaxPerDay` in any 24 hours. A streak
 *   held back by a guardrail retrains on a later run of the streak once the guardrail allows it.
 * - Roll back on QualityDegraded (if enabled), or on SustainedDrift (if enabled), when there is a
 *   previous good version to go back to.
 * - Promote a challenger only on evidence: champion and challenger measured on the same labelled
 *   requests, at least `minLabels` of them, the challenger better by at least `margin`.
 * - Estimated quality (CBPE, before labels arrive): an `EstimatedDegraded` verdict when the estimate
 *   fell below its reference threshold — after QualityDegraded, before InsufficientData — unless
 *   the realized labels of the window say quality is Ok (labels beat an estimate). It alerts like
 *   any verdict change. Only when opted in does it also retrain (once per streak of such runs,
 *   within the same guardrails), roll back, or hold a promotion whose challenger is itself
 *   estimated degraded; by default rollback stays on realized labels.
 */
import type { EstimateVerdict, QualityVerdict, RunVerdict } from './resources/drift-monitor.js';

export type { EstimateVerdict, QualityVerdict, RunVerdict } from './resources/drift-monitor.js';

/** What the drift statistics said about the window. */
export type DriftFact = 'drift' | 'no_drift' | 'insufficient_data';

export interface PolicySettings {
  /** Consecutive drifted runs that make drift sustained (≥ 1). */
  sustainedDriftRuns: number;
  rollbackOnQualityDegraded: boolean;
  rollbackOnSustainedDrift: boolean;
  /** Whether sustained drift asks for a new model version. */
  retrainOnSustainedDrift: boolean;
  /** No retraining sooner than this after the last one (ms); absent: the default, 6 hours. */
  retrainCooldownMs?: number;
  /** At most this many retrainings in any 24 hours; absent: the default, 3. */
  retrainMaxPerDay?: number;
  /** Opt-in: an EstimatedDegraded verdict asks for a new model version (once per streak). */
  retrainOnEstimatedDegraded?: boolean;
  /** Opt-in: an EstimatedDegraded verdict asks for a rollback (default: rollback on labels only). */
  rollbackOnEstimatedDegraded?: boolean;
  /** Opt-in: a challenger whose own estimate is degraded is not promoted, whatever its labels say. */
  holdPromotionOnEstimatedDegraded?: boolean;
}

export const DEFAULT_POLICY: Required<PolicySettings> = {
  sustainedDriftRuns: 3,
  rollbackOnQualityDegraded: true,
  rollbackOnSustainedDrift: false,
  retrainOnSustainedDrift: true,
  retrainCooldownMs: 6 * 3_600_000,
  retrainMaxPerDay: 3,
  retrainOnEstimatedDegraded: false,
  rollbackOnEstimatedDegraded: false,
  holdPromotionOnEstimatedDegraded: false,
};

const DAY_MS = 86_400_000;

/** An earlier run, as stored (oldest first in a history). */
export interface PastRun {
  drift: DriftFact;
  verdict: RunVerdict;
  /** The policy asked for a retraining on that run. */
  retrainRequested?: boolean;
  /** When it finished (the guardrails count retrainings by time). */
  finishedAt?: Date;
}

export interface RunInput {
  drift: DriftFact;
  quality: QualityVerdict;
  /** Estimated quality of the window (CBPE); absent: not estimated. */
  estimate?: EstimateVerdict;
  /** Earlier runs of the same monitor, oldest first. */
  history: readonly PastRun[];
  /** The verdict the last alert announced; null when none was ever sent. */
  lastAlertedVerdict: RunVerdict | null;
  /** A previous good version exists to roll back to. */
  canRollback: boolean;
  settings: PolicySettings;
  /** When this run happens (the guardrails' clock). */
  now?: Date;
  /** Champion and challenger on the same labelled requests, when a challenger runs. */
  promotion?: PromotionEvidence;
}

/** What a run measured of a challenger beside the champion, on the same labelled requests. */
export interface PromotionEvidence {
  /** Registry version of the challenger. */
  challenger: string;
  metric: string;
  champion: number | undefined;
  challengerValue: number | undefined;
  /** Labelled requests scored by both. */
  labelledRows: number;
  minLabels: number;
  margin: number;
  /** The challenger's own estimated quality on the window (CBPE), when it was estimated. */
  challengerEstimate?: EstimateVerdict;
}

/** The promotion part of a run's decision (stored with the run, mirrored into the status). */
export interface PromotionOutcome {
  challenger: string;
  metric: string;
  /** Enough labelled requests were scored by both to compare. */
  ready: boolean;
  promote: boolean;
  reason: string;
  champion?: number;
  challengerValue?: number;
  labelledRows: number;
}

export interface Alert {
  /** The verdict announced before; null on the first verdict of a monitor. */
  from: RunVerdict | null;
  to: RunVerdict;
  message: string;
}

export interface RunDecision {
  verdict: RunVerdict;
  /** Drifted runs in a row, including this one (InsufficientData runs skipped). */
  consecutiveDriftedRuns: number;
  alert: Alert | null;
  retrain: boolean;
  rollback: boolean;
  insufficientData: boolean;
  promotion?: PromotionOutcome;
  /** Why, in plain words, one entry per decision taken. */
  reasons: string[];
}

/** The drift fact of a window: no claim below `minRows` rows. */
export function driftFact(currentRows: number, minRows: number, datasetDrift: boolean): DriftFact {
  if (currentRows < minRows) return 'insufficient_data';
  return datasetDrift ? 'drift' : 'no_drift';
}

/** Drifted runs in a row ending with `current`, skipping runs without enough data. */
export function consecutiveDrifted(history: readonly PastRun[], current: DriftFact): number {
  if (current === 'no_drift') return 0;
  let count = current === 'drift' ? 1 : 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const run = history[i]!;
    if (run.drift === 'insufficient_data') continue;
    if (run.drift === 'no_drift') break;
    count++;
  }
  return count;
}

function retrainAlreadyRequested(history: readonly PastRun[]): boolean {
  for (let i = history.length - 1; i >= 0; i--) {
    const run = history[i]!;
    if (run.drift === 'insufficient_data') continue;
    if (run.drift === 'no_drift') return false;
    if (run.retrainRequested) return true;
  }
  return false;
}

const VERDICT_WORDS: Record<RunVerdict, string> = {
  NoDrift: 'no drift',
  Drift: 'drift detected',
  SustainedDrift: 'sustained drift',
  QualityDegraded: 'quality degraded',
  EstimatedDegraded: 'estimated quality degraded',
  InsufficientData: 'insufficient data',
  Failed: 'monitoring run failed',
};

/** Applies the policy to one run. */
export function decideRun(input: RunInput): RunDecision {
  const { settings } = input;
  if (!Number.isInteger(settings.sustainedDriftRuns) || settings.sustainedDriftRuns < 1) {
    throw new RangeError(
      `sustainedDriftRuns must be a positive integer (got ${settings.sustainedDriftRuns})`,
    );
  }
  const streak = consecutiveDrifted(input.history, input.drift);
  const sustained = input.drift === 'drift' && streak >= settings.sustainedDriftRuns;
  // Labels beat an estimate: a window whose realized quality is Ok is not "estimated degraded".
  const estimatedDegraded = input.estimate === 'Degraded' && input.quality !== 'Ok';
  let verdict: RunVerdict;
  if (input.quality === 'Degraded') verdict = 'QualityDegraded';
  else if (estimatedDegraded) verdict = 'EstimatedDegraded';
  else if (input.drift === 'insufficient_data') verdict = 'InsufficientData';
  else if (sustained) verdict = 'SustainedDrift';
  else if (input.drift === 'drift') verdict = 'Drift';
  else verdict = 'NoDrift';

  const reasons: string[] = [];
  const alert = alertFor(verdict, input);
  if (alert)
    reasons.push(
      alert.from
        ? `alert: verdict changed from ${alert.from} to ${verdict}`
        : `alert: first verdict ${verdict}`,
    );

  if (input.estimate === 'Degraded' && input.quality === 'Ok')
    reasons.push('estimate degraded, but the realized labels of the window say quality is Ok');

  const driftRetrain =
    sustained && settings.retrainOnSustainedDrift && !retrainAlreadyRequested(input.history);
  const estimateRetrain =
    verdict === 'EstimatedDegraded' &&
    settings.retrainOnEstimatedDegraded === true &&
    !retrainRequestedInEstimateStreak(input.history);
  let retrain = driftRetrain || estimateRetrain;
  if (retrain) {
    const held = retrainGuardrail(input.history, settings, input.now ?? new Date());
    if (held) reasons.push(`no retrain: ${held}`);
    else if (driftRetrain)
      reasons.push(`retrain: ${streak} drifted runs in a row (sustained at ${settings.sustainedDriftRuns})`);
    else reasons.push('retrain: estimated quality degraded (opted in)');
    retrain = held === null;
  }

  const rollbackFor = rollbackVerdict(verdict, sustained, settings);
  const wantsRollback = rollbackFor !== null;
  const rollback = wantsRollback && input.canRollback;
  if (rollback && rollbackFor) reasons.push(`rollback: ${VERDICT_WORDS[rollbackFor]}`);
  if (wantsRollback && !input.canRollback) reasons.push('no rollback: there is no previous good version');

  const insufficientData = input.drift === 'insufficient_data';
  if (insufficientData) reasons.push('no drift claim: too few rows in the window');

  const promotion = input.promotion ? promotionOutcome(input.promotion, settings) : undefined;
  if (promotion) reasons.push(`promotion of ${promotion.challenger}: ${promotion.reason}`);

  return {
    verdict,
    consecutiveDriftedRuns: streak,
    alert,
    retrain,
    rollback,
    insufficientData,
    ...(promotion ? { promotion } : {}),
    reasons,
  };
}

/** The verdict a rollback is asked for (null: none), by the settings. */
function rollbackVerdict(
  verdict: RunVerdict,
  sustained: boolean,
  settings: PolicySettings,
): RunVerdict | null {
  if (verdict === 'QualityDegraded' && settings.rollbackOnQualityDegraded) return verdict;
  if (verdict === 'EstimatedDegraded' && settings.rollbackOnEstimatedDegraded === true) return verdict;
  if (sustained && settings.rollbackOnSustainedDrift) return 'SustainedDrift';
  return null;
}

/** A retraining was already asked for by the EstimatedDegraded runs just before this one. */
function retrainRequestedInEstimateStreak(history: readonly PastRun[]): boolean {
  for (let i = history.length - 1; i >= 0; i--) {
    const run = history[i]!;
    if (run.verdict !== 'EstimatedDegraded') return false;
    if (run.retrainRequested) return true;
  }
  return false;
}

/** The alert a verdict is due, if it differs from the last one announced. */
function alertFor(verdict: RunVerdict, input: RunInput): Alert | null {
  const first = input.lastAlertedVerdict === null && input.history.length === 0;
  const previous = input.lastAlertedVerdict ?? 'NoDrift';
  if (verdict === previous) return null;
  if (first) return { from: null, to: verdict, message: `first verdict: ${VERDICT_WORDS[verdict]}` };
  return { from: previous, to: verdict, message: `${VERDICT_WORDS[previous]} → ${VERDICT_WORDS[verdict]}` };
}

/**
 * Why a due retraining is held back (null: it may go): the cooldown since the last retraining,
 * or the number of retrainings in the 24 hours before `now`, from the stored runs.
 */
export function retrainGuardrail(
  history: readonly PastRun[],
  settings: PolicySettings,
  now: Date,
): string | null {
  const times = history
    .filter((r) => r.retrainRequested && r.finishedAt)
    .map((r) => (r.finishedAt as Date).getTime());
  const cooldown = settings.retrainCooldownMs ?? DEFAULT_POLICY.retrainCooldownMs;
  const maxPerDay = settings.retrainMaxPerDay ?? DEFAULT_POLICY.retrainMaxPerDay;
  const last = Math.max(...times, Number.NEGATIVE_INFINITY);
  if (now.getTime() - last < cooldown) {
    const until = new Date(last + cooldown).toISOString();
    return `cooldown: the last retraining was at ${new Date(last).toISOString()}, the next may start at ${until}`;
  }
  const lastDay = times.filter((t) => now.getTime() - t < DAY_MS).length;
  if (lastDay >= maxPerDay)
    return `daily cap: ${lastDay} retraining(s) in the last 24 hours, at most ${maxPerDay}`;
  return null;
}

function promotionOutcome(e: PromotionEvidence, settings: PolicySettings): PromotionOutcome {
  let d = decidePromotion({ ...e, challenger: e.challengerValue });
  if (d.promote && settings.holdPromotionOnEstimatedDegraded === true && e.challengerEstimate === 'Degraded')
    d = { promote: false, reason: `held: the challenger's estimated quality is degraded (${d.reason})` };
  const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);
  return {
    challenger: e.challenger,
    metric: e.metric,
    ready: e.labelledRows >= e.minLabels,
    promote: d.promote,
    reason: d.reason,
    ...(finite(e.champion) ? { champion: e.champion } : {}),
    ...(finite(e.challengerValue) ? { challengerValue: e.challengerValue } : {}),
    labelledRows: e.labelledRows,
  };
}

/** Whether larger values of a metric are better. */
export const METRIC_DIRECTION: Record<string, 'higher' | 'lower'> = {
  roc_auc: 'higher',
  accuracy: 'higher',
  precision: 'higher',
  recall: 'higher',
  f1: 'higher',
  log_loss: 'lower',
  rmse: 'lower',
  mae: 'lower',
};

export function metricDirection(metric: string): 'higher' | 'lower' {
  const direction = METRIC_DIRECTION[metric];
  if (!direction)
    throw new RangeError(`unknown metric ${metric} (known: ${Object.keys(METRIC_DIRECTION).join(', ')})`);
  return direction;
}

export interface QualityInput {
  metric: string;
  /** The metric on the labelled rows of the window (undefined when it could not be computed). */
  value: number | undefined;
  /** Its holdout value at registration (undefined when unknown). */
  holdout: number | undefined;
  labelledRows: number;
  minLabels: number;
  /** Degraded when worse than holdout by more than this fraction of the holdout value. */
  tolerance: number;
}

export interface QualityJudgement {
  verdict: QualityVerdict;
  metric: string;
  value?: number;
  reference?: number;
  labelledRows: number;
  /** Relative change towards worse (positive = worse), when both values are known. */
  worsening?: number;
  reason: string;
}

/** Quality verdict on delayed labels: none below `minLabels`, degraded beyond `tolerance`. */
export function judgeQuality(input: QualityInput): QualityJudgement {
  const base = { metric: input.metric, labelledRows: input.labelledRows };
  if (input.labelledRows === 0)
    return { ...base, verdict: 'NotEvaluated', reason: 'no labelled predictions' };
  if (input.labelledRows < input.minLabels) {
    return {
      ...base,
      verdict: 'InsufficientData',
      reason: `${input.labelledRows} labelled predictions, fewer than the ${input.minLabels} needed`,
    };
  }
  if (input.value === undefined || !Number.isFinite(input.value)) {
    return {
      ...base,
      verdict: 'NotEvaluated',
      reason: `${input.metric} could not be computed on the labels`,
    };
  }
  if (input.holdout === undefined || !Number.isFinite(input.holdout)) {
    return {
      ...base,
      value: input.value,
      verdict: 'NotEvaluated',
      reason: `no holdout ${input.metric} to compare with`,
    };
  }
  const direction = metricDirection(input.metric);
  const diff = direction === 'higher' ? input.holdout - input.value : input.value - input.holdout;
  const scale = Math.abs(input.holdout) || 1;
  const worsening = diff / scale;
  const degraded = worsening > input.tolerance;
  return {
    ...base,
    value: input.value,
    reference: input.holdout,
    worsening,
    verdict: degraded ? 'Degraded' : 'Ok',
    reason: `${input.metric} ${input.value.toFixed(4)} vs holdout ${input.holdout.toFixed(4)}: ${Math.abs(worsening * 100).toFixed(1)}% ${worsening > 0 ? 'worse' : 'better'}, tolerance ${(input.tolerance * 100).toFixed(1)}%`,
  };
}

export interface PromotionInput {
  metric: string;
  /** Both measured on the same labelled window. */
  champion: number | undefined;
  challenger: number | undefined;
  labelledRows: number;
  minLabels: number;
  /** The challenger must be better by at least this much, in the metric's units. */
  margin: number;
}

export interface PromotionDecision {
  promote: boolean;
  reason: string;
}

/** Champion vs challenger on the same labelled window: promote only a clear winner. */
export function decidePromotion(input: PromotionInput): PromotionDecision {
  if (input.labelledRows < input.minLabels) {
    return {
      promote: false,
      reason: `${input.labelledRows} labelled rows, fewer than the ${input.minLabels} needed to compare`,
    };
  }
  if (input.challenger === undefined || !Number.isFinite(input.challenger)) {
    return { promote: false, reason: `the challenger has no ${input.metric} on the window` };
  }
  if (input.champion === undefined || !Number.isFinite(input.champion)) {
    return { promote: true, reason: `no champion ${input.metric} to beat` };
  }
  const gain =
    metricDirection(input.metric) === 'higher'
      ? input.challenger - input.champion
      : input.champion - input.challenger;
  const promote = gain >= input.margin && gain > 0;
  const words = `${input.metric}: challenger ${input.challenger.toFixed(4)}, champion ${input.champion.toFixed(4)}, margin ${input.margin}`;
  return { promote, reason: promote ? `challenger wins (${words})` : `champion stays (${words})` };
}
