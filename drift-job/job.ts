import { randomUUID } from 'node:crypto';
import { ARTIFACT } from '../core/artifacts.js';
import type { Table } from '../core/dataset/index.js';
import type { Pool } from '../core/db/index.js';
import { DRIFT_DEFAULTS } from '../core/drift-settings.js';
import { ConfigError, DataError } from '../core/errors.js';
import type { FeatureSchema } from '../core/feature-schema.js';
import { createLogger, type Logger } from '../core/log.js';
import { openObjectStore, type S3SettingsValues } from '../core/object-store/index.js';
import {
  DEFAULT_POLICY,
  decideRun,
  type PastRun,
  type PolicySettings,
  type RunDecision,
} from '../core/policy.js';
import { type LifecycleEventKind, recordEvent } from '../core/registry.js';
import { type Analysis, analyze, type DriftOverride } from './analyze.js';
import { type LoggedWindow, readLogWindow } from './logs.js';
import { buildReport, type DriftReport, reportJson } from './report.js';
import { renderReportHtml } from './report-html.js';
import { type AlertState, alertState, insertRun, runHistory, saveAlertState } from './runs.js';
import {
  loadHoldoutMetrics,
  loadSchema,
  loadTable,
  type ModelArtifacts,
  registeredArtifacts,
  siblingUri,
} from './sources.js';
import type { DriftMethod } from './stats/drift-methods.js';
import { alertPayload, postWebhook } from './webhook.js';

export interface DriftJobOptions {
  /** reference.parquet (file or s3://); found in the registry from model name/version when absent. */
  reference?: string | undefined;
  /** schema.json; defaults to the one beside the reference. */
  schema?: string | undefined;
  /** metrics.json with the holdout metrics; defaults to the one beside the reference. */
  metrics?: string | undefined;
  /** The current data as a file or s3:// URI; when absent, the prediction logs of the model version. */
  current?: string | undefined;
  modelName?: string | undefined;
  modelVersion?: string | undefined;
  /** Log window: [until − window, until), or [since, until). */
  windowMs?: number | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Where report.html and report.json go: a directory or an s3:// prefix. */
  out: string;
  s3?: S3SettingsValues | undefined;
  /** PostgreSQL: needed for prediction logs; when present, runs and alert state are recorded. */
  pool?: Pool | undefined;
  /** What run history and alert state are scoped to (default: model/version, else the reference). */
  monitor?: string | undefined;
  driftShare?: number;
  method?: DriftMethod | undefined;
  threshold?: number | undefined;
  perFeature?: Record<string, DriftOverride>;
  minRows?: number;
  quality?: { metric?: string | undefined; minLabels?: number; tolerance?: number };
  policy?: Partial<PolicySettings>;
  alertWebhook?: string | undefined;
  runId?: string;
  now?: () => Date;
  log?: Logger;
}

export interface DriftJobResult {
  report: DriftReport;
  decision: RunDecision;
  reportHtmlUri: string;
  reportJsonUri: string;
  /** Per-run copies (when runs are recorded in the database). */
  runReportUris: { html: string; json: string } | null;
  alert: { verdict: string; delivered: boolean | null; error: string | null } | null;
}

interface Inputs {
  schema: FeatureSchema;
  holdout: Record<string, number>;
  reference: Table;
  referenceUri: string;
  current: Table;
  currentUri: string;
  window: { since: Date; until: Date } | null;
  logged: LoggedWindow | null;
}

async function resolveArtifacts(o: DriftJobOptions): Promise<ModelArtifacts> {
  if (o.reference) {
    return {
      referenceUri: o.reference,
      schemaUri: o.schema ?? siblingUri(o.reference, ARTIFACT.schema),
      metricsUri: o.metrics ?? siblingUri(o.reference, ARTIFACT.metrics),
      registeredSchemaDigest: undefined,
      task: undefined,
      registryHoldout: undefined,
    };
  }
  if (!o.modelName || !o.modelVersion || !o.pool) {
    throw new ConfigError(
      'give --reference (with --current or model logs), or --model-name and --model-version with a database',
    );
  }
  const found = await registeredArtifacts(o.pool, o.modelName, o.modelVersion);
  return { ...found, schemaUri: o.schema ?? found.schemaUri, metricsUri: o.metrics ?? found.metricsUri };
}

async function registryDigest(o: DriftJobOptions): Promise<string | undefined> {
  if (!o.pool || !o.modelName || !o.modelVersion) return undefined;
  const { rows } = await o.pool.query(
    'SELECT schema_digest FROM model_versions WHERE model_name = $1 AND version = $2',
    [o.modelName, o.modelVersion],
  );
  return rows[0]?.schema_digest ?? undefined;
}

