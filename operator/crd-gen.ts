import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrds } from './crds.js';

/**
 * Writes crds/*.yaml (and the chart's copy) from the zod types.
 *   node dist/operator/crd-gen.js          write the files
 *   node dist/operator/crd-gen.js --check  exit 1 if a file is out of date
 */

/** The repository root, whether running from source (operator/) or compiled (dist/operator/). */
export function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${join('dist', 'operator')}`) ? join(here, '..', '..') : join(here, '..');
}

/** Every place the generated CRDs live: crds/ and the Helm chart's crds/ folder. */
export function crdTargets(root = repoRoot()): string[] {
  return [join(root, 'crds'), join(root, 'helm', 'mlcycle', 'crds')];
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function staleCrdFiles(root = repoRoot()): string[] {
  const stale: string[] = [];
  for (const dir of crdTargets(root)) {
    for (const [name, text] of renderCrds()) {
      const file = join(dir, name);
      if (readOrEmpty(file) !== text) stale.push(file);
    }
  }
  return stale;
}

function main(argv: string[]): number {
  const root = repoRoot();
  if (argv.includes('--check')) {
    const stale = staleCrdFiles(root);
    for (const f of stale) process.stderr.write(`out of date: ${f}\n`);
    return stale.length === 0 ? 0 : 1;
  }
  for (const dir of crdTargets(root)) {
    for (const [name, text] of renderCrds()) writeFileSync(join(dir, name), text);
  }
  process.stdout.write(`wrote ${renderCrds().size} CRDs to ${crdTargets(root).join(', ')}\n`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  process.exitCode = main(process.argv.slice(2));
