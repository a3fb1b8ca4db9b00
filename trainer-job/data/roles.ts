import type { Column, Table } from '../../core/dataset/table.js';

/**
 * Column roles in a table the user brought: text that holds dates is a timestamp, and columns
 * that identify rows rather than describe them (near-unique text such as a name, a row counter)
 * are no features. Each finding is a plain sentence for the output and the report.
 */

// ISO-8601 dates and date-times as tables write them: 2001-03-04, 2001-03-04T17:25:00Z,
// 2001-03-04 17:25, with optional seconds, fraction and offset.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const HAS_OFFSET = /(?:Z|[+-]\d{2}:?\d{2})$/;

/** Epoch ms of an ISO date text (a date-time without offset is read as UTC), NaN otherwise. */
export function parseIsoDate(text: string): number {
  const t = text.trim();
  if (!ISO_DATE.test(t)) return Number.NaN;
  const iso = t.replace(' ', 'T');
  return Date.parse(iso.length > 10 && !HAS_OFFSET.test(iso) ? `${iso}Z` : iso);
}

/** Text columns whose every value is an ISO date become timestamp columns, in place. */
export function recogniseDates(table: Table, skip: ReadonlySet<string>): string[] {
  const found: string[] = [];
  for (const [name, column] of Object.entries(table.columns)) {
    if (skip.has(name) || column.kind !== 'string' || column.dictionary.length === 0) continue;
    const parsed = column.dictionary.map(parseIsoDate);
    if (parsed.some(Number.isNaN)) continue;
    table.columns[name] = {
      kind: 'timestamp',
      values: Float64Array.from(column.codes, (c) => (c < 0 ? Number.NaN : parsed[c]!)),
    };
    found.push(name);
  }
  return found;
}

/** More distinct values than this share of the rows that have one, and text names rows. */
const IDENTIFIER_SHARE = 0.5;
const MIN_IDENTIFIER_VALUES = 20;

/** Why a column looks like a row identifier rather than a property of the row (null: it does not). */
export function identifierReason(column: Column): string | null {
  if (column.kind === 'string') {
    const seen = new Set<number>();
    let present = 0;
    for (const c of column.codes) {
      if (c < 0) continue;
      present++;
      seen.add(c);
    }
    if (seen.size >= MIN_IDENTIFIER_VALUES && seen.size > IDENTIFIER_SHARE * present) {
      return `${seen.size} distinct values in ${present} rows: it names rows rather than describing them`;
    }
    return null;
  }
  if (column.kind !== 'number') return null;
  // A row counter: distinct integers filling a range (1, 2, 3, … in any order).
  const seen = new Set<number>();
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of column.values) {
    if (Number.isNaN(v)) return null;
    if (!Number.isInteger(v) || seen.has(v)) return null;
    seen.add(v);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (seen.size >= MIN_IDENTIFIER_VALUES && max - min + 1 === seen.size) {
    return `the integers ${min} to ${max}, each once: a row counter`;
  }
  return null;
}

/** Distinct non-missing instants of a timestamp column. */
export function distinctInstants(column: Column): number {
  if (column.kind !== 'timestamp') return 0;
  const seen = new Set<number>();
  for (const v of column.values) if (!Number.isNaN(v)) seen.add(v);
  return seen.size;
}
