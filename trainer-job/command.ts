import { defineCommand } from '../core/command.js';
import { trainSettings } from '../core/train-settings.js';
import { optionsFromSettings } from './options.js';
import { createProgress } from './progress.js';
import { trainModel } from './train.js';

export { trainSettings };

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train, evaluate, gate and register a model version',
  description: [
    'Trains a gradient-boosted tree model (tuned by random search + successive halving) and a',
    'linear baseline on a split of the dataset (time, random or stratified; see --split), evaluates',
    'them on the holdout, applies the',
    'quality gate, exports one ONNX graph (preprocessing + model), checks it against the',
    'TypeScript model, writes model.onnx, schema.json, metrics.json, trials.json,',
    'reference.parquet, report.html and manifest.json, and records the version in the registry.',
    'Prints a JSON summary on stdout. Exit codes: 0 trained (registered or rejected by the gate),',
    '2 bad settings, 3 bad data, 1 unexpected failure.',
  ].join('\n'),
  settings: trainSettings,
  run: async (v) => {
    const result = await trainModel(optionsFromSettings(v, createProgress(process.stderr, !v.quiet)));
    const summary = {
      model: result.modelName,
      version: result.version,
      task: result.task,
      status: result.status,
      deployable: result.deployable,
      registered: result.registered,
      gate: {
        passed: result.gate.passed,
        summary: result.gate.summary,
        reasons: result.gate.reasons,
        checks: result.gate.checks,
      },
      data: result.metrics.data,
      holdout: result.metrics.holdout,
      baseline: result.metrics.baseline,
      onnx_parity: result.metrics.onnx_parity,
      artifact_root: result.artifactRoot,
      artifacts: result.artifacts,
      schema_digest: result.schemaDigest,
      lineage: result.lineage,
      seconds: Number(result.seconds.toFixed(2)),
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  },
});
