import { ARTIFACT, artifactUri, readArtifactText } from '../artifacts.js';
import type { Pool } from '../db/index.js';
import { DataError, errorMessage } from '../errors.js';
import { type FeatureSchema, parseFeatureSchema } from '../feature-schema.js';
import type { S3SettingsValues } from '../object-store/index.js';
import { readLabelledRequests } from '../prediction-log.js';
import { getAlias, getVersion, listVersions } from '../registry.js';
import { FLIGHTS_DELAY_MINUTES } from './builtin-flights.js';
import { type Column, ColumnBuilder, getColumn, type Table, takeRows } from './table.js';

/**
 * The production-window source: what a model served, with the labels that came back.
 *
 *   production:<model>?since=<RFC3339>&until=<RFC3339>[&versions=v1,v2][&original=<uri>&originalRows=<n>]
 *
 * The prediction log of `model` between `since` and `until` (when the predictions were logged)
 * joined with its labels, labelled rows only: one row per request (a request a champion and a
 * shadowing challenger both scored counts once), with the request's features as logged — the
 * model's schema's request fields — and the schema's target holding the label. `versions`
 * restricts it to predictions logged by those registry versions. `original` adds the
 * `originalRows` most recent rows (by the schema's timestamp feature) of another dataset, e.g.
 * the one the serving version was trained on.
 */
export const PRODUCTION_SCHEME = 'production:';

/** The time column of a window whose schema has no timestamp feature: when it was logged. */
export const LOGGED_AT = 'logged_at';

export interface ProductionWindow {
  model: string;
  since: Date;
  until: Date;
  versions?: string[] | undefined;
  original?: { uri: string; rows: number } | undefined;
}

/** The production window's rows, with what the lineage records about them. */
export interface ProductionData {
  table: Table;
  /** The schema whose request fields and target the table holds. */
  schema: FeatureSchema;
  /** The registry version that schema came from. */
  schemaVersion: string;
  /** The schema's timestamp feature, else `logged_at` (when each prediction was logged). */
  timeColumn: string;
  /** Columns that are no request feature (`logged_at`, added when the schema has no timestamp). */
  nonFeatureColumns: string[];
  /** Distinct requests logged in the window. */
  loggedRows: number;
  /** Those with a label: the production rows of the table. */
  labelledRows: number;
  /** Rows of the original dataset added. */
  originalRows: number;
  /**
   * The dataset the model's line began with (the window's original, else found back through the
   * registry), when known: what the trainer derives from a dataset (builtin:flights' airport
   * table) carries over to a version retrained on production.
   */
  baseDataset: string | undefined;
}

export function isProductionUri(uri: string): boolean {
  return uri.startsWith(PRODUCTION_SCHEME);
}

/** Parses a production URI; a DataError says what is wrong with it. */
export function parseProductionUri(uri: string): ProductionWindow {
  const bad = (why: string) =>
    new DataError(
      `invalid dataset ${JSON.stringify(uri)}: ${why} (expected production:<model>?since=<RFC3339>&until=<RFC3339>[&versions=v1,v2][&original=<uri>&originalRows=<n>])`,
    );
  const rest = uri.slice(PRODUCTION_SCHEME.length);
  const q = rest.indexOf('?');
  const model = q < 0 ? rest : rest.slice(0, q);
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(model))
    throw bad('the model name is not a DNS-1123 label');
  const params = new URLSearchParams(q < 0 ? '' : rest.slice(q + 1));
  const time = (name: string): Date => {
    const text = params.get(name);
    if (!text) throw bad(`${name} is missing`);
    const ms = Date.parse(text);
    if (Number.isNaN(ms)) throw bad(`${name} ${JSON.stringify(text)} is not an RFC 3339 time`);
    return new Date(ms);
  };
  const since = time('since');
  const until = time('until');
  if (since >= until) throw bad('since must be before until');
  const versions = params.get('versions')?.split(',').filter(Boolean);
  const originalUri = params.get('original') ?? undefined;
  const originalRows = params.get('originalRows');
  if ((originalUri === undefined) !== (originalRows === null))
    throw bad('original and originalRows go together');
  let original: ProductionWindow['original'];
  if (originalUri !== undefined) {
    const rows = Number(originalRows);
    if (!Number.isInteger(rows) || rows < 1) throw bad('originalRows must be a positive integer');
    if (isProductionUri(originalUri)) throw bad('the original dataset cannot itself be a production window');
    original = { uri: originalUri, rows };
  }
  return { model, since, until, versions: versions?.length ? versions : undefined, original };
}

