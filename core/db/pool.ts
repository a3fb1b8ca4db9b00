import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
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

/**
 * TLS to PostgreSQL, as libpq's `sslmode` means it: `disable` (plain), `require` (encrypted, the
 * server's certificate not checked), `verify-ca` (signed by `ca`), `verify-full` (signed by `ca`
 * and naming the host of the URL). `ca` is PEM text or the path of a PEM file; without it the
 * verifying modes trust Node's bundled CAs.
 */
export interface DbTls {
  sslmode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
  ca?: string | undefined;
}

/** PEM text as given, or read from the file it names. */
export function readPem(pemOrPath: string, what: string): string {
  if (pemOrPath.includes('-----BEGIN')) return pemOrPath;
  try {
    return readFileSync(pemOrPath, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${pemOrPath}: ${(err as Error).message}`);
  }
}

/** The `ssl` option of a pg Pool for `tls`. */
export function pgSsl(tls: DbTls): false | ConnectionOptions {
  if (tls.sslmode === 'disable') return false;
  if (tls.sslmode === 'require') return { rejectUnauthorized: false };
  const ca = tls.ca ? readPem(tls.ca, 'the PostgreSQL CA file') : undefined;
  return {
    rejectUnauthorized: true,
    ...(ca ? { ca } : {}),
    // verify-ca: the chain is checked, the host name is not.
    ...(tls.sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}

/** The URL without its ssl* parameters: pg lets them override the Pool's `ssl` option. */
function withoutSslParams(url: string): string {
  const u = new URL(url);
  for (const key of [...u.searchParams.keys()]) if (key.startsWith('ssl')) u.searchParams.delete(key);
  return u.toString();
}

export function createPool(
  url: string,
  options: {
    max?: number;
    applicationName?: string;
    timeouts?: Partial<PoolTimeouts>;
    /** TLS settings; when given, the URL's own sslmode/sslrootcert/… are ignored. */
    tls?: DbTls | undefined;
  } = {},
): pg.Pool {
  const t = { ...DEFAULT_POOL_TIMEOUTS, ...options.timeouts };
  const pool = new pg.Pool({
    connectionString: options.tls ? withoutSslParams(url) : url,
    ...(options.tls ? { ssl: pgSsl(options.tls) } : {}),
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
