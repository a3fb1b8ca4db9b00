import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pythonEnv } from '../../bench/python-env.js';
import { fixtureRecord, writeFixtureModel } from '../fixtures/model.js';
import { postJson, spawnServer, tempDir, uniqueModelName } from '../fixtures/serve-helpers.js';
import { testDatabaseUrl } from '../services.js';

/**
 * `mlcycle serve` against its own /openapi.json, by schemathesis (hack/python-env schemathesis,
 * found through MLCYCLE_VENV_SCHEMATHESIS): property-based requests to every documented
 * operation — valid ones, invalid ones, undeclared methods, and secured ones without their
 * credential — and every answer checked: no 5xx, status, content type, headers and body as the
 * document says, invalid data refused, valid data accepted.
 */

const ROOT = new URL('../../', import.meta.url).pathname;
const CONFIG = new URL('./schemathesis.toml', import.meta.url).pathname;
const FEEDBACK_TOKEN = 'schemathesis-feedback-token-0123456789';

function schemathesis(): string {
  const env = pythonEnv('schemathesis');
  if ('missing' in env) throw new Error(`schemathesis' Python environment is missing: ${env.missing}`);
  return join(env.python, '..', 'st');
}

describe('the OpenAPI document of mlcycle serve, checked by schemathesis', () => {
  it('finds no server error and no answer that violates the document', async () => {
    const st = schemathesis();
    if (!existsSync(join(ROOT, 'dist/inference-server/index.js'))) {
      throw new Error('dist/ is missing: run `npm run build` before this test (it runs ./bin/mlcycle serve)');
    }
    const dir = await tempDir('schemathesis');
    const model = await writeFixtureModel(join(dir, 'model'), { modelName: uniqueModelName('schemathesis') });
    const server = await spawnServer([
      '--model',
      model.dir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--database-url',
      testDatabaseUrl(),
      '--data-dir',
      join(dir, 'data'),
      '--feedback-token',
      FEEDBACK_TOKEN,
    ]);
    try {
      // Some logged predictions, so feedback items can meet known ids as well as unknown ones.
      expect((await postJson(`${server.url}/predict`, fixtureRecord(1))).status).toBe(200);
      const args = [
        '--config-file',
        CONFIG,
        'run',
        `${server.url}/openapi.json`,
        '--checks',
        'all',
        '--header',
        `Authorization: Bearer ${FEEDBACK_TOKEN}`,
        '--max-examples',
        '100',
        '--seed',
        '20261201',
        '--workers',
        '2',
        '--no-color',
      ];
      const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
        // In a scratch directory: schemathesis keeps a cache in its working directory.
        const options = { cwd: dir, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 };
        execFile(st, args, options, (err, stdout, stderr) => {
          const c = err ? ((err as { code?: number }).code ?? 1) : 0;
          resolve({ code: typeof c === 'number' ? c : 1, output: `${stdout}\n${stderr}` });
        });
      });
      const tail = output.slice(-20_000);
      expect(code, tail).toBe(0);
      // Not a vacuous pass: every operation was exercised, hundreds of cases, none failing.
      const cases = /(\d+) generated, (\d+) passed/.exec(output);
      expect(cases, tail).not.toBeNull();
      expect(Number(cases![1])).toBeGreaterThan(300);
      const operations = /Selected: (\d+)\/(\d+)\s+Tested: (\d+)/.exec(output);
      expect(operations, tail).not.toBeNull();
      expect(operations![3]).toBe(operations![2]);
      expect(server.stderr()).not.toMatch(/"level":50/); // nothing the server logged as an error
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((r) => server.child.once('exit', r));
    }
  }, 900_000);
});
