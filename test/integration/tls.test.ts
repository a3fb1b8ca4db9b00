import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../core/config.js';
import { createPool, databaseSettings, openDatabase, poolTls } from '../../core/db/index.js';
import { openObjectStore, s3Settings } from '../../core/object-store/index.js';

// TLS to PostgreSQL and to MinIO, on servers of this file's own: a CA and a server certificate
// made here with openssl (the certificate names `localhost` only), a throwaway PostgreSQL
// cluster with ssl=on, and a MinIO with the same certificate in its --certs-dir. The settings
// go through the commands' own parser (databaseSettings, s3Settings), as in a Pod.

const run = promisify(execFile);
const dir = join(tmpdir(), `mlcycle-tls-${randomBytes(4).toString('hex')}`);
const ca = join(dir, 'ca.crt');
const root = process.getuid?.() === 0;
let pgBin = '';
let pgPort = 0;
let s3Port = 0;
let minio: ChildProcess | undefined;
const s3Keys = { access: 'tlsadmin', secret: randomBytes(12).toString('hex') };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL tool as the user that owns the cluster (PostgreSQL refuses root). */
const asPg = (cmd: string, args: string[]) =>
  root ? run('runuser', ['-u', 'postgres', '--', join(pgBin, cmd), ...args]) : run(join(pgBin, cmd), args);

function findPgBin(): string {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
  for (const v of versions.sort((a, b) => Number(b) - Number(a))) {
    const bin = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  throw new Error('no PostgreSQL server binaries in /usr/lib/postgresql (hack/services-up installs them)');
}

async function makeCertificates(): Promise<void> {
  const o = (args: string[]) => run('openssl', args, { cwd: dir });
  await o(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt'].concat([
      '-subj',
      '/CN=mlcycle-test-ca',
      '-days',
      '1',
    ]),
  );
  await o(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr'].concat([
      '-subj',
      '/CN=localhost',
    ]),
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
  await o(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      'server.crt',
      '-days',
      '1',
      '-extfile',
      'san.ext',
    ]),
  );
}

async function startPostgres(): Promise<void> {
  pgBin = findPgBin();
  pgPort = await freePort();
  // The server's key and certificate beside its cluster (initdb wants an empty directory).
  const data = join(dir, 'pgcerts');
  const cluster = join(dir, 'cluster');
  mkdirSync(data, { mode: 0o700 });
  mkdirSync(cluster, { mode: 0o700 });
  for (const f of ['server.crt', 'server.key']) copyFileSync(join(dir, f), join(data, f));
  chmodSync(join(data, 'server.key'), 0o600);
  if (root) {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    for (const p of [data, cluster, join(data, 'server.crt'), join(data, 'server.key')])
      chownSync(p, uid, gid);
  }
  await asPg('initdb', ['-D', cluster, '-U', 'postgres', '--auth=trust', '--no-locale', '-E', 'UTF8']);
  const opts = [
    `-p ${pgPort}`,
    "-c listen_addresses='localhost'",
    `-c unix_socket_directories='${cluster}'`,
    '-c ssl=on',
    `-c ssl_cert_file='${join(data, 'server.crt')}'`,
    `-c ssl_key_file='${join(data, 'server.key')}'`,
    '-c fsync=off',
  ].join(' ');
  await asPg('pg_ctl', ['-D', cluster, '-l', join(cluster, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
}

async function startMinio(): Promise<void> {
  s3Port = await freePort();
  const certs = join(dir, 'certs');
  mkdirSync(certs);
  copyFileSync(join(dir, 'server.crt'), join(certs, 'public.crt'));
  copyFileSync(join(dir, 'server.key'), join(certs, 'private.key'));
  const bin = process.env.MLCYCLE_MINIO_BIN ?? join(homedir(), '.cache', 'mlcycle', 'bin', 'minio');
  minio = spawn(
    bin,
    ['server', join(dir, 's3data'), '--address', `127.0.0.1:${s3Port}`, '--certs-dir', certs, '--quiet'],
    {
      env: { ...process.env, MINIO_ROOT_USER: s3Keys.access, MINIO_ROOT_PASSWORD: s3Keys.secret },
      stdio: 'ignore',
    },
  );
  const store = s3Store([`--s3-ca=${ca}`]);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await store.put('ready', 'yes'); // also creates the bucket
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`MinIO over https did not start: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

const dbSettings = (args: string[]) => parseSettings(databaseSettings, args, {});

function s3Store(extra: string[], host = 'localhost') {
  const v = parseSettings(
    s3Settings,
    [
      `--s3-endpoint=https://${host}:${s3Port}`,
      `--s3-access-key=${s3Keys.access}`,
      `--s3-secret-key=${s3Keys.secret}`,
      ...extra,
    ],
    {},
  );
  return openObjectStore('s3://tls-test/prefix', v);
}

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755); // the postgres user walks into it
  await makeCertificates();
  await Promise.all([startPostgres(), startMinio()]);
}, 180_000);

