import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColumnBuilder, type Table, writeParquet } from '../../core/dataset/index.js';
import { type Database, openDatabase } from '../../core/db/index.js';
import { runDriftJob } from '../../drift-job/index.js';
import { type RunningServer, startServer } from '../../inference-server/index.js';
import { type FixtureModel, fixtureRecord, writeFixtureModel } from '../fixtures/model.js';
import { postJson, tempDir, uniqueModelName } from '../fixtures/serve-helpers.js';
import { testDatabaseUrl } from '../services.js';

/**
 * Finding 2 of issue 13, on the real PostgreSQL: whoever can reach a model's Service could post
 * inverted labels for their own predictions and have the next drift run roll the deployment
 * back. Now /feedback takes a credential of its own: without it the labels are refused (401)
 * and nothing follows — no label row, a drift run sees no labels and decides nothing. The very
 * same labels sent with the feedback token are stored and the drift run acts on them, so the
 * first half cannot pass for want of a working path.
 */

const TOKEN = 'forgery-test-feedback-token-0123456789';
const N = 400;

let db: Database;
let dir: string;
let model: FixtureModel;
let server: RunningServer;

beforeAll(async () => {
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: await tempDir('forgery-db') });
  dir = await tempDir('forgery');
  model = await writeFixtureModel(join(dir, 'model'), { modelName: uniqueModelName('forgery') });
  await writeFile(join(dir, 'reference.parquet'), writeParquet(referenceTable()));
  server = await startServer({
    model: { kind: 'location', location: model.dir },
    pool: db.pool,
    feedbackToken: TOKEN,
    predictionLog: { flushIntervalMs: 20 },
  });
});

afterAll(async () => {
  await server?.close();
  await db?.close();
});

/** The records the model is served, as the reference a drift run compares them with. */
function referenceTable(): Table {
  const names = ['date', 'distance', 'origin', 'destination', 'seats', 'holiday'] as const;
  const kinds = { date: 'timestamp', origin: 'string', destination: 'string', holiday: 'boolean' } as const;
  const builders = names.map((n) => new ColumnBuilder(n, kinds[n as keyof typeof kinds] ?? 'number'));
  for (let i = 0; i < 2 * N; i++) {
    const r = fixtureRecord(10_000 + i);
    builders.forEach((b, k) => {
      const v = r[names[k]!];
      b.append(names[k] === 'date' ? Date.parse(v as string) : v);
    });
  }
  return { numRows: 2 * N, columns: Object.fromEntries(builders.map((b) => [b.name, b.build()])) };
}

async function labelRows(ids: string[]): Promise<number> {
  const { rows } = await db.pool.query(
    'SELECT count(*)::int AS n FROM prediction_labels WHERE model_name = $1 AND prediction_id = ANY($2::text[])',
    [model.modelName, ids],
  );
  return rows[0].n;
}

function driftRun(since: Date) {
  return runDriftJob({
    reference: join(dir, 'reference.parquet'),
    schema: join(model.dir, 'schema.json'),
    metrics: join(model.dir, 'metrics.json'),
    modelName: model.modelName,
    modelVersion: 'v1',
    since,
    until: new Date(Date.now() + 1),
    out: join(dir, `reports-${Date.now()}`),
    pool: db.pool,
    minRows: 100,
    quality: { minLabels: 100 },
  });
}

describe('forged feedback', () => {
  it('without the feedback token is refused, stores nothing and makes no drift run act; with it, the same labels count', async () => {
    const since = new Date();
    const records = Array.from({ length: N }, (_, i) => fixtureRecord(i));
    const served = await postJson(`${server.url}/predict_batch`, records);
    expect(served.status).toBe(200);
    const predictions = (served.body as { predictions: { prediction_id: string; probability: number }[] })
      .predictions;
    const ids = predictions.map((p) => p.prediction_id);
    for (const deadline = Date.now() + 10_000; server.predictionLog().rowsWritten < N; ) {
      if (Date.now() > deadline) throw new Error('the predictions did not reach PostgreSQL');
      await new Promise((r) => setTimeout(r, 20));
    }
    // Labels that rank the model's own probabilities backwards: what an attacker would send.
    const median = [...predictions].map((p) => p.probability).sort((a, b) => a - b)[N / 2]!;
    const inverted = predictions.map((p) => ({
      prediction_id: p.prediction_id,
      label: p.probability < median,
    }));

    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer not-the-feedback-token-000' }];
    for (const headers of attempts) {
      const forged = await postJson(`${server.url}/feedback`, inverted, headers);
      expect(forged.status).toBe(401);
    }
    expect(await labelRows(ids)).toBe(0);
    const quiet = await driftRun(since);
    expect(quiet.report.rows).toMatchObject({ current: N, labelled: 0 });
    expect(quiet.report.quality.verdict).not.toBe('Degraded');
    expect(quiet.decision.rollback).toBeFalsy();

    const genuine = await postJson(`${server.url}/feedback`, inverted, { authorization: `Bearer ${TOKEN}` });
    expect(genuine).toMatchObject({ status: 200, body: { recorded: N } });
    expect(await labelRows(ids)).toBe(N);
    const acted = await driftRun(since);
    expect(acted.report.rows).toMatchObject({ current: N, labelled: N });
    expect(acted.report.quality.verdict).toBe('Degraded');
    expect(acted.decision.rollback).toBeTruthy();
  });
});
