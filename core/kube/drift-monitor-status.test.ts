import { describe, expect, it } from 'vitest';
import { UserError } from '../errors.js';
import type { DriftRunReport } from '../resources/index.js';
import { KubeApiError } from './client.js';
import { parseDriftMonitorRef, type StatusPatcher, writeDriftMonitorStatus } from './drift-monitor-status.js';

/** RFC 7386 JSON merge patch, as the API server applies it. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** A DriftMonitor held in memory; patches go through merge-patch semantics. */
function fakeCluster(initial: Record<string, unknown> = {}) {
  const object: { status: Record<string, unknown> } = { status: initial };
  const paths: string[] = [];
  const client: StatusPatcher = {
    patch: async <T>(path: string, body: unknown, type?: string) => {
      expect(type).toBe('merge');
      paths.push(path);
      Object.assign(object, mergePatch(object, body));
      return object as T;
    },
  };
  return { object, paths, client };
}

const labelled: DriftRunReport = {
  lastRun: {
    id: 'run-1',
    time: '2026-12-01T04:00:00Z',
    verdict: 'QualityDegraded',
    decision: {
      verdict: 'QualityDegraded',
      alert: true,
      retrain: false,
      rollback: true,
      promotion: {
        challenger: 'v3',
        ready: true,
        promote: false,
        reason: 'champion stays',
        champion: 0.8,
        challengerValue: 0.7,
        labelledRows: 300,
      },
      reasons: ['rollback: quality degraded'],
    },
  },
  datasetDrift: true,
  driftShare: 0.5,
  driftedFeatures: ['x'],
  quality: { verdict: 'Degraded', metric: 'roc_auc', value: 0.61, reference: 0.8, labelledRows: 400 },
  rows: { reference: 100, current: 900 },
};

const unlabelled: DriftRunReport = {
  lastRun: {
    id: 'run-2',
    time: '2026-12-01T05:00:00Z',
    verdict: 'NoDrift',
    decision: { verdict: 'NoDrift', alert: true, retrain: false, rollback: false, reasons: [] },
  },
  datasetDrift: false,
  driftShare: 0,
  quality: { verdict: 'NotEvaluated', metric: 'roc_auc', labelledRows: 0 },
  rows: { reference: 100, current: 900 },
};

describe('writeDriftMonitorStatus', () => {
  it('a later run without labels clears the quality value of an earlier run (and every other stale fact)', async () => {
    const { object, client, paths } = fakeCluster({ conditions: [{ type: 'Ready' }], handledRunId: 'run-0' });
    const target = parseDriftMonitorRef('ml/flights');
    await writeDriftMonitorStatus(client, target, labelled);
    expect(object.status).toMatchObject({ quality: { value: 0.61, reference: 0.8 } });

    await writeDriftMonitorStatus(client, target, unlabelled);
    expect(object.status.quality).toEqual({ verdict: 'NotEvaluated', metric: 'roc_auc', labelledRows: 0 });
    expect(object.status.driftedFeatures).toBeUndefined();
    expect((object.status.lastRun as DriftRunReport['lastRun']).decision?.promotion).toBeUndefined();
    // The operator's fields stay.
    expect(object.status).toMatchObject({ conditions: [{ type: 'Ready' }], handledRunId: 'run-0' });
    expect(paths).toEqual([
      '/apis/mlcycle.dev/v1alpha1/namespaces/ml/driftmonitors/flights/status',
      '/apis/mlcycle.dev/v1alpha1/namespaces/ml/driftmonitors/flights/status',
    ]);
  });

  it('refuses a run that does not fit the CRD status schema, before any request', async () => {
    const { client, paths } = fakeCluster();
    const bad = { ...unlabelled, driftShare: 1.5 };
    await expect(writeDriftMonitorStatus(client, { namespace: 'ml', name: 'f' }, bad)).rejects.toThrow(
      /driftShare/,
    );
    expect(paths).toEqual([]);
  });

  it('exits 4 when the DriftMonitor is gone or the service account may not write it', async () => {
    for (const status of [403, 404]) {
      const client: StatusPatcher = {
        patch: async () => {
          throw new KubeApiError(status, status === 404 ? 'NotFound' : 'Forbidden', 'no', 'PATCH', '/x');
        },
      };
      const err = await writeDriftMonitorStatus(client, { namespace: 'ml', name: 'f' }, unlabelled).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).exitCode).toBe(4);
    }
    expect(() => parseDriftMonitorRef('flights')).toThrow(/namespace/);
  });
});
