import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Prediction log rows that could not stay in memory (buffer full, or PostgreSQL unreachable at
 * shutdown) go to NDJSON files on local disk, and are delivered from there when the database
 * answers again — also by the next process started with the same directory. A file is deleted
 * only after all of its rows are in the database; a crash in between means some rows are sent
 * twice, which the unique (model, version, prediction id) key turns into no-ops.
 */
export class SpillFiles<Row> {
  private current: { name: string; rows: number } | undefined;
  private counts = new Map<string, number>();
  private sequence = 0;

  constructor(
    readonly directory: string,
    private readonly rowsPerFile = 20_000,
  ) {
    mkdirSync(directory, { recursive: true });
    for (const name of readdirSync(directory)
      .filter((n) => n.endsWith('.ndjson'))
      .sort()) {
      const rows = countLines(join(directory, name));
      if (rows === 0) rmSync(join(directory, name), { force: true });
      else this.counts.set(name, rows);
    }
  }

  /** Rows waiting on disk. */
  get rows(): number {
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  get files(): number {
    return this.counts.size;
  }

  /** Appends rows synchronously: when this returns, they are on disk (in the page cache). */
  append(rows: readonly Row[]): void {
    let offset = 0;
    while (offset < rows.length) {
      if (!this.current || this.current.rows >= this.rowsPerFile) this.rotate();
      const room = this.rowsPerFile - this.current!.rows;
      const chunk = rows.slice(offset, offset + room);
      appendFileSync(
        join(this.directory, this.current!.name),
        chunk.map((r) => `${JSON.stringify(r)}\n`).join(''),
      );
      this.current!.rows += chunk.length;
      this.counts.set(this.current!.name, this.current!.rows);
      offset += chunk.length;
    }
  }

  /** The oldest file and its rows; closes the file being appended to if it is the only one. */
  oldest(): { name: string; rows: Row[] } | undefined {
    const name = [...this.counts.keys()].sort()[0];
    if (!name) return undefined;
    if (this.current?.name === name) this.current = undefined;
    const text = readFileSync(join(this.directory, name), 'utf8');
    const rows: Row[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        rows.push(JSON.parse(line) as Row);
      } catch {
        // A torn last line from a crash mid-append: the row was never acknowledged.
      }
    }
    return { name, rows };
  }

  /** Every file with its text, oldest first; closes the file being appended to. */
  contents(): { name: string; text: string; rows: number }[] {
    this.current = undefined;
    return [...this.counts.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, rows]) => ({ name, rows, text: readFileSync(join(this.directory, name), 'utf8') }));
  }

  /** Removes a file whose rows are all in the database (or in the object store). */
  remove(name: string): void {
    rmSync(join(this.directory, name), { force: true });
    this.counts.delete(name);
    if (this.current?.name === name) this.current = undefined;
  }

  private rotate(): void {
    // Names sort in creation order: time, then a sequence for files made in the same millisecond.
    const name = `spill-${String(Date.now()).padStart(15, '0')}-${process.pid}-${String(this.sequence++).padStart(6, '0')}.ndjson`;
    this.current = { name, rows: 0 };
  }
}

function countLines(path: string): number {
  const text = readFileSync(path, 'utf8');
  let n = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') n++;
  return n;
}
