/**
 * What estimating quality before labels (CBPE) adds to a drift run. Prints figures; asserts
 * nothing about speed.
 *
 *   npm run build && node dist/bench/drift-estimate.js [--current 1000000] [--reference 100000] [--repeats 5]
 *
 * A binary classifier on the flights data (the January delay rate of each origin × scheduled hour,
 * its outputs `probability` and `prediction` beside the request features), 1,000,000 current rows
 * against a 100,000-row January–February reference with labels. The same run with and without the
 * estimate, interleaved, on fresh copies of the tables (the drift statistics memoise their sorts
 * per column), in one process:
 *   1. analyze(): drift + prediction drift + summary (+ the estimate);
 *   2. the whole job on the two Parquet files: read, analyse, decide, write report.html/json.
 * Printed: medians, the ratio with/without, and the load average (the machine is shared).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Column, readDataset, type Table, takeRows, writeParquet } from '../core/dataset/index.js';
import { createFeatureSchema, type FeatureSchema, serializeFeatureSchema } from '../core/feature-schema.js';
import { analyze } from '../drift-job/analyze.js';
import { runDriftJob } from '../drift-job/job.js';

const NUMERIC = ['distance', 'origin_lat', 'origin_lon', 'dest_lat', 'dest_lon'];
const CATEGORIES = ['origin', 'destination', 'origin_state', 'dest_state'];

function schema(): FeatureSchema {
  return createFeatureSchema({
    schemaVersion: 1,
    task: 'binary-classification',
    target: { name: 'late', type: 'boolean', description: 'arrived 15 minutes late or more' },
    features: [
      { name: 'date', type: 'timestamp', nullable: false, description: '' },
      ...NUMERIC.map((name) => ({ name, type: 'number' as const, nullable: true, description: '' })),
      ...CATEGORIES.map((name) => ({
        name,
        type: 'category' as const,
        nullable: true,
        categories: [],
        description: '',
      })),
    ],
  });
}

function lcgSample(n: number, size: number, seed: number): Uint32Array {
  const idx = Uint32Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = i + (s % (n - i));
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx.slice(0, size).sort();
}

/** The model: January's late rate per origin × scheduled hour, smoothed towards the origin's. */
function lookupModel(flights: Table): (row: number) => number {
  const date = (flights.columns.date as { values: Float64Array }).values;
  const delay = (flights.columns.delay as { values: Float64Array }).values;
  const origin = flights.columns.origin as { codes: Int32Array };
  const cell = new Map<number, [number, number]>();
  const airport = new Map<number, [number, number]>();
  const add = (m: Map<number, [number, number]>, k: number, late: number) => {
    const c = m.get(k) ?? [0, 0];
    c[0] += late;
    c[1] += 1;
    m.set(k, c);
  };
  const key = (i: number) => origin.codes[i]! * 24 + new Date(date[i]!).getUTCHours();
  for (let i = 0; i < flights.numRows; i++) {
    if (new Date(date[i]!).getUTCMonth() !== 0) continue;
    const late = delay[i]! >= 15 ? 1 : 0;
    add(cell, key(i), late);
    add(airport, origin.codes[i]!, late);
  }
  return (i) => {
    const a = airport.get(origin.codes[i]!) ?? [0.2, 1];
    const c = cell.get(key(i)) ?? [0, 0];
    return (c[0] + (20 * a[0]) / a[1]) / (c[1] + 20);
  };
}

function withOutputs(flights: Table, rows: Uint32Array, p: (row: number) => number, labels: boolean): Table {
  const t = takeRows(flights, rows);
  const delay = (flights.columns.delay as { values: Float64Array }).values;
  const probability = Float64Array.from(rows, p);
  const { delay: _dropped, ...features } = t.columns;
  const columns: Record<string, Column> = {
    ...features,
    probability: { kind: 'number', values: probability },
    prediction: { kind: 'number', values: probability.map((v) => (v >= 0.3 ? 1 : 0)) },
  };
  if (labels)
    columns.late = { kind: 'boolean', values: Float64Array.from(rows, (r) => (delay[r]! >= 15 ? 1 : 0)) };
  return { numRows: t.numRows, columns };
}

