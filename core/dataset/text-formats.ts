import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { type Table, TableBuilder } from './table.js';

export interface TextReadOptions {
  columns?: string[];
  limit?: number;
}

/** CSV with a header row; numbers are recognised, empty cells are missing. */
export async function readCsv(input: Readable, options: TextReadOptions = {}): Promise<Table> {
  const builder = new TableBuilder(options.columns ? new Set(options.columns) : undefined);
  const parser = input.pipe(
    parse({
      columns: true,
      cast: (value, context) => (context.header ? value : castCsvValue(value)),
      skip_empty_lines: true,
      trim: true,
    }),
  );
  for await (const row of parser as AsyncIterable<Record<string, unknown>>) {
    if (options.limit !== undefined && builder.numRows >= options.limit) break;
    builder.appendRow(row);
  }
  input.destroy();
  return checkColumns(builder.build(), options.columns);
}

function castCsvValue(value: string): string | number | null {
  if (value === '' || value === 'NA' || value === 'null') return null;
  // Only plain decimal numbers: "007" zip codes or "1e3" ids stay strings would be nicer, but a
  // CSV has no types; the feature schema (not this reader) decides what a column means.
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) return Number(value);
  return value;
}

/** A JSON array of objects, or newline-delimited JSON (one object per line). */
export async function readJson(input: Readable, options: TextReadOptions = {}): Promise<Table> {
  const builder = new TableBuilder(options.columns ? new Set(options.columns) : undefined);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNumber = 0;
  let arrayText: string[] | undefined;
  for await (const line of lines) {
    lineNumber++;
    const trimmed = line.trim();
    if (arrayText) {
      arrayText.push(line);
      continue;
    }
    if (trimmed === '') continue;
    if (builder.numRows === 0 && trimmed.startsWith('[')) {
      // A JSON array: it has to be parsed whole.
      arrayText = [line];
      continue;
    }
    if (options.limit !== undefined && builder.numRows >= options.limit) break;
    builder.appendRow(parseObject(trimmed, `line ${lineNumber}`));
  }
  if (arrayText) {
    let rows: unknown;
    try {
      rows = JSON.parse(arrayText.join('\n'));
    } catch (err) {
      throw new Error(`invalid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(rows)) throw new Error('expected a JSON array of objects');
    const end = Math.min(rows.length, options.limit ?? rows.length);
    for (let i = 0; i < end; i++) builder.appendRow(asObject(rows[i], `element ${i}`));
  }
  return checkColumns(builder.build(), options.columns);
}

function parseObject(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`invalid JSON on ${where}: ${(err as Error).message}`);
  }
  return asObject(value, where);
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`expected an object at ${where}`);
  }
  return value as Record<string, unknown>;
}

function checkColumns(table: Table, wanted: string[] | undefined): Table {
  for (const name of wanted ?? []) {
    if (!(name in table.columns)) {
      throw new Error(`no column ${JSON.stringify(name)} (has: ${Object.keys(table.columns).join(', ')})`);
    }
  }
  return table;
}
