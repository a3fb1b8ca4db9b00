import type { Migration } from '../migrate.js';

/**
 * What the inference server records: every served prediction, and the true outcomes that
 * arrive later through /feedback. The drift job reads both.
 */
export const predictionLog: Migration = {
  id: 2,
  name: 'prediction-log',
  sql: `
CREATE TABLE prediction_logs (
  id            bigserial PRIMARY KEY,
  model_name    text NOT NULL,
  model_version text NOT NULL,
  request_id    text NOT NULL,
  features      jsonb NOT NULL,
  prediction    double precision NOT NULL,
  probability   double precision,
  latency_ms    real NOT NULL,
  created_at    timestamptz NOT NULL,
  -- Redelivery after a failed flush must not duplicate a row.
  UNIQUE (model_name, model_version, request_id)
);
CREATE INDEX prediction_logs_window ON prediction_logs (model_name, model_version, created_at);

CREATE TABLE prediction_labels (
  model_name  text NOT NULL,
  request_id  text NOT NULL,
  label       double precision NOT NULL,
  observed_at timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model_name, request_id)
);
`,
};
