import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../core/config.js';
import { operatorSettings, workloadEnvFrom } from './command.js';

const parse = (env: Record<string, string>) => parseSettings(operatorSettings, [], env);
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('operator settings', () => {
  it.each<{ env: Record<string, string>; policy: boolean; from: unknown[] }>([
    { env: {}, policy: false, from: [] },
    { env: { MLCYCLE_SERVING_NETWORK_POLICY: 'true' }, policy: true, from: [] },
    {
      env: {
        MLCYCLE_SERVING_NETWORK_POLICY: 'true',
        MLCYCLE_SERVING_FROM: '[{"namespaceSelector":{"matchLabels":{"team":"gw"}}}]',
      },
      policy: true,
      from: [{ namespaceSelector: { matchLabels: { team: 'gw' } } }],
    },
  ])('serving NetworkPolicy from $env', (c) => {
    const v = parse(c.env);
    expect(v.servingNetworkPolicy).toBe(c.policy);
    expect(v.servingFrom).toEqual(c.from);
  });

  it.each([
    ['not JSON', 'expected JSON'],
    ['{"podSelector":{}}', 'expected a JSON array of NetworkPolicyPeer objects'],
    ['[1]', 'expected a JSON array of NetworkPolicyPeer objects'],
  ])('refuses MLCYCLE_SERVING_FROM=%s', (raw, message) => {
    expect(() => parse({ MLCYCLE_SERVING_FROM: raw })).toThrow(message);
  });

  it('hands the workloads the sslmode and both CAs as PEM text, read from the files given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'op-ca-'));
    writeFileSync(join(dir, 'pg.crt'), PEM);
    const v = parse({
      MLCYCLE_DATABASE_URL: 'postgres://u:p@db:5432/x',
      MLCYCLE_DB_SSLMODE: 'verify-full',
      MLCYCLE_DB_SSL_CA: join(dir, 'pg.crt'),
      MLCYCLE_S3_CA: PEM,
    });
    expect(workloadEnvFrom({ ...v, databaseUrl: v.databaseUrl! })).toMatchObject({
      MLCYCLE_DATABASE_URL: 'postgres://u:p@db:5432/x',
      MLCYCLE_DB_SSLMODE: 'verify-full',
      MLCYCLE_DB_SSL_CA: PEM,
      MLCYCLE_S3_CA: PEM,
    });
    expect(() =>
      workloadEnvFrom({ ...v, databaseUrl: v.databaseUrl!, dbSslCa: join(dir, 'missing.crt') }),
    ).toThrow(/cannot read the PostgreSQL CA file .*missing\.crt/);
  });
});
