import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeParquet } from '../../core/dataset/index.js';
import { type Database, openDatabase } from '../../core/db/index.js';
import { sha256 } from '../../core/digest.js';
import { DataError } from '../../core/errors.js';
import { serializeFeatureSchema } from '../../core/feature-schema.js';
import { rocAuc } from '../../core/metrics.js';
import { openObjectStore } from '../../core/object-store/index.js';
import { listEvents, saveVersion } from '../../core/registry.js';
import { alertState, listRuns, monitorStatus, runDriftJob, runHistory } from '../../drift-job/index.js';
import { testDatabaseUrl, testS3 } from '../services.js';
import {
  fixtureSchema,
  generateRows,
  holdoutMetrics,
  type Row,
  rowsToTable,
  writeModelFiles,
} from './drift-fixtures.js';

/**
 * The drift job against the real PostgreSQL and MinIO from hack/services-up: the reference and
 * schema found through the registry in MinIO, the window read from prediction_logs joined with
 * prediction_labels, runs and alert state recorded, reports written to MinIO, the webhook called
 * on verdict changes only.
 */

let db: Database;
let webhook: Server;
let webhookUrl: string;
const received: {
  text: string;
  mlcycle: { run_id: string; verdict: string; previous_verdict: string | null };
  /** The Idempotency-Key header. */
  key?: string;
}[] = [];
let failWebhook = false;

const T0 = Date.UTC(2026, 10, 1, 0, 0, 0);
const HOUR = 3_600_000;

function uniqueName(): string {
  return `drift-${randomBytes(4).toString('hex')}`;
}

async function registerModel(
  modelName: string,
  version = 'v1',
): Promise<{ store: string; holdout: Record<string, number> }> {
  const s3 = testS3();
  const root = `s3://drift-${randomBytes(5).toString('hex')}/models/${modelName}/${version}`;
  const store = openObjectStore(root, s3);
  const rows = generateRows(2000, 1);
  const schema = fixtureSchema();
  const holdout = holdoutMetrics(rows);
  const files: [string, Uint8Array | string][] = [
    ['reference.parquet', writeParquet(rowsToTable(rows))],
    ['schema.json', serializeFeatureSchema(schema)],
    ['metrics.json', JSON.stringify({ holdout })],
  ];
  for (const [name, body] of files) await store.put(name, body);
  await saveVersion(db.pool, {
    namespace: 'default',
    modelName,
    version,
    task: 'binary-classification',
    status: 'registered',
    deployable: true,
    schemaDigest: schema.digest,
    artifactRoot: root,
    metrics: { holdout },
    artifacts: files.map(([name, body]) => ({
      name,
      uri: store.uriFor(name),
      sha256: sha256(typeof body === 'string' ? Buffer.from(body) : body),
      sizeBytes: typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    })),
  });
  return { store: root, holdout };
}

/** Inserts rows as the inference server logs them (and labels as /feedback stores them). */
async function logRows(
  modelName: string,
  version: string,
  rows: Row[],
  startMs: number,
  labelled: boolean,
): Promise<void> {
  const batch = 2000;
  for (let i = 0; i < rows.length; i += batch) {
    const part = rows.slice(i, i + batch);
    const ids = part.map((_, k) => `${modelName}-${startMs}-${i + k}`);
    await db.pool.query(
      `INSERT INTO prediction_logs (namespace, model_name, model_version, prediction_id, request_id, features, prediction, probability, latency_ms, created_at)
       SELECT 'default', $1, $2, r.id, r.id, r.f, r.p, r.prob, 1.0, to_timestamp(r.t / 1000.0)
       FROM unnest($3::text[], $4::jsonb[], $5::float8[], $6::float8[], $7::float8[]) AS r(id, f, p, prob, t)`,
      [
        modelName,
        version,
        ids,
        part.map((r) => JSON.stringify(r.record)),
        part.map((r) => r.prediction),
        part.map((r) => r.probability),
        part.map((_, k) => startMs + (i + k) * 1000),
      ],
    );
    if (labelled) {
      await db.pool.query(
        `INSERT INTO prediction_labels (namespace, model_name, prediction_id, label, observed_at)
         SELECT 'default', $1, r.id, r.l, now() FROM unnest($2::text[], $3::float8[]) AS r(id, l)`,
        [modelName, ids, part.map((r) => r.label)],
      );
    }
  }
}

