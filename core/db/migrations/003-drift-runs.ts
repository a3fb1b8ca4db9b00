import type { Migration } from '../migrate.js';

/**
 * What the drift job records: one row per monitoring run with its verdict (the history the
 * lifecycle policy counts streaks from), and per monitor the alert state — the verdict last
 * announced and whether the webhook got it — so alerts go out when a verdict changes, and a failed
 * delivery is retried on the next run.
 */
export const driftRuns: Migration = {
  id: 3,
  name: 'drift-runs',
  sql: `
CREATE TABLE drift_runs (
  id                       text PRIMARY KEY,
  -- What the history and the alert state are scoped to: a DriftMonitor (namespace/name) or a model.
  monitor                  text NOT NULL,
  model_name               text,
  model_version            text,
  started_at               timestamptz NOT NULL,
  finished_at              timestamptz NOT NULL,
  window_since             timestamptz,
  window_until             timestamptz,
  reference_rows           integer NOT NULL,
  current_rows             integer NOT NULL,
  labelled_rows            integer NOT NULL,
  drift                    text NOT NULL CHECK (drift IN ('drift', 'no_drift', 'insufficient_data')),
  dataset_drift            boolean NOT NULL,
  drift_share              double precision NOT NULL,
  drifted_features         jsonb NOT NULL DEFAULT '[]',
  prediction_drift         boolean NOT NULL,
  quality_verdict          text NOT NULL,
  quality_metric           text,
  quality_value            double precision,
  quality_reference        double precision,
  verdict                  text NOT NULL,
  consecutive_drifted_runs integer NOT NULL,
  retrain_requested        boolean NOT NULL DEFAULT false,
  rollback_requested       boolean NOT NULL DEFAULT false,
  report_html_uri          text,
  report_json_uri          text
);
CREATE INDEX drift_runs_monitor_finished ON drift_runs (monitor, finished_at);

CREATE TABLE drift_alert_state (
  monitor      text PRIMARY KEY,
  verdict      text NOT NULL,
  run_id       text NOT NULL REFERENCES drift_runs (id),
  changed_at   timestamptz NOT NULL DEFAULT now(),
  -- null: no webhook configured (the alert is only recorded); false: delivery failed, retried next run.
  delivered    boolean,
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text
);
`,
};
