/**
 * Where artifacts and reports live. Keys are `/`-separated paths such as
 * `models/flights-delay/v1/model.onnx`; both implementations lay them out the same way, so a
 * directory written on a laptop can be copied into a bucket as is.
 */
export interface ObjectStore {
  /** The store's root as a URI: `s3://bucket/prefix` or an absolute directory path. */
  readonly root: string;
  /** Writes the whole object; a reader never sees a half-written one. */
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  /**
   * Writes the whole object only if no object has that key (write-once): throws
   * ObjectExistsError otherwise, atomically (S3 `If-None-Match: *`; a hard link on a disk), so
   * two writers of the same key cannot both succeed and nothing written is ever replaced.
   */
  putNew(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  /** Reads the whole object; throws ObjectNotFoundError if it does not exist. */
  get(key: string): Promise<Buffer>;
  /** Reads `length` bytes from `offset` (for Parquet footers and column chunks). */
  getRange(key: string, offset: number, length: number): Promise<Buffer>;
  /** Size in bytes; throws ObjectNotFoundError if it does not exist. */
  size(key: string): Promise<number>;
  exists(key: string): Promise<boolean>;
  /** Keys under `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  /** The URI a person or another process would use for `key`. */
  uriFor(key: string): string;
}

export class ObjectExistsError extends Error {
  constructor(readonly uri: string) {
    super(`${uri} already exists: it is write-once and is never replaced`);
    this.name = 'ObjectExistsError';
  }
}

export class ObjectNotFoundError extends Error {
  constructor(readonly uri: string) {
    super(`object not found: ${uri}`);
    this.name = 'ObjectNotFoundError';
  }
}

/** Rejects keys that could escape the store's root or address nothing. */
export function checkKey(key: string): string {
  if (
    key === '' ||
    key.startsWith('/') ||
    key.split('/').some((part) => part === '..' || part === '.' || part === '')
  ) {
    throw new Error(
      `invalid object key ${JSON.stringify(key)}: expected a relative path like models/m/v1/model.onnx`,
    );
  }
  return key;
}

export function joinKey(...parts: string[]): string {
  return parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p !== '')
    .join('/');
}
