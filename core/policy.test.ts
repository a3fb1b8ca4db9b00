import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  consecutiveDrifted,
  DEFAULT_POLICY,
  type DriftFact,
  decidePromotion,
  decideRun,
  driftFact,
  judgeQuality,
  type PastRun,
  type RunInput,
} from './policy.js';
import type { QualityVerdict, RunVerdict } from './resources/drift-monitor.js';

const past = (drift: DriftFact, verdict?: RunVerdict, retrainRequested = false): PastRun => ({
  drift,
  verdict: verdict ?? (drift === 'drift' ? 'Drift' : drift === 'no_drift' ? 'NoDrift' : 'InsufficientData'),
  retrainRequested,
});

const run = (over: Partial<RunInput>): RunInput => ({
  drift: 'no_drift',
  quality: 'NotEvaluated',
  history: [],
  lastAlertedVerdict: null,
  canRollback: true,
  settings: DEFAULT_POLICY,
  ...over,
});

describe('driftFact', () => {
  it('makes no claim below the minimum rows', () => {
    expect(driftFact(99, 100, true)).toBe('insufficient_data');
    expect(driftFact(100, 100, true)).toBe('drift');
    expect(driftFact(100, 100, false)).toBe('no_drift');
    expect(driftFact(0, 1, false)).toBe('insufficient_data');
  });
});

describe('consecutiveDrifted', () => {
  it('counts the streak backwards, skipping runs without enough data, broken by a clean run', () => {
    expect(consecutiveDrifted([], 'drift')).toBe(1);
    expect(consecutiveDrifted([], 'no_drift')).toBe(0);
    expect(consecutiveDrifted([past('drift'), past('drift')], 'drift')).toBe(3);
    expect(consecutiveDrifted([past('drift'), past('no_drift'), past('drift')], 'drift')).toBe(2);
    expect(consecutiveDrifted([past('drift'), past('insufficient_data'), past('drift')], 'drift')).toBe(3);
    expect(consecutiveDrifted([past('drift'), past('drift')], 'insufficient_data')).toBe(2);
    expect(consecutiveDrifted([past('drift'), past('drift')], 'no_drift')).toBe(0);
  });
});

