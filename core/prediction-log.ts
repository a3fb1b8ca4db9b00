import { z } from 'zod';
import { type Column, ColumnBuilder, MISSING_CODE, type Table } from './dataset/table.js';
import type { Pool, PoolClient } from './db/index.js';
import type { Feature, FeatureSchema } from './feature-schema.js';

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
  /** The tenant (core/tenant.ts): the server's own namespace. */
  namespace: z.string().min(1),
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
  (namespace, model_name, model_version, request_id, features, prediction, probability, latency_ms, created_at)
SELECT r.s, r.n, r.v, r.i, r.f, r.p, r.q, r.l, to_timestamp(r.c / 1000.0)
FROM jsonb_to_recordset($1::jsonb) AS r(s text, n text, v text, i text, f jsonb, p float8, q float8, l real, c float8)
ON CONFLICT (namespace, model_name, model_version, request_id) DO NOTHING`;

/** The parameters of INSERT_PREDICTION_LOG_SQL for `rows`. */
export function predictionLogParams(rows: readonly PredictionLogRow[]): [string] {
  const compact = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    compact[i] = {
      s: r.namespace,
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

/** Writes rows (a repeated (namespace, model, version, request id) is skipped); returns the rows inserted. */
export async function insertPredictionLogRows(
  db: Pool | PoolClient,
  rows: readonly PredictionLogRow[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await db.query(INSERT_PREDICTION_LOG_SQL, predictionLogParams(rows));
  return result.rowCount ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Window queries (the drift job: a window of one version's logs with their labels; champion and
// challenger on the same labelled requests)
// ---------------------------------------------------------------------------------------------

export interface LogWindow {
  namespace: string;
  modelName: string;
  modelVersion: string;
  since: Date;
  until: Date;
}

export interface LoggedWindow {
  table: Table;
  /** Per feature: values that were present but not of the schema's type (read as missing). */
  invalid: Record<string, number>;
  /** Per feature: rows whose logged record lacks the key entirely. */
  absent: Record<string, number>;
}

const FETCH_ROWS = 50_000;

/** Collects one feature's values, typed by the schema. */
class FeatureColumn {
  private readonly numbers: Float64Array | undefined;
  private readonly codes: Int32Array | undefined;
  private readonly dictionary: string[] = [];
  private readonly index = new Map<string, number>();
  invalid = 0;

  constructor(
    private readonly feature: Feature,
    rows: number,
  ) {
    if (feature.type === 'category') this.codes = new Int32Array(rows).fill(MISSING_CODE);
    else this.numbers = new Float64Array(rows).fill(Number.NaN);
  }

  set(row: number, text: string | null): void {
    if (text === null) return;
    if (this.codes) {
      let code = this.index.get(text);
      if (code === undefined) {
        code = this.dictionary.length;
        this.dictionary.push(text);
        this.index.set(text, code);
      }
      this.codes[row] = code;
      return;
    }
    let v: number;
    switch (this.feature.type) {
      case 'boolean':
        v = text === 'true' ? 1 : text === 'false' ? 0 : Number.NaN;
        break;
      case 'timestamp':
        v = Date.parse(text);
        break;
      default:
        v = text.trim() === '' ? Number.NaN : Number(text);
    }
    if (Number.isNaN(v)) this.invalid++;
    this.numbers![row] = v;
  }

  build(rows: number): Column {
    if (this.codes)
      return { kind: 'string', codes: this.codes.subarray(0, rows), dictionary: this.dictionary };
    const kind =
      this.feature.type === 'boolean'
        ? 'boolean'
        : this.feature.type === 'timestamp'
          ? 'timestamp'
          : 'number';
    return { kind, values: this.numbers!.subarray(0, rows) };
  }
}

/**
 * Reads the prediction logs of one model version in [since, until), with the labels that arrived
 * through /feedback, into a Table: one column per schema feature (typed from the JSON as logged),
 * `prediction`, `probability`, and the schema's target column holding the label (NaN when none).
 * Streams through a server-side cursor, so a million rows never sit in memory as objects.
 */
export async function readLogWindow(
  pool: Pool,
  schema: FeatureSchema,
  window: LogWindow,
): Promise<LoggedWindow> {
  const params = [window.namespace, window.modelName, window.modelVersion, window.since, window.until];
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const features = schema.features;
    const keyParams = features.map((_, i) => `$${6 + i}`);
    const keys = features.map((f) => f.name);
    // One scan counts the rows and, per feature, the records that lack its key altogether.
    const { rows: counts } = await client.query({
      text: `SELECT count(*)${keyParams.map((k) => `, count(*) FILTER (WHERE NOT (features ? ${k}))`).join('')}
       FROM prediction_logs
       WHERE namespace = $1 AND model_name = $2 AND model_version = $3 AND created_at >= $4 AND created_at < $5`,
      values: [...params, ...keys],
      rowMode: 'array',
    });
    const [totalText, ...absentText] = counts[0] as string[];
    const total = Number(totalText);
    const featureSelect = keyParams.map((k) => `l.features ->> ${k}`).join(', ');
    await client.query(
      `DECLARE drift_window NO SCROLL CURSOR FOR
       SELECT l.prediction, l.probability, lb.label${featureSelect ? `, ${featureSelect}` : ''}
       FROM prediction_logs l
       LEFT JOIN prediction_labels lb
         ON lb.namespace = l.namespace AND lb.model_name = l.model_name AND lb.request_id = l.request_id
       WHERE l.namespace = $1 AND l.model_name = $2 AND l.model_version = $3
         AND l.created_at >= $4 AND l.created_at < $5`,
      [...params, ...keys],
    );
    const columns = features.map((f) => new FeatureColumn(f, total));
    const prediction = new Float64Array(total).fill(Number.NaN);
    const probability = new Float64Array(total).fill(Number.NaN);
    const label = new Float64Array(total).fill(Number.NaN);
    let n = 0;
    for (;;) {
      const batch = await client.query({ text: `FETCH ${FETCH_ROWS} FROM drift_window`, rowMode: 'array' });
      if (batch.rows.length === 0) break;
      for (const row of batch.rows as unknown[][]) {
        // Rows logged after the count was taken are left for the next window.
        if (n >= total) break;
        prediction[n] = row[0] === null ? Number.NaN : Number(row[0]);
        probability[n] = row[1] === null ? Number.NaN : Number(row[1]);
        label[n] = row[2] === null ? Number.NaN : Number(row[2]);
        for (let k = 0; k < columns.length; k++) {
          columns[k]!.set(n, row[3 + k] as string | null);
        }
        n++;
      }
      if (n >= total) break;
    }
    await client.query('CLOSE drift_window');
    await client.query('COMMIT');
    const table: Table = {
      numRows: n,
      columns: {
        ...Object.fromEntries(features.map((f, k) => [f.name, columns[k]!.build(n)])),
        prediction: { kind: 'number', values: prediction.subarray(0, n) },
        probability: { kind: 'number', values: probability.subarray(0, n) },
        [schema.target.name]: { kind: 'number', values: label.subarray(0, n) },
      },
    };
    if (schema.task === 'regression') delete table.columns.probability;
    return {
      table,
      invalid: Object.fromEntries(features.map((f, k) => [f.name, columns[k]!.invalid])),
      absent: Object.fromEntries(features.map((f, k) => [f.name, Number(absentText[k])])),
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

export interface PairedWindow {
  namespace: string;
  modelName: string;
  champion: string;
  challenger: string;
  since: Date;
  until: Date;
}

/** Champion and challenger predictions for the same labelled requests, index-aligned. */
export interface PairedPredictions {
  label: Float64Array;
  champion: { prediction: Float64Array; probability: Float64Array };
  challenger: { prediction: Float64Array; probability: Float64Array };
}

/**
 * The labelled requests of a window that both versions scored (shadow or canary: both rows
 * carry the same request id, each with its own model_version), so the two are compared on the
 * very same records. The window is the champion's log time.
 */
export async function readPairedLabels(pool: Pool, w: PairedWindow): Promise<PairedPredictions> {
  const { rows } = await pool.query({
    text: `SELECT lb.label, a.prediction, a.probability, b.prediction, b.probability
       FROM prediction_logs a
       JOIN prediction_logs b ON b.namespace = a.namespace AND b.model_name = a.model_name
         AND b.request_id = a.request_id AND b.model_version = $4
       JOIN prediction_labels lb
         ON lb.namespace = a.namespace AND lb.model_name = a.model_name AND lb.request_id = a.request_id
       WHERE a.namespace = $1 AND a.model_name = $2 AND a.model_version = $3
         AND a.created_at >= $5 AND a.created_at < $6
       ORDER BY a.request_id`,
    values: [w.namespace, w.modelName, w.champion, w.challenger, w.since, w.until],
    rowMode: 'array',
  });
  const n = rows.length;
  const num = (v: unknown) => (v === null ? Number.NaN : Number(v));
  const out: PairedPredictions = {
    label: new Float64Array(n),
    champion: { prediction: new Float64Array(n), probability: new Float64Array(n) },
    challenger: { prediction: new Float64Array(n), probability: new Float64Array(n) },
  };
  (rows as unknown[][]).forEach((r, i) => {
    out.label[i] = num(r[0]);
    out.champion.prediction[i] = num(r[1]);
    out.champion.probability[i] = num(r[2]);
    out.challenger.prediction[i] = num(r[3]);
    out.challenger.probability[i] = num(r[4]);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Labelled requests of a model (the production-window dataset, core/dataset/production.ts)
// ---------------------------------------------------------------------------------------------

export interface LabelledRequestsWindow {
  namespace: string;
  modelName: string;
  since: Date;
  until: Date;
  /** Only predictions logged by these registry versions; all when absent. */
  versions?: string[] | undefined;
  /** Whose request fields and target the rows are read as. */
  schema: FeatureSchema;
  /** Also a timestamp column of this name: when each request was logged. */
  loggedAtColumn?: string | undefined;
}

const LABELLED_FETCH_ROWS = 5_000;

/**
 * The requests of a model logged in [since, until) that have a label, one row each — a request
 * a champion and a shadowing challenger both scored counts once — with the schema's features
 * as logged and its target holding the label; and how many distinct requests were logged in
 * the window at all. Streams through a server-side cursor.
 */
export async function readLabelledRequests(
  pool: Pool,
  window: LabelledRequestsWindow,
): Promise<{ table: Table; loggedRows: number }> {
  const { schema } = window;
  const keys = schema.features.map((f) => f.name);
  const where = `l.namespace = $1 AND l.model_name = $2 AND l.created_at >= $3 AND l.created_at < $4
    AND ($5::text[] IS NULL OR l.model_version = ANY($5::text[]))`;
  const params = [window.namespace, window.modelName, window.since, window.until, window.versions ?? null];
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(DISTINCT l.request_id) AS n FROM prediction_logs l WHERE ${where}`,
      params,
    );
    // A request scored by a champion and a shadowing challenger has a row from each: the
    // first logged speaks for it (the features are the same request).
    await client.query(
      `DECLARE labelled_requests NO SCROLL CURSOR FOR
       SELECT DISTINCT ON (l.request_id) lb.label, extract(epoch FROM l.created_at) * 1000${keys.map((_, i) => `, l.features ->> $${6 + i}`).join('')}
       FROM prediction_logs l
       JOIN prediction_labels lb
         ON lb.namespace = l.namespace AND lb.model_name = l.model_name AND lb.request_id = l.request_id
       WHERE ${where}
       ORDER BY l.request_id, l.created_at, l.model_version`,
      [...params, ...keys],
    );
    const builders = schema.features.map((f) => new ColumnBuilder(f.name, labelledColumnKind(f)));
    const target = new ColumnBuilder(
      schema.target.name,
      schema.target.type === 'boolean' ? 'boolean' : 'number',
    );
    const loggedAt = new ColumnBuilder(window.loggedAtColumn ?? 'logged_at', 'timestamp');
    for (;;) {
      const batch = await client.query({
        text: `FETCH ${LABELLED_FETCH_ROWS} FROM labelled_requests`,
        rowMode: 'array',
      });
      for (const row of batch.rows as (string | number | null)[][]) {
        target.append(row[0]);
        loggedAt.append(Number(row[1]));
        for (let k = 0; k < builders.length; k++)
          builders[k]!.append(loggedText(schema.features[k]!, row[2 + k] as string | null));
      }
      if (batch.rows.length < LABELLED_FETCH_ROWS) break;
    }
    await client.query('CLOSE labelled_requests');
    await client.query('COMMIT');
    const columns: Record<string, Column> = {};
    for (const b of builders) columns[b.name] = b.build();
    columns[schema.target.name] = target.build();
    if (window.loggedAtColumn) columns[window.loggedAtColumn] = loggedAt.build();
    return { table: { numRows: target.size, columns }, loggedRows: Number(rows[0]?.n ?? 0) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

function labelledColumnKind(f: Feature): Column['kind'] {
  if (f.type === 'category') return 'string';
  if (f.type === 'boolean') return 'boolean';
  if (f.type === 'timestamp') return 'timestamp';
  return 'number';
}

/** A feature's value as `->>` gives it (text), in the form its column takes. */
function loggedText(f: Feature, text: string | null): unknown {
  if (text === null) return null;
  if (f.type === 'boolean') return text === 'true';
  return text;
}
