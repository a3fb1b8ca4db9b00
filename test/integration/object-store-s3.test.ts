import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { writeParquet } from '../../core/dataset/parquet.js';
import { readDataset } from '../../core/dataset/read.js';
import { openObjectStore, type S3ObjectStore } from '../../core/object-store/index.js';
import { objectStoreContract } from '../object-store-contract.js';
import { testS3 } from '../services.js';

// Against the real MinIO started by hack/services-up. Each test gets its own bucket.
function freshStore(): S3ObjectStore {
  const bucket = `t-${randomBytes(6).toString('hex')}`;
  return openObjectStore(`s3://${bucket}/prefix`, testS3()) as S3ObjectStore;
}

describe('S3ObjectStore on MinIO', () => {
  objectStoreContract(async () => freshStore());

  it('reads a Parquet dataset from s3:// with ranged reads', async () => {
    const store = freshStore();
    const table = {
      numRows: 2,
      columns: { v: { kind: 'number' as const, values: Float64Array.from([1, 2]) } },
    };
    await store.put('data/t.parquet', writeParquet(table));
    const back = await readDataset(store.uriFor('data/t.parquet'), { s3: testS3() });
    expect(Array.from((back.columns.v as { values: Float64Array }).values)).toEqual([1, 2]);
  });

  it('fails clearly on a wrong secret', async () => {
    const store = openObjectStore('s3://mlcycle-auth/x', { ...testS3(), s3SecretKey: 'wrong-secret' });
    await expect(store.put('a', 'b')).rejects.toThrow(
      /cannot write s3:\/\/mlcycle-auth\/x\/a: .*(credentials|signature|access denied)/i,
    );
  });
});
