import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writeParquet } from '../../core/dataset/index.js';
import { DriftRunReport } from '../../core/resources/drift-monitor.js';
import { type DriftReport, monitorStatus, runDriftJob } from '../../drift-job/index.js';
import { alertPayload } from '../../drift-job/webhook.js';
import { generateRows, rowsToTable, type Shift, writeCurrent, writeModelFiles } from './drift-fixtures.js';

/**
 * The drift job's estimated quality (CBPE) end to end on files: in report.json and report.html
 * beside the realized quality, in the DriftMonitor status, and as the EstimatedDegraded verdict
 * when a window without labels is estimated to be worse; and `--reference a --current b` with no
 * schema.json beside the reference, the schema inferred and said so.
 */

async function readReport(dir: string): Promise<DriftReport> {
  return JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as DriftReport;
}

describe('estimated quality in a drift run', () => {
  it('same distribution: estimate beside the realized value, Ok, in both reports and the status', async () => {
    const model = await writeModelFiles();
    const current = await writeCurrent(model.dir, 'same.parquet', generateRows(3000, 99));
    const out = join(model.dir, 'est');
    const { report, decision, reportHtmlUri } = await runDriftJob({
      reference: model.reference,
      current,
      out,
    });
    const e = report.estimate!;
    expect(e).toMatchObject({ verdict: 'Ok', metric: 'roc_auc', method: 'cbpe', rows: 3000 });
    expect(e.metrics.map((m) => m.metric)).toEqual(['roc_auc', 'accuracy', 'precision', 'recall', 'f1']);
    // Reference 2000 rows: thresholds from ten chunks of 200 (a tenth), not of the window's 3000.
    expect(e.chunkRows).toBe(200);
    const auc = e.metrics[0]!;
    expect(auc.lowerBand).toBeLessThan(auc.estimated);
    expect(auc.upperBand).toBeGreaterThan(auc.estimated);
    expect(report.verdict.verdict).toBe('NoDrift');
    const json = await readReport(out);
    expect(json.estimate?.metrics[0]?.estimated).toBeCloseTo(auc.estimated, 12);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('Estimated quality before labels');
    expect(html).toContain('Estimated quality');
    const status = DriftRunReport.parse(monitorStatus(report, decision, reportHtmlUri, undefined));
    expect(status.estimate).toMatchObject({ verdict: 'Ok', metric: 'roc_auc', rows: 3000 });
    expect(status.estimate?.value).toBeCloseTo(auc.estimated, 4);
    expect(status.estimate?.realized).toBeCloseTo(report.quality.value!, 4);
  });

  it('an unlabelled window the model is unsure about: EstimatedDegraded, which alerts; no rollback by default', async () => {
    const model = await writeModelFiles();
    const table = rowsToTable(generateRows(2000, 5), false);
    // Every probability near ½: the expected ROC AUC falls towards 0.5.
    const p = (table.columns.probability as { values: Float64Array }).values;
    const y = (table.columns.prediction as { values: Float64Array }).values;
    for (let i = 0; i < p.length; i++) {
      p[i] = 0.45 + 0.1 * (p[i]! > 0.5 ? 1 : 0) * p[i]!;
      y[i] = p[i]! >= 0.5 ? 1 : 0;
    }
    const current = join(model.dir, 'unsure.parquet');
    await writeFile(current, writeParquet(table));
    const run = (o = {}) =>
      runDriftJob({ reference: model.reference, current, out: join(model.dir, 'u'), ...o });
    const { report, decision } = await run();
    expect(report.quality.verdict).toBe('NotEvaluated');
    expect(report.estimate?.verdict).toBe('Degraded');
    expect(decision.verdict).toBe('EstimatedDegraded');
    expect(decision.alert).toMatchObject({ to: 'EstimatedDegraded' });
    expect(decision.rollback).toBe(false);
    // The alert carries the estimate, for people (text) and for receivers (facts).
    const payload = alertPayload(report, null) as {
      text: string;
      mlcycle: { estimate: { verdict: string } };
    };
    expect(payload.text).toMatch(
      /estimated quality degraded\. .*Estimated before labels: roc_auc 0\.\d{4} \(band/,
    );
    expect(payload.mlcycle.estimate).toMatchObject({ verdict: 'Degraded', metric: 'roc_auc' });
    // Opted in: the same window asks for a rollback.
    expect((await run({ policy: { rollbackOnEstimatedDegraded: true } })).decision.rollback).toBe(true);
    // Turned off: no estimate, no such verdict.
    const off = await run({ estimate: { enabled: false } });
    expect(off.report.estimate).toBeNull();
    expect(off.decision.verdict).not.toBe('EstimatedDegraded');
  });

  it('regression: no estimate yet, and the report says why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlcycle-est-reg-'));
    const rows = 500;
    const x = Float64Array.from({ length: rows }, (_, i) => i % 17);
    const table = {
      numRows: rows,
      columns: {
        x: { kind: 'number' as const, values: x },
        target: { kind: 'number' as const, values: x.map((v) => v * 2.5 + 0.1) },
        prediction: { kind: 'number' as const, values: x.map((v) => v * 2.5) },
      },
    };
    await writeFile(join(dir, 'reference.parquet'), writeParquet(table));
    await writeFile(join(dir, 'current.parquet'), writeParquet(table));
    const { report } = await runDriftJob({
      reference: join(dir, 'reference.parquet'),
      current: join(dir, 'current.parquet'),
      out: join(dir, 'out'),
    });
    expect(report.model.task).toBe('regression');
    expect(report.estimate).toMatchObject({ verdict: 'NotEvaluated' });
    expect(report.estimate?.reason).toMatch(/regression \(direct loss estimation\) is not built yet/);
  });
});

