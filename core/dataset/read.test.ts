import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asyncBufferFromFile } from 'hyparquet';
import { beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../errors.js';
import { readBuiltinFlights } from './builtin-flights.js';
import { readParquet, writeParquet } from './parquet.js';
import { readDataset } from './read.js';
import { cell, type Table, takeRows } from './table.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlcycle-dataset-'));
});

function rows(table: Table): Record<string, unknown>[] {
  return Array.from({ length: table.numRows }, (_, i) =>
    Object.fromEntries(Object.entries(table.columns).map(([name, column]) => [name, cell(column, i)])),
  );
}

describe('readDataset', () => {
  it('reads CSV with numbers, strings and empty cells as missing', async () => {
    const path = join(dir, 'a.csv');
    await writeFile(path, 'x,city,flag\n1.5,Paris,1\n,Lyon,0\n3,,1\n');
    const table = await readDataset(path);
    expect(table.columns.x!.kind).toBe('number');
    expect(table.columns.city!.kind).toBe('string');
    expect(rows(table)).toEqual([
      { x: 1.5, city: 'Paris', flag: 1 },
      { x: null, city: 'Lyon', flag: 0 },
      { x: 3, city: null, flag: 1 },
    ]);
  });

  it('reads NDJSON and JSON arrays, with columns that appear late', async () => {
    const nd = join(dir, 'a.ndjson');
    await writeFile(nd, '{"a":1}\n\n{"a":2,"b":"x"}\n{"b":"y"}\n');
    expect(rows(await readDataset(nd))).toEqual([
      { a: 1, b: null },
      { a: 2, b: 'x' },
      { a: null, b: 'y' },
    ]);
    const arr = join(dir, 'a.json');
    await writeFile(arr, '[\n {"a": true},\n {"a": false}\n]\n');
    const table = await readDataset(arr, { limit: 1 });
    expect(table.columns.a!.kind).toBe('boolean');
    expect(rows(table)).toEqual([{ a: true }]);
  });

  it('round-trips a table through Parquet', async () => {
    const table: Table = {
      numRows: 3,
      columns: {
        t: {
          kind: 'timestamp',
          values: Float64Array.from([Date.UTC(2001, 0, 1), Number.NaN, Date.UTC(2001, 5, 30, 12)]),
        },
        v: { kind: 'number', values: Float64Array.from([1.25, -2, Number.NaN]) },
        s: { kind: 'string', codes: Int32Array.from([0, -1, 1]), dictionary: ['ATL', 'ORD'] },
        b: { kind: 'boolean', values: Float64Array.from([1, 0, Number.NaN]) },
      },
    };
    const path = join(dir, 'round.parquet');
    await writeFile(path, writeParquet(table));
    const back = await readDataset(path);
    expect(Object.fromEntries(Object.entries(back.columns).map(([n, c]) => [n, c.kind]))).toEqual({
      t: 'timestamp',
      v: 'number',
      s: 'string',
      b: 'boolean',
    });
    expect(rows(back)).toEqual(rows(table));
    const some = await readParquet(await asyncBufferFromFile(path), { columns: ['v'], limit: 2 });
    expect(rows(some)).toEqual([{ v: 1.25 }, { v: -2 }]);
  });

  it('fails with a DataError naming the source for unreadable or unknown input', async () => {
    await expect(readDataset(join(dir, 'missing.csv'))).rejects.toThrow(DataError);
    await expect(readDataset(join(dir, 'missing.csv'))).rejects.toThrow(/cannot read dataset .*missing\.csv/);
    await expect(readDataset(join(dir, 'data.xlsx'))).rejects.toThrow(/cannot tell the format/);
    await expect(readDataset('builtin:weather')).rejects.toThrow(/unknown builtin dataset/);
    const bad = join(dir, 'bad.ndjson');
    await writeFile(bad, '{"a":1}\n{"a":\n');
    await expect(readDataset(bad)).rejects.toThrow(/invalid JSON on line 2/);
    const csv = join(dir, 'a2.csv');
    await writeFile(csv, 'a\n1\n');
    await expect(readDataset(csv, { columns: ['b'] })).rejects.toThrow(/no column "b"/);
  });
});

describe('builtin:flights', () => {
  it('reads the US DOT flights with airports joined', async () => {
    const table = await readBuiltinFlights({ limit: 1000 });
    expect(table.numRows).toBe(1000);
    const first = rows(takeRows(table, [0]))[0]!;
    expect(first).toMatchObject({
      date: Date.UTC(2001, 0, 1, 0, 1),
      delay: 33,
      distance: 2176,
      origin: 'LAS',
      destination: 'PHL',
      origin_state: 'NV',
      dest_state: 'PA',
    });
    expect(first.origin_lat as number).toBeCloseTo(36.08, 1);
    expect(first.dest_lon as number).toBeCloseTo(-75.24, 1);
  });
});
