import { existsSync, readFileSync } from 'node:fs';

/**
 * Loads the env file written by `hack/services-up` (real PostgreSQL and MinIO), so
 * `npx vitest` works after `hack/services-up` without exporting anything by hand. Variables
 * already set win.
 */
export default function setup(): void {
  const file = `${process.env.MLCYCLE_STATE ?? '/tmp/mlcycle-services'}/services.env`;
  if (!existsSync(file)) return;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match && process.env[match[1]!] === undefined) process.env[match[1]!] = match[2]!;
  }
}
