import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { productionUri } from '../../core/dataset/index.js';
import { createPool, migrate, migrations, type Pool } from '../../core/db/index.js';
import { insertPredictionLogRows, type PredictionLogRow, storeLabels } from '../../core/prediction-log.js';
import { getLineage, getVersion, setAlias } from '../../core/registry.js';
import { TRAIN_DEFAULTS, type TrainOptions, trainModel } from '../../trainer-job/index.js';
import { writeSyntheticDataset } from '../../trainer-job/testing/synthetic.js';
import { freshDatabaseUrl } from '../postgres.js';
import { testS3 } from '../services.js';

// Retraining on what a model served: the trainer reads a production window (prediction_logs
// joined with prediction_labels on the real PostgreSQL), records its lineage, and gates the
// result against the registry's actual champion.
let pool: Pool;
let databaseUrl: string;
let dir: string;
let original: string;
const store = `s3://trainer-prod-${randomBytes(5).toString('hex')}/artifacts`;
const model = 'synthetic-prod';
const since = new Date('2026-11-20T00:00:00Z');
const until = new Date('2026-11-27T00:00:00Z');

beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
  pool = createPool(databaseUrl, { max: 2 });
  await migrate(pool, migrations);
  dir = await mkdtemp(join(tmpdir(), 'mlcycle-trainer-prod-'));
  original = await writeSyntheticDataset(dir, { rows: 3000, seed: 1 });
});
afterAll(async () => {
  await pool?.end();
  await rm(dir, { recursive: true, force: true });
});

function options(over: Partial<TrainOptions>): TrainOptions {
  return {
    ...TRAIN_DEFAULTS,
    gate: { ...TRAIN_DEFAULTS.gate },
    dataset: original,
    modelName: model,
    target: 'target',
    timeColumn: 'at',
    store,
    trials: 2,
    minRounds: 10,
    maxRounds: 40,
    referenceRows: 500,
    register: true,
    databaseUrl,
    s3: testS3(),
    ...over,
  };
}

interface LoggedRequest {
  requestId: string;
  version: string;
  features: Record<string, unknown>;
  loggedAt: Date;
  label?: number | undefined;
}

/** Writes served predictions (the inference server's write statement) and the labels that came back. */
async function logTraffic(requests: LoggedRequest[], modelName = model): Promise<void> {
  await insertPredictionLogRows(
    pool,
    requests.map((r) => ({
      namespace: 'default',
      modelName,
      modelVersion: r.version,
      // One prediction id per request, shared by a champion and a shadowing challenger.
      predictionId: r.requestId,
      requestId: r.requestId,
      recordIndex: null,
      features: r.features as PredictionLogRow['features'],
      prediction: 0,
      probability: 0.5,
      latencyMs: 1,
      createdAt: r.loggedAt.getTime(),
    })),
  );
  const labelled = new Map(requests.filter((r) => r.label !== undefined).map((r) => [r.requestId, r]));
  await storeLabels(
    pool,
    'default',
    modelName,
    [...labelled.values()].map((r) => ({
      predictionId: r.requestId,
      label: r.label!,
      observedAt: new Date(),
      correction: false,
    })),
  );
}

