import { z } from 'zod';
import { Task } from '../feature-schema.js';
import { SplitMethod } from '../train-settings.js';
import {
  Conditions,
  type CustomObject,
  immutable,
  ObjectName,
  ObservedGeneration,
  ResourceRequirements,
  Timestamp,
  withRules,
} from './common.js';

/** The registry's version label: what `mlcycle train --model-version` takes. */
export const RegistryVersion = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/, 'lower-case letters, digits, dots and dashes, e.g. v1');

const Fraction = z.number().min(0).max(1);

// The trainer takes a list as one comma-separated flag, so a name in it cannot hold a comma.
const ColumnList = z
  .array(
    z
      .string()
      .min(1)
      .max(256)
      .regex(/^[^,]+$/, 'a column name here cannot contain a comma'),
  )
  .max(1000)
  .optional();

export const DatasetSpec = z
  .object({
    uri: z
      .string()
      .min(1)
      .max(2048)
      .describe(
        'Where the training data is: builtin:flights, s3://bucket/key.parquet, or a path inside the image.',
      ),
    target: z
      .string()
      .min(1)
      .optional()
      .describe('Column to predict. Defaults to the dataset preset (builtin:flights: delay).'),
    timeColumn: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Timestamp column used to split by time. Defaults to the dataset preset (builtin:flights: date).',
      ),
    positiveLabel: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Binary classification: the target value predicted as 1 (e.g. MALE). Default: true, 1 or yes for such pairs, else the second value in sorted order.',
      ),
    include: ColumnList.describe(
      'Columns used as features although they look like row identifiers (near-unique text, row counters), which are left out by default.',
    ),
    exclude: ColumnList.describe('Columns never used as features.'),
    rows: z
      .number()
      .int()
      .min(100)
      .optional()
      .describe('Sample at most this many rows, evenly over the period. Defaults to the dataset preset.'),
    since: Timestamp.optional().describe(
      'Only rows at or after this time (RFC 3339); a retraining on recent data sets it.',
    ),
    until: Timestamp.optional().describe('Only rows before this time (RFC 3339).'),
    split: withRules(
      z
        .object({
          method: SplitMethod.optional().describe(
            'time (the most recent rows are held out), random, or stratified (random, each class keeping its share). Default: time when the data has one timestamp column with enough distinct values, else stratified for classification and random for regression.',
          ),
          validation: Fraction.default(0.15).describe(
            'Share of rows used for early stopping and tuning (in a time split, those after the training rows).',
          ),
          holdout: Fraction.default(0.15).describe(
            'Share of rows kept aside for the final evaluation and the gate (in a time split, the most recent).',
          ),
        })
        .describe('How the rows are split into training, validation and holdout.'),
      [
        {
          rule: 'self.validation + self.holdout < 0.9',
          message: 'split.validation + split.holdout must leave at least 10% of the rows for training',
        },
        { rule: 'self.holdout > 0.0', message: 'split.holdout must be above 0: the gate needs a holdout' },
      ],
    ).optional(),
  })
  .describe('The training data and how it is split.');

export const TrainingSpec = z
  .object({
    algorithm: z
      .enum(['gbdt'])
      .default('gbdt')
      .describe(
        'The learner: gbdt (histogram gradient-boosted trees, tuned). A regularised linear baseline is always trained beside it for comparison.',
      ),
    trials: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe('Hyperparameter search budget (number of trials). Defaults to the trainer default.'),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2147483647)
      .default(42)
      .describe('Random seed: the same data and seed give the same model.'),
  })
  .describe('How the model is trained.');

export const GateSpec = z
  .object({
    minRocAuc: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe('Binary classification: reject the version if holdout ROC AUC is below this.'),
    maxRmse: z
      .number()
      .min(0)
      .optional()
      .describe('Regression: reject the version if holdout RMSE is above this.'),
    minLiftOverBaseline: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe(
        'Reject unless the holdout metric beats the trivial baseline by this margin: ROC AUC points, or relative RMSE reduction.',
      ),
    mustBeatChampion: z
      .boolean()
      .default(false)
      .describe(
        'Reject unless the version beats the current champion of the same model on the same holdout.',
      ),
  })
  .describe('The quality gate: a version failing it is recorded as Rejected and cannot be served.');

