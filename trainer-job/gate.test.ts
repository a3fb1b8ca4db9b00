import { describe, expect, it } from 'vitest';
import { evaluateGate, type GateOptions } from './gate.js';

const options: GateOptions = { minRocAuc: 0.6, minLift: 0.02, mustBeatChampion: false };
const baseline = { roc_auc: 0.5, log_loss: 0.5 };

describe('quality gate', () => {
  it('passes a model above every threshold', () => {
    const g = evaluateGate('binary-classification', { roc_auc: 0.7, log_loss: 0.45 }, baseline, options);
    expect(g.passed).toBe(true);
    expect(g.reasons).toEqual([]);
  });

  it('rejects a model below the minimum ROC AUC, saying why', () => {
    const g = evaluateGate('binary-classification', { roc_auc: 0.58, log_loss: 0.45 }, baseline, options);
    expect(g.passed).toBe(false);
    expect(g.reasons).toEqual([
      expect.stringMatching(/^min_roc_auc: holdout ROC AUC 0.5800 vs required 0.6000/),
    ]);
  });

  it('rejects a model that does not beat the baseline by the margin or on log loss', () => {
    const g = evaluateGate('binary-classification', { roc_auc: 0.51, log_loss: 0.6 }, baseline, {
      ...options,
      minRocAuc: undefined,
    });
    expect(g.reasons.map((r) => r.split(':')[0])).toEqual(['min_lift', 'log_loss_beats_baseline']);
  });

  it('checks regression RMSE lift, max RMSE and min R²', () => {
    const ok = evaluateGate(
      'regression',
      { rmse: 9, r2: 0.3 },
      { rmse: 10 },
      { minLift: 0.05, maxRmse: 9.5, minR2: 0.2, mustBeatChampion: false },
    );
    expect(ok.passed).toBe(true);
    const bad = evaluateGate(
      'regression',
      { rmse: 9.9, r2: 0.1 },
      { rmse: 10 },
      { minLift: 0.05, maxRmse: 9.5, minR2: 0.2, mustBeatChampion: false },
    );
    expect(bad.reasons.map((r) => r.split(':')[0])).toEqual(['min_lift', 'max_rmse', 'min_r2']);
  });

  it('must beat the champion on the same holdout when asked', () => {
    const strict = { ...options, mustBeatChampion: true };
    const holdout = { roc_auc: 0.7, log_loss: 0.45 };
    expect(
      evaluateGate('binary-classification', holdout, baseline, strict, { version: 'v1', value: 0.69 }).passed,
    ).toBe(true);
    const lost = evaluateGate('binary-classification', holdout, baseline, strict, {
      version: 'v1',
      value: 0.71,
    });
    expect(lost.reasons).toEqual([
      expect.stringMatching(/^beats_champion: holdout roc_auc 0.7000 vs champion v1 0.7100/),
    ]);
    const unscorable = evaluateGate('binary-classification', holdout, baseline, strict, {
      version: 'v1',
      error: 'gone',
    });
    expect(unscorable.reasons).toEqual([expect.stringMatching(/champion v1 could not be scored: gone/)]);
    // Passed or not, the comparison is told: what it rested on matters.
    const won = evaluateGate('binary-classification', holdout, baseline, strict, {
      version: 'v1',
      value: 0.69,
    });
    expect(won.reasons).toEqual([expect.stringMatching(/^beats_champion \(passed\): .* on the same rows$/)]);
    // Without a champion there is nothing to beat.
    expect(evaluateGate('binary-classification', holdout, baseline, strict, undefined).passed).toBe(true);
  });

  it('says when the champion could not score these rows and its recorded holdout metric stood in', () => {
    const g = evaluateGate(
      'binary-classification',
      { roc_auc: 0.7, log_loss: 0.45 },
      baseline,
      { ...options, mustBeatChampion: true },
      {
        version: 'v3',
        value: 0.72,
        basis: 'recorded-holdout',
        note: 'it needs features this dataset lacks: x',
      },
    );
    expect(g.passed).toBe(false);
    expect(g.reasons).toEqual([
      'beats_champion: holdout roc_auc 0.7000 vs champion v3 0.7200 on its recorded holdout (it needs features this dataset lacks: x), not the same rows',
    ]);
  });
});
