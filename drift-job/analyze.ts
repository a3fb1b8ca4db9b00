import type { Column, Table } from '../core/dataset/index.js';
import { DataError } from '../core/errors.js';
import type { Feature, FeatureSchema } from '../core/feature-schema.js';
import { type DriftFact, driftFact } from '../core/policy.js';
import { type ColumnDrift, type DatasetDrift, type DriftColumnSpec, datasetDrift } from './drift.js';
import { estimatePerformance, type PerformanceEstimate } from './estimate.js';
import { DEFAULT_QUALITY_METRIC, measureQuality, type QualityReport } from './quality.js';
import { finiteSorted } from './stats/columns.js';
import { type DriftMethod, driftMethod } from './stats/drift-methods.js';
import { type ColumnSummary, summarizeColumn } from './summary.js';

export interface DriftOverride {
  method?: DriftMethod;
  threshold?: number;
}

export interface AnalysisOptions {
  schema: FeatureSchema;
  /** Dataset drift when at least this share of the analysed features drifted. */
  driftShare: number;
  /** One method for every feature it applies to (others keep their default). */
  method?: DriftMethod | undefined;
  /** Threshold for the features that use `method` (or every feature when no method is forced). */
  threshold?: number | undefined;
  /** Per-feature method and threshold, winning over `method`/`threshold`. */
  perFeature?: Record<string, DriftOverride>;
  /** Fewer current rows than this: no drift claim. */
  minRows: number;
  quality: {
    metric?: string | undefined;
    minLabels: number;
    tolerance: number;
    /** Holdout metrics at registration (metrics.json `holdout`). */
    holdout: Record<string, number>;
  };
  /** Estimated quality before labels (CBPE); false leaves it out. Default: on, on the quality metric. */
  estimate?: { metric?: string | undefined } | false;
}

export interface PredictionDrift {
  drifted: boolean;
  columns: ColumnDrift[];
}

export interface Analysis {
  rows: { reference: number; current: number; labelled: number };
  drift: DatasetDrift;
  driftFact: DriftFact;
  predictionDrift: PredictionDrift;
  quality: QualityReport;
  /** Estimated quality of the window from its probabilities (null when turned off). */
  estimate: PerformanceEstimate | null;
  summary: { features: ColumnSummary[]; outputs: ColumnSummary[] };
  /** Features left out of the drift statistics, with why (timestamps). */
  excluded: { name: string; reason: string }[];
  warnings: string[];
}

/** How a schema feature enters the drift statistics; undefined = left out. */
function driftKind(feature: Feature): { kind: 'numerical' | 'categorical' } | undefined {
  switch (feature.type) {
    case 'number':
    case 'integer':
      return { kind: 'numerical' };
    case 'boolean':
    case 'category':
      return { kind: 'categorical' };
    case 'timestamp':
      return undefined;
  }
}

export function featureSpecs(options: AnalysisOptions, warnings: string[]): DriftColumnSpec[] {
  const specs: DriftColumnSpec[] = [];
  for (const feature of options.schema.features) {
    const k = driftKind(feature);
    if (!k) continue;
    const spec: DriftColumnSpec = { name: feature.name, kind: k.kind };
    const override = options.perFeature?.[feature.name];
    if (override?.method) spec.method = override.method;
    else if (options.method) {
      if (driftMethod(options.method).kinds.includes(k.kind)) spec.method = options.method;
      else
        warnings.push(
          `method ${options.method} does not apply to ${k.kind} feature ${feature.name}: its default is used`,
        );
    }
    const threshold =
      override?.threshold ??
      (spec.method === options.method || !options.method ? options.threshold : undefined);
    if (threshold !== undefined) spec.threshold = threshold;
    specs.push(spec);
  }
  const known = new Set(options.schema.features.map((f) => f.name));
  for (const name of Object.keys(options.perFeature ?? {})) {
    if (!known.has(name))
      throw new DataError(`drift override for ${name}, which is not a feature of the schema`);
  }
  return specs;
}

/** The model's outputs: what prediction drift looks at. */
function outputSpecs(schema: FeatureSchema): DriftColumnSpec[] {
  return schema.task === 'binary-classification'
    ? [
        { name: 'probability', kind: 'numerical' },
        { name: 'prediction', kind: 'categorical' },
      ]
    : [{ name: 'prediction', kind: 'numerical' }];
}

function checkReference(reference: Table, schema: FeatureSchema): void {
  const missing = schema.features.filter((f) => !reference.columns[f.name]).map((f) => f.name);
  if (missing.length > 0) {
    throw new DataError(
      `the reference has no column for feature(s) ${missing.join(', ')} of the schema (digest ${schema.digest}): was it written for another model version?`,
    );
  }
  if (reference.numRows === 0) throw new DataError('the reference dataset is empty');
}

