import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { pythonEnv } from '../../bench/python-env.js';
import { type Column, MISSING_CODE, type Table } from '../../core/dataset/index.js';
import { type DriftColumnSpec, datasetDrift } from '../../drift-job/drift.js';
import type { DriftMethod } from '../../drift-job/stats/drift-methods.js';
import { Random } from '../../trainer-job/random.js';

/**
 * Our drift statistics against Evidently 0.7 itself, on random datasets covering every default
 * path (≤ 1,000 and > 1,000 reference rows; numerical, low-cardinality numerical, categorical,
 * binary; missing values; unseen categories; KS exact and asymptotic) and the per-column overrides.
 */

const SCRIPT = new URL('./evidently_drift.py', import.meta.url).pathname;

/** Evidently's interpreter (hack/python-env evidently, found through MLCYCLE_VENV_EVIDENTLY). */
function evidentlyPython(): string {
  const env = pythonEnv('evidently');
  if ('missing' in env) throw new Error(`Evidently's Python environment is missing: ${env.missing}`);
  return env.python;
}

/** The trainer's seeded generator (mulberry32), so every run checks the same datasets. */
function rng(seed: number): () => number {
  const random = new Random(seed);
  return () => random.next();
}

type Gen = (r: () => number) => number | string | null;

const normal =
  (mean: number, sd: number): Gen =>
  (r) =>
    mean + sd * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const pick =
  <T extends number | string>(values: T[], weights?: number[]): Gen =>
  (r) => {
    const w = weights ?? values.map(() => 1);
    let u = r() * w.reduce((a, b) => a + b, 0);
    for (let i = 0; i < values.length; i++) {
      u -= w[i]!;
      if (u < 0) return values[i]!;
    }
    return values[values.length - 1]!;
  };
const withMissing =
  (share: number, g: Gen): Gen =>
  (r) =>
    r() < share ? null : g(r);
const range21 = (): number[] => Array.from({ length: 21 }, (_, i) => i);
const round =
  (g: Gen, digits: number): Gen =>
  (r) => {
    const v = g(r);
    return typeof v === 'number' ? Number(v.toFixed(digits)) : v;
  };

interface ColumnCase {
  name: string;
  kind: 'num' | 'cat';
  integer?: boolean;
  ref: Gen;
  cur: Gen;
  method?: DriftMethod;
  threshold?: number;
}

interface Case {
  name: string;
  seed: number;
  refRows: number;
  curRows: number;
  columns: ColumnCase[];
  driftShare?: number;
}

