import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import { sha256 } from '../../core/digest.js';
import type { FeatureRecord } from '../../core/feature-schema.js';
import { openObjectStore } from '../../core/object-store/index.js';
import { saveVersion } from '../../core/registry.js';
import { loadModel, ModelLoadError, type RunningServer, startServer } from '../../inference-server/index.js';
import { type FixtureModel, fixtureRecord, writeFixtureModel } from '../fixtures/model.js';
import { postJson, referenceOutputs, tempDir, uniqueModelName } from '../fixtures/serve-helpers.js';
import { testDatabaseUrl, testS3 } from '../services.js';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const FEEDBACK_TOKEN = 'test-feedback-token-9876543210';

let db: Database;
let dir: string;
let v1: FixtureModel;
let v2: FixtureModel;
let server: RunningServer;

beforeAll(async () => {
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: await tempDir('serve-db') });
  dir = await tempDir('serve');
  const name = uniqueModelName();
  v1 = await writeFixtureModel(join(dir, 'v1'), { modelName: name, version: 'v1' });
  v2 = await writeFixtureModel(join(dir, 'v2'), {
    modelName: name,
    version: 'v2',
    weights: {
      bias: 0.5,
      numeric: { distance: -0.001, date__hour: 0.01 },
      categories: { origin: { ATL: 1 }, destination: {} },
    },
  });
  server = await startServer({
    model: { kind: 'location', location: v1.dir },
    database: { databaseUrl: testDatabaseUrl(), dataDir: join(dir, 'data') },
    limits: { batchMax: 1_000, feedbackMax: 100 },
    bodyLimit: 1024 * 1024,
    predictionLog: { flushIntervalMs: 20 },
    adminToken: ADMIN_TOKEN,
    feedbackToken: FEEDBACK_TOKEN,
  });
});

afterAll(async () => {
  await server?.close();
  await db?.close();
});

