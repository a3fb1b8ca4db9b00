import { isAlreadyExists, isConflict, isNotFound, type KubeClient } from '../core/kube/client.js';
import { kubePaths } from '../core/kube/paths.js';
import type { Logger } from '../core/log.js';
import { sleep } from './kube/informer.js';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
 * the lease every `retryPeriod`; a candidate takes it over only when it has seen no change in
 * the lease for `leaseDuration` (measured on its own clock, so clock skew between nodes does
 * not matter); optimistic concurrency (resourceVersion) makes two candidates racing for an
 * expired lease safe; a leader that cannot renew within `renewDeadline` stops leading; on
 * shutdown the leader releases the lease so a successor takes over at once.
 */

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
  now?: () => number;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

const microTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

export class LeaderElector {
  private observed: { record: string; at: number } | undefined;
  private leading = false;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.now = opts.now ?? Date.now;
    if (this.renewDeadlineMs >= this.leaseDurationMs)
      throw new Error('renewDeadline must be below leaseDuration');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path(): string {
    return kubePaths.lease(this.opts.namespace, this.opts.name);
  }

  /**
   * Tries once to acquire or renew the lease. Returns whether this candidate holds it.
   * Exposed for tests; `run` calls it in a loop.
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    const lease = await this.client.getOrUndefined<Lease>(this.path);
    const mine: LeaseSpec = {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    if (!lease) {
      try {
        await this.client.create(kubePaths.lease(this.opts.namespace), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: mine,
        });
        this.observe(mine, now);
        return true;
      } catch (err) {
        if (isAlreadyExists(err)) return false;
        throw err;
      }
    }
    const spec = lease.spec ?? {};
    this.observe(spec, now);
    const holder = spec.holderIdentity ?? '';
    const iHold = holder === this.opts.identity;
    const durationMs = (spec.leaseDurationSeconds ?? 15) * 1000;
    const expired = this.observed !== undefined && this.observed.at + durationMs <= now;
    if (holder !== '' && !iHold && !expired) return false;
    const next: LeaseSpec = iHold
      ? { ...spec, renewTime: microTime(now), leaseDurationSeconds: mine.leaseDurationSeconds }
      : { ...mine, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
    try {
      await this.client.replace(this.path, { ...lease, spec: next });
      this.observe(next, now);
      return true;
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) return false; // somebody else moved first
      throw err;
    }
  }

  private observe(spec: LeaseSpec, now: number): void {
    const record = JSON.stringify([spec.holderIdentity ?? '', spec.renewTime ?? '', spec.acquireTime ?? '']);
    if (this.observed?.record !== record) this.observed = { record, at: now };
  }

  /**
   * Campaigns until elected, calls `lead` with a signal that aborts when leadership is lost
   * or `stop` aborts, keeps renewing meanwhile, and releases the lease on the way out.
   * Resolves when `lead` has returned.
   */
  async run(lead: (lost: AbortSignal) => Promise<void>, stop: AbortSignal): Promise<void> {
    const log = this.opts.log;
    while (!stop.aborted) {
      const got = await this.tryAcquireOrRenew().catch((err: unknown) => {
        log.warn({ err }, 'leader election: acquire failed');
        return false;
      });
      if (got) break;
      await sleep(this.retryPeriodMs, stop);
    }
    if (stop.aborted) return;
    this.leading = true;
    log.info(
      { lease: `${this.opts.namespace}/${this.opts.name}`, identity: this.opts.identity },
      'became leader',
    );
    const lost = new AbortController();
    const onStop = () => lost.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const renewing = this.renewLoop(lost);
    try {
      await lead(lost.signal);
    } finally {
      lost.abort();
      stop.removeEventListener('abort', onStop);
      await renewing;
      this.leading = false;
      await this.release();
    }
  }

  private async renewLoop(lost: AbortController): Promise<void> {
    let lastRenew = this.now();
    while (!lost.signal.aborted) {
      await sleep(this.retryPeriodMs, lost.signal);
      if (lost.signal.aborted) return;
      const ok = await this.tryAcquireOrRenew().catch((err: unknown) => {
        this.opts.log.warn({ err }, 'leader election: renew failed');
        return false;
      });
      if (ok) lastRenew = this.now();
      else if (this.now() - lastRenew >= this.renewDeadlineMs || !(await this.stillMine())) {
        this.opts.log.error({ identity: this.opts.identity }, 'lost leadership');
        lost.abort();
        return;
      }
    }
  }

  private async stillMine(): Promise<boolean> {
    const lease = await this.client.getOrUndefined<Lease>(this.path).catch(() => undefined);
    return lease?.spec?.holderIdentity === this.opts.identity;
  }

  /** Gives the lease up (holder cleared, 1 s duration) so a successor need not wait for expiry. */
  async release(): Promise<void> {
    try {
      const lease = await this.client.getOrUndefined<Lease>(this.path);
      if (!lease || lease.spec?.holderIdentity !== this.opts.identity) return;
      await this.client.replace(this.path, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: null,
          leaseDurationSeconds: 1,
          renewTime: microTime(this.now()),
        },
      });
      this.opts.log.info({ identity: this.opts.identity }, 'released leadership');
    } catch (err) {
      this.opts.log.warn({ err }, 'leader election: release failed');
    }
  }
}
