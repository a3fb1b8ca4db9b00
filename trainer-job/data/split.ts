import { Random } from '../random.js';
import type { Splits } from './time-split.js';

export type { SplitMethod } from '../../core/train-settings.js';

export interface Fractions {
  validationFraction: number;
  holdoutFraction: number;
}

/** Rows reordered so that each split is one range of them, with those ranges. */
export interface Arranged {
  rows: Uint32Array;
  splits: Splits;
}

/**
 * A seeded random split: the rows are shuffled and cut by the fractions. Inside each split the
 * rows keep their order in the table, so the result reads like the data.
 */
export function randomSplit(rows: Uint32Array, fractions: Fractions, seed: number): Arranged {
  const shuffled = new Random(seed).shuffle(Uint32Array.from(rows));
  const n = shuffled.length;
  const holdout = Math.round(n * fractions.holdoutFraction);
  const validation = Math.round(n * fractions.validationFraction);
  return arrange([
    shuffled.subarray(0, n - validation - holdout),
    shuffled.subarray(n - validation - holdout, n - holdout),
    shuffled.subarray(n - holdout),
  ]);
}

/**
 * A seeded split that keeps each class's share in every split: each class is shuffled and cut
 * by the fractions on its own. `label` holds 0/1 per table row.
 */
export function stratifiedSplit(
  rows: Uint32Array,
  label: Float64Array,
  fractions: Fractions,
  seed: number,
): Arranged {
  const rng = new Random(seed);
  const parts: number[][] = [[], [], []];
  for (const cls of [0, 1]) {
    const members = rng.shuffle(Uint32Array.from(rows.filter((r) => label[r] === cls)));
    const n = members.length;
    const holdout = Math.round(n * fractions.holdoutFraction);
    const validation = Math.round(n * fractions.validationFraction);
    parts[0]!.push(...members.subarray(0, n - validation - holdout));
    parts[1]!.push(...members.subarray(n - validation - holdout, n - holdout));
    parts[2]!.push(...members.subarray(n - holdout));
  }
  return arrange(parts.map((p) => Uint32Array.from(p)));
}

function arrange([train, validation, holdout]: ArrayLike<number>[]): Arranged {
  const sorted = [train!, validation!, holdout!].map((p) => Uint32Array.from(p).sort());
  const rows = new Uint32Array(sorted.reduce((s, p) => s + p.length, 0));
  let at = 0;
  const ranges = sorted.map((p) => {
    rows.set(p, at);
    at += p.length;
    return [at - p.length, at] as [number, number];
  });
  return { rows, splits: { train: ranges[0]!, validation: ranges[1]!, holdout: ranges[2]! } };
}
