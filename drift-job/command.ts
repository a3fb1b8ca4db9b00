import { defineCommand } from '../core/command.js';
import { type Database, databaseSettings, openDatabase } from '../core/db/index.js';
import { driftSettings } from '../core/drift-settings.js';
import { ConfigError, errorMessage } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import { s3Settings } from '../core/object-store/index.js';
import type { DriftOverride } from './analyze.js';
import { runDriftJob } from './job.js';
import { monitorStatus, writeMonitorStatus } from './monitor-status.js';

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
    'status); 2 invalid settings; 3 unusable input data (unreadable, schema mismatch); 1 anything else',
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
        },
        alertWebhook: v.alertWebhook,
        ...(v.runId ? { runId: v.runId } : {}),
        log,
      });
      if (v.driftMonitor) {
        try {
          await writeMonitorStatus(
            v.driftMonitor,
            monitorStatus(
              result.report,
              result.runReportUris?.html ?? result.reportHtmlUri,
              process.env.MLCYCLE_JOB_NAME,
            ),
          );
        } catch (err) {
          // The run and its report stand; the operator also reads drift_runs.
          log.error(
            { err: errorMessage(err), monitor: v.driftMonitor },
            'could not write the DriftMonitor status',
          );
        }
      }
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
