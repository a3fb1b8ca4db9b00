import type { RunDecision } from '../core/policy.js';
import type { DriftRunReport } from '../core/resources/drift-monitor.js';
import type { DriftReport } from './report.js';
import { storedDecision } from './runs.js';

/**
 * The DriftMonitor status fields one run reports; core/kube/drift-monitor-status writes them
 * (the operator carries out the decision they hold).
 */
export function monitorStatus(
  report: DriftReport,
  decision: RunDecision,
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
  const estimate = estimateStatus(report);
  return {
    lastRun: {
      id: report.run_id,
      time: new Date().toISOString(),
      ...(jobName ? { jobName } : {}),
      ...(report.model.version ? { modelVersion: report.model.version } : {}),
      verdict: report.verdict.verdict as DriftRunReport['lastRun']['verdict'],
      reportUri,
      message: report.verdict.reasons.join('; ') || `verdict ${report.verdict.verdict}`,
      // The decision the operator carries out, as stored with the run.
      decision: storedDecision(decision),
    },
    datasetDrift: report.dataset_drift,
    // Four digits: what `kubectl get driftmonitors` prints.
    driftShare: Math.round(report.drift_share * 10_000) / 10_000,
    driftedFeatures: report.drifted_features.slice(0, 500),
    predictionDrift: report.prediction_drift.drifted,
    consecutiveDriftedRuns: report.verdict.consecutive_drifted_runs,
    quality,
    ...(estimate ? { estimate } : {}),
    rows: { reference: report.rows.reference, current: report.rows.current },
  };
}

/** Four digits, as `kubectl get driftmonitors` prints them; undefined when not finite. */
function four(v: number | null | undefined): number | undefined {
  return v !== null && v !== undefined && Number.isFinite(v) ? Math.round(v * 10_000) / 10_000 : undefined;
}

function estimateStatus(report: DriftReport): DriftRunReport['estimate'] {
  const e = report.estimate;
  if (!e) return undefined;
  const m = e.metrics.find((x) => x.metric === e.metric);
  const out: NonNullable<DriftRunReport['estimate']> = { verdict: e.verdict, metric: e.metric, rows: e.rows };
  const fields = {
    value: four(m?.estimated),
    lower: four(m?.lowerBand),
    upper: four(m?.upperBand),
    threshold: four(m?.lowerThreshold),
    realized: four(report.quality.metrics[e.metric]),
  };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k as keyof typeof fields] = v;
  return out;
}
