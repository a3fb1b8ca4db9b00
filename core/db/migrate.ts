import { createHash } from 'node:crypto';
import type pg from 'pg';

export interface Migration {
  /** Strictly increasing; never renumber a migration that has shipped. */
  id: number;
  name: string;
  sql: string;
}

// Any constant shared by every mlcycle process; the advisory lock serialises migrations so two
// processes starting together cannot apply the same one twice.
const MIGRATION_LOCK_KEY = 0x6d6c6379; // "mlcy"

/**
 * Applies the migrations not yet recorded in `schema_migrations`, each in its own transaction,
 * under an advisory lock. An applied migration whose SQL has since changed is an error: the
 * database would no longer match the code.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[]): Promise<number[]> {
  checkOrder(migrations);
  // A tenant's role may read the schema but not change it: a current schema needs no DDL at all.
  if (await isCurrent(pool, migrations)) return [];
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        id integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await client.query<{ id: number; name: string; checksum: string }>(
        'SELECT id, name, checksum FROM schema_migrations',
      );
      refuseNewerSchema(rows, migrations);
      const applied = new Map(rows.map((r) => [r.id, r]));
      const newlyApplied: number[] = [];
      for (const migration of migrations) {
        const checksum = createHash('sha256').update(migration.sql).digest('hex');
        const done = applied.get(migration.id);
        if (done) {
          if (done.checksum !== checksum) {
            throw new Error(
              `migration ${migration.id} (${migration.name}) was changed after it was applied; add a new migration instead`,
            );
          }
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (id, name, checksum) VALUES ($1, $2, $3)', [
            migration.id,
            migration.name,
            checksum,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`migration ${migration.id} (${migration.name}) failed: ${(err as Error).message}`, {
            cause: err,
          });
        }
        newlyApplied.push(migration.id);
      }
      return newlyApplied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  } finally {
    client.release();
  }
}

/** Whether every migration is applied, unchanged (read-only: no lock, no DDL). */
async function isCurrent(pool: pg.Pool, migrations: readonly Migration[]): Promise<boolean> {
  const { rows: exists } = await pool.query<{ t: string | null }>(
    "SELECT to_regclass('schema_migrations')::text AS t",
  );
  if (!exists[0]?.t) return false;
  const { rows } = await pool.query<{ id: number; name: string; checksum: string }>(
    'SELECT id, name, checksum FROM schema_migrations',
  );
  refuseNewerSchema(rows, migrations);
  const applied = new Map(rows.map((r) => [r.id, r.checksum]));
  return migrations.every((m) => applied.get(m.id) === createHash('sha256').update(m.sql).digest('hex'));
}

/**
 * A database migrated by a newer mlcycle has tables this one does not know how to write (a
 * downgrade, or an old pod left running during an upgrade): refuse to start rather than fail on
 * every write, and say which migrations are in the way.
 */
function refuseNewerSchema(
  applied: readonly { id: number; name: string }[],
  migrations: readonly Migration[],
): void {
  const known = new Set(migrations.map((m) => m.id));
  const unknown = applied.filter((r) => !known.has(r.id)).sort((a, b) => a.id - b.id);
  if (unknown.length === 0) return;
  const list = unknown.map((r) => `${r.id} (${r.name})`).join(', ');
  throw new Error(
    `the database schema is newer than this mlcycle: migration${unknown.length > 1 ? 's' : ''} ${list} ` +
      `came from a later release; run that release or a newer one against this database`,
  );
}

function checkOrder(migrations: readonly Migration[]): void {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.id <= migrations[i - 1]!.id) {
      throw new Error(`migrations out of order: ${migrations[i - 1]!.id} then ${migrations[i]!.id}`);
    }
  }
}
