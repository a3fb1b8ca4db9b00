import { randomUUID } from 'node:crypto';
import { ARTIFACT } from '../core/artifacts.js';
import type { Table } from '../core/dataset/index.js';
import type { Pool } from '../core/db/index.js';
import { DRIFT_DEFAULTS } from '../core/drift-settings.js';
import { ConfigError, DataError } from '../core/errors.js';
import type { FeatureSchema } from '../core/feature-schema.js';
import { createLogger, type Logger } from '../core/log.js';
import { ObjectNotFoundError, openObjectStore, type S3SettingsValues } from '../core/object-store/index.js';
import {
  DEFAULT_POLICY,
  decideRun,
  type EstimateVerdict,
  type PastRun,
  type PolicySettings,
  type PromotionEvidence,
  type RunDecision,
} from '../core/policy.js';
import { type LoggedWindow, readLogWindow } from '../core/prediction-log.js';
import { importSpilledRows } from '../core/prediction-log-spill.js';
import { getVersion, type LifecycleEventKind, recordEvent } from '../core/registry.js';
import { DEFAULT_NAMESPACE } from '../core/tenant.js';
import { type Analysis, analyze, type DriftOverride } from './analyze.js';
import { estimatePerformance } from './estimate.js';
import { inferSchema } from './infer-schema.js';
import { measurePromotion } from './promotion.js';
import { buildReport, type DriftReport, reportJson, type SchemaSource } from './report.js';
import { renderReportHtml } from './report-html.js';
import { lastAlert, markAlert, type Recorded, recordRun, runHistory, type StoredAlert } from './runs.js';
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
  /**
   * The tenant (core/tenant.ts) whose registry, prediction log, labels and runs are read and
   * written: never another's. Default `default`.
   */
  namespace?: string | undefined;
  /** What run history and alert state are scoped to (default: model/version, else the reference). */
  monitor?: string | undefined;
  driftShare?: number;
  method?: DriftMethod | undefined;
  threshold?: number | undefined;
  perFeature?: Record<string, DriftOverride>;
  minRows?: number;
  quality?: { metric?: string | undefined; minLabels?: number; tolerance?: number };
  /** Estimated quality before labels (CBPE): on by default, on the quality metric. */
  estimate?: { enabled?: boolean; metric?: string | undefined };
  policy?: Partial<PolicySettings>;
  /**
   * The deployment's prediction log spill location: rows its servers left in the object store
   * when they stopped are imported before the window is read (when no server is running, no
   * one else would).
   */
  logSpillUri?: string | undefined;
  /** Registry version of a challenger serving beside `modelVersion`: compared on the same requests. */
  challengerVersion?: string | undefined;
  promotion?: { metric?: string | undefined; margin?: number; minLabels?: number };
  alertWebhook?: string | undefined;
  /** Also send alerts to link-local and cloud metadata addresses (drift-job/webhook.ts). */
  alertAllowLinkLocal?: boolean | undefined;
  /** The run id; a second attempt with the same id is the same run (in a Job: the Job name). */
  runId?: string;
  /** The Job that runs it (recorded with the run). */
  jobName?: string | undefined;
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
  /** What the run monitored (run history and alerts are scoped to it). */
  monitor: string;
  /** The alert this run raised or re-sent (null: none was due). */
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
  /** Where the schema came from; `inferred` when it was read off the reference. */
  schemaSource: SchemaSource;
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
  const found = await registeredArtifacts(o.pool, namespaceOf(o), o.modelName, o.modelVersion);
  return { ...found, schemaUri: o.schema ?? found.schemaUri, metricsUri: o.metrics ?? found.metricsUri };
}

async function registryDigest(o: DriftJobOptions): Promise<string | undefined> {
  if (!o.pool || !o.modelName || !o.modelVersion) return undefined;
  return (await getVersion(o.pool, namespaceOf(o), o.modelName, o.modelVersion))?.schemaDigest ?? undefined;
}

