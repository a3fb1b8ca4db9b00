import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics, in a registry of its own so several servers can live in
 * one process (the demo, the tests) without clashing.
 */
export function createServerMetrics() {
  const registry = new Registry();
  // Process CPU, memory, GC and event-loop lag (nodejs_eventloop_lag_p99_seconds): what tells a
  // slow dependency from a busy process when latency rises.
  collectDefaultMetrics({ register: registry, prefix: 'mlcycle_' });
  const common = { registers: [registry] };
  return {
    registry,
    requests: new Counter({
      name: 'mlcycle_http_requests_total',
      help: 'HTTP requests by route and status code.',
      labelNames: ['route', 'status'] as const,
      ...common,
    }),
    latency: new Histogram({
      name: 'mlcycle_http_request_duration_seconds',
      help: 'HTTP request latency by route, from request received to response sent.',
      labelNames: ['route'] as const,
      buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      ...common,
    }),
    predictions: new Counter({
      name: 'mlcycle_predictions_total',
      help: 'Predictions served, by model version and predicted class ("value" for regression).',
      labelNames: ['model_version', 'class'] as const,
      ...common,
    }),
    probability: new Histogram({
      name: 'mlcycle_prediction_probability',
      help: 'Predicted probability of the positive class.',
      labelNames: ['model_version'] as const,
      buckets: [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
      ...common,
    }),
    predictionValue: new Histogram({
      name: 'mlcycle_prediction_value',
      help: 'Predicted value (regression models).',
      labelNames: ['model_version'] as const,
      buckets: [-100, -30, -10, 0, 10, 30, 60, 120, 300],
      ...common,
    }),
    aborted: new Counter({
      name: 'mlcycle_http_requests_aborted_total',
      help: 'Requests whose client went away before the answer was sent (a prediction may still be logged).',
      labelNames: ['route'] as const,
      ...common,
    }),
    invalidRecords: new Counter({
      name: 'mlcycle_invalid_requests_total',
      help: 'Requests refused by validation (422), by route.',
      labelNames: ['route'] as const,
      ...common,
    }),
    unseenCategories: new Counter({
      name: 'mlcycle_unseen_category_total',
      help: 'Category values not seen in training, accepted and encoded as unknown, by feature.',
      labelNames: ['feature'] as const,
      ...common,
    }),
    queueDepth: new Gauge({
      name: 'mlcycle_prediction_log_queue_depth',
      help: 'Prediction log rows waiting to be written to PostgreSQL (in memory).',
      ...common,
    }),
    spilledRows: new Gauge({
      name: 'mlcycle_prediction_log_spilled_rows',
      help: 'Prediction log rows waiting in spill files on local disk.',
      ...common,
    }),
    rowsWritten: new Counter({
      name: 'mlcycle_prediction_log_rows_written_total',
      help: 'Prediction log rows written to PostgreSQL (duplicates of a request id count once).',
      ...common,
    }),
    writeFailures: new Counter({
      name: 'mlcycle_prediction_log_write_failures_total',
      help: 'Failed prediction log batch writes (each is retried with backoff).',
      ...common,
    }),
    rowsDropped: new Counter({
      name: 'mlcycle_prediction_log_rows_dropped_total',
      help: 'Prediction log rows dropped because the buffer was full (and could not spill), by reason.',
      labelNames: ['reason'] as const,
      ...common,
    }),
    feedback: new Counter({
      name: 'mlcycle_feedback_total',
      help: 'Feedback labels by outcome (recorded, duplicate, unknown).',
      labelNames: ['outcome'] as const,
      ...common,
    }),
    modelInfo: new Gauge({
      name: 'mlcycle_model_info',
      help: 'The model being served (value 1).',
      labelNames: ['model_name', 'model_version', 'task', 'model_digest', 'schema_digest'] as const,
      ...common,
    }),
  };
}

export type ServerMetrics = ReturnType<typeof createServerMetrics>;
