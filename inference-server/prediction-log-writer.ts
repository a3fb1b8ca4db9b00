import type { Pool } from '../core/db/index.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { insertPredictionLogRows, type PredictionLogRow } from '../core/prediction-log.js';
import type { ServerMetrics } from './metrics.js';
import { SpillFiles } from './spill.js';

export interface PredictionLogOptions {
  /** false: `add` discards every row (the deployment's logging is off); default true. */
  enabled?: boolean;
  pool: Pool;
  metrics: ServerMetrics;
  log: Logger;
  /** Most rows in one INSERT. */
  batchMax: number;
  /** Most rows held in memory; beyond it rows spill to disk, or are dropped and counted. */
  queueMax: number;
  /** How long a lone row may wait before it is written. */
  flushIntervalMs: number;
  /** INSERTs in flight at once. */
  concurrency?: number;
  /** Directory for spill files; undefined = no spilling (drop beyond the bound). */
  spillDir?: string | undefined;
  backoff?: { initialMs: number; maxMs: number };
}

export interface PredictionLogStatus {
  queueDepth: number;
  /** Rows in INSERTs that have not finished yet. */
  inFlightRows: number;
  spilledRows: number;
  /** False after a failed write, until a write succeeds. */
  databaseReachable: boolean;
  lastError: string | null;
  rowsWritten: number;
  rowsDropped: number;
}

/**
 * The prediction log pipeline: requests hand rows to `add`, which only appends to a bounded
 * in-memory queue; writers take batches off it and INSERT them, away from the request path.
 * A failed write puts its batch back and retries with exponential backoff, so while
 * PostgreSQL is unreachable rows accumulate up to `queueMax`, then spill to disk (or, with no
 * spill directory, are dropped — counted and logged). `drain` writes everything before a
 * shutdown. Redelivery is harmless: the unique key (model, version, prediction id) makes a
 * duplicate row a no-op.
 */
export class PredictionLogWriter {
  private queue: PredictionLogRow[] = [];
  private inFlight = 0;
  private inFlightRows = 0;
  /** The batches of the INSERTs running now (known to feedback; spilled too if a drain runs out of time). */
  private readonly inFlightBatches = new Set<readonly PredictionLogRow[]>();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  /** Set when drain() is over: no timer, write or spill delivery may start after it. */
  private stopped = false;
  private spillBusy = false;
  private readonly spill: SpillFiles<PredictionLogRow> | undefined;
  private readonly concurrency: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private idleWaiters: (() => void)[] = [];
  private lastDropLog = 0;
  private readonly state: PredictionLogStatus = {
    queueDepth: 0,
    inFlightRows: 0,
    spilledRows: 0,
    databaseReachable: true,
    lastError: null,
    rowsWritten: 0,
    rowsDropped: 0,
  };

  constructor(private readonly options: PredictionLogOptions) {
    this.concurrency = options.concurrency ?? 2;
    this.backoff = options.backoff ?? { initialMs: 100, maxMs: 5_000 };
    if (options.spillDir) {
      try {
        this.spill = new SpillFiles<PredictionLogRow>(options.spillDir);
        if (this.spill.rows > 0) {
          options.log.info(
            { spillDir: options.spillDir, rows: this.spill.rows, files: this.spill.files },
            'found spilled prediction log rows from an earlier run; delivering them',
          );
          this.schedule(0);
        }
      } catch (err) {
        options.log.warn(
          { spillDir: options.spillDir, err: errorMessage(err) },
          'cannot use the spill directory; rows beyond the in-memory bound will be dropped',
        );
      }
    }
    this.updateGauges();
  }

  /** Queues rows for writing; never blocks, never throws. */
  add(rows: readonly PredictionLogRow[]): void {
    if (this.options.enabled === false) return;
    if (this.closed) {
      // Only reachable if a request slipped past shutdown; keep the row rather than lose it.
      this.overflow(rows, 'after_close');
      return;
    }
    const room = this.options.queueMax - this.queue.length;
    if (rows.length <= room) {
      for (const row of rows) this.queue.push(row);
    } else {
      for (let i = 0; i < room; i++) this.queue.push(rows[i]!);
      this.overflow(rows.slice(Math.max(room, 0)), 'queue_full');
    }
    this.options.metrics.queueDepth.set(this.queue.length);
    if (this.queue.length >= this.options.batchMax) this.schedule(0);
    else this.schedule(this.options.flushIntervalMs);
  }

  /** The spill files (after `drain`: what is left for the next process). */
  spillFiles(): SpillFiles<PredictionLogRow> | undefined {
    return this.spill;
  }

