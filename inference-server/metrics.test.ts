import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BatchHistogram } from './metrics.js';

const BUCKETS = [0.05, 0.1, 0.5, 0.9, 0.95];

describe('BatchHistogram', () => {
  it('exposes exactly what prom-client’s Histogram exposes for the same observations', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.constantFrom('v1', 'v2'), fc.array(fc.double({ min: -1, max: 2, noNaN: true }))),
          {
            maxLength: 5,
          },
        ),
        async (batches) => {
          const ours = new Registry();
          const theirs = new Registry();
          const batch = new BatchHistogram('p', 'help', 'model_version', BUCKETS, ours);
          const reference = new Histogram({
            name: 'p',
            help: 'help',
            labelNames: ['model_version'],
            buckets: BUCKETS,
            registers: [theirs],
          });
          for (const [version, values] of batches) {
            batch.observeMany(version, values);
            for (const v of values) reference.observe({ model_version: version }, v);
          }
          const lines = async (r: Registry) =>
            (await r.metrics())
              .split('\n')
              .filter((l) => l && !l.startsWith('#'))
              .sort();
          const [a, b] = [await lines(ours), await lines(theirs)];
          // Sums may differ in the last bits (addition order); everything else is identical.
          const strip = (ls: string[]) => ls.map((l) => (l.startsWith('p_sum') ? l.replace(/ \S+$/, '') : l));
          expect(strip(a)).toEqual(strip(b));
        },
      ),
      { numRuns: 200 },
    );
  });
});
