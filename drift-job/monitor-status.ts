import type { DriftRunReport } from '../core/resources/drift-monitor.js';
import type { DriftReport } from './report.js';

/** The DriftMonitor status fields one run reports (the operator reads them and applies the policy). */
export function monitorStatus(
  report: DriftReport,
  reportUri: string,
  jobName: string | undefined,
): DriftRunReport {
  const q = report.quality;
  const quality: NonNullable<DriftRunReport['quality']> = {
    verdict: q.verdict,
    metric: q.metric,
    labelledRows: q.labelledRows,
  };
  if (q.value !== undefined && Number.isFinite(q.value)) quality.value = q.value;
  if (q.reference !== undefined && Number.isFinite(q.reference)) quality.reference = q.reference;
  return {
    lastRun: {
      id: report.run_id,
      time: new Date().toISOString(),
      ...(jobName ? { jobName } : {}),
      ...(report.model.version ? { modelVersion: report.model.version } : {}),
      verdict: report.verdict.verdict as DriftRunReport['lastRun']['verdict'],
      reportUri,
      message: report.verdict.reasons.join('; ') || `verdict ${report.verdict.verdict}`,
    },
    datasetDrift: report.dataset_drift,
    driftShare: report.drift_share,
    driftedFeatures: report.drifted_features.slice(0, 500),
    predictionDrift: report.prediction_drift.drifted,
    consecutiveDriftedRuns: report.verdict.consecutive_drifted_runs,
    quality,
    rows: { reference: report.rows.reference, current: report.rows.current },
  };
}

/** Merge-patches the run's facts into `namespace/name`'s status subresource. */
export async function writeMonitorStatus(monitor: string, status: DriftRunReport): Promise<void> {
  const match = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(monitor);
  if (!match) throw new Error(`--drift-monitor ${JSON.stringify(monitor)}: expected namespace/name`);
  // Loaded only when a DriftMonitor is named: file and demo runs never pay for the Kubernetes client.
  const { KubeClient, loadKubeConfig } = await import('../core/kube/client.js');
  const client = new KubeClient(loadKubeConfig());
  await client.request(
    'PATCH',
    `/apis/mlcycle.dev/v1alpha1/namespaces/${match[1]}/driftmonitors/${match[2]}/status`,
    {
      body: { status },
      contentType: 'application/merge-patch+json',
    },
  );
}
