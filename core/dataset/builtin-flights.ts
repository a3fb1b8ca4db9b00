import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { asyncBufferFromFile } from 'hyparquet';
import { readParquet } from './parquet.js';
import { type Column, MISSING_CODE, type StringColumn, type Table } from './table.js';

/**
 * `builtin:flights`: 3,000,000 US domestic flights, January–June 2001, from the US DOT Bureau
 * of Transportation Statistics on-time data as shipped in the `vega-datasets` npm package
 * (`data/flights-3m.parquet`), joined with its `data/airports.csv` for each airport's state,
 * latitude and longitude.
 *
 * Columns: date (timestamp, scheduled departure, local time stored as UTC), delay (arrival
 * delay in minutes), distance (miles), origin, destination (IATA codes), origin_state,
 * origin_lat, origin_lon, dest_state, dest_lat, dest_lon.
 */
/** builtin:flights' classification target: `delayed` = an arrival delay of at least this many minutes. */
export const FLIGHTS_DELAY_MINUTES = 15;

export const FLIGHTS_COLUMNS = [
  'date',
  'delay',
  'distance',
  'origin',
  'destination',
  'origin_state',
  'origin_lat',
  'origin_lon',
  'dest_state',
  'dest_lat',
  'dest_lon',
] as const;

export function vegaDatasetsDir(): string {
  // The package exports only its JS entry (build/index.js); the data sits beside build/.
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('vega-datasets')), '..', 'data');
}

interface Airport {
  state: string;
  latitude: number;
  longitude: number;
}

export async function readAirports(): Promise<Map<string, Airport>> {
  const text = await readFile(join(vegaDatasetsDir(), 'airports.csv'), 'utf8');
  const rows = parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  return new Map(
    rows.map((r) => [
      r.iata!,
      { state: r.state!, latitude: Number(r.latitude), longitude: Number(r.longitude) },
    ]),
  );
}

export async function readBuiltinFlights(
  options: { columns?: string[]; limit?: number } = {},
): Promise<Table> {
  const file = await asyncBufferFromFile(join(vegaDatasetsDir(), 'flights-3m.parquet'));
  const base = await readParquet(file, {
    columns: ['date', 'delay', 'distance', 'origin', 'destination'],
    ...(options.limit === undefined ? {} : { limit: options.limit }),
  });
  const airports = await readAirports();
  const origin = base.columns.origin as StringColumn;
  const destination = base.columns.destination as StringColumn;
  const columns: Record<string, Column> = {
    ...base.columns,
    ...joinAirports('origin', origin, airports),
    ...joinAirports('dest', destination, airports),
  };
  const wanted = options.columns ?? [...FLIGHTS_COLUMNS];
  const selected: Record<string, Column> = {};
  for (const name of wanted) {
    const column = columns[name];
    if (!column)
      throw new Error(`builtin:flights has no column ${name} (has: ${FLIGHTS_COLUMNS.join(', ')})`);
    selected[name] = column;
  }
  return { numRows: base.numRows, columns: selected };
}

/** Looks airport attributes up once per distinct code, then fans them out by code. */
function joinAirports(
  prefix: string,
  codes: StringColumn,
  airports: Map<string, Airport>,
): Record<string, Column> {
  const n = codes.codes.length;
  const stateDictionary: string[] = [];
  const stateIndex = new Map<string, number>();
  const stateByCode = new Int32Array(codes.dictionary.length).fill(MISSING_CODE);
  const latByCode = new Float64Array(codes.dictionary.length).fill(Number.NaN);
  const lonByCode = new Float64Array(codes.dictionary.length).fill(Number.NaN);
  codes.dictionary.forEach((code, i) => {
    const airport = airports.get(code);
    if (!airport) return;
    let s = stateIndex.get(airport.state);
    if (s === undefined) {
      s = stateDictionary.push(airport.state) - 1;
      stateIndex.set(airport.state, s);
    }
    stateByCode[i] = s;
    latByCode[i] = airport.latitude;
    lonByCode[i] = airport.longitude;
  });
  const state = new Int32Array(n);
  const lat = new Float64Array(n);
  const lon = new Float64Array(n);
  for (let row = 0; row < n; row++) {
    const c = codes.codes[row]!;
    state[row] = c === MISSING_CODE ? MISSING_CODE : stateByCode[c]!;
    lat[row] = c === MISSING_CODE ? Number.NaN : latByCode[c]!;
    lon[row] = c === MISSING_CODE ? Number.NaN : lonByCode[c]!;
  }
  return {
    [`${prefix}_state`]: { kind: 'string', codes: state, dictionary: stateDictionary },
    [`${prefix}_lat`]: { kind: 'number', values: lat },
    [`${prefix}_lon`]: { kind: 'number', values: lon },
  };
}