export const ModelVersionSpec = withRules(
  z
    .object({
      model: immutable(ObjectName, 'spec.model').describe(
        'Registered model this version belongs to, e.g. flights-delay (a DNS-1123 label).',
      ),
      version: immutable(RegistryVersion, 'spec.version').describe(
        'Version label in the registry, e.g. v1; unique within the model.',
      ),
      task: immutable(Task.default('binary-classification'), 'spec.task').describe(
        'binary-classification or regression.',
      ),
      dataset: DatasetSpec,
      training: TrainingSpec.optional(),
      gate: GateSpec.optional(),
      resources: ResourceRequirements.optional().describe('Compute resources of the trainer Job.'),
      lineage: z
        .object({
          retrainedFrom: z.string().optional().describe('The ModelVersion this one retrains.'),
          deployment: z
            .string()
            .optional()
            .describe('The ModelDeployment it was retrained for: once Registered it becomes its challenger.'),
          driftMonitor: z.string().optional().describe('The DriftMonitor that asked for it.'),
          driftRun: z.string().optional().describe('The drift run that asked for it.'),
        })
        .optional()
        .describe('Why this version exists: set by the operator on retraining versions.'),
    })
    .describe('What to train: data, algorithm, budget and the gate the result must pass.'),
  [
    {
      rule: "self.task == 'regression' || !has(self.gate) || !has(self.gate.maxRmse)",
      message: 'gate.maxRmse applies to regression; use gate.minRocAuc for binary-classification',
      fieldPath: '.gate.maxRmse',
    },
    {
      rule: "self.task == 'binary-classification' || !has(self.gate) || !has(self.gate.minRocAuc)",
      message: 'gate.minRocAuc applies to binary-classification; use gate.maxRmse for regression',
      fieldPath: '.gate.minRocAuc',
    },
    {
      rule: '!has(self.dataset.since) || !has(self.dataset.until) || self.dataset.since < self.dataset.until',
      message: 'dataset.since must be before dataset.until',
      fieldPath: '.dataset.since',
    },
  ],
);
export type ModelVersionSpec = z.output<typeof ModelVersionSpec>;

export const ModelVersionPhase = z.enum(['Pending', 'Training', 'Registered', 'Rejected', 'Failed']);
export type ModelVersionPhase = z.infer<typeof ModelVersionPhase>;

export const ModelVersionStatus = z
  .object({
    observedGeneration: ObservedGeneration.optional(),
    phase: ModelVersionPhase.optional().describe(
      'Pending (waiting for its Job), Training, Registered (passed the gate, can be served), Rejected (failed the gate) or Failed (the run broke).',
    ),
    message: z
      .string()
      .optional()
      .describe('One line on the current phase: the gate reasons or the failure cause.'),
    conditions: Conditions.optional(),
    jobName: z.string().optional().describe('The trainer Job of the observed generation.'),
    startTime: Timestamp.optional().describe('When the trainer Job was created.'),
    completionTime: Timestamp.optional().describe('When the outcome was recorded.'),
    scoreMetric: z
      .enum(['roc_auc', 'rmse'])
      .optional()
      .describe('The headline holdout metric: roc_auc for classification, rmse for regression.'),
    score: z.number().optional().describe('Value of the headline holdout metric.'),
    holdout: z
      .record(z.string(), z.number())
      .optional()
      .describe('Holdout metrics by name (roc_auc, pr_auc, log_loss, brier, … or rmse, mae, r2).'),
    baseline: z
      .record(z.string(), z.number())
      .optional()
      .describe('The trivial baseline (prior or mean) on the same holdout.'),
    gate: z
      .object({
        passed: z.boolean().describe('Whether the version passed the gate.'),
        reasons: z.array(z.string()).describe('Why it passed or failed, one reason per check.'),
      })
      .optional()
      .describe('The gate outcome recorded by the trainer.'),
    lineage: z
      .object({
        source: z.enum(['Dataset', 'Production']).describe('What it learned from.'),
        dataset: z.string().optional().describe('The dataset URI it read.'),
        deployment: z
          .string()
          .optional()
          .describe('Production: the deployment whose traffic it learned from.'),
        since: Timestamp.optional().describe('Start of the data window.'),
        until: Timestamp.optional().describe('End of the data window.'),
        rows: z.number().int().min(0).optional().describe('Rows it learned from (all splits).'),
        labelledRows: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe('Production: labelled predictions among them.'),
        datasetDigest: z.string().optional().describe('Digest of the rows read.'),
        retrainedFrom: z.string().optional().describe('The ModelVersion it retrains.'),
        driftRun: z.string().optional().describe('The drift run that asked for it.'),
      })
      .optional()
      .describe('Where its training data came from, as the trainer recorded it in the registry.'),
    artifacts: z
      .object({
        root: z
          .string()
          .optional()
          .describe(
            'Prefix holding every artifact: s3://bucket/namespaces/<namespace>/models/<model>/<version>/.',
          ),
        model: z.string().optional().describe('URI of model.onnx.'),
        modelDigest: z.string().optional().describe('SHA-256 digest of model.onnx.'),
        schema: z.string().optional().describe('URI of schema.json.'),
        schemaDigest: z.string().optional().describe('Digest of the feature schema.'),
        reference: z.string().optional().describe('URI of reference.parquet, the monitoring baseline.'),
        report: z.string().optional().describe('URI of report.html.'),
      })
      .optional()
      .describe('Where the trained artifacts are and their digests.'),
  })
  .describe('What happened to this version: phase, metrics, gate outcome and artifacts.');
export type ModelVersionStatus = z.output<typeof ModelVersionStatus>;

export type ModelVersion = CustomObject<ModelVersionSpec, ModelVersionStatus>;
