import { z } from 'zod';
import type { Pool, PoolClient } from './db/index.js';

/**
 * The prediction log: one row per served prediction in `prediction_logs` (migration 002), the
 * true outcomes in `prediction_labels`. The inference server writes it; the drift job, the
 * production-window dataset, the demo and the benchmarks read or seed it. Rows are unique per
 * (model, version, request id): a redelivered row is a no-op, and a champion and a challenger
 * scoring the same request each keep their own row under the same request id.
 */

// ---------------------------------------------------------------------------------------------
// Row and write statement (the inference server's log writer; seeds in benchmarks and tests)
// ---------------------------------------------------------------------------------------------

/** One served prediction, as it is stored in prediction_logs. */
export const PredictionLogRow = z.object({
  modelName: z.string().min(1),
  modelVersion: z.string().min(1),
  requestId: z.string().min(1),
  /** The record as received (validated against the model's feature schema). */
  features: z.record(z.string(), z.union([z.number(), z.boolean(), z.string(), z.null()])),
  prediction: z.number(),
  /** Probability of the positive class; null for regression. */
  probability: z.number().nullable(),
  latencyMs: z.number(),
  /** Epoch milliseconds. */
  createdAt: z.number(),
});
export type PredictionLogRow = z.infer<typeof PredictionLogRow>;

// A batch travels as one JSON array expanded by jsonb_to_recordset: one parameter whatever the
// batch size, and the client's work is a single native JSON.stringify (parallel text[] arrays
// cost pg's per-element escaping: about 2.5 times the CPU per row in this process, measured).
export const INSERT_PREDICTION_LOG_SQL = `
INSERT INTO prediction_logs
  (model_name, model_version, request_id, features, prediction, probability, latency_ms, created_at)
SELECT r.n, r.v, r.i, r.f, r.p, r.q, r.l, to_timestamp(r.c / 1000.0)
FROM jsonb_to_recordset($1::jsonb) AS r(n text, v text, i text, f jsonb, p float8, q float8, l real, c float8)
ON CONFLICT (model_name, model_version, request_id) DO NOTHING`;

/** The parameters of INSERT_PREDICTION_LOG_SQL for `rows`. */
export function predictionLogParams(rows: readonly PredictionLogRow[]): [string] {
  const compact = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    compact[i] = {
      n: r.modelName,
      v: r.modelVersion,
      i: r.requestId,
      f: r.features,
      p: r.prediction,
      q: r.probability,
      l: r.latencyMs,
      c: r.createdAt,
    };
  }
  const json = JSON.stringify(compact);
  return [json.includes('\\u') ? json.replace(JSONB_UNSAFE, '$1\\ufffd') : json];
}

// PostgreSQL's jsonb cannot hold U+0000 or a lone UTF-16 surrogate (JSON.stringify escapes
// those, and only those, as \u0000 / \udXXX); a valid string feature may contain them. They
// are stored as U+FFFD rather than losing the row: the only change ever made to features "as
// received". An escape preceded by an odd number of backslashes is literal text, left alone.
const JSONB_UNSAFE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g;

/** Writes rows (a repeated (model, version, request id) is skipped); returns the rows inserted. */
export async function insertPredictionLogRows(
  db: Pool | PoolClient,
  rows: readonly PredictionLogRow[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await db.query(INSERT_PREDICTION_LOG_SQL, predictionLogParams(rows));
  return result.rowCount ?? 0;
}
