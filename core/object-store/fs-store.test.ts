import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { objectStoreContract } from '../../test/object-store-contract.js';
import { FsObjectStore } from './fs-store.js';
import { openObjectStore, parseS3Uri } from './index.js';

describe('FsObjectStore', () => {
  objectStoreContract(async () => new FsObjectStore(await mkdtemp(join(tmpdir(), 'mlcycle-store-'))));

  it('leaves no temporary files behind', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mlcycle-store-'));
    const store = new FsObjectStore(root);
    await store.put('a/b.txt', 'hello');
    expect(await readdir(join(root, 'a'))).toEqual(['b.txt']);
  });
});

describe('openObjectStore', () => {
  it('parses s3 URIs and requires credentials for them', () => {
    expect(parseS3Uri('s3://mlcycle/models/x/')).toEqual({ bucket: 'mlcycle', key: 'models/x' });
    expect(() => parseS3Uri('s3://A_B/x')).toThrow(/invalid S3 URI/);
    expect(() => openObjectStore('s3://mlcycle/x', { s3Region: 'us-east-1' })).toThrow(
      /--s3-endpoint\/MLCYCLE_S3_ENDPOINT/,
    );
    expect(openObjectStore('/tmp/somewhere').root).toBe('/tmp/somewhere');
  });
});