function columnWarnings(schema: FeatureSchema, current: Table, warnings: string[]): void {
  for (const feature of schema.features) {
    const column = current.columns[feature.name];
    if (!column) {
      warnings.push(`feature ${feature.name} is missing from the current data (every row lacks it)`);
      continue;
    }
    if (column.kind !== 'string') {
      const { missing, nonFinite } = finiteSorted(column);
      if (nonFinite > 0)
        warnings.push(`feature ${feature.name}: ${nonFinite} NaN/Infinity values treated as missing`);
      if (current.numRows > 0 && missing === current.numRows) {
        warnings.push(`feature ${feature.name} is null in every current row`);
      }
    } else if (current.numRows > 0 && column.codes.every((c) => c < 0)) {
      warnings.push(`feature ${feature.name} is null in every current row`);
    }
  }
}

function numericColumn(column: Column | undefined, rows: number): Float64Array {
  if (!column || column.kind === 'string') return new Float64Array(rows).fill(Number.NaN);
  return column.values;
}

/**
 * Everything a drift run computes from two tables: drift per feature and the dataset verdict,
 * prediction drift, quality on labels (the schema's target column of `current`), and the summary.
 * Pure computation: no I/O.
 */
export function analyze(reference: Table, current: Table, options: AnalysisOptions): Analysis {
  const { schema } = options;
  checkReference(reference, schema);
  const warnings: string[] = [];
  columnWarnings(schema, current, warnings);
  const specs = featureSpecs(options, warnings);
  const fact = driftFact(current.numRows, options.minRows, false);
  const enough = fact !== 'insufficient_data';
  if (!enough) {
    warnings.push(
      `${current.numRows} current rows, fewer than the ${options.minRows} needed for a drift verdict`,
    );
  }

  const drift = enough
    ? datasetDrift(reference, current, specs, options.driftShare)
    : notAnalysed(specs, options.driftShare, `window too small (${current.numRows} rows)`);
  for (const f of drift.features) if (f.note && enough) warnings.push(f.note);

  const outputs = outputSpecs(schema).filter((s) => reference.columns[s.name] && current.columns[s.name]);
  const predictionColumns = enough
    ? datasetDrift(reference, current, outputs, 1).features
    : notAnalysed(outputs, 1, 'window too small').features;

  const target = current.columns[schema.target.name];
  const scoreColumn = schema.task === 'binary-classification' ? 'probability' : 'prediction';
  const quality = measureQuality({
    task: schema.task,
    labels: numericColumn(target, current.numRows),
    scores: numericColumn(current.columns[scoreColumn], current.numRows),
    holdout: options.quality.holdout,
    metric: options.quality.metric ?? DEFAULT_QUALITY_METRIC[schema.task],
    minLabels: options.quality.minLabels,
    tolerance: options.quality.tolerance,
  });

  const estimate =
    options.estimate === false
      ? null
      : estimatePerformance(reference, current, {
          schema,
          metric: options.estimate?.metric ?? options.quality.metric,
          minRows: options.minRows,
        });

  const excluded = schema.features
    .filter((f) => f.type === 'timestamp')
    .map((f) => ({
      name: f.name,
      reason:
        'timestamps are not tested for drift (as in Evidently: a time window always moves); see the summary',
    }));

  return {
    rows: { reference: reference.numRows, current: current.numRows, labelled: quality.labelledRows },
    drift,
    driftFact: enough ? driftFact(current.numRows, options.minRows, drift.dataset_drift) : fact,
    predictionDrift: { drifted: predictionColumns.some((c) => c.drifted), columns: predictionColumns },
    quality,
    estimate,
    summary: {
      features: schema.features.map((f) =>
        summarizeColumn(f.name, f.type, reference.columns[f.name], current.columns[f.name]),
      ),
      outputs: outputs.map((o) =>
        summarizeColumn(
          o.name,
          o.kind === 'categorical' ? 'label' : 'number',
          reference.columns[o.name],
          current.columns[o.name],
        ),
      ),
    },
    excluded,
    warnings,
  };
}

function notAnalysed(specs: DriftColumnSpec[], share: number, note: string): DatasetDrift {
  return {
    features: specs.map((s) => ({
      name: s.name,
      type: s.kind,
      method: null,
      threshold: null,
      score: null,
      drifted: false,
      rows: { reference: 0, current: 0 },
      note,
    })),
    analysed: 0,
    drifted: 0,
    drift_share: 0,
    share_threshold: share,
    dataset_drift: false,
  };
}