  status(): PredictionLogStatus {
    return {
      ...this.state,
      queueDepth: this.queue.length,
      inFlightRows: this.inFlightRows,
      spilledRows: this.spill?.rows ?? 0,
    };
  }

  /**
   * Which prediction ids are still in this process, queued or being written (so feedback for
   * them is not "unknown" while their INSERT has not committed yet).
   */
  pendingPredictionIds(modelName: string, predictionIds: ReadonlySet<string>): Set<string> {
    const found = new Set<string>();
    const look = (rows: readonly PredictionLogRow[]) => {
      for (const row of rows) {
        if (row.modelName === modelName && predictionIds.has(row.predictionId)) found.add(row.predictionId);
      }
    };
    look(this.queue);
    for (const batch of this.inFlightBatches) look(batch);
    return found;
  }

  /**
   * Writes everything queued (and spilled) within `timeoutMs`. Rows still unwritten then go to
   * a spill file when there is a spill directory; otherwise they are counted as dropped.
   * Bounded: an INSERT still hanging then (an unresponsive database) is given a short grace,
   * and its rows are spilled as well — if it commits after all, the redelivery is a no-op.
   * Returns the rows left on disk for the next run, and the rows lost.
   */
  async drain(timeoutMs: number): Promise<{ spilled: number; dropped: number }> {
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (
      Date.now() < deadline &&
      (this.queue.length > 0 || this.inFlight > 0 || (this.spill?.rows ?? 0) > 0)
    ) {
      if (this.retryTimer === undefined) this.pump();
      await this.waitIdle(Math.min(250, Math.max(deadline - Date.now(), 1)));
    }
    // In-flight writes (and a spill delivery) either land or come back to the queue; wait a
    // little for them, then stop every timer they may have set, before counting what is left.
    this.stopped = true;
    const grace = Date.now() + IN_FLIGHT_GRACE_MS;
    while ((this.inFlight > 0 || this.spillBusy) && Date.now() < grace) await this.waitIdle(50);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    const left = this.queue.splice(0);
    for (const batch of this.inFlightBatches) left.push(...batch);
    // Whatever the hung writes do from now on, nothing comes back to a queue no one reads.
    this.inFlightBatches.clear();
    let dropped = 0;
    if (left.length > 0 && !this.trySpill(left)) {
      dropped = left.length;
      this.countDropped(left.length, 'shutdown_database_unreachable');
    }
    this.updateGauges();
    return { spilled: this.spill?.rows ?? 0, dropped };
  }

  private overflow(rows: readonly PredictionLogRow[], reason: string): void {
    if (rows.length === 0) return;
    if (!this.trySpill(rows)) this.countDropped(rows.length, reason);
    this.updateGauges();
  }

  private trySpill(rows: readonly PredictionLogRow[]): boolean {
    if (!this.spill) return false;
    try {
      this.spill.append(rows);
      return true;
    } catch (err) {
      this.options.log.error(
        { err: errorMessage(err), rows: rows.length },
        'cannot write prediction log spill file',
      );
      return false;
    }
  }

  private countDropped(n: number, reason: string): void {
    this.state.rowsDropped += n;
    this.options.metrics.rowsDropped.inc({ reason }, n);
    // Never silent, but not one line per row either: at most one error line per second.
    const now = Date.now();
    if (now - this.lastDropLog >= 1_000) {
      this.lastDropLog = now;
      this.options.log.error(
        { dropped: n, totalDropped: this.state.rowsDropped, reason, queueMax: this.options.queueMax },
        'prediction log rows dropped: buffer full and no spill space',
      );
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.retryTimer !== undefined) return; // backing off: the retry will pick everything up
    if (delayMs === 0) {
      if (this.timer !== undefined && this.timerImmediate) return;
      clearTimeout(this.timer);
      this.timerImmediate = true;
      this.timer = setTimeout(() => this.fire(), 0);
    } else if (this.timer === undefined) {
      this.timerImmediate = false;
      this.timer = setTimeout(() => this.fire(), delayMs);
    }
  }
  private timerImmediate = false;

  private fire(): void {
    this.timer = undefined;
    this.pump();
  }

