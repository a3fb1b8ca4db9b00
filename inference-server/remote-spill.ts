import type { Pool } from '../core/db/index.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { ObjectStore } from '../core/object-store/index.js';
import type { PredictionLogRow } from '../core/prediction-log.js';
import { importSpilledRows, uploadSpillFiles } from '../core/prediction-log-spill.js';
import type { SpillFiles } from './spill.js';

const IMPORT_RETRY_MS = 5_000;
const STOP_IMPORT_WAIT_MS = 2_000;

/**
 * The spill location in the object store (`--log-spill-uri`): at shutdown, rows the server
 * could not write to PostgreSQL in time are uploaded there from the local spill directory (an
 * emptyDir that dies with the Pod); at start, the server imports what earlier servers of the
 * deployment left there, in the background, retrying until it is done or the server stops.
 */
export class RemoteSpill {
  private importing: Promise<void> | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly pool: Pool,
    /** The server's namespace: the spill location's rows are its rows. */
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  get location(): string {
    return this.store.root;
  }

  /** Starts importing what earlier servers left (once; retried every few seconds on failure). */
  startImport(): void {
    this.importing ??= this.importUntilDone();
  }

  /**
   * Stops a running import (the rest stays in the store for the next server). Waits a moment
   * for the object being imported, never longer: shutdown has a budget.
   */
  async stopImport(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.importing, new Promise((r) => (timer = setTimeout(r, STOP_IMPORT_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /**
   * Uploads the local spill files, each deleted locally once stored; what cannot be uploaded
   * within `timeoutMs` stays on local disk. Returns the rows uploaded and the rows left.
   */
  async upload(
    spill: SpillFiles<PredictionLogRow>,
    timeoutMs: number,
  ): Promise<{ uploaded: number; left: number }> {
    const files = spill.contents();
    if (files.length === 0) return { uploaded: 0, left: 0 };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const uploading = uploadSpillFiles(this.store, files, (name) => spill.remove(name));
    const result = await Promise.race([uploading, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.log.error(
        { location: this.location, timeoutMs, rowsLeft: spill.rows },
        'uploading the prediction log spill timed out; the rest stays on local disk',
      );
    } else if (result.failed.length > 0) {
      this.log.error(
        { location: this.location, failed: result.failed },
        'some prediction log spill files could not be uploaded; they stay on local disk',
      );
    }
    const left = spill.rows;
    const uploaded = files.reduce((n, f) => n + f.rows, 0) - left;
    if (uploaded > 0) {
      this.log.info(
        { location: this.location, rows: uploaded },
        'unwritten prediction log rows uploaded to the object store; the next server imports them',
      );
    }
    return { uploaded, left };
  }

  private async importUntilDone(): Promise<void> {
    while (!this.stopped) {
      try {
        const done = await importSpilledRows(this.store, this.pool, this.namespace);
        if (done.objects > 0) {
          this.log.info(
            { location: this.location, ...done },
            'imported prediction log rows earlier servers left in the object store',
          );
        }
        return;
      } catch (err) {
        this.log.warn(
          { location: this.location, err: errorMessage(err), retryInMs: IMPORT_RETRY_MS },
          'cannot import spilled prediction log rows yet; retrying',
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, IMPORT_RETRY_MS);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }
}