describe('drift on two plain files (no schema.json)', () => {
  it('infers the schema from the reference, says so in both reports, and measures everything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlcycle-inferred-'));
    const asPlain = (seed: number, shift: Shift = {}) => {
      const t = rowsToTable(generateRows(1500, seed, shift));
      const { label, ...rest } = t.columns;
      return { numRows: t.numRows, columns: { ...rest, target: label! } };
    };
    await writeFile(join(dir, 'a.parquet'), writeParquet(asPlain(1)));
    await writeFile(
      join(dir, 'b.parquet'),
      writeParquet(asPlain(2, { xShift: 1.5, colorWeights: [1, 1, 5], flagRate: 0.9 })),
    );
    const out = join(dir, 'out');
    const { report } = await runDriftJob({
      reference: join(dir, 'a.parquet'),
      current: join(dir, 'b.parquet'),
      out,
    });
    expect(report.schema).toMatchObject({ source: 'inferred', uri: null });
    expect(report.warnings[0]).toMatch(/^no schema\.json: the schema was inferred from the reference/);
    expect(report.model.task).toBe('binary-classification');
    const types = Object.fromEntries(report.features.map((f) => [f.name, f.type]));
    expect(types).toEqual({ x: 'numerical', n: 'numerical', color: 'categorical', flag: 'categorical' });
    expect(report.excluded_features.map((f) => f.name)).toEqual(['at']);
    expect(report.dataset_drift).toBe(true);
    expect(report.quality).toMatchObject({ verdict: 'NotEvaluated', labelledRows: 1500 });
    expect(report.estimate?.verdict).toBeDefined();
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('inferred from the reference');
    // The same through the real command line (npm test builds first).
    const cli = join(dir, 'cli');
    const { stdout } = await promisify(execFile)('node', [
      'bin/mlcycle',
      'drift',
      '--reference',
      join(dir, 'a.parquet'),
      '--current',
      join(dir, 'b.parquet'),
      '--out',
      cli,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ verdict: 'Drift', estimate: { metric: 'roc_auc' } });
    expect((await readReport(cli)).schema.source).toBe('inferred');
  });

  it('a schema.json that exists but is broken is still an error, never silently replaced', async () => {
    const model = await writeModelFiles();
    await writeFile(join(model.dir, 'schema.json'), '{"not": "a schema"}');
    const current = await writeCurrent(model.dir, 'c.parquet', generateRows(500, 3));
    await expect(
      runDriftJob({ reference: model.reference, current, out: join(model.dir, 'x') }),
    ).rejects.toThrow(/invalid feature schema/);
  });
});
