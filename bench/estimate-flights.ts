/**
 * Estimated against realized quality on the flights data, month by month. Prints figures.
 *
 *   npm run build && node dist/bench/estimate-flights.js [--train-rows 300000] [--trials 4] [--month-rows 100000]
 *
 * Trains a model on January–February 2001 with `mlcycle train`'s own code (calibrated, as served),
 * then for each later month takes a sample of flights, scores it with the exported ONNX graph (what
 * the server would log), and runs the drift job's estimate (CBPE, fitted on the version's
 * reference.parquet) on the probabilities alone. Beside it: the realized value on the month's true
 * outcomes, the holdout value at registration, the month's delay rate and the mean predicted
 * probability — the gap between those two is the shift in the delay rate itself, which CBPE assumes
 * away (it assumes P(late | request) is what it was).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readDataset, type Table, writeParquet } from '../core/dataset/index.js';
import { type FeatureRecord, parseFeatureSchema } from '../core/feature-schema.js';
import { estimatePerformance } from '../drift-job/estimate.js';
import { CBPE_METRIC_REGISTRY } from '../drift-job/stats/cbpe.js';
import { scoreWithOnnx } from '../trainer-job/evaluate/onnx-scoring.js';
import { Random } from '../trainer-job/random.js';
import { trainModel, trainOptions } from '../trainer-job/train.js';

const MONTHS = ['March', 'April', 'May', 'June'];

function records(table: Table, rows: number[], names: string[], timestamps: Set<string>): FeatureRecord[] {
  return rows.map((r) => {
    const out: FeatureRecord = {};
    for (const name of names) {
      const c = table.columns[name]!;
      if (c.kind === 'string') out[name] = c.codes[r]! < 0 ? null : c.dictionary[c.codes[r]!]!;
      else if (timestamps.has(name)) out[name] = new Date(c.values[r]!).toISOString();
      else out[name] = Number.isFinite(c.values[r]!) ? c.values[r]! : null;
    }
    return out;
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'train-rows': { type: 'string', default: '300000' },
      trials: { type: 'string', default: '4' },
      'month-rows': { type: 'string', default: '100000' },
      // Writes the reference and each month's outputs (probability, prediction, target) as Parquet,
      // e.g. to run NannyML on the very same numbers.
      write: { type: 'string' },
    },
  });
  const t0 = performance.now();
  const trained = await trainModel(
    trainOptions({
      dataset: 'builtin:flights',
      since: new Date('2001-01-01T00:00:00Z'),
      until: new Date('2001-03-01T00:00:00Z'),
      rows: Number(values['train-rows']),
      trials: Number(values.trials),
      store: join(tmpdir(), `mlcycle-bench-estimate-flights-${process.pid}`),
      modelName: 'flights-estimate',
      version: 'v1',
      register: false,
      seed: 1,
    }),
  );
  const root = trained.artifactRoot;
  const schema = parseFeatureSchema(await readFile(join(root, 'schema.json'), 'utf8'));
  const reference = await readDataset(join(root, 'reference.parquet'));
  const modelBytes = await readFile(join(root, 'model.onnx'));
  const holdout = trained.metrics.holdout;
  const threshold = holdout.threshold!;
  const c = trained.metrics.calibrator;
  console.log(
    `trained v1 on Jan–Feb in ${((performance.now() - t0) / 1000).toFixed(0)} s: holdout ROC AUC ${holdout.roc_auc!.toFixed(4)}, accuracy ${holdout.accuracy!.toFixed(4)}, threshold ${threshold.toFixed(4)}; calibrator ${c?.method} (holdout ECE ${c?.holdout.before.ece.toFixed(4)} → ${c?.holdout.after.ece.toFixed(4)})`,
  );

  const names = schema.features.map((f) => f.name);
  const timestamps = new Set(schema.features.filter((f) => f.type === 'timestamp').map((f) => f.name));
  const flights = await readDataset('builtin:flights', { columns: [...names, 'delay'] });
  const date = (flights.columns.date as { values: Float64Array }).values;
  const delay = (flights.columns.delay as { values: Float64Array }).values;
  const byMonth: number[][] = MONTHS.map(() => []);
  for (let i = 0; i < flights.numRows; i++) byMonth[new Date(date[i]!).getUTCMonth() - 2]?.push(i);

  // The reference itself: how close the estimate is where the calibration should hold.
  const refP = (reference.columns.probability as { values: Float64Array }).values;
  const refY = (reference.columns[schema.target.name] as { values: Float64Array }).values;
  if (values.write) {
    await mkdir(values.write, { recursive: true });
    const outputs: Table = {
      numRows: reference.numRows,
      columns: {
        probability: { kind: 'number', values: refP },
        prediction: reference.columns.prediction!,
        target: { kind: 'number', values: refY },
      },
    };
    await writeFile(join(values.write, 'reference.parquet'), writeParquet(outputs));
  }
  const refE = estimatePerformance(reference, reference, { schema, metric: 'roc_auc', minRows: 100 });
  console.log(
    `reference (holdout sample, ${refP.length} rows): delay rate ${((100 * refY.reduce((a, b) => a + b, 0)) / refY.length).toFixed(1)}%, mean p ${(refP.reduce((a, b) => a + b, 0) / refP.length).toFixed(3)}, estimated ROC AUC ${refE.metrics[0]!.estimated.toFixed(4)} vs realized ${CBPE_METRIC_REGISTRY.roc_auc.realized({ probability: refP, prediction: refP, target: refY }).toFixed(4)}`,
  );
  console.log(
    '\nmonth    delay rate  mean p   holdout AUC  estimated AUC (band)          realized AUC  est. acc  realized acc  estimate verdict',
  );
  for (const [m, month] of MONTHS.entries()) {
    const rows = new Random(m + 1)
      .shuffle(byMonth[m]!.slice())
      .slice(0, Number(values['month-rows']))
      .filter((r) => Number.isFinite(delay[r]!));
    const probability = await scoreWithOnnx(modelBytes, schema, records(flights, rows, names, timestamps));
    const prediction = probability.map((p) => (p >= threshold ? 1 : 0));
    const target = Float64Array.from(rows, (r) => (delay[r]! >= 15 ? 1 : 0));
    const current: Table = {
      numRows: rows.length,
      columns: {
        probability: { kind: 'number', values: probability },
        prediction: { kind: 'number', values: prediction },
      },
    };
    if (values.write) {
      await mkdir(values.write, { recursive: true });
      const labelledTable: Table = {
        numRows: rows.length,
        columns: { ...current.columns, target: { kind: 'number', values: target } },
      };
      await writeFile(join(values.write, `${month.toLowerCase()}.parquet`), writeParquet(labelledTable));
    }
    const e = estimatePerformance(reference, current, { schema, metric: 'roc_auc', minRows: 100 });
    const est = Object.fromEntries(e.metrics.map((x) => [x.metric, x]));
    const labelled = { probability, prediction, target };
    const realizedAuc = CBPE_METRIC_REGISTRY.roc_auc.realized(labelled);
    const realizedAcc = CBPE_METRIC_REGISTRY.accuracy.realized(labelled);
    const rate = target.reduce((a, b) => a + b, 0) / target.length;
    const meanP = probability.reduce((a, b) => a + b, 0) / probability.length;
    const auc = est.roc_auc!;
    const inBand = realizedAuc >= auc.lowerBand && realizedAuc <= auc.upperBand ? 'inside' : 'outside';
    console.log(
      `${month.padEnd(8)} ${(rate * 100).toFixed(1).padStart(6)}%    ${meanP.toFixed(3)}   ${holdout.roc_auc!.toFixed(4)}       ${auc.estimated.toFixed(4)} (${auc.lowerBand.toFixed(4)}–${auc.upperBand.toFixed(4)})     ${realizedAuc.toFixed(4)} ${inBand.padEnd(7)}  ${est.accuracy!.estimated.toFixed(4)}    ${realizedAcc.toFixed(4)}        ${e.verdict} (lower threshold ${auc.lowerThreshold?.toFixed(4)})`,
    );
  }
  console.log(
    `\nload average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (figures here are quality, not speed)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
