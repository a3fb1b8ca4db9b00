import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ARTIFACT } from '../core/artifacts.js';
import { readBuiltinFlights } from '../core/dataset/builtin-flights.js';
import { type Database, openDatabase } from '../core/db/index.js';
import { UserError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { rocAuc } from '../core/metrics.js';
import { decidePromotion, type PolicySettings } from '../core/policy.js';
import { type LifecycleEventKind, recordEvent, setAlias } from '../core/registry.js';
import { type DriftJobResult, runDriftJob } from '../drift-job/job.js';
import { loadModel, type RunningServer, startServer } from '../inference-server/index.js';
import { TRAIN_DEFAULTS, type TrainResult, trainModel } from '../trainer-job/index.js';
import { Progress } from './progress.js';
import { replay, sendFeedback, type TrafficRow, trafficBetween } from './traffic.js';
import { startWebhookReceiver } from './webhook-receiver.js';

export interface DemoOptions {
  out: string;
  /** Training rows per model version (sampled evenly over its period). */
  trainRows: number;
  trials: number;
  /** Requests replayed per monitoring window. */
  windowRows: number;
  seed: number;
}

export interface TimelineEvent {
  at: string;
  kind: LifecycleEventKind;
  version: string | null;
  detail: string;
}

const MODEL = 'flights-delay';
const MONITOR = 'flights-delay/demo-deployment';
// A marker the demo leaves in its output directory, so a second run knows the directory is
// its own and may be wiped; any other non-empty directory is refused.
const MARKER = '.mlcycle-demo';

// The same rules a DriftMonitor would carry in a cluster: two drifted windows in a row are
// sustained drift and ask for retraining; degraded quality on delayed labels rolls back.
const POLICY: PolicySettings = {
  sustainedDriftRuns: 2,
  retrainOnSustainedDrift: true,
  rollbackOnQualityDegraded: true,
  rollbackOnSustainedDrift: false,
};

const day = (iso: string) => new Date(`${iso}T00:00:00Z`);

/**
 * The whole lifecycle on one machine: every step calls the real component (trainer, inference
 * server over HTTP, drift job, registry, policy); the demo only decides what traffic to send and
 * prints what happened. Any step that does not happen throws, and the demo fails.
 */
export async function runDemo(
  options: DemoOptions,
): Promise<{ events: TimelineEvent[]; summaryPath: string }> {
  const out = resolve(options.out);
  await prepareOutputDirectory(out);
  const progress = new Progress();
  const quiet = createLogger('demo', 'warn');
  const events: TimelineEvent[] = [];
  const paths = {
    artifacts: join(out, 'artifacts'),
    reports: join(out, 'reports'),
    predictionLog: join(out, 'prediction-logs.ndjson'),
    summary: join(out, 'summary.json'),
  };
  const reports: Record<string, { html: string; json: string }> = {};

  const db: Database = await progress.step(
    'start the embedded PostgreSQL (PGlite) and the alert webhook',
    () => openDatabase({ dataDir: join(out, 'db'), applicationName: 'mlcycle-demo' }),
  );
  const webhook = await startWebhookReceiver();
  let server: RunningServer | undefined;
  const note = async (kind: LifecycleEventKind, version: string | null, detail: string, record = true) => {
    events.push({ at: new Date().toISOString(), kind, version, detail });
    if (record) await recordEvent(db.pool, MODEL, version, kind, { detail, source: 'demo' });
  };

  try {
    const flights = await progress.step(
      'read builtin:flights (3M US flights, Jan–Jun 2001) for the traffic replay',
      () => readBuiltinFlights({ columns: ['date', 'delay', 'distance', 'origin', 'destination'] }),
      (t) => `${t.numRows.toLocaleString('en-US')} flights`,
    );

    // 1. Train v1 on January–February.
    const v1 = await progress.step(
      '1. train v1 on January–February (GBDT + linear baseline, tuning, holdout, gate)',
      () => train(options, paths.artifacts, db, 'v1', day('2001-01-01'), day('2001-03-01')),
      describeTraining,
    );
    await note('trained', 'v1', `holdout ROC AUC ${fmt(v1.metrics.holdout.roc_auc)}`, false);
    if (!v1.deployable) throw new DemoError(`the gate rejected v1: ${v1.gate.reasons.join('; ')}`);
    await note('registered', 'v1', `gate passed: ${gateChecks(v1)}`, false);
    await setAlias(db.pool, MODEL, 'champion', 'v1', 'first version');

    // 2. Serve v1 and replay March.
    server = await progress.step('2. start the inference server with v1', () =>
      startServer({
        model: { kind: 'location', location: v1.artifactRoot },
        port: 0,
        pool: db.pool,
        log: quiet,
      }),
    );
    const url = server.url;
    await note('served', 'v1', `inference server at ${url}`);
    const schema = server.model().schema;
    const traffic = (from: string, to: string, seed: number, filter?: (row: number) => boolean) =>
      trafficBetween(flights, schema, day(from), day(to), {
        limit: options.windowRows,
        seed: options.seed + seed,
        ...(filter ? { filter } : {}),
      });

    // Feedback and monitoring need the rows in PostgreSQL, so each window waits for its log.
    let loggedRows = 0;
    const window = async (rows: TrafficRow[]) => {
      const since = new Date();
      const served = await replay(url, rows, { single: 200, batchSize: 1_000 });
      loggedRows += served.length;
      await waitForLog(server!, loggedRows);
      return { served, since, until: new Date(Date.now() + 1) };
    };
    const march = await progress.step(
      '   replay March traffic over HTTP (/predict and /predict_batch), logged to PostgreSQL',
      () => window(traffic('2001-03-01', '2001-04-01', 1)),
      (w) => `${w.served.length.toLocaleString('en-US')} predictions served and logged`,
    );

    const monitor = async (name: string, version: string, w: { since: Date; until: Date }) => {
      const result = await runDriftJob({
        modelName: MODEL,
        modelVersion: version,
        since: w.since,
        until: w.until,
        out: join(paths.reports, name),
        pool: db.pool,
        monitor: MONITOR,
        policy: POLICY,
        minRows: 1_000,
        quality: { minLabels: 1_000, tolerance: 0.05 },
        alertWebhook: webhook.url,
        log: quiet,
      });
      reports[name] = { html: result.reportHtmlUri, json: result.reportJsonUri };
      await noteDriftRun(result, version, note);
      return result;
    };

    // 3. Monitor March: close to training, no alarm expected.
    const marchRun = await progress.step(
      '3. monitor the March window against v1’s reference (holdout sample)',
      () => monitor('1-march', 'v1', march),
      describeRun,
    );
    if (marchRun.decision.verdict !== 'NoDrift') {
      throw new DemoError(
        `expected no drift on March, close to training; the verdict was ${marchRun.decision.verdict}`,
      );
    }

    // 4. Later months, then a clearly shifted slice.
    for (const [name, from, to, seed] of [
      ['2-april', '2001-04-01', '2001-05-01', 2],
      ['3-may', '2001-05-01', '2001-06-01', 3],
    ] as const) {
      const w = await progress.step(`4. replay ${name.slice(2)} traffic`, () =>
        window(traffic(from, to, seed)),
      );
      await progress.step(
        `   monitor the ${name.slice(2)} window`,
        () => monitor(name, 'v1', w),
        describeRun,
      );
    }
    progress.note(
      'next: a deliberately shifted slice — only long-haul flights (≥ 1,500 miles) in June — to make drift unmistakable',
    );
    const distance = flights.columns.distance as { values: Float64Array };
    const longHaul = (row: number) => distance.values[row]! >= 1_500;
    let retrainAsked = false;
    for (const [name, seed] of [
      ['4-shifted-a', 4],
      ['5-shifted-b', 5],
    ] as const) {
      const w = await progress.step(`   replay shifted slice ${name.slice(-1)} (long-haul only)`, () =>
        window(traffic('2001-06-01', '2001-06-16', seed, longHaul)),
      );
      const run = await progress.step(
        `   monitor shifted slice ${name.slice(-1)}`,
        () => monitor(name, 'v1', w),
        describeRun,
      );
      retrainAsked ||= run.decision.retrain;
    }
    if (!events.some((e) => e.kind === 'drift_detected')) throw new DemoError('drift was never detected');
    if (webhook.alerts.length === 0) throw new DemoError('no alert reached the webhook');
    if (!retrainAsked) throw new DemoError('the policy never asked for retraining');

    // 5. Retrain on recent data, compare on the same recent labelled window, promote.
    const v2 = await progress.step(
      '5. retrain: v2 on April – mid-June',
      () => train(options, paths.artifacts, db, 'v2', day('2001-04-01'), day('2001-06-16')),
      describeTraining,
    );
    await note('retrained', 'v2', `holdout ROC AUC ${fmt(v2.metrics.holdout.roc_auc)}`, false);
    if (!v2.deployable) throw new DemoError(`the gate rejected v2: ${v2.gate.reasons.join('; ')}`);
    await note('registered', 'v2', `gate passed: ${gateChecks(v2)}`, false);

    const comparison = await progress.step(
      '   champion v1 vs challenger v2 on the same labelled window (late June, served by v1, labels via /feedback)',
      async () => {
        const w = await window(traffic('2001-06-16', '2001-07-01', 6));
        await feedback(
          url,
          w.served.map((s) => ({ requestId: s.requestId, label: s.label })),
        );
        const labels = w.served.map((s) => s.label);
        const champion = rocAuc(
          labels,
          w.served.map((s) => s.probability ?? s.prediction),
        );
        const challengerModel = await loadModel({ kind: 'location', location: v2.artifactRoot });
        try {
          const out = await challengerModel.predict(w.served.map((s) => s.record));
          const challenger = rocAuc(labels, Array.from(out.probabilities ?? out.predictions));
          return {
            champion,
            challenger,
            decision: decidePromotion({
              metric: 'roc_auc',
              champion,
              challenger,
              labelledRows: labels.length,
              minLabels: 1_000,
              margin: 0.002,
            }),
          };
        } finally {
          await challengerModel.release();
        }
      },
      (c) => c.decision.reason,
    );
    if (!comparison.decision.promote)
      throw new DemoError(`v2 was not promoted: ${comparison.decision.reason}`);
    await setAlias(db.pool, MODEL, 'champion', 'v2', comparison.decision.reason);
    await note('promoted', 'v2', comparison.decision.reason);
    await progress.step('   the server switches to v2 (loaded, verified, warmed, then swapped)', () =>
      server!.switchModel({ kind: 'location', location: v2.artifactRoot }),
    );
    await note('served', 'v2', `inference server at ${url}`);

    // 6. Delayed labels that show degraded quality → roll back.
    progress.note(
      'the delayed labels for v2’s traffic are the true outcomes with 60% of them flipped — what a broken upstream',
    );
    progress.note('feed or a sudden change in what "late" means would look like to the monitor');
    const v2Window = await progress.step(
      '6. replay June traffic through v2 and send its delayed labels',
      async () => {
        const w = await window(traffic('2001-06-01', '2001-06-16', 7));
        const flipped = w.served.map((s, i) => ({
          requestId: s.requestId,
          label: i % 5 < 3 ? 1 - s.label : s.label,
        }));
        await feedback(url, flipped);
        return w;
      },
    );
    const qualityRun = await progress.step(
      '   monitor v2’s window with its labels',
      () => monitor('6-v2-quality', 'v2', v2Window),
      describeRun,
    );
    if (qualityRun.decision.verdict !== 'QualityDegraded' || !qualityRun.decision.rollback) {
      throw new DemoError(`expected degraded quality and a rollback; got ${qualityRun.decision.verdict}`);
    }
    await setAlias(db.pool, MODEL, 'champion', 'v1', `rollback: ${qualityRun.decision.reasons.join('; ')}`);
    await progress.step('   roll back: the server serves v1 again', () =>
      server!.switchModel({ kind: 'location', location: v1.artifactRoot }),
    );
    const check = await fetch(`${url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(march.served[0]!.record),
    }).then((r) => r.json() as Promise<{ model_version: string }>);
    if (check.model_version !== 'v1')
      throw new DemoError(`after the rollback the server answered with ${check.model_version}`);
    await note('rolled_back', 'v1', `from v2 to v1: ${qualityRun.decision.reasons.join('; ')}`);

    // 7. Timeline and artifacts.
    const exported = await exportPredictionLog(db, paths.predictionLog);
    const summary: Summary = {
      model: MODEL,
      events,
      artifacts: {
        models: { v1: v1.artifactRoot, v2: v2.artifactRoot },
        metrics: { v1: join(v1.artifactRoot, ARTIFACT.metrics), v2: join(v2.artifactRoot, ARTIFACT.metrics) },
        training_reports: {
          v1: join(v1.artifactRoot, ARTIFACT.report),
          v2: join(v2.artifactRoot, ARTIFACT.report),
        },
        prediction_log: { path: paths.predictionLog, rows: exported },
        drift_reports: reports,
        alerts: webhook.alerts,
        database: join(out, 'db'),
      },
    };
    await writeFile(paths.summary, `${JSON.stringify(summary, null, 2)}\n`);
    printTimeline(events, summary.artifacts, paths.summary);
    return { events, summaryPath: paths.summary };
  } finally {
    await server?.close().catch(() => {});
    await webhook.close();
    await db.close();
  }

  async function train(
    o: DemoOptions,
    store: string,
    database: Database,
    version: string,
    since: Date,
    until: Date,
  ): Promise<TrainResult> {
    return trainModel({
      ...TRAIN_DEFAULTS,
      dataset: 'builtin:flights',
      store,
      modelName: MODEL,
      version,
      since,
      until,
      rows: o.trainRows,
      trials: o.trials,
      seed: o.seed,
      register: true,
      pool: database.pool,
      s3: { s3Region: 'us-east-1' },
      logger: quiet,
    });
  }
}

async function feedback(url: string, labelled: { requestId: string; label: number }[]): Promise<void> {
  const { recorded, unknown } = await sendFeedback(url, labelled);
  if (unknown > 0 || recorded !== labelled.length) {
    throw new DemoError(
      `/feedback recorded ${recorded} of ${labelled.length} labels (${unknown} unknown request ids)`,
    );
  }
}

/** Waits until the server's prediction log has written `target` rows in all to PostgreSQL. */
async function waitForLog(server: RunningServer, target: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (server.predictionLog().rowsWritten < target) {
    if (Date.now() > deadline) {
      throw new DemoError(
        `only ${server.predictionLog().rowsWritten} of ${target} prediction rows reached PostgreSQL`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function noteDriftRun(
  result: DriftJobResult,
  version: string,
  note: (kind: LifecycleEventKind, version: string | null, detail: string, record?: boolean) => Promise<void>,
): Promise<void> {
  const { decision, report } = result;
  const share = `drifted: ${report.drifted_features.join(', ') || 'none'}; share ${fmt(report.drift_share)}`;
  if (decision.verdict === 'Drift' || decision.verdict === 'SustainedDrift') {
    await note('drift_detected', version, `${decision.verdict}: ${share}`, false);
  }
  if (decision.alert) {
    const delivery = result.alert?.delivered
      ? 'delivered to the webhook'
      : `not delivered: ${result.alert?.error ?? 'no webhook'}`;
    await note('alert', version, `${decision.alert.message} (${delivery})`, false);
  }
  if (decision.retrain) await note('retrain_requested', version, decision.reasons.join('; '), false);
  if (decision.verdict === 'QualityDegraded')
    await note('quality_degraded', version, decision.reasons.join('; '), false);
}

function describeTraining(r: TrainResult): string {
  const h = r.metrics.holdout;
  const b = r.metrics.baseline;
  return [
    `${r.version}: ${r.status}, deployable ${r.deployable}; gate: ${gateChecks(r)}`,
    `holdout ROC AUC ${fmt(h.roc_auc)} (baseline ${fmt(b.roc_auc)}), PR AUC ${fmt(h.pr_auc)}, log loss ${fmt(h.log_loss)}, Brier ${fmt(h.brier)}`,
    `ONNX parity max |diff| ${r.metrics.onnx_parity.max_abs_diff.toExponential(2)}; artifacts in ${r.artifactRoot}`,
  ].join('\n');
}

function gateChecks(r: TrainResult): string {
  return r.gate.checks.map((c) => `${c.passed ? 'ok' : 'FAILED'} ${c.detail}`).join('; ');
}

function describeRun(r: DriftJobResult): string {
  const d = r.decision;
  const drifted = r.report.features
    .filter((f) => f.drifted)
    .map((f) => `${f.name} (${f.method} ${fmt(f.score)})`);
  return [
    `verdict ${d.verdict}; dataset drift ${r.report.dataset_drift}, share ${fmt(r.report.drift_share)}; ${r.report.rows.current} rows`,
    drifted.length ? `drifted: ${drifted.join(', ')}` : 'no feature drifted',
    `quality: ${r.report.quality.verdict} — ${r.report.quality.reason}`,
    ...(d.alert ? [`alert sent: ${d.alert.message}`] : []),
    ...(d.retrain ? ['policy: retrain'] : []),
    ...(d.rollback ? ['policy: roll back'] : []),
    `report: ${r.reportHtmlUri}`,
  ].join('\n');
}

async function exportPredictionLog(db: Database, path: string): Promise<number> {
  const { rows } = await db.pool.query(
    `SELECT request_id, model_name, model_version, features, prediction, probability, latency_ms, created_at,
            l.label
     FROM prediction_logs p LEFT JOIN prediction_labels l USING (model_name, request_id)
     ORDER BY p.id`,
  );
  await writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  return rows.length;
}

function printTimeline(events: TimelineEvent[], summary: Summary['artifacts'], summaryPath: string): void {
  const lines = [
    '',
    '7. timeline',
    ...events.map((e) => `   ${e.at}  ${e.kind.padEnd(17)} ${(e.version ?? '').padEnd(3)} ${e.detail}`),
  ];
  lines.push(
    '',
    'where everything is',
    ...Object.entries(summary.models).map(
      ([v, p]) => `   model ${v}: ${p} (model.onnx, schema.json, metrics.json, report.html, …)`,
    ),
    `   prediction log: ${summary.prediction_log.path} (${summary.prediction_log.rows} rows, with labels where sent)`,
    ...Object.entries(summary.drift_reports).map(
      ([name, r]) => `   drift report ${name}: ${r.html} (+ report.json)`,
    ),
    `   alerts received by the local webhook: ${summary.alerts.length}`,
    `   registry and logs (PGlite data directory): ${summary.database}`,
    `   summary: ${summaryPath}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

interface Summary {
  model: string;
  events: TimelineEvent[];
  artifacts: {
    models: Record<string, string>;
    metrics: Record<string, string>;
    training_reports: Record<string, string>;
    prediction_log: { path: string; rows: number };
    drift_reports: Record<string, { html: string; json: string }>;
    alerts: unknown[];
    database: string;
  };
}

async function prepareOutputDirectory(out: string): Promise<void> {
  const entries = await readdir(out).catch(() => [] as string[]);
  if (entries.length > 0) {
    if (!entries.includes(MARKER)) {
      throw new UserError(`${out} is not empty and was not made by the demo; choose another --out`);
    }
    await rm(out, { recursive: true, force: true });
  }
  await mkdir(out, { recursive: true });
  await writeFile(join(out, MARKER), 'written by mlcycle demo; the next run wipes this directory\n');
  await stat(out);
}

function fmt(v: number | undefined | null): string {
  return v === undefined || v === null || !Number.isFinite(v) ? '—' : v.toFixed(4);
}

export class DemoError extends UserError {
  constructor(message: string) {
    super(`demo step failed: ${message}`, { exitCode: 1 });
  }
}
