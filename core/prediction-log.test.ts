import { describe, expect, it } from 'vitest';
import { PredictionLogRow, predictionLogParams } from './prediction-log.js';

const row: PredictionLogRow = {
  namespace: 'default',
  modelName: 'm',
  modelVersion: 'v1',
  predictionId: 'p1',
  requestId: 'r1',
  recordIndex: null,
  features: { a: 1, b: 'x', c: null, d: true },
  prediction: 1,
  probability: 0.75,
  latencyMs: 2.5,
  createdAt: 1_700_000_000_000,
};

describe('predictionLogParams', () => {
  it('sends the rows as one JSON array in the order of the statement’s record columns', () => {
    const [json] = predictionLogParams([
      row,
      { ...row, predictionId: 'p2', recordIndex: 3, probability: null },
    ]);
    expect(JSON.parse(json)).toEqual([
      {
        s: 'default',
        n: 'm',
        v: 'v1',
        d: 'p1',
        i: 'r1',
        x: null,
        f: row.features,
        p: 1,
        q: 0.75,
        l: 2.5,
        c: 1_700_000_000_000,
      },
      {
        s: 'default',
        n: 'm',
        v: 'v1',
        d: 'p2',
        i: 'r1',
        x: 3,
        f: row.features,
        p: 1,
        q: null,
        l: 2.5,
        c: 1_700_000_000_000,
      },
    ]);
  });

  it('gives a row spilled before prediction ids existed its request id as its identity', () => {
    const legacy = { ...row } as Partial<PredictionLogRow>;
    delete legacy.predictionId;
    delete legacy.recordIndex;
    const [json] = predictionLogParams([legacy as PredictionLogRow]);
    expect(JSON.parse(json)[0]).toMatchObject({ d: 'r1', i: 'r1', x: null });
  });

  it('replaces what jsonb cannot hold (U+0000, lone surrogates) by U+FFFD and leaves escaped text alone', () => {
    const [json] = predictionLogParams([
      { ...row, features: { nul: 'a\u0000b', lone: 'x\ud800y', literal: '\\u0000', pair: '😀' } },
    ]);
    expect(JSON.parse(json)[0].f).toEqual({
      nul: 'a\ufffdb',
      lone: 'x\ufffdy',
      literal: '\\u0000',
      pair: '😀',
    });
  });

  it('the row schema accepts scalar features and refuses anything else', () => {
    expect(PredictionLogRow.safeParse(row).success).toBe(true);
    expect(PredictionLogRow.safeParse({ ...row, features: { a: [1] } }).success).toBe(false);
  });
});
