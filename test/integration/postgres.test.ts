import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createPool,
  type Database,
  DEFAULT_POOL_TIMEOUTS,
  migrate,
  migrations,
  openDatabase,
} from '../../core/db/index.js';
import {
  getAlias,
  getVersion,
  listEvents,
  listVersions,
  saveVersion,
  setAlias,
  VersionExistsError,
} from '../../core/registry.js';
import { freshDatabaseUrl } from '../postgres.js';

const digest = `sha256:${'a'.repeat(64)}`;

const NS = 'default';

function version(v: string, deployable: boolean, namespace = NS) {
  return {
    namespace,
    modelName: 'flights-delay',
    version: v,
    task: 'binary-classification' as const,
    status: deployable ? ('registered' as const) : ('rejected' as const),
    deployable,
    gate: { passed: deployable, reasons: deployable ? ['roc_auc 0.71 ≥ 0.6'] : ['roc_auc 0.52 < 0.6'] },
    schemaDigest: digest,
    datasetUri: 'builtin:flights',
    params: { learning_rate: 0.1, num_leaves: 31 },
    metrics: { holdout: { roc_auc: 0.71, log_loss: 0.45 }, baseline: { roc_auc: 0.5 } },
    tags: { seed: '42', node: process.version },
    artifacts: [
      {
        name: 'model.onnx',
        uri: 's3://b/models/flights-delay/v1/model.onnx',
        sha256: digest,
        sizeBytes: 1234,
      },
    ],
  };
}

/** The same behaviour on a real PostgreSQL server and on the embedded PGlite. */
function registryContract(open: () => Promise<Database>): void {
  const opened: Database[] = [];
  afterAll(async () => {
    for (const db of opened) await db.close();
  });
  const connect = async () => {
    const db = await open();
    opened.push(db);
    return db;
  };

  it('applies migrations once and records them', async () => {
    const db = await connect();
    expect(await migrate(db.pool, migrations)).toEqual([]);
    const { rows } = await db.pool.query('SELECT id, name FROM schema_migrations ORDER BY id');
    expect(rows).toEqual(migrations.map((m) => ({ id: m.id, name: m.name })));
  });

  it('refuses a migration whose SQL changed after it was applied', async () => {
    const db = await connect();
    const changed = migrations.map((m, i) => (i === 0 ? { ...m, sql: `${m.sql}\n-- edited` } : m));
    await expect(migrate(db.pool, changed)).rejects.toThrow(/migration 1 \(registry\) was changed/);
  });

  it('refuses a database that a newer release migrated, naming the migrations it does not know', async () => {
    const db = await connect();
    const older = migrations.slice(0, -2);
    const [a, b] = migrations.slice(-2);
    const refusal = new RegExp(
      `newer than this mlcycle: migrations ${a!.id} \\(${a!.name}\\), ${b!.id} \\(${b!.name}\\)`,
    );
    await expect(migrate(db.pool, older)).rejects.toThrow(refusal);
  });

  it('saves and reads back a version with everything about it, once', async () => {
    const db = await connect();
    await saveVersion(db.pool, version('v1', true));
    // A registered version is final: the same (namespace, model, version) is never written again.
    const again = saveVersion(db.pool, { ...version('v1', true), artifactRoot: 's3://elsewhere/v1' });
    await expect(again).rejects.toBeInstanceOf(VersionExistsError);
    await expect(again).rejects.toThrow(
      /flights-delay\/v1 is already registered in namespace default: a registered or rejected version never changes/,
    );
    const stored = await getVersion(db.pool, NS, 'flights-delay', 'v1');
    expect(stored).toMatchObject({
      status: 'registered',
      deployable: true,
      gate: { passed: true, reasons: ['roc_auc 0.71 ≥ 0.6'] },
      params: { learning_rate: 0.1, num_leaves: 31 },
      metrics: { holdout: { roc_auc: 0.71, log_loss: 0.45 }, baseline: { roc_auc: 0.5 } },
      tags: { seed: '42' },
      artifacts: [{ name: 'model.onnx', sha256: digest, sizeBytes: 1234 }],
    });
    expect(stored?.artifactRoot).toBeNull();
    expect(await getVersion(db.pool, NS, 'flights-delay', 'v9')).toBeUndefined();
  });

  it('refuses to change a final version or its digests, whatever the path', async () => {
    const db = await connect();
    await saveVersion(db.pool, version('v5', false));
    await expect(saveVersion(db.pool, version('v5', true))).rejects.toThrow(/already rejected/);
    // Below the registry code too: a database trigger.
    await expect(
      db.pool.query(
        `UPDATE model_versions SET deployable = true WHERE model_name = 'flights-delay' AND version = 'v5'`,
      ),
    ).rejects.toThrow(/flights-delay\/v5 is rejected: a registered or rejected version never changes/);
    await expect(
      db.pool.query(
        `UPDATE model_version_artifacts SET sha256 = 'x' WHERE model_name = 'flights-delay' AND version = 'v1'`,
      ),
    ).rejects.toThrow(
      /the artifacts of model version default\/flights-delay\/v1 \(registered\) never change/,
    );
    await expect(
      db.pool.query(`DELETE FROM model_versions WHERE model_name = 'flights-delay' AND version = 'v1'`),
    ).rejects.toThrow(/never changes/);
    expect((await getVersion(db.pool, NS, 'flights-delay', 'v5'))?.deployable).toBe(false);
  });

  it('keeps namespaces apart: the same model name and version in two namespaces are two versions', async () => {
    const db = await connect();
    await saveVersion(db.pool, {
      ...version('v1', true, 'team-b'),
      artifactRoot: 's3://b/namespaces/team-b/v1',
    });
    expect((await getVersion(db.pool, 'team-b', 'flights-delay', 'v1'))?.artifactRoot).toBe(
      's3://b/namespaces/team-b/v1',
    );
    expect((await getVersion(db.pool, NS, 'flights-delay', 'v1'))?.artifactRoot).toBeNull();
    await setAlias(db.pool, 'team-b', 'flights-delay', 'champion', 'v1', 'theirs');
    expect(await getAlias(db.pool, NS, 'flights-delay', 'champion')).toBeUndefined();
    expect(await listVersions(db.pool, 'team-b', 'flights-delay')).toHaveLength(1);
    expect((await listEvents(db.pool, NS, 'flights-delay')).some((e) => e.detail.reason === 'theirs')).toBe(
      false,
    );
  });

  it('keeps rejected versions out of aliases and audits alias changes', async () => {
    const db = await connect();
    await saveVersion(db.pool, version('v2', false));
    await saveVersion(db.pool, version('v3', true));
    await expect(setAlias(db.pool, NS, 'flights-delay', 'champion', 'v2', 'test')).rejects.toThrow(
      /not deployable/,
    );
    await setAlias(db.pool, NS, 'flights-delay', 'champion', 'v1', 'first');
    await setAlias(db.pool, NS, 'flights-delay', 'champion', 'v3', 'better');
    expect(await getAlias(db.pool, NS, 'flights-delay', 'champion')).toBe('v3');
    const events = await listEvents(db.pool, NS, 'flights-delay');
    expect(events.filter((e) => e.kind === 'alias_set').map((e) => e.detail)).toEqual([
      { alias: 'champion', previous: null, reason: 'first' },
      { alias: 'champion', previous: 'v1', reason: 'better' },
    ]);
    expect((await listVersions(db.pool, NS, 'flights-delay')).map((v) => [v.version, v.deployable])).toEqual([
      ['v1', true],
      ['v5', false],
      ['v2', false],
      ['v3', true],
    ]);
  });

  it('refuses a version of another task under the same model', async () => {
    const db = await connect();
    await expect(saveVersion(db.pool, { ...version('v4', true), task: 'regression' })).rejects.toThrow(
      /is a binary-classification model/,
    );
  });
}

