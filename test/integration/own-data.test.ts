import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productionUri, vegaDatasetsDir } from '../../core/dataset/index.js';
import { type Database, openDatabase } from '../../core/db/index.js';
import { parseFeatureSchema } from '../../core/feature-schema.js';
import { openObjectStore } from '../../core/object-store/index.js';
import { runDriftJob } from '../../drift-job/index.js';
import { startServer } from '../../inference-server/index.js';

const FEEDBACK_TOKEN = 'own-data-feedback-token-0123456789';

import { trainModel, trainOptions } from '../../trainer-job/index.js';
import { postJson, tempDir } from '../fixtures/serve-helpers.js';
import { testDatabaseUrl, testS3 } from '../services.js';

/**
 * Bring your own data, the whole path on the real PostgreSQL and MinIO: two vega-datasets
 * tables trained with nothing but --dataset and --target, registered, served from the registry,
 * sent the table's own rows under their original column names (`Beak Length (mm)`, a `Year`
 * written as a date), labelled through /feedback, and checked by the drift job for drift and
 * quality on the prediction log.
 */

let db: Database;
beforeAll(async () => {
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: await tempDir('own-data-db') });
});
afterAll(async () => {
  await db?.close();
});

type Row = Record<string, number | string | null>;

async function waitForLoggedRows(modelName: string, count: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { rows } = await db.pool.query(
      'SELECT count(*)::int AS n FROM prediction_logs WHERE model_name = $1',
      [modelName],
    );
    if (rows[0].n >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${rows[0].n} of ${count} predictions were logged`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function tableRows(file: string): Promise<Row[]> {
  return JSON.parse(await readFile(join(vegaDatasetsDir(), file), 'utf8')) as Row[];
}

/** Trains and registers, serves from the registry, predicts, labels, and runs the drift job. */
async function wholePath(options: {
  file: string;
  target: string;
  label: (value: number | string) => number | boolean;
}) {
  const modelName = `own-${options.file.replace('.json', '')}-${randomBytes(3).toString('hex')}`;
  const store = `s3://own-data-${randomBytes(4).toString('hex')}`;
  const s3 = testS3();
  const trained = await trainModel(
    trainOptions({
      dataset: join(vegaDatasetsDir(), options.file),
      target: options.target,
      modelName,
      store,
      pool: db.pool,
      s3,
    }),
  );
  expect(trained.status).toBe('registered');
  const schema = parseFeatureSchema(
    (await openObjectStore(trained.artifactRoot, s3).get('schema.json')).toString('utf8'),
  );

  const dataDir = await tempDir('own-data-serve');
  const server = await startServer({
    model: { kind: 'registry', modelName, version: trained.version },
    database: { databaseUrl: testDatabaseUrl(), dataDir },
    s3,
    predictionLog: { flushIntervalMs: 20 },
    feedbackToken: FEEDBACK_TOKEN,
  });
  const since = new Date(Date.now() - 1000);
  try {
    // The table's own rows that have a target, as a client would send them: every schema
    // feature under its original name, nothing else (the target and left-out columns stay home).
    const rows = (await tableRows(options.file)).filter((r) => {
      const v = r[options.target];
      return v !== null && v !== undefined && v !== '.';
    });
    const records = rows.map((r) =>
      Object.fromEntries(schema.features.map((f) => [f.name, r[f.name] ?? null])),
    );
    // A bad value is named by the column's own name.
    const numeric = schema.features.find((f) => f.type === 'number')!.name;
    const bad = await postJson(`${server.url}/predict`, { ...records[0], [numeric]: 'long' });
    expect(bad.status).toBe(422);
    expect((bad.body as { errors: { field: string }[] }).errors).toEqual([
      { field: numeric, message: 'expected a finite number' },
    ]);
    const one = await postJson(`${server.url}/predict`, records[0], { 'x-request-id': `${modelName}-one` });
    expect(one.status, JSON.stringify(one.body)).toBe(200);
    const batch = await postJson(`${server.url}/predict_batch`, records, { 'x-request-id': modelName });
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    const predictions = (batch.body as { predictions: { prediction_id: string }[] }).predictions;
    expect(predictions).toHaveLength(records.length);
    // Labels are for logged predictions: wait for the log writer (off the request path).
    await waitForLoggedRows(modelName, records.length + 1);

    const feedback = await postJson(
      `${server.url}/feedback`,
      predictions.map((p, i) => ({
        prediction_id: p.prediction_id,
        label: options.label(rows[i]![options.target] as number | string),
      })),
      { authorization: `Bearer ${FEEDBACK_TOKEN}` },
    );
    expect(feedback.status, JSON.stringify(feedback.body)).toBe(200);
    expect(feedback.body).toMatchObject({ recorded: records.length, unknown: 0 });
    await server.close();

    const drift = await runDriftJob({
      modelName,
      modelVersion: trained.version,
      since,
      until: new Date(Date.now() + 1000),
      out: `${store}/drift/${modelName}`,
      s3,
      pool: db.pool,
    });
    return { modelName, store, since, trained, schema, records, drift: drift.report };
  } finally {
    await server.close();
  }
}

describe('your own data through train, serve, feedback, drift and quality', () => {
  it('penguins.json, target Sex (MALE/FEMALE): names with spaces and units on the wire, in the log and in the drift report', async () => {
    const { modelName, store, since, schema, records, drift } = await wholePath({
      file: 'penguins.json',
      target: 'Sex',
      label: (sex) => sex === 'MALE',
    });
    expect(schema.target).toMatchObject({ name: 'Sex', classes: { positive: 'MALE', negative: 'FEMALE' } });
    const names = schema.features.map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining(['Beak Length (mm)', 'Beak Depth (mm)', 'Flipper Length (mm)', 'Body Mass (g)']),
    );
    // The graph takes safe input names; the schema says which, the caller never sees them.
    expect(schema.features.find((f) => f.name === 'Beak Length (mm)')!.input).toMatch(/^[A-Za-z_]\w*$/);
    const logged = await db.pool.query(
      `SELECT features FROM prediction_logs WHERE model_name = $1 AND request_id = $2`,
      [modelName, `${modelName}-one`],
    );
    expect(logged.rows[0].features).toEqual(records[0]);

    expect(drift.rows).toMatchObject({ current: records.length + 1, labelled: records.length });
    expect(drift.features.map((f) => f.name)).toEqual(expect.arrayContaining(names));
    // The same table the model was trained on: no drift, and the quality of a good model.
    expect(drift.verdict.verdict).toBe('NoDrift');
    expect(drift.quality.metrics.roc_auc).toBeGreaterThan(0.85);
    expect(drift.quality.verdict).toBe('Ok');

    // Retraining on what production saw: the logged requests under their original names,
    // joined with the labels; the classes carry over from the logged version's schema.
    const retrained = await trainModel(
      trainOptions({
        dataset: productionUri({ model: modelName, since, until: new Date(Date.now() + 1000) }),
        modelName,
        store,
        pool: db.pool,
        s3: testS3(),
      }),
    );
    expect(retrained.version).toBe('v2');
    expect(retrained.lineage).toMatchObject({ source: 'Production', labelledRows: records.length });
    const v2 = parseFeatureSchema(
      (await openObjectStore(retrained.artifactRoot, testS3()).get('schema.json')).toString('utf8'),
    );
    expect(v2.target.classes).toEqual({ positive: 'MALE', negative: 'FEMALE' });
    expect(v2.features.map((f) => f.name)).toEqual(names);
  }, 240_000);

  it('cars.json, target Miles_per_Gallon: a date-string Year sent as the table writes it, the Name column left out', async () => {
    const { trained, schema, records, drift } = await wholePath({
      file: 'cars.json',
      target: 'Miles_per_Gallon',
      label: (mpg) => Number(mpg),
    });
    expect(trained.metrics.data?.split.method).toBe('random');
    expect(schema.features.map((f) => f.name)).not.toContain('Name');
    expect(schema.features.find((f) => f.name === 'Year')).toMatchObject({
      type: 'timestamp',
      parts: ['year'],
    });
    expect(records[0]!.Year).toBe('1970-01-01');
    expect(drift.rows).toMatchObject({ current: records.length + 1, labelled: records.length });
    // Timestamps are summarised but not tested for drift (as in Evidently).
    expect(drift.excluded_features.map((f) => f.name)).toEqual(['Year']);
    expect(drift.features.map((f) => f.name)).toEqual(
      schema.features.filter((f) => f.name !== 'Year').map((f) => f.name),
    );
    expect(drift.verdict.verdict).toBe('NoDrift');
    expect(drift.quality.metrics.r2).toBeGreaterThan(0.75);
  }, 240_000);
});