describe('decideRun', () => {
  it('a clean first run: NoDrift, no alert, nothing to do', () => {
    const d = decideRun(run({}));
    expect(d).toMatchObject({
      verdict: 'NoDrift',
      alert: null,
      retrain: false,
      rollback: false,
      insufficientData: false,
    });
  });

  it('first drift alerts once; the same verdict again does not alert', () => {
    const first = decideRun(run({ drift: 'drift' }));
    expect(first.verdict).toBe('Drift');
    expect(first.alert).toMatchObject({ from: 'NoDrift', to: 'Drift' });
    const second = decideRun(run({ drift: 'drift', history: [past('drift')], lastAlertedVerdict: 'Drift' }));
    expect(second.verdict).toBe('Drift');
    expect(second.alert).toBeNull();
  });

  it('sustained drift after N runs asks for retraining once per streak', () => {
    const settings = { ...DEFAULT_POLICY, sustainedDriftRuns: 3 };
    const third = decideRun(
      run({ drift: 'drift', history: [past('drift'), past('drift')], lastAlertedVerdict: 'Drift', settings }),
    );
    expect(third).toMatchObject({ verdict: 'SustainedDrift', consecutiveDriftedRuns: 3, retrain: true });
    expect(third.alert).toMatchObject({ from: 'Drift', to: 'SustainedDrift' });
    const fourth = decideRun(
      run({
        drift: 'drift',
        history: [past('drift'), past('drift'), past('drift', 'SustainedDrift', true)],
        lastAlertedVerdict: 'SustainedDrift',
        settings,
      }),
    );
    expect(fourth).toMatchObject({
      verdict: 'SustainedDrift',
      consecutiveDriftedRuns: 4,
      retrain: false,
      alert: null,
    });
  });

  it('a new streak after a clean run may retrain again', () => {
    const settings = { ...DEFAULT_POLICY, sustainedDriftRuns: 2 };
    const d = decideRun(
      run({
        drift: 'drift',
        history: [past('drift', 'SustainedDrift', true), past('no_drift'), past('drift')],
        settings,
      }),
    );
    expect(d.retrain).toBe(true);
  });

  it('does not retrain when retraining is not configured', () => {
    const settings = { ...DEFAULT_POLICY, sustainedDriftRuns: 1, retrainOnSustainedDrift: false };
    expect(decideRun(run({ drift: 'drift', settings })).retrain).toBe(false);
  });

  it('quality degraded wins over everything and rolls back when a previous version exists', () => {
    const d = decideRun(run({ drift: 'insufficient_data', quality: 'Degraded' }));
    expect(d).toMatchObject({ verdict: 'QualityDegraded', rollback: true, insufficientData: true });
    expect(decideRun(run({ quality: 'Degraded', canRollback: false }))).toMatchObject({ rollback: false });
    expect(decideRun(run({ quality: 'Degraded', canRollback: false })).reasons.join(' ')).toMatch(
      /no previous good version/,
    );
    const off = { ...DEFAULT_POLICY, rollbackOnQualityDegraded: false };
    expect(decideRun(run({ quality: 'Degraded', settings: off })).rollback).toBe(false);
  });

  it('rolls back on sustained drift only when asked to', () => {
    const on = { ...DEFAULT_POLICY, sustainedDriftRuns: 1, rollbackOnSustainedDrift: true };
    expect(decideRun(run({ drift: 'drift', settings: on })).rollback).toBe(true);
    const off = { ...DEFAULT_POLICY, sustainedDriftRuns: 1 };
    expect(decideRun(run({ drift: 'drift', settings: off })).rollback).toBe(false);
  });

  it('too few rows: InsufficientData, never a drift claim, and it alerts as a change', () => {
    const d = decideRun(run({ drift: 'insufficient_data', history: [past('drift'), past('drift')] }));
    expect(d).toMatchObject({
      verdict: 'InsufficientData',
      insufficientData: true,
      retrain: false,
      rollback: false,
    });
    expect(d.alert).toMatchObject({ from: 'NoDrift', to: 'InsufficientData' });
  });

  it('going back to normal alerts the recovery', () => {
    const d = decideRun(run({ drift: 'no_drift', history: [past('drift')], lastAlertedVerdict: 'Drift' }));
    expect(d.alert).toMatchObject({ from: 'Drift', to: 'NoDrift' });
  });

  it('rejects a nonsensical streak length', () => {
    expect(() => decideRun(run({ settings: { ...DEFAULT_POLICY, sustainedDriftRuns: 0 } }))).toThrow(
      /positive integer/,
    );
  });

  const drifts = fc.constantFrom<DriftFact>('drift', 'no_drift', 'insufficient_data');
  const qualities = fc.constantFrom<QualityVerdict>('Ok', 'Degraded', 'InsufficientData', 'NotEvaluated');
  const verdicts = fc.constantFrom<RunVerdict>(
    'NoDrift',
    'Drift',
    'SustainedDrift',
    'QualityDegraded',
    'InsufficientData',
  );

  it('properties: alert iff the verdict changed; no drift claim without data; rollback only with a way back', () => {
    fc.assert(
      fc.property(
        drifts,
        qualities,
        fc.array(fc.record({ drift: drifts, verdict: verdicts, retrainRequested: fc.boolean() }), {
          maxLength: 8,
        }),
        fc.option(verdicts, { nil: null }),
        fc.boolean(),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.boolean(),
        (drift, quality, history, lastAlerted, canRollback, n, rollbackOnSustained, retrainOn) => {
          const settings = {
            sustainedDriftRuns: n,
            rollbackOnQualityDegraded: true,
            rollbackOnSustainedDrift: rollbackOnSustained,
            retrainOnSustainedDrift: retrainOn,
          };
          const d = decideRun({
            drift,
            quality,
            history,
            lastAlertedVerdict: lastAlerted,
            canRollback,
            settings,
          });
          expect(d.alert !== null).toBe(d.verdict !== (lastAlerted ?? 'NoDrift'));
          if (drift === 'insufficient_data')
            expect(['InsufficientData', 'QualityDegraded']).toContain(d.verdict);
          if (drift !== 'drift') expect(d.retrain).toBe(false);
          if (!canRollback) expect(d.rollback).toBe(false);
          if (d.retrain) expect(d.consecutiveDriftedRuns).toBeGreaterThanOrEqual(n);
          if (quality === 'Degraded') expect(d.verdict).toBe('QualityDegraded');
          if (drift === 'no_drift') expect(d.consecutiveDriftedRuns).toBe(0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('judgeQuality', () => {
  const base = {
    metric: 'roc_auc',
    value: 0.7,
    holdout: 0.75,
    labelledRows: 500,
    minLabels: 100,
    tolerance: 0.05,
  };

  it('no verdict without labels or below the minimum', () => {
    expect(judgeQuality({ ...base, labelledRows: 0 }).verdict).toBe('NotEvaluated');
    expect(judgeQuality({ ...base, labelledRows: 99 }).verdict).toBe('InsufficientData');
  });

  it('degraded when worse than holdout by more than the tolerance (relative)', () => {
    // 0.70 vs 0.75 is 6.7% worse.
    expect(judgeQuality(base).verdict).toBe('Degraded');
    expect(judgeQuality({ ...base, value: 0.72 }).verdict).toBe('Ok');
    expect(judgeQuality({ ...base, value: 0.8 }).verdict).toBe('Ok');
  });

  it('for error metrics, higher is worse', () => {
    expect(judgeQuality({ ...base, metric: 'rmse', value: 11, holdout: 10 }).verdict).toBe('Degraded');
    expect(judgeQuality({ ...base, metric: 'rmse', value: 9, holdout: 10 }).verdict).toBe('Ok');
    expect(judgeQuality({ ...base, metric: 'log_loss', value: 0.52, holdout: 0.5 }).verdict).toBe('Ok');
  });

  it('no comparison without a holdout value or a computable metric', () => {
    expect(judgeQuality({ ...base, holdout: undefined }).verdict).toBe('NotEvaluated');
    expect(judgeQuality({ ...base, value: Number.NaN }).verdict).toBe('NotEvaluated');
  });

  it('refuses unknown metrics', () => {
    expect(() => judgeQuality({ ...base, metric: 'wat' })).toThrow(/unknown metric wat/);
  });
});

describe('decidePromotion', () => {
  const base = {
    metric: 'roc_auc',
    champion: 0.7,
    challenger: 0.72,
    labelledRows: 1000,
    minLabels: 200,
    margin: 0.01,
  };

  it('promotes a challenger that wins by the margin on the same window', () => {
    expect(decidePromotion(base).promote).toBe(true);
    expect(decidePromotion({ ...base, challenger: 0.705 }).promote).toBe(false);
    expect(decidePromotion({ ...base, challenger: 0.69 }).promote).toBe(false);
  });

  it('needs a win even with a zero margin, and enough labels', () => {
    expect(decidePromotion({ ...base, challenger: 0.7, margin: 0 }).promote).toBe(false);
    expect(decidePromotion({ ...base, labelledRows: 10 }).promote).toBe(false);
  });

  it('for error metrics, lower wins', () => {
    expect(
      decidePromotion({ ...base, metric: 'rmse', champion: 10, challenger: 9, margin: 0.5 }).promote,
    ).toBe(true);
    expect(
      decidePromotion({ ...base, metric: 'rmse', champion: 10, challenger: 9.8, margin: 0.5 }).promote,
    ).toBe(false);
  });

  it('a challenger without a value never wins; one without a champion does', () => {
    expect(decidePromotion({ ...base, challenger: undefined }).promote).toBe(false);
    expect(decidePromotion({ ...base, champion: undefined }).promote).toBe(true);
  });
});
