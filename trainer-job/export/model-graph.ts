import type { FeatureSchema } from '../../core/feature-schema.js';
import {
  inputBase,
  modelInputNames,
  OUTPUT_LABEL,
  OUTPUT_PREDICTION,
  OUTPUT_PROBABILITY,
} from '../../core/model-input.js';
import { type Calibrator, isotonicSegments } from '../calibration.js';
import type { FeaturePlan } from '../data/plan.js';
import type { GbdtModel } from '../gbdt/booster.js';
import type { LinearModel } from '../linear/linear.js';
import { attr, DataType, GraphBuilder } from './onnx-graph.js';

const N = 'N';

/**
 * The whole model as one ONNX graph: the inputs core/model-input.ts defines, the feature
 * preprocessing (lookups for categories and airport attributes, imputation for the linear
 * model), the model, and the outputs of the contract. Serving cannot drift from training
 * because there is nothing else to serve.
 */
export function exportModel(options: {
  plan: FeaturePlan;
  model: { kind: 'gbdt'; gbdt: GbdtModel } | { kind: 'linear'; linear: LinearModel };
  threshold: number;
  /** Classification: the calibrator appended after the model (absent: the model's own probability). */
  calibrator?: Calibrator | undefined;
  docString: string;
  producerVersion: string;
}): Uint8Array {
  const g = new GraphBuilder();
  const features = preprocessing(g, options.plan.schema, options.plan);
  const x = g.node('Concat', features, [attr.int('axis', 1)]);
  const score =
    options.model.kind === 'gbdt'
      ? treeEnsemble(g, x, options.model.gbdt)
      : linear(g, x, options.model.linear);
  const flat = g.node('Reshape', [score, g.int64Tensor([-1], [1])]);
  if (options.plan.schema.task === 'binary-classification') {
    const probability = g.node('Identity', [calibrated(g, flat, options.calibrator)], [], {
      output: OUTPUT_PROBABILITY,
    });
    const positive = g.node('GreaterOrEqual', [probability, g.floatTensor([options.threshold], [])]);
    g.node('Cast', [positive], [attr.int('to', DataType.INT64)], { output: OUTPUT_LABEL });
    g.output(OUTPUT_LABEL, DataType.INT64, [N]);
    g.output(OUTPUT_PROBABILITY, DataType.FLOAT, [N]);
  } else {
    g.node('Identity', [flat], [], { output: OUTPUT_PREDICTION });
    g.output(OUTPUT_PREDICTION, DataType.FLOAT, [N]);
  }
  return g.encode(options.docString, options.producerVersion);
}

/**
 * The probability from the raw score, calibrated as trainer-job/calibration.ts fitted it (its
 * `applyCalibrator` is this subgraph in TypeScript, step for step in float32). Platt: σ(a·s + b).
 * Isotonic: the segment of the piecewise-linear function is found by counting the segment starts
 * ≤ p (a [N, segments] comparison; at most 64 segments), then y + slope · (p − x).
 */
function calibrated(g: GraphBuilder, score: string, c: Calibrator | undefined): string {
  if (!c) return g.node('Sigmoid', [score]);
  if (c.method === 'platt') {
    const scaled = g.node('Mul', [score, g.floatTensor([c.a], [])]);
    return g.node('Sigmoid', [g.node('Add', [scaled, g.floatTensor([c.b], [])])]);
  }
  const s = isotonicSegments(c);
  const p = g.node('Sigmoid', [score]);
  const low = g.node('Max', [p, g.floatTensor([c.x[0]!], [])]);
  const clipped = g.node('Min', [low, g.floatTensor([c.x[c.x.length - 1]!], [])]);
  const column = g.node('Reshape', [clipped, g.int64Tensor([-1, 1], [2])]);
  const started = g.node('GreaterOrEqual', [column, g.floatTensor(s.x, [1, s.x.length])]);
  const counted = g.node('Cast', [started], [attr.int('to', DataType.INT64)]);
  const count = g.node('ReduceSum', [counted, g.int64Tensor([1], [1])], [attr.int('keepdims', 0)]);
  const segment = g.node('Sub', [count, g.int64Tensor([1], [])]);
  const at = (values: number[]) => g.node('Gather', [g.floatTensor(values, [values.length]), segment]);
  const offset = g.node('Sub', [clipped, at(s.x)]);
  return g.node('Add', [at(s.y), g.node('Mul', [at(s.slope), offset])]);
}

