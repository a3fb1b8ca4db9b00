import { describe, expect, it } from 'vitest';
import { type Challenger, challengerAnswers, requestBucket } from './challenger.js';
import type { LoadedModel } from './model.js';

const model = {} as LoadedModel;
const canary = (canaryShare: number): Challenger => ({ model, mode: 'canary', canaryShare });

describe('which model answers a request', () => {
  it('gives a canary its share of request ids, within 1.5 points over 20,000 sequential ids', () => {
    for (const share of [0.05, 0.1, 0.25, 0.5]) {
      let answered = 0;
      for (let i = 0; i < 20_000; i++) if (challengerAnswers(canary(share), `req-${i}`)) answered++;
      expect(Math.abs(answered / 20_000 - share)).toBeLessThan(0.015);
    }
  });

  it('answers the same request id with the same model every time', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `order-${i}:x`);
    const first = ids.map((id) => challengerAnswers(canary(0.3), id));
    expect(ids.map((id) => challengerAnswers(canary(0.3), id))).toEqual(first);
    expect(first).toContain(true);
    expect(first).toContain(false);
  });

  it('never lets a shadow or an absent challenger answer', () => {
    const shadow: Challenger = { model, mode: 'shadow', canaryShare: 0 };
    for (let i = 0; i < 1_000; i++) {
      expect(challengerAnswers(shadow, `r${i}`)).toBe(false);
      expect(challengerAnswers(undefined, `r${i}`)).toBe(false);
    }
  });

  it('puts ids in [0, 1)', () => {
    for (const id of ['', 'a', 'x'.repeat(128), '00000000-0000-0000-0000-000000000000']) {
      const b = requestBucket(id);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(1);
    }
  });
});
