import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../core/db/index.js';
import { openObjectStore } from '../../core/object-store/index.js';
import { perNamespaceCredentials, tenantS3User } from '../../operator/tenant-credentials.js';
import { freshDatabaseUrl } from '../postgres.js';
import { testS3 } from '../services.js';

/**
 * What the operator puts into a namespace's workload Secret, on the real PostgreSQL and MinIO:
 * the namespace's own role and S3 user, the same on every call (a re-applied Secret never
 * changes under running Pods), never the admin's.
 */

const suffix = randomBytes(4).toString('hex');
const bucket = `creds-${suffix}`;
const s3 = testS3();
let admin: Database;
let adminUrl: string;
let credentials: ReturnType<typeof perNamespaceCredentials>;

beforeAll(async () => {
  adminUrl = await freshDatabaseUrl();
  admin = await openDatabase({ databaseUrl: adminUrl, dataDir: '/nonexistent' });
  credentials = perNamespaceCredentials({
    adminEnv: {
      MLCYCLE_DATABASE_URL: adminUrl,
      MLCYCLE_S3_ENDPOINT: s3.s3Endpoint,
      MLCYCLE_S3_ACCESS_KEY: s3.s3AccessKey,
      MLCYCLE_S3_SECRET_KEY: s3.s3SecretKey,
      MLCYCLE_S3_REGION: s3.s3Region,
    },
    pool: async () => admin.pool,
    artifactRoot: `s3://${bucket}/root`,
    databaseRoles: true,
    minioUsers: true,
  });
  await openObjectStore(`s3://${bucket}/root/namespaces/other-${suffix}`, s3).put('secret.txt', 'not yours');
}, 60_000);

afterAll(async () => {
  await admin?.close();
});

describe('per-namespace credentials', () => {
  it('gives a namespace its own database role and S3 user, stable across calls', async () => {
    const ns = `team-${suffix}`;
    const env = await credentials.env(ns);
    expect(await credentials.env(ns)).toEqual(env);
    expect(env.MLCYCLE_DATABASE_URL).not.toBe(adminUrl);
    expect(env.MLCYCLE_S3_ACCESS_KEY).toBe(tenantS3User(ns));
    expect(env.MLCYCLE_S3_SECRET_KEY).not.toBe(s3.s3SecretKey);

    const client = new pg.Client({ connectionString: env.MLCYCLE_DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT current_user AS u, mlcycle_tenant() AS ns');
      expect(rows[0]).toEqual({ u: `mlcycle-ns-${ns}`, ns });
    } finally {
      await client.end();
    }

    const keys = {
      s3Endpoint: env.MLCYCLE_S3_ENDPOINT,
      s3AccessKey: env.MLCYCLE_S3_ACCESS_KEY,
      s3SecretKey: env.MLCYCLE_S3_SECRET_KEY,
      s3Region: s3.s3Region,
    };
    const own = openObjectStore(`s3://${bucket}/root/namespaces/${ns}`, keys);
    await own.putNew('models/m/v1/model.onnx', 'mine');
    expect((await own.get('models/m/v1/model.onnx')).toString()).toBe('mine');
    const other = openObjectStore(`s3://${bucket}/root/namespaces/other-${suffix}`, keys);
    await expect(other.get('secret.txt')).rejects.toThrow(/Access Denied/i);
  });

  it('creates the artifact bucket when it is missing, which a namespace user could not do', async () => {
    const freshBucket = `creds-new-${suffix}`;
    const fresh = perNamespaceCredentials({
      adminEnv: {
        MLCYCLE_S3_ENDPOINT: s3.s3Endpoint,
        MLCYCLE_S3_ACCESS_KEY: s3.s3AccessKey,
        MLCYCLE_S3_SECRET_KEY: s3.s3SecretKey,
        MLCYCLE_S3_REGION: s3.s3Region,
      },
      pool: async () => admin.pool,
      artifactRoot: `s3://${freshBucket}/root`,
      databaseRoles: false,
      minioUsers: true,
    });
    const ns = `first-${suffix}`;
    const env = await fresh.env(ns);
    const keys = {
      s3Endpoint: env.MLCYCLE_S3_ENDPOINT,
      s3AccessKey: env.MLCYCLE_S3_ACCESS_KEY,
      s3SecretKey: env.MLCYCLE_S3_SECRET_KEY,
      s3Region: s3.s3Region,
    };
    const own = openObjectStore(`s3://${freshBucket}/root/namespaces/${ns}`, keys);
    await own.putNew('models/m/v1/model.onnx', 'first');
    expect((await own.get('models/m/v1/model.onnx')).toString()).toBe('first');
  });
});
