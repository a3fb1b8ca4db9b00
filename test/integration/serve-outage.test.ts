import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import { openObjectStore } from '../../core/object-store/index.js';
import { type RunningServer, startServer } from '../../inference-server/index.js';
import { fixtureRecord, writeFixtureModel } from '../fixtures/model.js';
import { loadGenerator, postJson, spawnServer, tempDir, uniqueModelName } from '../fixtures/serve-helpers.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

// A PostgreSQL (and MinIO) of this test's own, started by the same hack/services-up as the
// shared ones: stopping the shared server for 30 s would break the other test files running
// beside this one. Its ports and state directory are the shared services' plus a fixed offset,
// so two checkouts whose services use different ports (see hack/services-up) never collide.
const OUTAGE_PORT_OFFSET = 50;
const offsetPort = (name: string, fallback: number) =>
  String(Number(process.env[name] ?? fallback) + OUTAGE_PORT_OFFSET);
const SERVICES_ENV = {
  ...process.env,
  MLCYCLE_STATE: `${process.env.MLCYCLE_STATE ?? '/tmp/mlcycle-services'}-outage`,
  MLCYCLE_PG_PORT: offsetPort('MLCYCLE_PG_PORT', 55432),
  MLCYCLE_S3_PORT: offsetPort('MLCYCLE_S3_PORT', 59000),
  MLCYCLE_S3_CONSOLE_PORT: offsetPort('MLCYCLE_S3_CONSOLE_PORT', 59001),
};

