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
  it('lays versions out under the store, or uses --out as is', () => {
    expect(VersionDirectory.open({ store: dir }, 'm', 'v2', s3).root).toBe(join(dir, 'models', 'm', 'v2'));
    expect(VersionDirectory.open({ out: join(dir, 'x'), store: dir }, 'm', 'v2', s3).root).toBe(
      join(dir, 'x'),
    );
  });

  it('writes the manifest last, and discard removes everything including a written manifest', async () => {
    const out = join(dir, 'a');
    const d = VersionDirectory.open({ out, store: dir }, 'm', 'v1', s3);
    expect(await d.claim('m')).toBeUndefined();
    await d.put(ARTIFACT.model, new Uint8Array([1, 2, 3]));
    expect(await readdir(out)).toEqual(['model.onnx']);
    const artifacts = await d.seal('m', 'v1', about);
    expect(artifacts.map((a) => a.name)).toEqual(['model.onnx']);
    expect((await readdir(out)).sort()).toEqual(['manifest.json', 'model.onnx']);
    await d.discard();
    expect(await readdir(out)).toEqual([]);
  });

  it('replaces a version of the same model and refuses another model', async () => {
    const out = join(dir, 'b');
    const first = VersionDirectory.open({ out, store: dir }, 'm', 'v1', s3);
    await first.put(ARTIFACT.schema, '{}');
    await first.seal('m', 'v1', about);
    const again = VersionDirectory.open({ out, store: dir }, 'm', 'v2', s3);
    expect(await again.claim('m')).toBe('v1');
    // While being rewritten the directory does not look complete.
    expect(await readdir(out)).toEqual(['schema.json']);
    await again.put(ARTIFACT.schema, '{"v":2}');
    await again.seal('m', 'v2', about);
    const other = VersionDirectory.open({ out, store: dir }, 'other', 'v1', s3);
    await expect(other.claim('other')).rejects.toThrow(UserError);
    await expect(other.claim('other')).rejects.toThrow(/already holds a version of another model \(m\)/);
  });
});
