import { execFile } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../core/db/index.js';
import { getVersion, saveVersion } from '../../core/registry.js';
import { writeSyntheticDataset } from '../../trainer-job/testing/synthetic.js';
import { freshDatabaseUrl } from '../postgres.js';

// Runs the real entry point on the built output (npm test builds first).
const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', ['bin/mlcycle', ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

describe('bin/mlcycle', () => {
  it('lists the subcommands', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const name of ['train', 'serve', 'drift', 'operator', 'demo'])
      expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('prints the package version', async () => {
    const { code, stdout } = await run(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('rejects an unknown command and an unknown flag on one line, exit 2', async () => {
    const unknown = await run(['deploy']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'mlcycle: unknown command "deploy": expected one of train, serve, drift, operator, demo\n',
    );
    const flag = await run(['train', '--bogus', '1']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^mlcycle: unknown flag '--bogus'\n$/);
  });

  it('refuses to train a version that is already registered: one line, exit 4, the version untouched', async () => {
    const url = await freshDatabaseUrl();
    const db = await openDatabase({ databaseUrl: url, dataDir: '/nonexistent' });
    const dir = await mkdtemp(join(tmpdir(), 'mlcycle-cli-'));
    try {
      const registered = {
        namespace: 'team-a',
        modelName: 'synthetic',
        version: 'v1',
        task: 'binary-classification' as const,
        status: 'registered' as const,
        deployable: true,
        artifactRoot: 's3://b/namespaces/team-a/models/synthetic/v1',
      };
      await saveVersion(db.pool, registered);
      const dataset = await writeSyntheticDataset(dir, { rows: 600, name: 'data.ndjson' });
      const args = ['train', `--dataset=${dataset}`, '--model-name=synthetic', '--version=v1'];
      const env = { MLCYCLE_DATABASE_URL: url, MLCYCLE_STORE: join(dir, 'store'), MLCYCLE_QUIET: '1' };
      const again = await run([...args, '--namespace=team-a', '--target=target', '--time-column=at'], env);
      expect(again.code).toBe(4);
      expect(again.stderr.trim().split('\n').at(-1)).toBe(
        'mlcycle: model version synthetic/v1 is already registered in namespace team-a: a registered or rejected version never changes; train a new version',
      );
      expect(await getVersion(db.pool, 'team-a', 'synthetic', 'v1')).toMatchObject({
        artifactRoot: registered.artifactRoot,
      });
      expect(await readdir(dir)).toEqual(['data.ndjson']);
    } finally {
      await db.close();
    }
  }, 120_000);
});
