import { describe, expect, it } from 'vitest';
import {
  averagePrecision,
  bestF1Threshold,
  calibration,
  classificationMetrics,
  regressionMetrics,
  rocAuc,
} from './metrics.js';

describe('metrics', () => {
  it('ROC AUC and average precision match known values (scikit-learn docs example)', () => {
    const y = [0, 0, 1, 1];
    const s = [0.1, 0.4, 0.35, 0.8];
    expect(rocAuc(y, s)).toBeCloseTo(0.75, 12);
    expect(averagePrecision(y, s)).toBeCloseTo(0.8333333333, 9);
  });

  it('counts ties as half and gives 0.5 for a constant score', () => {
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    expect(rocAuc([0, 1], [0.2, 0.2])).toBe(0.5);
    expect(rocAuc([0, 0, 1], [0.1, 0.9, 0.9])).toBeCloseTo(0.75, 12);
  });

  it('computes log loss, Brier score and the confusion metrics at a threshold', () => {
    const m = classificationMetrics([1, 0, 1, 0], [0.9, 0.2, 0.4, 0.6], 0.5);
    expect(m.log_loss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8) + Math.log(0.4) + Math.log(0.4)) / 4, 12);
    expect(m.brier).toBeCloseTo((0.01 + 0.04 + 0.36 + 0.36) / 4, 12);
    expect(m.accuracy).toBe(0.5);
    expect(m.precision).toBe(0.5);
    expect(m.recall).toBe(0.5);
    expect(m.f1).toBe(0.5);
  });

  it('picks the F1-maximising threshold', () => {
    expect(bestF1Threshold([1, 1, 0, 0], [0.9, 0.7, 0.3, 0.1])).toBe(Math.fround(0.7));
  });

  it('bins calibration by predicted probability', () => {
    const bins = calibration([0, 1, 1, 1], [0.05, 0.08, 0.95, 0.99], 10);
    expect(bins).toHaveLength(2);
    expect(bins[0]).toMatchObject({ rows: 2, observed_rate: 0.5 });
    expect(bins[1]).toMatchObject({ rows: 2, observed_rate: 1 });
  });

  it('computes RMSE, MAE and R²', () => {
    const m = regressionMetrics([1, 2, 3, 4], [1, 2, 3, 6]);
    expect(m.rmse).toBeCloseTo(1, 12);
    expect(m.mae).toBeCloseTo(0.5, 12);
    expect(m.r2).toBeCloseTo(1 - 4 / 5, 12);
  });
});
