import { createHmac } from 'node:crypto';
import type { Pool } from '../core/db/index.js';
import { joinKey, parseS3Uri, type S3Config, S3ObjectStore } from '../core/object-store/index.js';
import { MinioAdmin, prefixPolicy } from '../core/object-store/minio-admin.js';
import { namespacePrefix } from '../core/tenant.js';
import { ensureTenantRole, tenantDatabaseUrl } from '../core/tenant-roles.js';

/**
 * What the workloads of a namespace get in their Secret: the MLCYCLE_* variables of the
 * database and the object store. The operator keeps the admin credentials; by default each
 * namespace gets its own PostgreSQL role (row-level security: its rows only) and its own MinIO
 * user (a policy: its prefix only).
 */
export interface TenantCredentials {
  env(namespace: string): Promise<Record<string, string>>;
}

/** Every namespace gets the same settings (the admin's): for a backend without per-tenant users. */
export function sharedCredentials(env: Record<string, string>): TenantCredentials {
  return { env: async () => ({ ...env }) };
}

export interface PerNamespaceOptions {
  /** The workloads' settings with the admin credentials (MLCYCLE_DATABASE_URL, MLCYCLE_S3_*). */
  adminEnv: Record<string, string>;
  /** The admin pool (the tables' owner, allowed to create roles). */
  pool: () => Promise<Pool>;
  /** `s3://bucket[/prefix]`: each namespace's user is limited to `<prefix>/namespaces/<ns>/`. */
  artifactRoot: string;
  /** Give each namespace its own PostgreSQL role (else the admin URL). */
  databaseRoles: boolean;
  /** Give each namespace its own MinIO user (else the admin S3 keys). */
  minioUsers: boolean;
  /** Where the operator itself reaches MinIO's admin API, if not where the workloads do. */
  adminS3Endpoint?: string | undefined;
}

/**
 * Per-namespace credentials, created (or brought back to what they should be) on each call.
 * Passwords are derived from the admin secrets with HMAC, so every operator replica and every
 * restart computes the same ones: nothing to store, and a Secret that is re-applied never
 * changes under running Pods.
 */
export function perNamespaceCredentials(o: PerNamespaceOptions): TenantCredentials {
  const adminUrl = o.adminEnv.MLCYCLE_DATABASE_URL;
  const s3 = {
    endpoint: o.adminS3Endpoint ?? o.adminEnv.MLCYCLE_S3_ENDPOINT,
    accessKey: o.adminEnv.MLCYCLE_S3_ACCESS_KEY,
    secretKey: o.adminEnv.MLCYCLE_S3_SECRET_KEY,
    region: o.adminEnv.MLCYCLE_S3_REGION ?? 'us-east-1',
    ca: o.adminEnv.MLCYCLE_S3_CA,
  };
  const derivationKey = `${adminUrl ?? ''}\n${s3.secretKey ?? ''}`;
  const derive = (purpose: string, ns: string) =>
    createHmac('sha256', derivationKey).update(`${purpose}:${ns}`).digest('base64url').slice(0, 32);
  const minio =
    o.minioUsers && s3.endpoint && s3.accessKey && s3.secretKey
      ? new MinioAdmin({
          endpoint: s3.endpoint,
          accessKey: s3.accessKey,
          secretKey: s3.secretKey,
          region: s3.region,
        })
      : undefined;
  const { bucket, key: rootPrefix } = parseS3Uri(o.artifactRoot);
  const bucketReady = minio ? onceUntilItWorks(() => adminStore(bucket, s3).ensureBucket()) : undefined;
  return {
    env: async (ns) => {
      const env = { ...o.adminEnv };
      if (o.databaseRoles && adminUrl) {
        const role = await ensureTenantRole(await o.pool(), ns, derive('postgres', ns));
        env.MLCYCLE_DATABASE_URL = tenantDatabaseUrl(adminUrl, role);
      }
      if (minio && bucketReady) {
        // A namespace's user may write under its prefix only: it cannot create the bucket.
        await bucketReady();
        const user = tenantS3User(ns);
        const secret = derive('s3', ns);
        await minio.addPolicy(user, prefixPolicy(bucket, joinKey(rootPrefix, namespacePrefix(ns))));
        await minio.addUser(user, secret);
        await minio.setUserPolicy(user, user);
        env.MLCYCLE_S3_ACCESS_KEY = user;
        env.MLCYCLE_S3_SECRET_KEY = secret;
      }
      return env;
    },
  };
}

function adminStore(bucket: string, s3: Partial<S3Config>): S3ObjectStore {
  return new S3ObjectStore(bucket, '', {
    endpoint: s3.endpoint ?? '',
    accessKey: s3.accessKey ?? '',
    secretKey: s3.secretKey ?? '',
    region: s3.region ?? 'us-east-1',
    ca: s3.ca,
  });
}

/** Runs `fn` once it has succeeded; a failure is retried on the next call. */
function onceUntilItWorks(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= fn().catch((err: unknown) => {
      done = undefined;
      throw err;
    });
    return done;
  };
}

/** The namespace's MinIO user (also its policy's name). */
export function tenantS3User(namespace: string): string {
  return `mlcycle-ns-${namespace}`;
}
