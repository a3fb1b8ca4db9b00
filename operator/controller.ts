import { errorMessage } from '../core/errors.js';
import { isConflict, KubeApiError, type KubeObject } from '../core/kube/client.js';
import type { Logger } from '../core/log.js';
import type { Cached, Caches } from './context.js';
import type { OperatorMetrics } from './metrics.js';
import { WorkQueue } from './work-queue.js';

export interface ReconcileResult {
  /** Look again after this long even if nothing changes (e.g. to poll an outside system). */
  requeueAfterMs?: number;
}

/**
 * One source of events for a reconciler: which cache to listen to and which of the
 * reconciler's own objects (names in the changed object's namespace) an event there concerns.
 * Each reconciler declares its watches; the manager only wires them (as a cert-manager
 * controller registers its own informers' handlers).
 */
export interface Watch {
  source: keyof Caches;
  map: (obj: KubeObject, caches: Caches) => (string | undefined)[];
}

/** A watch with the cached object's type (for declaring; the manager sees plain `Watch`es). */
export function watch<K extends keyof Caches>(
  source: K,
  map: (obj: Cached<K>, caches: Caches) => (string | undefined)[],
): Watch {
  return { source, map: map as Watch['map'] };
}

/** The object itself. */
export const itself = (o: KubeObject): (string | undefined)[] => [o.metadata?.name];

/** The controlling owner, if it is of `kind`. */
export const controllingOwner =
  (kind: string) =>
  (o: KubeObject): (string | undefined)[] =>
    o.metadata?.ownerReferences?.filter((r) => r.controller && r.kind === kind).map((r) => r.name) ?? [];

export interface Reconciler {
  readonly kind: string;
  reconcile(namespace: string, name: string): Promise<ReconcileResult | undefined>;
  /** The events that should queue one of this reconciler's objects. */
  watches(): Watch[];
}

export const splitKey = (key: string): [string, string] => {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
};

/**
 * Runs one reconciler from a work queue with a few workers. A reconcile that throws is
 * retried with per-key exponential backoff; an optimistic-concurrency conflict (409) is
 * retried the same way — it means "read again", never a failure a user should see.
 */
export class Controller {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];

  constructor(
    readonly reconciler: Reconciler,
    private readonly metrics: OperatorMetrics,
    private readonly log: Logger,
    private readonly concurrency = 2,
    queue?: WorkQueue,
  ) {
    this.queue = queue ?? new WorkQueue({ baseDelayMs: 250, maxDelayMs: 120_000 });
  }

  enqueue(namespace: string | undefined, name: string | undefined): void {
    if (!namespace || !name) return;
    this.queue.add(`${namespace}/${name}`);
    this.metrics.queueDepth.set({ kind: this.reconciler.kind }, this.queue.length);
  }

  start(): void {
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.work());
  }

  async stop(): Promise<void> {
    await this.queue.shutDown();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.process(key);
      } finally {
        this.queue.done(key);
        this.metrics.queueDepth.set({ kind: this.reconciler.kind }, this.queue.length);
      }
    }
  }

  /** One reconcile of one key with its bookkeeping; exposed for tests. */
  async process(key: string): Promise<void> {
    const kind = this.reconciler.kind;
    const [namespace, name] = splitKey(key);
    const end = this.metrics.reconcileSeconds.startTimer({ kind });
    try {
      const result = await this.reconciler.reconcile(namespace, name);
      this.queue.forget(key);
      if (result?.requeueAfterMs !== undefined) {
        this.queue.addAfter(key, result.requeueAfterMs);
        this.metrics.reconciles.inc({ kind, result: 'requeue' });
      } else {
        this.metrics.reconciles.inc({ kind, result: 'success' });
      }
    } catch (err) {
      const delay = this.queue.addRateLimited(key);
      if (isConflict(err)) {
        this.metrics.reconciles.inc({ kind, result: 'conflict' });
        this.log.debug({ key, kind, delay }, 'conflict; retrying with a fresh read');
      } else {
        this.metrics.reconciles.inc({ kind, result: 'error' });
        const status = err instanceof KubeApiError ? err.status : undefined;
        this.log.warn(
          { key, kind, delay, status, retries: this.queue.retries(key), err: errorMessage(err) },
          'reconcile failed; will retry',
        );
      }
    } finally {
      end();
    }
  }
}
