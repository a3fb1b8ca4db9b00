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

const HOUR = 3_600_000;
const NOW = new Date('2026-12-01T12:00:00Z');
/** A stored run `hoursAgo` before NOW. */
const at = (hoursAgo: number, drift: DriftFact, retrainRequested = false): PastRun => ({
  ...past(drift, undefined, retrainRequested),
  finishedAt: new Date(NOW.getTime() - hoursAgo * HOUR),
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
    // The first run of a monitor: its first verdict, not a change from a run that never happened.
    expect(first.alert).toEqual({ from: null, to: 'Drift', message: 'first verdict: drift detected' });
    expect(first.reasons).toContain('alert: first verdict Drift');
    const afterCleanRuns = decideRun(run({ drift: 'drift', history: [past('no_drift')] }));
    expect(afterCleanRuns.alert).toMatchObject({
      from: 'NoDrift',
      to: 'Drift',
      message: 'no drift → drift detected',
    });
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

describe('retrain guardrails', () => {
  const settings = {
    ...DEFAULT_POLICY,
    sustainedDriftRuns: 2,
    retrainCooldownMs: 6 * HOUR,
    retrainMaxPerDay: 2,
  };
  const sustained = (history: PastRun[]) =>
    decideRun(run({ drift: 'drift', history, settings, now: NOW, lastAlertedVerdict: 'SustainedDrift' }));

  it('a retraining within the cooldown of the last one waits; the same streak retrains once the cooldown is over', () => {
    // A streak retrained 5 h ago, broke, and a new streak is sustained now: still in the cooldown.
    const history = [at(5, 'drift', true), at(4, 'no_drift'), at(1, 'drift')];
    const held = sustained(history);
    expect(held.verdict).toBe('SustainedDrift');
    expect(held.retrain).toBe(false);
    expect(held.reasons.join('\n')).toMatch(
      /no retrain: cooldown: .*next may start at 2026-12-01T13:00:00.000Z/,
    );
    // Two hours later the same streak (the held run recorded without a retraining) retrains.
    const later = decideRun(
      run({
        drift: 'drift',
        history: [...history, { ...at(0, 'drift'), verdict: 'SustainedDrift' }],
        settings,
        now: new Date(NOW.getTime() + 2 * HOUR),
        lastAlertedVerdict: 'SustainedDrift',
      }),
    );
    expect(later.retrain).toBe(true);
  });

  it('at most maxPerDay retrainings in any 24 hours, counted from the stored timestamps', () => {
    const twoToday = [
      at(20, 'drift', true),
      at(19, 'no_drift'),
      at(12, 'drift', true),
      at(11, 'no_drift'),
      at(1, 'drift'),
    ];
    const capped = sustained(twoToday);
    expect(capped.retrain).toBe(false);
    expect(capped.reasons.join('\n')).toMatch(/daily cap: 2 retraining\(s\) in the last 24 hours, at most 2/);
    // The older one falls out of the 24 hours: allowed again.
    const oneToday = [
      at(30, 'drift', true),
      at(29, 'no_drift'),
      at(12, 'drift', true),
      at(11, 'no_drift'),
      at(1, 'drift'),
    ];
    expect(sustained(oneToday).retrain).toBe(true);
  });

  it('properties: never two retrainings closer than the cooldown, never more than the cap per day', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<DriftFact>('drift', 'no_drift', 'insufficient_data'), { maxLength: 60 }),
        (facts) => {
          const history: PastRun[] = [];
          facts.forEach((drift, i) => {
            const now = new Date(NOW.getTime() + i * HOUR);
            const d = decideRun(run({ drift, history, settings, now, lastAlertedVerdict: null }));
            history.push({ drift, verdict: d.verdict, retrainRequested: d.retrain, finishedAt: now });
          });
          const times = history.filter((r) => r.retrainRequested).map((r) => r.finishedAt!.getTime());
          for (let i = 1; i < times.length; i++)
            expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(6 * HOUR);
          for (const t of times)
            expect(times.filter((u) => u <= t && t - u < 24 * HOUR).length).toBeLessThanOrEqual(2);
        },
      ),
    );
  });
});

describe('promotion in the run decision', () => {
  it('stores the comparison with the run: ready only with enough labels, promote only a clear winner', () => {
    const evidence = { challenger: 'v3', metric: 'roc_auc', minLabels: 200, margin: 0.01 };
    const win = decideRun(
      run({ promotion: { ...evidence, champion: 0.7, challengerValue: 0.75, labelledRows: 300 } }),
    );
    expect(win.promotion).toMatchObject({
      challenger: 'v3',
      ready: true,
      promote: true,
      champion: 0.7,
      challengerValue: 0.75,
    });
    expect(win.reasons.join('\n')).toMatch(/promotion of v3: challenger wins/);
    const few = decideRun(
      run({ promotion: { ...evidence, champion: 0.7, challengerValue: 0.9, labelledRows: 50 } }),
    );
    expect(few.promotion).toMatchObject({ ready: false, promote: false, labelledRows: 50 });
    const none = decideRun(run({}));
    expect(none.promotion).toBeUndefined();
  });
});

