import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { type AsyncBuffer, asyncBufferFromFile } from 'hyparquet';
import type { Pool } from '../db/index.js';
import { DataError, errorMessage } from '../errors.js';
import { openObjectStore, parseS3Uri, type S3SettingsValues } from '../object-store/index.js';
import type { ObjectStore } from '../object-store/object-store.js';
import { readBuiltinFlights } from './builtin-flights.js';
import { readParquet } from './parquet.js';
import {
  isProductionUri,
  type ProductionData,
  parseProductionUri,
  readProductionWindow,
} from './production.js';
import type { Table } from './table.js';
import { readCsv, readJson } from './text-formats.js';

export type DatasetFormat = 'parquet' | 'csv' | 'json';

export interface ReadDatasetOptions {
  /** Read only these columns (all when absent). */
  columns?: string[];
  /** Read at most this many rows, from the start. */
  limit?: number;
  /** S3 settings, for s3:// URIs. */
  s3?: S3SettingsValues;
  /** The database, for production: URIs (the prediction log and the registry). */
  pool?: Pool;
  /** The tenant whose prediction log and registry a production: URI reads (never another's). */
  namespace?: string;
}

/** The datasets shipped with mlcycle, by `builtin:` name. */
export const BUILTIN_DATASETS = ['flights'] as const;

/**
 * Reads a dataset into a columnar Table. `source` is `builtin:flights`, `s3://bucket/key`, or a
 * file path; the format comes from the extension (.parquet, .csv, .json, .ndjson, .jsonl).
 * Every failure is a DataError naming the source.
 */
export async function readDataset(source: string, options: ReadDatasetOptions = {}): Promise<Table> {
  try {
    if (source.startsWith('builtin:')) return await readBuiltin(source, options);
    if (isProductionUri(source)) return (await readProduction(source, options)).table;
    const format = formatOf(source);
    if (source.startsWith('s3://')) {
      const { bucket, key } = parseS3Uri(source);
      const store = openObjectStore(`s3://${bucket}`, options.s3);
      return await readFromStore(store, key, format, options);
    }
    await stat(source);
    if (format === 'parquet') return await readParquet(await asyncBufferFromFile(source), options);
    return await readText(createReadStream(source), format, options);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`cannot read dataset ${source}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Reads an object from a store, Parquet by ranged reads so only the needed bytes move. */
export async function readFromStore(
  store: ObjectStore,
  key: string,
  format: DatasetFormat,
  options: ReadDatasetOptions = {},
): Promise<Table> {
  if (format === 'parquet') {
    const byteLength = await store.size(key);
    const file: AsyncBuffer = {
      byteLength,
      slice: async (start, end) => {
        const buffer = await store.getRange(key, start, (end ?? byteLength) - start);
        return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
      },
    };
    return readParquet(file, options);
  }
  return readText(Readable.from([await store.get(key)]), format, options);
}

/** A production window (core/dataset/production.ts), its original dataset read here. */
export async function readProduction(source: string, options: ReadDatasetOptions): Promise<ProductionData> {
  if (!options.pool)
    throw new DataError(`${source} is read from the prediction log: it needs a database URL`);
  if (!options.namespace) throw new Error(`${source} is read in a namespace: none was given`);
  const { s3 } = options;
  return readProductionWindow(options.pool, parseProductionUri(source), {
    namespace: options.namespace,
    s3,
    readOriginal: (uri) => readDataset(uri, s3 ? { s3 } : {}),
  });
}

function readText(input: Readable, format: 'csv' | 'json', options: ReadDatasetOptions): Promise<Table> {
  return format === 'csv' ? readCsv(input, options) : readJson(input, options);
}

async function readBuiltin(source: string, options: ReadDatasetOptions): Promise<Table> {
  const name = source.slice('builtin:'.length);
  if (name === 'flights') return readBuiltinFlights(options);
  throw new DataError(
    `unknown builtin dataset ${JSON.stringify(source)}: expected one of builtin:${BUILTIN_DATASETS.join(', builtin:')}`,
  );
}

export function formatOf(source: string): DatasetFormat {
  const lower = source.toLowerCase().replace(/\?.*$/, '');
  if (lower.endsWith('.parquet') || lower.endsWith('.pq')) return 'parquet';
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.json') || lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'json';
  throw new DataError(
    `cannot tell the format of ${source}: expected a .parquet, .csv, .json, .ndjson or .jsonl file`,
  );
}
