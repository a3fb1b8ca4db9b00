import { z } from 'zod';
import { fields, setting } from '../config.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';
import { migrations } from './migrations/index.js';
import { createPool, type Pool, type PoolTimeouts } from './pool.js';

export { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.js';
export { type Migration, migrate } from './migrate.js';
export { migrations } from './migrations/index.js';
export {
  createPool,
  DEFAULT_POOL_TIMEOUTS,
  type Pool,
  type PoolClient,
  type PoolTimeouts,
  redactUrl,
  withTransaction,
} from './pool.js';

export const databaseSettings = {
  databaseUrl: setting({
    flag: 'database-url',
    env: 'MLCYCLE_DATABASE_URL',
    description: 'PostgreSQL URL; when unset, an embedded PGlite database in --data-dir is used',
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
      .optional(),
  }),
  dataDir: setting({
    flag: 'data-dir',
    env: 'MLCYCLE_DATA_DIR',
    description: 'directory of the embedded database (used when no database URL is given)',
    schema: z.string().min(1).default('.mlcycle'),
  }),
  dbStatementTimeout: setting({
    flag: 'db-statement-timeout',
    env: 'MLCYCLE_DB_STATEMENT_TIMEOUT',
    description:
      'longest a PostgreSQL statement (or an idle open transaction) may take before it is cancelled, e.g. 60s',
    schema: fields.duration.default(60_000),
  }),
  dbConnectTimeout: setting({
    flag: 'db-connect-timeout',
    env: 'MLCYCLE_DB_CONNECT_TIMEOUT',
    description: 'longest opening a PostgreSQL connection may take, e.g. 10s',
    schema: fields.duration.default(10_000),
  }),
  dbIdleTimeout: setting({
    flag: 'db-idle-timeout',
    env: 'MLCYCLE_DB_IDLE_TIMEOUT',
    description: 'an unused pooled PostgreSQL connection is closed after this, e.g. 30s',
    schema: fields.duration.default(30_000),
  }),
};

/** The pool timeouts given by `databaseSettings`. */
export function poolTimeouts(v: {
  dbStatementTimeout: number;
  dbConnectTimeout: number;
  dbIdleTimeout: number;
}): PoolTimeouts {
  return { statementMs: v.dbStatementTimeout, connectMs: v.dbConnectTimeout, idleMs: v.dbIdleTimeout };
}

export interface Database {
  pool: Pool;
  /** The URL other processes can use to reach the same database. */
  url: string;
  /** Present when this process started the embedded database. */
  embedded?: EmbeddedPostgres;
  close(): Promise<void>;
}

/**
 * Connects to PostgreSQL at `databaseUrl`, or starts the embedded PGlite in `dataDir`, then
 * brings the schema up to date.
 */
export async function openDatabase(options: {
  databaseUrl?: string | undefined;
  dataDir: string;
  poolSize?: number;
  applicationName?: string;
  /** Statement, connection and idle timeouts (DEFAULT_POOL_TIMEOUTS for any not given). */
  timeouts?: Partial<PoolTimeouts> | undefined;
}): Promise<Database> {
  const embedded = options.databaseUrl
    ? undefined
    : await startEmbeddedPostgres({ dataDir: `${options.dataDir}/pgdata` });
  const url = options.databaseUrl ?? embedded!.url;
  const pool = createPool(url, {
    max: options.poolSize ?? (embedded ? 4 : 10),
    ...(options.applicationName ? { applicationName: options.applicationName } : {}),
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
  });
  try {
    await migrate(pool, migrations);
  } catch (err) {
    await pool.end().catch(() => {});
    await embedded?.stop().catch(() => {});
    throw err;
  }
  return {
    pool,
    url,
    ...(embedded ? { embedded } : {}),
    close: async () => {
      await pool.end();
      await embedded?.stop();
    },
  };
}
