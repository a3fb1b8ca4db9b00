import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../core/config.js';
import { DataError } from '../../core/errors.js';
import { DriftRunReport } from '../../core/resources/drift-monitor.js';
import { driftCommand } from '../../drift-job/command.js';
import { type DriftReport, monitorStatus, runDriftJob } from '../../drift-job/index.js';
import { generateRows, writeCurrent, writeModelFiles } from './drift-fixtures.js';

/** `mlcycle drift --reference A.parquet --current B.parquet --out DIR`, through the command itself. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string }> {
  const values = parseSettings(driftCommand.settings, args, {});
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await driftCommand.run(values);
    return { code, stdout: chunks.join('') };
  } finally {
    process.stdout.write = write;
  }
}

async function readReport(dir: string): Promise<DriftReport> {
  return JSON.parse(await readFile(join(dir, 'report.json'), 'utf8')) as DriftReport;
}

/** The real entry point on the built output (npm test builds first). */
async function runBin(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/mlcycle', 'drift', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('bin/mlcycle drift', () => {
  it('writes both reports and exits 0 on drift; 3 on unreadable data; 2 on a bad flag', async () => {
    const model = await writeModelFiles();
    const current = await writeCurrent(
      model.dir,
      'bin.parquet',
      generateRows(2000, 70, { xShift: 1, colorWeights: [1, 1, 5] }),
    );
    const out = join(model.dir, 'bin-out');
    const ok = await runBin(['--reference', model.reference, '--current', current, '--out', out]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ verdict: 'Drift', dataset_drift: true });
    expect((await readReport(out)).dataset_drift).toBe(true);
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('Drift detected');
    const missing = await runBin([
      '--reference',
      model.reference,
      '--current',
      join(model.dir, 'nope.parquet'),
      '--out',
      out,
    ]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/cannot read the current data/);
    const bad = await runBin([
      '--reference',
      model.reference,
      '--current',
      current,
      '--out',
      out,
      '--drift-share',
      '2',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--drift-share/);
  });
});