async function services(command: string, ...args: string[]): Promise<void> {
  try {
    await run(join(ROOT, 'hack', command), args, { env: SERVICES_ENV, timeout: 180_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`hack/${command} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

let databaseUrl: string;
let s3: Record<string, string>;
let db: Database;

beforeAll(async () => {
  await services('services-up');
  const env = readFileSync(`${SERVICES_ENV.MLCYCLE_STATE}/services.env`, 'utf8');
  const value = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(env)![1]!;
  databaseUrl = value('MLCYCLE_TEST_DATABASE_URL');
  s3 = {
    MLCYCLE_S3_ENDPOINT: value('MLCYCLE_TEST_S3_ENDPOINT'),
    MLCYCLE_S3_ACCESS_KEY: value('MLCYCLE_TEST_S3_ACCESS_KEY'),
    MLCYCLE_S3_SECRET_KEY: value('MLCYCLE_TEST_S3_SECRET_KEY'),
  };
  db = await openDatabase({ databaseUrl, dataDir: await tempDir('outage-db') });
}, 300_000);

afterAll(async () => {
  await db?.close().catch(() => {});
  await services('services-down');
}, 120_000);

async function loggedIds(modelName: string): Promise<Set<string>> {
  const { rows } = await db.pool.query<{ prediction_id: string }>(
    'SELECT prediction_id FROM prediction_logs WHERE model_name = $1',
    [modelName],
  );
  return new Set(rows.map((r) => r.prediction_id));
}

async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('prediction log while PostgreSQL is down', () => {
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
  });

  it('keeps serving for 30 s without PostgreSQL, buffers, and delivers every row when it is back', async () => {
    const dir = await tempDir('outage');
    const model = await writeFixtureModel(join(dir, 'model'), { modelName: uniqueModelName('serve-outage') });
    server = await startServer({
      model: { kind: 'location', location: model.dir },
      database: { databaseUrl, dataDir: join(dir, 'data') },
      predictionLog: { flushIntervalMs: 50, queueMax: 1_000_000 },
    });
    const load = loadGenerator(server.url, fixtureRecord, 4);
    await new Promise((r) => setTimeout(r, 2_000));
    await services('services-ctl', 'pg-stop');
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 5_000));
    const during = await fetch(`${server.url}/readyz`);
    expect(during.status).toBe(200); // still serving: an outage is not a reason to stop
    expect(await during.json()).toMatchObject({ prediction_log: { database_reachable: false } });
    await new Promise((r) => setTimeout(r, Math.max(0, 30_000 - (Date.now() - downAt))));
    await services('services-ctl', 'pg-start');
    await new Promise((r) => setTimeout(r, 2_000));
    const result = await load.stop();
    expect(result.failed).toBe(0);
    expect(Object.keys(result.statuses)).toEqual(['200']);
    expect(result.acknowledged.length).toBeGreaterThan(1_000);

    await waitUntil('the buffered rows to reach PostgreSQL', () => {
      const status = server!.predictionLog();
      return status.queueDepth === 0 && status.inFlightRows === 0;
    });
    const logged = await loggedIds(model.modelName);
    expect(result.acknowledged.filter((id) => !logged.has(id))).toEqual([]);
    expect(logged.size).toBe(result.acknowledged.length);

    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(metric(text, 'mlcycle_prediction_log_write_failures_total')).toBeGreaterThan(0);
    expect(text).not.toMatch(/^mlcycle_prediction_log_rows_dropped_total\{/m);
    expect(server.predictionLog()).toMatchObject({ databaseReachable: true, rowsDropped: 0 });
    await server.close();
    server = undefined;
  }, 180_000);

  it('spills beyond the memory bound and at shutdown, and a new process delivers the spill', async () => {
    const dir = await tempDir('spill');
    const spillDir = join(dir, 'spill');
    const model = await writeFixtureModel(join(dir, 'model'), { modelName: uniqueModelName('serve-spill') });
    const options = {
      model: { kind: 'location' as const, location: model.dir },
      database: { databaseUrl, dataDir: join(dir, 'data') },
      predictionLog: { flushIntervalMs: 50, queueMax: 500, spillDir },
      drainTimeoutMs: 1_000,
    };
    server = await startServer(options);
    await services('services-ctl', 'pg-stop');
    const acknowledged: string[] = [];
    for (let b = 0; b < 6; b++) {
      const records = Array.from({ length: 400 }, (_, i) => fixtureRecord(b * 400 + i));
      const res = await postJson(`${server.url}/predict_batch`, records, { 'x-request-id': `spill-${b}` });
      expect(res.status).toBe(200);
      for (const p of (res.body as { predictions: { prediction_id: string }[] }).predictions)
        acknowledged.push(p.prediction_id);
    }
    const status = server.predictionLog();
    expect(status.queueDepth).toBeLessThanOrEqual(500);
    expect(status.spilledRows).toBeGreaterThan(0);
    expect(status.rowsDropped).toBe(0);
    // Shut down while PostgreSQL is still down: what is left in memory goes to the spill too.
    const closed = await server.close();
    server = undefined;
    expect(closed).toEqual({ spilled: 2_400, uploaded: 0, dropped: 0 });

    await services('services-ctl', 'pg-start');
    server = await startServer(options); // a new "process" finds the spill and delivers it
    await waitUntil('the spill to be delivered', () => server!.predictionLog().spilledRows === 0);
    const logged = await loggedIds(model.modelName);
    expect(acknowledged.filter((id) => !logged.has(id))).toEqual([]);
    expect(logged.size).toBe(2_400);
    await server.close();
    server = undefined;
  }, 180_000);

  it('a server stopped while PostgreSQL is down leaves its rows in MinIO; a new server with a fresh disk imports them', async () => {
    const dir = await tempDir('replace');
    const model = await writeFixtureModel(join(dir, 'model'), {
      modelName: uniqueModelName('serve-replace'),
    });
    const spillUri = `s3://spill-${randomBytes(4).toString('hex')}/prediction-log-spill/${model.modelName}`;
    // What the operator gives every server Pod: a spill directory on the Pod's own disk (an
    // emptyDir, gone with the Pod) and the spill location in the object store.
    const serve = (spillDir: string) =>
      spawnServer(
        [
          '--model',
          model.dir,
          '--host',
          '127.0.0.1',
          '--port',
          '0',
          '--database-url',
          databaseUrl,
          '--log-spill-dir',
          spillDir,
          '--log-spill-uri',
          spillUri,
          '--log-flush-interval',
          '50ms',
          '--shutdown-timeout',
          '2s',
          '--db-connect-timeout',
          '1s',
        ],
        s3,
      );
    const first = await serve(join(dir, 'pod-1'));
    await services('services-ctl', 'pg-stop');
    const load = loadGenerator(first.url, fixtureRecord, 4);
    await load.acknowledgedAtLeast(500);
    const exited = new Promise<number | null>((r) => first.child.once('exit', (code) => r(code)));
    first.child.kill('SIGTERM');
    const code = await exited;
    const result = await load.stop();
    expect(code, first.stderr()).toBe(0);
    expect(first.stderr()).toContain('uploaded to the object store');
    // The old Pod's disk is gone with it: the next server starts on a fresh one.
    await rm(join(dir, 'pod-1'), { recursive: true, force: true });
    const store = openObjectStore(spillUri, {
      s3Endpoint: s3.MLCYCLE_S3_ENDPOINT,
      s3AccessKey: s3.MLCYCLE_S3_ACCESS_KEY,
      s3SecretKey: s3.MLCYCLE_S3_SECRET_KEY,
      s3Region: 'us-east-1',
    });
    expect((await store.list('')).length).toBeGreaterThan(0);

    await services('services-ctl', 'pg-start');
    const second = await serve(join(dir, 'pod-2'));
    try {
      await waitUntil('the spill in MinIO to be imported', async () => (await store.list('')).length === 0);
      const logged = await loggedIds(model.modelName);
      expect(result.acknowledged.length).toBeGreaterThanOrEqual(500);
      expect(result.acknowledged.filter((id) => !logged.has(id))).toEqual([]);
      expect(second.stderr()).toContain('imported prediction log rows earlier servers left');
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
  }, 240_000);
});
