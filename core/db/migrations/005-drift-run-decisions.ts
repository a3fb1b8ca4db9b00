import type { Migration } from '../migrate.js';

/**
 * One decision per drift run, stored with it. A run is recorded once per Job: a retried Pod of
 * the same Job upserts its row (`attempts` counts them). The lifecycle decision the drift job
 * took — verdict, alert, retrain, rollback, promotion — is kept as JSON beside the facts; the
 * operator only carries it out.
 *
 * Alerts move from the per-monitor `drift_alert_state` into the run that raised them, so an alert
 * is exactly once per verdict change, also across a crash between sending and recording: the
 * intent is recorded (`pending`, with its payload and idempotency key) before the webhook is
 * called and marked `delivered` after; a retried run re-sends a pending alert with the same key.
 * `failed`: delivery gave up, the next run with the same verdict retries it; `recorded`: no
 * webhook is configured; `superseded`: a newer verdict's alert replaced it before delivery.
 */
export const driftRunDecisions: Migration = {
  id: 5,
  name: 'drift-run-decisions',
  sql: `
ALTER TABLE drift_runs
  ADD COLUMN job_name        text,
  ADD COLUMN attempts        integer NOT NULL DEFAULT 1,
  ADD COLUMN decision        jsonb,
  ADD COLUMN alert_status    text CHECK (alert_status IN ('pending', 'delivered', 'failed', 'recorded', 'superseded')),
  ADD COLUMN alert_key       text,
  ADD COLUMN alert_payload   jsonb,
  ADD COLUMN alert_attempts  integer NOT NULL DEFAULT 0,
  ADD COLUMN alert_error     text;

-- The alert state of a monitor is its last run that raised an alert.
UPDATE drift_runs r SET
  alert_status = CASE WHEN s.delivered IS NULL THEN 'recorded' WHEN s.delivered THEN 'delivered' ELSE 'failed' END,
  alert_key = r.monitor || '/' || r.id,
  alert_attempts = s.attempts,
  alert_error = s.last_error
FROM drift_alert_state s WHERE s.run_id = r.id;
DROP TABLE drift_alert_state;

CREATE INDEX drift_runs_monitor_alert ON drift_runs (monitor, finished_at) WHERE alert_status IS NOT NULL;
`,
};
