import type { Pool } from '../core/db/index.js';
import type { DriftFact, PastRun, RunDecision, RunVerdict } from '../core/policy.js';
import type { DriftReport } from './report.js';

/**
 * The drift job's own tables: one row per run (migration 3, with its decision and its alert
 * since migration 5). A run id is recorded once — a retried Pod of the same Job upserts it.
 */

/**
 * The runs of a monitor so far, oldest first, without `exceptRunId` (a retried run itself): the
 * last `limit` runs (streaks are counted from them), plus every retraining since
 * `retrainsSince` however many runs ago (the guardrails count retrainings by time).
 */
export async function runHistory(
  pool: Pool,
  namespace: string,
  monitor: string,
  exceptRunId: string | null = null,
  opts: { limit?: number; retrainsSince?: Date } = {},
): Promise<PastRun[]> {
  const { rows } = await pool.query<{
    drift: DriftFact;
    verdict: RunVerdict;
    retrain_requested: boolean;
    finished_at: Date;
  }>(
    `SELECT drift, verdict, retrain_requested, finished_at FROM drift_runs
     WHERE namespace = $5 AND monitor = $1 AND id IS DISTINCT FROM $3 AND (
       id IN (SELECT id FROM drift_runs WHERE namespace = $5 AND monitor = $1 AND id IS DISTINCT FROM $3
              ORDER BY finished_at DESC, id DESC LIMIT $2)
       OR (retrain_requested AND finished_at >= $4::timestamptz))
     ORDER BY finished_at, id`,
    [monitor, opts.limit ?? 200, exceptRunId, opts.retrainsSince ?? null, namespace],
  );
  return rows.map((r) => ({
    drift: r.drift,
    verdict: r.verdict,
    retrainRequested: r.retrain_requested,
    finishedAt: r.finished_at,
  }));
}

export type AlertStatus = 'pending' | 'delivered' | 'failed' | 'recorded' | 'superseded';

/** An alert as stored with the run that raised it. */
export interface StoredAlert {
  runId: string;
  verdict: RunVerdict;
  status: AlertStatus;
  /** Sent as the `Idempotency-Key` header: `<monitor>/<run id>`, the same on every attempt. */
  key: string;
  payload: Record<string, unknown> | null;
  attempts: number;
  error: string | null;
}

function toAlert(r: Record<string, unknown>): StoredAlert {
  return {
    runId: r.id as string,
    verdict: r.verdict as RunVerdict,
    status: r.alert_status as AlertStatus,
    key: r.alert_key as string,
    payload: (r.alert_payload as Record<string, unknown> | null) ?? null,
    attempts: r.alert_attempts as number,
    error: (r.alert_error as string | null) ?? null,
  };
}

const ALERT_COLUMNS = 'id, verdict, alert_status, alert_key, alert_payload, alert_attempts, alert_error';

/** The last alert of a monitor (its verdict is the one last announced), without `exceptRunId`. */
export async function lastAlert(
  pool: Pool,
  namespace: string,
  monitor: string,
  exceptRunId: string | null = null,
): Promise<StoredAlert | null> {
  const { rows } = await pool.query(
    `SELECT ${ALERT_COLUMNS} FROM drift_runs
     WHERE namespace = $3 AND monitor = $1 AND alert_status IS NOT NULL AND id IS DISTINCT FROM $2
     ORDER BY finished_at DESC, id DESC LIMIT 1`,
    [monitor, exceptRunId, namespace],
  );
  return rows[0] ? toAlert(rows[0]) : null;
}

/** The alert state of a monitor as the tests and the demo read it. */
export async function alertState(
  pool: Pool,
  namespace: string,
  monitor: string,
): Promise<{ verdict: RunVerdict; runId: string; delivered: boolean | null; attempts: number } | null> {
  const a = await lastAlert(pool, namespace, monitor);
  if (!a) return null;
  const delivered = a.status === 'delivered' ? true : a.status === 'recorded' ? null : false;
  return { verdict: a.verdict, runId: a.runId, delivered, attempts: a.attempts };
}

export interface RunRecord {
  /** The tenant the run belongs to (run ids, Job names, are unique within it only). */
  namespace: string;
  monitor: string;
  jobName: string | null;
  startedAt: Date;
  finishedAt: Date;
  report: DriftReport;
  decision: RunDecision;
  reportHtmlUri: string | null;
  reportJsonUri: string | null;
  /** The alert this run raises (its verdict changed): recorded as an intent before it is sent. */
  alert: { status: 'pending' | 'recorded'; key: string; payload: Record<string, unknown> } | null;
}

export interface Recorded {
  /** False for a retried run: its row existed and was updated. */
  inserted: boolean;
  /** The run's alert as stored; an earlier attempt's alert stands (same key, same payload). */
  alert: StoredAlert | null;
}

/**
 * Inserts the run, or updates it when a retried Pod of the same Job runs it again: the facts and
 * the decision are the latest attempt's, the alert an earlier attempt recorded is kept. A new
 * alert supersedes an older undelivered one (its verdict is no longer the news).
 */
