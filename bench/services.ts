import { existsSync, readFileSync } from 'node:fs';

/**
 * The PostgreSQL a benchmark logs to: MLCYCLE_DATABASE_URL, or else the test services that
 * `hack/services-up` started (their env file in MLCYCLE_STATE, default /tmp/mlcycle-services, the
 * script's documented default). Undefined when there is neither.
 */
export function benchDatabaseUrl(): string | undefined {
  if (process.env.MLCYCLE_DATABASE_URL) return process.env.MLCYCLE_DATABASE_URL;
  const file = `${process.env.MLCYCLE_STATE ?? '/tmp/mlcycle-services'}/services.env`;
  if (!existsSync(file)) return undefined;
  return /^MLCYCLE_TEST_DATABASE_URL=(.*)$/m.exec(readFileSync(file, 'utf8'))?.[1];
}
