import { hostname } from 'node:os';
import type { Pool } from './db/index.js';
import { errorMessage } from './errors.js';
import type { ObjectStore } from './object-store/index.js';
import { insertPredictionLogRows, PredictionLogRow } from './prediction-log.js';

/**
 * Prediction log rows a server could not write before it stopped (PostgreSQL unreachable for
 * the whole shutdown) leave the Pod in the object store, so they outlive the Pod and its
 * emptyDir: one NDJSON object per spill file under the spill location. The next server of the
 * deployment — or the drift job, if none runs — imports them. An object is deleted only after
 * all of its rows are in PostgreSQL; a crash in between sends some twice, which the unique
 * (model, version, prediction id) key turns into no-ops.
 */

const INSERT_ROWS = 2_000;

/** The object key of a local spill file: unique per Pod (its hostname) and process. */
export function spillObjectKey(fileName: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '_');
  return `${stamp}-${host}-${process.pid}-${fileName}`;
}

/**
 * The rows of one spill file or object. A torn last line (a crash mid-append) was never
 * acknowledged and is skipped, as is anything that is not a row (counted in `invalid`).
 */
export function parseSpilledRows(text: string): { rows: PredictionLogRow[]; invalid: number } {
  const rows: PredictionLogRow[] = [];
  let invalid = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      invalid++;
      continue;
    }
    // Rows spilled by a server from before prediction ids lack them (see predictionLogParams).
    const parsed = SpilledRow.safeParse(value);
    if (parsed.success) rows.push(parsed.data as PredictionLogRow);
    else invalid++;
  }
  return { rows, invalid };
}

// Rows spilled before namespaces existed have none; the importer's namespace is theirs anyway.
const SpilledRow = PredictionLogRow.partial({ predictionId: true, recordIndex: true, namespace: true });

export interface SpillImport {
  objects: number;
  rows: number;
  /** Lines that were not rows (skipped). */
  invalid: number;
}

/**
 * Imports every spilled object in `store` into PostgreSQL, as rows of `namespace`, oldest first, deleting each once its
 * rows are written. Throws on the first failure (the object stays for the next attempt).
 */
export async function importSpilledRows(
  store: ObjectStore,
  pool: Pool,
  namespace: string,
): Promise<SpillImport> {
  const done: SpillImport = { objects: 0, rows: 0, invalid: 0 };
  for (const key of await store.list('')) {
    if (!key.endsWith('.ndjson')) continue;
    const parsed = parseSpilledRows((await store.get(key)).toString('utf8'));
    // A spill location belongs to one deployment, so to one namespace: what it holds is that
    // namespace's rows, whatever a row says.
    const rows = parsed.rows.map((r) => ({ ...r, namespace }));
    const { invalid } = parsed;
    for (let i = 0; i < rows.length; i += INSERT_ROWS) {
      await insertPredictionLogRows(pool, rows.slice(i, i + INSERT_ROWS));
    }
    await store.delete(key);
    done.objects++;
    done.rows += rows.length;
    done.invalid += invalid;
  }
  return done;
}

/**
 * Uploads local spill files to `store`, each as one object, deleting a file once its object is
 * written. Returns how many rows left the Pod and the files it could not upload (kept).
 */
export async function uploadSpillFiles(
  store: ObjectStore,
  files: readonly { name: string; text: string; rows: number }[],
  remove: (name: string) => void,
): Promise<{ uploaded: number; failed: { name: string; error: string }[] }> {
  let uploaded = 0;
  const failed: { name: string; error: string }[] = [];
  for (const file of files) {
    try {
      await store.put(spillObjectKey(file.name), file.text, 'application/x-ndjson');
      remove(file.name);
      uploaded += file.rows;
    } catch (err) {
      failed.push({ name: file.name, error: errorMessage(err) });
    }
  }
  return { uploaded, failed };
}