export async function recordRun(pool: Pool, run: RunRecord): Promise<Recorded> {
  const r = run.report;
  const values = [
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
    run.decision.retrain,
    run.decision.rollback,
    run.reportHtmlUri,
    run.reportJsonUri,
    run.jobName,
    JSON.stringify(storedDecision(run.decision)),
    run.alert?.status ?? null,
    run.alert?.key ?? null,
    run.alert ? JSON.stringify(run.alert.payload) : null,
    run.namespace,
  ];
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(
      `INSERT INTO drift_runs AS d (id, monitor, model_name, model_version, started_at, finished_at, window_since,
         window_until, reference_rows, current_rows, labelled_rows, drift, dataset_drift, drift_share, drifted_features,
         prediction_drift, quality_verdict, quality_metric, quality_value, quality_reference, verdict,
         consecutive_drifted_runs, retrain_requested, rollback_requested, report_html_uri, report_json_uri,
         job_name, decision, alert_status, alert_key, alert_payload, namespace)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
         $23, $24, $25, $26, $27, $28, $29, $30, $31, $32)
       ON CONFLICT (namespace, id) DO UPDATE SET
         finished_at = EXCLUDED.finished_at, window_since = EXCLUDED.window_since, window_until = EXCLUDED.window_until,
         reference_rows = EXCLUDED.reference_rows, current_rows = EXCLUDED.current_rows,
         labelled_rows = EXCLUDED.labelled_rows, drift = EXCLUDED.drift, dataset_drift = EXCLUDED.dataset_drift,
         drift_share = EXCLUDED.drift_share, drifted_features = EXCLUDED.drifted_features,
         prediction_drift = EXCLUDED.prediction_drift, quality_verdict = EXCLUDED.quality_verdict,
         quality_metric = EXCLUDED.quality_metric, quality_value = EXCLUDED.quality_value,
         quality_reference = EXCLUDED.quality_reference, verdict = EXCLUDED.verdict,
         consecutive_drifted_runs = EXCLUDED.consecutive_drifted_runs,
         retrain_requested = EXCLUDED.retrain_requested, rollback_requested = EXCLUDED.rollback_requested,
         report_html_uri = EXCLUDED.report_html_uri, report_json_uri = EXCLUDED.report_json_uri,
         decision = EXCLUDED.decision, attempts = d.attempts + 1,
         alert_status = COALESCE(d.alert_status, EXCLUDED.alert_status),
         alert_key = COALESCE(d.alert_key, EXCLUDED.alert_key),
         alert_payload = COALESCE(d.alert_payload, EXCLUDED.alert_payload)
       RETURNING (xmax = 0) AS inserted, ${ALERT_COLUMNS}`,
      values,
    );
    const row = rows[0] as Record<string, unknown>;
    if (run.alert) {
      await client.query(
        `UPDATE drift_runs SET alert_status = 'superseded'
         WHERE namespace = $4 AND monitor = $1 AND id <> $2 AND alert_status IN ('pending', 'failed')
           AND finished_at <= $3`,
        [run.monitor, r.run_id, run.finishedAt, run.namespace],
      );
    }
    await client.query('COMMIT');
    return { inserted: row.inserted === true, alert: row.alert_status ? toAlert(row) : null };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** After a delivery attempt. */
export async function markAlert(
  pool: Pool,
  namespace: string,
  runId: string,
  outcome: { delivered: boolean; attempts: number; error: string | null },
): Promise<void> {
  await pool.query(
    `UPDATE drift_runs SET alert_status = $2, alert_attempts = alert_attempts + $3, alert_error = $4
     WHERE namespace = $5 AND id = $1`,
    [runId, outcome.delivered ? 'delivered' : 'failed', outcome.attempts, outcome.error, namespace],
  );
}

/** The decision as stored and mirrored into the DriftMonitor status. */
export function storedDecision(d: RunDecision) {
  return {
    verdict: d.verdict,
    alert: d.alert !== null,
    retrain: d.retrain,
    rollback: d.rollback,
    ...(d.promotion ? { promotion: d.promotion } : {}),
    reasons: d.reasons.slice(0, 20),
  };
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}

export interface StoredRun {
  id: string;
  monitor: string;
  jobName: string | null;
  attempts: number;
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
  decision: ReturnType<typeof storedDecision> | null;
  alertStatus: AlertStatus | null;
  alertKey: string | null;
  reportHtmlUri: string | null;
  reportJsonUri: string | null;
}

/** Runs of a monitor, newest first (for the demo and tests). */
export async function listRuns(
  pool: Pool,
  namespace: string,
  monitor: string,
  limit = 50,
): Promise<StoredRun[]> {
  const { rows } = await pool.query(
    `SELECT id, monitor, job_name, attempts, model_name, model_version, finished_at, drift, verdict, drift_share,
            dataset_drift, consecutive_drifted_runs, quality_verdict, retrain_requested, rollback_requested, decision,
            alert_status, alert_key, report_html_uri, report_json_uri
     FROM drift_runs WHERE namespace = $3 AND monitor = $1 ORDER BY finished_at DESC, id DESC LIMIT $2`,
    [monitor, limit, namespace],
  );
  return rows.map((r) => ({
    id: r.id,
    monitor: r.monitor,
    jobName: r.job_name,
    attempts: r.attempts,
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
    decision: r.decision,
    alertStatus: r.alert_status,
    alertKey: r.alert_key,
    reportHtmlUri: r.report_html_uri,
    reportJsonUri: r.report_json_uri,
  }));
}