function logWindow(o: DriftJobOptions, now: Date): { since: Date; until: Date } {
  const until = o.until ?? now;
  const since = o.since ?? new Date(until.getTime() - (o.windowMs ?? 24 * 3_600_000));
  if (!(since.getTime() < until.getTime())) {
    throw new ConfigError(
      `the window is empty: since ${since.toISOString()} is not before until ${until.toISOString()}`,
    );
  }
  return { since, until };
}

async function loadInputs(o: DriftJobOptions, now: Date, log: Logger): Promise<Inputs> {
  const artifacts = await resolveArtifacts(o);
  const schema = await loadSchema(artifacts.schemaUri, o.s3);
  const registered = artifacts.registeredSchemaDigest ?? (await registryDigest(o));
  if (registered && registered !== schema.digest) {
    throw new DataError(
      `schema digest mismatch: ${o.modelName}/${o.modelVersion} was registered with ${registered}, but ${artifacts.schemaUri} is ${schema.digest}; the logs and the reference do not describe the same features`,
    );
  }
  const holdout =
    (artifacts.metricsUri ? await loadHoldoutMetrics(artifacts.metricsUri, o.s3) : undefined) ??
    artifacts.registryHoldout ??
    {};
  const reference = await loadTable(artifacts.referenceUri, 'reference', o.s3);
  log.info({ reference: artifacts.referenceUri, rows: reference.numRows }, 'reference loaded');

  if (o.current) {
    const current = await loadTable(o.current, 'current', o.s3);
    return {
      schema,
      holdout,
      reference,
      referenceUri: artifacts.referenceUri,
      current,
      currentUri: o.current,
      window: null,
      logged: null,
    };
  }
  if (!o.pool || !o.modelName || !o.modelVersion) {
    throw new ConfigError(
      'reading prediction logs needs --model-name, --model-version and a database (or pass --current)',
    );
  }
  const window = logWindow(o, now);
  const logged = await readLogWindow(o.pool, schema, {
    modelName: o.modelName,
    modelVersion: o.modelVersion,
    ...window,
  });
  log.info({ rows: logged.table.numRows, ...window }, 'prediction logs loaded');
  return {
    schema,
    holdout,
    reference,
    referenceUri: artifacts.referenceUri,
    current: logged.table,
    currentUri: `postgres:prediction_logs/${o.modelName}/${o.modelVersion}`,
    window,
    logged,
  };
}

function logWarnings(logged: LoggedWindow | null, rows: number): string[] {
  if (!logged || rows === 0) return [];
  const out: string[] = [];
  for (const [name, absent] of Object.entries(logged.absent)) {
    if (absent === rows) out.push(`feature ${name} is missing from every logged record`);
    else if (absent > 0) out.push(`feature ${name} is absent from ${absent} of ${rows} logged records`);
  }
  for (const [name, invalid] of Object.entries(logged.invalid)) {
    if (invalid > 0)
      out.push(`feature ${name}: ${invalid} logged values are not of the schema's type (read as missing)`);
  }
  return out;
}

/**
 * One monitoring run: reads the reference and the current window (a file or the prediction logs),
 * computes drift, prediction drift, quality and the summary, applies the lifecycle policy, writes
 * report.html and report.json, records the run and the alert state, and calls the webhook when the
 * verdict changed. Throws UserError subclasses for bad input; never claims drift on too little data.
 */
