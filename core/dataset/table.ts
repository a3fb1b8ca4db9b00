/**
 * A column-oriented in-memory table. Numbers live in Float64Array (NaN = missing) and strings
 * are dictionary-encoded (Int32Array codes, -1 = missing), so 3M rows of the flights data take
 * tens of megabytes rather than the gigabyte an array of row objects would.
 */
export type Column = NumericColumn | StringColumn;

export interface NumericColumn {
  kind: 'number' | 'timestamp' | 'boolean';
  /** For timestamps: milliseconds since the epoch (UTC). For booleans: 0 or 1. NaN = missing. */
  values: Float64Array;
}

export interface StringColumn {
  kind: 'string';
  codes: Int32Array;
  /** Distinct values in first-seen order; `codes[i]` indexes it, -1 = missing. */
  dictionary: string[];
}

export interface Table {
  numRows: number;
  columns: Record<string, Column>;
}

export const MISSING_CODE = -1;

export function columnNames(table: Table): string[] {
  return Object.keys(table.columns);
}

export function getColumn(table: Table, name: string): Column {
  const column = table.columns[name];
  if (!column) throw new Error(`no column ${JSON.stringify(name)} (have: ${columnNames(table).join(', ')})`);
  return column;
}

/** The value of one cell as a plain JS value (null when missing); convenient, not fast. */
export function cell(column: Column, row: number): number | string | boolean | null {
  if (column.kind === 'string') {
    const code = column.codes[row]!;
    return code === MISSING_CODE ? null : column.dictionary[code]!;
  }
  const v = column.values[row]!;
  if (Number.isNaN(v)) return null;
  return column.kind === 'boolean' ? v === 1 : v;
}

/** Rows `indices` of `table`, in that order. */
export function takeRows(table: Table, indices: ArrayLike<number>): Table {
  const columns: Record<string, Column> = {};
  for (const [name, column] of Object.entries(table.columns)) {
    if (column.kind === 'string') {
      const codes = new Int32Array(indices.length);
      for (let i = 0; i < indices.length; i++) codes[i] = column.codes[indices[i]!]!;
      columns[name] = { kind: 'string', codes, dictionary: column.dictionary };
    } else {
      const values = new Float64Array(indices.length);
      for (let i = 0; i < indices.length; i++) values[i] = column.values[indices[i]!]!;
      columns[name] = { kind: column.kind, values };
    }
  }
  return { numRows: indices.length, columns };
}

/** Builds one column from values appended in chunks; grows geometrically. */
export class ColumnBuilder {
  // Pre-filled with the missing markers, so a null appended before the column's kind is known
  // reads as missing whichever kind it turns out to be.
  private numbers = new Float64Array(1024).fill(Number.NaN);
  private codes = new Int32Array(1024).fill(MISSING_CODE);
  private readonly dictionary: string[] = [];
  private readonly index = new Map<string, number>();
  private length = 0;
  private kind: Column['kind'] | undefined;

  /** `kind` may be fixed up front (from a file's schema); otherwise the first value decides. */
  constructor(
    readonly name: string,
    kind?: Column['kind'],
  ) {
    this.kind = kind;
  }

  get size(): number {
    return this.length;
  }

  append(value: unknown): void {
    const kind = this.kind ?? kindOf(value);
    if (kind !== undefined) this.kind ??= kind;
    this.ensureCapacity(this.length + 1);
    if (this.kind === 'string') {
      this.codes[this.length] =
        value === null || value === undefined ? MISSING_CODE : this.codeOf(String(value));
    } else {
      this.numbers[this.length] = toNumber(value, this.kind, this.name);
    }
    this.length++;
  }

  build(): Column {
    const kind = this.kind ?? 'number';
    if (kind === 'string') {
      return { kind, codes: this.codes.slice(0, this.length), dictionary: this.dictionary };
    }
    return { kind, values: this.numbers.slice(0, this.length) };
  }

  private codeOf(value: string): number {
    let code = this.index.get(value);
    if (code === undefined) {
      code = this.dictionary.length;
      this.dictionary.push(value);
      this.index.set(value, code);
    }
    return code;
  }

  private ensureCapacity(n: number): void {
    if (n <= this.numbers.length) return;
    const capacity = Math.max(n, this.numbers.length * 2);
    const numbers = new Float64Array(capacity);
    numbers.set(this.numbers);
    numbers.fill(Number.NaN, this.numbers.length);
    this.numbers = numbers;
    const codes = new Int32Array(capacity);
    codes.set(this.codes);
    codes.fill(MISSING_CODE, this.codes.length);
    this.codes = codes;
  }
}

function kindOf(value: unknown): Column['kind'] | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number' || typeof value === 'bigint') return 'number';
  if (typeof value === 'boolean') return 'boolean';
  if (value instanceof Date) return 'timestamp';
  return 'string';
}

function toNumber(value: unknown, kind: Column['kind'] | undefined, column: string): number {
  if (value === null || value === undefined) return Number.NaN;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string' && value.trim() === '') return Number.NaN;
  const n = kind === 'timestamp' ? Date.parse(String(value)) : Number(value);
  if (Number.isNaN(n)) {
    throw new Error(
      `column ${JSON.stringify(column)}: ${JSON.stringify(value)} is not a ${kind ?? 'number'}`,
    );
  }
  return n;
}

/** Appends row objects into column builders; the shared path of the CSV and JSON readers. */
export class TableBuilder {
  private readonly builders = new Map<string, ColumnBuilder>();
  private rows = 0;

  constructor(private readonly wanted?: ReadonlySet<string>) {}

  get numRows(): number {
    return this.rows;
  }

  appendRow(row: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(row)) {
      if (this.wanted && !this.wanted.has(name)) continue;
      let builder = this.builders.get(name);
      if (!builder) {
        builder = new ColumnBuilder(name);
        // A column first seen in a later row was missing in the earlier ones.
        for (let i = 0; i < this.rows; i++) builder.append(null);
        this.builders.set(name, builder);
      }
      builder.append(value);
    }
    this.rows++;
    for (const builder of this.builders.values()) {
      if (builder.size < this.rows) builder.append(null);
    }
  }

  build(): Table {
    const columns: Record<string, Column> = {};
    for (const [name, builder] of this.builders) columns[name] = builder.build();
    return { numRows: this.rows, columns };
  }
}