const CASES: Case[] = [
  {
    name: 'small reference: KS, chi-squared, Z; missing values and an unseen category',
    seed: 1,
    refRows: 300,
    curRows: 420,
    columns: [
      { name: 'x_shift', kind: 'num', ref: normal(0, 1), cur: normal(0.3, 1) },
      { name: 'x_same', kind: 'num', ref: normal(5, 2), cur: normal(5, 2) },
      {
        name: 'x_missing',
        kind: 'num',
        ref: withMissing(0.2, normal(0, 1)),
        cur: withMissing(0.4, normal(0, 1.3)),
      },
      {
        name: 'int_wide',
        kind: 'num',
        integer: true,
        ref: round(normal(50, 10), 0),
        cur: round(normal(53, 10), 0),
      },
      {
        name: 'low_card',
        kind: 'num',
        integer: true,
        ref: pick([1, 2, 3, 4]),
        cur: pick([1, 2, 3, 4], [1, 1, 1, 2]),
      },
      {
        name: 'binary_num',
        kind: 'num',
        integer: true,
        ref: pick([0, 1], [3, 1]),
        cur: pick([0, 1], [1, 1]),
      },
      {
        name: 'cat',
        kind: 'cat',
        ref: pick(['a', 'b', 'c', 'd', 'e']),
        cur: pick(['a', 'b', 'c', 'd', 'e', 'zz_new'], [5, 5, 5, 5, 5, 1]),
      },
      { name: 'cat_same', kind: 'cat', ref: pick(['p', 'q', 'r']), cur: pick(['p', 'q', 'r']) },
      {
        name: 'flag',
        kind: 'cat',
        ref: withMissing(0.1, pick(['yes', 'no'])),
        cur: pick(['yes', 'no'], [3, 2]),
      },
    ],
  },
  {
    name: 'equal sample sizes (KS exact, square lattice)',
    seed: 2,
    refRows: 500,
    curRows: 500,
    columns: [
      { name: 'a', kind: 'num', ref: normal(0, 1), cur: normal(0.15, 1) },
      { name: 'b', kind: 'num', ref: round(normal(0, 1), 1), cur: round(normal(0, 1.1), 1) },
      { name: 'c', kind: 'cat', ref: pick(['x', 'y', 'z']), cur: pick(['x', 'y', 'z'], [2, 1, 1]) },
    ],
  },
  {
    name: 'small reference, large current (KS asymptotic via the Kolmogorov distribution)',
    seed: 3,
    refRows: 800,
    curRows: 12_000,
    columns: [
      { name: 'a', kind: 'num', ref: normal(0, 1), cur: normal(0.05, 1) },
      { name: 'b', kind: 'num', ref: normal(0, 1), cur: normal(0, 1) },
      { name: 'c', kind: 'num', ref: normal(0, 1), cur: normal(0.5, 1) },
      { name: 'd', kind: 'cat', ref: pick(['u', 'v']), cur: pick(['u', 'v'], [1, 1.1]) },
    ],
  },
  {
    name: 'large reference: Wasserstein and Jensen-Shannon, unseen categories, missing values',
    seed: 4,
    refRows: 5000,
    curRows: 8000,
    columns: [
      { name: 'w_shift', kind: 'num', ref: normal(10, 3), cur: normal(10.5, 3) },
      { name: 'w_same', kind: 'num', ref: normal(10, 3), cur: normal(10, 3) },
      {
        name: 'w_missing',
        kind: 'num',
        ref: withMissing(0.3, normal(0, 1)),
        cur: withMissing(0.1, normal(0, 1.4)),
      },
      {
        name: 'w_const',
        kind: 'num',
        ref: pick([7, 7, 7, 7, 7, 7, 8, 9, 10, 11]),
        cur: pick([7, 8, 9, 10, 11, 12]),
      },
      {
        name: 'low_card',
        kind: 'num',
        integer: true,
        ref: pick([0, 1, 2]),
        cur: pick([0, 1, 2], [1, 1, 1.5]),
      },
      { name: 'binary', kind: 'num', integer: true, ref: pick([0, 1]), cur: pick([0, 1], [3, 2]) },
      {
        name: 'airport',
        kind: 'cat',
        ref: pick(Array.from({ length: 40 }, (_, i) => `A${i}`)),
        cur: pick([...Array.from({ length: 40 }, (_, i) => `A${i}`), 'NEW1', 'NEW2']),
      },
      {
        name: 'cat_missing',
        kind: 'cat',
        ref: withMissing(0.25, pick(['r', 's', 't'])),
        cur: withMissing(0.05, pick(['r', 's', 't'])),
      },
    ],
  },
  {
    name: 'large reference, overrides: PSI, JS on binned numbers, KS, chi-squared, Z, thresholds',
    seed: 5,
    refRows: 3000,
    curRows: 2500,
    driftShare: 0.3,
    columns: [
      { name: 'psi_num', kind: 'num', method: 'psi', ref: normal(0, 1), cur: normal(0.2, 1.1) },
      {
        name: 'psi_int',
        kind: 'num',
        integer: true,
        method: 'psi',
        ref: round(normal(100, 15), 0),
        cur: round(normal(100, 15), 0),
      },
      { name: 'js_num', kind: 'num', method: 'jensenshannon', ref: normal(0, 1), cur: normal(0.4, 1) },
      {
        name: 'js_int',
        kind: 'num',
        integer: true,
        method: 'jensenshannon',
        threshold: 0.05,
        ref: round(normal(40, 8), 0),
        cur: round(normal(41, 8), 0),
      },
      { name: 'ks_num', kind: 'num', method: 'ks', threshold: 0.01, ref: normal(0, 1), cur: normal(0.05, 1) },
      {
        name: 'w_thr',
        kind: 'num',
        method: 'wasserstein',
        threshold: 0.02,
        ref: normal(0, 1),
        cur: normal(0.03, 1),
      },
      {
        name: 'psi_cat',
        kind: 'cat',
        method: 'psi',
        ref: pick(['a', 'b', 'c', 'd']),
        cur: pick(['a', 'b', 'c', 'd', 'e'], [3, 3, 3, 3, 1]),
      },
      {
        name: 'chi_cat',
        kind: 'cat',
        method: 'chisquare',
        ref: pick(['a', 'b', 'c', 'd']),
        cur: pick(['a', 'b', 'c', 'd'], [1, 1, 1, 1.2]),
      },
      { name: 'z_cat', kind: 'cat', method: 'z', ref: pick(['t', 'f']), cur: pick(['t', 'f'], [1, 1.08]) },
    ],
  },
  {
    name: 'over 2^19 values: NumPy integer bins (width ≥ 1) for PSI and JS; few values with an unseen one',
    seed: 7,
    refRows: 3000,
    curRows: 600_000,
    columns: [
      {
        name: 'int21_psi',
        kind: 'num',
        integer: true,
        method: 'psi',
        ref: pick(range21()),
        cur: pick(
          range21(),
          range21().map((v: number) => 1 + v / 20),
        ),
      },
      {
        name: 'int21_js',
        kind: 'num',
        integer: true,
        method: 'jensenshannon',
        ref: pick(range21()),
        cur: pick(range21()),
      },
      {
        name: 'few_js',
        kind: 'num',
        integer: true,
        method: 'jensenshannon',
        ref: pick([0, 1, 2, 3, 4]),
        cur: pick([0, 1, 2, 3, 4, 5]),
      },
      {
        name: 'few_psi_missing',
        kind: 'num',
        method: 'psi',
        ref: withMissing(0.1, pick([0.5, 1.5, 2.5])),
        cur: withMissing(0.3, pick([0.5, 1.5, 2.5, 3.5])),
      },
    ],
  },
  {
    name: 'no drift: two samples of one distribution, both sizes',
    seed: 6,
    refRows: 1500,
    curRows: 1200,
    columns: [
      { name: 'a', kind: 'num', ref: normal(3, 1), cur: normal(3, 1) },
      { name: 'b', kind: 'cat', ref: pick(['x', 'y', 'z', 'w']), cur: pick(['x', 'y', 'z', 'w']) },
      { name: 'c', kind: 'num', integer: true, ref: pick([1, 2, 3, 4, 5]), cur: pick([1, 2, 3, 4, 5]) },
    ],
  },
];

