import type { PromotionOutcome, RunDecision } from '../core/policy.js';
import type { Analysis } from './analyze.js';
import type { ColumnDrift } from './drift.js';
import type { PerformanceEstimate } from './estimate.js';
import type { QualityReport } from './quality.js';
import type { ColumnSummary } from './summary.js';

export const REPORT_SCHEMA_VERSION = 1;

/**
 * report.json, schema version 1. Stable: fields are only ever added. Documented field by field in
 * drift-job/README.md. Numbers that could not be computed are null (JSON has no NaN).
 */
export interface DriftReport {
  schema_version: 1;
  run_id: string;
  generated_at: string;
  model: { name: string | null; version: string | null; task: string; schema_digest: string };
  inputs: { reference: string; current: string };
  /** Where the feature schema came from: a file, the registry, or inferred from the reference. */
  schema: SchemaSource;
  /** The window of prediction logs, when the current data came from them. */
  window: { since: string; until: string } | null;
  rows: { reference: number; current: number; labelled: number };
  /** Whether the share of drifted features reached `drift_share_threshold`. */
  dataset_drift: boolean;
  /** Drifted features / analysed features. */
  drift_share: number;
  drift_share_threshold: number;
  drifted_features: string[];
  features: ColumnDrift[];
  /** Features not tested for drift, with the reason. */
  excluded_features: { name: string; reason: string }[];
  prediction_drift: { drifted: boolean; columns: ColumnDrift[] };
  quality: QualityReport;
  /** Estimated quality of the window before labels (CBPE); null when turned off. */
  estimate: PerformanceEstimate | null;
  summary: { features: ColumnSummary[]; outputs: ColumnSummary[] };
  /** The lifecycle policy's reading of this run (core/policy.ts). */
  verdict: {
    verdict: string;
    drift: string;
    consecutive_drifted_runs: number;
    /** `from` is null on the first verdict of a monitor. */
    alert: { from: string | null; to: string; message: string } | null;
    retrain: boolean;
    rollback: boolean;
    insufficient_data: boolean;
    /** Champion against challenger on the same labelled requests, when a challenger runs. */
    promotion?: PromotionOutcome;
    reasons: string[];
  };
  warnings: string[];
}

export interface SchemaSource {
  source: 'file' | 'registry' | 'inferred';
  /** schema.json read (null when inferred). */
  uri: string | null;
  /** How it was inferred (empty otherwise). */
  notes: string[];
}

export interface ReportContext {
  runId: string;
  generatedAt: Date;
  modelName: string | null;
  modelVersion: string | null;
  task: string;
  schemaDigest: string;
  referenceUri: string;
  currentUri: string;
  window: { since: Date; until: Date } | null;
  schema: SchemaSource;
}

export function buildReport(ctx: ReportContext, analysis: Analysis, decision: RunDecision): DriftReport {
  return {
    schema_version: REPORT_SCHEMA_VERSION,
    run_id: ctx.runId,
    generated_at: ctx.generatedAt.toISOString(),
    model: {
      name: ctx.modelName,
      version: ctx.modelVersion,
      task: ctx.task,
      schema_digest: ctx.schemaDigest,
    },
    inputs: { reference: ctx.referenceUri, current: ctx.currentUri },
    schema: ctx.schema,
    window: ctx.window
      ? { since: ctx.window.since.toISOString(), until: ctx.window.until.toISOString() }
      : null,
    rows: analysis.rows,
    dataset_drift: analysis.drift.dataset_drift,
    drift_share: analysis.drift.drift_share,
    drift_share_threshold: analysis.drift.share_threshold,
    drifted_features: analysis.drift.features.filter((f) => f.drifted).map((f) => f.name),
    features: analysis.drift.features,
    excluded_features: analysis.excluded,
    prediction_drift: analysis.predictionDrift,
    quality: analysis.quality,
    estimate: analysis.estimate,
    summary: analysis.summary,
    verdict: {
      verdict: decision.verdict,
      drift: analysis.driftFact,
      consecutive_drifted_runs: decision.consecutiveDriftedRuns,
      alert: decision.alert,
      retrain: decision.retrain,
      rollback: decision.rollback,
      insufficient_data: decision.insufficientData,
      ...(decision.promotion ? { promotion: decision.promotion } : {}),
      reasons: decision.reasons,
    },
    warnings: analysis.warnings,
  };
}

/** JSON text of a report; non-finite numbers become null. */
export function reportJson(report: DriftReport): string {
  return `${JSON.stringify(report, (_key, value) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`;
}
