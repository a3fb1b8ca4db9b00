import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  /** A postgres:// URL the `pg` client (in this process or another) can use. */
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The embedded default: PGlite (PostgreSQL compiled to WebAssembly) with its data in a local
 * directory, served over the Postgres wire protocol by pglite-socket. The rest of mlcycle then
 * talks to it through the same `pg` code path and the same SQL as to a real server. Queries
 * from several connections run one at a time: fine for a laptop, not for load.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number;
  host?: string;
}): Promise<EmbeddedPostgres> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir });
  const host = options.host ?? '127.0.0.1';
  const port = options.port || (await freePort(host));
  const server = new PGLiteSocketServer({ db, host, port, maxConnections: 64 });
  await server.start();
  return {
    url: `postgres://postgres:postgres@${host}:${port}/postgres?sslmode=disable`,
    port,
    dataDir,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}

function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}
