import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Runs the real `mlcycle demo` (reduced training size) as a user would, then checks the story it
// tells in summary.json against the artifacts it left behind.
const run = async (args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/mlcycle', 'demo', ...args], {
      env: { ...process.env, CI: 'true' },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

interface Summary {
  events: { kind: string; version: string | null }[];
  lineage: Record<string, { source: string; labelledRows?: number; versions?: string[]; driftRun?: string }>;
  promotion: { challenger: string; promote: boolean; labelledRows: number };
  artifacts: {
    models: Record<string, string>;
    prediction_log: { path: string; rows: number };
    drift_reports: Record<string, { html: string; json: string }>;
    alerts: unknown[];
  };
}

describe('mlcycle demo', () => {
  it(
    'plays the lifecycle in order and leaves every artifact it names',
    async () => {
      const out = join(await mkdtemp(join(tmpdir(), 'mlcycle-demo-')), 'demo');
      const result = await run(['--out', out, '--train-rows', '100000', '--trials', '2']);
      expect(result.stderr).toBe('');
      expect(result.code, result.stdout).toBe(0);

      const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
      const kinds = summary.events.map((e) => e.kind);
      const expected = [
        'trained',
        'registered',
        'served',
        'drift_detected',
        'alert',
        'retrain_requested',
        'retrained',
        'shadow_started',
        'promoted',
        'quality_degraded',
        'rolled_back',
      ];
      // In this order, possibly with other events in between.
      let at = -1;
      for (const kind of expected) {
        at = kinds.indexOf(kind, at + 1);
        expect(at, `${kind} after the previous step in ${kinds.join(', ')}`).toBeGreaterThanOrEqual(0);
      }
      const last = summary.events.at(-1)!;
      expect(last).toMatchObject({ kind: 'rolled_back', version: 'v1' });
      expect(summary.events.find((e) => e.kind === 'promoted')?.version).toBe('v2');
      expect(summary.events.find((e) => e.kind === 'shadow_started')?.version).toBe('v2');
      // v2 learned from the labelled production log, and the drift run's decision promoted it.
      expect(summary.lineage.v1?.source).toBe('Dataset');
      expect(summary.lineage.v2).toMatchObject({ source: 'Production', versions: ['v1'] });
      expect(summary.lineage.v2?.labelledRows).toBeGreaterThan(10_000);
      expect(summary.lineage.v2?.driftRun).toBeTruthy();
      expect(summary.promotion).toMatchObject({ challenger: 'v2', promote: true });
      expect(summary.promotion.labelledRows).toBeGreaterThanOrEqual(1_000);

      for (const dir of Object.values(summary.artifacts.models)) {
        for (const file of [
          'model.onnx',
          'schema.json',
          'metrics.json',
          'reference.parquet',
          'report.html',
        ]) {
          expect(existsSync(join(dir, file)), join(dir, file)).toBe(true);
        }
      }
      // v2 learned from production, yet keeps the airport features its line began with.
      const features = async (dir: string) =>
        (
          JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')) as {
            feature_importance: { feature: string }[];
          }
        ).feature_importance
          .map((f) => f.feature)
          .sort();
      const { v1, v2 } = summary.artifacts.models;
      expect(await features(v1!)).toEqual(expect.arrayContaining(['origin_state', 'dest_lat', 'dest_lon']));
      expect(await features(v2!)).toEqual(await features(v1!));
      for (const report of Object.values(summary.artifacts.drift_reports)) {
        expect(existsSync(report.html)).toBe(true);
        expect(JSON.parse(await readFile(report.json, 'utf8'))).toHaveProperty('dataset_drift');
      }
      const logLines = (await readFile(summary.artifacts.prediction_log.path, 'utf8')).trim().split('\n');
      expect(logLines.length).toBe(summary.artifacts.prediction_log.rows);
      expect(summary.artifacts.prediction_log.rows).toBeGreaterThan(100_000);
      expect(summary.artifacts.alerts.length).toBeGreaterThanOrEqual(2);
      expect(result.stdout).toMatch(/8\. timeline/);
    },
    10 * 60_000,
  );

  it('refuses a non-empty directory it did not make', async () => {
    const out = await mkdtemp(join(tmpdir(), 'mlcycle-demo-'));
    await writeFile(join(out, 'precious.txt'), 'keep me');
    const result = await run(['--out', out]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/is not empty and was not made by the demo/);
    expect(await readFile(join(out, 'precious.txt'), 'utf8')).toBe('keep me');
  });
});
