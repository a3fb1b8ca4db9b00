import { errorMessage } from '../core/errors.js';
import type { DriftReport } from './report.js';

export interface WebhookResult {
  delivered: boolean;
  attempts: number;
  error: string | null;
}

/** The alert body: Slack-compatible (`text`), with the facts under `mlcycle` for other receivers. */
export function alertPayload(report: DriftReport, reportUri: string | null): Record<string, unknown> {
  const model = report.model.name
    ? `${report.model.name}${report.model.version ? ` ${report.model.version}` : ''}`
    : 'model';
  const alert = report.verdict.alert;
  const drifted = report.drifted_features.length
    ? ` Drifted: ${report.drifted_features.slice(0, 10).join(', ')}.`
    : '';
  const quality =
    report.quality.verdict === 'Degraded' || report.quality.verdict === 'Ok'
      ? ` Quality ${report.quality.verdict.toLowerCase()}: ${report.quality.metric} ${report.quality.value?.toFixed(4)} vs holdout ${report.quality.reference?.toFixed(4)} on ${report.quality.labelledRows} labels.`
      : '';
  const e = report.estimate;
  const chosen = e?.metrics.find((m) => m.metric === e.metric);
  const estimate =
    e && chosen && (e.verdict === 'Degraded' || e.verdict === 'Ok')
      ? ` Estimated before labels: ${e.metric} ${chosen.estimated.toFixed(4)} (band ${chosen.lowerBand.toFixed(4)}–${chosen.upperBand.toFixed(4)}, threshold ${chosen.lowerThreshold?.toFixed(4) ?? 'none'}).`
      : '';
  const text = `mlcycle drift: ${model}: ${alert ? alert.message : report.verdict.verdict}. Drift share ${(report.drift_share * 100).toFixed(0)}% (${report.rows.current} rows).${drifted}${quality}${estimate}${reportUri ? ` Report: ${reportUri}` : ''}`;
  return {
    text,
    mlcycle: {
      run_id: report.run_id,
      model: report.model,
      verdict: report.verdict.verdict,
      previous_verdict: alert?.from ?? null,
      dataset_drift: report.dataset_drift,
      drift_share: report.drift_share,
      drifted_features: report.drifted_features,
      prediction_drift: report.prediction_drift.drifted,
      quality: {
        verdict: report.quality.verdict,
        metric: report.quality.metric,
        value: report.quality.value ?? null,
        reference: report.quality.reference ?? null,
        labelled_rows: report.quality.labelledRows,
      },
      estimate: e
        ? {
            verdict: e.verdict,
            metric: e.metric,
            value: chosen?.estimated ?? null,
            lower: chosen?.lowerBand ?? null,
            upper: chosen?.upperBand ?? null,
            threshold: chosen?.lowerThreshold ?? null,
          }
        : null,
      rows: report.rows,
      report: reportUri,
    },
  };
}

/**
 * POSTs the alert; retries transient failures (network, 5xx, 429) a few times with backoff.
 * With `idempotencyKey`, every attempt carries it as the `Idempotency-Key` header.
 */
export async function postWebhook(
  url: string,
  payload: Record<string, unknown>,
  options: { attempts?: number; timeoutMs?: number; backoffMs?: number; idempotencyKey?: string } = {},
): Promise<WebhookResult> {
  const maxAttempts = options.attempts ?? 3;
  let error: string | null = null;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        // The same key on every attempt of one alert, across runs: a receiver drops repeats.
        headers: {
          'content-type': 'application/json',
          ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
        },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { delivered: true, attempts: attempt, error: null };
      error = `HTTP ${response.status}`;
      if (response.status < 500 && response.status !== 429)
        return { delivered: false, attempts: attempt, error };
    } catch (err) {
      error = errorMessage(err);
    }
    if (attempt < maxAttempts)
      await new Promise((r) => setTimeout(r, (options.backoffMs ?? 500) * 2 ** (attempt - 1)));
  }
  return { delivered: false, attempts: maxAttempts, error };
}