function generate(c: Case): { ref: (number | string | null)[][]; cur: (number | string | null)[][] } {
  const r = rng(c.seed);
  const side = (rows: number, key: 'ref' | 'cur') =>
    Array.from({ length: rows }, () => c.columns.map((col) => col[key](r)));
  return { ref: side(c.refRows, 'ref'), cur: side(c.curRows, 'cur') };
}

function toCsv(columns: ColumnCase[], rows: (number | string | null)[][]): string {
  const lines = [columns.map((c) => c.name).join(',')];
  for (const row of rows) lines.push(row.map((v) => (v === null ? '' : String(v))).join(','));
  return `${lines.join('\n')}\n`;
}

function toTable(columns: ColumnCase[], rows: (number | string | null)[][]): Table {
  const out: Record<string, Column> = {};
  columns.forEach((col, k) => {
    if (col.kind === 'num') {
      out[col.name] = {
        kind: 'number',
        values: Float64Array.from(rows, (row) => (row[k] === null ? Number.NaN : (row[k] as number))),
      };
    } else {
      const dictionary: string[] = [];
      const index = new Map<string, number>();
      const codes = Int32Array.from(rows, (row) => {
        const v = row[k];
        if (v === null) return MISSING_CODE;
        const s = String(v);
        if (!index.has(s)) {
          index.set(s, dictionary.length);
          dictionary.push(s);
        }
        return index.get(s)!;
      });
      out[col.name] = { kind: 'string', codes, dictionary };
    }
  });
  return { numRows: rows.length, columns: out };
}

interface EvidentlyColumn {
  method: string;
  threshold: number;
  score: number | null;
  drifted: boolean;
}

interface EvidentlyResult {
  columns: Record<string, EvidentlyColumn>;
  drifted_count: number;
  drift_share: number;
  dataset_drift: boolean;
}

function specOf(c: Case): Record<string, unknown> {
  return {
    columns: Object.fromEntries(c.columns.map((x) => [x.name, x.kind])),
    drift_share: c.driftShare ?? 0.5,
    per_column_method: Object.fromEntries(c.columns.filter((x) => x.method).map((x) => [x.name, x.method])),
    per_column_threshold: Object.fromEntries(
      c.columns.filter((x) => x.threshold !== undefined).map((x) => [x.name, x.threshold]),
    ),
  };
}