beforeAll(async () => {
  db = await openDatabase({ databaseUrl: testDatabaseUrl(), dataDir: '/tmp/unused-drift-logs' });
  webhook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (failWebhook) {
        res.writeHead(503).end();
        return;
      }
      const key = req.headers['idempotency-key'];
      received.push({ ...JSON.parse(Buffer.concat(chunks).toString('utf8')), key });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  webhookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  await db?.close();
  await new Promise((r) => webhook?.close(r));
});

describe('mlcycle drift on prediction logs (PostgreSQL + MinIO)', () => {
  it('finds the artifacts in the registry, reads the window with labels, records runs, alerts on changes only', async () => {
    const modelName = uniqueName();
    const { store } = await registerModel(modelName);
    const out = `${store.replace('/models/', '/drift/')}`;
    const base = {
      modelName,
      modelVersion: 'v1',
      out,
      s3: testS3(),
      pool: db.pool,
      alertWebhook: webhookUrl,
      windowMs: HOUR,
    };
    const before = received.length;

    // Hour 1: traffic like the reference, labelled: no drift, quality ok, no alert (NoDrift is the initial state).
    await logRows(modelName, 'v1', generateRows(1500, 11, {}, T0), T0, true);
    const r1 = await runDriftJob({ ...base, until: new Date(T0 + HOUR) });
    expect(r1.report.rows).toEqual({ reference: 2000, current: 1500, labelled: 1500 });
    expect(r1.report.verdict.verdict).toBe('NoDrift');
    expect(r1.report.quality.verdict).toBe('Ok');
    expect(r1.alert).toBeNull();

    // Hours 2 and 3: shifted traffic. The first drifted run alerts, the second does not (same verdict).
    await logRows(
      modelName,
      'v1',
      generateRows(1500, 12, { xShift: 1.5, colorWeights: [1, 1, 4] }),
      T0 + HOUR,
      false,
    );
    await logRows(
      modelName,
      'v1',
      generateRows(1500, 13, { xShift: 1.5, colorWeights: [1, 1, 4] }),
      T0 + 2 * HOUR,
      false,
    );
    const r2 = await runDriftJob({ ...base, until: new Date(T0 + 2 * HOUR) });
    expect(r2.report.verdict.verdict).toBe('Drift');
    expect(r2.alert).toMatchObject({ verdict: 'Drift', delivered: true });
    const r3 = await runDriftJob({ ...base, until: new Date(T0 + 3 * HOUR) });
    expect(r3.report.verdict).toMatchObject({ verdict: 'Drift', consecutive_drifted_runs: 2 });
    expect(r3.alert).toBeNull();
    expect(received.slice(before).map((m) => m.mlcycle.verdict)).toEqual(['Drift']);
    expect(received.at(-1)!.text).toMatch(new RegExp(`${modelName} v1: no drift → drift detected`));

    // The runs, newest first, with their report in MinIO.
    const runs = await listRuns(db.pool, 'default', `${modelName}/v1`);
    expect(runs.map((r) => r.verdict)).toEqual(['Drift', 'Drift', 'NoDrift']);
    const reportKey = runs[0]!.reportJsonUri!.replace(/^s3:\/\/[^/]+\//, '');
    const bucketStore = openObjectStore(
      runs[0]!.reportJsonUri!.replace(/^(s3:\/\/[^/]+)\/.*$/, '$1'),
      testS3(),
    );
    const stored = JSON.parse((await bucketStore.get(reportKey)).toString('utf8'));
    expect(stored.run_id).toBe(runs[0]!.id);
    expect(await openObjectStore(out, testS3()).exists('report.html')).toBe(true);

    const events = await listEvents(db.pool, 'default', modelName);
    expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['drift_detected', 'alert']));
  });

  it('sustained drift asks for retraining once; a failed webhook is retried on the next run', async () => {
    const modelName = uniqueName();
    const { store } = await registerModel(modelName);
    const base = {
      modelName,
      modelVersion: 'v1',
      out: store,
      s3: testS3(),
      pool: db.pool,
      alertWebhook: webhookUrl,
      windowMs: HOUR,
      policy: { sustainedDriftRuns: 2, retrainOnSustainedDrift: true },
    };
    for (let h = 0; h < 3; h++) {
      await logRows(
        modelName,
        'v1',
        generateRows(800, 20 + h, { xShift: 2, colorWeights: [1, 1, 4], flagRate: 0.9 }),
        T0 + h * HOUR,
        false,
      );
    }
    failWebhook = true;
    const a = await runDriftJob({ ...base, until: new Date(T0 + HOUR) });
    expect(a.alert).toMatchObject({ verdict: 'Drift', delivered: false });
    expect((await alertState(db.pool, 'default', `${modelName}/v1`))!.delivered).toBe(false);
    failWebhook = false;
    const b = await runDriftJob({ ...base, until: new Date(T0 + 2 * HOUR) });
    expect(b.report.verdict).toMatchObject({
      verdict: 'SustainedDrift',
      retrain: true,
      consecutive_drifted_runs: 2,
    });
    expect(b.alert).toMatchObject({ verdict: 'SustainedDrift', delivered: true });
    const c = await runDriftJob({ ...base, until: new Date(T0 + 3 * HOUR) });
    expect(c.report.verdict).toMatchObject({
      verdict: 'SustainedDrift',
      retrain: false,
      consecutive_drifted_runs: 3,
    });
    expect(c.alert).toBeNull();
    expect((await alertState(db.pool, 'default', `${modelName}/v1`))!.delivered).toBe(true);
  }, 120_000);

  it('a redirecting receiver and a metadata address are failed deliveries in the run’s alert outbox, never followed', async () => {
    const modelName = uniqueName();
    const { store } = await registerModel(modelName);
    // A receiver that redirects to the real one: the alert must not arrive there.
    const redirecting = createServer((_req, res) => res.writeHead(302, { location: webhookUrl }).end());
    await new Promise<void>((r) => redirecting.listen(0, '127.0.0.1', r));
    const redirectUrl = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/hook`;
    try {
      const base = { modelName, modelVersion: 'v1', out: store, s3: testS3(), pool: db.pool, windowMs: HOUR };
      for (let h = 0; h < 2; h++)
        await logRows(
          modelName,
          'v1',
          generateRows(800, 40 + h, { xShift: 2, colorWeights: [1, 1, 4] }),
          T0 + h * HOUR,
          false,
        );
      const before = received.length;
      const a = await runDriftJob({ ...base, alertWebhook: redirectUrl, until: new Date(T0 + HOUR) });
      expect(a.report.verdict.verdict).toBe('Drift');
      expect(a.alert).toEqual({
        verdict: 'Drift',
        delivered: false,
        error: 'HTTP 302: the receiver redirects; alerts do not follow redirects (give the final URL)',
      });
      expect(received.length).toBe(before);
      const stored = await db.pool.query(
        'SELECT alert_status, alert_attempts, alert_error FROM drift_runs WHERE namespace = $1 AND id = $2',
        ['default', a.report.run_id],
      );
      expect(stored.rows[0]).toEqual({
        alert_status: 'failed',
        alert_attempts: 1,
        alert_error: 'HTTP 302: the receiver redirects; alerts do not follow redirects (give the final URL)',
      });
      // The next run (same verdict) retries the pending alert: to a metadata address it is refused, recorded too.
      const b = await runDriftJob({
        ...base,
        alertWebhook: 'http://169.254.169.254/latest/meta-data/',
        until: new Date(T0 + 2 * HOUR),
      });
      expect(b.alert).toMatchObject({ verdict: 'Drift', delivered: false });
      expect(b.alert?.error).toMatch(
        /^refused: 169\.254\.169\.254 is a link-local or cloud metadata address/,
      );
      const again = await db.pool.query(
        'SELECT alert_status, alert_error FROM drift_runs WHERE namespace = $1 AND id = $2',
        ['default', a.report.run_id],
      );
      expect(again.rows[0]?.alert_status).toBe('failed');
      expect(again.rows[0]?.alert_error).toMatch(/^refused: 169\.254\.169\.254/);
      expect(received.length).toBe(before);
    } finally {
      await new Promise((r) => redirecting.close(r));
    }
  }, 120_000);

  it('degraded quality from delayed labels; too few labels gives no quality verdict', async () => {
    const modelName = uniqueName();
    const { store } = await registerModel(modelName);
    await logRows(modelName, 'v1', generateRows(1200, 31, { labelNoise: 0.4 }), T0, true);
    const bad = await runDriftJob({
      modelName,
      modelVersion: 'v1',
      out: store,
      s3: testS3(),
      pool: db.pool,
      since: new Date(T0),
      until: new Date(T0 + HOUR),
    });
    expect(bad.report.quality).toMatchObject({ verdict: 'Degraded', metric: 'roc_auc', labelledRows: 1200 });
    expect(bad.report.verdict.verdict).toBe('QualityDegraded');
    const few = await runDriftJob({
      modelName,
      modelVersion: 'v1',
      out: store,
      s3: testS3(),
      pool: db.pool,
      since: new Date(T0),
      until: new Date(T0 + HOUR),
      quality: { minLabels: 5000 },
      monitor: 'other-monitor',
    });
    expect(few.report.quality.verdict).toBe('InsufficientData');
  });

  it('an empty window, a feature missing from the logs, values of the wrong type', async () => {
    const modelName = uniqueName();
    const { store } = await registerModel(modelName);
    const empty = await runDriftJob({
      modelName,
      modelVersion: 'v1',
      out: store,
      s3: testS3(),
      pool: db.pool,
      since: new Date(T0),
      until: new Date(T0 + HOUR),
    });
    expect(empty.report.rows.current).toBe(0);
    expect(empty.report.verdict.verdict).toBe('InsufficientData');
    const rows = generateRows(300, 40).map((r) => {
      const { flag: _dropped, ...rest } = r.record;
      return { ...r, record: { ...rest, n: 'seven' as unknown as number } };
    });
    await logRows(modelName, 'v1', rows, T0, false);
    const r = await runDriftJob({
      modelName,
      modelVersion: 'v1',
      out: store,
      s3: testS3(),
      pool: db.pool,
      since: new Date(T0),
      until: new Date(T0 + HOUR),
    });
    const warnings = r.report.warnings.join('\n');
    expect(warnings).toMatch(/feature flag is missing from every logged record/);
    expect(warnings).toMatch(/feature n: 300 logged values are not of the schema's type/);
    expect(r.report.features.find((f) => f.name === 'flag')).toMatchObject({ method: null, drifted: false });
  });

  it('refuses a schema whose digest differs from the registered one', async () => {
    const modelName = uniqueName();
    await registerModel(modelName);
    const local = await writeModelFiles();
    const schemaText = (await readFile(`${local.dir}/schema.json`, 'utf8')).replace(
      '"the outcome"',
      '"changed"',
    );
    const { createFeatureSchema } = await import('../../core/feature-schema.js');
    const changed = createFeatureSchema({ ...JSON.parse(schemaText), digest: undefined });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${local.dir}/schema2.json`, serializeFeatureSchema(changed));
    const err = await runDriftJob({
      modelName,
      modelVersion: 'v1',
      schema: `${local.dir}/schema2.json`,
      out: local.dir,
      s3: testS3(),
      pool: db.pool,
      windowMs: HOUR,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(/schema digest mismatch/);
  });

  it('an unknown model version is a clear error', async () => {
    const err = await runDriftJob({
      modelName: 'no-such-model',
      modelVersion: 'v9',
      out: '/tmp/x',
      pool: db.pool,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(/no-such-model\/v9 is not in the registry/);
  });

  it('a retried Job is one run and one alert, also across a crash between sending and recording', async () => {
    const modelName = uniqueName();
    const { store } = await registerModel(modelName);
    await logRows(
      modelName,
      'v1',
      generateRows(1500, 41, { xShift: 1.5, colorWeights: [1, 1, 4] }),
      T0,
      false,
    );
    const monitor = `ml/${modelName}`;
    const job = `${modelName}-drift-29000000`;
    const attempt = {
      modelName,
      modelVersion: 'v1',
      out: store,
      s3: testS3(),
      pool: db.pool,
      monitor,
      alertWebhook: webhookUrl,
      since: new Date(T0),
      until: new Date(T0 + HOUR),
      runId: job,
      jobName: job,
    };
    const before = received.length;
    const first = await runDriftJob(attempt);
    expect(first.alert).toMatchObject({ verdict: 'Drift', delivered: true });
    // The first verdict of a monitor is not "changed from NoDrift".
    expect(first.decision.alert).toEqual({
      from: null,
      to: 'Drift',
      message: 'first verdict: drift detected',
    });

    // The Pod fails after the alert (say, writing the status) and the Job starts another Pod.
    const second = await runDriftJob(attempt);
    expect(second.decision).toMatchObject({ verdict: 'Drift', alert: { from: null, to: 'Drift' } });
    let mine = received.slice(before);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ key: `${monitor}/${job}`, mlcycle: { run_id: job, verdict: 'Drift' } });
    expect(mine[0]!.text).toMatch(/first verdict: drift detected/);
    let runs = await listRuns(db.pool, 'default', monitor);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: job, jobName: job, attempts: 2, alertStatus: 'delivered' });
    expect(runs[0]!.decision).toMatchObject({
      verdict: 'Drift',
      alert: true,
      retrain: false,
      rollback: false,
    });

    // A crash between sending and recording the delivery: the intent is still pending. The retry
    // sends it again — the same alert with the same key, which the receiver can drop — never a new one.
    await db.pool.query(
      `UPDATE drift_runs SET alert_status = 'pending' WHERE namespace = 'default' AND id = $1`,
      [job],
    );
    await runDriftJob(attempt);
    mine = received.slice(before);
    expect(mine).toHaveLength(2);
    expect(mine[1]!.key).toBe(mine[0]!.key);
    expect(mine[1]).toEqual(mine[0]);
    runs = await listRuns(db.pool, 'default', monitor);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ attempts: 3, alertStatus: 'delivered' });

    // The next Job, same verdict: a run of its own, no alert.
    const next = await runDriftJob({ ...attempt, runId: `${job}-next`, jobName: `${job}-next` });
    expect(next.decision.alert).toBeNull();
    expect(next.alert).toBeNull();
    expect(received.slice(before)).toHaveLength(2);
    expect((await listRuns(db.pool, 'default', monitor)).map((r) => r.id)).toEqual([`${job}-next`, job]);
  }, 120_000);

  it('promotion evidence: champion and challenger measured on the same labelled requests', async () => {
    const modelName = uniqueName();
    const { store } = await registerModel(modelName);
    const shared = generateRows(600, 51, {}, T0);
    // The champion and the challenger scored the same 600 requests (same request ids, each under
    // its own version); the challenger's probabilities are sharper.
    await logRows(modelName, 'v1', shared, T0, true);
    const sharper = shared.map((r) => ({
      ...r,
      probability: r.label === 1 ? 0.6 + 0.3 * r.probability : 0.4 * r.probability,
    }));
    await logRows(modelName, 'v2', sharper, T0, false);
    // Requests only the champion scored (before the challenger started): not part of the comparison.
    await logRows(modelName, 'v1', generateRows(400, 52, { labelNoise: 0.5 }, T0), T0 + HOUR / 2, true);

    const result = await runDriftJob({
      modelName,
      modelVersion: 'v1',
      out: store,
      s3: testS3(),
      pool: db.pool,
      since: new Date(T0),
      until: new Date(T0 + HOUR),
      challengerVersion: 'v2',
      promotion: { minLabels: 200, margin: 0.01 },
    });
    const auc = (rows: typeof shared) =>
      rocAuc(
        rows.map((r) => r.label),
        rows.map((r) => r.probability),
      );
    const promotion = result.decision.promotion!;
    expect(promotion).toMatchObject({
      challenger: 'v2',
      metric: 'roc_auc',
      ready: true,
      promote: true,
      labelledRows: 600,
    });
    expect(promotion.champion).toBeCloseTo(auc(shared), 12);
    expect(promotion.challengerValue).toBeCloseTo(auc(sharper), 12);
    // The drift window is the champion's own 1,000 rows.
    expect(result.report.rows.current).toBe(1000);
    // Stored with the run and mirrored into the status.
    const [stored] = await listRuns(db.pool, 'default', `${modelName}/v1`);
    expect(stored!.decision?.promotion).toEqual(promotion);
    const status = monitorStatus(result.report, result.decision, result.reportHtmlUri, undefined);
    expect(status.lastRun.decision?.promotion).toEqual(promotion);

    // Too few shared labels: no comparison claimed.
    const few = await runDriftJob({
      modelName,
      modelVersion: 'v1',
      out: store,
      s3: testS3(),
      pool: db.pool,
      since: new Date(T0),
      until: new Date(T0 + HOUR),
      challengerVersion: 'v2',
      promotion: { minLabels: 1000 },
    });
    expect(few.decision.promotion).toMatchObject({ ready: false, promote: false, labelledRows: 600 });
  }, 120_000);

  it('a challenger whose own estimate is degraded is not promoted when the monitor opts in', async () => {
    const modelName = uniqueName();
    const { store } = await registerModel(modelName);
    await registerModel(modelName, 'v2');
    const shared = generateRows(600, 61, {}, T0);
    await logRows(modelName, 'v1', shared, T0, true);
    // The challenger ranks the labelled requests better (it wins on labels), but every probability
    // it gives is within 0.01 of ½: its expected ROC AUC, from the probabilities alone, collapses.
    const unsure = shared.map((r) => {
      const sharp = r.label === 1 ? 0.6 + 0.3 * r.probability : 0.4 * r.probability;
      const probability = 0.5 + 0.02 * (sharp - 0.5);
      return { ...r, probability, prediction: probability >= 0.5 ? 1 : 0 };
    });
    await logRows(modelName, 'v2', unsure, T0, false);
    const run = (hold: boolean) =>
      runDriftJob({
        modelName,
        modelVersion: 'v1',
        out: store,
        s3: testS3(),
        pool: db.pool,
        since: new Date(T0),
        until: new Date(T0 + HOUR),
        challengerVersion: 'v2',
        promotion: { minLabels: 200, margin: 0.01 },
        policy: { holdPromotionOnEstimatedDegraded: hold },
      });
    expect((await run(false)).decision.promotion).toMatchObject({ ready: true, promote: true });
    const held = (await run(true)).decision.promotion!;
    expect(held).toMatchObject({ ready: true, promote: false });
    expect(held.reason).toMatch(/^held: the challenger's estimated quality is degraded \(challenger wins/);
  }, 120_000);

  it('the history the guardrails read keeps a retraining of the last 24 hours however many runs ago', async () => {
    const monitor = `ml/${uniqueName()}`;
    const now = T0 + 48 * HOUR;
    // A retraining 10 hours ago, then 250 runs a minute apart (a monitor scheduled every minute).
    await db.pool.query(
      `INSERT INTO drift_runs (namespace, id, monitor, started_at, finished_at, reference_rows, current_rows, labelled_rows, drift,
         dataset_drift, drift_share, prediction_drift, quality_verdict, verdict, consecutive_drifted_runs, retrain_requested)
       SELECT 'default', $1 || '-' || i, $1, t, t, 100, 100, 0, 'drift', true, 1, false, 'NotEvaluated', 'SustainedDrift', 3, i = 0
       FROM generate_series(0, 250) AS i, LATERAL (SELECT to_timestamp(($2::float8 - 10 * 3600000 + i * 60000) / 1000) AS t) x`,
      [monitor, now],
    );
    const recent = await runHistory(db.pool, 'default', monitor, null, { limit: 200 });
    expect(recent).toHaveLength(200);
    expect(recent.some((r) => r.retrainRequested)).toBe(false);
    const guarded = await runHistory(db.pool, 'default', monitor, null, {
      limit: 200,
      retrainsSince: new Date(now - 24 * HOUR),
    });
    expect(guarded).toHaveLength(201);
    expect(guarded[0]).toMatchObject({ retrainRequested: true, finishedAt: new Date(now - 10 * HOUR) });
  });
});