describe('predictions', () => {
  it('answers /predict with the model’s own outputs, one record at a time', async () => {
    const records = Array.from({ length: 40 }, (_, i) => fixtureRecord(i));
    records.push({ ...fixtureRecord(3), origin: 'ZZZ', destination: 'never-seen' });
    const expected = await referenceOutputs(v1.modelBytes, v1.schema, records);
    for (const [i, record] of records.entries()) {
      const res = await postJson(`${server.url}/predict`, record);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        model_name: v1.modelName,
        model_version: 'v1',
        prediction: expected.predictions[i],
        probability: expected.probabilities![i],
      });
    }
  });

  it('answers concurrent /predict requests (merged into one inference) each with its own outputs', async () => {
    const records = Array.from({ length: 64 }, (_, i) => fixtureRecord(500 + i));
    const expected = await referenceOutputs(v1.modelBytes, v1.schema, records);
    const answers = await Promise.all(records.map((r) => postJson(`${server.url}/predict`, r)));
    answers.forEach((res, i) => {
      expect(res.body).toMatchObject({
        prediction: expected.predictions[i],
        probability: expected.probabilities![i],
      });
    });
  });

  it('answers /predict_batch with one result per record, in order', async () => {
    const records = Array.from({ length: 500 }, (_, i) => fixtureRecord(1000 + i));
    const expected = await referenceOutputs(v1.modelBytes, v1.schema, records);
    const res = await postJson(`${server.url}/predict_batch`, records, { 'x-request-id': 'batch-order-1' });
    expect(res.status).toBe(200);
    const body = res.body as {
      request_id: string;
      predictions: { prediction_id: string; prediction: number; probability: number }[];
    };
    expect(body.request_id).toBe('batch-order-1');
    expect(body.predictions.map((p) => p.prediction)).toEqual(expected.predictions);
    expect(body.predictions.map((p) => p.probability)).toEqual(expected.probabilities);
    expect(new Set(body.predictions.map((p) => p.prediction_id)).size).toBe(records.length);
    // Both classes occur, so the comparison is not trivially all-zero.
    expect(new Set(expected.predictions).size).toBe(2);
  });

  it('serves a regression model’s `prediction` output', async () => {
    const regression = await writeFixtureModel(join(dir, 'regression'), {
      task: 'regression',
      modelName: uniqueModelName('serve-reg'),
    });
    const other = await startServer({ model: { kind: 'location', location: regression.dir }, pool: db.pool });
    try {
      const records = Array.from({ length: 10 }, (_, i) => fixtureRecord(i));
      const expected = await referenceOutputs(regression.modelBytes, regression.schema, records);
      const res = await postJson(`${other.url}/predict_batch`, records);
      expect(res.status).toBe(200);
      const body = res.body as { predictions: { prediction: number; probability?: number }[] };
      expect(body.predictions.map((p) => p.prediction)).toEqual(expected.predictions);
      expect(body.predictions.every((p) => p.probability === undefined)).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe('validation', () => {
  const good = fixtureRecord(1);
  const cases: {
    name: string;
    path?: string;
    body: unknown;
    headers?: Record<string, string>;
    status: number;
    errors?: { field: string; message: string | RegExp }[];
  }[] = [
    {
      name: 'unknown field',
      body: { ...good, extra: 1 },
      status: 422,
      errors: [{ field: 'extra', message: 'unknown field' }],
    },
    {
      name: 'missing required field',
      body: { ...good, distance: undefined },
      status: 422,
      errors: [{ field: 'distance', message: 'required field is missing' }],
    },
    {
      name: 'wrong type',
      body: { ...good, distance: '800' },
      status: 422,
      errors: [{ field: 'distance', message: /finite number/ }],
    },
    {
      name: 'null where not nullable',
      body: { ...good, origin: null },
      status: 422,
      errors: [{ field: 'origin', message: /string/ }],
    },
    {
      name: 'Infinity (1e999 parses to Infinity)',
      body: JSON.stringify({ ...good, distance: 0 }).replace('"distance":0', '"distance":1e999'),
      status: 422,
      errors: [{ field: 'distance', message: /finite number/ }],
    },
    {
      name: 'out-of-format timestamp',
      body: { ...good, date: '2001-03-04 17:25:00' },
      status: 422,
      errors: [{ field: 'date', message: /ISO-8601/ }],
    },
    {
      name: 'impossible date',
      body: { ...good, date: '2001-02-30T10:00:00Z' },
      status: 422,
      errors: [{ field: 'date', message: /ISO-8601/ }],
    },
    {
      name: 'non-integer integer',
      body: { ...good, seats: 1.5 },
      status: 422,
      errors: [{ field: 'seats', message: /integer/ }],
    },
    {
      name: 'several bad fields at once',
      body: { distance: -1, origin: 7, holiday: 'yes' },
      status: 422,
      errors: [
        { field: 'date', message: 'required field is missing' },
        { field: 'origin', message: /string/ },
        { field: 'holiday', message: /true or false/ },
      ],
    },
    {
      name: 'batch: index and field',
      path: '/predict_batch',
      body: [good, { ...good, seats: 'many' }, good, { ...good, bogus: true }],
      status: 422,
      errors: [
        { field: '1.seats', message: /integer/ },
        { field: '3.bogus', message: 'unknown field' },
      ],
    },
    { name: 'batch: not an array', path: '/predict_batch', body: good, status: 422 },
    { name: 'batch: empty', path: '/predict_batch', body: [], status: 422 },
    { name: 'batch: too many records', path: '/predict_batch', body: Array(1001).fill(good), status: 413 },
    { name: 'body too large', body: JSON.stringify({ ...good, pad: 'x'.repeat(1100 * 1024) }), status: 413 },
    { name: 'malformed JSON', body: '{"date": "2001-', status: 400 },
    { name: 'NaN literal', body: '{"distance": NaN}', status: 400 },
    { name: 'empty body', body: '', status: 400 },
    {
      name: 'wrong content type',
      body: 'distance=3',
      headers: { 'content-type': 'text/plain' },
      status: 415,
    },
    {
      name: 'form content type',
      body: 'a=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
    },
    {
      name: 'bad X-Request-Id',
      body: good,
      headers: { 'x-request-id': 'has spaces/and;semicolons' },
      status: 400,
    },
    { name: 'too long X-Request-Id', body: good, headers: { 'x-request-id': 'x'.repeat(129) }, status: 400 },
    { name: 'prototype pollution', body: '{"__proto__": {"x": 1}}', status: 400 },
    { name: 'not an object', body: '42', status: 422, errors: [{ field: '(record)', message: /object/ }] },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.status} problem+json`, async () => {
      const headers = { ...(c.headers ?? {}) };
      const res = await fetch(`${server.url}${c.path ?? '/predict'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
      });
      const body = (await res.json()) as {
        status: number;
        type: string;
        errors?: { field: string; message: string }[];
      };
      expect(res.status).toBe(c.status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(body.status).toBe(c.status);
      expect(body.type).toMatch(/^urn:mlcycle:problem:/);
      for (const e of c.errors ?? []) {
        expect(body.errors).toContainEqual({ field: e.field, message: expect.stringMatching(e.message) });
      }
      if (c.errors) expect(body.errors).toHaveLength(c.errors.length);
    });
  }

  it('accepts unseen categories and counts them per feature', async () => {
    const before = await metricValue('mlcycle_unseen_category_total{feature="origin"}');
    const res = await postJson(`${server.url}/predict_batch`, [
      { ...good, origin: 'XYZ' },
      { ...good, origin: 'QQQ', destination: 'PPP' },
    ]);
    expect(res.status).toBe(200);
    expect(await metricValue('mlcycle_unseen_category_total{feature="origin"}')).toBe(before + 2);
    expect(await metricValue('mlcycle_unseen_category_total{feature="destination"}')).toBeGreaterThanOrEqual(
      1,
    );
  });
});

