import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { canonicalJson } from './digest.js';
import { Task } from './feature-schema.js';
import { type ObjectStore, openObjectStore, type S3SettingsValues } from './object-store/index.js';

/**
 * The files of one model version, as the trainer writes them and every other stage reads
 * them: names, the manifest that lists their digests, lookup of a recorded artifact by name
 * and reading one by the URI the registry recorded.
 */

/** Artifact file names inside a version directory (or s3:// prefix). */
export const ARTIFACT = {
  /** The ONNX graph: preprocessing + model, the contract in core/model-input.ts. */
  model: 'model.onnx',
  /** The feature schema (core/feature-schema.ts) the graph was built for. */
  schema: 'schema.json',
  /** Holdout, baseline and validation metrics, the gate outcome, rows and periods. */
  metrics: 'metrics.json',
  /** The hyperparameter search, trial by trial. */
  trials: 'trials.json',
  /** A sample of the holdout with its predictions: the drift monitor's baseline. */
  reference: 'reference.parquet',
  /** The training report a person reads. */
  report: 'report.html',
  /** Written last: the digest of every other artifact. A directory without it is no version. */
  manifest: 'manifest.json',
} as const;
export type ArtifactName = (typeof ARTIFACT)[keyof typeof ARTIFACT];

/** The media type each artifact is stored with. */
export const ARTIFACT_CONTENT_TYPE: Record<ArtifactName, string> = {
  'model.onnx': 'application/octet-stream',
  'schema.json': 'application/json',
  'metrics.json': 'application/json',
  'trials.json': 'application/json',
  'reference.parquet': 'application/vnd.apache.parquet',
  'report.html': 'text/html; charset=utf-8',
  'manifest.json': 'application/json',
};

/** What a server needs to answer requests. */
export const SERVING_ARTIFACTS: readonly ArtifactName[] = [ARTIFACT.model, ARTIFACT.schema];

const Sha256 = z.string().regex(/^sha256:[0-9a-f]{64}$/);

/** One recorded artifact: in the registry, and in the trainer's result. */
export const ArtifactRecord = z.object({
  name: z.string().min(1).describe('File name, e.g. model.onnx'),
  uri: z.string().min(1).describe('Where it is: s3://bucket/key or a file path'),
  sha256: Sha256,
  sizeBytes: z.number().int().nonnegative(),
});
export type ArtifactRecord = z.infer<typeof ArtifactRecord>;

export const ManifestArtifact = z.object({
  name: z.string().min(1),
  sha256: Sha256,
  sizeBytes: z.number().int().nonnegative().optional(),
});
export type ManifestArtifact = z.infer<typeof ManifestArtifact>;

/**
 * manifest.json beside the artifacts. The trainer always writes every field; a reader accepts
 * a manifest without name/version (it may get them from flags) and ignores unknown fields.
 */
export const Manifest = z.object({
  modelName: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
  task: Task.optional(),
  schemaDigest: z.string().optional(),
  artifacts: z.array(ManifestArtifact).min(1),
});
export type Manifest = z.infer<typeof Manifest>;

/** The manifest as the trainer writes it: every field present. */
export type WrittenManifest = Required<Manifest>;

/** Canonical, pretty JSON: the same manifest always has the same bytes. */
export function serializeManifest(manifest: WrittenManifest): string {
  const checked = Manifest.parse(manifest);
  return `${JSON.stringify(JSON.parse(canonicalJson(checked)), null, 2)}\n`;
}

/** Parses manifest.json text; throws a ZodError or SyntaxError on a bad file. */
export function parseManifest(text: string): Manifest {
  return Manifest.parse(JSON.parse(text));
}

/** Digests by artifact name, from a manifest. */
export function manifestDigests(manifest: Manifest): Record<string, string> {
  return Object.fromEntries(manifest.artifacts.map((a) => [a.name, a.sha256]));
}

/** The recorded artifact called `name`, if any. */
export function findArtifact<A extends { name: string }>(
  artifacts: readonly A[],
  name: ArtifactName,
): A | undefined {
  return artifacts.find((a) => a.name === name);
}

/**
 * The URI of a registered version's artifact: the one recorded by name, else the file of that
 * name under the version's artifact root (versions recorded before their artifacts were).
 */
export function artifactUri(
  version: { artifacts: readonly { name: string; uri: string }[]; artifactRoot?: string | null | undefined },
  name: ArtifactName,
): string | undefined {
  const recorded = findArtifact(version.artifacts, name)?.uri;
  if (recorded) return recorded;
  const root = version.artifactRoot?.replace(/\/+$/, '');
  if (!root) return undefined;
  return root.startsWith('s3://') ? `${root}/${name}` : join(root, name);
}

/** The URI of a file beside another (same directory or S3 prefix). */
export function siblingUri(uri: string, name: string): string {
  if (uri.startsWith('s3://')) return `${uri.replace(/\/[^/]*$/, '')}/${name}`;
  return join(dirname(uri), name);
}

/** Splits an artifact URI (s3://bucket/a/b/file or /dir/file) into its store and key. */
export function storeForUri(uri: string, s3?: S3SettingsValues): { store: ObjectStore; key: string } {
  if (uri.startsWith('s3://')) {
    const slash = uri.lastIndexOf('/');
    if (slash <= 's3://'.length || slash === uri.length - 1) {
      throw new Error(`artifact URI ${uri} names no object: expected s3://bucket/prefix/file`);
    }
    return { store: openObjectStore(uri.slice(0, slash), s3), key: uri.slice(slash + 1) };
  }
  const name = basename(uri);
  if (name === '' || uri.endsWith('/')) throw new Error(`artifact path ${uri} names no file`);
  return { store: openObjectStore(dirname(uri), s3), key: name };
}

/** Reads an artifact by the URI the registry or a manifest recorded: s3://bucket/key or a path. */
export async function readArtifact(uri: string, s3?: S3SettingsValues): Promise<Buffer> {
  if (!uri.startsWith('s3://')) return readFile(uri);
  const { store, key } = storeForUri(uri, s3);
  return store.get(key);
}

export async function readArtifactText(uri: string, s3?: S3SettingsValues): Promise<string> {
  return (await readArtifact(uri, s3)).toString('utf8');
}