/** The URI of a production window: what the operator puts in a retraining ModelVersion's dataset. */
export function productionUri(window: ProductionWindow): string {
  const params: [string, string][] = [
    ['since', rfc3339(window.since)],
    ['until', rfc3339(window.until)],
  ];
  if (window.versions?.length) params.push(['versions', window.versions.join(',')]);
  if (window.original) {
    params.push(['original', window.original.uri], ['originalRows', String(window.original.rows)]);
  }
  const query = params.map(([k, v]) => `${k}=${queryValue(v)}`).join('&');
  return `${PRODUCTION_SCHEME}${window.model}?${query}`;
}

/**
 * RFC 3339 as `kubectl get` users read it: whole seconds without a fraction, but never rounded —
 * a window cut to the second would lose (or gain) the rows logged in that second.
 */
function rfc3339(time: Date): string {
  return time.toISOString().replace(/\.000Z$/, 'Z');
}

/**
 * A query value escaped only where it must be: `:` and `/` are legal in a query (RFC 3986), so
 * times and nested URIs stay readable in `kubectl get`; `&`, `=`, `+`, `#` and `%` are escaped.
 */
function queryValue(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':').replace(/%2F/gi, '/').replace(/%2C/gi, ',');
}

export interface ProductionReadOptions {
  /** The reader's own tenant: the window is its prediction log and registry, never another's. */
  namespace: string;
  s3?: S3SettingsValues | undefined;
  /** Reads the original dataset (core/dataset readDataset; passed in to keep this module below it). */
  readOriginal?: ((uri: string) => Promise<Table>) | undefined;
}

/** Reads a production window: the labelled prediction log, plus the original rows when asked. */
export async function readProductionWindow(
  pool: Pool,
  window: ProductionWindow,
  options: ProductionReadOptions,
): Promise<ProductionData> {
  const { namespace } = options;
  const { schema, version } = await windowSchema(pool, namespace, window, options.s3);
  const timeFeature = schema.features.find((f) => f.type === 'timestamp')?.name;
  if (
    !timeFeature &&
    (schema.features.some((f) => f.name === LOGGED_AT) || schema.target.name === LOGGED_AT)
  ) {
    throw new DataError(
      `production:${window.model}: the schema has a field named ${LOGGED_AT} but no timestamp feature`,
    );
  }
  const logged = await readLabelledRequests(pool, {
    namespace,
    modelName: window.model,
    since: window.since,
    until: window.until,
    versions: window.versions,
    schema,
    loggedAtColumn: timeFeature === undefined ? LOGGED_AT : undefined,
  }).catch((err: unknown) => {
    throw new DataError(`cannot read production:${window.model}: ${errorMessage(err)}`, { cause: err });
  });
  const timeColumn = timeFeature ?? LOGGED_AT;
  let table = logged.table;
  let originalRows = 0;
  if (window.original) {
    if (!options.readOriginal) throw new Error('reading the original dataset needs a reader');
    if (!timeFeature) {
      throw new DataError(
        `production:${window.model}: original rows need a timestamp feature in the schema of ${version} to be placed in time`,
      );
    }
    const original = recentRows(
      await options.readOriginal(window.original.uri),
      schema,
      timeColumn,
      window.original.rows,
    );
    originalRows = original.numRows;
    table = concatTables(table, original);
  }
  return {
    table,
    schema,
    schemaVersion: version,
    timeColumn,
    nonFeatureColumns: timeFeature ? [] : [LOGGED_AT],
    loggedRows: logged.loggedRows,
    labelledRows: logged.table.numRows,
    originalRows,
    baseDataset: window.original?.uri ?? (await firstDataset(pool, namespace, window.model, version)),
  };
}

/**
 * The first dataset that is no production window, walking back from `version`: a retrained
 * version read a window whose original, or whose newest logging version, leads one step back.
 */
async function firstDataset(
  pool: Pool,
  namespace: string,
  model: string,
  version: string,
): Promise<string | undefined> {
  const seen = new Set<string>();
  for (let at: string | undefined = version; at !== undefined && !seen.has(at); ) {
    seen.add(at);
    const uri = (await getVersion(pool, namespace, model, at))?.datasetUri;
    if (!uri || !isProductionUri(uri)) return uri ?? undefined;
    const window = parseProductionUri(uri);
    if (window.original) return window.original.uri;
    at = window.versions?.at(-1);
  }
  return undefined;
}

