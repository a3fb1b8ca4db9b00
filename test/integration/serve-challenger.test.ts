import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import type { FeatureRecord } from '../../core/feature-schema.js';
import { requestBucket } from '../../inference-server/challenger.js';
import { ModelLoadError, type RunningServer, startServer } from '../../inference-server/index.js';
import { type FixtureModel, fixtureRecord, writeFixtureModel } from '../fixtures/model.js';
import { postJson, referenceOutputs, tempDir, uniqueModelName } from '../fixtures/serve-helpers.js';
import { testDatabaseUrl } from '../services.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const ADMIN_TOKEN = 'test-admin-token-0123456789';

interface LoggedRow {
  model_version: string;
  request_id: string;
  prediction: number;
  probability: number;
}

let db: Database;
let dir: string;
let v1: FixtureModel;
let v2: FixtureModel;

beforeAll(async () => {
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: await tempDir('challenger-db') });
  dir = await tempDir('challenger');
  const name = uniqueModelName('serve-challenger');
  v1 = await writeFixtureModel(join(dir, 'v1'), { modelName: name, version: 'v1' });
  // Other weights, so the two versions' answers differ and a row says which model made it.
  v2 = await writeFixtureModel(join(dir, 'v2'), {
    modelName: name,
    version: 'v2',
    weights: {
      bias: 0.5,
      numeric: { distance: -0.001, date__hour: 0.01 },
      categories: { origin: { ATL: 1 }, destination: {} },
    },
  });
});

afterAll(async () => {
  await db?.close();
});

function serve(challenger: { mode: 'shadow' | 'canary'; canaryShare?: number }): Promise<RunningServer> {
  return startServer({
    model: { kind: 'location', location: v1.dir },
    challenger: { source: { kind: 'location', location: v2.dir }, ...challenger },
    pool: db.pool,
    predictionLog: { flushIntervalMs: 20 },
    adminToken: ADMIN_TOKEN,
  });
}

async function loggedRows(requestIds: string[]): Promise<LoggedRow[]> {
  const { rows } = await db.pool.query<LoggedRow>(
    `SELECT model_version, request_id, prediction, probability FROM prediction_logs
     WHERE model_name = $1 AND request_id = ANY($2::text[]) ORDER BY request_id, model_version`,
    [v1.modelName, requestIds],
  );
  return rows;
}

