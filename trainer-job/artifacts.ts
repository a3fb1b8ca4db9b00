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
  ObjectExistsError,
  type ObjectStore,
  openObjectStore,
  type S3SettingsValues,
} from '../core/object-store/index.js';
import { versionKeyPrefix } from '../core/tenant.js';

/**
 * The directory (or s3:// prefix) of one model version. Artifacts are write-once: each is
 * written atomically and only if its key is free (a key that exists is never replaced), and
 * `manifest.json` — the digest of every artifact — last: a directory without a manifest is not
 * a model version, so a failed run never looks complete. On failure this run removes what it
 * wrote itself, and nothing else.
 */
export class VersionDirectory {
  private readonly written: ArtifactRecord[] = [];
  private sealed = false;

  private constructor(
    readonly store: ObjectStore,
    readonly prefix: string,
  ) {}

  /** `out` is the version directory itself; otherwise `<store>/namespaces/<ns>/models/<model>/<version>/`. */
  static open(
    target: { out?: string | undefined; store: string },
    namespace: string,
    modelName: string,
    version: string,
    s3: S3SettingsValues,
  ): VersionDirectory {
    if (target.out) return new VersionDirectory(openObjectStore(target.out, s3), '');
    return new VersionDirectory(
      openObjectStore(target.store, s3),
      versionKeyPrefix(namespace, modelName, version),
    );
  }

  get root(): string {
    return this.prefix === '' ? this.store.root : this.store.uriFor(this.prefix);
  }

  key(name: string): string {
    return this.prefix === '' ? name : joinKey(this.prefix, name);
  }

  /**
   * Checks that the directory is free before any work: a complete version (a manifest) or the
   * files of an unfinished run are never replaced, so a version's bytes cannot change under
   * its name. (Each write checks again, atomically.)
   */
  async claim(): Promise<void> {
    const manifestKey = this.key(ARTIFACT.manifest);
    if (await this.store.exists(manifestKey)) {
      let existing: { modelName?: string | undefined; version?: string | undefined } = {};
      try {
        existing = parseManifest((await this.store.get(manifestKey)).toString('utf8'));
      } catch {
        // Named as unreadable below.
      }
      const what = existing.modelName ? `${existing.modelName}/${existing.version ?? '?'}` : 'a version';
      throw new UserError(
        `${this.root} already holds ${what}: artifacts are write-once; train a new --version or choose another --out`,
        { exitCode: 4 },
      );
    }
    const present = (await this.store.list(this.prefix === '' ? '' : `${this.prefix}/`)).slice(0, 3);
    if (present.length > 0) {
      throw new UserError(
        `${this.root} is not empty (${present.join(', ')}${present.length === 3 ? ', …' : ''}): artifacts are write-once and another run's files are never replaced or removed; choose another --version or --out`,
        { exitCode: 4 },
      );
    }
  }

  async put(name: ArtifactName, body: Uint8Array | string): Promise<ArtifactRecord> {
    const key = this.key(name);
    try {
      await this.store.putNew(key, body, ARTIFACT_CONTENT_TYPE[name]);
    } catch (err) {
      if (err instanceof ObjectExistsError) {
        throw new UserError(`${err.message}: another run wrote this version's ${name}`, {
          cause: err,
          exitCode: 4,
        });
      }
      throw err;
    }
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
    await this.store.putNew(this.key(ARTIFACT.manifest), manifest, ARTIFACT_CONTENT_TYPE[ARTIFACT.manifest]);
    this.sealed = true;
    return [...this.written];
  }

  /**
   * Removes what this run wrote — keys it created itself (writes are write-once) — the manifest
   * first (a failure after sealing, e.g. in the registry). Another run's files are never touched.
   */
  async discard(): Promise<void> {
    if (this.sealed) await this.store.delete(this.key(ARTIFACT.manifest)).catch(() => {});
    this.sealed = false;
    for (const a of this.written) await this.store.delete(this.key(a.name)).catch(() => {});
    this.written.length = 0;
  }
}
