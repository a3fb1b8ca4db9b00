import type { Task } from '../core/feature-schema.js';

/**
 * The quality gate: the decision whether a trained version may be deployed. Every check that
 * fails adds a reason; the version passes when there are none.
 */
export interface GateOptions {
  /** Classification: minimum holdout ROC AUC. */
  minRocAuc?: number | undefined;
  /**
   * Must beat the trivial baseline by this margin: ROC AUC points (classification) or the
   * relative RMSE reduction (regression, 0.05 = 5% lower RMSE).
   */
  minLift: number;
  /** Regression: maximum holdout RMSE. */
  maxRmse?: number | undefined;
  /** Regression: minimum holdout R². */
  minR2?: number | undefined;
  mustBeatChampion: boolean;
}

export interface ChampionComparison {
  version: string;
  /** The champion's headline metric (roc_auc or rmse); undefined if it could not be measured. */
  value?: number | undefined;
  /**
   * same-holdout: its model.onnx scored this run's holdout (a fair comparison);
   * recorded-holdout: its schema does not fit these rows, so the metric it recorded on its own
   * holdout stands in (`note` says why).
   */
  basis?: 'same-holdout' | 'recorded-holdout' | undefined;
  note?: string | undefined;
  error?: string | undefined;
}

export interface GateOutcome {
  passed: boolean;
  reasons: string[];
  /** Every check that ran, passed or not, with what it compared. */
  checks: { name: string; passed: boolean; detail: string }[];
  /** Why the version passed or failed, in one line: the checks by name. */
  summary: string;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** One-sided 95% lower bounds of the holdout's headline metrics (evaluate/confidence.ts). */
export interface HoldoutConfidence {
  r2Lower?: number | undefined;
  rocAucLower?: number | undefined;
}

export function evaluateGate(
  task: Task,
  holdout: Record<string, number>,
  baseline: Record<string, number>,
  options: GateOptions,
  champion?: ChampionComparison | undefined,
  confidence: HoldoutConfidence = {},
): GateOutcome {
  const checks: GateOutcome['checks'] = [];
  const check = (name: string, passed: boolean, detail: string) => checks.push({ name, passed, detail });
  if (task === 'binary-classification') {
    const auc = holdout.roc_auc!;
    // Always: a ranking the holdout cannot tell from a coin says nothing, whatever the
    // thresholds are set to.
    const lower = confidence.rocAucLower;
    check(
      'roc_auc_above_chance',
      auc > 0.5 && (lower === undefined || lower > 0.5),
      `holdout ROC AUC ${fmt(auc)}${lower === undefined ? '' : ` (95% lower bound ${fmt(lower)})`} must be above chance, 0.5000`,
    );
    if (options.minRocAuc !== undefined) {
      check(
        'min_roc_auc',
        auc >= options.minRocAuc,
        `holdout ROC AUC ${fmt(auc)} vs required ${fmt(options.minRocAuc)}`,
      );
    }
    const lift = auc - baseline.roc_auc!;
    check(
      'min_lift',
      lift >= options.minLift,
      `ROC AUC lift over the baseline ${fmt(lift)} vs required ${fmt(options.minLift)}`,
    );
    check(
      'log_loss_beats_baseline',
      holdout.log_loss! < baseline.log_loss!,
      `holdout log loss ${fmt(holdout.log_loss!)} vs baseline ${fmt(baseline.log_loss!)}`,
    );
  } else {
    const rmse = holdout.rmse!;
    // Always: R² ≤ 0 means predicting the holdout's own mean would have done as well. The
    // baseline (the training mean) can be far worse than that when the holdout lies elsewhere,
    // so a lift over it alone does not make a model useful.
    // On a small holdout a point estimate just above 0 is noise: the bound must clear it too.
    const lower = confidence.r2Lower;
    check(
      'r2_above_zero',
      holdout.r2! > 0 && (lower === undefined || lower > 0),
      `holdout R² ${fmt(holdout.r2!)}${lower === undefined ? '' : ` (95% lower bound ${fmt(lower)})`} must be above 0, what predicting the holdout's own mean scores`,
    );
    const lift = 1 - rmse / baseline.rmse!;
    check(
      'min_lift',
      lift >= options.minLift,
      `RMSE reduction over the baseline ${fmt(lift)} vs required ${fmt(options.minLift)}`,
    );
    if (options.maxRmse !== undefined) {
      check(
        'max_rmse',
        rmse <= options.maxRmse,
        `holdout RMSE ${fmt(rmse)} vs allowed ${fmt(options.maxRmse)}`,
      );
    }
    if (options.minR2 !== undefined) {
      check(
        'min_r2',
        holdout.r2! >= options.minR2,
        `holdout R² ${fmt(holdout.r2!)} vs required ${fmt(options.minR2)}`,
      );
    }
  }
  if (options.mustBeatChampion && champion) {
    const metric = task === 'binary-classification' ? 'roc_auc' : 'rmse';
    if (champion.value === undefined) {
      check(
        'beats_champion',
        false,
        `champion ${champion.version} could not be scored: ${champion.error ?? 'unknown error'}`,
      );
    } else {
      const ours = holdout[metric]!;
      const better = metric === 'roc_auc' ? ours > champion.value : ours < champion.value;
      const rows =
        champion.basis === 'recorded-holdout'
          ? `its recorded holdout (${champion.note ?? 'its schema does not fit these rows'}), not the same rows`
          : 'the same rows';
      check(
        'beats_champion',
        better,
        `holdout ${metric} ${fmt(ours)} vs champion ${champion.version} ${fmt(champion.value)} on ${rows}`,
      );
    }
  }
  const failed = checks.filter((c) => !c.passed);
  // The champion comparison is always told, passed or not: a reader must know what it rested on.
  const told = checks.filter((c) => !c.passed || c.name === 'beats_champion');
  const reasons = told.map((c) => `${c.name}${c.passed ? ' (passed)' : ''}: ${c.detail}`);
  const summary = failed.length
    ? `failed ${failed.map((c) => c.name).join(', ')} (${failed.length} of ${checks.length} checks)`
    : `all ${checks.length} checks passed (${checks.map((c) => c.name).join(', ')})`;
  return { passed: failed.length === 0, reasons, checks, summary };
}