/** Production traffic: 1,600 requests in the window (1,200 labelled, 300 also shadowed by v9), 200 outside. */
async function seedProduction(modelName = model): Promise<{ labelled: number; logged: number }> {
  const path = await writeSyntheticDataset(dir, { rows: 1800, seed: 2, name: 'production.ndjson' });
  const records = (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const requests: LoggedRequest[] = [];
  records.forEach(({ target, ...features }, i) => {
    const inWindow = i < 1600;
    const loggedAt = new Date((inWindow ? since.getTime() : until.getTime()) + i * 60_000);
    const label = i % 4 === 3 ? undefined : target ? 1 : 0;
    requests.push({ requestId: `r-${i}`, version: 'v1', features, loggedAt, label });
    // A shadowing challenger scored the same request: the request still counts once.
    if (i < 300) requests.push({ requestId: `r-${i}`, version: 'v9', features, loggedAt, label });
  });
  await logTraffic(requests, modelName);
  return { logged: 1600, labelled: 1200 };
}

describe('training from a production window', () => {
  let traffic: { labelled: number; logged: number };

  it('registers v1 on the original dataset, the champion', async () => {
    const v1 = await trainModel(options({}));
    expect(v1).toMatchObject({ version: 'v1', status: 'registered' });
    expect(v1.lineage).toMatchObject({ source: 'Dataset', dataset: original, rows: 3000 });
    await setAlias(pool, 'default', model, 'champion', 'v1', 'test');
    traffic = await seedProduction();
  }, 240_000);

  it('learns from the labelled requests of the window, records its lineage, and beats the champion on the same rows', async () => {
    const dataset = productionUri({ model, since, until });
    const v2 = await trainModel(
      options({
        dataset,
        // The production window names its target and time column itself (the champion's schema).
        target: undefined,
        timeColumn: undefined,
        gate: { ...TRAIN_DEFAULTS.gate, mustBeatChampion: true },
        lineage: {
          retrainedFrom: 'synthetic-prod-v1',
          deployment: 'synthetic',
          driftMonitor: 'synthetic-drift',
          driftRun: 'synthetic-drift-29000000',
        },
      }),
    );
    expect(v2.version).toBe('v2');
    expect(v2.metrics.rows.read).toBe(traffic.labelled);
    const expected = {
      source: 'Production',
      dataset,
      model,
      since: since.toISOString(),
      until: until.toISOString(),
      rows: traffic.labelled,
      loggedRows: traffic.logged,
      labelledRows: traffic.labelled,
      originalRows: 0,
      retrainedFrom: 'synthetic-prod-v1',
      deployment: 'synthetic',
      driftMonitor: 'synthetic-drift',
      driftRun: 'synthetic-drift-29000000',
    };
    expect(v2.lineage).toMatchObject(expected);
    const recorded = await getLineage(pool, 'default', model, 'v2');
    expect(recorded).toMatchObject(expected);
    expect(recorded!.datasetDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await getVersion(pool, 'default', model, 'v2'))!.lineage).toEqual(recorded);
    // The champion (the alias, v1) scored this run's holdout with its own model.onnx.
    expect(v2.metrics.champion).toMatchObject({ version: 'v1', basis: 'same-holdout', metric: 'roc_auc' });
    expect(v2.gate.reasons).toEqual([
      expect.stringMatching(
        /^beats_champion( \(passed\))?: holdout roc_auc .* vs champion v1 .* on the same rows$/,
      ),
    ]);
    expect(v2.gate.passed).toBe(v2.metrics.holdout.roc_auc! > v2.metrics.champion!.value!);
  }, 240_000);

  it('adds the most recent rows of the original dataset when asked', async () => {
    const dataset = productionUri({
      model,
      since,
      until,
      versions: ['v1'],
      original: { uri: original, rows: 500 },
    });
    const v3 = await trainModel(options({ dataset, target: undefined, timeColumn: undefined }));
    expect(v3.lineage).toMatchObject({
      source: 'Production',
      versions: ['v1'],
      labelledRows: traffic.labelled,
      originalRows: 500,
      rows: traffic.labelled + 500,
    });
    expect(await getLineage(pool, 'default', model, 'v3')).toMatchObject({
      originalRows: 500,
      rows: traffic.labelled + 500,
    });
  }, 240_000);

  it('says so when a window holds no labelled request', async () => {
    const empty = productionUri({
      model,
      since: new Date('2020-01-01T00:00:00Z'),
      until: new Date('2020-01-02T00:00:00Z'),
    });
    await expect(
      trainModel(options({ dataset: empty, target: undefined, timeColumn: undefined })),
    ).rejects.toThrow(/no labelled predictions in the window \(0 logged/);
  }, 60_000);
});

describe('a production window of a model without a timestamp feature', () => {
  it('places the rows in time by when they were logged, and does not learn from it', async () => {
    const name = 'synthetic-untimed';
    // `at` splits by time but is no feature: the served schema has no timestamp.
    const v1 = await trainModel(options({ modelName: name, exclude: ['at'] }));
    expect(v1.status).toBe('registered');
    await seedProduction(name);
    const v2 = await trainModel(
      options({
        modelName: name,
        dataset: productionUri({ model: name, since, until }),
        target: undefined,
        timeColumn: undefined,
      }),
    );
    expect(v2.lineage).toMatchObject({ source: 'Production', labelledRows: 1200, rows: 1200 });
    expect(v2.metrics.periods.train!.from).toBe(since.toISOString());
    expect(v2.metrics.feature_importance.map((f) => f.feature).sort()).toEqual(
      v1.metrics.feature_importance.map((f) => f.feature).sort(),
    );
  }, 240_000);
});

describe('gate.mustBeatChampion against the registry alias', () => {
  it('compares with the version the alias points at, moved as a promotion or rollback would', async () => {
    // v4 is trained without `city`; a champion that needs it cannot score v5's holdout.
    const v4 = await trainModel(options({ exclude: ['member'] }));
    expect(v4.status).toBe('registered');
    await setAlias(pool, 'default', model, 'champion', v4.version, 'promoted');
    const v5 = await trainModel(
      options({ exclude: ['city', 'member'], gate: { ...TRAIN_DEFAULTS.gate, mustBeatChampion: true } }),
    );
    expect(v5.metrics.champion).toMatchObject({ version: v4.version, basis: 'recorded-holdout' });
    const recorded = (await getVersion(pool, 'default', model, v4.version))!.metrics.holdout!.roc_auc!;
    expect(v5.metrics.champion!.value).toBeCloseTo(recorded, 12);
    expect(v5.gate.reasons).toEqual([
      expect.stringMatching(
        new RegExp(
          `^beats_champion( \\(passed\\))?: holdout roc_auc .* vs champion ${v4.version} .* on its recorded holdout \\(it needs features this dataset lacks: city\\), not the same rows$`,
        ),
      ),
    ]);
    // Rolled back to v1: the next run is compared with v1, on its own holdout rows.
    await setAlias(pool, 'default', model, 'champion', 'v1', 'rolled back');
    const v6 = await trainModel(options({ gate: { ...TRAIN_DEFAULTS.gate, mustBeatChampion: true } }));
    expect(v6.metrics.champion).toMatchObject({ version: 'v1', basis: 'same-holdout' });
    // Same data and seed as v1: it scores exactly what v1 scores, so it does not beat it.
    expect(v6.status).toBe('rejected');
  }, 400_000);
});