async function metricsText(): Promise<string> {
  return (await fetch(`${server.url}/metrics`)).text();
}

async function metricValue(series: string): Promise<number> {
  const line = (await metricsText()).split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('prediction log', () => {
  async function loggedRow(predictionId: string): Promise<Record<string, unknown> | undefined> {
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
      const { rows } = await db.pool.query(
        'SELECT * FROM prediction_logs WHERE model_name = $1 AND prediction_id = $2',
        [v1.modelName, predictionId],
      );
      if (rows[0]) return rows[0];
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  }

  it('writes every served prediction as a row under the server’s id: features as received, outputs, version, latency', async () => {
    const record: FeatureRecord = { ...fixtureRecord(7), destination: null };
    const res = await fetch(`${server.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'log-row-1' },
      body: JSON.stringify(record),
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { prediction_id: string; prediction: number; probability: number };
    expect(answer.prediction_id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(res.headers.get('x-mlcycle-prediction-id')).toBe(answer.prediction_id);
    const row = await loggedRow(answer.prediction_id);
    expect(row).toMatchObject({
      model_version: 'v1',
      request_id: 'log-row-1', // the caller's id, kept as an attribute
      record_index: null,
      features: record,
      prediction: answer.prediction,
      probability: answer.probability,
    });
    expect(row!.latency_ms as number).toBeGreaterThan(0);
    expect(Math.abs((row!.created_at as Date).getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('logs records whose strings jsonb cannot hold (U+0000, lone surrogates) with U+FFFD instead', async () => {
    const record = { ...fixtureRecord(8), origin: 'A\u0000B', destination: 'x\ud800y' };
    const res = await postJson(`${server.url}/predict`, record, { 'x-request-id': 'nul-1' });
    expect(res.status).toBe(200);
    const row = await loggedRow((res.body as { prediction_id: string }).prediction_id);
    expect(row?.features).toMatchObject({ origin: 'A\ufffdB', destination: 'x\ufffdy' });
    expect(server.predictionLog().rowsDropped).toBe(0);
  });

  it('logs every prediction however callers choose their request ids: no reuse suppresses a row, no id collides', async () => {
    // A reused X-Request-Id (a retry, or a client trying to hide a prediction) ...
    const first = await postJson(`${server.url}/predict`, fixtureRecord(9), { 'x-request-id': 'dup-1' });
    const second = await postJson(`${server.url}/predict`, fixtureRecord(10), { 'x-request-id': 'dup-1' });
    // ... and a /predict id that looks like item 0 of a batch sent as `abc`.
    const batch = await postJson(`${server.url}/predict_batch`, [fixtureRecord(11), fixtureRecord(12)], {
      'x-request-id': 'abc',
    });
    const lookalike = await postJson(`${server.url}/predict`, fixtureRecord(13), { 'x-request-id': 'abc:0' });
    for (const r of [first, second, batch, lookalike]) expect(r.status).toBe(200);
    const ids = [
      (first.body as { prediction_id: string }).prediction_id,
      (second.body as { prediction_id: string }).prediction_id,
      ...(batch.body as { predictions: { prediction_id: string }[] }).predictions.map((p) => p.prediction_id),
      (lookalike.body as { prediction_id: string }).prediction_id,
    ];
    expect(new Set(ids).size).toBe(5);
    const rows = await Promise.all(ids.map(loggedRow));
    expect(rows.map((r) => [r?.request_id, r?.record_index, r?.features])).toEqual([
      ['dup-1', null, fixtureRecord(9)],
      ['dup-1', null, fixtureRecord(10)],
      ['abc', 0, fixtureRecord(11)],
      ['abc', 1, fixtureRecord(12)],
      ['abc:0', null, fixtureRecord(13)],
    ]);
  });
});

describe('feedback', () => {
  const auth = { authorization: `Bearer ${FEEDBACK_TOKEN}` };

  async function predictIds(): Promise<{ batch: string[]; single: string }> {
    const batch = await postJson(`${server.url}/predict_batch`, [fixtureRecord(1), fixtureRecord(2)]);
    const single = await postJson(`${server.url}/predict`, fixtureRecord(3));
    return {
      batch: (batch.body as { predictions: { prediction_id: string }[] }).predictions.map(
        (p) => p.prediction_id,
      ),
      single: (single.body as { prediction_id: string }).prediction_id,
    };
  }

  async function labels(ids: string[]) {
    const { rows } = await db.pool.query(
      `SELECT l.prediction_id, l.prediction, f.label, f.observed_at
         FROM prediction_logs l JOIN prediction_labels f USING (model_name, prediction_id)
        WHERE l.model_name = $1 AND l.prediction_id = ANY($2::text[])`,
      [v1.modelName, ids],
    );
    return new Map(rows.map((r) => [r.prediction_id as string, r]));
  }

  it('stores labels that join to logged predictions by prediction id; first label stands; unknown ids reported', async () => {
    const { batch, single } = await predictIds();
    const res = await postJson(
      `${server.url}/feedback`,
      [
        { prediction_id: batch[0], label: true, observed_at: '2001-03-05T10:00:00Z' },
        { prediction_id: batch[1], label: 0 },
        { prediction_id: single, label: false },
        { prediction_id: 'no-such-prediction', label: 1 },
      ],
      auth,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      results: [
        { prediction_id: batch[0], status: 'recorded' },
        { prediction_id: batch[1], status: 'recorded' },
        { prediction_id: single, status: 'recorded' },
        { prediction_id: 'no-such-prediction', status: 'unknown' },
      ],
      recorded: 3,
      corrected: 0,
      duplicate: 0,
      unknown: 1,
    });

    const again = await postJson(`${server.url}/feedback`, { prediction_id: single, label: true }, auth);
    expect(again).toMatchObject({ status: 200, body: { prediction_id: single, status: 'duplicate' } });
    const unknown = await postJson(
      `${server.url}/feedback`,
      { prediction_id: 'still-unknown', label: true },
      auth,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.contentType).toMatch(/problem\+json/);

    // The labels are stored now; the predictions reach the log within a flush interval.
    let stored = new Map<string, Record<string, unknown>>();
    for (const deadline = Date.now() + 5_000; stored.size < 3 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      stored = await labels([...batch, single, 'no-such-prediction']);
    }
    expect([...batch, single].map((id) => stored.get(id)?.label)).toEqual([1, 0, 0]);
    expect((stored.get(batch[0]!)!.observed_at as Date).toISOString()).toBe('2001-03-05T10:00:00.000Z');
  });

  it('replaces a label only when the item says correction, and keeps every label in the history', async () => {
    const { single } = await predictIds();
    const send = (body: unknown) => postJson(`${server.url}/feedback`, body, auth);
    expect((await send({ prediction_id: single, label: 1 })).body).toMatchObject({ status: 'recorded' });
    const dup = await send({ prediction_id: single, label: 0 });
    expect(dup.body, JSON.stringify(dup.body)).toMatchObject({ status: 'duplicate' });
    const corrected = await send([
      { prediction_id: single, label: 0, correction: true, observed_at: '2001-03-06T00:00:00Z' },
    ]);
    expect(corrected.body).toMatchObject({
      corrected: 1,
      results: [{ prediction_id: single, status: 'corrected' }],
    });
    for (let i = 0; i < 100 && (await labels([single])).size === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await labels([single])).get(single)).toMatchObject({ label: 0 });
    const { rows: history } = await db.pool.query(
      'SELECT label, correction FROM prediction_label_history WHERE model_name = $1 AND prediction_id = $2 ORDER BY id',
      [v1.modelName, single],
    );
    expect(history).toEqual([
      { label: 1, correction: false },
      { label: 0, correction: true },
    ]);
  });

  it('refuses feedback without the feedback token (401) before reading it, and stores nothing', async () => {
    const { single } = await predictIds();
    const forged = [{ prediction_id: single, label: 1 }];
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-0123456789' },
      { authorization: `Bearer ${ADMIN_TOKEN}` }, // another credential is not this one
      { authorization: FEEDBACK_TOKEN }, // no scheme
      { authorization: `Basic ${Buffer.from(`x:${FEEDBACK_TOKEN}`).toString('base64')}` },
    ];
    for (const headers of attempts) {
      const res = await postJson(`${server.url}/feedback`, forged, headers);
      expect(res.status).toBe(401);
      expect(res.contentType).toMatch(/problem\+json/);
      expect(JSON.stringify(res.body)).not.toContain(FEEDBACK_TOKEN);
    }
    // Refused before the body is parsed: even a malformed body gets 401, not 400.
    expect((await postJson(`${server.url}/feedback`, '{not json')).status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect((await labels([single])).size).toBe(0);
    expect(await metricValue('mlcycle_feedback_total{outcome="unauthorized"}')).toBeGreaterThanOrEqual(6);
  });

  it('refuses bad feedback with field-level messages', async () => {
    const res = await postJson(
      `${server.url}/feedback`,
      [
        { prediction_id: 'x', label: 'yes' },
        { label: 1 },
        { prediction_id: 'y', label: 2 },
        { prediction_id: 'z', label: 1, observed_at: 'yesterday', extra: 1 },
        { prediction_id: 'w', label: 1, correction: 'yes' },
      ],
      auth,
    );
    expect(res.status).toBe(422);
    const fields = (res.body as { errors: { field: string }[] }).errors.map((e) => e.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        '0.label',
        '1.prediction_id',
        '2.label',
        '3.observed_at',
        '3.extra',
        '4.correction',
      ]),
    );
  });

  it('is off on a server without a feedback token, or without a prediction log', async () => {
    for (const options of [{}, { feedbackToken: FEEDBACK_TOKEN, predictionLog: { enabled: false } }]) {
      const other = await startServer({
        model: { kind: 'location', location: v1.dir },
        pool: db.pool,
        ...options,
      });
      try {
        const res = await postJson(`${other.url}/feedback`, { prediction_id: 'x', label: 1 }, auth);
        expect(res).toMatchObject({ status: 404, body: { type: 'urn:mlcycle:problem:feedback-off' } });
      } finally {
        await other.close();
      }
    }
  });
});

describe('logging disabled (ModelDeployment spec.logging.enabled: false)', () => {
  it('answers predictions and logs none of them', async () => {
    const quiet = await writeFixtureModel(join(dir, 'quiet'), { modelName: uniqueModelName('serve-nolog') });
    const other = await startServer({
      model: { kind: 'location', location: quiet.dir },
      pool: db.pool,
      predictionLog: { enabled: false, flushIntervalMs: 10 },
    });
    try {
      const single = await postJson(`${other.url}/predict`, fixtureRecord(1));
      const batch = await postJson(`${other.url}/predict_batch`, [fixtureRecord(2), fixtureRecord(3)]);
      expect([single.status, batch.status]).toEqual([200, 200]);
      const ready = await (await fetch(`${other.url}/readyz`)).json();
      expect(ready).toMatchObject({ ready: true, prediction_log: { enabled: false, queue_depth: 0 } });
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await other.close();
    }
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n FROM prediction_logs WHERE model_name = $1',
      [quiet.modelName],
    );
    expect(rows[0].n).toBe(0);
  });
});

describe('status endpoints', () => {
  it('/healthz, /readyz and /v1/model describe the served model', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      model: { name: v1.modelName, version: 'v1' },
      prediction_log: { database_reachable: true },
    });
    const model = (await (await fetch(`${server.url}/v1/model`)).json()) as Record<string, unknown>;
    expect(model).toMatchObject({
      name: v1.modelName,
      version: 'v1',
      task: 'binary-classification',
      digests: { 'model.onnx': sha256(v1.modelBytes) },
      metrics: { holdout: { roc_auc: 0.71 } },
    });
    expect((model.schema as { digest: string }).digest).toBe(v1.schema.digest);
  });

  it('/metrics exposes the counters the issue lists', async () => {
    await postJson(`${server.url}/predict`, fixtureRecord(5));
    await new Promise((r) => setTimeout(r, 200));
    const text = await metricsText();
    for (const name of [
      'mlcycle_http_requests_total{route="/predict",status="200"}',
      'mlcycle_http_request_duration_seconds_bucket',
      'mlcycle_predictions_total{model_version="v1",class=',
      'mlcycle_prediction_probability_bucket',
      'mlcycle_unseen_category_total{feature=',
      'mlcycle_prediction_log_queue_depth',
      'mlcycle_prediction_log_rows_written_total',
      'mlcycle_prediction_log_write_failures_total',
      'mlcycle_prediction_log_rows_dropped_total',
      `mlcycle_model_info{model_name="${v1.modelName}",model_version="v1"`,
    ]) {
      expect(text).toContain(name);
    }
    expect(await metricValue('mlcycle_prediction_log_rows_written_total')).toBeGreaterThan(0);
  });

  it('/openapi.json is generated from the schemas, with the model’s record', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      openapi: string;
      components: { schemas: Record<string, unknown> };
      paths: Record<
        string,
        { post?: { requestBody: { content: Record<string, { schema: Record<string, unknown> }> } } }
      >;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/predict',
        '/predict_batch',
        '/feedback',
        '/healthz',
        '/readyz',
        '/metrics',
        '/v1/model',
      ]),
    );
    // Named schemas live in components, where their references point.
    expect(doc.paths['/predict']!.post!.requestBody.content['application/json']!.schema).toEqual({
      $ref: '#/components/schemas/Record',
    });
    expect(JSON.stringify(doc)).not.toContain('#/$defs/');
    const record = JSON.stringify(doc.components.schemas.Record);
    for (const f of v1.schema.features) expect(record).toContain(`"${f.name}"`);
    expect(record).toContain('"additionalProperties":false');
  });
});

describe('model switching', () => {
  it('POST /admin/model switches versions with the token and refuses without it', async () => {
    const refused = await postJson(`${server.url}/admin/model`, { location: v2.dir });
    expect(refused.status).toBe(401);
    const switched = await postJson(
      `${server.url}/admin/model`,
      { location: v2.dir },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(switched).toMatchObject({ status: 200, body: { version: 'v2' } });
    const records = [fixtureRecord(4)];
    const expected = await referenceOutputs(v2.modelBytes, v2.schema, records);
    const res = await postJson(`${server.url}/predict`, records[0]);
    expect(res.body).toMatchObject({ model_version: 'v2', probability: expected.probabilities![0] });
    const bad = await postJson(
      `${server.url}/admin/model`,
      { location: join(dir, 'missing') },
      { authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    expect(bad.status).toBe(422);
    expect(server.model().version).toBe('v2');
    await server.switchModel({ kind: 'location', location: v1.dir });
    expect((await postJson(`${server.url}/predict`, records[0])).body).toMatchObject({ model_version: 'v1' });
  });
});

describe('loading', () => {
  it('refuses a model whose bytes do not match the recorded digest', async () => {
    const tampered = await writeFixtureModel(join(dir, 'tampered'), { modelName: uniqueModelName() });
    const bytes = await readFile(join(tampered.dir, 'model.onnx'));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    await writeFile(join(tampered.dir, 'model.onnx'), bytes);
    const error = await loadModel(
      { kind: 'location', location: tampered.dir },
      { namespace: 'default' },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(
      /model\.onnx .* has digest sha256:[0-9a-f]+ but sha256:[0-9a-f]+ was recorded/,
    );
  });

  it('refuses a model whose schema.json is not the schema its manifest recorded', async () => {
    const other = await writeFixtureModel(join(dir, 'schema-digest'), { modelName: uniqueModelName() });
    const manifestPath = join(other.dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    await writeFile(manifestPath, JSON.stringify({ ...manifest, schemaDigest: `sha256:${'0'.repeat(64)}` }));
    const error = await loadModel({ kind: 'location', location: other.dir }, { namespace: 'default' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(
      /schema digest sha256:[0-9a-f]+ but the manifest recorded sha256:0+$/,
    );
  });

  it('refuses a directory without manifest.json, naming it', async () => {
    const error = await loadModel(
      { kind: 'location', location: join(dir, 'nowhere') },
      { namespace: 'default' },
    ).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/manifest\.json not found/);
  });

  it('loads a registered version from MinIO through the registry, verifying the recorded digests', async () => {
    const s3 = testS3();
    const name = uniqueModelName('serve-reg');
    const local = await writeFixtureModel(join(dir, 'registry'), { modelName: name, version: 'v1' });
    const prefix = `s3://mlcycle-serve-test/namespaces/default/models/${name}/v1`;
    const store = openObjectStore(prefix, s3);
    const artifacts = [];
    for (const file of ['model.onnx', 'schema.json', 'metrics.json', 'manifest.json']) {
      const body = await readFile(join(local.dir, file));
      await store.putNew(file, body);
      artifacts.push({ name: file, uri: store.uriFor(file), sha256: sha256(body), sizeBytes: body.length });
    }
    await saveVersion(db.pool, {
      namespace: 'default',
      modelName: name,
      version: 'v1',
      task: 'binary-classification',
      status: 'registered',
      deployable: true,
      artifactRoot: prefix,
      artifacts: artifacts.filter((a) => a.name !== 'manifest.json'),
    });
    const fromRegistry = await startServer({
      model: { kind: 'registry', modelName: name, version: 'v1' },
      pool: db.pool,
      s3,
    });
    try {
      const records = [fixtureRecord(12)];
      const expected = await referenceOutputs(local.modelBytes, local.schema, records);
      const res = await postJson(`${fromRegistry.url}/predict`, records[0]);
      expect(res.body).toMatchObject({
        model_name: name,
        model_version: 'v1',
        probability: expected.probabilities![0],
      });
    } finally {
      await fromRegistry.close();
    }

    // The same version in another namespace is not this one: no such version there.
    const elsewhere = await loadModel(
      { kind: 'registry', modelName: name, version: 'v1' },
      { namespace: 'team-b', pool: db.pool, s3 },
    ).catch((e: unknown) => e);
    expect((elsewhere as Error).message).toMatch(
      /no model version .*\/v1 in the registry of namespace team-b/,
    );

    // Someone with write access to the bucket replaces schema.json and rewrites the manifest to
    // match: the manifest alone would pass, the digests recorded at registration do not.
    const forged = Buffer.from((await readFile(join(local.dir, 'schema.json'), 'utf8')).replace('"', ' "'));
    await store.put('schema.json', forged);
    const manifest = JSON.parse((await store.get('manifest.json')).toString('utf8'));
    for (const a of manifest.artifacts) if (a.name === 'schema.json') a.sha256 = sha256(forged);
    await store.put('manifest.json', JSON.stringify(manifest));
    const fromRegistryAgain = await loadModel(
      { kind: 'registry', modelName: name, version: 'v1' },
      { namespace: 'default', pool: db.pool, s3 },
    ).catch((e: unknown) => e);
    expect(fromRegistryAgain).toBeInstanceOf(ModelLoadError);
    expect((fromRegistryAgain as Error).message).toMatch(/schema\.json .* has digest .* but .* was recorded/);
    // From its location (a challenger's --challenger-uri), with the registry at hand: refused too.
    const started = await startServer({
      model: { kind: 'location', location: prefix },
      pool: db.pool,
      s3,
    }).catch((e: unknown) => e);
    expect(started).toBeInstanceOf(ModelLoadError);
    expect((started as Error).message).toMatch(
      /schema\.json of .*\/v1 has digest sha256:[0-9a-f]+ but sha256:[0-9a-f]+ was recorded at registration: refusing to serve it/,
    );
  });
});
