import { describe, expect, it } from 'vitest';
import { kubePaths } from '../../core/kube/paths.js';
import { type ModelVersion, ModelVersionKind, resourcePath } from '../../core/resources/index.js';
import { eventReasons, fakeWorld, NS, seedMv } from '../testing/fake-context.js';
import { jobState, lastMeaningfulLine, ModelVersionReconciler, outcomeFields } from './model-version.js';

describe('lastMeaningfulLine', () => {
  it('prefers the CLI error line over a stack trace and the Node.js banner', () => {
    const tail = [
      'mlcycle: unexpected error: Error: librt.so.1: cannot open shared object file',
      '    at Module._extensions..node (node:internal/modules/cjs/loader:1661:18)',
      "  code: 'ERR_DLOPEN_FAILED'",
      '}',
      'Node.js v20.20.2',
    ].join('\n');
    expect(lastMeaningfulLine(tail)).toBe(
      'unexpected error: Error: librt.so.1: cannot open shared object file',
    );
  });

  it('falls back to an Error line, then to the last line; reads JSON logs', () => {
    expect(lastMeaningfulLine('a\nTypeError: x is not a function\n    at y\n')).toBe(
      'TypeError: x is not a function',
    );
    expect(lastMeaningfulLine('first\nlast\n')).toBe('last');
    expect(lastMeaningfulLine('{"level":50,"msg":"dataset not found"}')).toBe('dataset not found');
    expect(lastMeaningfulLine('')).toBe('');
  });
});

describe('jobState', () => {
  it('reads the Job conditions and active Pods', () => {
    expect(jobState({ status: { conditions: [{ type: 'Complete', status: 'True' }] } })).toBe('succeeded');
    expect(jobState({ status: { conditions: [{ type: 'Failed', status: 'True' }] } })).toBe('failed');
    expect(jobState({ status: { conditions: [{ type: 'FailureTarget', status: 'True' }], active: 1 } })).toBe(
      'failed',
    );
    expect(jobState({ status: { active: 1 } })).toBe('running');
    expect(jobState({})).toBe('pending');
  });
});

describe('outcomeFields', () => {
  const stored = {
    namespace: 'ns',
    modelName: 'm',
    version: 'v2',
    task: 'binary-classification' as const,
    status: 'registered' as const,
    deployable: true,
    gate: { passed: true, reasons: [] },
    schemaDigest: null,
    datasetUri: 'production:m?since=2026-05-25T00:00:00Z&until=2026-06-01T00:00:00Z',
    datasetDigest: null,
    artifactRoot: 's3://b/models/m/v2/',
    createdAt: new Date(),
    params: {},
    metrics: { holdout: { roc_auc: 0.7312345678901234 } },
    tags: {},
    artifacts: [],
  };

  it('rounds the headline score and copies the lineage the trainer recorded', () => {
    const lineage = {
      source: 'Production',
      dataset: stored.datasetUri,
      model: 'm',
      since: '2026-05-25T00:00:00Z',
      until: '2026-06-01T00:00:00Z',
      rows: 1800,
      loggedRows: 2400,
      labelledRows: 1800,
      deployment: 'md',
      retrainedFrom: 'v1',
      driftRun: 'dm-drift-123',
    };
    const f = outcomeFields({ ...stored, lineage } as Parameters<typeof outcomeFields>[0]);
    expect(f.score).toBe(0.7312);
    expect(f.holdout?.roc_auc).toBe(0.7312345678901234);
    expect(f.lineage).toEqual({
      source: 'Production',
      dataset: stored.datasetUri,
      since: '2026-05-25T00:00:00Z',
      until: '2026-06-01T00:00:00Z',
      rows: 1800,
      labelledRows: 1800,
      deployment: 'md',
      retrainedFrom: 'v1',
      driftRun: 'dm-drift-123',
    });
    expect(outcomeFields(stored).lineage).toBeUndefined();
  });
});

describe('ModelVersionReconciler on a final version', () => {
  it('refuses a changed spec of a Registered version: no trainer Job, a condition and one Event', async () => {
    const w = fakeWorld();
    seedMv(w, 'v1');
    const path = resourcePath(ModelVersionKind, NS, 'v1');
    await w.kube.patch(path, { spec: { dataset: { uri: 's3://other/data.parquet' } } });
    const reconciler = new ModelVersionReconciler(w.ctx);
    await reconciler.reconcile(NS, 'v1');
    await reconciler.reconcile(NS, 'v1');
    expect(w.kube.peekAll(kubePaths.jobs(NS))).toEqual([]);
    const mv = w.kube.peek<ModelVersion>(path);
    expect(mv?.status).toMatchObject({ phase: 'Registered', observedGeneration: 1 });
    expect(mv?.status?.conditions?.find((c) => c.type === 'SpecAccepted')).toMatchObject({
      status: 'False',
      reason: 'VersionIsFinal',
      observedGeneration: 2,
    });
    expect(mv?.status?.conditions?.find((c) => c.type === 'SpecAccepted')?.message).toMatch(
      /Registered versions are final: spec changes \(generation 2\) are ignored; m\/v1 stays as registered at generation 1/,
    );
    expect(eventReasons(w)).toEqual(['ModelVersion/SpecChangeRefused']);
  });
});
