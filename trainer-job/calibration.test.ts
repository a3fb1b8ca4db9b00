import { describe, expect, it } from 'vitest';
import {
  applyCalibrator,
  calibrationQuality,
  chooseCalibrator,
  expectedCalibrationError,
  fitIsotonic,
  fitPlatt,
  MAX_KNOTS,
  uncalibrated,
} from './calibration.js';
import { Random } from './random.js';

/** Raw scores of an over-confident model: the true log-odds are half of what it says (plus a shift). */
function overconfident(rows: number, seed: number, shift = 0) {
  const r = new Random(seed);
  const raw = new Float64Array(rows);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    raw[i] = Math.fround((r.next() - 0.5) * 8);
    y[i] = r.next() < 1 / (1 + Math.exp(-(raw[i]! / 2 + shift))) ? 1 : 0;
  }
  return { raw, y };
}

describe('calibration fitted on validation rows', () => {
  it('Platt finds the log-odds scale and shift that generated the labels', () => {
    const { raw, y } = overconfident(40_000, 1, -0.5);
    const { a, b } = fitPlatt(raw, y);
    expect(a).toBeCloseTo(0.5, 1);
    expect(b).toBeCloseTo(-0.5, 1);
  });

  it('isotonic is non-decreasing, at most MAX_KNOTS knots, and clipped outside its range', () => {
    const { raw, y } = overconfident(20_000, 2);
    const iso = fitIsotonic(raw.map(uncalibrated), y);
    expect(iso.x.length).toBeLessThanOrEqual(MAX_KNOTS);
    for (let k = 1; k < iso.x.length; k++) {
      expect(iso.x[k]!).toBeGreaterThan(iso.x[k - 1]!);
      expect(iso.y[k]!).toBeGreaterThanOrEqual(iso.y[k - 1]!);
    }
    const c = { method: 'isotonic' as const, ...iso };
    const out = applyCalibrator(c, Float64Array.from([-50, 50]));
    expect(out[0]).toBe(iso.y[0]);
    expect(out[1]).toBe(iso.y[iso.y.length - 1]);
  });

  it('chooses a calibrator that lowers log loss and ECE on new rows, and records every candidate', () => {
    const valid = overconfident(20_000, 3);
    const choice = chooseCalibrator(valid.raw, valid.y);
    expect(['platt', 'isotonic']).toContain(choice.calibrator.method);
    expect(Math.min(choice.candidates.platt, choice.candidates.isotonic)).toBeLessThan(
      choice.candidates.uncalibrated,
    );
    const test = overconfident(20_000, 4);
    const before = calibrationQuality(test.y, test.raw.map(uncalibrated));
    const after = calibrationQuality(test.y, applyCalibrator(choice.calibrator, test.raw));
    expect(after.log_loss).toBeLessThan(before.log_loss);
    expect(after.ece).toBeLessThan(before.ece / 3);
    expect(after.brier).toBeLessThan(before.brier);
  });

  it('isotonic wins when the miscalibration is not a sigmoid of the score', () => {
    const r = new Random(5);
    const rows = 20_000;
    const raw = new Float64Array(rows);
    const y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      raw[i] = Math.fround((r.next() - 0.5) * 8);
      // A step: no Platt curve fits it.
      y[i] = r.next() < (raw[i]! > 1 ? 0.8 : 0.1) ? 1 : 0;
    }
    expect(chooseCalibrator(raw, y).calibrator.method).toBe('isotonic');
  });

  it('ECE is zero for perfectly calibrated bins and refuses too few rows', () => {
    expect(expectedCalibrationError([0, 1], [0.5, 0.5])).toBe(0);
    expect(() => chooseCalibrator([0.1], [1])).toThrow(/validation rows/);
  });
});