describe('registry on a real PostgreSQL server', () => {
  let url: string | undefined;
  registryContract(async () => {
    url ??= await freshDatabaseUrl();
    return openDatabase({ databaseUrl: url, dataDir: '/nonexistent' });
  });

  // Real server only: PGlite ignores startup parameters, and runs a statement on this very
  // event loop, where nothing could interrupt it.
  it('cancels a statement that outlives the statement timeout, and the pool stays usable', async () => {
    url ??= await freshDatabaseUrl();
    const pool = createPool(url, { max: 1, timeouts: { statementMs: 300 } });
    try {
      const { rows } = await pool.query<{ t: string }>('SELECT current_setting($$statement_timeout$$) AS t');
      expect(rows[0]!.t).toBe('300ms');
      const started = Date.now();
      await expect(pool.query('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' });
      expect(Date.now() - started).toBeLessThan(4_000);
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it('lets several processes start and migrate at once', async () => {
    const fresh = await freshDatabaseUrl();
    const pools = Array.from({ length: 4 }, () => createPool(fresh, { max: 1 }));
    try {
      const applied = await Promise.all(pools.map((p) => migrate(p, migrations)));
      // Exactly one of them applied each migration; the others found it done.
      expect(applied.flat().sort((a, b) => a - b)).toEqual(migrations.map((m) => m.id));
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

describe('pool timeouts', () => {
  // A server that accepts TCP connections and never says a word: what a hung PostgreSQL (or a
  // black-holed network path) looks like to the client.
  let silent: Server;
  const sockets: Socket[] = [];
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent?.close(r));
  });

  it('gives up connecting after the connection timeout instead of waiting forever', async () => {
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const pool = createPool(`postgres://u:p@127.0.0.1:${port}/db`, { timeouts: { connectMs: 300 } });
    try {
      const started = Date.now();
      await expect(pool.query('SELECT 1')).rejects.toThrow(/timeout/i);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await pool.end();
    }
  });

  it('has defaults on every pool', () => {
    const pool = createPool('postgres://u:p@127.0.0.1:1/db');
    const o = pool.options as unknown as Record<string, number>;
    expect(o).toMatchObject({
      connectionTimeoutMillis: DEFAULT_POOL_TIMEOUTS.connectMs,
      idleTimeoutMillis: DEFAULT_POOL_TIMEOUTS.idleMs,
      statement_timeout: DEFAULT_POOL_TIMEOUTS.statementMs,
    });
    void pool.end();
  });
});

describe('registry on the embedded PGlite', () => {
  let dataDir: string | undefined;
  let shared: Database | undefined;
  registryContract(async () => {
    dataDir ??= await mkdtemp(join(tmpdir(), 'mlcycle-pglite-'));
    // One embedded server per data directory; later connections reuse its URL.
    if (!shared) {
      shared = await openDatabase({ dataDir });
      return shared;
    }
    return openDatabase({ databaseUrl: shared.url, dataDir });
  });
});