afterAll(async () => {
  minio?.kill('SIGTERM');
  if (pgBin) await asPg('pg_ctl', ['-D', join(dir, 'cluster'), '-m', 'immediate', 'stop']).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('PostgreSQL over TLS', () => {
  const url = (host = 'localhost') => `postgres://postgres@${host}:${pgPort}/postgres`;

  it('verify-full with the CA: connects (the whole open: migrations included), encrypted', async () => {
    const v = dbSettings([`--database-url=${url()}`, '--db-sslmode=verify-full', `--db-ssl-ca=${ca}`]);
    const db = await openDatabase({
      databaseUrl: v.databaseUrl,
      dataDir: join(dir, 'unused'),
      tls: poolTls(v),
    });
    try {
      const { rows } = await db.pool.query<{ ssl: boolean }>(
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      expect(rows).toEqual([{ ssl: true }]);
    } finally {
      await db.close();
    }
  });

  it('verify-full without the CA: refused, and the error says which setting is missing', async () => {
    const v = dbSettings([`--database-url=${url()}`, '--db-sslmode=verify-full']);
    await expect(
      openDatabase({ databaseUrl: v.databaseUrl, dataDir: join(dir, 'unused'), tls: poolTls(v) }),
    ).rejects.toThrow(/PostgreSQL's TLS certificate is not trusted \(.*certificate.*\).*MLCYCLE_DB_SSL_CA/);
  });

  it('a CA alone means verify-full; the URL sslmode is overridden by the setting', async () => {
    const v = dbSettings([`--database-url=${url()}?sslmode=disable`, `--db-ssl-ca=${ca}`]);
    expect(poolTls(v)).toEqual({ sslmode: 'verify-full', ca });
    const pool = createPool(v.databaseUrl!, { tls: poolTls(v), max: 1 });
    try {
      const { rows } = await pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(rows).toEqual([{ ssl: true }]);
    } finally {
      await pool.end();
    }
  });

  // The certificate names localhost, not 127.0.0.1.
  const byAddress: [string, RegExp | null][] = [
    ['verify-full', /Hostname\/IP does not match certificate's altnames/],
    ['verify-ca', null],
    ['require', null],
  ];
  it.each(byAddress)('%s to 127.0.0.1 with the CA', async (mode, error) => {
    const v = dbSettings([`--database-url=${url('127.0.0.1')}`, `--db-sslmode=${mode}`, `--db-ssl-ca=${ca}`]);
    const pool = createPool(v.databaseUrl!, { tls: poolTls(v), max: 1 });
    try {
      const query = pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      if (error) await expect(query).rejects.toThrow(error);
      else expect((await query).rows).toEqual([{ ssl: true }]);
    } finally {
      await pool.end();
    }
  });

  it('disable: a plain connection to the same server', async () => {
    const v = dbSettings([`--database-url=${url()}`, '--db-sslmode=disable']);
    const pool = createPool(v.databaseUrl!, { tls: poolTls(v), max: 1 });
    try {
      const { rows } = await pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(rows).toEqual([{ ssl: false }]);
    } finally {
      await pool.end();
    }
  });
});

describe('MinIO over https', () => {
  it('with the CA bundle: objects are written and read back', async () => {
    const store = s3Store([`--s3-ca=${ca}`]);
    await store.put('a.txt', 'over tls');
    expect(Buffer.from(await store.get('a.txt')).toString()).toBe('over tls');
  });

  it('without it: refused, the certificate named as the cause', async () => {
    const store = s3Store([]);
    await expect(store.put('b.txt', 'x')).rejects.toThrow(/certificate/i);
  });

  it('with the CA but an address the certificate does not name: refused', async () => {
    const store = s3Store([`--s3-ca=${ca}`], '127.0.0.1');
    await expect(store.put('c.txt', 'x')).rejects.toThrow(/altnames|certificate/i);
  });
});
