import { Booster, DEFAULT_GBDT_PARAMS, type GbdtParams } from './gbdt/booster.js';
import type { BinnedDataset } from './gbdt/dataset.js';
import type { Objective } from './gbdt/loss.js';
import { Random } from './random.js';

/**
 * Hyperparameter search: random search over the space below, pruned by successive halving.
 * Every trial starts with `minRounds` trees; at each rung the better half (1/eta) of the
 * survivors, by validation loss at their best iteration, grows eta times more trees (resumed,
 * not retrained), until one is left; it then grows to `maxRounds` with early stopping.
 *
 * The space (sampled with the run's seed, so a seed fixes every trial):
 * - learningRate: log-uniform in [0.03, 0.3]
 * - numLeaves: log-uniform integer in [15, 255]
 * - minDataInLeaf: log-uniform integer in [10, 500] (narrower below 5,000 training rows:
 *   see minDataInLeafRange)
 * - lambdaL2: log-uniform in [0.001, 30]
 * - featureFraction: uniform in [0.6, 1]
 * - baggingFraction: uniform in [0.6, 1]
 * Trial 0 is always the well-known default (0.1, 63 leaves, 20 rows per leaf, λ = 1, no
 * sampling), so a tiny budget still tries a sensible model.
 */
export interface TuningOptions {
  objective: Objective;
  trials: number;
  minRounds: number;
  maxRounds: number;
  eta: number;
  earlyStoppingRounds: number;
  seed: number;
  onProgress?: (event: TrialEvent) => void;
}

export interface TrialRung {
  rounds: number;
  valid_loss: number;
  best_iteration: number;
}

export interface Trial {
  trial: number;
  params: GbdtParams;
  rungs: TrialRung[];
  /** Rung index where it was dropped; undefined for the winner. */
  eliminated_at_rung?: number | undefined;
  seconds: number;
}

export interface TrialEvent {
  trial: number;
  rung: number;
  rounds: number;
  validLoss: number;
  done: number;
  total: number;
}

export interface TuningResult {
  trials: Trial[];
  best: Trial;
  booster: Booster;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function logUniform(rng: Random, lo: number, hi: number): number {
  return Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo)));
}

/**
 * The range of minDataInLeaf for `trainRows` rows: [10, 500] from 5,000 rows up; below that the
 * top shrinks to a tenth of the rows (a leaf needing more rows than a tenth of a small table
 * leaves a stump) and the bottom to a fiftieth (at least 2).
 */
export function minDataInLeafRange(trainRows: number): [number, number] {
  // From SMALL_TABLE_ROWS (5,000) up, [10, 500].
  const hi = Math.min(500, Math.max(20, trainRows / 10));
  const lo = Math.min(10, Math.max(2, trainRows / 50));
  return [lo, hi];
}

export function sampleParams(
  rng: Random,
  base: GbdtParams,
  trial: number,
  trainRows = Number.POSITIVE_INFINITY,
): GbdtParams {
  if (trial === 0) {
    return {
      ...base,
      learningRate: 0.1,
      numLeaves: 63,
      minDataInLeaf: 20,
      lambdaL2: 1,
      featureFraction: 1,
      baggingFraction: 1,
    };
  }
  return {
    ...base,
    learningRate: round(logUniform(rng, 0.03, 0.3)),
    numLeaves: Math.round(logUniform(rng, 15, 255)),
    minDataInLeaf: Math.round(logUniform(rng, ...minDataInLeafRange(trainRows))),
    lambdaL2: round(logUniform(rng, 0.001, 30)),
    featureFraction: round(0.6 + rng.next() * 0.4),
    baggingFraction: round(0.6 + rng.next() * 0.4),
    seed: rng.int(1, 2 ** 31 - 1),
  };
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}

export async function tune(
  train: BinnedDataset,
  valid: BinnedDataset,
  options: TuningOptions,
): Promise<TuningResult> {
  const rng = new Random(options.seed);
  const base: GbdtParams = {
    ...DEFAULT_GBDT_PARAMS,
    objective: options.objective,
    earlyStoppingRounds: options.earlyStoppingRounds,
    seed: options.seed,
  };
  const trials: Trial[] = [];
  const boosters: (Booster | undefined)[] = [];
  for (let t = 0; t < Math.max(1, options.trials); t++) {
    const params = sampleParams(rng, base, t, train.numRows);
    trials.push({ trial: t, params, rungs: [], seconds: 0 });
    boosters.push(new Booster(train, valid, params));
  }
  try {
    const rungRounds: number[] = [];
    let alive = trials.map((_, i) => i);
    for (let survivors = alive.length, rounds = options.minRounds; survivors > 1; ) {
      rungRounds.push(Math.min(rounds, options.maxRounds));
      survivors = Math.ceil(survivors / options.eta);
      rounds *= options.eta;
    }
    rungRounds.push(options.maxRounds);
    const total = rungRounds.reduce(
      (sum, _, r) => sum + Math.max(1, Math.ceil(alive.length / options.eta ** r)),
      0,
    );
    let done = 0;
    for (let rung = 0; rung < rungRounds.length; rung++) {
      const rounds = rungRounds[rung]!;
      for (const i of alive) {
        const booster = boosters[i]!;
        const start = performance.now();
        // One tree at a time, yielding in between: an in-process caller (the demo serves
        // traffic from the same event loop) is never blocked for more than one tree.
        while (booster.iterations < rounds && !booster.stopped) {
          booster.boost(1);
          await yieldToEventLoop();
        }
        const trial = trials[i]!;
        trial.seconds += (performance.now() - start) / 1000;
        trial.rungs.push({
          rounds: booster.iterations,
          valid_loss: booster.bestLoss,
          best_iteration: booster.bestIteration,
        });
        done++;
        options.onProgress?.({
          trial: i,
          rung,
          rounds: booster.iterations,
          validLoss: booster.bestLoss,
          done,
          total,
        });
      }
      if (rung === rungRounds.length - 1) break;
      const keep = Math.max(1, Math.ceil(alive.length / options.eta));
      // Ties broken by trial number, so the order (and the winner) is reproducible.
      const ranked = [...alive].sort((a, b) => boosters[a]!.bestLoss - boosters[b]!.bestLoss || a - b);
      for (const i of ranked.slice(keep)) {
        trials[i]!.eliminated_at_rung = rung;
        // Its scores, buffers and worker thread are not needed any more: let them go.
        boosters[i]?.dispose();
        boosters[i] = undefined;
      }
      alive = ranked.slice(0, keep).sort((a, b) => a - b);
      if (alive.length === 1 && rung + 1 < rungRounds.length - 1) {
        // One survivor: go straight to the final budget.
        rungRounds.splice(rung + 1, rungRounds.length - rung - 2);
      }
    }
    const winner = alive.reduce((a, b) => (boosters[b]!.bestLoss < boosters[a]!.bestLoss ? b : a));
    for (const i of alive) if (i !== winner) trials[i]!.eliminated_at_rung = rungRounds.length - 1;
    return { trials, best: trials[winner]!, booster: boosters[winner]! };
  } finally {
    // Worker threads go whatever happens; the winner's trees stay usable.
    for (const booster of boosters) booster?.dispose();
  }
}