export async function runDriftJob(options: DriftJobOptions): Promise<DriftJobResult> {
  const log = options.log ?? createLogger('drift');
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const runId = options.runId ?? randomUUID();
  const inputs = await loadInputs(options, startedAt, log);

  const analysis: Analysis = analyze(inputs.reference, inputs.current, {
    schema: inputs.schema,
    driftShare: options.driftShare ?? DRIFT_DEFAULTS.driftShare,
    method: options.method,
    threshold: options.threshold,
    perFeature: options.perFeature ?? {},
    minRows: options.minRows ?? DRIFT_DEFAULTS.minRows,
    quality: {
      metric: options.quality?.metric,
      minLabels: options.quality?.minLabels ?? DRIFT_DEFAULTS.minLabels,
      tolerance: options.quality?.tolerance ?? DRIFT_DEFAULTS.tolerance,
      holdout: inputs.holdout,
    },
  });
  analysis.warnings.unshift(...logWarnings(inputs.logged, inputs.current.numRows));

  const monitor =
    options.monitor ??
    (options.modelName
      ? `${options.modelName}/${options.modelVersion ?? ''}`
      : `reference:${inputs.referenceUri}`);
  const pool = options.pool;
  const history: PastRun[] = pool ? await runHistory(pool, monitor) : [];
  const state: AlertState | null = pool ? await alertState(pool, monitor) : null;
  const settings: PolicySettings = { ...DEFAULT_POLICY, retrainOnSustainedDrift: false, ...options.policy };
  const decision = decideRun({
    drift: analysis.driftFact,
    quality: analysis.quality.verdict,
    history,
    lastAlertedVerdict: state?.verdict ?? null,
    // The job cannot see the deployment's history; rollback here means "the policy asks for one".
    canRollback: true,
    settings,
  });

  const report = buildReport(
    {
      runId,
      generatedAt: startedAt,
      modelName: options.modelName ?? null,
      modelVersion: options.modelVersion ?? null,
      task: inputs.schema.task,
      schemaDigest: inputs.schema.digest,
      referenceUri: inputs.referenceUri,
      currentUri: inputs.currentUri,
      window: inputs.window,
    },
    analysis,
    decision,
  );

  const store = openObjectStore(options.out, options.s3);
  const json = reportJson(report);
  const html = renderReportHtml(report);
  await store.put('report.json', json, 'application/json');
  await store.put('report.html', html, 'text/html; charset=utf-8');
  let runReportUris: DriftJobResult['runReportUris'] = null;
  if (pool) {
    await store.put(`runs/${runId}/report.json`, json, 'application/json');
    await store.put(`runs/${runId}/report.html`, html, 'text/html; charset=utf-8');
    runReportUris = {
      html: store.uriFor(`runs/${runId}/report.html`),
      json: store.uriFor(`runs/${runId}/report.json`),
    };
  }
  const reportHtmlUri = store.uriFor('report.html');
  const reportJsonUri = store.uriFor('report.json');

  let alert: DriftJobResult['alert'] = null;
  if (pool) {
    await insertRun(pool, {
      monitor,
      startedAt,
      finishedAt: now(),
      report,
      reportHtmlUri: runReportUris?.html ?? reportHtmlUri,
      reportJsonUri: runReportUris?.json ?? reportJsonUri,
    });
    // A changed verdict alerts; an unchanged one whose alert was not delivered is retried.
    const retry = !decision.alert && state?.verdict === decision.verdict && state.delivered === false;
    if (decision.alert || retry) {
      let delivered: boolean | null = null;
      let error: string | null = null;
      let attempts = retry ? (state?.attempts ?? 0) : 0;
      if (options.alertWebhook) {
        const result = await postWebhook(
          options.alertWebhook,
          alertPayload(report, runReportUris?.html ?? reportHtmlUri),
        );
        delivered = result.delivered;
        error = result.error;
        attempts += result.attempts;
        if (!result.delivered)
          log.warn({ error, webhook: 'alert' }, 'alert webhook delivery failed; retried next run');
      }
      await saveAlertState(pool, monitor, {
        verdict: decision.verdict,
        runId,
        delivered,
        attempts,
        lastError: error,
      });
      alert = { verdict: decision.verdict, delivered, error };
    }
    await recordLifecycle(pool, options, report, decision, alert !== null && decision.alert !== null);
  } else if (decision.alert && options.alertWebhook) {
    // Without a database there is no alert state: a file run alerts whenever its verdict is not NoDrift.
    const result = await postWebhook(options.alertWebhook, alertPayload(report, reportHtmlUri));
    alert = { verdict: decision.verdict, delivered: result.delivered, error: result.error };
  }

  log.info(
    {
      run: runId,
      verdict: decision.verdict,
      dataset_drift: report.dataset_drift,
      drift_share: report.drift_share,
      drifted: report.drifted_features,
      quality: report.quality.verdict,
      rows: report.rows,
      report: reportHtmlUri,
    },
    'drift run finished',
  );
  return { report, decision, reportHtmlUri, reportJsonUri, runReportUris, alert };
}

async function recordLifecycle(
  pool: Pool,
  o: DriftJobOptions,
  report: DriftReport,
  decision: RunDecision,
  alerted: boolean,
): Promise<void> {
  if (!o.modelName) return;
  const events: [LifecycleEventKind, Record<string, unknown>][] = [];
  const detail = { run_id: report.run_id, drift_share: report.drift_share, drifted: report.drifted_features };
  if (decision.alert && (decision.verdict === 'Drift' || decision.verdict === 'SustainedDrift')) {
    events.push(['drift_detected', detail]);
  }
  if (decision.alert && decision.verdict === 'QualityDegraded') {
    events.push(['quality_degraded', { run_id: report.run_id, quality: report.quality.reason }]);
  }
  if (alerted && decision.alert) events.push(['alert', { run_id: report.run_id, ...decision.alert }]);
  if (decision.retrain)
    events.push(['retrain_requested', { run_id: report.run_id, reasons: decision.reasons }]);
  for (const [kind, d] of events) await recordEvent(pool, o.modelName, o.modelVersion ?? null, kind, d);
}
