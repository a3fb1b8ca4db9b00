import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, migrations, type Pool } from '../../core/db/index.js';
import { sha256 } from '../../core/digest.js';
import { openObjectStore } from '../../core/object-store/index.js';
import { getVersion, listEvents, listVersions, setAlias } from '../../core/registry.js';
import { TRAIN_DEFAULTS, type TrainOptions, trainModel } from '../../trainer-job/index.js';
import { freshDatabaseUrl } from '../postgres.js';
import { testS3 } from '../services.js';

// The trainer against the real PostgreSQL (registry rows) and MinIO (artifacts), on a reduced
// builtin:flights run.
let pool: Pool;
let databaseUrl: string;
let dir: string;
const bucket = `trainer-${randomBytes(5).toString('hex')}`;
const store = `s3://${bucket}/artifacts`;

beforeAll(async () => {
  databaseUrl = await freshDatabaseUrl();
  pool = createPool(databaseUrl, { max: 2 });
  await migrate(pool, migrations);
  dir = await mkdtemp(join(tmpdir(), 'mlcycle-trainer-it-'));
});
afterAll(async () => {
  await pool?.end();
  await rm(dir, { recursive: true, force: true });
});

function flights(over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...TRAIN_DEFAULTS,
    gate: { ...TRAIN_DEFAULTS.gate },
    dataset: 'builtin:flights',
    store,
    rows: 30_000,
    trials: 2,
    minRounds: 10,
    maxRounds: 40,
    referenceRows: 2000,
    register: true,
    databaseUrl,
    s3: testS3(),
    ...over,
  };
}