function compare(
  c: Case,
  evidently: EvidentlyResult,
  ref: (number | string | null)[][],
  cur: (number | string | null)[][],
): void {
  const specs: DriftColumnSpec[] = c.columns.map((x) => ({
    name: x.name,
    kind: x.kind === 'num' ? 'numerical' : 'categorical',
    ...(x.method ? { method: x.method } : {}),
    ...(x.threshold !== undefined ? { threshold: x.threshold } : {}),
  }));
  const ours = datasetDrift(toTable(c.columns, ref), toTable(c.columns, cur), specs, c.driftShare ?? 0.5);
  for (const feature of ours.features) {
    const theirs = evidently.columns[feature.name]!;
    const where = `${c.name} / ${feature.name}: ours ${feature.method} ${feature.score}, Evidently ${theirs.method} ${theirs.score}`;
    expect(feature.method, where).toBe(theirs.method);
    expect(feature.threshold, where).toBe(theirs.threshold);
    expect(feature.drifted, where).toBe(theirs.drifted);
    if (theirs.score === null || feature.score === null) {
      expect(feature.score, where).toBe(theirs.score);
    } else {
      expect(relDiff(feature.score, theirs.score), where).toBeLessThanOrEqual(1e-6);
    }
  }
  expect(ours.drifted, c.name).toBe(evidently.drifted_count);
  expect(relDiff(ours.drift_share, evidently.drift_share), c.name).toBeLessThanOrEqual(1e-12);
  expect(ours.dataset_drift, c.name).toBe(evidently.dataset_drift);
}

/** A random dataset shape: sizes on both sides of 1,000, random column kinds, shifts, gaps, overrides. */
function randomCase(seed: number): Case {
  const r = rng(seed);
  const choose = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const refRows = choose([40, 150, 600, 1000, 1001, 1800, 5000]);
  const curRows = choose([35, 300, 999, 2500, 12_000]);
  const columns: ColumnCase[] = [];
  const count = 3 + Math.floor(r() * 4);
  for (let i = 0; i < count; i++) {
    const kind = choose(['normal', 'uniform', 'lowcard', 'wideint', 'cat', 'binary', 'manycat'] as const);
    const shift = r() < 0.5 ? 0 : r() * 0.6;
    const missing = r() < 0.3 ? r() * 0.3 : 0;
    const name = `c${i}_${kind}`;
    let col: ColumnCase;
    switch (kind) {
      case 'normal':
        col = { name, kind: 'num', ref: normal(0, 1), cur: normal(shift, 1 + shift / 2) };
        break;
      case 'uniform':
        col = { name, kind: 'num', ref: (g) => g() * 10, cur: (g) => g() * 10 + shift * 3 };
        break;
      case 'lowcard': {
        const values = Array.from({ length: 2 + Math.floor(r() * 5) }, (_, k) => k);
        col = {
          name,
          kind: 'num',
          ref: pick(values),
          cur: pick(
            values,
            values.map((v) => 1 + v * shift),
          ),
        };
        break;
      }
      case 'wideint':
        col = { name, kind: 'num', ref: round(normal(50, 8), 0), cur: round(normal(50 + shift * 8, 8), 0) };
        break;
      case 'binary':
        col = { name, kind: 'cat', ref: pick(['yes', 'no']), cur: pick(['yes', 'no'], [1, 1 + shift]) };
        break;
      case 'cat': {
        const levels = Array.from({ length: 3 + Math.floor(r() * 6) }, (_, k) => `L${k}`);
        const unseen = r() < 0.4 ? ['NEW'] : [];
        col = {
          name,
          kind: 'cat',
          ref: pick(levels),
          cur: pick(
            [...levels, ...unseen],
            [...levels.map((_, k) => 1 + k * shift), ...unseen.map(() => 0.2)],
          ),
        };
        break;
      }
      case 'manycat': {
        const levels = Array.from({ length: 30 + Math.floor(r() * 40) }, (_, k) => `M${k}`);
        col = {
          name,
          kind: 'cat',
          ref: pick(levels),
          cur: pick(
            levels,
            levels.map((_, k) => 1 + (k % 5) * shift),
          ),
        };
        break;
      }
    }
    if (missing > 0) col = { ...col, ref: withMissing(missing, col.ref), cur: withMissing(missing, col.cur) };
    if (r() < 0.3) {
      const options: DriftMethod[] =
        col.kind === 'num'
          ? ['ks', 'wasserstein', 'jensenshannon', 'psi']
          : ['chisquare', 'z', 'jensenshannon', 'psi'];
      const method = choose(options);
      col = { ...col, method };
      if (r() < 0.4) col = { ...col, threshold: choose([0.01, 0.03, 0.2]) };
    }
    columns.push(col);
  }
  return {
    name: `random case ${seed} (${refRows} vs ${curRows} rows)`,
    seed,
    refRows,
    curRows,
    columns,
    driftShare: choose([0.3, 0.5, 0.75]),
  };
}

