import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { errorMessage, UserError } from '../core/errors.js';

/** Shortest token accepted: a bearer token is a password, and guessing must be hopeless. */
export const MIN_TOKEN_LENGTH = 16;

// A mounted Secret is updated in place (its files are swapped behind a symlink); the file's
// modification time is checked at most this often, so a rotated token takes effect without a
// restart and a request never pays for a read.
const RECHECK_MS = 5_000;

/**
 * A bearer token callers must present, from a value or from a file (a Kubernetes Secret
 * mounted into the Pod). Comparison is in constant time over SHA-256 digests, so neither the
 * token's content nor its length can be learned by timing.
 */
export class BearerCredential {
  private digest: Buffer;
  private mtimeMs = 0;
  private checkedAt = 0;

  private constructor(
    readonly what: string,
    token: string,
    private readonly file?: string,
  ) {
    this.digest = sha256(token);
  }

  /** From a token value, or the first line of a file; undefined when neither is given. */
  static from(what: string, options: { token?: string | undefined; file?: string | undefined }) {
    if (options.token !== undefined && options.file !== undefined)
      throw new UserError(`${what}: give the token or the token file, not both`);
    if (options.file !== undefined) {
      const credential = new BearerCredential(what, readToken(what, options.file), options.file);
      credential.mtimeMs = statSync(options.file).mtimeMs;
      credential.checkedAt = Date.now();
      return credential;
    }
    if (options.token !== undefined) return new BearerCredential(what, checked(what, options.token));
    return undefined;
  }

  /** Whether an Authorization header value carries this token. */
  accepts(authorization: string | undefined): boolean {
    this.reloadIfChanged();
    const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    const given = sha256(match?.[1] ?? '');
    return timingSafeEqual(given, this.digest) && match !== null;
  }

  private reloadIfChanged(): void {
    if (!this.file || Date.now() - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = Date.now();
    try {
      const mtimeMs = statSync(this.file).mtimeMs;
      if (mtimeMs === this.mtimeMs) return;
      this.digest = sha256(readToken(this.what, this.file));
      this.mtimeMs = mtimeMs;
    } catch {
      // Mid-rotation or removed: the token read last stays in force until a good one is readable.
    }
  }
}

function readToken(what: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${what}: cannot read the token file ${file}: ${errorMessage(err)}`);
  }
  return checked(what, text.split('\n')[0]!.trim());
}

function checked(what: string, token: string): string {
  // Never echo the token: only its length is said.
  if (token.length < MIN_TOKEN_LENGTH)
    throw new UserError(
      `${what}: the token must have at least ${MIN_TOKEN_LENGTH} characters (got ${token.length})`,
    );
  if (/\s/.test(token)) throw new UserError(`${what}: the token must not contain whitespace`);
  return token;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
