import { isGone, type KubeClient, type KubeObject, type WatchEvent } from '../../core/kube/client.js';
import type { Logger } from '../../core/log.js';

export type ChangeType = 'added' | 'modified' | 'deleted' | 'resync';
export type ChangeHandler<T> = (type: ChangeType, obj: T) => void;

export interface InformerOptions {
  /** Collection path, e.g. /apis/batch/v1/jobs (all namespaces) or a namespaced one. */
  path: string;
  labelSelector?: string;
  /** Every so often, hand every cached object to the handlers again (level-triggered safety net). */
  resyncMs?: number;
  /** Server-side watch timeout; the watch is then resumed from the last resourceVersion. */
  watchTimeoutSeconds?: number;
  log: Logger;
}

export const objectKey = (o: KubeObject): string =>
  `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/**
 * List-then-watch cache of one kind, like client-go's shared informer: a full list fills the
 * cache, a watch from that list's resourceVersion keeps it current, a 410 Gone (history
 * compacted) or a broken connection leads to a fresh list after a short backoff, and deletions
 * seen only through a relist are still reported.
 */
export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: ChangeHandler<T>[] = [];
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private synced = false;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: InformerOptions,
  ) {}

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(`${namespace}/${name}`);
  }

  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Starts the list/watch loop; resolves once the first list has filled the cache. */
  start(): Promise<void> {
    let resolveSynced: () => void = () => {};
    const syncedOnce = new Promise<void>((r) => {
      resolveSynced = r;
    });
    this.loop = this.run(resolveSynced);
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => {
        for (const o of this.cache.values()) this.emit('resync', o);
      }, this.opts.resyncMs);
      this.resyncTimer.unref();
    }
    return syncedOnce;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.loop;
  }

  private emit(type: ChangeType, obj: T): void {
    for (const h of this.handlers) {
      try {
        h(type, obj);
      } catch (err) {
        this.opts.log.error({ err, path: this.opts.path }, 'informer handler failed');
      }
    }
  }

  private async run(onSynced: () => void): Promise<void> {
    let backoffMs = 500;
    while (!this.abort.signal.aborted) {
      try {
        let rv = await this.relist();
        if (!this.synced) {
          this.synced = true;
          onSynced();
        }
        backoffMs = 500;
        // Watch until the history we resume from is gone (410) or the connection breaks.
        for (;;) {
          if (this.abort.signal.aborted) return;
          let gone = false;
          await this.client.watch<T>(
            this.opts.path,
            {
              resourceVersion: rv,
              labelSelector: this.opts.labelSelector,
              timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
            },
            (e: WatchEvent<T>) => {
              if (e.type === 'ERROR') {
                const status = e.object as unknown as { code?: number; message?: string };
                if (status.code === 410) gone = true;
                else this.opts.log.warn({ path: this.opts.path, status }, 'watch error event');
                return;
              }
              const next = e.object.metadata?.resourceVersion;
              if (next) rv = next;
              if (e.type === 'BOOKMARK') return;
              this.apply(e.type, e.object);
            },
            this.abort.signal,
          );
          if (gone) break;
        }
      } catch (err) {
        if (this.abort.signal.aborted) return;
        const level = isGone(err) ? 'debug' : 'warn';
        this.opts.log[level]({ err, path: this.opts.path, backoffMs }, 'list/watch interrupted; relisting');
        await sleep(backoffMs, this.abort.signal);
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
    }
  }

  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void {
    const key = objectKey(obj);
    if (type === 'DELETED') {
      this.cache.delete(key);
      this.emit('deleted', obj);
      return;
    }
    const had = this.cache.has(key);
    this.cache.set(key, obj);
    this.emit(had ? 'modified' : 'added', obj);
  }

  private async relist(): Promise<string> {
    const list = await this.client.list<T>(this.opts.path, this.opts.labelSelector);
    const seen = new Set<string>();
    for (const o of list.items) {
      const key = objectKey(o);
      seen.add(key);
      const prev = this.cache.get(key);
      this.cache.set(key, o);
      if (!prev) this.emit('added', o);
      else if (prev.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.emit('modified', o);
    }
    for (const [key, o] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit('deleted', o);
      }
    }
    return list.metadata?.resourceVersion ?? '';
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