  /** Starts writers while there is work and room for another in-flight INSERT. */
  private pump(): void {
    if (this.stopped) return;
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.batchMax);
      this.options.metrics.queueDepth.set(this.queue.length);
      this.inFlight++;
      this.inFlightRows += batch.length;
      this.inFlightBatches.add(batch);
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.inFlightRows -= batch.length;
        this.inFlightBatches.delete(batch);
        this.afterWrite();
      });
    }
    if (this.inFlight === 0 && this.queue.length === 0) this.deliverSpilled();
  }

  private afterWrite(): void {
    if (this.retryTimer === undefined && this.queue.length > 0) this.pump();
    if (this.inFlight === 0 && this.queue.length === 0) {
      this.deliverSpilled();
      if (!this.spillBusy) this.notifyIdle();
    }
  }

  private async write(batch: PredictionLogRow[]): Promise<void> {
    try {
      await this.insert(batch);
      this.failures = 0;
      if (!this.state.databaseReachable) {
        this.options.log.info({ rows: batch.length }, 'prediction log writes succeed again');
      }
      this.state.databaseReachable = true;
      this.state.lastError = null;
    } catch (err) {
      if (isDataError(err)) {
        await this.isolateBadRows(batch, err);
        return;
      }
      this.onWriteFailure(err, batch.length);
      // After a drain gave up on it, its rows were spilled already.
      if (this.stopped && !this.inFlightBatches.has(batch)) return;
      // Back in front, in order, to be retried once the backoff has passed.
      this.queue.unshift(...batch);
      this.options.metrics.queueDepth.set(this.queue.length);
    }
  }

  private onWriteFailure(err: unknown, rows: number): void {
    this.failures++;
    this.state.databaseReachable = false;
    this.state.lastError = errorMessage(err);
    this.options.metrics.writeFailures.inc();
    const delay = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.failures - 1, 16));
    const jittered = Math.round(delay * (0.75 + Math.random() * 0.5));
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.options.log.warn(
        {
          err: this.state.lastError,
          rows,
          queueDepth: this.queue.length + rows,
          failures: this.failures,
          retryInMs: jittered,
        },
        'prediction log write failed; buffering and retrying',
      );
    }
    if (this.retryTimer === undefined && !this.stopped) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, jittered);
    }
  }

  /** A row the database refuses as data would block the queue forever: find it, drop it, say so. */
  private async isolateBadRows(batch: PredictionLogRow[], err: unknown): Promise<void> {
    if (batch.length === 1) {
      this.options.log.error(
        { err: errorMessage(err), predictionId: batch[0]!.predictionId },
        'prediction log row refused by the database; dropped',
      );
      this.countDropped(1, 'refused_by_database');
      return;
    }
    const middle = Math.ceil(batch.length / 2);
    for (const half of [batch.slice(0, middle), batch.slice(middle)]) await this.write(half);
  }

  private async insert(batch: PredictionLogRow[]): Promise<void> {
    const inserted = await insertPredictionLogRows(this.options.pool, batch);
    this.state.rowsWritten += inserted;
    this.options.metrics.rowsWritten.inc(inserted);
  }

  /** With the memory queue empty and the database answering, sends spilled rows home. */
  private deliverSpilled(): void {
    if (
      !this.spill ||
      this.spillBusy ||
      this.stopped ||
      this.spill.rows === 0 ||
      this.retryTimer !== undefined
    )
      return;
    this.spillBusy = true;
    void (async () => {
      try {
        while (this.spill!.rows > 0 && this.retryTimer === undefined && !this.stopped) {
          const file = this.spill!.oldest();
          if (!file) break;
          let ok = true;
          for (let i = 0; i < file.rows.length && ok && !this.stopped; i += this.options.batchMax) {
            const batch = file.rows.slice(i, i + this.options.batchMax);
            try {
              await this.insert(batch);
              this.state.databaseReachable = true;
            } catch (err) {
              if (isDataError(err)) await this.isolateBadRows(batch, err);
              else {
                this.onWriteFailure(err, batch.length);
                ok = false;
              }
            }
          }
          if (!ok || this.stopped) break;
          this.spill!.remove(file.name);
          this.options.log.info(
            { file: file.name, rows: file.rows.length },
            'spilled prediction log rows delivered',
          );
        }
      } catch (err) {
        this.options.log.error({ err: errorMessage(err) }, 'cannot read a prediction log spill file');
      } finally {
        this.spillBusy = false;
        this.updateGauges();
        if (this.queue.length > 0) this.pump();
        else this.notifyIdle();
      }
    })();
  }

  private waitIdle(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiter = () => done();
      this.idleWaiters.push(waiter);
      function done() {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private updateGauges(): void {
    this.options.metrics.queueDepth.set(this.queue.length);
    this.options.metrics.spilledRows.set(this.spill?.rows ?? 0);
  }
}

// How long a drain that ran out of time still waits for INSERTs already sent, before it spills
// their rows too.
const IN_FLIGHT_GRACE_MS = 1_000;

/** SQLSTATE classes 22 (data exception) and 23 (integrity): retrying the same rows won't help. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23)/.test(code);
}
