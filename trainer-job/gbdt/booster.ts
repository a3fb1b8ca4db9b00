import { Random } from '../random.js';
import type { BinnedDataset } from './dataset.js';
import { HistogramBuilder, STRIDE, shared } from './histogram.js';
import { gradients, initialScore, meanLoss, type Objective } from './loss.js';
import { addLeaf, leafOfBinnedRow, newTree, type Tree } from './tree.js';

export interface GbdtParams {
  objective: Objective;
  learningRate: number;
  /** Maximum leaves per tree (leaf-wise growth). */
  numLeaves: number;
  /** Maximum depth; 0 = unlimited. */
  maxDepth: number;
  minDataInLeaf: number;
  minSumHessianInLeaf: number;
  /** L2 regularisation of leaf values. */
  lambdaL2: number;
  /** Share of features each tree may use. */
  featureFraction: number;
  /** Share of rows each tree is grown on. */
  baggingFraction: number;
  /** Stop when the validation loss has not improved for this many rounds (0 = never). */
  earlyStoppingRounds: number;
  seed: number;
}

export const DEFAULT_GBDT_PARAMS: GbdtParams = {
  objective: 'binary',
  learningRate: 0.1,
  numLeaves: 31,
  maxDepth: 0,
  minDataInLeaf: 20,
  minSumHessianInLeaf: 1e-3,
  lambdaL2: 0,
  featureFraction: 1,
  baggingFraction: 1,
  earlyStoppingRounds: 20,
  seed: 1,
};

/** A trained ensemble: raw score = baseScore + sum of the trees' leaf values. */
export interface GbdtModel {
  objective: Objective;
  baseScore: number;
  trees: Tree[];
  numFeatures: number;
}

interface Leaf {
  node: number;
  start: number;
  count: number;
  depth: number;
  sumG: number;
  sumH: number;
  hist: Float64Array;
  split: Split | undefined;
}

interface Split {
  feature: number;
  bin: number;
  missingLeft: boolean;
  gain: number;
  leftCount: number;
  leftG: number;
  leftH: number;
}

/**
 * Histogram gradient boosting, grown leaf-wise like LightGBM: features are binned once; each
 * split builds the histogram of the smaller child and gets the larger one by subtracting it
 * from the parent's; missing values take whichever side gives the larger gain.
 *
 * `boost(rounds)` may be called again to continue, which successive halving uses to promote a
 * trial without retraining it.
 */
export class Booster {
  readonly trees: Tree[] = [];
  readonly baseScore: number;
  readonly validLosses: number[] = [];
  bestIteration = 0;
  bestLoss = Number.POSITIVE_INFINITY;
  stopped = false;

  private readonly rng: Random;
  private readonly trainScore: Float64Array;
  private readonly validScore: Float64Array | undefined;
  private readonly grad: Float64Array;
  private readonly hess: Float64Array;
  private readonly indices: Uint32Array;
  private readonly scratch: Uint32Array;
  private readonly inBag: Uint8Array;
  private readonly binOffset: Int32Array;
  private readonly histSize: number;
  private readonly binStrideOffset: Int32Array;
  private readonly leafOfRow: Int32Array;
  private readonly histPool: Float64Array[] = [];
  private readonly histograms: HistogramBuilder;

