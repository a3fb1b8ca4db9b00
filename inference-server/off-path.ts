import { errorMessage } from '../core/errors.js';
import type { FeatureRecord } from '../core/feature-schema.js';
import type { Logger } from '../core/log.js';
import type { Role } from './challenger.js';
import type { ServerMetrics } from './metrics.js';
import type { LoadedModel } from './model.js';
import type { PredictionLogWriter } from './prediction-log-writer.js';
import { countPredictions, predictionRows, type RequestIds } from './prediction-rows.js';

export interface OffPathJob {
  model: LoadedModel;
  role: Role;
  /** The same prediction ids as the answering model's rows: labels join both. */
  request: RequestIds;
  records: readonly FeatureRecord[];
  /** performance.now() when the request arrived: a row's latency counts from there. */
  arrivedAt: number;
}

/**
 * Scoring by the model that does not answer (the challenger in shadow mode, the champion for a
 * canary's share), started after the response is on its way, so its latency is never the
 * caller's. Its rows go to the same prediction log under the same prediction ids, with their own
 * version. Bounded: beyond `maxRecords` waiting, records are skipped and counted rather than
 * queued without limit behind a slow model.
 */
export class OffPathScoring {
  private waiting = 0;
  private idleWaiters: (() => void)[] = [];
  private lastErrorLog = 0;

  constructor(
    private readonly options: {
      writer: PredictionLogWriter;
      metrics: ServerMetrics;
      log: Logger;
      maxRecords: number;
    },
  ) {}

  schedule(job: OffPathJob): void {
    const n = job.records.length;
    if (this.waiting + n > this.options.maxRecords) {
      this.options.metrics.offPathSkipped.inc({ role: job.role, reason: 'backlog' }, n);
      return;
    }
    this.waiting += n;
    setImmediate(() => {
      void this.score(job).finally(() => {
        this.waiting -= n;
        if (this.waiting === 0) this.notifyIdle();
      });
    });
  }

  /** Resolves once every scheduled job has logged its rows (or failed). */
  idle(): Promise<void> {
    if (this.waiting === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async score(job: OffPathJob): Promise<void> {
    const { writer, metrics } = this.options;
    try {
      const out = await job.model.predict(job.records);
      const latencyMs = performance.now() - job.arrivedAt;
      writer.add(predictionRows(job.model, job.request, job.records, out, latencyMs));
      countPredictions(metrics, job.model.version, job.role, out);
    } catch (err) {
      metrics.offPathSkipped.inc({ role: job.role, reason: 'error' }, job.records.length);
      this.logError(job, err);
    }
  }

  // Never silent, but at most one line per second when a model fails on every request.
  private logError(job: OffPathJob, err: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 1_000) return;
    this.lastErrorLog = now;
    this.options.log.error(
      { err: errorMessage(err), model: `${job.model.name}/${job.model.version}`, role: job.role },
      'off-path scoring failed; the caller had its answer, these rows are not logged',
    );
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