async function prepare(dir: string, referenceRows: number, currentRows: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const flights = await readDataset('builtin:flights', {
    columns: ['date', 'delay', ...NUMERIC, ...CATEGORIES],
  });
  const model = lookupModel(flights);
  const date = (flights.columns.date as { values: Float64Array }).values;
  const early: number[] = [];
  for (let i = 0; i < flights.numRows; i++) if (new Date(date[i]!).getUTCMonth() < 2) early.push(i);
  const refRows = lcgSample(early.length, referenceRows, 7).map((k) => early[k]!);
  const curRows = lcgSample(flights.numRows, currentRows, 11);
  await writeFile(join(dir, 'reference.parquet'), writeParquet(withOutputs(flights, refRows, model, true)));
  await writeFile(join(dir, 'current.parquet'), writeParquet(withOutputs(flights, curRows, model, false)));
  await writeFile(join(dir, 'schema.json'), serializeFeatureSchema(schema()));
}

/** A deep copy, so no memoised sort of an earlier run is reused. */
function fresh(t: Table): Table {
  const columns: Record<string, Column> = {};
  for (const [name, c] of Object.entries(t.columns)) {
    columns[name] =
      c.kind === 'string'
        ? { kind: 'string', codes: c.codes.slice(), dictionary: c.dictionary }
        : { kind: c.kind, values: c.values.slice() };
  }
  return { numRows: t.numRows, columns };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeIt(f: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      current: { type: 'string', default: '1000000' },
      reference: { type: 'string', default: '100000' },
      repeats: { type: 'string', default: '5' },
      dir: { type: 'string', default: join(tmpdir(), 'mlcycle-bench-estimate') },
    },
  });
  const currentRows = Number(values.current);
  const referenceRows = Number(values.reference);
  const repeats = Number(values.repeats);
  const dir = `${values.dir}-${referenceRows}-${currentRows}`;
  await prepare(dir, referenceRows, currentRows);
  const reference = await readDataset(join(dir, 'reference.parquet'));
  const current = await readDataset(join(dir, 'current.parquet'));
  const options = (estimate: boolean) => ({
    schema: schema(),
    driftShare: 0.5,
    minRows: 100,
    quality: { minLabels: 100, tolerance: 0.05, holdout: {} },
    estimate: estimate ? {} : (false as const),
  });
  const load0 = loadavg();
  const times = {
    analyze: { on: [] as number[], off: [] as number[] },
    job: { on: [] as number[], off: [] as number[] },
  };
  let estimated = '';
  for (let r = 0; r < repeats; r++) {
    for (const on of r % 2 === 0 ? [false, true] : [true, false]) {
      const ref = fresh(reference);
      const cur = fresh(current);
      times.analyze[on ? 'on' : 'off'].push(
        await timeIt(() => {
          const a = analyze(ref, cur, options(on));
          if (a.estimate) estimated = a.estimate.reason;
        }),
      );
      times.job[on ? 'on' : 'off'].push(
        await timeIt(() =>
          runDriftJob({
            reference: join(dir, 'reference.parquet'),
            current: join(dir, 'current.parquet'),
            out: join(dir, on ? 'out-on' : 'out-off'),
            estimate: { enabled: on },
          }),
        ),
      );
    }
  }
  const load1 = loadavg();
  const line = (what: string, t: { on: number[]; off: number[] }) =>
    `${what}: without estimate ${median(t.off).toFixed(3)} s, with ${median(t.on).toFixed(3)} s → ratio ${(median(t.on) / median(t.off)).toFixed(3)} (medians of ${repeats}, interleaved)`;
  console.log(
    `${currentRows.toLocaleString('en-US')} current rows, ${referenceRows.toLocaleString('en-US')} reference rows`,
  );
  console.log(line('1. analyze (drift + prediction drift + summary)', times.analyze));
  console.log(line('2. whole job on Parquet files (read + analyse + decide + reports)', times.job));
  console.log(`   the estimate: ${estimated}`);
  console.log(
    `   load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')} (2-core machine, shared)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
