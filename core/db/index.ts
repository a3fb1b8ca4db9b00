import { z } from 'zod';
import { fields, setting } from '../config.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.js';
import { migrate } from './migrate.js';
import { migrations } from './migrations/index.js';
import { createPool, type DbTls, type Pool, type PoolTimeouts } from './pool.js';

export { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.js';
export { type Migration, migrate } from './migrate.js';
export { migrations } from './migrations/index.js';
export {
  createPool,
  type DbTls,
  DEFAULT_POOL_TIMEOUTS,
  type Pool,
  type PoolClient,
  type PoolTimeouts,
  pgSsl,
  readPem,
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
  dbSslMode: setting({
    flag: 'db-sslmode',
    env: 'MLCYCLE_DB_SSLMODE',
    description:
      "TLS to PostgreSQL: disable, require (not verified), verify-ca or verify-full (libpq's meanings); overrides the URL's sslmode",
    schema: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
  }),
  dbSslCa: setting({
    flag: 'db-ssl-ca',
    env: 'MLCYCLE_DB_SSL_CA',
    description:
      "CA certificate(s) PostgreSQL's certificate must chain to: a PEM file, or the PEM text itself",
    schema: z.string().min(1).optional(),
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

/**
 * The TLS settings given by `databaseSettings`: undefined when neither is set (the URL decides,
 * e.g. `?sslmode=require`); a CA alone means verify-full.
 */
export function poolTls(v: {
  dbSslMode?: DbTls['sslmode'] | undefined;
  dbSslCa?: string | undefined;
}): DbTls | undefined {
  if (!v.dbSslMode && !v.dbSslCa) return undefined;
  return { sslmode: v.dbSslMode ?? 'verify-full', ca: v.dbSslCa };
}

/** Whether `err` is Node refusing a server's TLS certificate. */
function certificateRefused(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return (
    typeof code === 'string' &&
    /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID)$/.test(
      code,
    )
  );
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
  /** TLS to PostgreSQL (`poolTls`); undefined: as the URL says. */
  tls?: DbTls | undefined;
}): Promise<Database> {
  const embedded = options.databaseUrl
    ? undefined
    : await startEmbeddedPostgres({ dataDir: `${options.dataDir}/pgdata` });
  const url = options.databaseUrl ?? embedded!.url;
  const pool = createPool(url, {
    max: options.poolSize ?? (embedded ? 4 : 10),
    ...(options.applicationName ? { applicationName: options.applicationName } : {}),
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    ...(options.tls && !embedded ? { tls: options.tls } : {}),
  });
  try {
    await migrate(pool, migrations);
  } catch (err) {
    await pool.end().catch(() => {});
    await embedded?.stop().catch(() => {});
    if (certificateRefused(err)) {
      throw new Error(
        `PostgreSQL's TLS certificate is not trusted (${(err as Error).message}): give the CA that signed it with --db-ssl-ca / MLCYCLE_DB_SSL_CA, or check that the URL's host is a name in the certificate`,
        { cause: err },
      );
    }
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
