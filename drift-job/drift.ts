import type { Table } from '../core/dataset/index.js';
import { ConfigError, DataError } from '../core/errors.js';
import {
  type ColumnKind,
  type DriftMethod,
  defaultMethod,
  driftMethod,
  driftScore,
} from './stats/drift-methods.js';
import { sampleSize, toSample } from './stats/samples.js';

/** How one column is analysed. */
export interface DriftColumnSpec {
  name: string;
  kind: ColumnKind;
  /** Overrides the default method. */
  method?: DriftMethod;
  /** Overrides the method's default threshold. */
  threshold?: number;
}

export interface ColumnDrift {
  name: string;
  type: ColumnKind;
  /** null when the column could not be analysed (see `note`). */
  method: DriftMethod | null;
  threshold: number | null;
  /** p-value (ks, chisquare, z) or distance (wasserstein, jensenshannon, psi); null if not computable. */
  score: number | null;
  drifted: boolean;
  rows: { reference: number; current: number };
  note?: string;
}

export interface DatasetDrift {
  features: ColumnDrift[];
  /** Columns with a drift decision (those with data on both sides). */
  analysed: number;
  drifted: number;
  /** drifted / analysed (0 when nothing could be analysed). */
  drift_share: number;
  /** The share at or above which the dataset is drifted. */
  share_threshold: number;
  dataset_drift: boolean;
}

export function checkMethod(spec: DriftColumnSpec): void {
  const kinds = spec.method ? driftMethod(spec.method).kinds : [spec.kind];
  if (!kinds.includes(spec.kind)) {
    throw new ConfigError(
      `drift method ${spec.method} does not apply to ${spec.kind} column ${spec.name} (it takes ${kinds.join(' or ')} columns)`,
    );
  }
}

/** Drift of one column between the reference and the current table. */
export function columnDrift(reference: Table, current: Table, spec: DriftColumnSpec): ColumnDrift {
  checkMethod(spec);
  const base = { name: spec.name, type: spec.kind };
  const refColumn = reference.columns[spec.name];
  const curColumn = current.columns[spec.name];
  if (!refColumn || !curColumn) {
    const where = !refColumn ? 'reference' : 'current';
    return {
      ...base,
      method: null,
      threshold: null,
      score: null,
      drifted: false,
      rows: { reference: 0, current: 0 },
      note: `column ${spec.name} is absent from the ${where} data`,
    };
  }
  let ref: ReturnType<typeof toSample>;
  let cur: ReturnType<typeof toSample>;
  try {
    ref = toSample(refColumn, spec.kind);
    cur = toSample(curColumn, spec.kind);
  } catch (err) {
    throw new DataError(`column ${spec.name}: ${(err as Error).message}`);
  }
  const rows = { reference: sampleSize(ref), current: sampleSize(cur) };
  if (rows.reference === 0 || rows.current === 0) {
    const where = rows.reference === 0 ? 'reference' : 'current';
    return {
      ...base,
      method: null,
      threshold: null,
      score: null,
      drifted: false,
      rows,
      note: `column ${spec.name} has no non-missing value in the ${where} data`,
    };
  }
  const method = spec.method ?? defaultMethod(spec.kind, ref, cur);
  const threshold = spec.threshold ?? driftMethod(method).defaultThreshold;
  const result = driftScore(method, ref, cur, threshold);
  return {
    ...base,
    method,
    threshold,
    score: Number.isNaN(result.score) ? null : result.score,
    drifted: result.drifted,
    rows,
  };
}

/** Drift of every column, and the dataset verdict: drifted when the drifted share ≥ `driftShare`. */
export function datasetDrift(
  reference: Table,
  current: Table,
  specs: readonly DriftColumnSpec[],
  driftShare = 0.5,
): DatasetDrift {
  const features = specs.map((spec) => columnDrift(reference, current, spec));
  const analysed = features.filter((f) => f.method !== null).length;
  const drifted = features.filter((f) => f.drifted).length;
  const share = analysed === 0 ? 0 : drifted / analysed;
  return {
    features,
    analysed,
    drifted,
    drift_share: share,
    share_threshold: driftShare,
    dataset_drift: analysed > 0 && share >= driftShare,
  };
}
