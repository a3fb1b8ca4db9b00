import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import { startServer } from '../../inference-server/index.js';
import { fixtureRecord, writeFixtureModel } from '../fixtures/model.js';
import { loadGenerator, postJson, spawnServer, tempDir, uniqueModelName } from '../fixtures/serve-helpers.js';
import { testDatabaseUrl } from '../services.js';

const ROOT = new URL('../../', import.meta.url).pathname;

let db: Database;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/inference-server/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (it runs ./bin/mlcycle serve)');
  }
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: await tempDir('shutdown-db') });
});

afterAll(async () => {
  await db?.close();
});

describe('mlcycle serve, SIGTERM under load', () => {
  it('finishes in-flight requests, writes every acknowledged prediction, exits 0', async () => {
    const dir = await tempDir('shutdown');
    const model = await writeFixtureModel(join(dir, 'model'), {
      modelName: uniqueModelName('serve-sigterm'),
    });
    // A long flush interval and a large batch keep rows queued in memory until shutdown, so
    // the test proves the drain, not a lucky earlier flush.
    const { child, url, stderr } = await spawnServer([
      '--model',
      model.dir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--database-url',
      testDatabaseUrl(),
      '--log-spill-dir',
      'off',
      '--log-flush-interval',
      '1h',
      '--log-batch-max',
      '1000000',
    ]);
    const load = loadGenerator(url, fixtureRecord, 16);
    // Enough acknowledged traffic to make the drain meaningful, however slow the machine is.
    await load.acknowledgedAtLeast(300);
    const queued = await db.pool.query(
      'SELECT count(*)::int AS n FROM prediction_logs WHERE model_name = $1',
      [model.modelName],
    );
    expect(queued.rows[0].n).toBe(0); // nothing written yet: all of it waits in the queue

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await exited;
    const result = await load.stop();
    expect(code, stderr()).toBe(0);
    expect(result.acknowledged.length).toBeGreaterThan(200);

    const { rows } = await db.pool.query<{ prediction_id: string }>(
      'SELECT prediction_id FROM prediction_logs WHERE model_name = $1',
      [model.modelName],
    );
    const logged = new Set(rows.map((r) => r.prediction_id));
    const lost = result.acknowledged.filter((id) => !logged.has(id));
    expect(lost).toEqual([]);
    // Only requests that were sent can be logged; none twice (unique key).
    expect(rows.length).toBe(logged.size);
    expect(rows.length).toBeGreaterThanOrEqual(result.acknowledged.length);
    expect(stderr()).toContain('prediction log flushed');
  });
});

describe('shutdown delay', () => {
  it('drops readiness first and keeps answering for the delay, then closes the listener', async () => {
    const dir = await tempDir('shutdown-delay');
    const model = await writeFixtureModel(join(dir, 'model'), { modelName: uniqueModelName('serve-delay') });
    const server = await startServer({
      model: { kind: 'location', location: model.dir },
      pool: db.pool,
      shutdownDelayMs: 1_500,
    });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const closing = server.close();
    await new Promise((r) => setTimeout(r, 200));
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, reasons: ['shutting down'] });
    const answer = await postJson(`${server.url}/predict`, fixtureRecord(1));
    expect(answer.status).toBe(200);
    await closing;
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
