import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { CRON_PATTERN, DriftMonitorSpec } from '../core/resources/drift-monitor.js';

/**
 * What the API server checks on a DriftMonitor, read from the generated CRD as installed: the
 * schedule's CEL rule is the spec type's pattern, and no string field is unbounded.
 */

type Node = {
  type?: string;
  maxLength?: number;
  enum?: unknown[];
  properties?: Record<string, Node>;
  items?: Node;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
};

const crd = yaml.load(readFileSync('helm/mlcycle/crds/mlcycle.dev_driftmonitors.yaml', 'utf8')) as {
  spec: { versions: { schema: { openAPIV3Schema: Node } }[] };
};
const spec = crd.spec.versions[0]?.schema.openAPIV3Schema.properties?.spec as Node;

const GOOD = [
  '0 * * * *',
  '*/5 * * * *',
  '@hourly',
  '@daily',
  '0 0 1 jan mon',
  '15,45 9-17 * * 1-5',
  '0 0 ? * SUN',
  '5/10 * * * *',
  '30-10 * * * *', // a backwards range: the CronJob refuses it (operator: CronJobRejected)
];
const BAD = [
  'every hour',
  '61 * * * *',
  '* 24 * * *',
  '0 0 32 * *',
  '0 0 * 13 *',
  '0 0 * * 7',
  '*/0 * * * *',
  'TZ=UTC 0 * * * *',
  '@every 1h',
  '0 * * * * *',
  'a b c d e',
  '',
];

function strings(node: Node, path: string): [string, Node][] {
  if (node.type === 'string') return [[path, node]];
  return [
    ...Object.entries(node.properties ?? {}).flatMap(([k, v]) => strings(v, `${path}.${k}`)),
    ...(node.items ? strings(node.items, `${path}[]`) : []),
  ];
}

describe('DriftMonitor admission (generated CRD)', () => {
  it('checks spec.schedule field by field, by the same pattern in the spec type and the CEL rule', () => {
    const rules = spec.properties?.schedule?.['x-kubernetes-validations'] ?? [];
    expect(rules).toHaveLength(1);
    expect(rules[0]?.rule).toBe(`self.matches(r'${CRON_PATTERN}')`);
    expect(rules[0]?.message).toMatch(/^spec\.schedule must be a cron schedule: five fields/);
    expect(CRON_PATTERN).not.toContain('\\'); // no escapes to survive CEL and YAML
    const re = new RegExp(CRON_PATTERN);
    for (const s of GOOD) {
      expect(re.test(s), s).toBe(true);
      expect(DriftMonitorSpec.safeParse({ deployment: 'd', schedule: s }).success, s).toBe(true);
    }
    for (const s of BAD) {
      expect(re.test(s), s).toBe(false);
      expect(DriftMonitorSpec.safeParse({ deployment: 'd', schedule: s }).success, s).toBe(false);
    }
  });

  it('bounds every string of the spec (maxLength or an enum)', () => {
    const unbounded = strings(spec, 'spec')
      .filter(([, n]) => n.maxLength === undefined && n.enum === undefined)
      .map(([p]) => p);
    expect(unbounded).toEqual([]);
    expect(spec.properties?.schedule?.maxLength).toBe(100);
    expect(spec.properties?.actions?.properties?.alertWebhook?.maxLength).toBe(2048);
  });

  it('refuses an inline webhook and a Secret reference together', () => {
    const rules = spec.properties?.actions?.['x-kubernetes-validations'] ?? [];
    expect(rules.map((r) => r.rule)).toEqual([
      '!(has(self.alertWebhook) && has(self.alertWebhookSecretRef))',
    ]);
  });
});
