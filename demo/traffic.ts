import { randomUUID } from 'node:crypto';
import { cell, type Table } from '../core/dataset/table.js';
import type { FeatureRecord, FeatureSchema } from '../core/feature-schema.js';

/** One replayed flight: the request record, and the outcome that becomes known later. */
export interface TrafficRow {
  record: FeatureRecord;
  /** The true label (1 = arrived ≥ 15 min late), sent later through /feedback. */
  label: number;
}

export interface ServedRow extends TrafficRow {
  /** The server's id of the prediction: what its label is sent under. */
  predictionId: string;
  prediction: number;
  probability: number | undefined;
  modelVersion: string;
}

/** Rows of `table` whose `date` falls in [from, to), as request records of `schema`. */
export function trafficBetween(
  table: Table,
  schema: FeatureSchema,
  from: Date,
  to: Date,
  options: { limit: number; seed: number; filter?: (row: number) => boolean },
): TrafficRow[] {
  const dates = table.columns.date;
  const delay = table.columns.delay;
  if (dates?.kind !== 'timestamp' || delay?.kind !== 'number') {
    throw new Error('the demo replays builtin:flights: expected its date and delay columns');
  }
  const candidates: number[] = [];
  for (let row = 0; row < table.numRows; row++) {
    const t = dates.values[row]!;
    if (t >= from.getTime() && t < to.getTime() && (!options.filter || options.filter(row)))
      candidates.push(row);
  }
  return sample(candidates, options.limit, options.seed).map((row) => ({
    record: toRecord(table, schema, row),
    label: delay.values[row]! >= 15 ? 1 : 0,
  }));
}

function toRecord(table: Table, schema: FeatureSchema, row: number): FeatureRecord {
  const record: FeatureRecord = {};
  for (const feature of schema.features) {
    const column = table.columns[feature.name];
    if (!column) throw new Error(`builtin:flights has no column ${feature.name} for the model's schema`);
    const value = cell(column, row);
    record[feature.name] =
      feature.type === 'timestamp' && typeof value === 'number' ? new Date(value).toISOString() : value;
  }
  return record;
}

/** A deterministic sample without replacement, kept in time order. */
function sample(rows: number[], limit: number, seed: number): number[] {
  if (rows.length <= limit) return rows;
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: small, fast and reproducible; statistical quality is ample for sampling.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const picked = rows.slice();
  for (let i = 0; i < limit; i++) {
    const j = i + Math.floor(next() * (picked.length - i));
    [picked[i], picked[j]] = [picked[j]!, picked[i]!];
  }
  return picked.slice(0, limit).sort((a, b) => a - b);
}

/**
 * Sends rows to a running server over HTTP: a few one at a time through /predict, the rest
 * through /predict_batch, the way a client and a batch scorer would.
 */
export async function replay(
  url: string,
  rows: TrafficRow[],
  options: { single: number; batchSize: number },
): Promise<ServedRow[]> {
  const served: ServedRow[] = [];
  const single = rows.slice(0, options.single);
  for (const row of single) {
    const body = await post(`${url}/predict`, row.record, { 'x-request-id': randomUUID() });
    served.push({
      ...row,
      predictionId: body.prediction_id as string,
      prediction: body.prediction as number,
      probability: body.probability as number | undefined,
      modelVersion: body.model_version as string,
    });
  }
  for (let start = options.single; start < rows.length; start += options.batchSize) {
    const batch = rows.slice(start, start + options.batchSize);
    const body = await post(
      `${url}/predict_batch`,
      batch.map((r) => r.record),
      { 'x-request-id': randomUUID() },
    );
    const predictions = body.predictions as {
      prediction_id: string;
      prediction: number;
      probability?: number;
    }[];
    predictions.forEach((p, i) => {
      served.push({
        ...batch[i]!,
        predictionId: p.prediction_id,
        prediction: p.prediction,
        probability: p.probability,
        modelVersion: body.model_version as string,
      });
    });
  }
  return served;
}

/** Sends the true outcomes of served rows through /feedback (with its token), in chunks. */
export async function sendFeedback(
  url: string,
  token: string,
  labelled: { predictionId: string; label: number }[],
  chunk = 5_000,
): Promise<{ recorded: number; unknown: number }> {
  let recorded = 0;
  let unknown = 0;
  const observedAt = new Date().toISOString();
  for (let start = 0; start < labelled.length; start += chunk) {
    const items = labelled
      .slice(start, start + chunk)
      .map((l) => ({ prediction_id: l.predictionId, label: l.label, observed_at: observedAt }));
    const body = await post(`${url}/feedback`, items, { authorization: `Bearer ${token}` });
    recorded += Number(body.recorded ?? 0);
    unknown += Number(body.unknown ?? 0);
  }
  return { recorded, unknown };
}

async function post(
  url: string,
  payload: unknown,
  headers: Record<string, string>,
): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as Record<string, unknown>;
}