function relDiff(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}

const dir = mkdtempSync(join(tmpdir(), 'mlcycle-parity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('drift statistics equal Evidently 0.7 DataDriftPreset', () => {
  for (const c of CASES) {
    it(c.name, { timeout: 180_000 }, async () => {
      const { ref, cur } = generate(c);
      const refPath = join(dir, `ref-${c.seed}.csv`);
      const curPath = join(dir, `cur-${c.seed}.csv`);
      const specPath = join(dir, `spec-${c.seed}.json`);
      writeFileSync(refPath, toCsv(c.columns, ref));
      writeFileSync(curPath, toCsv(c.columns, cur));
      writeFileSync(specPath, JSON.stringify(specOf(c)));
      // Asynchronously: a blocking child would stall the test worker's heartbeat.
      const { stdout } = await promisify(execFile)(
        evidentlyPython(),
        [SCRIPT, '--reference', refPath, '--current', curPath, '--spec', specPath],
        { encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      const evidently = JSON.parse(stdout) as EvidentlyResult;
      expect(Object.keys(evidently.columns).sort()).toEqual(c.columns.map((x) => x.name).sort());
      compare(c, evidently, ref, cur);
    });
  }

  it('random datasets of random shapes (seeded), in one Evidently process', {
    timeout: 300_000,
  }, async () => {
    // MLCYCLE_PARITY_SEED picks another family of datasets (e.g. in a nightly run).
    const base = Number(process.env.MLCYCLE_PARITY_SEED ?? 1000);
    const cases = Array.from({ length: 40 }, (_, k) => randomCase(base + k));
    const jobs = cases.map((c) => {
      const { ref, cur } = generate(c);
      const reference = join(dir, `fuzz-ref-${c.seed}.csv`);
      const current = join(dir, `fuzz-cur-${c.seed}.csv`);
      writeFileSync(reference, toCsv(c.columns, ref));
      writeFileSync(current, toCsv(c.columns, cur));
      return { reference, current, spec: specOf(c), ref, cur };
    });
    const batch = join(dir, 'fuzz-jobs.json');
    writeFileSync(
      batch,
      JSON.stringify(jobs.map(({ reference, current, spec }) => ({ reference, current, spec }))),
    );
    const { stdout } = await promisify(execFile)(evidentlyPython(), [SCRIPT, '--batch', batch], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const results = JSON.parse(stdout) as EvidentlyResult[];
    let compared = 0;
    cases.forEach((c, k) => {
      compare(c, results[k]!, jobs[k]!.ref, jobs[k]!.cur);
      compared += c.columns.length;
    });
    expect(compared).toBeGreaterThan(120);
  });

  it('covered every method and both decisions', () => {
    const methods = new Set<string>();
    const decisions = new Set<boolean>();
    for (const c of CASES) {
      const { ref, cur } = generate(c);
      const specs: DriftColumnSpec[] = c.columns.map((x) => ({
        name: x.name,
        kind: x.kind === 'num' ? 'numerical' : 'categorical',
        ...(x.method ? { method: x.method } : {}),
      }));
      for (const f of datasetDrift(toTable(c.columns, ref), toTable(c.columns, cur), specs).features) {
        methods.add(f.method!);
        decisions.add(f.drifted);
      }
    }
    expect([...methods].sort()).toEqual(['chisquare', 'jensenshannon', 'ks', 'psi', 'wasserstein', 'z']);
    expect([...decisions].sort()).toEqual([false, true]);
  });
});