describe('mlcycle drift on files', () => {
  it('writes report.html and report.json; a clearly shifted window drifts, exit code 0', async () => {
    const model = await writeModelFiles();
    const current = await writeCurrent(
      model.dir,
      'current.parquet',
      generateRows(3000, 7, { xShift: 1.2, colorWeights: [1, 1, 3, 0.3], flagRate: 0.8 }),
    );
    const out = join(model.dir, 'out');
    const { code, stdout } = await runCli([
      '--reference',
      model.reference,
      '--current',
      current,
      '--out',
      out,
    ]);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary.verdict).toBe('Drift');
    const report = await readReport(out);
    expect(report.schema_version).toBe(1);
    expect(report.dataset_drift).toBe(true);
    expect(report.rows).toEqual({ reference: 2000, current: 3000, labelled: 3000 });
    // Reference > 1000 rows: Wasserstein for numbers, Jensen-Shannon for categories and booleans.
    const byName = Object.fromEntries(report.features.map((f) => [f.name, f]));
    expect(byName.x).toMatchObject({
      type: 'numerical',
      method: 'wasserstein',
      threshold: 0.1,
      drifted: true,
    });
    expect(byName.color).toMatchObject({ type: 'categorical', method: 'jensenshannon', drifted: true });
    expect(byName.flag).toMatchObject({ type: 'categorical', method: 'jensenshannon', drifted: true });
    expect(byName.n).toMatchObject({ method: 'wasserstein', drifted: false });
    expect(report.drift_share).toBeCloseTo(3 / 4, 12);
    expect(report.excluded_features.map((f) => f.name)).toEqual(['at']);
    expect(report.prediction_drift.drifted).toBe(true);
    // The unseen "purple" shows in the summary.
    const color = report.summary.features.find((s) => s.name === 'color')!;
    expect(color.current.unseen_share).toBeGreaterThan(0.05);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<!doctype html>');
    expect(html).toContain('Drift detected');
    expect(html).not.toMatch(/<script|https?:\/\//);
  });

  it('the same distribution: no drift, quality ok against holdout', async () => {
    const model = await writeModelFiles();
    const current = await writeCurrent(model.dir, 'same.parquet', generateRows(3000, 99));
    const out = join(model.dir, 'same');
    await runCli(['--reference', model.reference, '--current', current, '--out', out]);
    const report = await readReport(out);
    expect(report.dataset_drift).toBe(false);
    expect(report.drifted_features).toEqual([]);
    expect(report.verdict.verdict).toBe('NoDrift');
    expect(report.quality).toMatchObject({ verdict: 'Ok', metric: 'roc_auc', labelledRows: 3000 });
    expect(Math.abs(report.quality.value! - report.quality.reference!)).toBeLessThan(0.03);
  });

  it('bad labels: quality degraded', async () => {
    const model = await writeModelFiles();
    const current = await writeCurrent(
      model.dir,
      'noisy.parquet',
      generateRows(2000, 5, { labelNoise: 0.35 }),
    );
    const out = join(model.dir, 'noisy');
    const result = await runDriftJob({ reference: model.reference, current, out });
    expect(result.report.quality.verdict).toBe('Degraded');
    expect(result.report.verdict.verdict).toBe('QualityDegraded');
    expect(result.report.verdict.rollback).toBe(true);
  });

  it('a small reference uses the p-value tests (KS, chi-squared, Z)', async () => {
    const model = await writeModelFiles(600, 3);
    const current = await writeCurrent(model.dir, 'small.parquet', generateRows(500, 4, { xShift: 0.5 }));
    const out = join(model.dir, 'small');
    const { report } = await runDriftJob({ reference: model.reference, current, out });
    const methods = Object.fromEntries(report.features.map((f) => [f.name, f.method]));
    expect(methods).toEqual({ x: 'ks', n: 'ks', color: 'chisquare', flag: 'z' });
    expect(report.features.find((f) => f.name === 'x')!.drifted).toBe(true);
  });

  it('too few rows: insufficient data, never a drift claim', async () => {
    const model = await writeModelFiles();
    const current = await writeCurrent(model.dir, 'tiny.parquet', generateRows(20, 8, { xShift: 5 }));
    const out = join(model.dir, 'tiny');
    const { report } = await runDriftJob({ reference: model.reference, current, out, minRows: 100 });
    expect(report.verdict.verdict).toBe('InsufficientData');
    expect(report.dataset_drift).toBe(false);
    expect(report.features.every((f) => f.method === null && !f.drifted)).toBe(true);
    expect(report.warnings.join(' ')).toMatch(/20 current rows, fewer than the 100/);
  });

  it('an empty window and an all-null feature are handled with clear messages', async () => {
    const model = await writeModelFiles();
    const empty = await writeCurrent(model.dir, 'empty.parquet', []);
    const r1 = await runDriftJob({ reference: model.reference, current: empty, out: join(model.dir, 'e') });
    expect(r1.report.verdict.verdict).toBe('InsufficientData');
    const allNull = await writeCurrent(model.dir, 'nullx.parquet', generateRows(500, 9, { xMissing: 1 }));
    const r2 = await runDriftJob({ reference: model.reference, current: allNull, out: join(model.dir, 'n') });
    const x = r2.report.features.find((f) => f.name === 'x')!;
    expect(x).toMatchObject({ method: null, drifted: false });
    expect(x.note).toMatch(/no non-missing value in the current data/);
    expect(r2.report.warnings.join(' ')).toMatch(/feature x is null in every current row/);
    // The other features are still analysed, and the share counts only analysed ones.
    expect(r2.report.features.filter((f) => f.method !== null)).toHaveLength(3);
  });

  it('NaN and ±Infinity are dropped like missing values and reported', async () => {
    const model = await writeModelFiles();
    const rows = generateRows(1500, 12).map((r, i) => ({
      ...r,
      record: {
        ...r.record,
        x: i % 10 === 0 ? Number.POSITIVE_INFINITY : i % 10 === 1 ? Number.NaN : r.record.x,
      },
    }));
    const current = await writeCurrent(model.dir, 'inf.parquet', rows);
    const { report } = await runDriftJob({
      reference: model.reference,
      current,
      out: join(model.dir, 'inf'),
    });
    const x = report.features.find((f) => f.name === 'x')!;
    expect(x.rows.current).toBe(1200);
    expect(x.score).not.toBeNull();
    expect(report.warnings.join('\n')).toMatch(/feature x: 150 NaN\/Infinity values treated as missing/);
    const summary = report.summary.features.find((f) => f.name === 'x')!;
    expect(summary.current).toMatchObject({ missing: 300, non_finite: 150 });
  });

  it('the DriftMonitor status a run writes passes the CRD status schema', async () => {
    const model = await writeModelFiles();
    const current = await writeCurrent(
      model.dir,
      's.parquet',
      generateRows(1500, 14, { xShift: 1, colorWeights: [1, 1, 5] }),
    );
    const { report, decision, reportHtmlUri } = await runDriftJob({
      reference: model.reference,
      current,
      out: join(model.dir, 's'),
      modelVersion: 'v3',
    });
    const status = DriftRunReport.parse(monitorStatus(report, decision, reportHtmlUri, 'drift-job-123'));
    expect(status.lastRun).toMatchObject({
      id: report.run_id,
      verdict: 'Drift',
      jobName: 'drift-job-123',
      modelVersion: 'v3',
      decision: { verdict: 'Drift', alert: true, retrain: false, rollback: false },
    });
    expect(status.lastRun.decision?.reasons).toEqual(['alert: first verdict Drift']);
    expect(status.driftedFeatures).toEqual(report.drifted_features);
    expect(status.quality).toMatchObject({ verdict: 'Ok', metric: 'roc_auc', labelledRows: 1500 });
  });

  it('per-feature overrides and a forced method', async () => {
    const model = await writeModelFiles();
    const current = await writeCurrent(model.dir, 'o.parquet', generateRows(1500, 10, { xShift: 0.3 }));
    const { report } = await runDriftJob({
      reference: model.reference,
      current,
      out: join(model.dir, 'o'),
      method: 'psi',
      perFeature: { x: { method: 'ks', threshold: 0.01 } },
    });
    const byName = Object.fromEntries(report.features.map((f) => [f.name, f]));
    expect(byName.x).toMatchObject({ method: 'ks', threshold: 0.01 });
    expect(byName.color).toMatchObject({ method: 'psi', threshold: 0.1 });
    expect(byName.n).toMatchObject({ method: 'psi' });
  });

  it('bad input: unreadable files, a reference of another schema, invalid overrides', async () => {
    const model = await writeModelFiles();
    await expect(
      runDriftJob({
        reference: join(model.dir, 'nope.parquet'),
        current: model.reference,
        out: join(model.dir, 'x'),
      }),
    ).rejects.toThrow(/cannot read the feature schema|cannot read the reference/);
    const other = await writeCurrent(model.dir, 'other.parquet', generateRows(10, 1));
    await expect(
      runDriftJob({
        reference: other,
        schema: join(model.dir, 'schema.json'),
        current: other,
        out: join(model.dir, 'y'),
        perFeature: { nope: { method: 'psi' } },
      }),
    ).rejects.toThrow(/drift override for nope/);
    await expect(
      runDriftJob({
        reference: model.reference,
        current: model.reference,
        out: join(model.dir, 'z'),
        perFeature: { color: { method: 'ks' } },
      }),
    ).rejects.toThrow(/method ks does not apply to categorical column color/);
    expect(() => parseSettings(driftCommand.settings, ['--out', 'x', '--per-feature', '{bad'], {})).toThrow(
      /expected JSON/,
    );
    expect(() => parseSettings(driftCommand.settings, ['--out', 'x', '--method', 'magic'], {})).toThrow(
      /--method/,
    );
    const err = await runDriftJob({
      reference: model.reference,
      current: join(model.dir, 'missing.parquet'),
      out: join(model.dir, 'w'),
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toMatch(/cannot read the current data .*missing\.parquet/);
  });
});
