import { z } from 'zod';
import { setting } from '../config.js';
import { readPem } from '../db/pool.js';
import { ConfigError } from '../errors.js';
import { FsObjectStore } from './fs-store.js';
import type { ObjectStore } from './object-store.js';
import { type S3Config, S3ObjectStore } from './s3-store.js';

export { FsObjectStore } from './fs-store.js';
export {
  checkKey,
  joinKey,
  ObjectExistsError,
  ObjectNotFoundError,
  type ObjectStore,
} from './object-store.js';
export { type S3Config, S3ObjectStore } from './s3-store.js';

/** The S3 settings every subcommand that touches the object store accepts. */
export const s3Settings = {
  s3Endpoint: setting({
    flag: 's3-endpoint',
    env: 'MLCYCLE_S3_ENDPOINT',
    description: 'S3/MinIO endpoint URL, e.g. http://minio:9000 (needed for s3:// locations)',
    schema: z.url({ message: 'expected a URL such as http://minio:9000' }).optional(),
  }),
  s3AccessKey: setting({
    flag: 's3-access-key',
    env: 'MLCYCLE_S3_ACCESS_KEY',
    description: 'S3 access key',
    schema: z.string().min(1).optional(),
  }),
  s3SecretKey: setting({
    flag: 's3-secret-key',
    env: 'MLCYCLE_S3_SECRET_KEY',
    description: 'S3 secret key',
    schema: z.string().min(1).optional(),
  }),
  s3Region: setting({
    flag: 's3-region',
    env: 'MLCYCLE_S3_REGION',
    description: 'S3 region',
    schema: z.string().default('us-east-1'),
  }),
  s3Ca: setting({
    flag: 's3-ca',
    env: 'MLCYCLE_S3_CA',
    description:
      "CA certificate(s) an https S3 endpoint's certificate must chain to: a PEM file, or the PEM text itself",
    schema: z.string().min(1).optional(),
  }),
};

export interface S3SettingsValues {
  s3Endpoint?: string | undefined;
  s3AccessKey?: string | undefined;
  s3SecretKey?: string | undefined;
  s3Region: string;
  s3Ca?: string | undefined;
}

export function s3ConfigFrom(values: S3SettingsValues): S3Config {
  const missing = [
    ['--s3-endpoint/MLCYCLE_S3_ENDPOINT', values.s3Endpoint],
    ['--s3-access-key/MLCYCLE_S3_ACCESS_KEY', values.s3AccessKey],
    ['--s3-secret-key/MLCYCLE_S3_SECRET_KEY', values.s3SecretKey],
  ].filter(([, v]) => !v);
  if (missing.length > 0) {
    throw new ConfigError(`an s3:// location needs ${missing.map(([name]) => name).join(', ')}`);
  }
  return {
    endpoint: values.s3Endpoint!,
    accessKey: values.s3AccessKey!,
    secretKey: values.s3SecretKey!,
    region: values.s3Region,
    ...(values.s3Ca ? { ca: readPem(values.s3Ca, 'the S3 CA file') } : {}),
  };
}

/** Parses `s3://bucket/some/prefix` into its bucket and prefix. */
export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!match) throw new ConfigError(`invalid S3 URI ${JSON.stringify(uri)}: expected s3://bucket/prefix`);
  return { bucket: match[1]!, key: (match[2] ?? '').replace(/\/+$/, '') };
}

/**
 * Opens the store at `location`: `s3://bucket/prefix` through MinIO/S3, anything else as a
 * local directory.
 */
export function openObjectStore(location: string, s3?: S3SettingsValues): ObjectStore {
  if (location.startsWith('s3://')) {
    const { bucket, key } = parseS3Uri(location);
    return new S3ObjectStore(bucket, key, s3ConfigFrom(s3 ?? { s3Region: 'us-east-1' }));
  }
  return new FsObjectStore(location);
}
