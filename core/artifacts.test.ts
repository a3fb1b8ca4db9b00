import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACT,
  artifactUri,
  findArtifact,
  manifestDigests,
  parseManifest,
  readArtifactText,
  serializeManifest,
  siblingUri,
} from './artifacts.js';
import { sha256 } from './digest.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlcycle-core-artifacts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const digest = sha256('x');

describe('artifacts contract', () => {
  it('writes a manifest the reader parses back, keys sorted, whatever order they were built in', () => {
    const text = serializeManifest({
      version: 'v1',
      modelName: 'm',
      task: 'regression',
      schemaDigest: digest,
      artifacts: [{ name: ARTIFACT.model, sha256: digest, sizeBytes: 3 }],
    });
    expect(text.indexOf('"artifacts"')).toBeLessThan(text.indexOf('"modelName"'));
    const manifest = parseManifest(text);
    expect(manifest.modelName).toBe('m');
    expect(manifestDigests(manifest)).toEqual({ 'model.onnx': digest });
  });

  it('refuses a manifest without artifacts or with a malformed digest', () => {
    expect(() => parseManifest('{"artifacts":[]}')).toThrow();
    expect(() => parseManifest('{"artifacts":[{"name":"model.onnx","sha256":"md5:1"}]}')).toThrow();
  });

  it('finds a recorded artifact by name, else under the artifact root', () => {
    const version = {
      artifacts: [{ name: 'model.onnx', uri: 's3://b/models/m/v1/model.onnx' }],
      artifactRoot: 's3://b/models/m/v1/',
    };
    expect(findArtifact(version.artifacts, ARTIFACT.model)?.uri).toBe('s3://b/models/m/v1/model.onnx');
    expect(findArtifact(version.artifacts, ARTIFACT.schema)).toBeUndefined();
    expect(artifactUri(version, ARTIFACT.schema)).toBe('s3://b/models/m/v1/schema.json');
    expect(artifactUri({ artifacts: [], artifactRoot: '/srv/v1' }, ARTIFACT.metrics)).toBe(
      '/srv/v1/metrics.json',
    );
    expect(artifactUri({ artifacts: [] }, ARTIFACT.metrics)).toBeUndefined();
  });

  it('names siblings of a file or an object', () => {
    expect(siblingUri('s3://b/p/reference.parquet', ARTIFACT.schema)).toBe('s3://b/p/schema.json');
    expect(siblingUri('/a/b/reference.parquet', ARTIFACT.schema)).toBe('/a/b/schema.json');
  });

  it('reads a file artifact by its path', async () => {
    const path = join(dir, ARTIFACT.schema);
    await writeFile(path, '{"a":1}');
    expect(await readArtifactText(path)).toBe('{"a":1}');
  });
});
