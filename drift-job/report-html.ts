import type { ColumnDrift } from './drift.js';
import type { DriftReport } from './report.js';
import { isPValueMethod } from './stats/drift-methods.js';
import type { ColumnSummary, SideSummary } from './summary.js';

/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no network) that a person
 * reads at a glance: the headline verdicts, the drift table sorted by severity, a reference-vs-
 * current chart per feature, the summary and the quality numbers. Every string that comes from
 * data (feature names, categories, URIs, messages) goes through `esc`.
 */

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function esc(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

function num(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value !== 0 && (Math.abs(value) < 1e-3 || Math.abs(value) >= 1e6)) return value.toExponential(2);
  return Number(value.toFixed(digits)).toString();
}

function pct(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${(value * 100).toFixed(1)}%`;
}

/** How far past its threshold a column is (>1 = drifted), to sort the table by severity. */
function severity(f: ColumnDrift): number {
  if (f.method === null || f.score === null || f.threshold === null) return -1;
  if (isPValueMethod(f.method)) return f.score === 0 ? Number.POSITIVE_INFINITY : f.threshold / f.score;
  return f.threshold === 0 ? Number.POSITIVE_INFINITY : f.score / f.threshold;
}

const CSS = `
:root{--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--muted:#57606a;--ref:#6e7781;--cur:#0969da;--line:#d0d7de}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.meta{color:var(--muted);font-size:12px;word-break:break-all}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:12px;margin-top:16px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 14px}.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:20px;font-weight:600;margin-top:4px}.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line);border-radius:8px;overflow:hidden}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}th{background:#f6f8fa;font-weight:600;font-size:12px}
td.n{text-align:right;font-variant-numeric:tabular-nums}.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.badge.bad{background:#ffebe9}.badge.ok{background:#dafbe1}.badge.warn{background:#fff8c5}
ul.warnings{background:#fff8c5;border:1px solid #d4a72c;border-radius:8px;padding:10px 10px 10px 28px;margin:16px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}.chart{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px}
.chart h3{font-size:13px;margin:0 0 6px;word-break:break-all}.legend{font-size:11px;color:var(--muted)}.sw{display:inline-block;width:10px;height:10px;margin:0 4px 0 8px;vertical-align:middle}
svg text{font:10px system-ui,sans-serif;fill:#57606a}`;

function card(label: string, value: string, cls: string, detail: string): string {
  return `<div class="card"><div class="k">${esc(label)}</div><div class="v ${cls}">${esc(value)}</div><div class="meta">${esc(detail)}</div></div>`;
}

function headline(r: DriftReport): string {
  const q = r.quality;
  const qualityClass = q.verdict === 'Degraded' ? 'bad' : q.verdict === 'Ok' ? 'ok' : 'warn';
  const verdictClass = ['QualityDegraded', 'EstimatedDegraded', 'SustainedDrift', 'Drift'].includes(
    r.verdict.verdict,
  )
    ? 'bad'
    : r.verdict.verdict === 'NoDrift'
      ? 'ok'
      : 'warn';
  const driftValue = r.verdict.insufficient_data
    ? 'Insufficient data'
    : r.dataset_drift
      ? 'Drift detected'
      : 'No drift';
  return `<div class="cards">
${card('Dataset drift', driftValue, r.verdict.insufficient_data ? 'warn' : r.dataset_drift ? 'bad' : 'ok', `${r.drifted_features.length} of ${r.features.filter((f) => f.method).length} features drifted (${pct(r.drift_share)}; threshold ${pct(r.drift_share_threshold)})`)}
${card('Prediction drift', r.prediction_drift.columns.length === 0 ? 'Not available' : r.prediction_drift.drifted ? 'Drift detected' : 'No drift', r.prediction_drift.drifted ? 'bad' : 'ok', r.prediction_drift.columns.map((c) => `${c.name}: ${c.method ?? '—'} ${num(c.score)}`).join('; ') || 'no model outputs in both datasets')}
${card('Quality', q.verdict, qualityClass, `${q.metric} ${num(q.value ?? null)} vs holdout ${num(q.reference ?? null)}; ${q.labelledRows} labelled rows`)}
${estimateCard(r)}
${card('Verdict', r.verdict.verdict, verdictClass, `${r.verdict.consecutive_drifted_runs} drifted run(s) in a row${r.verdict.alert ? `; alert: ${r.verdict.alert.message}` : ''}`)}
</div>`;
}

function driftTable(features: ColumnDrift[], caption: string): string {
  const rows = [...features]
    .sort((a, b) => severity(b) - severity(a) || a.name.localeCompare(b.name))
    .map((f) => {
      const badge =
        f.method === null
          ? '<span class="badge warn">not analysed</span>'
          : f.drifted
            ? '<span class="badge bad">drift</span>'
            : '<span class="badge ok">ok</span>';
      const kind = f.method && isPValueMethod(f.method) ? 'p-value' : 'distance';
      return `<tr><td>${esc(f.name)}</td><td>${esc(f.type)}</td><td>${esc(f.method ?? '—')}</td><td class="n">${num(f.score)}${f.method ? ` <span class="meta">${kind}</span>` : ''}</td><td class="n">${num(f.threshold)}</td><td>${badge}${f.note ? ` <span class="meta">${esc(f.note)}</span>` : ''}</td><td class="n">${f.rows.reference}</td><td class="n">${f.rows.current}</td></tr>`;
    })
    .join('\n');
  return `<table><caption class="meta" style="caption-side:bottom;text-align:left;padding:6px">${esc(caption)}</caption>
<thead><tr><th>Feature</th><th>Type</th><th>Method</th><th>Score</th><th>Threshold</th><th>Drift</th><th>Ref rows</th><th>Cur rows</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

const W = 320;
const H = 130;
const PAD = 22;

function bars(labels: string[], ref: number[], cur: number[]): string {
  const n = Math.max(labels.length, 1);
  const max = Math.max(1e-12, ...ref, ...cur);
  const slot = (W - PAD) / n;
  const bw = Math.max(1, slot / 2 - 1);
  const parts: string[] = [];
  for (let i = 0; i < labels.length; i++) {
    const x = PAD + i * slot;
    const hr = ((H - PAD) * ref[i]!) / max;
    const hc = ((H - PAD) * cur[i]!) / max;
    parts.push(
      `<rect x="${(x).toFixed(1)}" y="${(H - PAD - hr).toFixed(1)}" width="${bw.toFixed(1)}" height="${hr.toFixed(1)}" fill="var(--ref)"><title>${esc(labels[i])} reference ${pct(ref[i])}</title></rect>`,
      `<rect x="${(x + bw + 1).toFixed(1)}" y="${(H - PAD - hc).toFixed(1)}" width="${bw.toFixed(1)}" height="${hc.toFixed(1)}" fill="var(--cur)"><title>${esc(labels[i])} current ${pct(cur[i])}</title></rect>`,
    );
  }
  return parts.join('');
}

function chart(s: ColumnSummary, drift: ColumnDrift | undefined): string {
  let body: string;
  let axis: string;
  if (s.histogram) {
    const h = s.histogram;
    const labels = h.reference.map(
      (_, i) => `${value(h.edges[i], s.type)} – ${value(h.edges[i + 1], s.type)}`,
    );
    body = bars(labels, h.reference, h.current);
    axis = `<text x="${PAD}" y="${H - 6}">${esc(value(h.edges[0]!, s.type))}</text><text x="${W}" y="${H - 6}" text-anchor="end">${esc(value(h.edges[h.edges.length - 1]!, s.type))}</text>`;
  } else {
    const ref = new Map((s.reference.top ?? []).map((t) => [t.value, t.share]));
    const cur = new Map((s.current.top ?? []).map((t) => [t.value, t.share]));
    const labels = [...new Set([...ref.keys(), ...cur.keys()])].slice(0, 12);
    body = bars(
      labels,
      labels.map((l) => ref.get(l) ?? 0),
      labels.map((l) => cur.get(l) ?? 0),
    );
    axis =
      labels.length > 0
        ? `<text x="${PAD}" y="${H - 6}">${esc(labels.slice(0, 4).join(', '))}${labels.length > 4 ? ' …' : ''}</text>`
        : '';
  }
  const status = drift
    ? drift.method === null
      ? 'not analysed'
      : `${drift.method} ${num(drift.score)} ${drift.drifted ? '— drift' : ''}`
    : s.type;
  return `<div class="chart"><h3>${esc(s.name)} <span class="meta">${esc(status)}</span></h3>
<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(`${s.name}: reference vs current`)}"><line x1="${PAD}" y1="${H - PAD}" x2="${W}" y2="${H - PAD}" stroke="#d0d7de"/>${body}${axis}</svg>
<div class="legend"><span class="sw" style="background:var(--ref)"></span>reference<span class="sw" style="background:var(--cur)"></span>current</div></div>`;
}

/** Timestamps are summarised in epoch milliseconds; people read them as UTC times. */
function value(v: number | undefined, type: string): string {
  if (v === undefined) return '—';
  if (type === 'timestamp' && Number.isFinite(v)) return new Date(v).toISOString().replace('.000Z', 'Z');
  return num(v);
}

function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  return ms >= 86_400_000 ? `${num(ms / 86_400_000, 2)} d` : `${num(ms / 3_600_000, 2)} h`;
}

function sideCells(side: SideSummary, type: string): string {
  const n = side.numeric;
  const std = type === 'timestamp' ? duration(n?.std) : n ? num(n.std) : '—';
  return `<td class="n">${side.rows}</td><td class="n">${pct(side.missing_share)}</td><td class="n">${n ? esc(value(n.mean, type)) : '—'}</td><td class="n">${std}</td><td class="n">${n ? esc(value(n.p50, type)) : '—'}</td><td class="n">${side.unique}</td>`;
}

function summaryTable(items: ColumnSummary[]): string {
  const rows = items
    .map((s) => {
      const range = (side: SideSummary) =>
        side.numeric
          ? `${value(side.numeric.min, s.type)} … ${value(side.numeric.max, s.type)}`
          : (side.top
              ?.slice(0, 3)
              .map((t) => `${t.value} ${pct(t.share)}`)
              .join(', ') ?? '—');
      return `<tr><td rowspan="2">${esc(s.name)}</td><td rowspan="2">${esc(s.type)}</td><td>reference</td>${sideCells(s.reference, s.type)}<td>${esc(range(s.reference))}</td><td class="n">—</td></tr>
<tr><td>current</td>${sideCells(s.current, s.type)}<td>${esc(range(s.current))}</td><td class="n">${pct(s.current.unseen_share)}</td></tr>`;
    })
    .join('\n');
  return `<table><thead><tr><th>Column</th><th>Type</th><th>Side</th><th>Rows</th><th>Missing</th><th>Mean</th><th>Std</th><th>Median</th><th>Unique</th><th>Range / top values</th><th>Unseen</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function estimateCard(r: DriftReport): string {
  const e = r.estimate;
  if (!e) return '';
  const m = e.metrics.find((x) => x.metric === e.metric);
  const cls = e.verdict === 'Degraded' ? 'bad' : e.verdict === 'Ok' ? 'ok' : 'warn';
  const detail = m
    ? `estimated ${e.metric} ${num(m.estimated)} (band ${num(m.lowerBand)}–${num(m.upperBand)}); realized ${num(r.quality.metrics[e.metric])} on ${r.quality.labelledRows} labelled rows`
    : e.reason;
  return card('Estimated quality', e.verdict, cls, detail);
}

/** Estimated (all rows, no labels) beside realized (labelled rows) quality, metric by metric. */
function estimateTable(r: DriftReport): string {
  const e = r.estimate;
  if (!e) return '<p class="meta">Estimation is turned off for this run.</p>';
  if (e.metrics.length === 0) return `<p class="meta">${esc(e.reason)}</p>`;
  const rows = e.metrics
    .map((m) => {
      const badge = m.degraded
        ? '<span class="badge bad">below threshold</span>'
        : m.alert
          ? '<span class="badge warn">above threshold</span>'
          : '<span class="badge ok">ok</span>';
      const mark = m.metric === e.metric ? ' <span class="badge warn">verdict metric</span>' : '';
      return `<tr><td>${esc(m.metric)}${mark}</td><td class="n">${num(m.estimated)}</td><td class="n">${num(m.lowerBand)} – ${num(m.upperBand)}</td><td class="n">${num(m.lowerThreshold)} – ${num(m.upperThreshold)}</td><td class="n">${num(r.quality.metrics[m.metric])}</td><td class="n">${num(r.quality.holdout[m.metric])}</td><td>${badge}</td></tr>`;
    })
    .join('');
  return `<p>${esc(e.reason)}. Confidence-based performance estimation (CBPE) from the calibrated probabilities of ${e.rows} rows; it assumes the relation between inputs and outcome did not change — a shift in the outcome rate itself is invisible to it, the labels are not.</p>
<table><thead><tr><th>Metric</th><th>Estimated</th><th>Band (± 3 sampling errors)</th><th>Thresholds (reference chunks of ${e.chunkRows ?? '—'} rows)</th><th>Realized (${r.quality.labelledRows} labelled rows)</th><th>Holdout</th><th>Estimate</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function qualityTable(r: DriftReport): string {
  const q = r.quality;
  const names = [...new Set([...Object.keys(q.metrics), ...Object.keys(q.holdout)])].filter((m) =>
    ['roc_auc', 'accuracy', 'precision', 'recall', 'f1', 'log_loss', 'rmse', 'mae', 'r2'].includes(m),
  );
  if (names.length === 0) return `<p class="meta">${esc(q.reason)}</p>`;
  const rows = names
    .map(
      (m) =>
        `<tr><td>${esc(m)}${m === q.metric ? ' <span class="badge warn">verdict metric</span>' : ''}</td><td class="n">${num(q.metrics[m])}</td><td class="n">${num(q.holdout[m])}</td></tr>`,
    )
    .join('');
  return `<p>${esc(q.reason)}</p><table><thead><tr><th>Metric</th><th>Labelled window (${q.labelledRows} rows)</th><th>Holdout</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export function renderReportHtml(r: DriftReport): string {
  const title = `Drift report${r.model.name ? ` — ${r.model.name}${r.model.version ? ` ${r.model.version}` : ''}` : ''}`;
  const byName = new Map([...r.features, ...r.prediction_drift.columns].map((f) => [f.name, f]));
  const warnings = r.warnings.length
    ? `<ul class="warnings">${r.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`
    : '';
  const excluded = r.excluded_features.length
    ? `<p class="meta">Not tested for drift: ${r.excluded_features.map((e) => `${esc(e.name)} (${esc(e.reason)})`).join('; ')}</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${esc(title)}</h1>
<div class="meta">Run ${esc(r.run_id)} · ${esc(r.generated_at)}${r.window ? ` · window ${esc(r.window.since)} → ${esc(r.window.until)}` : ''} · reference ${esc(r.inputs.reference)} (${r.rows.reference} rows) · current ${esc(r.inputs.current)} (${r.rows.current} rows) · schema ${r.schema.source === 'inferred' ? '<b>inferred from the reference</b> (no schema.json)' : esc(r.schema.uri ?? r.schema.source)}</div>
${headline(r)}
${warnings}
<h2>Drift by feature</h2>
${driftTable(r.features, 'Sorted by how far each score is past its threshold. p-value methods drift below the threshold, distances at or above it.')}
${excluded}
<h2>Prediction drift</h2>
${r.prediction_drift.columns.length ? driftTable(r.prediction_drift.columns, 'The model outputs, reference vs current.') : '<p class="meta">The model outputs are not in both datasets.</p>'}
<h2>Quality on delayed labels</h2>
${qualityTable(r)}
<h2>Estimated quality before labels</h2>
${estimateTable(r)}
<h2>Distributions</h2>
<div class="charts">${[...r.summary.features, ...r.summary.outputs].map((s) => chart(s, byName.get(s.name))).join('\n')}</div>
<h2>Summary</h2>
${summaryTable([...r.summary.features, ...r.summary.outputs])}
<p class="meta">Policy: ${r.verdict.reasons.map(esc).join('; ') || 'nothing to do'}. Generated by mlcycle drift (report schema ${r.schema_version}).</p>
</main></body></html>
`;
}
