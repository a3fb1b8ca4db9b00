import { describe, expect, it } from 'vitest';
import { WorkQueue } from './work-queue.js';

describe('WorkQueue', () => {
  it('holds a waiting key once however many times it is added', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key to two workers; a change meanwhile re-queues it after done()', async () => {
    const q = new WorkQueue();
    q.add('a');
    const k = await q.get();
    q.add('a'); // changed while being processed
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((x) => {
      second = x;
    });
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(k as string);
    await new Promise((r) => setTimeout(r, 0));
    expect(second).toBe('a');
  });

  it('backs off exponentially per key and forgets on success', () => {
    const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1000, qps: 1000, burst: 1000 });
    expect([1, 2, 3, 4, 5].map(() => q.addRateLimited('a'))).toEqual([100, 200, 400, 800, 1000]);
    expect(q.addRateLimited('b')).toBe(100);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(100);
  });

  it('caps the overall retry rate with a token bucket', () => {
    let now = 0;
    const q = new WorkQueue({ baseDelayMs: 1, qps: 10, burst: 2, now: () => now });
    expect(q.addRateLimited('a')).toBe(1);
    expect(q.addRateLimited('b')).toBe(1);
    expect(q.addRateLimited('c')).toBeCloseTo(100);
    now = 1000;
    expect(q.addRateLimited('d')).toBe(1);
  });

  it('delivers a delayed key after its delay', async () => {
    const q = new WorkQueue();
    q.addAfter('later', 30);
    const t0 = Date.now();
    expect(await q.get()).toBe('later');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('shutDown wakes idle workers and waits for busy ones', async () => {
    const q = new WorkQueue();
    q.add('busy');
    const k = await q.get();
    const idle = q.get();
    let stopped = false;
    const stopping = q.shutDown().then(() => {
      stopped = true;
    });
    expect(await idle).toBeUndefined();
    await new Promise((r) => setTimeout(r, 10));
    expect(stopped).toBe(false);
    q.done(k as string);
    await stopping;
    expect(stopped).toBe(true);
    q.add('x');
    expect(await q.get()).toBeUndefined();
  });
});
