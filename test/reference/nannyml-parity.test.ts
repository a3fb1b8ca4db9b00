import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonEnv } from '../../bench/python-env.js';
import { readDataset, type Table, writeParquet } from '../../core/dataset/index.js';
import {
  CBPE_METRICS,
  type CbpeMetric,
  estimateWindow,
  fitCbpe,
  type LabelledOutputs,
} from '../../drift-job/stats/cbpe.js';
import { Random } from '../../trainer-job/random.js';
import { calibratedWindow, concat, type Outputs, SHIFTS } from '../fixtures/cbpe-data.js';

/**
 * Our CBPE (drift-job/stats/cbpe.ts) against NannyML 0.13.1's, run from its own Python
 * environment (hack/python-env nannyml, found through MLCYCLE_VENV_NANNYML). Both see the same
 * reference and the same analysis rows, chunked alike; per chunk the estimated ROC AUC and
 * accuracy must agree within 0.005 (observed: ~1e-12) and every metric's alert decision must be
 * the same. NannyML gets its NoopCalibrator: the probabilities are already calibrated (mlcycle
 * calibrates in the model graph), so neither side calibrates again.
 */

const SCRIPT = new URL('./nannyml_cbpe.py', import.meta.url).pathname;
const TOLERANCE = 0.005;

interface NannymlChunk {
  rows: number;
  metrics: Record<
    CbpeMetric,
    {
      estimated: number | null;
      sampling_error: number | null;
      lower_threshold: number | null;
      upper_threshold: number | null;
      alert: boolean;
    }
  >;
}

function nannymlPython(): string {
  const env = pythonEnv('nannyml');
  if ('missing' in env) throw new Error(`NannyML's Python environment is missing: ${env.missing}`);
  return env.python;
}

function table(o: Outputs, withTarget: boolean): Table {
  return {
    numRows: o.probability.length,
    columns: {
      probability: { kind: 'number', values: o.probability },
      prediction: { kind: 'number', values: o.prediction },
      ...(withTarget ? { target: { kind: 'number' as const, values: o.target } } : {}),
    },
  };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mlcycle-nannyml-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function nannyml(reference: Outputs, analysis: Outputs, chunkRows: number): Promise<NannymlChunk[]> {
  const ref = join(dir, 'reference.parquet');
  const cur = join(dir, 'analysis.parquet');
  writeFileSync(ref, writeParquet(table(reference, true)));
  writeFileSync(cur, writeParquet(table(analysis, false)));
  const { stdout } = await promisify(execFile)(nannymlPython(), [SCRIPT, ref, cur, String(chunkRows)], {
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NML_DISABLE_USAGE_LOGGING: '1' },
  });
  const parsed = JSON.parse(stdout) as { nannyml: string; chunks: NannymlChunk[] };
  expect(parsed.nannyml).toBe('0.13.1');
  return parsed.chunks;
}

function ours(reference: LabelledOutputs, analysis: Outputs, chunkRows: number) {
  const fit = fitCbpe(reference, chunkRows);
  const out = [];
  for (let start = 0; start < analysis.probability.length; start += chunkRows) {
    const end = Math.min(analysis.probability.length, start + chunkRows);
    out.push(
      estimateWindow(fit, {
        probability: analysis.probability.subarray(start, end),
        prediction: analysis.prediction.subarray(start, end),
      }),
    );
  }
  return out;
}

/** Compares chunk by chunk; returns the alert count so a test can insist some chunk alerted. */
function compare(theirs: NannymlChunk[], mine: ReturnType<typeof ours>): { alerts: number; worst: number } {
  expect(mine.length).toBe(theirs.length);
  let alerts = 0;
  let worst = 0;
  theirs.forEach((chunk, k) => {
    for (const e of mine[k]!) {
      const t = chunk.metrics[e.metric];
      if (e.metric === 'roc_auc' || e.metric === 'accuracy') {
        const diff = Math.abs(e.estimated - (t.estimated as number));
        worst = Math.max(worst, diff);
        expect(
          diff,
          `chunk ${k} ${e.metric}: ours ${e.estimated}, NannyML ${t.estimated}`,
        ).toBeLessThanOrEqual(TOLERANCE);
      }
      expect(e.alert, `chunk ${k} ${e.metric} alert`).toBe(t.alert);
      expect(e.lowerThreshold ?? null).toBeCloseTo(t.lower_threshold ?? Number.NaN, 9);
      if (e.alert) alerts++;
    }
  });
  return { alerts, worst };
}

