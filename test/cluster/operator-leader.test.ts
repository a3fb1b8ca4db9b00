import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../core/kube/client.js';
import { LeaderElector } from '../../operator/leader.js';
import { client, createNamespace, deleteNamespace, eventually, log, waitForApi } from './operator-kit.js';

/** Leader election on a real coordination.k8s.io Lease. */

let c: KubeClient;
let ns: string;

const elector = (identity: string, name = 'lease') =>
  new LeaderElector(c, {
    namespace: ns,
    name,
    identity,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 300,
    log,
  });

const holder = async (name = 'lease') =>
  (
    await c.get<{ spec: { holderIdentity?: string | null; leaseTransitions?: number } }>(
      `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/${name}`,
    )
  ).spec;

beforeAll(async () => {
  c = client();
  await waitForApi(c);
  ns = await createNamespace(c, 'mlcycle-op-lease');
});

afterAll(async () => {
  if (ns) await deleteNamespace(c, ns);
});

describe('LeaderElector', () => {
  it('one candidate holds the lease; the other waits while it is renewed', async () => {
    const a = elector('a');
    const b = elector('b');
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await a.tryAcquireOrRenew()).toBe(true); // renewed before expiry
    await new Promise((r) => setTimeout(r, 1500));
    expect(await b.tryAcquireOrRenew()).toBe(false); // b saw a change 1.5 s ago: not expired
    expect((await holder()).holderIdentity).toBe('a');
  });

  it('takes over a lease whose holder stopped renewing, once it has expired', async () => {
    const b = elector('b');
    await b.tryAcquireOrRenew(); // observes a's record
    const t0 = Date.now();
    const took = await eventually(
      'b takes over',
      async () => (await b.tryAcquireOrRenew()) || undefined,
      10_000,
      200,
    );
    expect(took).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000); // not before a's lease ran out
    const spec = await holder();
    expect(spec.holderIdentity).toBe('b');
    expect(spec.leaseTransitions).toBe(1);
  });

  it('runs the leader callback, and releases the lease on shutdown so a successor starts at once', async () => {
    const stopA = new AbortController();
    const a = elector('a', 'run');
    let leading = false;
    const running = a.run(async (lost) => {
      leading = true;
      await new Promise<void>((r) => lost.addEventListener('abort', () => r(), { once: true }));
      leading = false;
    }, stopA.signal);
    await eventually('a leads', async () => leading || undefined, 10_000, 50);
    expect(a.isLeader).toBe(true);

    const b = elector('b', 'run');
    expect(await b.tryAcquireOrRenew()).toBe(false);
    stopA.abort();
    await running;
    expect(leading).toBe(false);
    expect((await holder('run')).holderIdentity ?? null).toBeNull();
    const t0 = Date.now();
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('a leader whose lease is taken from it stops leading', async () => {
    const stop = new AbortController();
    const a = elector('a', 'stolen');
    let lostAt = 0;
    const running = a.run(async (lost) => {
      await new Promise<void>((r) => lost.addEventListener('abort', () => r(), { once: true }));
      lostAt = Date.now();
    }, stop.signal);
    await eventually('a leads', async () => a.isLeader || undefined, 10_000, 50);
    const path = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/stolen`;
    const lease = await c.get<Record<string, unknown> & { spec: Record<string, unknown> }>(path);
    await c.replace(path, {
      ...lease,
      spec: {
        ...lease.spec,
        holderIdentity: 'intruder',
        renewTime: new Date().toISOString().replace('Z', '000Z'),
      },
    });
    await eventually('a notices', async () => lostAt || undefined, 10_000, 50);
    stop.abort();
    await running;
    expect((await holder('stolen')).holderIdentity).toBe('intruder'); // a did not release what it no longer holds
  });
});
