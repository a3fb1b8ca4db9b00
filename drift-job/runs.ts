import type { Pool } from '../core/db/index.js';
import type { DriftFact, PastRun, RunVerdict } from '../core/policy.js';
import type { DriftReport } from './report.js';

/** The runs of a monitor so far, oldest first (the policy counts streaks from them). */
export async function runHistory(pool: Pool, monitor: string, limit = 200): Promise<PastRun[]> {
  const { rows } = await pool.query<{ drift: DriftFact; verdict: RunVerdict; retrain_requested: boolean }>(
    `SELECT drift, verdict, retrain_requested FROM (
       SELECT drift, verdict, retrain_requested, finished_at, id FROM drift_runs
       WHERE monitor = $1 ORDER BY finished_at DESC, id DESC LIMIT $2
     ) recent ORDER BY finished_at, id`,
    [monitor, limit],
  );
  return rows.map((r) => ({ drift: r.drift, verdict: r.verdict, retrainRequested: r.retrain_requested }));
}

export interface AlertState {
  verdict: RunVerdict;
  runId: string;
  delivered: boolean | null;
  attempts: number;
  lastError: string | null;
}

export async function alertState(pool: Pool, monitor: string): Promise<AlertState | null> {
  const { rows } = await pool.query(
    'SELECT verdict, run_id, delivered, attempts, last_error FROM drift_alert_state WHERE monitor = $1',
    [monitor],
  );
  const r = rows[0];
  return r
    ? {
        verdict: r.verdict,
        runId: r.run_id,
        delivered: r.delivered,
        attempts: r.attempts,
        lastError: r.last_error,
      }
    : null;
}

export async function saveAlertState(
  pool: Pool,
  monitor: string,
  state: {
    verdict: RunVerdict;
    runId: string;
    delivered: boolean | null;
    attempts: number;
    lastError: string | null;
  },
): Promise<void> {
  await pool.query(
    `INSERT INTO drift_alert_state (monitor, verdict, run_id, delivered, attempts, last_error)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (monitor) DO UPDATE SET verdict = EXCLUDED.verdict, run_id = EXCLUDED.run_id,
       changed_at = CASE WHEN drift_alert_state.verdict = EXCLUDED.verdict THEN drift_alert_state.changed_at ELSE now() END,
       delivered = EXCLUDED.delivered, attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error`,
    [monitor, state.verdict, state.runId, state.delivered, state.attempts, state.lastError],
  );
}

export interface RunRecord {
  monitor: string;
  startedAt: Date;
  finishedAt: Date;
  report: DriftReport;
  reportHtmlUri: string | null;
  reportJsonUri: string | null;
}

export async function insertRun(pool: Pool, run: RunRecord): Promise<void> {
  const r = run.report;
  await pool.query(
    `INSERT INTO drift_runs (id, monitor, model_name, model_version, started_at, finished_at, window_since, window_until,
       reference_rows, current_rows, labelled_rows, drift, dataset_drift, drift_share, drifted_features, prediction_drift,
       quality_verdict, quality_metric, quality_value, quality_reference, verdict, consecutive_drifted_runs,
       retrain_requested, rollback_requested, report_html_uri, report_json_uri)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)`,
    [
      r.run_id,
      run.monitor,
      r.model.name,
      r.model.version,
      run.startedAt,
      run.finishedAt,
      r.window?.since ?? null,
      r.window?.until ?? null,
      r.rows.reference,
      r.rows.current,
      r.rows.labelled,
      r.verdict.drift,
      r.dataset_drift,
      r.drift_share,
      JSON.stringify(r.drifted_features),
      r.prediction_drift.drifted,
      r.quality.verdict,
      r.quality.metric,
      finiteOrNull(r.quality.value),
      finiteOrNull(r.quality.reference),
      r.verdict.verdict,
      r.verdict.consecutive_drifted_runs,
      r.verdict.retrain,
      r.verdict.rollback,
      run.reportHtmlUri,
      run.reportJsonUri,
    ],
  );
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

export interface StoredRun {
  id: string;
  monitor: string;
  modelName: string | null;
  modelVersion: string | null;
  finishedAt: Date;
  drift: DriftFact;
  verdict: RunVerdict;
  driftShare: number;
  datasetDrift: boolean;
  consecutiveDriftedRuns: number;
  qualityVerdict: string;
  retrainRequested: boolean;
  rollbackRequested: boolean;
  reportHtmlUri: string | null;
  reportJsonUri: string | null;
}

/** Runs of a monitor, newest first (for the operator, the demo and tests). */
export async function listRuns(pool: Pool, monitor: string, limit = 50): Promise<StoredRun[]> {
  const { rows } = await pool.query(
    `SELECT id, monitor, model_name, model_version, finished_at, drift, verdict, drift_share, dataset_drift,
            consecutive_drifted_runs, quality_verdict, retrain_requested, rollback_requested, report_html_uri, report_json_uri
     FROM drift_runs WHERE monitor = $1 ORDER BY finished_at DESC, id DESC LIMIT $2`,
    [monitor, limit],
  );
  return rows.map((r) => ({
    id: r.id,
    monitor: r.monitor,
    modelName: r.model_name,
    modelVersion: r.model_version,
    finishedAt: r.finished_at,
    drift: r.drift,
    verdict: r.verdict,
    driftShare: r.drift_share,
    datasetDrift: r.dataset_drift,
    consecutiveDriftedRuns: r.consecutive_drifted_runs,
    qualityVerdict: r.quality_verdict,
    retrainRequested: r.retrain_requested,
    rollbackRequested: r.rollback_requested,
    reportHtmlUri: r.report_html_uri,
    reportJsonUri: r.report_json_uri,
  }));
}
