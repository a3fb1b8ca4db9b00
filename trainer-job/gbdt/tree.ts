/**
 * A regression tree as the learner grows it and as the ONNX exporter writes it. Node 0 is the
 * root; a node with feature -1 is a leaf. Internal nodes send a row left when its value is
 * <= threshold (float32) and, when the value is missing, to the side `missingLeft` says.
 */
export interface Tree {
  feature: number[];
  /** float32-exact upper bound of the last bin on the left. */
  threshold: number[];
  /** The same split as a bin code (left when code <= thresholdBin). */
  thresholdBin: number[];
  missingLeft: boolean[];
  left: number[];
  right: number[];
  /** Leaf output, learning rate included (0 for internal nodes). */
  value: number[];
  /** Split gain (0 for leaves), for feature importance. */
  gain: number[];
  /** Training rows (in the bag) that reached the node. */
  count: number[];
}

export function newTree(): Tree {
  return {
    feature: [-1],
    threshold: [0],
    thresholdBin: [0],
    missingLeft: [false],
    left: [-1],
    right: [-1],
    value: [0],
    gain: [0],
    count: [0],
  };
}

export function addLeaf(tree: Tree, count: number): number {
  tree.feature.push(-1);
  tree.threshold.push(0);
  tree.thresholdBin.push(0);
  tree.missingLeft.push(false);
  tree.left.push(-1);
  tree.right.push(-1);
  tree.value.push(0);
  tree.gain.push(0);
  tree.count.push(count);
  return tree.feature.length - 1;
}

export function numLeaves(tree: Tree): number {
  return tree.feature.filter((f) => f < 0).length;
}

/** The leaf a row of raw float32 features reaches. */
export function leafOfRow(tree: Tree, features: readonly Float32Array[], row: number): number {
  let node = 0;
  while (tree.feature[node]! >= 0) {
    const v = features[tree.feature[node]!]![row]!;
    const goLeft = Number.isNaN(v) ? tree.missingLeft[node]! : v <= tree.threshold[node]!;
    node = goLeft ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}

/** The leaf a row of bin codes reaches (same decisions as leafOfRow on the raw values). */
export function leafOfBinnedRow(
  tree: Tree,
  codes: readonly Uint8Array[],
  missingBins: ArrayLike<number>,
  row: number,
): number {
  let node = 0;
  while (tree.feature[node]! >= 0) {
    const f = tree.feature[node]!;
    const code = codes[f]![row]!;
    const goLeft = code === missingBins[f] ? tree.missingLeft[node]! : code <= tree.thresholdBin[node]!;
    node = goLeft ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}
