import { Agent } from 'node:https';
import type { Readable } from 'node:stream';
import * as Minio from 'minio';
import {
  checkKey,
  joinKey,
  ObjectExistsError,
  ObjectNotFoundError,
  type ObjectStore,
} from './object-store.js';

export interface S3Config {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  /** PEM text of the CA(s) an https endpoint's certificate must chain to; default: Node's bundled CAs. */
  ca?: string | undefined;
}

/** MinIO or any S3-compatible server, through the `minio` client. */
export class S3ObjectStore implements ObjectStore {
  readonly root: string;
  private readonly client: Minio.Client;
  private bucketChecked = false;

  constructor(
    readonly bucket: string,
    readonly prefix: string,
    config: S3Config,
  ) {
    const url = new URL(config.endpoint);
    this.client = new Minio.Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      useSSL: url.protocol === 'https:',
      accessKey: config.accessKey,
      secretKey: config.secretKey,
      region: config.region,
      pathStyle: true,
      ...(config.ca && url.protocol === 'https:'
        ? { transportAgent: new Agent({ keepAlive: true, ca: config.ca }) }
        : {}),
    });
    this.root = `s3://${joinKey(bucket, prefix)}`;
  }

  private objectName(key: string): string {
    return joinKey(this.prefix, checkKey(key));
  }

  uriFor(key: string): string {
    return `s3://${this.bucket}/${this.objectName(key)}`;
  }

  /**
   * Creates the bucket if it is missing. Called on first write, so a fresh MinIO works without a
   * setup step; the operator calls it with the admin keys, since a tenant's user may not.
   */
  async ensureBucket(): Promise<void> {
    if (this.bucketChecked) return;
    if (!(await this.bucketMayExist())) {
      try {
        await this.client.makeBucket(this.bucket);
      } catch (err) {
        // Another process may have created it in between.
        if ((err as { code?: string }).code !== 'BucketAlreadyOwnedByYou') throw err;
      }
    }
    this.bucketChecked = true;
  }

  async put(key: string, body: Uint8Array | string, contentType = 'application/octet-stream'): Promise<void> {
    await this.write(key, body, { 'Content-Type': contentType });
  }

  /**
   * A conditional PUT (`If-None-Match: *`): the server refuses it with 412 if the key exists,
   * atomically. MinIO has it since 2024 and AWS S3 too; a server that ignores the header would
   * overwrite, so a backend must support it (README: object stores other than MinIO).
   */
  async putNew(
    key: string,
    body: Uint8Array | string,
    contentType = 'application/octet-stream',
  ): Promise<void> {
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (size > SINGLE_PUT_LIMIT) {
      throw new Error(`cannot write ${this.uriFor(key)} once: ${size} bytes is more than one PUT takes`);
    }
    await this.write(key, body, { 'Content-Type': contentType, 'If-None-Match': '*' });
  }

  private async write(
    key: string,
    body: Uint8Array | string,
    headers: Record<string, string>,
  ): Promise<void> {
    const buffer =
      typeof body === 'string'
        ? Buffer.from(body)
        : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    try {
      await this.ensureBucket();
      // A single PUT of a known size is atomic in S3: the object appears whole or not at all.
      await this.client.putObject(this.bucket, this.objectName(key), buffer, buffer.length, headers);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'PreconditionFailed') throw new ObjectExistsError(this.uriFor(key));
      throw new Error(`cannot write ${this.uriFor(key)}: ${(err as Error).message}`, { cause: err });
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readAll(await this.client.getObject(this.bucket, this.objectName(key)));
    } catch (err) {
      throw this.notFoundOr(err, key);
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    try {
      return await readAll(
        await this.client.getPartialObject(this.bucket, this.objectName(key), offset, length),
      );
    } catch (err) {
      throw this.notFoundOr(err, key);
    }
  }

  async size(key: string): Promise<number> {
    try {
      return (await this.client.statObject(this.bucket, this.objectName(key))).size;
    } catch (err) {
      throw this.notFoundOr(err, key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.statObject(this.bucket, this.objectName(key));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Whether the bucket exists; true also when this user may not ask (a tenant's user is limited
   * to its prefix and cannot even HEAD the bucket): its reads and writes then say what is wrong.
   */
  private async bucketMayExist(): Promise<boolean> {
    try {
      return await this.client.bucketExists(this.bucket);
    } catch (err) {
      if ((err as { code?: string }).code === 'AccessDenied') return true;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    if (!(await this.bucketMayExist())) return [];
    const base = this.prefix ? `${joinKey(this.prefix)}/` : '';
    const keys: string[] = [];
    const stream = this.client.listObjectsV2(this.bucket, base + prefix, true);
    for await (const item of stream as AsyncIterable<{ name?: string }>) {
      if (item.name) keys.push(item.name.slice(base.length));
    }
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    await this.client.removeObject(this.bucket, this.objectName(key));
  }

  private notFoundOr(err: unknown, key: string): unknown {
    if (isNotFound(err)) return new ObjectNotFoundError(this.uriFor(key));
    return new Error(`cannot read ${this.uriFor(key)}: ${(err as Error).message}`, { cause: err });
  }
}

// The minio client sends objects up to its part size (64 MiB by default) as one PUT; larger
// ones go multipart, where neither atomicity nor If-None-Match holds.
const SINGLE_PUT_LIMIT = 64 * 1024 * 1024;

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket';
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