async function predict(url: string, record: FeatureRecord, requestId: string) {
  const response = await fetch(`${url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify(record),
  });
  const body = (await response.json()) as { model_version: string; prediction: number; probability: number };
  return { status: response.status, header: response.headers.get('x-mlcycle-model-version'), body };
}

describe('a shadow challenger', () => {
  it('answers with the champion and logs both predictions under the same request id', async () => {
    const server = await serve({ mode: 'shadow' });
    const records = Array.from({ length: 30 }, (_, i) => fixtureRecord(7000 + i));
    const ids = records.map((_, i) => `shadow-${v1.modelName}-${i}`);
    const [fromV1, fromV2] = await Promise.all([
      referenceOutputs(v1.modelBytes, v1.schema, records),
      referenceOutputs(v2.modelBytes, v2.schema, records),
    ]);
    expect(fromV1.probabilities).not.toEqual(fromV2.probabilities);
    try {
      const answers = await Promise.all(records.map((r, i) => predict(server.url, r, ids[i]!)));
      answers.forEach((a, i) => {
        expect(a.status).toBe(200);
        expect(a.header).toBe('v1');
        expect(a.body.model_version).toBe('v1');
        expect(a.body.probability).toBe(fromV1.probabilities![i]);
      });
      const batch = await postJson(`${server.url}/predict_batch`, records.slice(0, 5), {
        'x-request-id': `shadow-batch-${v1.modelName}`,
      });
      expect(batch).toMatchObject({ status: 200, body: { model_version: 'v1' } });
      const model = (await (await fetch(`${server.url}/v1/model`)).json()) as Record<string, unknown>;
      expect(model).toMatchObject({
        version: 'v1',
        role: 'champion',
        challenger: { version: 'v2', mode: 'shadow', canary_share: 0 },
      });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(
        /mlcycle_predictions_total\{model_version="v2",class="[01]",role="challenger"\} \d+/,
      );
      expect(metrics).toMatch(/mlcycle_prediction_requests_answered_total\{role="champion"\} 31/);
      expect(metrics).toMatch(/mlcycle_model_info\{[^}]*model_version="v2"[^}]*role="challenger"\} 1/);
    } finally {
      // close() waits for the off-path scoring, then writes the log: every row is in afterwards.
      await server.close();
    }
    const rows = await loggedRows(ids);
    expect(rows).toHaveLength(60);
    ids.forEach((id, i) => {
      const pair = rows.filter((r) => r.request_id === id);
      expect(pair.map((r) => r.model_version)).toEqual(['v1', 'v2']);
      expect(pair[0]!.probability).toBeCloseTo(fromV1.probabilities![i]!, 6);
      expect(pair[1]!.probability).toBeCloseTo(fromV2.probabilities![i]!, 6);
    });
    const batchRows = await loggedRows(
      records.slice(0, 5).map((_, i) => `shadow-batch-${v1.modelName}:${i}`),
    );
    expect(batchRows.map((r) => r.model_version)).toEqual(Array(5).fill(['v1', 'v2']).flat());
  });
});

describe('a canary challenger', () => {
  it('answers its share of request ids (by hash), the champion scoring them too; both logged', async () => {
    const share = 0.2;
    const server = await serve({ mode: 'canary', canaryShare: share });
    const n = 1000;
    const ids = Array.from({ length: n }, (_, i) => `canary-${v1.modelName}-${i}`);
    const records = ids.map((_, i) => fixtureRecord(i));
    const fromV2 = await referenceOutputs(v2.modelBytes, v2.schema, records);
    try {
      const answers: Awaited<ReturnType<typeof predict>>[] = [];
      for (let start = 0; start < n; start += 50) {
        const part = ids.slice(start, start + 50);
        answers.push(
          ...(await Promise.all(part.map((id, k) => predict(server.url, records[start + k]!, id)))),
        );
      }
      const byChallenger = answers.filter((a) => a.header === 'v2').length;
      expect(answers.every((a) => a.status === 200 && a.header === a.body.model_version)).toBe(true);
      // The share is respected: within 4 standard deviations of a binomial draw over 1,000 ids...
      expect(Math.abs(byChallenger / n - share)).toBeLessThan(4 * Math.sqrt((share * (1 - share)) / n));
      // ...and it is exactly the ids whose hash falls below it, so a retry meets the same model.
      expect(answers.map((a) => a.header === 'v2')).toEqual(ids.map((id) => requestBucket(id) < share));
      answers.forEach((a, i) => {
        if (a.header === 'v2') expect(a.body.probability).toBe(fromV2.probabilities![i]);
      });
      const again = await predict(server.url, records[0]!, ids[0]!);
      expect(again.header).toBe(answers[0]!.header);
    } finally {
      await server.close();
    }
    const rows = await loggedRows(ids);
    expect(rows).toHaveLength(2 * n);
    expect(rows.filter((r) => r.model_version === 'v1')).toHaveLength(n);
  });
});

describe('a failing canary', () => {
  it('leaves the caller the champion’s answer, logged and counted, when the challenger fails', async () => {
    const broken = await writeFixtureModel(join(dir, 'v3-broken'), {
      modelName: v1.modelName,
      version: 'v3',
      onlyPairs: true,
    });
    const server = await startServer({
      model: { kind: 'location', location: v1.dir },
      challenger: { source: { kind: 'location', location: broken.dir }, mode: 'canary', canaryShare: 0.5 },
      pool: db.pool,
      predictionLog: { flushIntervalMs: 20 },
    });
    // Request ids the canary answers: their batches make the broken challenger fail.
    const ids = Array.from({ length: 400 }, (_, i) => `broken-canary-${v1.modelName}-${i}`)
      .filter((id) => requestBucket(id) < 0.5)
      .slice(0, 20);
    const records = [fixtureRecord(1), fixtureRecord(2), fixtureRecord(3)];
    const fromV1 = await referenceOutputs(v1.modelBytes, v1.schema, records);
    try {
      for (const id of ids) {
        const res = await fetch(`${server.url}/predict_batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify(records),
        });
        const body = (await res.json()) as { model_version: string; predictions: { probability: number }[] };
        expect(res.status).toBe(200);
        expect(res.headers.get('x-mlcycle-model-version')).toBe('v1');
        expect(body.model_version).toBe('v1');
        expect(body.predictions.map((p) => p.probability)).toEqual(fromV1.probabilities);
      }
      // Two records, which it can score: the canary answers as it should.
      const pair = await fetch(`${server.url}/predict_batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `${ids[0]}-pair` },
        body: JSON.stringify(records.slice(0, 2)),
      });
      expect(pair.headers.get('x-mlcycle-model-version')).toBe('v3');
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/mlcycle_canary_fallbacks_total(\{[^}]*\})? 20\b/);
    } finally {
      await server.close();
    }
    const rows = await loggedRows(ids.map((id) => `${id}:0`));
    expect(rows.filter((r) => r.model_version === 'v1')).toHaveLength(ids.length);
    expect(rows.filter((r) => r.model_version === 'v3')).toHaveLength(0);
  });
});

describe('challenger checks and admin', () => {
  it('refuses at start a challenger whose feature schema differs from the champion’s', async () => {
    const other = await writeFixtureModel(join(dir, 'other-schema'), {
      modelName: v1.modelName,
      version: 'v9',
      task: 'regression',
    });
    const error = await startServer({
      model: { kind: 'location', location: v1.dir },
      challenger: { source: { kind: 'location', location: other.dir }, mode: 'shadow' },
      pool: db.pool,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(
      /challenger .*\/v9 has feature schema sha256:[0-9a-f]+ but the champion .*\/v1 has sha256:[0-9a-f]+: a challenger must take the same records/,
    );
  });

  it('mlcycle serve --challenger-uri exits 3 on a mismatched schema, and refuses a canary share above 0.5', async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js')))
      throw new Error('dist/ is missing: run `npm run build` first');
    const other = await writeFixtureModel(join(dir, 'other-schema-cli'), {
      modelName: v1.modelName,
      version: 'v8',
      task: 'regression',
    });
    const cli = (args: string[], env: Record<string, string> = {}) =>
      run(process.execPath, [join(ROOT, 'bin/mlcycle'), 'serve', '--model', v1.dir, '--port', '0', ...args], {
        env: { ...process.env, MLCYCLE_DATABASE_URL: testDatabaseUrl(), ...env },
        timeout: 60_000,
      }).catch((e: { code: number; stderr: string }) => e);
    const mismatched = (await cli(['--challenger-uri', other.dir])) as { code: number; stderr: string };
    expect(mismatched.code).toBe(3);
    expect(mismatched.stderr).toMatch(/has feature schema .* a challenger must take the same records/);
    const tooMuch = (await cli([], {
      MLCYCLE_CHALLENGER_URI: v2.dir,
      MLCYCLE_CHALLENGER_MODE: 'canary',
      MLCYCLE_CANARY_SHARE: '0.6',
    })) as { code: number; stderr: string };
    expect(tooMuch.code).not.toBe(0);
    expect(tooMuch.stderr).toMatch(/MLCYCLE_CANARY_SHARE/);
  });

  it('sets, removes and promotes a challenger through the admin routes', async () => {
    const server = await startServer({
      model: { kind: 'location', location: v1.dir },
      pool: db.pool,
      adminToken: ADMIN_TOKEN,
    });
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    try {
      expect((await postJson(`${server.url}/admin/challenger`, { location: v2.dir })).status).toBe(401);
      const set = await postJson(
        `${server.url}/admin/challenger`,
        { location: v2.dir, mode: 'canary', canary_share: 0.5 },
        auth,
      );
      expect(set).toMatchObject({ status: 200, body: { version: 'v2', mode: 'canary', canary_share: 0.5 } });
      expect(server.challenger()?.model.version).toBe('v2');
      const removed = await fetch(`${server.url}/admin/challenger`, { method: 'DELETE', headers: auth });
      expect(removed.status).toBe(200);
      expect(server.challenger()).toBeUndefined();
      await server.setChallenger({ source: { kind: 'location', location: v2.dir }, mode: 'shadow' });
      // A champion the challenger cannot stand beside is refused; the old pair keeps serving.
      const otherSchema = await writeFixtureModel(join(dir, 'other-schema-admin'), {
        modelName: v1.modelName,
        version: 'v7',
        task: 'regression',
      });
      const refused = await postJson(`${server.url}/admin/model`, { location: otherSchema.dir }, auth);
      expect(refused.status).toBe(422);
      expect((refused.body as { detail: string }).detail).toMatch(/a challenger must take the same records/);
      expect(server.model().version).toBe('v1');
      const promoted = await postJson(`${server.url}/admin/model`, { location: v2.dir }, auth);
      expect(promoted).toMatchObject({ status: 200, body: { version: 'v2' } });
      expect(server.challenger()).toBeUndefined();
      const answer = await predict(server.url, fixtureRecord(1), `promoted-${v1.modelName}`);
      expect(answer.header).toBe('v2');
    } finally {
      await server.close();
    }
  });
});
