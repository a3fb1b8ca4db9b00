import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Random } from '../random.js';

/**
 * A small synthetic dataset with every feature type the trainer handles: a timestamp (also the
 * time column), a number with missing values, a category with missing values, a boolean, and a
 * target that depends on all of them. Written as NDJSON (which keeps booleans).
 */
export async function writeSyntheticDataset(
  dir: string,
  options: {
    rows?: number;
    seed?: number;
    task?: 'binary-classification' | 'regression';
    name?: string;
  } = {},
): Promise<string> {
  const rows = options.rows ?? 3000;
  const rng = new Random(options.seed ?? 1);
  const start = Date.UTC(2024, 0, 1);
  const cities = ['paris', 'lyon', 'nice', 'lille', 'brest', 'caen'];
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const at = start + Math.floor((i / rows) * 90 * 86_400_000) + rng.int(0, 3_600_000);
    const amount = rng.next() < 0.1 ? null : Math.round(rng.next() * 1000) / 10;
    const city = rng.next() < 0.05 ? null : cities[rng.int(0, cities.length - 1)]!;
    const member = rng.next() < 0.5;
    const hour = new Date(at).getUTCHours();
    const signal =
      (amount === null ? 0.8 : amount / 100) +
      (city === 'paris' || city === 'nice' ? 0.6 : 0) +
      (member ? -0.4 : 0.2) +
      (hour >= 12 ? 0.3 : 0);
    const target =
      options.task === 'regression'
        ? Math.round((signal * 10 + rng.next() * 2) * 100) / 100
        : rng.next() < 1 / (1 + Math.exp(-(signal - 0.9) * 3));
    lines.push(JSON.stringify({ at: new Date(at).toISOString(), amount, city, member, target }));
  }
  const path = join(dir, options.name ?? 'synthetic.ndjson');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}
