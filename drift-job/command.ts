import { defineCommand } from '../core/command.js';
import { type Database, databaseSettings, openDatabase, poolTimeouts, poolTls } from '../core/db/index.js';
import { driftSettings } from '../core/drift-settings.js';
import { ConfigError } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { s3Settings } from '../core/object-store/index.js';
import type { DriftOverride } from './analyze.js';
import { type DriftJobResult, runDriftJob } from './job.js';
import { monitorStatus } from './monitor-status.js';

const settings = {
  ...driftSettings,
  ...databaseSettings,
  ...s3Settings,
};

export const driftCommand = defineCommand({
  name: 'drift',
  summary: 'drift, prediction drift and quality of a window against the reference; HTML/JSON report, alerts',
  description: [
    'Compares the current data (a file, or the prediction logs of a model version in a time window,',
    'joined with the labels from /feedback) with the model version reference sample. Statistics and',
    "defaults follow Evidently 0.7's DataDriftPreset. Writes report.html and report.json to --out;",
    'with a database, records the run in drift_runs, keeps the alert state and calls --alert-webhook',
    'when the verdict changes. Prints a JSON summary on stdout.',
    '',
    'Exit codes (for CronJobs): 0 the run completed, whatever the verdict (drift, degraded quality',
    'and insufficient data are results, read them from the report, drift_runs or the DriftMonitor',
    'status); 2 invalid settings; 3 unusable input data (unreadable, schema mismatch); 4 the',
    'DriftMonitor of --drift-monitor does not exist or may not be written (403/404); 1 anything else',
    '(database or object store unreachable, bugs).',
  ].join('\n'),
  settings,
  run: async (v) => {
    if (v.window !== undefined && v.since !== undefined)
      throw new ConfigError('give --window or --since, not both');
    const needsDatabase = !v.current || !v.reference || v.databaseUrl !== undefined;
    let db: Database | undefined;
    try {
      if (needsDatabase)
        db = await openDatabase({
          databaseUrl: v.databaseUrl,
          dataDir: v.dataDir,
          applicationName: 'mlcycle-drift',
          timeouts: poolTimeouts(v),
          tls: poolTls(v),
        });
      const log = createLogger('drift');
      const result = await runDriftJob({
        reference: v.reference,
        schema: v.schema,
        metrics: v.metrics,
        current: v.current,
        modelName: v.modelName,
        modelVersion: v.modelVersion,
        windowMs: v.window,
        since: v.since,
        until: v.until,
        out: v.out,
        s3: v,
        pool: db?.pool,
        namespace: v.namespace,
        monitor: v.driftMonitor,
        driftShare: v.driftShare,
        method: v.method,
        threshold: v.threshold,
        perFeature: (v.perFeature ?? {}) as Record<string, DriftOverride>,
        minRows: v.minRows,
        quality: { metric: v.qualityMetric, minLabels: v.minLabels, tolerance: v.qualityTolerance },
        policy: {
          sustainedDriftRuns: v.sustainedRuns,
          retrainOnSustainedDrift: v.retrainOnSustainedDrift,
          rollbackOnQualityDegraded: v.rollbackOnQualityDegraded,
          rollbackOnSustainedDrift: v.rollbackOnSustainedDrift,
          retrainCooldownMs: v.retrainCooldown,
          retrainMaxPerDay: v.retrainMaxPerDay,
          retrainOnEstimatedDegraded: v.retrainOnEstimatedDegraded,
          rollbackOnEstimatedDegraded: v.rollbackOnEstimatedDegraded,
          holdPromotionOnEstimatedDegraded: v.holdPromotionOnEstimatedDegraded,
        },
        estimate: { enabled: v.estimate, metric: v.estimateMetric },
        challengerVersion: v.challengerVersion,
        logSpillUri: v.logSpillUri,
        promotion: { metric: v.promotionMetric, margin: v.promotionMargin, minLabels: v.promotionMinLabels },
        alertWebhook: v.alertWebhook,
        alertAllowLinkLocal: v.alertAllowLinkLocal,
        ...(v.runId ? { runId: v.runId } : {}),
        jobName: process.env.MLCYCLE_JOB_NAME,
        log,
      });
      if (v.driftMonitor) await publishRun(v.driftMonitor, result);
      const r = result.report;
      process.stdout.write(
        `${JSON.stringify({
          run_id: r.run_id,
          verdict: r.verdict.verdict,
          dataset_drift: r.dataset_drift,
          drift_share: r.drift_share,
          drifted_features: r.drifted_features,
          prediction_drift: r.prediction_drift.drifted,
          quality: r.quality.verdict,
          estimate: r.estimate
            ? { verdict: r.estimate.verdict, metric: r.estimate.metric, value: estimatedValue(r.estimate) }
            : null,
          rows: r.rows,
          alert: result.alert,
          report_html: result.reportHtmlUri,
          report_json: result.reportJsonUri,
        })}\n`,
      );
      return 0;
    } finally {
      await db?.close();
    }
  },
});

function estimatedValue(e: NonNullable<DriftJobResult['report']['estimate']>): number | null {
  const v = e.metrics.find((m) => m.metric === e.metric)?.estimated;
  return v !== undefined && Number.isFinite(v) ? v : null;
}

/**
 * Writes the run into the DriftMonitor's status. A failure fails the run (exit 4 when the monitor
 * is gone or the service account may not write it): the operator acts on the status only, and a
 * retried Pod of the same Job is the same run, recorded and alerted once.
 */
async function publishRun(monitor: string, result: DriftJobResult): Promise<void> {
  // Loaded only when a DriftMonitor is named: file and demo runs never pay for the Kubernetes client.
  const { KubeClient, loadKubeConfig } = await import('../core/kube/client.js');
  const { parseDriftMonitorRef, writeDriftMonitorStatus } = await import(
    '../core/kube/drift-monitor-status.js'
  );
  const reportUri = result.runReportUris?.html ?? result.reportHtmlUri;
  await writeDriftMonitorStatus(
    new KubeClient(loadKubeConfig()),
    parseDriftMonitorRef(monitor),
    monitorStatus(result.report, result.decision, reportUri, process.env.MLCYCLE_JOB_NAME),
  );
}
