import { createCipheriv, createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/**
 * The few MinIO admin API calls the operator needs to give each namespace its own S3 user,
 * limited by a policy to the namespace's prefix: add a user, add a policy, attach it. The
 * `minio` npm client speaks only the S3 API, so these are plain HTTP requests, signed with AWS
 * Signature V4 like any S3 request, to MinIO's documented admin API (`/minio/admin/v3/...`,
 * what `mc admin` and madmin-go use). A secret sent to MinIO (the new user's secret key) is
 * encrypted as madmin-go's EncryptData does, so MinIO's DecryptData reads it: see
 * `encryptAdminPayload`.
 */

export interface MinioAdminConfig {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

export class MinioAdminError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'MinioAdminError';
  }
}

export class MinioAdmin {
  constructor(private readonly config: MinioAdminConfig) {}

  /** Creates the user, or sets its secret key if it exists (enabled either way). */
  async addUser(accessKey: string, secretKey: string): Promise<void> {
    const body = encryptAdminPayload(
      this.config.secretKey,
      Buffer.from(JSON.stringify({ secretKey, status: 'enabled' })),
    );
    await this.call('PUT', 'add-user', { accessKey }, body, `add user ${accessKey}`);
  }

  /** Creates or replaces a policy (an IAM policy document). */
  async addPolicy(name: string, document: PolicyDocument): Promise<void> {
    await this.call(
      'PUT',
      'add-canned-policy',
      { name },
      Buffer.from(JSON.stringify(document)),
      `add policy ${name}`,
    );
  }

  /** Makes `policy` the user's policy. */
  async setUserPolicy(user: string, policy: string): Promise<void> {
    await this.call(
      'PUT',
      'set-user-or-group-policy',
      { policyName: policy, userOrGroup: user, isGroup: 'false' },
      Buffer.alloc(0),
      `attach policy ${policy} to ${user}`,
    );
  }

  private async call(
    method: string,
    action: string,
    query: Record<string, string>,
    body: Buffer,
    what: string,
  ): Promise<void> {
    const url = new URL(`/minio/admin/v3/${action}`, this.config.endpoint);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const headers = signV4({ method, url, body, ...this.config, service: 's3', now: new Date() });
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body.length > 0 ? body : undefined,
        redirect: 'error',
      });
    } catch (err) {
      throw new MinioAdminError(`cannot ${what}: ${(err as Error).message}`, 0);
    }
    if (!res.ok) {
      // MinIO answers with a JSON error whose Message names the cause; it never echoes the body.
      const text = await res.text().catch(() => '');
      let reason = text.slice(0, 300);
      try {
        reason = (JSON.parse(text) as { Message?: string }).Message ?? reason;
      } catch {
        // Not JSON: the raw text stands.
      }
      throw new MinioAdminError(`cannot ${what}: HTTP ${res.status}: ${reason}`, res.status);
    }
  }
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: {
    Effect: 'Allow' | 'Deny';
    Action: string[];
    Resource: string[];
    Condition?: Record<string, Record<string, string[]>>;
  }[];
}

/**
 * Read, write and delete objects under `prefix` of `bucket`, list only keys under it, and
 * nothing else: no other prefix, no bucket creation, no admin.
 */
export function prefixPolicy(bucket: string, prefix: string): PolicyDocument {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        Resource: [`arn:aws:s3:::${bucket}/${p}/*`],
      },
      {
        Effect: 'Allow',
        Action: ['s3:ListBucket'],
        Resource: [`arn:aws:s3:::${bucket}`],
        Condition: { StringLike: { 's3:prefix': [`${p}/*`] } },
      },
      { Effect: 'Allow', Action: ['s3:GetBucketLocation'], Resource: [`arn:aws:s3:::${bucket}`] },
    ],
  };
}

// ------------------------------------------------------------------------------------------
// madmin-go EncryptData, the pbkdf2 + AES-256-GCM variant (id 0x02, which MinIO's DecryptData
// accepts whatever mode it runs in): salt(32) ‖ id(1) ‖ nonce(8) ‖ sio-go stream. The stream
// (secure-io/sio-go) seals 16 KiB fragments with AES-GCM, nonce = nonce(8) ‖ LE32(sequence);
// sequence 0 only derives a tag from the caller's associated data (empty here), which then
// authenticates every fragment as 0x00 ‖ tag, and the last fragment as 0x80 ‖ tag.
// ------------------------------------------------------------------------------------------

const PBKDF2_AES_GCM = 0x02;
const PBKDF2_COST = 8192;
const FRAGMENT = 1 << 14;

export function encryptAdminPayload(password: string, data: Buffer): Buffer {
  const salt = randomBytes(32);
  const key = pbkdf2Sync(Buffer.from(password), salt, PBKDF2_COST, 32, 'sha256');
  const nonce = randomBytes(8);
  const seal = (sequence: number, plaintext: Buffer, aad: Buffer): Buffer => {
    const iv = Buffer.concat([nonce, Buffer.alloc(4)]);
    iv.writeUInt32LE(sequence, 8);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad);
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  };
  const tag = seal(0, Buffer.alloc(0), Buffer.alloc(0));
  const parts: Buffer[] = [salt, Buffer.from([PBKDF2_AES_GCM]), nonce];
  let sequence = 1;
  let offset = 0;
  while (data.length - offset > FRAGMENT) {
    parts.push(
      seal(sequence++, data.subarray(offset, offset + FRAGMENT), Buffer.concat([Buffer.from([0]), tag])),
    );
    offset += FRAGMENT;
  }
  parts.push(seal(sequence, data.subarray(offset), Buffer.concat([Buffer.from([0x80]), tag])));
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------------------------------
// AWS Signature Version 4 (header form), as S3 and MinIO's admin API verify it.
// ------------------------------------------------------------------------------------------

const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
const uriEncode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function signV4(r: {
  method: string;
  url: URL;
  body: Buffer;
  accessKey: string;
  secretKey: string;
  region: string;
  service: string;
  now: Date;
}): Record<string, string> {
  const amzDate = r.now.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256Hex(r.body);
  const headers: Record<string, string> = {
    host: r.url.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
  };
  const signedHeaders = Object.keys(headers).sort();
  const query = [...r.url.searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonical = [
    r.method,
    r.url.pathname.split('/').map(uriEncode).join('/'),
    query,
    ...signedHeaders.map((h) => `${h}:${headers[h]!.trim()}`),
    '',
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${r.region}/${r.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${r.secretKey}`, day), r.region), r.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${r.accessKey}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`,
  };
}