/**
 * Whose schema the window is read with: the last of `versions` when given (the newest model
 * asked for), else the model's champion, else its newest registered version.
 */
async function windowSchema(
  pool: Pool,
  namespace: string,
  window: ProductionWindow,
  s3: S3SettingsValues | undefined,
): Promise<{ schema: FeatureSchema; version: string }> {
  const version =
    window.versions?.at(-1) ??
    (await getAlias(pool, namespace, window.model, 'champion')) ??
    (await listVersions(pool, namespace, window.model)).filter((v) => v.status === 'registered').at(-1)
      ?.version;
  if (!version)
    throw new DataError(`production:${window.model}: the registry has no registered version of it`);
  const stored = await getVersion(pool, namespace, window.model, version);
  const uri = stored && artifactUri(stored, ARTIFACT.schema);
  if (!uri) throw new DataError(`production:${window.model}: no ${ARTIFACT.schema} recorded for ${version}`);
  try {
    return { schema: parseFeatureSchema(await readArtifactText(uri, s3)), version };
  } catch (err) {
    throw new DataError(
      `production:${window.model}: cannot read the schema of ${version} (${uri}): ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** The `rows` most recent rows of the original dataset, with the schema's columns only. */
function recentRows(table: Table, schema: FeatureSchema, timeColumn: string, rows: number): Table {
  const columns: Record<string, Column> = {};
  for (const f of schema.features) columns[f.name] = getColumn(table, f.name);
  columns[schema.target.name] = originalTarget(table, schema);
  const narrowed: Table = { numRows: table.numRows, columns };
  const time = timeValues(getColumn(table, timeColumn));
  const order = range(0, table.numRows).sort((a, b) => time[a]! - time[b]!);
  return takeRows(narrowed, order.slice(Math.max(0, order.length - rows)));
}

/** Epoch milliseconds of a time column; text (CSV, JSON) holds ISO-8601 times. */
function timeValues(column: Column): Float64Array {
  if (column.kind !== 'string') return column.values;
  const parsed = column.dictionary.map((t) => Date.parse(t));
  return Float64Array.from(column.codes, (c) => (c < 0 ? Number.NaN : parsed[c]!));
}

/** The target column of the original dataset; builtin:flights holds the delay it derives `delayed` from. */
function originalTarget(table: Table, schema: FeatureSchema): Column {
  const column = table.columns[schema.target.name];
  const classes = schema.target.classes;
  if (column?.kind === 'string' && classes) {
    // The classes as the data writes them (MALE / FEMALE): 1 for the positive one, as labelled.
    const classOfText = column.dictionary.map((text) =>
      text === classes.positive ? 1 : text === classes.negative ? 0 : Number.NaN,
    );
    return {
      kind: 'boolean',
      values: Float64Array.from(column.codes, (c) => (c < 0 ? Number.NaN : classOfText[c]!)),
    };
  }
  if (column) return column;
  const delay = table.columns.delay;
  if (schema.target.name === 'delayed' && delay?.kind === 'number') {
    const values = Float64Array.from(delay.values, (d) =>
      Number.isNaN(d) ? Number.NaN : d >= FLIGHTS_DELAY_MINUTES ? 1 : 0,
    );
    return { kind: 'boolean', values };
  }
  throw new DataError(`the original dataset has no target column ${schema.target.name}`);
}

/** Rows of `b` after the rows of `a`; the columns are `a`'s (categories re-coded into one dictionary). */
function concatTables(a: Table, b: Table): Table {
  const columns: Record<string, Column> = {};
  for (const [name, ca] of Object.entries(a.columns)) {
    const cb = getColumn(b, name);
    const builder = new ColumnBuilder(name, ca.kind);
    for (const [column, n] of [
      [ca, a.numRows],
      [cb, b.numRows],
    ] as const) {
      for (let i = 0; i < n; i++) builder.append(cellValue(column, i));
    }
    columns[name] = builder.build();
  }
  return { numRows: a.numRows + b.numRows, columns };
}

function cellValue(column: Column, i: number): unknown {
  if (column.kind === 'string') {
    const code = column.codes[i]!;
    return code < 0 ? null : column.dictionary[code];
  }
  return column.values[i];
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