describe('mlcycle train with PostgreSQL and MinIO', () => {
  it('registers v1 with params, metrics, tags and artifacts whose digests match MinIO', async () => {
    const result = await trainModel(flights());
    expect(result).toMatchObject({
      modelName: 'flights-delay',
      version: 'v1',
      status: 'registered',
      deployable: true,
    });
    expect(result.artifactRoot).toBe(`${store}/namespaces/default/models/flights-delay/v1`);

    const stored = await getVersion(pool, 'default', 'flights-delay', 'v1');
    expect(stored).toMatchObject({ status: 'registered', deployable: true, task: 'binary-classification' });
    expect(stored!.gate).toEqual({ passed: true, reasons: [] });
    expect(stored!.schemaDigest).toBe(result.schemaDigest);
    expect(stored!.datasetUri).toBe('builtin:flights');
    expect(stored!.datasetDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(stored!.metrics.holdout!.roc_auc).toBeCloseTo(result.metrics.holdout.roc_auc!, 12);
    expect(stored!.metrics.holdout!.roc_auc).toBeGreaterThan(0.6);
    expect(stored!.metrics.baseline!.roc_auc).toBe(0.5);
    expect(Object.keys(stored!.metrics).sort()).toEqual(['baseline', 'holdout', 'onnx_parity', 'validation']);
    expect(stored!.metrics.onnx_parity!.max_abs_diff).toBeLessThanOrEqual(1e-5);
    expect(stored!.params).toMatchObject({ model: 'gbdt', trials: 2, rows: 30_000 });
    expect(stored!.tags).toMatchObject({
      task: 'binary-classification',
      dataset_uri: 'builtin:flights',
      seed: '42',
      node_version: process.version,
      onnxruntime_version: '1.30.0',
    });
    for (const tag of ['dataset_digest', 'schema_digest', 'code_version', 'started_at', 'finished_at']) {
      expect(stored!.tags[tag]).toBeTruthy();
    }

    const names = stored!.artifacts.map((a) => a.name);
    expect(names).toEqual([
      'metrics.json',
      'model.onnx',
      'reference.parquet',
      'report.html',
      'schema.json',
      'trials.json',
    ]);
    const objects = openObjectStore(store, testS3());
    for (const a of stored!.artifacts) {
      expect(a.uri).toBe(`${store}/namespaces/default/models/flights-delay/v1/${a.name}`);
      const body = await objects.get(`namespaces/default/models/flights-delay/v1/${a.name}`);
      expect(sha256(body)).toBe(a.sha256);
      expect(body.byteLength).toBe(a.sizeBytes);
    }
    expect(await objects.exists('namespaces/default/models/flights-delay/v1/manifest.json')).toBe(true);
    const events = await listEvents(pool, 'default', 'flights-delay');
    expect(events.map((e) => [e.version, e.kind])).toEqual([['v1', 'registered']]);
  }, 240_000);

  it('numbers the next run v2 and, with the same seed, produces the identical model', async () => {
    const result = await trainModel(flights());
    expect(result.version).toBe('v2');
    const v1 = await getVersion(pool, 'default', 'flights-delay', 'v1');
    const v2 = await getVersion(pool, 'default', 'flights-delay', 'v2');
    const digest = (v: typeof v1, name: string) => v!.artifacts.find((a) => a.name === name)!.sha256;
    expect(digest(v2, 'model.onnx')).toBe(digest(v1, 'model.onnx'));
    expect(digest(v2, 'reference.parquet')).toBe(digest(v1, 'reference.parquet'));
  }, 240_000);

  it('rejects a challenger that does not beat the champion on the same holdout', async () => {
    await setAlias(pool, 'default', 'flights-delay', 'champion', 'v1', 'test');
    const result = await trainModel(flights({ gate: { ...TRAIN_DEFAULTS.gate, mustBeatChampion: true } }));
    expect(result.version).toBe('v3');
    // Same data, same seed: the champion scores exactly what the challenger scores.
    expect(result.metrics.champion).toMatchObject({ version: 'v1', metric: 'roc_auc' });
    expect(result.metrics.champion!.value).toBeCloseTo(result.metrics.holdout.roc_auc!, 6);
    expect(result.status).toBe('rejected');
    expect(result.gate.reasons).toEqual([
      expect.stringMatching(/^beats_champion: holdout roc_auc .* vs champion v1 /),
    ]);
    const v3 = await getVersion(pool, 'default', 'flights-delay', 'v3');
    expect(v3).toMatchObject({ status: 'rejected', deployable: false });
    expect(v3!.gate.reasons).toEqual(result.gate.reasons);
  }, 240_000);

  it('registers nothing and leaves no objects when the input is bad', async () => {
    const before = await listVersions(pool, 'default', 'flights-delay');
    await expect(
      trainModel(
        flights({ since: new Date('2001-01-01T00:00:00Z'), until: new Date('2001-01-01T00:10:00Z') }),
      ),
    ).rejects.toThrow(/too little data in builtin:flights/);
    expect(await listVersions(pool, 'default', 'flights-delay')).toEqual(before);
    const objects = openObjectStore(store, testS3());
    expect(await objects.list('namespaces/default/models/flights-delay/v4')).toEqual([]);
  }, 240_000);

  it('trains the regression task on flights into an s3:// --out directly', async () => {
    const out = `s3://${bucket}/direct/regression`;
    const result = await trainModel(
      flights({
        task: 'regression',
        out,
        modelName: 'flights-delay-minutes',
        gate: { minLift: 0, mustBeatChampion: false },
      }),
    );
    expect(result).toMatchObject({ task: 'regression', version: 'v1' });
    expect(result.metrics.holdout.rmse).toBeLessThan(result.metrics.baseline.rmse!);
    expect(result.metrics.onnx_parity.max_abs_diff).toBeLessThanOrEqual(1e-5);
    const objects = openObjectStore(out, testS3());
    expect((await objects.list('')).sort()).toEqual([
      'manifest.json',
      'metrics.json',
      'model.onnx',
      'reference.parquet',
      'report.html',
      'schema.json',
      'trials.json',
    ]);
  }, 240_000);
});

describe('bin/mlcycle train (built output)', () => {
  const run = async (args: string[]) => {
    try {
      const { stdout, stderr } = await promisify(execFile)('node', ['bin/mlcycle', 'train', ...args]);
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('exits 3 with a one-line message on bad data, and 2 on a bad setting', async () => {
    const path = join(dir, 'bad.csv');
    await writeFile(path, 'at,x,target\n2024-01-01T00:00:00Z,1,3\n');
    const out = join(dir, 'cli-out');
    const bad = await run([
      '--dataset',
      path,
      '--target',
      'target',
      '--time-column',
      'at',
      '--model-name',
      'x',
      '--out',
      out,
      '--no-register',
      '--quiet',
    ]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^mlcycle: .*too little data.*\n$/);
    expect(bad.stdout).toBe('');
    expect(await readdir(out).catch(() => [])).toEqual([]);
    const setting = await run(['--dataset', 'builtin:flights', '--trials', 'many']);
    expect(setting.code).toBe(2);
    expect(setting.stderr).toMatch(/invalid --trials/);
  });
});
