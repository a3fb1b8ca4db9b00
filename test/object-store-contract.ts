import { expect, it } from 'vitest';
import { ObjectExistsError, ObjectNotFoundError, type ObjectStore } from '../core/object-store/index.js';

/**
 * The behaviour every ObjectStore must have; run against the directory store and a real MinIO
 * so the embedded default and production cannot diverge.
 */
export function objectStoreContract(open: () => Promise<ObjectStore>): void {
  it('puts, gets, sizes and range-reads objects', async () => {
    const store = await open();
    await store.put('models/m/v1/model.onnx', Buffer.from('0123456789'));
    await store.put('models/m/v1/schema.json', '{"a":1}', 'application/json');
    expect((await store.get('models/m/v1/model.onnx')).toString()).toBe('0123456789');
    expect(await store.size('models/m/v1/model.onnx')).toBe(10);
    expect((await store.getRange('models/m/v1/model.onnx', 3, 4)).toString()).toBe('3456');
    expect(JSON.parse((await store.get('models/m/v1/schema.json')).toString())).toEqual({ a: 1 });
  });

  it('lists keys under a prefix, sorted, and overwrites in place', async () => {
    const store = await open();
    await store.put('reports/r/b.json', 'b');
    await store.put('reports/r/a.json', 'a');
    await store.put('reports/other.json', 'x');
    await store.put('reports/r/a.json', 'a2');
    expect(await store.list('reports/r/')).toEqual(['reports/r/a.json', 'reports/r/b.json']);
    expect((await store.get('reports/r/a.json')).toString()).toBe('a2');
  });

  it('writes once: putNew refuses an existing key and leaves its bytes as they were', async () => {
    const store = await open();
    await store.putNew('once/model.onnx', 'first', 'application/octet-stream');
    await expect(store.putNew('once/model.onnx', 'second')).rejects.toBeInstanceOf(ObjectExistsError);
    expect((await store.get('once/model.onnx')).toString()).toBe('first');
    // Two writers racing for one key: exactly one wins.
    const results = await Promise.allSettled([
      store.putNew('once/race', 'a'),
      store.putNew('once/race', 'b'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason),
    ).toEqual([expect.any(ObjectExistsError)]);
    expect(await store.list('once/')).toEqual(['once/model.onnx', 'once/race']);
  });

  it('tells missing objects apart and deletes', async () => {
    const store = await open();
    await store.put('tmp/x', 'x');
    expect(await store.exists('tmp/x')).toBe(true);
    await store.delete('tmp/x');
    expect(await store.exists('tmp/x')).toBe(false);
    await expect(store.get('tmp/x')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.size('tmp/x')).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await store.list('nothing/here/')).toEqual([]);
  });

  it('refuses keys that could escape the root', async () => {
    const store = await open();
    await expect(store.put('../escape', 'x')).rejects.toThrow(/invalid object key/);
    await expect(store.put('/abs', 'x')).rejects.toThrow(/invalid object key/);
    await expect(store.get('a//b')).rejects.toThrow(/invalid object key/);
  });

  it('reports a URI for each key', async () => {
    const store = await open();
    expect(store.uriFor('models/m/v1/model.onnx')).toMatch(/models\/m\/v1\/model\.onnx$/);
  });
}
