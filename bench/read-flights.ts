/**
 * How long reading builtin:flights takes and how much memory it holds: the 3M-row Parquet file
 * (ZSTD) plus the airports join, into the columnar Table every stage uses.
 * Run: npm run build && node dist/bench/read-flights.js
 */
import { readDataset } from '../core/dataset/index.js';

const rssBefore = process.memoryUsage().rss;
let peakRss = rssBefore;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

const started = performance.now();
const table = await readDataset('builtin:flights');
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);

let columnBytes = 0;
for (const column of Object.values(table.columns)) {
  columnBytes += column.kind === 'string' ? column.codes.byteLength : column.values.byteLength;
}
const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
console.log(
  `builtin:flights: ${table.numRows.toLocaleString('en-US')} rows × ${Object.keys(table.columns).length} columns`,
);
console.log(
  `read time: ${seconds.toFixed(2)} s (${Math.round(table.numRows / seconds).toLocaleString('en-US')} rows/s)`,
);
console.log(`column data: ${mb(columnBytes)}; peak RSS: ${mb(peakRss)} (process start ${mb(rssBefore)})`);