describe('EstimatedDegraded (CBPE before labels arrive)', () => {
  const optIn = (over: Partial<typeof DEFAULT_POLICY>) => ({ ...DEFAULT_POLICY, ...over });
  const estimated = (over: Partial<RunInput> = {}) =>
    decideRun(run({ estimate: 'Degraded', drift: 'no_drift', ...over }));

  // One row per case: the facts, the settings, and what the run decides.
  const table: {
    name: string;
    input: Partial<RunInput>;
    verdict: RunVerdict;
    retrain: boolean;
    rollback: boolean;
  }[] = [
    { name: 'estimate Ok', input: { estimate: 'Ok' }, verdict: 'NoDrift', retrain: false, rollback: false },
    {
      name: 'estimate not evaluated',
      input: { estimate: 'NotEvaluated', drift: 'drift' },
      verdict: 'Drift',
      retrain: false,
      rollback: false,
    },
    {
      name: 'degraded estimate, default settings: alerts only',
      input: { estimate: 'Degraded' },
      verdict: 'EstimatedDegraded',
      retrain: false,
      rollback: false,
    },
    {
      name: 'degraded estimate beats drift and too few rows',
      input: { estimate: 'Degraded', drift: 'insufficient_data' },
      verdict: 'EstimatedDegraded',
      retrain: false,
      rollback: false,
    },
    {
      name: 'realized degradation beats the estimate (and rolls back as before)',
      input: { estimate: 'Degraded', quality: 'Degraded' },
      verdict: 'QualityDegraded',
      retrain: false,
      rollback: true,
    },
    {
      name: 'labels that say Ok beat a degraded estimate',
      input: { estimate: 'Degraded', quality: 'Ok' },
      verdict: 'NoDrift',
      retrain: false,
      rollback: false,
    },
    {
      name: 'too few labels: the estimate stands',
      input: { estimate: 'Degraded', quality: 'InsufficientData' },
      verdict: 'EstimatedDegraded',
      retrain: false,
      rollback: false,
    },
    {
      name: 'opted in to retraining',
      input: { estimate: 'Degraded', settings: optIn({ retrainOnEstimatedDegraded: true }) },
      verdict: 'EstimatedDegraded',
      retrain: true,
      rollback: false,
    },
    {
      name: 'opted in to rollback',
      input: { estimate: 'Degraded', settings: optIn({ rollbackOnEstimatedDegraded: true }) },
      verdict: 'EstimatedDegraded',
      retrain: false,
      rollback: true,
    },
    {
      name: 'opted in to rollback, nothing to go back to',
      input: {
        estimate: 'Degraded',
        canRollback: false,
        settings: optIn({ rollbackOnEstimatedDegraded: true }),
      },
      verdict: 'EstimatedDegraded',
      retrain: false,
      rollback: false,
    },
    {
      name: 'opted in to retraining, labels say Ok: nothing',
      input: { estimate: 'Degraded', quality: 'Ok', settings: optIn({ retrainOnEstimatedDegraded: true }) },
      verdict: 'NoDrift',
      retrain: false,
      rollback: false,
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const d = decideRun(run({ now: NOW, ...row.input }));
      expect({ verdict: d.verdict, retrain: d.retrain, rollback: d.rollback }).toEqual({
        verdict: row.verdict,
        retrain: row.retrain,
        rollback: row.rollback,
      });
    });
  }

  it('alerts on the change to EstimatedDegraded and on the recovery, not on every run', () => {
    expect(estimated().alert).toMatchObject({ from: null, to: 'EstimatedDegraded' });
    expect(
      estimated({ history: [past('no_drift', 'EstimatedDegraded')], lastAlertedVerdict: 'EstimatedDegraded' })
        .alert,
    ).toBeNull();
    const recovered = decideRun(
      run({
        estimate: 'Ok',
        history: [past('no_drift', 'EstimatedDegraded')],
        lastAlertedVerdict: 'EstimatedDegraded',
      }),
    );
    expect(recovered.alert).toMatchObject({ from: 'EstimatedDegraded', to: 'NoDrift' });
  });

  it('retrains once per streak of degraded estimates, within the guardrails', () => {
    const settings = optIn({ retrainOnEstimatedDegraded: true });
    const asked: PastRun = {
      ...past('no_drift', 'EstimatedDegraded', true),
      finishedAt: new Date(NOW.getTime() - 8 * HOUR),
    };
    expect(estimated({ settings, now: NOW, history: [asked] }).retrain).toBe(false);
    // A new streak (a clean run between) may retrain again, once the cooldown is over.
    const clean = { ...past('no_drift'), finishedAt: new Date(NOW.getTime() - 7 * HOUR) };
    expect(estimated({ settings, now: NOW, history: [asked, clean] }).retrain).toBe(true);
    const recent: PastRun = { ...asked, finishedAt: new Date(NOW.getTime() - HOUR) };
    const held = estimated({ settings, now: NOW, history: [recent, clean] });
    expect(held.retrain).toBe(false);
    expect(held.reasons.join('\n')).toMatch(/no retrain: cooldown/);
  });

  it('holds a promotion only when opted in and the challenger itself is estimated degraded', () => {
    const evidence = {
      challenger: 'v3',
      metric: 'roc_auc',
      minLabels: 200,
      margin: 0.01,
      champion: 0.7,
      challengerValue: 0.75,
      labelledRows: 300,
    };
    const hold = optIn({ holdPromotionOnEstimatedDegraded: true });
    const degraded = { ...evidence, challengerEstimate: 'Degraded' as const };
    expect(decideRun(run({ promotion: degraded })).promotion?.promote).toBe(true);
    const held = decideRun(run({ promotion: degraded, settings: hold }));
    expect(held.promotion).toMatchObject({ promote: false, ready: true });
    expect(held.promotion?.reason).toMatch(/^held: the challenger's estimated quality is degraded/);
    expect(
      decideRun(run({ promotion: { ...evidence, challengerEstimate: 'Ok' }, settings: hold })).promotion
        ?.promote,
    ).toBe(true);
  });
});
