import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The operator's Prometheus metrics, in their own registry (served on /metrics). */
export function createOperatorMetrics() {
  const registry = new Registry();
  const prefix = 'mlcycle_operator_';
  return {
    registry,
    reconciles: new Counter({
      name: `${prefix}reconcile_total`,
      help: 'Reconciles by kind and result (success, requeue, conflict, error).',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: `${prefix}reconcile_duration_seconds`,
      help: 'Time spent in one reconcile, by kind.',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: `${prefix}work_queue_depth`,
      help: 'Keys waiting in the work queue, by kind.',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    childrenCreated: new Counter({
      name: `${prefix}children_created_total`,
      help: 'Objects created by the operator, by kind (Job, Deployment, Service, CronJob, ModelVersion).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    rollbacks: new Counter({
      name: `${prefix}rollbacks_total`,
      help: 'ModelDeployments rolled back by the drift policy.',
      registers: [registry],
    }),
    retrains: new Counter({
      name: `${prefix}retrains_total`,
      help: 'ModelVersions created by the drift policy to retrain.',
      registers: [registry],
    }),
    leader: new Gauge({
      name: `${prefix}leader`,
      help: '1 while this replica holds the leader lease.',
      registers: [registry],
    }),
  };
}

export type OperatorMetrics = ReturnType<typeof createOperatorMetrics>;