function namespaceOf(o: DriftJobOptions): string {
  return o.namespace ?? DEFAULT_NAMESPACE;
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

/** A read that failed because the file or object is not there (not because it is unreadable). */
function notFound(err: unknown): boolean {
  const cause = err instanceof Error ? err.cause : undefined;
  return (
    cause instanceof ObjectNotFoundError || (cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
  );
}

/**
 * The schema: the one given, the registry's, or the one beside the reference — and for a plain
 * reference file with none beside it, one inferred from the reference (the report says so).
 */
async function schemaFor(
  o: DriftJobOptions,
  schemaUri: string,
  reference: Table,
): Promise<{ schema: FeatureSchema; inferred: string[] | null }> {
  try {
    return { schema: await loadSchema(schemaUri, o.s3), inferred: null };
  } catch (err) {
    if (!(o.reference && !o.schema && notFound(err))) throw err;
    const { schema, notes } = inferSchema(reference);
    return { schema, inferred: notes };
  }
}

async function loadInputs(o: DriftJobOptions, now: Date, log: Logger): Promise<Inputs> {
  const artifacts = await resolveArtifacts(o);
  const reference = await loadTable(artifacts.referenceUri, 'reference', o.s3);
  log.info({ reference: artifacts.referenceUri, rows: reference.numRows }, 'reference loaded');
  const { schema, inferred } = await schemaFor(o, artifacts.schemaUri, reference);
  if (inferred) log.info({ schema: schema.digest }, inferred[0]!);
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
  const schemaSource: Inputs['schemaSource'] = inferred
    ? { source: 'inferred', uri: null, notes: inferred }
    : { source: o.reference ? 'file' : 'registry', uri: artifacts.schemaUri, notes: [] };

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
      schemaSource,
    };
  }
  if (!o.pool || !o.modelName || !o.modelVersion) {
    throw new ConfigError(
      'reading prediction logs needs --model-name, --model-version and a database (or pass --current)',
    );
  }
  if (o.logSpillUri) await importSpill(o.logSpillUri, o.pool, namespaceOf(o), o.s3, log);
  const window = logWindow(o, now);
  const logged = await readLogWindow(o.pool, schema, {
    namespace: namespaceOf(o),
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
    currentUri: `postgres:prediction_logs/${namespaceOf(o)}/${o.modelName}/${o.modelVersion}`,
    window,
    logged,
    schemaSource,
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
 * One monitoring run, in stages: read (the reference and the current window: a file or the
 * prediction logs) → analyse (drift, prediction drift, quality, summaries) → decide (the lifecycle
 * policy on the stored runs, with the promotion evidence when a challenger runs) → report
 * (report.html and report.json) → record (the run and its decision, and the alert as an intent)
 * → alert (the webhook, exactly once per verdict change). Throws UserError subclasses for bad
 * input; never claims drift on too little data.
 */
async function importSpill(
  location: string,
  pool: Pool,
  namespace: string,
  s3: S3SettingsValues | undefined,
  log: Logger,
) {
  const done = await importSpilledRows(openObjectStore(location, s3), pool, namespace);
  if (done.objects > 0)
    log.info({ location, ...done }, 'imported prediction log rows servers left in the object store');
}

export async function runDriftJob(options: DriftJobOptions): Promise<DriftJobResult> {
  const run = startRun(options);
  const inputs = await readInputs(options, run);
  const analysis = analyseInputs(options, inputs);
  const decision = await decide(options, run, inputs, analysis);
  const reports = await writeReports(options, run, inputs, analysis, decision);
  const recorded = await record(options, run, reports, decision);
  const alert = await sendAlert(options, run, reports, decision, recorded);
  logFinished(run, reports, decision);
  return { ...reports, decision, alert };
}

/** What every stage knows of the run. */
interface RunContext {
  id: string;
  startedAt: Date;
  now: () => Date;
  log: Logger;
}

function startRun(o: DriftJobOptions): RunContext {
  const now = o.now ?? (() => new Date());
  return { id: o.runId ?? randomUUID(), startedAt: now(), now, log: o.log ?? createLogger('drift') };
}

/** read: the reference, the schema, the holdout metrics and the current window. */
function readInputs(o: DriftJobOptions, run: RunContext): Promise<Inputs> {
  return loadInputs(o, run.startedAt, run.log);
}

/** analyse: the statistics of the window against the reference. */
function analyseInputs(o: DriftJobOptions, inputs: Inputs): Analysis {
  const analysis = analyze(inputs.reference, inputs.current, {
    schema: inputs.schema,
    driftShare: o.driftShare ?? DRIFT_DEFAULTS.driftShare,
    method: o.method,
    threshold: o.threshold,
    perFeature: o.perFeature ?? {},
    minRows: o.minRows ?? DRIFT_DEFAULTS.minRows,
    quality: {
      metric: o.quality?.metric,
      minLabels: o.quality?.minLabels ?? DRIFT_DEFAULTS.minLabels,
      tolerance: o.quality?.tolerance ?? DRIFT_DEFAULTS.tolerance,
      holdout: inputs.holdout,
    },
    estimate: o.estimate?.enabled === false ? false : { metric: o.estimate?.metric },
  });
  analysis.warnings.unshift(
    ...inputs.schemaSource.notes,
    ...logWarnings(inputs.logged, inputs.current.numRows),
  );
  return analysis;
}

/** What run history and alerts are scoped to: the DriftMonitor, else the model version or the reference. */
function monitorOf(o: DriftJobOptions, inputs: Inputs): string {
  if (o.monitor) return o.monitor;
  return o.modelName ? `${o.modelName}/${o.modelVersion ?? ''}` : `reference:${inputs.referenceUri}`;
}

/**
 * decide: the lifecycle policy, evaluated here and nowhere else, on the stored runs of the
 * monitor (a retried run leaves itself out, so it decides as its first attempt did).
 */
async function decide(
  o: DriftJobOptions,
  run: RunContext,
  inputs: Inputs,
  analysis: Analysis,
): Promise<RunDecision> {
  const monitor = monitorOf(o, inputs);
  // Far enough back for both guardrails: the 24 hours of the daily cap and the cooldown.
  const cooldown = o.policy?.retrainCooldownMs ?? DEFAULT_POLICY.retrainCooldownMs;
  const retrainsSince = new Date(run.startedAt.getTime() - Math.max(86_400_000, cooldown));
  const ns = namespaceOf(o);
  const history: PastRun[] = o.pool ? await runHistory(o.pool, ns, monitor, run.id, { retrainsSince }) : [];
  const alerted = o.pool ? await lastAlert(o.pool, ns, monitor, run.id) : null;
  const promotion = await promotionEvidence(o, inputs);
  return decideRun({
    drift: analysis.driftFact,
    quality: analysis.quality.verdict,
    ...(analysis.estimate ? { estimate: analysis.estimate.verdict } : {}),
    history,
    lastAlertedVerdict: alerted?.verdict ?? null,
    // The job cannot see the deployment's history; rollback here means "the policy asks for
    // one". The operator checks a target exists before it rolls back.
    canRollback: true,
    settings: { ...DEFAULT_POLICY, retrainOnSustainedDrift: false, ...o.policy },
    now: run.startedAt,
    ...(promotion ? { promotion } : {}),
  });
}

/** Champion against challenger on the window's shared labelled requests, when a challenger runs. */
async function promotionEvidence(o: DriftJobOptions, inputs: Inputs): Promise<PromotionEvidence | undefined> {
  if (!o.pool || !o.challengerVersion || !o.modelName || !o.modelVersion || !inputs.window) return undefined;
  const evidence = await measurePromotion(o.pool, {
    namespace: namespaceOf(o),
    modelName: o.modelName,
    champion: o.modelVersion,
    challenger: o.challengerVersion,
    window: inputs.window,
    task: inputs.schema.task,
    threshold: inputs.holdout.threshold,
    metric: o.promotion?.metric,
    margin: o.promotion?.margin ?? 0,
    minLabels: o.promotion?.minLabels ?? DRIFT_DEFAULTS.promotionMinLabels,
  });
  // Only asked for when a degraded estimate may hold the promotion (it reads the challenger's window).
  if (!o.policy?.holdPromotionOnEstimatedDegraded) return evidence;
  return { ...evidence, challengerEstimate: await challengerEstimate(o, o.pool, inputs.window) };
}

/**
 * The challenger's own estimated quality on the window: CBPE on the probabilities it logged,
 * fitted on its registered reference. NotEvaluated when the registry has no reference for it.
 */
async function challengerEstimate(
  o: DriftJobOptions,
  pool: Pool,
  window: { since: Date; until: Date },
): Promise<EstimateVerdict> {
  const modelName = o.modelName as string;
  const version = o.challengerVersion as string;
  let artifacts: ModelArtifacts;
  try {
    artifacts = await registeredArtifacts(pool, namespaceOf(o), modelName, version);
  } catch (err) {
    if (err instanceof DataError) return 'NotEvaluated';
    throw err;
  }
  const schema = await loadSchema(artifacts.schemaUri, o.s3);
  const reference = await loadTable(artifacts.referenceUri, 'challenger reference', o.s3);
  const logged = await readLogWindow(pool, schema, {
    namespace: namespaceOf(o),
    modelName,
    modelVersion: version,
    ...window,
  });
  return estimatePerformance(reference, logged.table, {
    schema,
    metric: o.estimate?.metric ?? o.quality?.metric,
    minRows: o.minRows ?? DRIFT_DEFAULTS.minRows,
  }).verdict;
}

interface Reports {
  report: DriftReport;
  reportHtmlUri: string;
  reportJsonUri: string;
  /** Per-run copies (when runs are recorded in the database). */
  runReportUris: { html: string; json: string } | null;
  monitor: string;
}

/** report: report.json and report.html, the latest and (with a database) a copy per run. */
async function writeReports(
  o: DriftJobOptions,
  run: RunContext,
  inputs: Inputs,
  analysis: Analysis,
  decision: RunDecision,
): Promise<Reports> {
  const report = buildReport(
    {
      runId: run.id,
      generatedAt: run.startedAt,
      modelName: o.modelName ?? null,
      modelVersion: o.modelVersion ?? null,
      task: inputs.schema.task,
      schemaDigest: inputs.schema.digest,
      referenceUri: inputs.referenceUri,
      currentUri: inputs.currentUri,
      window: inputs.window,
      schema: inputs.schemaSource,
    },
    analysis,
    decision,
  );
  const store = openObjectStore(o.out, o.s3);
  const json = reportJson(report);
  const html = renderReportHtml(report);
  await store.put('report.json', json, 'application/json');
  await store.put('report.html', html, 'text/html; charset=utf-8');
  let runReportUris: Reports['runReportUris'] = null;
  if (o.pool) {
    await store.put(`runs/${run.id}/report.json`, json, 'application/json');
    await store.put(`runs/${run.id}/report.html`, html, 'text/html; charset=utf-8');
    runReportUris = {
      html: store.uriFor(`runs/${run.id}/report.html`),
      json: store.uriFor(`runs/${run.id}/report.json`),
    };
  }
  return {
    report,
    reportHtmlUri: store.uriFor('report.html'),
    reportJsonUri: store.uriFor('report.json'),
    runReportUris,
    monitor: monitorOf(o, inputs),
  };
}

/**
 * record: the run, its decision and — when its verdict changed — its alert as an intent, before
 * anything is sent. Lifecycle events go to the registry on the first attempt only.
 */
async function record(
  o: DriftJobOptions,
  run: RunContext,
  r: Reports,
  decision: RunDecision,
): Promise<Recorded | null> {
  if (!o.pool) return null;
  const reportUri = r.runReportUris?.html ?? r.reportHtmlUri;
  const recorded = await recordRun(o.pool, {
    namespace: namespaceOf(o),
    monitor: r.monitor,
    jobName: o.jobName ?? null,
    startedAt: run.startedAt,
    finishedAt: run.now(),
    report: r.report,
    decision,
    reportHtmlUri: reportUri,
    reportJsonUri: r.runReportUris?.json ?? r.reportJsonUri,
    alert: decision.alert
      ? {
          status: o.alertWebhook ? 'pending' : 'recorded',
          key: `${r.monitor}/${run.id}`,
          payload: alertPayload(r.report, reportUri),
        }
      : null,
  });
  if (recorded.inserted) await recordLifecycle(o.pool, o, r.report, decision);
  return recorded;
}

/**
 * alert: sends the alert that is due, once: this run's (also when a retried attempt finds it
 * still pending), or an earlier run's undelivered alert of the same verdict. Every attempt of one
 * alert carries the same payload and the same Idempotency-Key.
 */
async function sendAlert(
  o: DriftJobOptions,
  run: RunContext,
  r: Reports,
  decision: RunDecision,
  recorded: Recorded | null,
): Promise<DriftJobResult['alert']> {
  if (!o.pool || !recorded) return sendFileRunAlert(o, r, decision);
  const due = await dueAlert(o.pool, namespaceOf(o), r.monitor, run.id, decision, recorded.alert);
  if (!due) {
    const own = recorded.alert;
    return own
      ? { verdict: own.verdict, delivered: own.status === 'delivered' ? true : null, error: null }
      : null;
  }
  if (!o.alertWebhook || !due.payload) return { verdict: due.verdict, delivered: null, error: null };
  const result = await postWebhook(o.alertWebhook, due.payload, {
    idempotencyKey: due.key,
    allowLinkLocal: o.alertAllowLinkLocal === true,
  });
  await markAlert(o.pool, namespaceOf(o), due.runId, result);
  if (!result.delivered)
    run.log.warn(
      { error: result.error, webhook: 'alert' },
      'alert webhook delivery failed; retried next run',
    );
  return { verdict: due.verdict, delivered: result.delivered, error: result.error };
}

async function dueAlert(
  pool: Pool,
  namespace: string,
  monitor: string,
  runId: string,
  decision: RunDecision,
  own: StoredAlert | null,
): Promise<StoredAlert | null> {
  const undelivered = (a: StoredAlert | null) => a && (a.status === 'pending' || a.status === 'failed');
  if (own) return undelivered(own) ? own : null;
  const earlier = await lastAlert(pool, namespace, monitor, runId);
  return earlier && earlier.verdict === decision.verdict && undelivered(earlier) ? earlier : null;
}

/** Without a database there is no alert state: a file run alerts whenever its verdict changed from NoDrift. */
async function sendFileRunAlert(
  o: DriftJobOptions,
  r: Reports,
  decision: RunDecision,
): Promise<DriftJobResult['alert']> {
  if (!decision.alert || !o.alertWebhook) return null;
  const result = await postWebhook(o.alertWebhook, alertPayload(r.report, r.reportHtmlUri), {
    allowLinkLocal: o.alertAllowLinkLocal === true,
  });
  return { verdict: decision.verdict, delivered: result.delivered, error: result.error };
}

function logFinished(run: RunContext, r: Reports, decision: RunDecision): void {
  run.log.info(
    {
      run: run.id,
      verdict: decision.verdict,
      dataset_drift: r.report.dataset_drift,
      drift_share: r.report.drift_share,
      drifted: r.report.drifted_features,
      quality: r.report.quality.verdict,
      estimate: r.report.estimate?.verdict ?? null,
      rows: r.report.rows,
      report: r.reportHtmlUri,
    },
    'drift run finished',
  );
}

async function recordLifecycle(
  pool: Pool,
  o: DriftJobOptions,
  report: DriftReport,
  decision: RunDecision,
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
  if (decision.alert) events.push(['alert', { run_id: report.run_id, ...decision.alert }]);
  if (decision.retrain)
    events.push(['retrain_requested', { run_id: report.run_id, reasons: decision.reasons }]);
  for (const [kind, d] of events) {
    await recordEvent(pool, namespaceOf(o), o.modelName, o.modelVersion ?? null, kind, d);
  }
}