/** Declares the contract's inputs and returns the model features as float [N,1] tensors. */
function preprocessing(g: GraphBuilder, schema: FeatureSchema, plan: FeaturePlan): string[] {
  // Graph inputs go by the schema's input names (core/model-input.ts): a column named
  // `Beak Length (mm)` feeds a C-identifier input; the plan's features refer to those.
  const stringInputs = new Set(schema.features.filter((f) => f.type === 'category').map(inputBase));
  for (const name of modelInputNames(schema)) {
    g.input(name, stringInputs.has(name) ? DataType.STRING : DataType.FLOAT, [N, 1]);
  }
  return plan.features.map((feature) => {
    if (!feature.lookup) return feature.input;
    return g.node(
      'LabelEncoder',
      [feature.input],
      [
        attr.strings('keys_strings', feature.lookup.keys),
        attr.floats('values_floats', feature.lookup.values),
        attr.float('default_float', Number.NaN),
      ],
      { domain: 'ai.onnx.ml' },
    );
  });
}

/** TreeEnsembleRegressor (ai.onnx.ml 3) with learned missing-value directions: raw score [N,1]. */
function treeEnsemble(g: GraphBuilder, x: string, model: GbdtModel): string {
  const n = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    featureIds: [] as number[],
    values: [] as number[],
    modes: [] as string[],
    trueIds: [] as number[],
    falseIds: [] as number[],
    missingTrue: [] as number[],
  };
  const t = {
    treeIds: [] as number[],
    nodeIds: [] as number[],
    ids: [] as number[],
    weights: [] as number[],
  };
  model.trees.forEach((tree, treeId) => {
    for (let node = 0; node < tree.feature.length; node++) {
      const leaf = tree.feature[node]! < 0;
      n.treeIds.push(treeId);
      n.nodeIds.push(node);
      n.featureIds.push(leaf ? 0 : tree.feature[node]!);
      n.values.push(leaf ? 0 : tree.threshold[node]!);
      n.modes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      n.trueIds.push(leaf ? 0 : tree.left[node]!);
      n.falseIds.push(leaf ? 0 : tree.right[node]!);
      n.missingTrue.push(!leaf && tree.missingLeft[node] ? 1 : 0);
      if (leaf) {
        t.treeIds.push(treeId);
        t.nodeIds.push(node);
        t.ids.push(0);
        t.weights.push(tree.value[node]!);
      }
    }
  });
  if (model.trees.length === 0) {
    // An ensemble needs a tree: one leaf worth nothing.
    n.treeIds.push(0);
    n.nodeIds.push(0);
    n.featureIds.push(0);
    n.values.push(0);
    n.modes.push('LEAF');
    n.trueIds.push(0);
    n.falseIds.push(0);
    n.missingTrue.push(0);
    t.treeIds.push(0);
    t.nodeIds.push(0);
    t.ids.push(0);
    t.weights.push(0);
  }
  return g.node(
    'TreeEnsembleRegressor',
    [x],
    [
      attr.int('n_targets', 1),
      attr.ints('nodes_treeids', n.treeIds),
      attr.ints('nodes_nodeids', n.nodeIds),
      attr.ints('nodes_featureids', n.featureIds),
      attr.floats('nodes_values', n.values),
      attr.strings('nodes_modes', n.modes),
      attr.ints('nodes_truenodeids', n.trueIds),
      attr.ints('nodes_falsenodeids', n.falseIds),
      attr.ints('nodes_missing_value_tracks_true', n.missingTrue),
      attr.ints('target_treeids', t.treeIds),
      attr.ints('target_nodeids', t.nodeIds),
      attr.ints('target_ids', t.ids),
      attr.floats('target_weights', t.weights),
      attr.floats('base_values', [model.baseScore]),
      attr.string('aggregate_function', 'SUM'),
      attr.string('post_transform', 'NONE'),
    ],
    { domain: 'ai.onnx.ml' },
  );
}

/**
 * The linear model in double precision (so onnxruntime and TypeScript agree to the last float32
 * bit): impute missing values with the training means, standardise, weigh, add the intercept.
 */
function linear(g: GraphBuilder, x: string, model: LinearModel): string {
  const f = model.weights.length;
  const xd = g.node('Cast', [x], [attr.int('to', DataType.DOUBLE)]);
  const missing = g.node('IsNaN', [xd]);
  const imputed = g.node('Where', [missing, g.doubleTensor(model.means, [1, f]), xd]);
  const centred = g.node('Sub', [imputed, g.doubleTensor(model.means, [1, f])]);
  const scaled = g.node('Div', [centred, g.doubleTensor(model.scales, [1, f])]);
  const weighted = g.node('MatMul', [scaled, g.doubleTensor(model.weights, [f, 1])]);
  const score = g.node('Add', [weighted, g.doubleTensor([model.intercept], [1, 1])]);
  return g.node('Cast', [score], [attr.int('to', DataType.FLOAT)]);
}
