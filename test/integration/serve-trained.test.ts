import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../core/db/index.js';
import { type FeatureRecord, parseFeatureSchema } from '../../core/feature-schema.js';
import { postJson, referenceOutputs, tempDir } from '../fixtures/serve-helpers.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/mlcycle');

async function spawnServe(
  args: string[],
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) =>
      resolve((JSON.parse(line) as { url: string }).url),
    );
    child.once('exit', (code) => reject(new Error(`mlcycle serve exited with ${code}:\n${stderr}`)));
  });
  return { child, url, stderr: () => stderr };
}

describe('mlcycle serve with a model written by mlcycle train, on the embedded database', () => {
  it('serves the trained flights model exactly as onnxruntime scores it, and logs to PGlite', async () => {
    if (!existsSync(join(ROOT, 'dist/cli/main.js')))
      throw new Error('dist/ is missing: run `npm run build` first');
    const dir = await tempDir('trained');
    const modelDir = join(dir, 'model');
    await run(
      process.execPath,
      [
        CLI,
        'train',
        '--dataset',
        'builtin:flights',
        '--out',
        modelDir,
        '--rows',
        '30000',
        '--trials',
        '2',
        '--no-register',
        '--quiet',
        '--data-dir',
        join(dir, 'train-data'),
      ],
      { cwd: ROOT, timeout: 240_000, maxBuffer: 16 << 20 },
    );
    const schema = parseFeatureSchema(await readFile(join(modelDir, 'schema.json'), 'utf8'));
    const modelBytes = await readFile(join(modelDir, 'model.onnx'));

    const dataDir = join(dir, 'serve-data');
    const { child, url, stderr } = await spawnServe([
      '--model',
      modelDir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--data-dir',
      dataDir,
    ]);
    const airports = ['ATL', 'ORD', 'DFW', 'LAX', 'SFO', 'DEN', 'ZZZ'];
    const records: FeatureRecord[] = Array.from({ length: 30 }, (_, i) => {
      const record: FeatureRecord = {};
      for (const f of schema.features) {
        if (f.type === 'timestamp')
          record[f.name] =
            `2001-0${1 + (i % 6)}-${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:15:00Z`;
        else if (f.type === 'category') record[f.name] = airports[(i + f.name.length) % airports.length]!;
        else if (f.type === 'boolean') record[f.name] = i % 2 === 0;
        else record[f.name] = 150 + i * 97;
      }
      return record;
    });
    const expected = await referenceOutputs(modelBytes, schema, records);
    const res = await postJson(`${url}/predict_batch`, records, { 'x-request-id': 'trained' });
    expect(res.status).toBe(200);
    const body = res.body as {
      model_name: string;
      predictions: { prediction: number; probability: number }[];
    };
    expect(body.predictions.map((p) => p.probability)).toEqual(expected.probabilities);
    expect(body.predictions.map((p) => p.prediction)).toEqual(expected.predictions);

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited, stderr()).toBe(0);
    const db = await openDatabase({ dataDir });
    try {
      const { rows } = await db.pool.query(
        // Each record of the batch is its own prediction; the caller's request id is their attribute.
        "SELECT count(*)::int AS n FROM prediction_logs WHERE model_name = $1 AND request_id = 'trained'",
        [body.model_name],
      );
      expect(rows[0].n).toBe(records.length);
    } finally {
      await db.close();
    }
  }, 300_000);
});