  constructor(
    private readonly train: BinnedDataset,
    private readonly valid: BinnedDataset | undefined,
    readonly params: GbdtParams,
    threads?: number,
  ) {
    if (train.numRows === 0) throw new Error('cannot train on zero rows');
    this.rng = new Random(params.seed);
    this.baseScore = initialScore(params.objective, train.label);
    this.trainScore = new Float64Array(train.numRows).fill(this.baseScore);
    this.validScore = valid ? new Float64Array(valid.numRows).fill(this.baseScore) : undefined;
    this.grad = shared(Float64Array, train.numRows);
    this.hess = shared(Float64Array, train.numRows);
    this.indices = shared(Uint32Array, train.numRows);
    this.scratch = new Uint32Array(train.numRows);
    this.inBag = new Uint8Array(train.numRows);
    this.leafOfRow = new Int32Array(train.numRows);
    this.binOffset = new Int32Array(train.codes.length + 1);
    for (let f = 0; f < train.codes.length; f++) {
      this.binOffset[f + 1] = this.binOffset[f]! + train.bins[f]!.missingBin + 1;
    }
    this.histSize = this.binOffset[train.codes.length]! * STRIDE;
    this.binStrideOffset = this.binOffset.map((o) => o * STRIDE);
    const offsets = shared(Int32Array, train.codes.length);
    offsets.set(this.binStrideOffset.subarray(0, train.codes.length));
    this.histograms = new HistogramBuilder(
      {
        rowCodes: train.rowCodes,
        numFeatures: train.codes.length,
        offsets,
        grad: this.grad,
        hess: this.hess,
        indices: this.indices,
        histSize: this.histSize,
      },
      threads,
    );
  }

  get iterations(): number {
    return this.trees.length;
  }

  /** Grows up to `rounds` more trees; stops early when validation stops improving. */
  boost(rounds: number): void {
    for (let r = 0; r < rounds && !this.stopped; r++) this.boostOne();
  }

  /** The model, cut at the best validation iteration when there is a validation set. */
  model(): GbdtModel {
    const keep = this.valid ? this.bestIteration : this.trees.length;
    return {
      objective: this.params.objective,
      baseScore: this.baseScore,
      trees: this.trees.slice(0, keep),
      numFeatures: this.train.codes.length,
    };
  }

  private boostOne(): void {
    const { objective, learningRate } = this.params;
    gradients(objective, this.train.label, this.trainScore, this.grad, this.hess);
    const bagSize = this.sampleRows();
    const features = this.sampleFeatures();
    const tree = this.growTree(bagSize, features);
    // Leaf values: Newton step, shrunk by the learning rate.
    for (let node = 0; node < tree.feature.length; node++) {
      if (tree.feature[node]! < 0) tree.value[node] = tree.value[node]! * learningRate;
    }
    this.updateTrainScores(tree, bagSize);
    this.trees.push(tree);
    if (this.valid && this.validScore) {
      const { codes, missingBins } = this.valid;
      for (let i = 0; i < this.valid.numRows; i++) {
        this.validScore[i] = this.validScore[i]! + tree.value[leafOfBinnedRow(tree, codes, missingBins, i)]!;
      }
      const loss = meanLoss(objective, this.valid.label, this.validScore);
      this.validLosses.push(loss);
      if (loss < this.bestLoss - 1e-12) {
        this.bestLoss = loss;
        this.bestIteration = this.trees.length;
      } else if (
        this.params.earlyStoppingRounds > 0 &&
        this.trees.length - this.bestIteration >= this.params.earlyStoppingRounds
      ) {
        this.stopped = true;
      }
    }
  }

  /** Fills `indices` with the rows of this round's bag (all rows without bagging). */
  private sampleRows(): number {
    const n = this.train.numRows;
    const fraction = this.params.baggingFraction;
    let size = 0;
    if (fraction >= 1) {
      for (let i = 0; i < n; i++) this.indices[i] = i;
      return n;
    }
    for (let i = 0; i < n; i++) {
      const take = this.rng.next() < fraction;
      this.inBag[i] = take ? 1 : 0;
      if (take) this.indices[size++] = i;
    }
    return size;
  }

  private sampleFeatures(): number[] {
    const all = Array.from({ length: this.train.codes.length }, (_, f) => f);
    if (this.params.featureFraction >= 1) return all;
    const k = Math.max(1, Math.round(all.length * this.params.featureFraction));
    return this.rng
      .shuffle(all)
      .slice(0, k)
      .sort((a, b) => a - b);
  }

