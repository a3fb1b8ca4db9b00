import type { FeatureSchema } from '../core/feature-schema.js';
import type { Curves } from '../core/metrics.js';
import type { Metrics } from './metrics-document.js';
import type { Trial } from './tuning.js';

/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no network) a person can
 * read at a glance. Every string that comes from data or settings is escaped.
 */
export function renderReport(input: {
  metrics: Metrics;
  trials: Trial[];
  curves?: Curves | undefined;
  datasetUri: string;
  schema: FeatureSchema;
}): string {
  const { metrics } = input;
  const classification = metrics.task === 'binary-classification';
  const sections = [
    headline(metrics, input.datasetUri),
    metricsTable(metrics),
    classification && input.curves
      ? `<section><h2>Holdout curves</h2><div class="row">${lineChart('ROC curve', 'false positive rate', 'true positive rate', input.curves.roc, true)}${lineChart('Precision–recall curve', 'recall', 'precision', input.curves.pr, false)}</div></section>`
      : '',
    classification && metrics.calibration ? calibrationChart(metrics) : '',
    importanceChart(metrics),
    trialsSection(input.trials),
    schemaTable(input.schema),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(`${metrics.model_name} ${metrics.version} — training report`)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#1b1f24;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}.row{display:flex;flex-wrap:wrap;gap:24px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}.pass{background:#1a7f37}.fail{background:#cf222e}
.muted{color:#57606a}svg text{font:11px system-ui,sans-serif;fill:#333}
</style></head><body>
${sections.join('\n')}
</body></html>
`;
}

export function esc(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function num(x: number | undefined, digits = 4): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  return Number.isInteger(x) && Math.abs(x) >= 1 ? String(x) : x.toFixed(digits);
}

function headline(m: Metrics, dataset: string): string {
  const key = m.task === 'binary-classification' ? 'roc_auc' : 'rmse';
  const checks = m.gate.checks
    .map(
      (c) =>
        `<tr><td>${esc(c.name)}</td><td><span class="badge ${c.passed ? 'pass' : 'fail'}">${c.passed ? 'pass' : 'fail'}</span></td><td>${esc(c.detail)}</td></tr>`,
    )
    .join('');
  const reasons = `<p>${esc(m.gate.summary ?? (m.gate.passed ? 'all gate checks passed' : m.gate.reasons.join('; ')))}</p>
<table><tr><th>gate check</th><th>result</th><th>what it compared</th></tr>${checks}</table>`;
  return `<header><h1>${esc(m.model_name)} ${esc(m.version)}</h1>
<p class="muted">${esc(m.task)} · dataset ${esc(dataset)} · model ${esc(m.model.kind)} · trained in ${num(m.training_seconds, 1)} s</p>
<p><span class="badge ${m.gate.passed ? 'pass' : 'fail'}">gate ${m.gate.passed ? 'passed' : 'failed'}</span>
 holdout ${esc(key)} <b>${num(m.holdout[key])}</b> vs baseline ${num(m.baseline[key])} · ONNX parity max |Δ| ${esc(m.onnx_parity.max_abs_diff.toExponential(2))}</p>
${reasons}
<p class="muted">Rows: train ${num(m.rows.train)}${span(m.periods.train)}, validation ${num(m.rows.validation)}, holdout ${num(m.rows.holdout)}${span(m.periods.holdout)}</p>
${dataSection(m)}</header>`;
}

function span(period: { from: string; to: string } | undefined): string {
  return period ? ` (${esc(period.from)} → ${esc(period.to)})` : '';
}

/** The data stage's own decisions: split, positive class, rows and columns left out. */
function dataSection(m: Metrics): string {
  if (!m.data) return '';
  const d = m.data;
  return `<h2>Data</h2><ul><li>split: <b>${esc(d.split.method)}</b>, seed ${esc(d.split.seed)} — ${esc(d.split.reason)}</li>${d.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>`;
}

function metricsTable(m: Metrics): string {
  const columns: [string, Record<string, number> | undefined][] = [
    ['holdout', m.holdout],
    ['baseline (prior/mean)', m.baseline],
    ['validation', m.validation],
    ['linear model (holdout)', m.linear_holdout],
  ];
  const names = Object.keys(m.holdout);
  const rows = names
    .map((n) => `<tr><td>${esc(n)}</td>${columns.map(([, v]) => `<td>${num(v?.[n])}</td>`).join('')}</tr>`)
    .join('');
  const champion = m.champion
    ? `<p>Champion ${esc(m.champion.version)} on the same holdout: ${esc(m.champion.metric)} ${num(m.champion.value)}${m.champion.error ? ` (${esc(m.champion.error)})` : ''}</p>`
    : '';
  return `<section><h2>Metrics</h2><table><tr><th>metric</th>${columns.map(([c]) => `<th>${esc(c)}</th>`).join('')}</tr>${rows}</table>${champion}</section>`;
}

const W = 340;
const H = 260;
const PAD = 40;

function axes(xLabel: string, yLabel: string): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((t) => {
      const x = PAD + t * (W - PAD - 10);
      const y = H - PAD - t * (H - PAD - 10);
      return `<text x="${x}" y="${H - PAD + 14}" text-anchor="middle">${t}</text><text x="${PAD - 6}" y="${y + 4}" text-anchor="end">${t}</text>`;
    })
    .join('');
  return `<rect x="${PAD}" y="10" width="${W - PAD - 10}" height="${H - PAD - 10}" fill="none" stroke="#999"/>${ticks}
<text x="${(W + PAD) / 2}" y="${H - 6}" text-anchor="middle">${esc(xLabel)}</text>
<text x="12" y="${H / 2}" text-anchor="middle" transform="rotate(-90 12 ${H / 2})">${esc(yLabel)}</text>`;
}

const sx = (x: number) => PAD + x * (W - PAD - 10);
const sy = (y: number) => H - PAD - y * (H - PAD - 10);

function lineChart(
  title: string,
  xLabel: string,
  yLabel: string,
  points: [number, number][],
  diagonal: boolean,
): string {
  const path = points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
  const diag = diagonal
    ? `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#bbb" stroke-dasharray="4"/>`
    : '';
  return `<figure><figcaption>${esc(title)}</figcaption><svg width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${axes(xLabel, yLabel)}${diag}<path d="${path}" fill="none" stroke="#0969da" stroke-width="2"/></svg></figure>`;
}

type Bins = NonNullable<Metrics['calibration']>;

function calibrationDots(bins: Bins, colour: string, label: string): string {
  return bins
    .map(
      (b) =>
        `<circle cx="${sx(b.mean_predicted).toFixed(1)}" cy="${sy(b.observed_rate).toFixed(1)}" r="${Math.min(9, 2 + Math.log10(b.rows + 1) * 1.5).toFixed(1)}" fill="${colour}" fill-opacity="0.7"><title>${esc(`${label} ${b.lower.toFixed(1)}–${b.upper.toFixed(1)}: predicted ${b.mean_predicted.toFixed(3)}, observed ${b.observed_rate.toFixed(3)}, ${b.rows} rows`)}</title></circle>`,
    )
    .join('');
}

/** The calibrator in the graph and what it changed on the holdout. */
function calibratorTable(m: Metrics): string {
  const c = m.calibrator;
  if (!c) return '';
  const v = c.validation_log_loss;
  const row = (name: string, key: 'ece' | 'brier' | 'log_loss') =>
    `<tr><td>${name}</td><td>${num(c.holdout.before[key])}</td><td>${num(c.holdout.after[key])}</td></tr>`;
  return `<p>Calibrator in the graph: <b>${esc(c.method)}</b>, chosen by ${esc(c.chosen_by)} (${c.validation_rows} rows; log loss Platt ${num(v.platt)}, isotonic ${num(v.isotonic)}, uncalibrated ${num(v.uncalibrated)}). Served probabilities are calibrated.</p>
<table><tr><th>holdout</th><th>before</th><th>after</th></tr>${row('expected calibration error (10 bins)', 'ece')}${row('Brier score', 'brier')}${row('log loss', 'log_loss')}</table>`;
}

function calibrationChart(m: Metrics): string {
  const bins = m.calibration ?? [];
  const dots =
    calibrationDots(m.calibration_before ?? [], '#9a6700', 'before calibration') +
    calibrationDots(bins, '#0969da', 'calibrated');
  const rows = bins
    .map(
      (b) =>
        `<tr><td>${b.lower.toFixed(1)}–${b.upper.toFixed(1)}</td><td>${num(b.mean_predicted)}</td><td>${num(b.observed_rate)}</td><td>${b.rows}</td></tr>`,
    )
    .join('');
  const legend = m.calibration_before
    ? '<p><span style="color:#9a6700">●</span> before calibration <span style="color:#0969da">●</span> calibrated (served)</p>'
    : '';
  return `<section><h2>Calibration (holdout)</h2>${calibratorTable(m)}${legend}<div class="row"><svg width="${W}" height="${H}" role="img" aria-label="calibration">${axes('mean predicted probability', 'observed rate')}<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(1)}" y2="${sy(1)}" stroke="#bbb" stroke-dasharray="4"/>${dots}</svg>
<table><tr><th>bin</th><th>predicted</th><th>observed</th><th>rows</th></tr>${rows}</table></div></section>`;
}

function importanceChart(m: Metrics): string {
  const items = m.feature_importance;
  const barW = 420;
  const rowH = 20;
  const max = Math.max(...items.map((i) => i.gain_share), 1e-12);
  const bars = items
    .map(
      (item, k) =>
        `<text x="170" y="${k * rowH + 14}" text-anchor="end">${esc(item.feature)}</text><rect x="176" y="${k * rowH + 4}" width="${((item.gain_share / max) * barW).toFixed(1)}" height="${rowH - 6}" fill="#0969da"/><text x="${(180 + (item.gain_share / max) * barW).toFixed(1)}" y="${k * rowH + 14}">${(item.gain_share * 100).toFixed(1)}%</text>`,
    )
    .join('');
  const label = m.model.kind === 'gbdt' ? 'share of total split gain' : 'share of |standardised weight|';
  return `<section><h2>Feature importance</h2><p class="muted">${esc(label)}</p><svg width="${176 + barW + 60}" height="${items.length * rowH + 8}" role="img" aria-label="feature importance">${bars}</svg></section>`;
}

function trialsSection(trials: Trial[]): string {
  const points = trials.flatMap((t) =>
    t.rungs.map((r) => ({ trial: t.trial, rounds: r.rounds, loss: r.valid_loss })),
  );
  const finite = points.filter((p) => Number.isFinite(p.loss));
  const chart = (() => {
    if (finite.length === 0) return '';
    const minL = Math.min(...finite.map((p) => p.loss));
    const maxL = Math.max(...finite.map((p) => p.loss));
    const maxR = Math.max(...finite.map((p) => p.rounds));
    const px = (r: number) => PAD + (r / maxR) * (W * 1.6 - PAD - 10);
    const py = (l: number) => (maxL === minL ? H / 2 : 10 + ((maxL - l) / (maxL - minL)) * (H - PAD - 20));
    const lines = trials
      .map((t) => {
        const d = t.rungs
          .filter((r) => Number.isFinite(r.valid_loss))
          .map((r, i) => `${i ? 'L' : 'M'}${px(r.rounds).toFixed(1)},${py(r.valid_loss).toFixed(1)}`)
          .join('');
        const colour = t.eliminated_at_rung === undefined ? '#1a7f37' : '#8c959f';
        return `<path d="${d}" fill="none" stroke="${colour}" stroke-width="${t.eliminated_at_rung === undefined ? 2.5 : 1}"><title>trial ${t.trial}</title></path>`;
      })
      .join('');
    return `<svg width="${(W * 1.6).toFixed(0)}" height="${H}" role="img" aria-label="trial history"><rect x="${PAD}" y="10" width="${(W * 1.6 - PAD - 10).toFixed(0)}" height="${H - PAD - 10}" fill="none" stroke="#999"/>${lines}
<text x="${PAD}" y="${H - PAD + 14}">0</text><text x="${(W * 1.6 - 10).toFixed(0)}" y="${H - PAD + 14}" text-anchor="end">${maxR} trees</text>
<text x="${PAD + 4}" y="22">${maxL.toFixed(4)}</text><text x="${PAD + 4}" y="${H - PAD - 6}">${minL.toFixed(4)}</text>
<text x="${(W * 0.8).toFixed(0)}" y="${H - 6}" text-anchor="middle">validation loss by trees grown (green: winner)</text></svg>`;
  })();
  const rows = trials
    .map((t) => {
      const last = t.rungs.at(-1);
      const p = t.params;
      return `<tr><td>${t.trial}</td><td>${num(p.learningRate)}</td><td>${p.numLeaves}</td><td>${p.minDataInLeaf}</td><td>${num(p.lambdaL2)}</td><td>${num(p.featureFraction, 2)}</td><td>${num(p.baggingFraction, 2)}</td><td>${last?.rounds ?? 0}</td><td>${num(last?.valid_loss, 5)}</td><td>${t.eliminated_at_rung === undefined ? 'winner' : `dropped at rung ${t.eliminated_at_rung}`}</td><td>${num(t.seconds, 1)}</td></tr>`;
    })
    .join('');
  return `<section><h2>Tuning history</h2>${chart}<table><tr><th>trial</th><th>learning rate</th><th>leaves</th><th>min rows/leaf</th><th>L2</th><th>feature frac.</th><th>bagging frac.</th><th>trees</th><th>valid loss</th><th>outcome</th><th>seconds</th></tr>${rows}</table></section>`;
}

function schemaTable(schema: FeatureSchema): string {
  const rows = schema.features
    .map(
      (f) =>
        `<tr><td>${esc(f.name)}</td><td>${esc(f.type)}</td><td>${f.nullable ? 'yes' : 'no'}</td><td>${f.categories ? `${f.categories.length} levels` : f.range ? `${num(f.range.min)} … ${num(f.range.max)}` : ''}</td></tr>`,
    )
    .join('');
  return `<section><h2>Feature schema</h2><p class="muted">target ${esc(schema.target.name)} (${esc(schema.target.type)}) · digest ${esc(schema.digest)}</p><table><tr><th>feature</th><th>type</th><th>nullable</th><th>values</th></tr>${rows}</table></section>`;
}
