import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ObjectNotFoundError, openObjectStore } from '../../core/object-store/index.js';
import { MinioAdmin, prefixPolicy } from '../../core/object-store/minio-admin.js';
import { namespacePrefix } from '../../core/tenant.js';
import { testS3 } from '../services.js';

/**
 * Tenants on the real MinIO: each namespace's own S3 user, created through MinIO's admin API
 * (core/object-store/minio-admin.ts), may read and write only under `namespaces/<ns>/`.
 */

const suffix = randomBytes(4).toString('hex');
const bucket = `tenancy-${suffix}`;
const A = `team-a-${suffix}`;
const B = `team-b-${suffix}`;
const admin = testS3();
const users = {
  [A]: { user: `mlcycle-${A}`, secret: randomBytes(18).toString('base64url') },
  [B]: { user: `mlcycle-${B}`, secret: randomBytes(18).toString('base64url') },
};
const as = (ns: string) => ({ ...admin, s3AccessKey: users[ns]!.user, s3SecretKey: users[ns]!.secret });
const root = (ns: string) => `s3://${bucket}/${namespacePrefix(ns)}`;

beforeAll(async () => {
  const minio = new MinioAdmin({
    endpoint: admin.s3Endpoint,
    accessKey: admin.s3AccessKey,
    secretKey: admin.s3SecretKey,
    region: admin.s3Region,
  });
  for (const ns of [A, B]) {
    await minio.addPolicy(`mlcycle-${ns}`, prefixPolicy(bucket, namespacePrefix(ns)));
    await minio.addUser(users[ns]!.user, users[ns]!.secret);
    await minio.setUserPolicy(users[ns]!.user, `mlcycle-${ns}`);
  }
  // The admin creates the bucket and B's model.
  await openObjectStore(root(B), admin).putNew('models/m/v1/model.onnx', 'B model');
}, 60_000);

describe('a namespace’s own S3 user', () => {
  it('reads and writes under its own prefix', async () => {
    const mine = openObjectStore(root(A), as(A));
    await mine.putNew('models/m/v1/model.onnx', 'A model');
    expect((await mine.get('models/m/v1/model.onnx')).toString()).toBe('A model');
    expect(await mine.list('models/')).toEqual(['models/m/v1/model.onnx']);
    await expect(mine.get('models/m/v2/model.onnx')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('cannot read, list, overwrite or delete another namespace’s objects', async () => {
    const theirs = openObjectStore(root(B), as(A));
    await expect(theirs.get('models/m/v1/model.onnx')).rejects.toThrow(/Access Denied/i);
    await expect(theirs.size('models/m/v1/model.onnx')).rejects.toThrow();
    await expect(theirs.list('models/')).rejects.toThrow(/Access Denied/i);
    await expect(theirs.put('models/m/v1/model.onnx', 'forged')).rejects.toThrow(/Access Denied/i);
    await expect(theirs.put('models/m/v2/model.onnx', 'planted')).rejects.toThrow(/Access Denied/i);
    await theirs.delete('models/m/v1/model.onnx').catch(() => {});
    const asAdmin = openObjectStore(root(B), admin);
    expect((await asAdmin.get('models/m/v1/model.onnx')).toString()).toBe('B model');
    expect(await asAdmin.list('models/')).toEqual(['models/m/v1/model.onnx']);
  });

  it('cannot reach the rest of the bucket either', async () => {
    const bucketRoot = openObjectStore(`s3://${bucket}`, as(A));
    await expect(bucketRoot.put('models/m/v1/model.onnx', 'x')).rejects.toThrow(/Access Denied/i);
    await expect(bucketRoot.list('')).rejects.toThrow(/Access Denied/i);
  });
});