describe('CBPE against NannyML 0.13.1', () => {
  it('generated data with covariate shift: same estimates, bands and alerts', async () => {
    const reference = calibratedWindow(20_000, { mean: 0, scale: 1 }, 11);
    const analysis = concat(SHIFTS.map((s, k) => calibratedWindow(2_000, s, 200 + k)));
    const theirs = await nannyml(reference, analysis, 2_000);
    const mine = ours(reference, analysis, 2_000);
    const { alerts, worst } = compare(theirs, mine);
    // Continuous probabilities (no ties): the sampling errors agree too.
    theirs.forEach((chunk, k) => {
      for (const e of mine[k]!) {
        expect(e.samplingError, `chunk ${k} ${e.metric}`).toBeCloseTo(
          chunk.metrics[e.metric].sampling_error!,
          9,
        );
      }
    });
    expect(alerts).toBeGreaterThan(0);
    expect(alerts).toBeLessThan(SHIFTS.length * CBPE_METRICS.length);
    console.log(`generated: largest ROC AUC/accuracy difference ${worst.toExponential(2)}, ${alerts} alerts`);
  }, 180_000);

  it('flights: a delay-rate lookup model fitted on January, February as reference, March–June', async () => {
    const { reference, analysis } = await flightsOutputs();
    const theirs = await nannyml(reference, analysis, 5_000);
    const mine = ours(reference, analysis, 5_000);
    const { alerts, worst } = compare(theirs, mine);
    expect(alerts).toBeGreaterThan(0);
    console.log(`flights: largest ROC AUC/accuracy difference ${worst.toExponential(2)}, ${alerts} alerts`);
  }, 300_000);
});

/**
 * A plain model of flight delays (no trainer needed): the January delay rate of each origin ×
 * scheduled hour (smoothed towards the airport's rate), which is close to calibrated in
 * January. The reference is a 20,000-row sample of February with its outcomes (delay ≥ 15 min);
 * the analysis 10,000 rows of each month from March to June, in month order.
 */
async function flightsOutputs(): Promise<{ reference: Outputs; analysis: Outputs }> {
  const flights = await readDataset('builtin:flights', { columns: ['date', 'origin', 'delay'] });
  const date = (flights.columns.date as { values: Float64Array }).values;
  const delay = (flights.columns.delay as { values: Float64Array }).values;
  const origin = flights.columns.origin as { codes: Int32Array; dictionary: string[] };
  const byMonth: number[][] = Array.from({ length: 6 }, () => []);
  for (let i = 0; i < flights.numRows; i++) byMonth[new Date(date[i]!).getUTCMonth()]?.push(i);
  const key = (i: number) => origin.codes[i]! * 24 + new Date(date[i]!).getUTCHours();
  const late = (i: number) => (delay[i]! >= 15 ? 1 : 0);
  const cells = new Map<number, [number, number]>();
  const airports = new Map<number, [number, number]>();
  for (const i of byMonth[0]!) {
    for (const [m, k] of [
      [cells, key(i)],
      [airports, origin.codes[i]!],
    ] as const) {
      const c = m.get(k) ?? [0, 0];
      c[0] += late(i);
      c[1] += 1;
      m.set(k, c);
    }
  }
  const probability = (i: number) => {
    const a = airports.get(origin.codes[i]!) ?? [0.2, 1];
    const prior = a[0] / a[1];
    const c = cells.get(key(i)) ?? [0, 0];
    return (c[0] + 20 * prior) / (c[1] + 20);
  };
  const outputs = (rows: number[]): Outputs => ({
    probability: Float64Array.from(rows, probability),
    prediction: Float64Array.from(rows, (i) => (probability(i) >= 0.3 ? 1 : 0)),
    target: Float64Array.from(rows, late),
  });
  const sample = (rows: number[], n: number, seed: number) =>
    new Random(seed).shuffle(rows.slice()).slice(0, n);
  return {
    reference: outputs(sample(byMonth[1]!, 20_000, 1)),
    analysis: concat([2, 3, 4, 5].map((m) => outputs(sample(byMonth[m]!, 10_000, m)))),
  };
}
