import {
  ARTIFACT,
  ARTIFACT_CONTENT_TYPE,
  type ArtifactName,
  type ArtifactRecord,
  parseManifest,
  serializeManifest,
} from '../core/artifacts.js';
import { sha256 } from '../core/digest.js';
import { UserError } from '../core/errors.js';
import type { Task } from '../core/feature-schema.js';
import {
  joinKey,
  type ObjectStore,
  openObjectStore,
  type S3SettingsValues,
} from '../core/object-store/index.js';

/**
 * The directory (or s3:// prefix) of one model version. Artifacts are written one by one
 * (each atomically), and `manifest.json` — the digest of every artifact — last: a directory
 * without a manifest is not a model version, so a failed run never looks complete. On
 * failure the written artifacts are removed.
 */
export class VersionDirectory {
  private readonly written: ArtifactRecord[] = [];
  private sealed = false;

  private constructor(
    readonly store: ObjectStore,
    readonly prefix: string,
  ) {}

  /** `out` is the version directory itself; otherwise `<store>/models/<model>/<version>/`. */
  static open(
    target: { out?: string | undefined; store: string },
    modelName: string,
    version: string,
    s3: S3SettingsValues,
  ): VersionDirectory {
    if (target.out) return new VersionDirectory(openObjectStore(target.out, s3), '');
    return new VersionDirectory(openObjectStore(target.store, s3), joinKey('models', modelName, version));
  }

  get root(): string {
    return this.prefix === '' ? this.store.root : this.store.uriFor(this.prefix);
  }

  key(name: string): string {
    return this.prefix === '' ? name : joinKey(this.prefix, name);
  }

  /**
   * Makes the directory ours. A directory holding another model's version is refused; one
   * holding a version of the same model is replaced (a retried run, or `--out` reused on
   * purpose), its manifest removed first so it never looks complete while being rewritten.
   * Returns the version that was there, if any.
   */
  async claim(modelName: string): Promise<string | undefined> {
    const manifestKey = this.key(ARTIFACT.manifest);
    if (!(await this.store.exists(manifestKey))) return undefined;
    let existing: { modelName?: string | undefined; version?: string | undefined } = {};
    try {
      existing = parseManifest((await this.store.get(manifestKey)).toString('utf8'));
    } catch {
      // An unreadable manifest is treated as someone else's version.
    }
    if (existing.modelName !== modelName) {
      throw new UserError(
        `${this.root} already holds a version of another model (${existing.modelName ?? 'unreadable manifest.json'}): choose another --out`,
      );
    }
    await this.store.delete(manifestKey);
    return existing.version ?? '?';
  }

  async put(name: ArtifactName, body: Uint8Array | string): Promise<ArtifactRecord> {
    const key = this.key(name);
    await this.store.put(key, body, ARTIFACT_CONTENT_TYPE[name]);
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const record: ArtifactRecord = {
      name,
      uri: this.store.uriFor(key),
      sha256: sha256(bytes),
      sizeBytes: bytes.byteLength,
    };
    this.written.push(record);
    return record;
  }

  /** Writes the manifest last: from now on the directory is a complete version. */
  async seal(
    modelName: string,
    version: string,
    about: { task: Task; schemaDigest: string },
  ): Promise<ArtifactRecord[]> {
    const manifest = serializeManifest({
      modelName,
      version,
      ...about,
      artifacts: this.written.map((a) => ({ name: a.name, sha256: a.sha256, sizeBytes: a.sizeBytes })),
    });
    this.sealed = true;
    await this.store.put(this.key(ARTIFACT.manifest), manifest, ARTIFACT_CONTENT_TYPE[ARTIFACT.manifest]);
    return [...this.written];
  }

  /** Removes what this run wrote, the manifest first (a failure after sealing, e.g. in the registry). */
  async discard(): Promise<void> {
    if (this.sealed) await this.store.delete(this.key(ARTIFACT.manifest)).catch(() => {});
    this.sealed = false;
    for (const a of this.written) await this.store.delete(this.key(a.name)).catch(() => {});
    this.written.length = 0;
  }
}