  private growTree(bagSize: number, features: number[]): Tree {
    const { numLeaves, maxDepth, lambdaL2 } = this.params;
    const tree = newTree();
    const rootHist = this.histPool.pop()?.fill(0) ?? new Float64Array(this.histSize);
    this.buildHistogram(rootHist, 0, bagSize, features);
    let sumG = 0;
    let sumH = 0;
    for (let k = 0; k < bagSize; k++) {
      const r = this.indices[k]!;
      sumG += this.grad[r]!;
      sumH += this.hess[r]!;
    }
    const root: Leaf = {
      node: 0,
      start: 0,
      count: bagSize,
      depth: 0,
      sumG,
      sumH,
      hist: rootHist,
      split: undefined,
    };
    tree.count[0] = bagSize;
    root.split = this.bestSplit(root, features);
    const leaves: Leaf[] = [root];
    while (leaves.length < numLeaves) {
      let best = -1;
      for (let i = 0; i < leaves.length; i++) {
        const s = leaves[i]!.split;
        if (s && (best < 0 || s.gain > leaves[best]!.split!.gain)) best = i;
      }
      if (best < 0) break;
      const parent = leaves[best]!;
      const [left, right] = this.applySplit(tree, parent);
      const small = left.count <= right.count ? left : right;
      const large = small === left ? right : left;
      small.hist = this.histPool.pop()?.fill(0) ?? new Float64Array(this.histSize);
      this.buildHistogram(small.hist, small.start, small.start + small.count, features);
      large.hist = parent.hist;
      const ph = large.hist;
      const sh = small.hist;
      for (const f of features) {
        for (let j = this.binOffset[f]! * STRIDE; j < this.binOffset[f + 1]! * STRIDE; j++)
          ph[j] = ph[j]! - sh[j]!;
      }
      const canSplit = (leaf: Leaf) => maxDepth <= 0 || leaf.depth < maxDepth;
      left.split = canSplit(left) ? this.bestSplit(left, features) : undefined;
      right.split = canSplit(right) ? this.bestSplit(right, features) : undefined;
      leaves.splice(best, 1, left, right);
    }
    for (const leaf of leaves) {
      this.histPool.push(leaf.hist);
      tree.value[leaf.node] = -leaf.sumG / (leaf.sumH + lambdaL2);
      for (let k = leaf.start; k < leaf.start + leaf.count; k++) this.leafOfRow[this.indices[k]!] = leaf.node;
    }
    return tree;
  }

  private buildHistogram(hist: Float64Array, start: number, end: number, _features: number[]): void {
    // Unsampled features are accumulated too (cheaper than skipping them) and never looked at.
    this.histograms.build(hist, start, end);
  }

  /** Releases the histogram worker thread; the model stays available. */
  dispose(): void {
    this.histograms.close();
  }

  private bestSplit(leaf: Leaf, features: number[]): Split | undefined {
    const { minDataInLeaf, minSumHessianInLeaf, lambdaL2 } = this.params;
    if (leaf.count < 2 * minDataInLeaf) return undefined;
    const parentScore = (leaf.sumG * leaf.sumG) / (leaf.sumH + lambdaL2);
    let best: Split | undefined;
    const hist = leaf.hist;
    for (const f of features) {
      const base = this.binOffset[f]! * STRIDE;
      const missingBin = this.train.bins[f]!.missingBin;
      const mi = base + missingBin * STRIDE;
      const missG = hist[mi]!;
      const missH = hist[mi + 1]!;
      const missC = hist[mi + 2]!;
      let gl = 0;
      let hl = 0;
      let cl = 0;
      for (let b = 0; b < missingBin - 1; b++) {
        const i = base + b * STRIDE;
        gl += hist[i]!;
        hl += hist[i + 1]!;
        cl += hist[i + 2]!;
        if (hist[i + 2]! === 0) continue;
        // Missing to the right, then (when there are missing values) to the left.
        for (let side = 0; side < (missC > 0 ? 2 : 1); side++) {
          const lG = side === 0 ? gl : gl + missG;
          const lH = side === 0 ? hl : hl + missH;
          const lC = side === 0 ? cl : cl + missC;
          const rC = leaf.count - lC;
          if (lC < minDataInLeaf || rC < minDataInLeaf) continue;
          const rG = leaf.sumG - lG;
          const rH = leaf.sumH - lH;
          if (lH < minSumHessianInLeaf || rH < minSumHessianInLeaf) continue;
          const gain = (lG * lG) / (lH + lambdaL2) + (rG * rG) / (rH + lambdaL2) - parentScore;
          if (gain > 1e-10 && (!best || gain > best.gain)) {
            // Without missing values in training, unseen missing ones follow the larger side.
            const missingLeft = missC > 0 ? side === 1 : lC >= rC;
            best = { feature: f, bin: b, missingLeft, gain, leftCount: lC, leftG: lG, leftH: lH };
          }
        }
      }
    }
    return best;
  }

