import type { Pool } from '../core/db/index.js';
import { type ArtifactRecord, saveVersion, type VersionLineage } from '../core/registry.js';
import type { PreparedData } from './data/dataset.js';
import type { GateOutcome } from './gate.js';
import type { Run } from './run.js';
import { codeVersions } from './versions.js';

export interface Registration {
  run: Run;
  version: string;
  status: 'registered' | 'rejected';
  data: PreparedData;
  schemaDigest: string;
  gate: GateOutcome;
  artifacts: ArtifactRecord[];
  artifactRoot: string;
  params: Record<string, unknown>;
  metrics: {
    holdout: Record<string, number>;
    baseline: Record<string, number>;
    validation: Record<string, number>;
  };
  parity: number;
}

/** Stage 8, registration: the version, its metrics, tags and artifacts, in one registry transaction. */
export async function registerVersion(pool: Pool, r: Registration): Promise<void> {
  const { run, data } = r;
  await saveVersion(pool, {
    namespace: run.options.namespace,
    modelName: run.modelName,
    version: r.version,
    task: data.task,
    status: r.status,
    deployable: r.gate.passed,
    gate: { passed: r.gate.passed, reasons: r.gate.reasons },
    schemaDigest: r.schemaDigest,
    datasetUri: data.datasetUri,
    datasetDigest: data.datasetDigest,
    artifactRoot: r.artifactRoot,
    params: r.params,
    metrics: {
      holdout: finite(r.metrics.holdout),
      baseline: finite(r.metrics.baseline),
      validation: finite(r.metrics.validation),
      onnx_parity: { max_abs_diff: r.parity },
    },
    tags: {
      task: data.task,
      dataset_uri: data.datasetUri,
      dataset_digest: data.datasetDigest,
      schema_digest: r.schemaDigest,
      seed: String(run.options.seed),
      started_at: run.started.toISOString(),
      finished_at: new Date().toISOString(),
      ...codeVersions(),
    },
    artifacts: r.artifacts,
    lineage: versionLineage(run, data),
  });
}

/** What the version learned from (the data's source) and why it was trained (the operator's request). */
export function versionLineage(run: Run, data: PreparedData): VersionLineage {
  const { options } = run;
  const asked = options.lineage ?? {};
  const why = {
    retrainedFrom: asked.retrainedFrom,
    deployment: asked.deployment,
    driftMonitor: asked.driftMonitor,
    driftRun: asked.driftRun,
  };
  const common = { dataset: data.datasetUri, rows: data.numRows, datasetDigest: data.datasetDigest, ...why };
  const { source } = data;
  if (source.kind === 'Dataset') {
    return {
      source: 'Dataset',
      ...common,
      since: options.since?.toISOString(),
      until: options.until?.toISOString(),
    };
  }
  return {
    source: 'Production',
    ...common,
    model: source.window.model,
    versions: source.window.versions,
    since: source.window.since.toISOString(),
    until: source.window.until.toISOString(),
    loggedRows: source.loggedRows,
    labelledRows: source.labelledRows,
    originalRows: source.originalRows,
  };
}

/** The registry stores finite numbers only (NaN: a metric undefined on these rows). */
function finite(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
}
