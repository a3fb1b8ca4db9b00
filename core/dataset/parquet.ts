import { type AsyncBuffer, type FileMetaData, parquetMetadataAsync, parquetRead } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { type Column, ColumnBuilder, cell, type Table } from './table.js';

/**
 * Reads a Parquet file (any codec hyparquet-compressors knows, ZSTD included) one row group at
 * a time into a columnar Table, so memory holds the table plus one decoded row group.
 */
export async function readParquet(
  file: AsyncBuffer,
  options: { columns?: string[]; limit?: number } = {},
): Promise<Table> {
  const metadata = await parquetMetadataAsync(file);
  const topLevel = metadata.schema.slice(1).filter((s) => !s.num_children);
  const available = topLevel.map((s) => s.name);
  const names = options.columns ?? available;
  for (const name of names) {
    if (!available.includes(name)) {
      throw new Error(`parquet file has no column ${JSON.stringify(name)} (has: ${available.join(', ')})`);
    }
  }
  const builders = new Map(names.map((n) => [n, new ColumnBuilder(n, kindFromSchema(metadata, n))]));
  const totalRows = Math.min(Number(metadata.num_rows), options.limit ?? Number.POSITIVE_INFINITY);

  let groupStart = 0;
  for (const group of metadata.row_groups) {
    if (groupStart >= totalRows) break;
    const groupEnd = Math.min(groupStart + Number(group.num_rows), totalRows);
    const chunks: { columnName: string; columnData: ArrayLike<unknown>; rowStart: number }[] = [];
    await parquetRead({
      file,
      metadata,
      compressors,
      columns: names,
      rowStart: groupStart,
      rowEnd: groupEnd,
      parsers: { timestampFromMicroseconds: (us: bigint) => Number(us / 1000n) },
      onChunk: (chunk) => chunks.push(chunk),
    });
    // Chunks may cover more rows than asked for; append exactly [groupStart, groupEnd).
    chunks.sort((a, b) => a.rowStart - b.rowStart);
    for (const chunk of chunks) {
      const builder = builders.get(chunk.columnName)!;
      const from = Math.max(groupStart, chunk.rowStart);
      const to = Math.min(groupEnd, chunk.rowStart + chunk.columnData.length);
      for (let row = Math.max(from, builder.size); row < to; row++) {
        builder.append(chunk.columnData[row - chunk.rowStart]);
      }
    }
    groupStart = groupEnd;
  }
  const columns: Record<string, Column> = {};
  for (const [name, builder] of builders) columns[name] = builder.build();
  return { numRows: totalRows, columns };
}

function kindFromSchema(metadata: FileMetaData, name: string): Column['kind'] | undefined {
  const element = metadata.schema.find((s) => s.name === name);
  if (!element) return undefined;
  if (element.logical_type?.type === 'TIMESTAMP' || element.converted_type?.startsWith('TIMESTAMP')) {
    return 'timestamp';
  }
  if (element.logical_type?.type === 'DATE' || element.converted_type === 'DATE') return 'timestamp';
  if (element.type === 'BOOLEAN') return 'boolean';
  if (element.type === 'BYTE_ARRAY' || element.type === 'FIXED_LEN_BYTE_ARRAY') return 'string';
  return 'number';
}

/** Writes a Table as Parquet (timestamps as TIMESTAMP_MILLIS, strings as UTF-8, numbers as DOUBLE). */
export function writeParquet(table: Table): Uint8Array {
  const columnData = Object.entries(table.columns).map(([name, column]) => {
    const data: unknown[] = new Array(table.numRows);
    for (let i = 0; i < table.numRows; i++) {
      const value = cell(column, i);
      data[i] = column.kind === 'timestamp' && value !== null ? new Date(value as number) : value;
    }
    const type = { number: 'DOUBLE', timestamp: 'TIMESTAMP', boolean: 'BOOLEAN', string: 'STRING' }[
      column.kind
    ];
    return { name, data, type, nullable: true } as const;
  });
  return new Uint8Array(parquetWriteBuffer({ columnData: columnData as never }));
}
