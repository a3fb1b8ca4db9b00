import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';

/**
 * A histogram with one label that takes a whole batch of values at once. prom-client's
 * Histogram.observe hashes its labels on every call: about a tenth of the server's work per
 * record in a 1,000-record batch (measured), where this counts into a plain array.
 * Exposed in the standard Prometheus histogram format (_bucket{le}, _sum, _count).
 */
export class BatchHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { counts: Float64Array; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: string,
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  observeMany(labelValue: string, values: ArrayLike<number>): void {
    if (values.length === 0) return;
    let s = this.series.get(labelValue);
    if (!s) {
      s = { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
      this.series.set(labelValue, s);
    }
    const bounds = this.buckets;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (Number.isNaN(v)) continue;
      let b = 0;
      while (b < bounds.length && v > bounds[b]!) b++;
      s.counts[b]!++;
      s.sum += v;
      s.count++;
    }
  }

  get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const [labelValue, s] of this.series) {
      let cumulative = 0;
      for (let b = 0; b <= this.buckets.length; b++) {
        cumulative += s.counts[b]!;
        const le = b < this.buckets.length ? this.buckets[b]! : '+Inf';
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le, [this.label]: labelValue },
          value: cumulative,
        });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { [this.label]: labelValue }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { [this.label]: labelValue }, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
  }
}

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
      help: 'Predictions made, by model version, predicted class ("value" for regression) and role (champion, or challenger beside it).',
      labelNames: ['model_version', 'class', 'role'] as const,
      ...common,
    }),
    answered: new Counter({
      name: 'mlcycle_prediction_requests_answered_total',
      help: 'Prediction requests answered, by the role of the model whose answer the caller got (champion, or challenger in canary mode).',
      labelNames: ['role'] as const,
      ...common,
    }),
    canaryFallbacks: new Counter({
      name: 'mlcycle_canary_fallbacks_total',
      help: 'Canary requests the challenger failed to score, answered by the champion instead.',
      ...common,
    }),
    offPathSkipped: new Counter({
      name: 'mlcycle_off_path_predictions_skipped_total',
      help: 'Records the model beside the answering one did not score, by its role and why (backlog: too many waiting; error: inference failed).',
      labelNames: ['role', 'reason'] as const,
      ...common,
    }),
    probability: new BatchHistogram(
      'mlcycle_prediction_probability',
      'Predicted probability of the positive class.',
      'model_version',
      [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95],
      registry,
    ),
    predictionValue: new BatchHistogram(
      'mlcycle_prediction_value',
      'Predicted value (regression models).',
      'model_version',
      [-100, -30, -10, 0, 10, 30, 60, 120, 300],
      registry,
    ),
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
      help: 'The models being served (value 1): the champion, and the challenger beside it if any.',
      labelNames: ['model_name', 'model_version', 'task', 'model_digest', 'schema_digest', 'role'] as const,
      ...common,
    }),
  };
}

export type ServerMetrics = ReturnType<typeof createServerMetrics>;
