import pg from 'pg';

// int8 (bigint, e.g. COUNT(*) and bigserial ids) comes back as a string by default, because it
// can exceed 2^53; our counts and ids never do, and numbers are what the code expects.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * How long a pool waits for PostgreSQL. Without them a statement against an unresponsive
 * server (or a lost connection the kernel has not noticed) waits forever: a server draining its
 * prediction log at shutdown would hang until SIGKILL.
 */
export interface PoolTimeouts {
  /** A statement running longer is cancelled by the server (`statement_timeout`). */
  statementMs: number;
  /** Opening a connection (TCP + startup + authentication) takes at most this. */
  connectMs: number;
  /** An unused connection is closed after this. */
  idleMs: number;
}

export const DEFAULT_POOL_TIMEOUTS: PoolTimeouts = { statementMs: 60_000, connectMs: 10_000, idleMs: 30_000 };

// The client gives up on a statement this long after the server should have cancelled it: the
// server's own timeout answers first when it can; this one covers a server that cannot answer.
const CLIENT_GRACE_MS = 5_000;

export function createPool(
  url: string,
  options: { max?: number; applicationName?: string; timeouts?: Partial<PoolTimeouts> } = {},
): pg.Pool {
  const t = { ...DEFAULT_POOL_TIMEOUTS, ...options.timeouts };
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'mlcycle',
    connectionTimeoutMillis: t.connectMs,
    idleTimeoutMillis: t.idleMs,
    statement_timeout: t.statementMs,
    // A transaction left open (a cursor read abandoned by a crashed loop) holds locks and a
    // snapshot; the server ends it after the same time a statement may take.
    idle_in_transaction_session_timeout: t.statementMs,
    query_timeout: t.statementMs + CLIENT_GRACE_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener
  // that would crash the process. The next query simply gets a fresh connection.
  pool.on('error', () => {});
  return pool;
}

/** Runs `work` in a transaction, rolling back on any error. */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** Hides the password when a URL is shown in a log or message. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
