import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testDatabaseUrl } from './services.js';

/**
 * A database URL on the real test PostgreSQL whose search_path is a brand-new schema, so each
 * test file (or test) starts from an empty database without needing CREATE DATABASE rights.
 */
export async function freshDatabaseUrl(): Promise<string> {
  const base = testDatabaseUrl();
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}
