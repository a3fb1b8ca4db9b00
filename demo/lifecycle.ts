import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ARTIFACT } from '../core/artifacts.js';
import { productionUri, readBuiltinFlights } from '../core/dataset/index.js';
import { type Database, openDatabase } from '../core/db/index.js';
import { UserError } from '../core/errors.js';
import type { FeatureRecord } from '../core/feature-schema.js';
import { createLogger } from '../core/log.js';
import type { PolicySettings } from '../core/policy.js';
import { type LifecycleEventKind, recordEvent, setAlias } from '../core/registry.js';
import { DEFAULT_NAMESPACE } from '../core/tenant.js';
import { type DriftJobResult, runDriftJob } from '../drift-job/job.js';
import { type RunningServer, startServer } from '../inference-server/index.js';
import { type TrainOptions, type TrainResult, trainModel, trainOptions } from '../trainer-job/index.js';
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
/** The demo is one tenant: the CLI's default namespace. */
const NAMESPACE = DEFAULT_NAMESPACE;
const DEPLOYMENT = 'demo-deployment';
const MONITOR = `${MODEL}/${DEPLOYMENT}`;
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
// Quality on delayed labels: the window's ROC AUC against the holdout's, at most 10% worse
// (v1 loses about 6% on the long-haul slice: drifted, not yet degraded).
const QUALITY = { minLabels: 1_000, tolerance: 0.1 };
// What a ModelDeployment's spec.promotion would say: the challenger must beat the champion's
// ROC AUC on the same labelled requests by this margin, on at least this many of them.
const PROMOTION = { metric: 'roc_auc', margin: 0.005, minLabels: 1_000 };

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
  // The demo plays the label source, so it holds the feedback token (in a cluster: a Secret).
  const feedbackToken = randomBytes(24).toString('base64url');
  const feedback = async (url: string, labelled: { predictionId: string; label: number }[]) => {
    const { recorded, unknown } = await sendFeedback(url, feedbackToken, labelled);
    if (unknown > 0 || recorded !== labelled.length) {
      throw new DemoError(
        `/feedback recorded ${recorded} of ${labelled.length} labels (${unknown} unknown prediction ids)`,
      );
    }
  };
  const note = async (kind: LifecycleEventKind, version: string | null, detail: string, record = true) => {
    events.push({ at: new Date().toISOString(), kind, version, detail });
    if (record) await recordEvent(db.pool, NAMESPACE, MODEL, version, kind, { detail, source: 'demo' });
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
      () =>
        train(options, paths.artifacts, db, 'v1', {
          dataset: 'builtin:flights',
          since: day('2001-01-01'),
          until: day('2001-03-01'),
          rows: options.trainRows,
        }),
      describeTraining,
    );
    await note('trained', 'v1', `holdout ROC AUC ${fmt(v1.metrics.holdout.roc_auc)}`, false);
    if (!v1.deployable) throw new DemoError(`the gate rejected v1: ${v1.gate.reasons.join('; ')}`);
    await note('registered', 'v1', `gate passed: ${gateChecks(v1)}`, false);
    await setAlias(db.pool, NAMESPACE, MODEL, 'champion', 'v1', 'first version');

    // 2. Serve v1 and replay March.
    server = await progress.step('2. start the inference server with v1', () =>
      startServer({
        model: { kind: 'location', location: v1.artifactRoot },
        port: 0,
        pool: db.pool,
        // Labels decide rollbacks: /feedback takes a credential of its own.
        feedbackToken,
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
    // With a shadow challenger every request is logged twice: once per version.
    let loggedRows = 0;
    const window = async (rows: TrafficRow[]) => {
      const since = new Date();
      const served = await replay(url, rows, { single: 200, batchSize: 1_000 });
      loggedRows += served.length * (server!.challenger() ? 2 : 1);
      await waitForLog(server!, loggedRows);
      return { served, since, until: new Date(Date.now() + 1) };
    };
    const labelled = async (rows: TrafficRow[]) => {
      const w = await window(rows);
      await feedback(
        url,
        w.served.map((s) => ({ predictionId: s.predictionId, label: s.label })),
      );
      return w;
    };
    const march = await progress.step(
      '   replay March traffic over HTTP (/predict and /predict_batch), logged to PostgreSQL',
      () => window(traffic('2001-03-01', '2001-04-01', 1)),
      (w) => `${w.served.length.toLocaleString('en-US')} predictions served and logged`,
    );

    const monitor = async (
      name: string,
      version: string,
      w: { since: Date; until: Date },
      challengerVersion?: string,
    ) => {
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
        quality: QUALITY,
        challengerVersion,
        promotion: PROMOTION,
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

    // 4. Later months, then a clearly shifted slice; from April on, every request's true outcome
    // comes back through /feedback, so production is logged and labelled — what retraining reads.
    const production: { since: Date; until: Date }[] = [];
    for (const [name, from, to, seed] of [
      ['2-april', '2001-04-01', '2001-05-01', 2],
      ['3-may', '2001-05-01', '2001-06-01', 3],
    ] as const) {
      const w = await progress.step(`4. replay ${name.slice(2)} traffic and send its labels`, () =>
        labelled(traffic(from, to, seed)),
      );
      production.push(w);
      await progress.step(
        `   monitor the ${name.slice(2)} window`,
        () => monitor(name, 'v1', w),
        describeRun,
      );
    }
    progress.note(
      'next: a deliberately shifted slice — only long-haul flights (≥ 1,500 miles) in early June — to make drift unmistakable;',
    );
    const distance = flights.columns.distance as { values: Float64Array };
    const longHaul = (row: number) => distance.values[row]! >= 1_500;
    let retrainRun: DriftJobResult | undefined;
    for (const [name, from, to, seed] of [
      ['4-shifted-a', '2001-06-01', '2001-06-07', 4],
      ['5-shifted-b', '2001-06-07', '2001-06-13', 5],
    ] as const) {
      const w = await progress.step(
        `   replay shifted slice ${name.slice(-1)} (long-haul only, ${from} – ${to}) and send its labels`,
        () => labelled(traffic(from, to, seed, longHaul)),
      );
      production.push(w);
      const run = await progress.step(
        `   monitor shifted slice ${name.slice(-1)}`,
        () => monitor(name, 'v1', w),
        describeRun,
      );
      if (run.decision.retrain) retrainRun ??= run;
    }
    if (!events.some((e) => e.kind === 'drift_detected')) throw new DemoError('drift was never detected');
    if (webhook.alerts.length === 0) throw new DemoError('no alert reached the webhook');
    if (!retrainRun) throw new DemoError('the policy never asked for retraining');

    // 5. Retrain on what production saw: the logged, labelled windows from April to the shifted slice.
    const productionWindow = productionUri({
      model: MODEL,
      since: production[0]!.since,
      until: production.at(-1)!.until,
      versions: ['v1'],
    });
    const v2 = await progress.step(
      '5. retrain: v2 on the logged, labelled production window (April – mid-June as served by v1)',
      () =>
        train(options, paths.artifacts, db, 'v2', {
          dataset: productionWindow,
          lineage: {
            retrainedFrom: 'v1',
            deployment: DEPLOYMENT,
            driftMonitor: MONITOR,
            driftRun: retrainRun!.report.run_id,
          },
        }),
      (r) => `${describeTraining(r)}\n${describeLineage(r)}`,
    );
    await note('retrained', 'v2', describeLineage(v2), false);
    if (!v2.deployable) throw new DemoError(`the gate rejected v2: ${v2.gate.reasons.join('; ')}`);
    await note('registered', 'v2', `gate passed: ${gateChecks(v2)}`, false);

    // 6. v2 in shadow beside v1: callers keep v1's answers, both versions are logged and labelled.
    await progress.step('6. load v2 as a shadow challenger beside v1 (verified, warmed)', () =>
      server!.setChallenger({ source: { kind: 'location', location: v2.artifactRoot }, mode: 'shadow' }),
    );
    await note('shadow_started', 'v2', `shadowing v1 at ${url}: every request scored by both, v1 answers`);
    const shadowed = await progress.step(
      '   replay late-June long-haul traffic: v1 answers, v2 scores the same requests; labels via /feedback',
      () => labelled(traffic('2001-06-16', '2001-07-01', 6, longHaul)),
      (w) =>
        `${w.served.length.toLocaleString('en-US')} requests, each logged by v1 and v2 under one request id`,
    );
    const promotionRun = await progress.step(
      '   monitor the window with the challenger: one decision on the same labelled requests',
      () => monitor('6-shadow', 'v1', shadowed, 'v2'),
      describeRun,
    );
    const promotion = promotionRun.decision.promotion;
    if (!promotion?.promote) {
      throw new DemoError(
        `the run's decision did not promote v2: ${promotion?.reason ?? 'no promotion evidence'}`,
      );
    }
    await setAlias(db.pool, NAMESPACE, MODEL, 'champion', 'v2', promotion.reason);
    await progress.step('   promote: v2 becomes the champion (loaded, verified, warmed, then swapped)', () =>
      server!.switchModel({ kind: 'location', location: v2.artifactRoot }),
    );
    await expectServing(url, march.served[0]!.record, 'v2', 'after the promotion');
    if (server.challenger()) throw new DemoError('after the promotion a challenger is still loaded');
    await note('promoted', 'v2', `${promotion.reason}; ${promotion.labelledRows} labelled requests`);
    await note('served', 'v2', `inference server at ${url}`);

    // 7. Delayed labels that show degraded quality → roll back.
    progress.note(
      'the delayed labels for v2’s traffic are the true outcomes with 60% of them flipped — what a broken upstream',
    );
    progress.note('feed or a sudden change in what "late" means would look like to the monitor');
    const v2Window = await progress.step(
      '7. replay late-June long-haul traffic through v2 and send its delayed labels',
      async () => {
        const w = await window(traffic('2001-06-16', '2001-07-01', 7, longHaul));
        const flipped = w.served.map((s, i) => ({
          predictionId: s.predictionId,
          label: i % 5 < 3 ? 1 - s.label : s.label,
        }));
        await feedback(url, flipped);
        return w;
      },
    );
    const qualityRun = await progress.step(
      '   monitor v2’s window with its labels',
      () => monitor('7-v2-quality', 'v2', v2Window),
      describeRun,
    );
    if (qualityRun.decision.verdict !== 'QualityDegraded' || !qualityRun.decision.rollback) {
      throw new DemoError(`expected degraded quality and a rollback; got ${qualityRun.decision.verdict}`);
    }
    await setAlias(
      db.pool,
      NAMESPACE,
      MODEL,
      'champion',
      'v1',
      `rollback: ${qualityRun.decision.reasons.join('; ')}`,
    );
    await progress.step('   roll back: the server serves v1 again', () =>
      server!.switchModel({ kind: 'location', location: v1.artifactRoot }),
    );
    await expectServing(url, march.served[0]!.record, 'v1', 'after the rollback');
    await note('rolled_back', 'v1', `from v2 to v1: ${qualityRun.decision.reasons.join('; ')}`);

    // 8. Timeline and artifacts.
    const exported = await exportPredictionLog(db, paths.predictionLog);
    const summary: Summary = {
      model: MODEL,
      events,
      lineage: { v1: v1.lineage, v2: v2.lineage },
      promotion,
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

  /** Trains and registers a version through the trainer, on the demo's database and store. */
  async function train(
    o: DemoOptions,
    store: string,
    database: Database,
    version: string,
    data: Partial<TrainOptions> & { dataset: string },
  ): Promise<TrainResult> {
    return trainModel(
      trainOptions({
        ...data,
        store,
        modelName: MODEL,
        version,
        trials: o.trials,
        seed: o.seed,
        pool: database.pool,
        logger: quiet,
      }),
    );
  }
}

/** Asks the server who answers `record`, and fails the demo unless it is `version`. */
async function expectServing(
  url: string,
  record: FeatureRecord,
  version: string,
  when: string,
): Promise<void> {
  const response = await fetch(`${url}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(record),
  });
  const body = (await response.json()) as { model_version?: string };
  const header = response.headers.get('x-mlcycle-model-version');
  if (body.model_version !== version || header !== version) {
    throw new DemoError(
      `${when} the server answered with ${body.model_version} (header ${header}), not ${version}`,
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

function describeLineage(r: TrainResult): string {
  const l = r.lineage;
  if (l.source !== 'Production') return `learned from ${l.dataset} (${l.rows.toLocaleString('en-US')} rows)`;
  return [
    `learned from production: ${l.labelledRows ?? l.rows} labelled of ${l.loggedRows ?? '?'} requests logged by ${l.versions?.join(', ') ?? l.model}`,
    `between ${l.since} and ${l.until}; asked for by drift run ${l.driftRun ?? '—'} of ${l.driftMonitor ?? '—'}`,
  ].join(' ');
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
    describeEstimate(r),
    ...(d.alert ? [`alert sent: ${d.alert.message}`] : []),
    ...(d.retrain ? ['policy: retrain'] : []),
    ...(d.rollback ? ['policy: roll back'] : []),
    `report: ${r.reportHtmlUri}`,
  ].join('\n');
}

/** The estimate before labels (CBPE) beside the realized value where the window has labels. */
function describeEstimate(r: DriftJobResult): string {
  const e = r.report.estimate;
  if (!e) return 'estimate: off';
  const m = e.metrics.find((x) => x.metric === e.metric);
  if (!m) return `estimate: ${e.verdict} — ${e.reason}`;
  const realized = r.report.quality.metrics[e.metric];
  const beside =
    realized === undefined
      ? 'no labels yet'
      : `realized ${fmt(realized)} on ${r.report.quality.labelledRows} labels`;
  return `estimate before labels: ${e.metric} ${fmt(m.estimated)} (band ${fmt(m.lowerBand)}–${fmt(m.upperBand)}, alert below ${fmt(m.lowerThreshold)}), ${beside} — ${e.verdict}`;
}

async function exportPredictionLog(db: Database, path: string): Promise<number> {
  const { rows } = await db.pool.query(
    `SELECT prediction_id, request_id, record_index, model_name, model_version, features, prediction,
            probability, latency_ms, created_at, l.label
     FROM prediction_logs p LEFT JOIN prediction_labels l USING (namespace, model_name, prediction_id)
     WHERE namespace = $1
     ORDER BY p.id`,
    [NAMESPACE],
  );
  await writeFile(path, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  return rows.length;
}

function printTimeline(events: TimelineEvent[], summary: Summary['artifacts'], summaryPath: string): void {
  const lines = [
    '',
    '8. timeline',
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
  /** What each version learned from (as recorded in the registry). */
  lineage: Record<string, TrainResult['lineage']>;
  /** The drift run's promotion decision that made v2 the champion. */
  promotion: NonNullable<DriftJobResult['decision']['promotion']>;
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
