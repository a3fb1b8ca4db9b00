import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from './db/index.js';
import { Namespace } from './tenant.js';

/**
 * A namespace's own PostgreSQL role: it logs in, reads and writes the mlcycle tables, and row-
 * level security (migration 011) limits every row it sees or writes to its namespace. Created
 * and rotated by whoever holds the admin credentials (the operator); the workloads of the
 * namespace get only this role's URL.
 */

/** What a tenant role may do, table by table; nothing else (no DDL, no other tables). */
const TENANT_GRANTS: Record<string, string> = {
  models: 'SELECT, INSERT',
  model_versions: 'SELECT, INSERT, UPDATE',
  model_version_params: 'SELECT, INSERT, DELETE',
  model_version_metrics: 'SELECT, INSERT, DELETE',
  model_version_tags: 'SELECT, INSERT, DELETE',
  model_version_artifacts: 'SELECT, INSERT, DELETE',
  model_aliases: 'SELECT, INSERT, UPDATE',
  lifecycle_events: 'SELECT, INSERT',
  prediction_logs: 'SELECT, INSERT',
  // /feedback corrects a label (UPDATE) and appends it to the history.
  prediction_labels: 'SELECT, INSERT, UPDATE',
  prediction_label_history: 'SELECT, INSERT',
  drift_runs: 'SELECT, INSERT, UPDATE',
  // Its own mapping only (row-level security), never writable: a role cannot move itself.
  tenant_roles: 'SELECT',
  // migrate() checks that the schema is current before anything else.
  schema_migrations: 'SELECT',
};

const SEQUENCES = ['lifecycle_events_id_seq', 'prediction_logs_id_seq', 'prediction_label_history_id_seq'];

/** The role name of a namespace: readable, and at most PostgreSQL's 63 bytes. */
export function tenantRoleName(namespace: string): string {
  const ns = Namespace.parse(namespace);
  const name = `mlcycle-ns-${ns}`;
  if (name.length <= 63) return name;
  return `mlcycle-ns-${ns.slice(0, 38)}-${createHash('sha256').update(ns).digest('hex').slice(0, 12)}`;
}

export interface TenantRole {
  namespace: string;
  role: string;
  password: string;
}

/**
 * Creates the namespace's role if it does not exist, (re)sets its password, grants it what it
 * needs in the current schema and maps it to its namespace. Idempotent; run with the admin pool
 * (the owner of the tables). A new random password each call unless one is given.
 */
export async function ensureTenantRole(
  admin: Pool,
  namespace: string,
  password: string = randomBytes(24).toString('base64url'),
): Promise<TenantRole> {
  const role = tenantRoleName(namespace);
  const client = await admin.connect();
  try {
    await client.query('BEGIN');
    const ident = (await client.query<{ q: string }>('SELECT quote_ident($1) AS q', [role])).rows[0]!.q;
    const secret = (await client.query<{ q: string }>('SELECT quote_literal($1) AS q', [password])).rows[0]!
      .q;
    const existing = await client.query<{ powerful: boolean }>(
      'SELECT rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb AS powerful FROM pg_roles WHERE rolname = $1',
      [role],
    );
    // A role of that name with more rights than a tenant's is never handed out.
    if (existing.rows[0]?.powerful) {
      throw new Error(`role ${role} exists with more than a tenant's rights; refusing to use it`);
    }
    // Role DDL takes no parameters: the name and password are quoted by the server itself.
    await client.query(
      existing.rowCount
        ? `ALTER ROLE ${ident} WITH LOGIN PASSWORD ${secret}`
        : `CREATE ROLE ${ident} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD ${secret}`,
    );
    const schema = (await client.query<{ s: string }>('SELECT quote_ident(current_schema()) AS s')).rows[0]!
      .s;
    await client.query(`GRANT USAGE ON SCHEMA ${schema} TO ${ident}`);
    for (const [table, privileges] of Object.entries(TENANT_GRANTS)) {
      await client.query(`GRANT ${privileges} ON ${schema}.${table} TO ${ident}`);
    }
    for (const sequence of SEQUENCES) {
      await client.query(`GRANT USAGE ON SEQUENCE ${schema}.${sequence} TO ${ident}`);
    }
    await client.query(
      `INSERT INTO tenant_roles (role_name, namespace) VALUES ($1, $2)
       ON CONFLICT (role_name) DO UPDATE SET namespace = EXCLUDED.namespace`,
      [role, namespace],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw new Error(
      `cannot set up the PostgreSQL role of namespace ${namespace}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  } finally {
    client.release();
  }
  return { namespace, role, password };
}

/** The admin URL with the tenant role's user and password instead (host, database and options kept). */
export function tenantDatabaseUrl(adminUrl: string, tenant: TenantRole): string {
  const url = new URL(adminUrl);
  url.username = encodeURIComponent(tenant.role);
  url.password = encodeURIComponent(tenant.password);
  return url.toString();
}
