import { describe, expect, it } from 'vitest';
import { applyBinsToSet, binTrainingSet } from './gbdt/dataset.js';
import { Random } from './random.js';
import { tune } from './tuning.js';

function data(seed: number, n: number) {
  const rng = new Random(seed);
  const x = [0, 1, 2].map(() => Float32Array.from({ length: n }, () => rng.next()));
  const y = Float64Array.from({ length: n }, (_, i) =>
    rng.next() < 0.2 + 0.6 * x[0]![i]! * x[1]![i]! ? 1 : 0,
  );
  return { x, y };
}

describe('tuning (random search + successive halving)', () => {
  const train = data(1, 3000);
  const valid = data(2, 1000);
  const trainSet = binTrainingSet(train.x, train.y);
  const validSet = applyBinsToSet(valid.x, valid.y, trainSet.bins);
  const options = {
    objective: 'binary' as const,
    trials: 8,
    minRounds: 5,
    maxRounds: 60,
    eta: 2,
    earlyStoppingRounds: 10,
    seed: 3,
  };

  it('halves the field at every rung and keeps the trial with the lowest validation loss', async () => {
    const result = await tune(trainSet, validSet, options);
    expect(result.trials).toHaveLength(8);
    const droppedAt = result.trials.map((t) => t.eliminated_at_rung);
    expect(droppedAt.filter((r) => r === 0)).toHaveLength(4);
    expect(droppedAt.filter((r) => r === 1)).toHaveLength(2);
    expect(droppedAt.filter((r) => r === 2)).toHaveLength(1);
    expect(droppedAt.filter((r) => r === undefined)).toHaveLength(1);
    expect(result.best.eliminated_at_rung).toBeUndefined();
    // Trial 0 is the documented default configuration.
    expect(result.trials[0]!.params).toMatchObject({
      learningRate: 0.1,
      numLeaves: 63,
      minDataInLeaf: 20,
      lambdaL2: 1,
    });
    // Among the trials that reached the last rung, the winner has the lowest loss there.
    const finalists = result.trials.filter((t) => t.rungs.length === result.best.rungs.length);
    for (const t of finalists)
      expect(result.best.rungs.at(-1)!.valid_loss).toBeLessThanOrEqual(t.rungs.at(-1)!.valid_loss);
    expect(result.booster.bestLoss).toBe(result.best.rungs.at(-1)!.valid_loss);
  });

  it('is deterministic for a seed', async () => {
    const strip = (r: Awaited<ReturnType<typeof tune>>) => r.trials.map((t) => ({ ...t, seconds: 0 }));
    const a = await tune(trainSet, validSet, options);
    const b = await tune(trainSet, validSet, options);
    const c = await tune(trainSet, validSet, { ...options, seed: 4 });
    expect(strip(b)).toEqual(strip(a));
    expect(strip(c).map((t) => t.params)).not.toEqual(strip(a).map((t) => t.params));
  });
});
