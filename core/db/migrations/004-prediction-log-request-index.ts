import type { Migration } from '../migrate.js';

/**
 * /feedback and the drift job's label join look prediction logs up by (model, request id)
 * across versions; the unique key leads with the version, so it cannot serve that lookup.
 */
export const predictionLogRequestIndex: Migration = {
  id: 4,
  name: 'prediction-log-request-index',
  sql: `
CREATE INDEX prediction_logs_request ON prediction_logs (model_name, request_id);
`,
};
