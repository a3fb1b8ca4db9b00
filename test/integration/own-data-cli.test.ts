import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { vegaDatasetsDir } from '../../core/dataset/index.js';
import { tempDir } from '../fixtures/serve-helpers.js';

/**
 * What `mlcycle train` says about a table the user brought: the split and why, the columns it
 * left out, the positive class, the rows it dropped, and every gate check. The cars table split
 * by its model year (trained on the 1970s, held out on the 1980s) must be rejected by the
 * default gate, with the reason in the output.
 */

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/mlcycle');

async function train(file: string, args: string[]) {
  if (!existsSync(join(ROOT, 'dist/cli/main.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const dir = await tempDir('own-data-cli');
  const { stdout, stderr } = await run(
    process.execPath,
    [
      CLI,
      'train',
      '--dataset',
      join(vegaDatasetsDir(), file),
      '--model-name',
      'own',
      '--out',
      join(dir, 'model'),
      '--no-register',
      ...args,
    ],
    { cwd: ROOT, timeout: 120_000, maxBuffer: 16 << 20 },
  );
  const report = await readFile(join(dir, 'model', 'report.html'), 'utf8');
  return { summary: JSON.parse(stdout), stderr, report };
}

describe('mlcycle train on your own table says what it decided', () => {
  it('cars.json split by Year: rejected by the default gate, the reason in the output', async () => {
    const { summary, stderr, report } = await train('cars.json', [
      '--target',
      'Miles_per_Gallon',
      '--split',
      'time',
      '--time-column',
      'Year',
    ]);
    expect(summary.status).toBe('rejected');
    expect(summary.deployable).toBe(false);
    expect(summary.gate.summary).toMatch(/^failed r2_above_zero/);
    expect(summary.gate.reasons).toEqual([
      expect.stringMatching(
        /^r2_above_zero: holdout R² -?\d\.\d{4} \(95% lower bound -\d\.\d{4}\) must be above 0/,
      ),
    ]);
    expect(stderr).toMatch(/split: time, seed 42 \(--split time\)/);
    expect(stderr).toMatch(/gate failed: failed r2_above_zero/);
    expect(stderr).toMatch(/FAIL r2_above_zero: holdout R² /);
    expect(stderr).toMatch(/pass min_lift: /);
    // The report lists every check that ran, and the split.
    expect(report).toMatch(/<td>r2_above_zero<\/td><td><span class="badge fail">fail<\/span><\/td>/);
    expect(report).toMatch(/<td>min_lift<\/td><td><span class="badge pass">pass<\/span><\/td>/);
    expect(report).toContain('split: <b>time</b>, seed 42 — --split time');
  });

  it('cars.json with only --target: a random split, Name left out, Year read as a date; every gate check listed', async () => {
    const { summary, stderr } = await train('cars.json', ['--target', 'Miles_per_Gallon']);
    expect(summary.status).toBe('registered');
    expect(stderr).toMatch(/read as timestamps \(ISO dates\): Year/);
    expect(stderr).toMatch(/left out Name \(311 distinct values in 406 rows: .*\); --include Name keeps it/);
    expect(stderr).toMatch(/8 rows without a target dropped/);
    expect(stderr).toMatch(/split: random, seed 42 \(Year has only 12 distinct values .*: a random split\)/);
    expect(stderr).toMatch(/gate passed: all 2 checks passed \(r2_above_zero, min_lift\)/);
    expect(summary.gate.checks.map((c: { name: string }) => c.name)).toEqual(['r2_above_zero', 'min_lift']);
    expect(summary.data.split).toMatchObject({ method: 'random', seed: 42 });
  });

  it('penguins.json with only --target Sex: the positive class, the dropped rows and a stratified split', async () => {
    const { summary, stderr, report } = await train('penguins.json', ['--target', 'Sex']);
    expect(report).toContain('positive class &quot;MALE&quot; (predicted as 1)');
    expect(report).toMatch(/<td>roc_auc_above_chance<\/td><td><span class="badge pass">pass/);
    expect(summary.status).toBe('registered');
    expect(stderr).toMatch(
      /positive class "MALE" \(predicted as 1\), negative "FEMALE": the default: the second class in sorted order; --positive-label FEMALE makes the other one positive/,
    );
    expect(stderr).toMatch(/11 rows without a target dropped \(counting "\." ×1 as missing\)/);
    expect(stderr).toMatch(/split: stratified, seed 42 \(no timestamp column: a stratified random split/);
    expect(summary.data.target).toMatchObject({
      positive_class: 'MALE',
      negative_class: 'FEMALE',
      rows_without_target: 11,
    });

    const flipped = await train('penguins.json', ['--target', 'Sex', '--positive-label', 'FEMALE']);
    expect(flipped.stderr).toMatch(/positive class "FEMALE" .* given by --positive-label/);
    expect(flipped.summary.data.target.positive_class).toBe('FEMALE');
  });
});
