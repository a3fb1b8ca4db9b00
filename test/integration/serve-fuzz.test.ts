import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../inference-server/index.js';
import { AIRPORTS, fixtureRecord, writeFixtureModel } from '../fixtures/model.js';
import { tempDir, uniqueModelName } from '../fixtures/serve-helpers.js';
import { testDatabaseUrl } from '../services.js';

let server: RunningServer;
// /feedback is fuzzed past its credential: its body handling is what is under test.
const FEEDBACK_TOKEN = 'fuzz-feedback-token-0123456789';

beforeAll(async () => {
  const dir = await tempDir('fuzz');
  const model = await writeFixtureModel(join(dir, 'model'), { modelName: uniqueModelName('serve-fuzz') });
  server = await startServer({
    model: { kind: 'location', location: model.dir },
    database: { databaseUrl: testDatabaseUrl(), dataDir: join(dir, 'data') },
    limits: { batchMax: 50, feedbackMax: 50 },
    bodyLimit: 64 * 1024,
    feedbackToken: FEEDBACK_TOKEN,
  });
});

afterAll(async () => {
  await server?.close();
});

const anyJson = fc.jsonValue({ maxDepth: 3 });
const fieldName = fc.oneof(
  fc.constantFrom(
    'date',
    'distance',
    'origin',
    'destination',
    'seats',
    'holiday',
    'extra',
    '__proto__',
    'constructor',
  ),
  fc.string({ maxLength: 8 }),
);
const edgeValue = fc.oneof(
  anyJson,
  fc.constantFrom(
    null,
    '',
    'NaN',
    1e308,
    -1e308,
    2 ** 53 + 1,
    '2001-02-29T00:00:00Z',
    '2001-03-04T17:25:00Z',
    'ATL',
  ),
);

/** A valid record with one to three fields replaced, removed or added. */
const mutatedRecord = fc
  .tuple(
    fc.nat(10_000),
    fc.array(fc.tuple(fc.constantFrom('set', 'delete'), fieldName, edgeValue), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([i, edits]) => {
    const record: Record<string, unknown> = { ...fixtureRecord(i) };
    for (const [op, key, value] of edits) {
      if (op === 'delete') delete record[key];
      else
        Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return record;
  });

/** Bodies as bytes on the wire: JSON of anything, mutated records, broken text. */
const body = fc.oneof(
  fc.nat(10_000).map((i) => JSON.stringify(fixtureRecord(i))),
  mutatedRecord.map((r) => JSON.stringify(r)),
  fc.nat(1_000).map((n) => JSON.stringify({ ...fixtureRecord(n), pad: 'x'.repeat(70_000) })),
  fc.array(mutatedRecord, { maxLength: 60 }).map((rs) => JSON.stringify(rs)),
  anyJson.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  mutatedRecord.map((r) => JSON.stringify(r).slice(0, -1)),
  fc.constantFrom(
    '',
    '{',
    '[',
    'null',
    '[]',
    '[{}]',
    '{"__proto__":{"a":1}}',
    '{"constructor":{"prototype":{}}}',
    'NaN',
    '1e999',
  ),
);
const contentType = fc.oneof(
  fc.constant('application/json'),
  fc.constant('application/json; charset=utf-8'),
  fc.constantFrom(
    'text/plain',
    'application/xml',
    'multipart/form-data',
    '',
    'application/json; charset=latin1',
  ),
  fc.string({ maxLength: 30 }),
);
const requestId = fc.option(fc.string({ unit: 'grapheme-ascii', maxLength: 140 }), { nil: undefined });

describe('fuzzing /predict, /predict_batch and /feedback', () => {
  it('never answers 5xx to thousands of random and malformed requests', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/predict', '/predict_batch', '/feedback'),
        body,
        contentType,
        requestId,
        async (url, payload, type, id) => {
          const headers: Record<string, string> = {};
          if (type !== '') headers['content-type'] = type;
          if (id !== undefined) headers['x-request-id'] = id;
          if (url === '/feedback') headers.authorization = `Bearer ${FEEDBACK_TOKEN}`;
          const res = await server.app.inject({ method: 'POST', url, payload, headers });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          expect(res.statusCode, `${url} ${type} ${payload.slice(0, 200)} → ${res.body}`).toBeLessThan(500);
          if (res.statusCode >= 400) {
            expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
            const problem = JSON.parse(res.body) as { status: number; title: string };
            expect(problem.status).toBe(res.statusCode);
          }
        },
      ),
      { numRuns: 4_000 },
    );
    // The generators reach every class of answer, so the property is not vacuous.
    for (const status of [200, 400, 413, 415, 422]) {
      expect(statuses.get(status) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(0);
    }
  });

  it('answers 200 with a probability for every record the schema allows', async () => {
    const validRecord = fc.record(
      {
        date: fc
          .date({
            min: new Date('1970-01-01T00:00:00Z'),
            max: new Date('2100-01-01T00:00:00Z'),
            noInvalidDate: true,
          })
          .map((d) => d.toISOString()),
        distance: fc.double({ noNaN: true, noDefaultInfinity: true }),
        origin: fc.oneof(fc.constantFrom(...AIRPORTS), fc.string()),
        destination: fc.oneof(fc.constant(null), fc.constantFrom(...AIRPORTS), fc.string()),
        seats: fc.oneof(fc.constant(null), fc.maxSafeInteger()),
        holiday: fc.oneof(fc.constant(null), fc.boolean()),
      },
      { requiredKeys: ['date', 'distance', 'origin'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(validRecord, { minLength: 1, maxLength: 20 }), async (records) => {
        const res = await server.app.inject({ method: 'POST', url: '/predict_batch', payload: records });
        expect(res.statusCode, res.body).toBe(200);
        for (const p of (
          JSON.parse(res.body) as { predictions: { prediction: number; probability: number }[] }
        ).predictions) {
          expect([0, 1]).toContain(p.prediction);
          expect(p.probability).toBeGreaterThanOrEqual(0);
          expect(p.probability).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('is still healthy and serving over HTTP afterwards', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});
