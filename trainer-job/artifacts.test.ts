import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACT } from '../core/artifacts.js';
import { UserError } from '../core/errors.js';
import { VersionDirectory } from './artifacts.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlcycle-artifacts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const s3 = { s3Region: 'us-east-1' };
const about = { task: 'regression', schemaDigest: 'sha256:0' } as const;

describe('version directory', () => {
  it('lays versions out under the store by namespace, or uses --out as is', () => {
    expect(VersionDirectory.open({ store: dir }, 'team-a', 'm', 'v2', s3).root).toBe(
      join(dir, 'namespaces', 'team-a', 'models', 'm', 'v2'),
    );
    expect(VersionDirectory.open({ out: join(dir, 'x'), store: dir }, 'team-a', 'm', 'v2', s3).root).toBe(
      join(dir, 'x'),
    );
  });

  it('writes the manifest last, and discard removes everything including a written manifest', async () => {
    const out = join(dir, 'a');
    const d = VersionDirectory.open({ out, store: dir }, 'default', 'm', 'v1', s3);
    await d.claim();
    await d.put(ARTIFACT.model, new Uint8Array([1, 2, 3]));
    expect(await readdir(out)).toEqual(['model.onnx']);
    const artifacts = await d.seal('m', 'v1', about);
    expect(artifacts.map((a) => a.name)).toEqual(['model.onnx']);
    expect((await readdir(out)).sort()).toEqual(['manifest.json', 'model.onnx']);
    await d.discard();
    expect(await readdir(out)).toEqual([]);
  });

  it('is write-once: a complete version, or another run’s files, are never replaced or removed', async () => {
    const out = join(dir, 'b');
    const first = VersionDirectory.open({ out, store: dir }, 'default', 'm', 'v1', s3);
    await first.put(ARTIFACT.schema, '{}');
    await first.seal('m', 'v1', about);
    const again = VersionDirectory.open({ out, store: dir }, 'default', 'm', 'v1', s3);
    await expect(again.claim()).rejects.toThrow(UserError);
    await expect(again.claim()).rejects.toThrow(/already holds m\/v1: artifacts are write-once/);

    // A run that skipped the claim (or raced another) is refused at its first write, and its
    // discard leaves the other run's files alone.
    await expect(again.put(ARTIFACT.schema, '{"v":2}')).rejects.toThrow(/already exists: it is write-once/);
    await again.discard();
    expect((await readdir(out)).sort()).toEqual(['manifest.json', 'schema.json']);

    // Files of an unfinished run (no manifest) are not taken over either.
    const partial = join(dir, 'c');
    const crashed = VersionDirectory.open({ out: partial, store: dir }, 'default', 'm', 'v3', s3);
    await crashed.put(ARTIFACT.model, new Uint8Array([1]));
    const retry = VersionDirectory.open({ out: partial, store: dir }, 'default', 'm', 'v3', s3);
    await expect(retry.claim()).rejects.toThrow(/is not empty \(model\.onnx\)/);
  });
});