  /** Partitions the parent's rows (stable) and turns its node into a split. */
  private applySplit(tree: Tree, parent: Leaf): [Leaf, Leaf] {
    const split = parent.split!;
    const codes = this.train.codes[split.feature]!;
    const missingBin = this.train.bins[split.feature]!.missingBin;
    const { indices, scratch } = this;
    let l = parent.start;
    let r = 0;
    const end = parent.start + parent.count;
    for (let k = parent.start; k < end; k++) {
      const row = indices[k]!;
      const code = codes[row]!;
      const goLeft = code === missingBin ? split.missingLeft : code <= split.bin;
      if (goLeft) indices[l++] = row;
      else scratch[r++] = row;
    }
    indices.set(scratch.subarray(0, r), l);
    const leftCount = l - parent.start;
    const node = parent.node;
    tree.feature[node] = split.feature;
    tree.thresholdBin[node] = split.bin;
    tree.threshold[node] = this.train.bins[split.feature]!.upper[split.bin]!;
    tree.missingLeft[node] = split.missingLeft;
    tree.gain[node] = split.gain;
    const leftNode = addLeaf(tree, leftCount);
    const rightNode = addLeaf(tree, r);
    tree.left[node] = leftNode;
    tree.right[node] = rightNode;
    const depth = parent.depth + 1;
    const lG = split.leftG;
    const lH = split.leftH;
    const empty = parent.hist;
    return [
      {
        node: leftNode,
        start: parent.start,
        count: leftCount,
        depth,
        sumG: lG,
        sumH: lH,
        hist: empty,
        split: undefined,
      },
      {
        node: rightNode,
        start: l,
        count: r,
        depth,
        sumG: parent.sumG - lG,
        sumH: parent.sumH - lH,
        hist: empty,
        split: undefined,
      },
    ];
  }

  private updateTrainScores(tree: Tree, bagSize: number): void {
    const n = this.train.numRows;
    if (bagSize === n) {
      for (let i = 0; i < n; i++) this.trainScore[i] = this.trainScore[i]! + tree.value[this.leafOfRow[i]!]!;
      return;
    }
    const { codes, missingBins } = this.train;
    for (let i = 0; i < n; i++) {
      const leaf = this.inBag[i] ? this.leafOfRow[i]! : leafOfBinnedRow(tree, codes, missingBins, i);
      this.trainScore[i] = this.trainScore[i]! + tree.value[leaf]!;
    }
  }
}

/** Trains a model in one go (no resumption needed). */
export function trainGbdt(
  train: BinnedDataset,
  valid: BinnedDataset | undefined,
  params: GbdtParams,
  rounds: number,
): GbdtModel {
  const booster = new Booster(train, valid, params);
  try {
    booster.boost(rounds);
    return booster.model();
  } finally {
    booster.dispose();
  }
}
